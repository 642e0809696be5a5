"""Account files (CSV or JSON Lines) read into accounts, with every row accounted for.

Longer than most modules: CSV and JSON Lines share one row contract (numbering, PII-free reasons, checks).

Pure: bytes in, ``(row, Account | RowRejected)`` out. ImportAccounts writes what this accepts;
``dunning check-file`` runs the very same reading on a local file, so a lender can see what an
import would do before dropping the file.

Rows. A row is one physical line: lines end at ``\\n``, ``\\r\\n`` or a lone ``\\r``. ``row`` is the
data line number: line n+1 of a CSV file (its header is line 1), line n of a JSON Lines file.
Blank lines (and CSV lines of empty cells) are numbered but are not rows.

Every row is accepted or rejected with a reason. A reason names the field and the rule, never the
value, because values are customer data.

CSV is RFC 4180 with one record per physical line. A field is either unquoted (no ``"`` in it) or
quoted from its first character (spaces around the quotes are allowed) with inner quotes doubled;
a quoted field may hold commas but must end on its own line. No account-file column holds text
that spans lines (ids, names, numbers, codes, amounts, dates), and allowing it is what let one
stray quote swallow the rest of a file into a single field. So a quote that does not close on its
line rejects that row alone, and reading resynchronises at the next physical line: a bad quote
costs exactly its own row. (A field that genuinely spans lines is rejected the same way, as are
its continuation lines, each with its own row number.) A stray quote inside an unquoted field is
rejected too rather than read literally: the producer did not quote the field, so its columns
cannot be trusted.

The file as a whole is rejected (one reason, on row 0, and every row counted as rejected) only
where no row can be read: a CSV header that is unusable (missing or repeated columns, not CSV,
not UTF-8, too long), or a UTF-16/UTF-32 file. Nothing is ever imported from a rejected file.

One row per account. The first accepted row of an account id is the one imported; every later
row with that id is rejected with a reason naming that first row. The file is read once, as it
is written, so "first" is the only rule that needs no second pass; and it is never "last wins":
a lender sees each repeat and corrects the account with the next file.

Accounting: ``rows == imported + unchanged + rejected`` for every file (``ImportSummary.check``);
counts that do not add up raise ``AccountingError`` instead of reporting.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from babel.numbers import get_currency_precision
from pydantic import ValidationError

from dunning.domain.models import Account, Contact, Money, Payment
from dunning.domain.page_verify import InvalidFact, VerificationKind, normalise

CSV_COLUMNS = (
    "account_id", "customer_name", "account_number", "product", "risk", "phone", "email", "locale",
    "time_zones", "jurisdiction", "currency", "principal_due", "interest_due", "fees_due", "due_date",
    "status", "opted_out", "time_barred", "customer_id", "special_status",
)
# customer_id (the person holding the loan; absent: one account, one customer) and special_status
# (BANKRUPTCY, DECEASED, CEASE_CONTACT, LITIGATION_HOLD, VULNERABLE) are optional columns.
REQUIRED_COLUMNS = frozenset(CSV_COLUMNS) - {"product", "risk", "opted_out", "time_barred", "status",
                                             "customer_id", "special_status"}
# What the customer's page may ask before it shows anything (dunning.domain.page_verify): optional
# columns, read and checked here, hashed with the link key by the import, never stored as given.
VERIFICATION_COLUMNS = tuple(kind.value for kind in VerificationKind)
READ_COLUMNS = (*CSV_COLUMNS, *VERIFICATION_COLUMNS)
# DynamoDB's item limit: a longer row could never be stored, and reading stops holding it here.
MAX_ROW_BYTES = 400_000
# Amounts at or past 10^15 (in any currency) are not a consumer loan; DynamoDB keeps 38 digits.
MAX_AMOUNT = Decimal(10) ** 15
MAX_JSON_DEPTH = 16
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".jsonl.txt")

_LIST_COLUMNS = {"time_zones", "opted_out"}
_CONTACT_COLUMNS = {"phone", "email"}
_AMOUNTS = ("principal_due", "interest_due", "fees_due", "credit_balance")
_QUOTED = re.compile(r"""'[^']*'|"[^"]*\"""")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # tab is allowed; line breaks end rows
_WIDE_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")  # UTF-16 LE/BE, UTF-32 BE (LE is ff fe 00 00)
# Keys a reason may name: field names of the models a row holds, never a key the file invented.
_KNOWN_KEYS = frozenset(Account.model_fields) | frozenset(Contact.model_fields) | frozenset(
    Payment.model_fields) | frozenset(Money.model_fields) | frozenset(VERIFICATION_COLUMNS)


class RowRejected(ValueError):
    """A row that cannot be imported; the message names fields and rules, never values."""


class FileRejected(RowRejected):
    """No row of the file can be read; `rows` counts the rows it holds (all of them rejected)."""

    def __init__(self, reason: str, rows: int = 0) -> None:
        super().__init__(reason)
        self.rows = rows


class AccountingError(RuntimeError):
    """An import's counts do not add up: a row would be unaccounted for. Never reported as success."""


Parsed = tuple[int, Account | RowRejected]
Parser = Callable[[Iterable[bytes]], Iterator[Parsed]]


@dataclass
class ImportSummary:
    rows: int = 0
    imported: int = 0
    unchanged: int = 0
    rejected: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"rows": self.rows, "imported": self.imported, "unchanged": self.unchanged,
                "rejected": self.rejected}

    def tally(self, row: int, parsed: Account | RowRejected, reject: Callable[[int, str], None]) -> Account | None:
        """Count one parsed row; reject it through `reject`; the account when it is to be written."""
        if isinstance(parsed, FileRejected):
            self.rows += parsed.rows
            self.rejected += parsed.rows
            reject(0, str(parsed))
            return None
        self.rows += 1
        if isinstance(parsed, RowRejected):
            self.rejected += 1
            reject(row, str(parsed))
            return None
        return parsed

    def check(self) -> None:
        """Every row imported, unchanged or rejected, or AccountingError."""
        accounted = self.imported + self.unchanged + self.rejected
        if self.rows != accounted or min(self.as_dict().values()) < 0:
            raise AccountingError(
                f"rows {self.rows} != imported {self.imported} + unchanged {self.unchanged} "
                f"+ rejected {self.rejected}"
            )


# --------------------------------------------------------------------------- reasons without PII


def _reason(exc: ValidationError) -> str:
    """`field: message` for each error, from the error's location and type only.

    pydantic puts the offending input into `input`, and our own validators' messages may quote
    it ("unknown IANA time zone 'X'"), so quoted parts of value errors are dropped and email
    errors get a fixed text (the email checker's messages repeat parts of the address).
    """
    parts = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        loc = ".".join(str(p) for p in err["loc"] if not isinstance(p, int)) or "row"
        loc = loc.removeprefix("contact.")
        if err["type"] == "value_error":
            msg = "not a valid email address" if loc.endswith("email") else _QUOTED.sub("", err["msg"])
            msg = msg.removeprefix("Value error, ").strip(" :,")
        else:
            msg = err["msg"]
        parts.append(f"{loc}: {msg}")
    return "; ".join(dict.fromkeys(parts))


def _check_amount(name: str, value: Decimal, currency: str) -> None:
    if not value.is_finite() or abs(value) >= MAX_AMOUNT:
        raise RowRejected(f"{name}: out of range (at most 15 digits before the decimal point)")
    places = get_currency_precision(currency)
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        raise RowRejected(f"{name}: more decimal places than {currency} allows ({places})")


def _check_amounts(account: Account) -> None:
    for name in _AMOUNTS:
        _check_amount(name, getattr(account, name), account.currency)
    for payment in account.payments:
        _check_amount("payments.amount", payment.amount.amount, payment.amount.currency)


def _check_text(doc: dict[str, Any]) -> None:
    """No control characters in the values an account is made of (keys it ignores are not read),
    and no nesting past MAX_JSON_DEPTH; walked without recursion."""
    stack: list[tuple[str, Any, int]] = [(k, v, 1) for k, v in doc.items() if k in _KNOWN_KEYS]
    while stack:
        path, value, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise RowRejected(f"row: nested deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(value, str):
            if _CONTROL.search(value):
                raise RowRejected(f"{path.removeprefix('contact.')}: contains a control character")
        elif isinstance(value, dict):
            stack += [(f"{path}.{k}", v, depth + 1) for k, v in value.items() if k in _KNOWN_KEYS]
        elif isinstance(value, list):
            stack += [(path, v, depth + 1) for v in value]


def _verification_facts(doc: dict[str, Any]) -> dict[str, str]:
    """The verification columns a row carries, checked (not stored: the import hashes them)."""
    facts: dict[str, str] = {}
    for kind in VerificationKind:
        value = doc.pop(kind.value, None)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise RowRejected(f"{kind.value}: must be text")
        try:
            facts[kind.value] = normalise(kind, value)
        except InvalidFact as exc:
            raise RowRejected(str(exc)) from None
    # A file must never set the stored hashes or the customer's own choices directly.
    for owned in ("verification", "preferred_locale", "preferred_hours"):
        doc.pop(owned, None)
    return facts


def validate(doc: dict[str, Any]) -> Account:
    """The account a row describes, or RowRejected naming the fields that are wrong."""
    _check_text(doc)
    facts = _verification_facts(doc)
    try:
        account = Account.model_validate(doc)
    except ValidationError as exc:
        raise RowRejected(_reason(exc)) from None
    except (ArithmeticError, ValueError):  # e.g. a date whose UTC conversion leaves the calendar
        raise RowRejected("row: a date or number is out of range") from None
    _check_amounts(account)
    account._verification_facts = facts
    return account


class _FirstRows:
    """Which row each account id was first accepted on: later rows of that id are rejected."""

    def __init__(self) -> None:
        self._first: dict[str, int] = {}

    def claim(self, row: int, account: Account) -> Account | RowRejected:
        first = self._first.setdefault(account.account_id, row)
        if first == row:
            return account
        return RowRejected(f"account_id: repeats row {first}; only an account's first row is imported")


# --------------------------------------------------------------------------- lines


def physical_lines(pieces: Iterable[bytes], limit: int = MAX_ROW_BYTES) -> Iterator[bytes | None]:
    """The lines of a byte stream cut anywhere (chunks or lines), without their line endings.

    A line longer than `limit` bytes comes out as None and is never held whole: its bytes are
    dropped as they arrive, up to the next line ending, so one endless line cannot exhaust memory.
    """
    buf = bytearray()
    too_long = False
    after_cr = False  # the previous piece ended in \r: a \n starting this one belongs to it
    for piece in pieces:
        if not piece:
            continue
        if after_cr and piece[:1] == b"\n":
            piece = piece[1:]
        for part in piece.splitlines(keepends=True):
            body = part.rstrip(b"\r\n")
            ended = len(body) != len(part)
            if not too_long:
                if len(buf) + len(body) > limit:
                    too_long = True
                    buf.clear()
                else:
                    buf += body
            if ended:
                yield None if too_long else bytes(buf)
                buf.clear()
                too_long = False
        after_cr = piece.endswith(b"\r")
    if too_long:
        yield None
    elif buf:
        yield bytes(buf)


def _wide_encoding(first_line: bytes) -> bool:
    return first_line.startswith(_WIDE_BOMS)


def _count_rows(lines: Iterator[bytes | None]) -> int:
    # NULs too: the other half of a UTF-16 line break is left on the next line
    return sum(1 for line in lines if line is None or line.replace(b"\x00", b"").strip())


# --------------------------------------------------------------------------- CSV


class _BadCsvLine(ValueError):
    def __init__(self, column: int, message: str) -> None:
        super().__init__(message)
        self.column, self.message = column, message


def _quoted_field(line: str, i: int, column: int) -> tuple[str, int]:
    """The value of the quoted field whose opening quote is at `i`, and the index after its closing quote."""
    parts: list[str] = []
    i += 1
    while True:
        close = line.find('"', i)
        if close == -1:
            raise _BadCsvLine(column, "unbalanced quote: the quoted field does not end on its line "
                                      "(fields cannot span lines)")
        parts.append(line[i:close])
        if not line.startswith('"', close + 1):
            return "".join(parts), close + 1
        parts.append('"')  # a doubled quote is one quote character
        i = close + 2


def _skip_blanks(line: str, i: int) -> int:
    while i < len(line) and line[i] in " \t":
        i += 1
    return i


def split_csv_line(line: str) -> list[str]:
    """The fields of one CSV line (RFC 4180, the record on this line alone), or _BadCsvLine."""
    if '"' not in line:
        return line.split(",")
    fields: list[str] = []
    i, n = 0, len(line)
    while True:
        column, start = len(fields), i
        i = _skip_blanks(line, i)
        if i < n and line[i] == '"':
            value, i = _quoted_field(line, i, column)
            fields.append(value)
            i = _skip_blanks(line, i)
            if i == n:
                return fields
            if line[i] != ",":
                raise _BadCsvLine(column, "text after the closing quote")
            i += 1
            continue
        comma = line.find(",", start)
        end = n if comma == -1 else comma
        if '"' in line[start:end]:
            raise _BadCsvLine(column, "a quote inside an unquoted field (quote the whole field and "
                                      "double the quotes inside it)")
        fields.append(line[start:end])
        if comma == -1:
            return fields
        i = comma + 1


def _column(header: list[str], index: int) -> str:
    name = header[index] if index < len(header) else ""
    return f"{name} (column {index + 1})" if name in READ_COLUMNS else f"column {index + 1}"


def _csv_doc(header: list[str], values: list[str]) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    contact: dict[str, Any] = {}
    for name, raw in zip(header, values, strict=True):
        if name not in READ_COLUMNS:
            continue  # extra columns core banking may add are ignored, not fatal
        value = raw.strip()
        if value == "":
            continue  # empty cell: the model's default (or "missing" when the field is required)
        if name in _LIST_COLUMNS:
            doc[name] = [v.strip() for v in value.split(";") if v.strip()]
        elif name in _CONTACT_COLUMNS:
            contact[name] = value
        else:
            doc[name] = value
    doc["contact"] = contact
    return doc


def _csv_header(first: bytes | None) -> list[str]:
    """The header's column names, or FileRejected (rows counted by the caller)."""
    if first is None:
        raise FileRejected(f"header: longer than {MAX_ROW_BYTES} bytes")
    if _wide_encoding(first):
        raise FileRejected("file: UTF-16 or UTF-32 text; account files must be UTF-8")
    try:
        text = first.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        raise FileRejected("header: not valid UTF-8; account files must be UTF-8") from None
    if not text.strip():
        raise FileRejected("header: the first line must be the header, and it is empty")
    try:
        header = [h.strip().lower() for h in split_csv_line(text)]
    except _BadCsvLine as exc:
        raise FileRejected(f"header: column {exc.column + 1}: {exc.message}") from None
    repeated = sorted({h for h in header if h in READ_COLUMNS and header.count(h) > 1})
    if repeated:
        raise FileRejected(f"header: columns appear more than once: {', '.join(repeated)}")
    missing = sorted(REQUIRED_COLUMNS - set(header))
    if missing:
        raise FileRejected(f"header: missing columns {', '.join(missing)}")
    return header


def _row_text(line: bytes | None) -> str | RowRejected:
    """A physical line as text, or why it cannot be read at all."""
    if line is None:
        return RowRejected(f"row: longer than {MAX_ROW_BYTES} bytes")
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        return RowRejected("row: not valid UTF-8")


def _csv_row(header: list[str], line: bytes | None) -> Account | RowRejected | None:
    """One data line: an account, the reason it is rejected, or None for a blank line."""
    text = _row_text(line)
    if isinstance(text, RowRejected):
        return text
    try:
        values = split_csv_line(text)
    except _BadCsvLine as exc:
        return RowRejected(f"{_column(header, exc.column)}: {exc.message}")
    if all(not v.strip() for v in values):
        return None
    if len(values) != len(header):
        return RowRejected(f"row: expected {len(header)} columns, found {len(values)}")
    try:
        return validate(_csv_doc(header, values))
    except RowRejected as exc:
        return exc


def parse_csv(pieces: Iterable[bytes]) -> Iterator[Parsed]:
    """(data row number, account or the reason it was rejected) for each row after the header.

    A file that cannot be read at all yields one (0, FileRejected) carrying its row count.
    """
    lines = physical_lines(pieces)
    try:
        first = next(lines)
    except StopIteration:
        return  # an empty file: nothing to import
    try:
        header = _csv_header(first)
    except FileRejected as exc:
        yield 0, FileRejected(str(exc), _count_rows(lines))
        return
    first_rows = _FirstRows()
    for row, line in enumerate(lines, start=1):
        parsed = _csv_row(header, line)
        if parsed is None:
            continue
        yield row, first_rows.claim(row, parsed) if isinstance(parsed, Account) else parsed


# --------------------------------------------------------------------------- JSON Lines


class _RepeatedKey(ValueError):
    pass


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    doc = dict(pairs)
    if len(doc) != len(pairs):  # json would keep the last silently
        keys = [k for k, _ in pairs]
        raise _RepeatedKey(next(k for i, k in enumerate(keys) if k in keys[:i]))
    return doc


def _no_constant(name: str) -> Any:
    raise ValueError(name)


def _json_row(line: bytes | None, first: bool) -> Account | RowRejected | None:
    text = _row_text(line)
    if isinstance(text, RowRejected):
        return text
    if first:
        text = text.removeprefix("\ufeff")
    if not text.strip():
        return None
    try:
        doc = json.loads(text, object_pairs_hook=_object, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        return RowRejected(f"row: not valid JSON ({exc.msg} at column {exc.colno})")
    except _RepeatedKey as exc:
        key = str(exc)
        return RowRejected(f"{key if key in _KNOWN_KEYS else 'row'}: a key appears twice in one object")
    except RecursionError:
        return RowRejected("row: not valid JSON (nested too deeply)")
    except ValueError:  # NaN/Infinity, or an integer past Python's 4,300-digit conversion limit
        return RowRejected("row: not valid JSON (NaN, Infinity or a number too long)")
    if not isinstance(doc, dict):
        return RowRejected("row: a line must be a JSON object")
    try:
        return validate(doc)
    except RowRejected as exc:
        return exc


def parse_jsonl(pieces: Iterable[bytes]) -> Iterator[Parsed]:
    """(line number, account or the reason it was rejected) for each non-blank line."""
    lines = physical_lines(pieces)
    first_rows = _FirstRows()
    for row, line in enumerate(lines, start=1):
        if row == 1 and line is not None and _wide_encoding(line):
            yield 0, FileRejected("file: UTF-16 or UTF-32 text; account files must be UTF-8", 1 + _count_rows(lines))
            return
        parsed = _json_row(line, first=row == 1)
        if parsed is None:
            continue
        yield row, first_rows.claim(row, parsed) if isinstance(parsed, Account) else parsed


def parser_for(name: str) -> Parser:
    """JSON Lines by the file name's suffix, CSV otherwise (as ImportAccounts decides)."""
    return parse_jsonl if name.lower().endswith(JSONL_SUFFIXES) else parse_csv


# --------------------------------------------------------------------------- a check without AWS


@dataclass
class FileCheck:
    """What an import would do with a file, before any stored account is read."""

    rows: int = 0
    accepted: int = 0
    rejected: int = 0
    rejects: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "imported": self.accepted, "rejected": self.rejected,
                "rejects": self.rejects}


def check_file(name: str, pieces: Iterable[bytes]) -> FileCheck:
    """Read a file as ImportAccounts would: the rows it would accept and each reject with its reason."""
    summary = ImportSummary()
    result = FileCheck()

    def reject(row: int, reason: str) -> None:
        result.rejects.append({"row": row, "reason": reason})

    for row, parsed in parser_for(name)(pieces):
        if summary.tally(row, parsed, reject) is not None:
            summary.imported += 1
    summary.check()
    result.rows, result.accepted, result.rejected = summary.rows, summary.imported, summary.rejected
    return result
