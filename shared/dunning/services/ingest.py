"""ImportAccounts: core banking's account files (CSV or JSON Lines) into AccountsTable.

The file is streamed line by line and written in batches, so memory stays flat whatever its
size: at any moment we hold one batch of accounts (`import_batch_size`, 25-100) and the rejects
spill to a temporary file past 1 MiB.

Every row is validated on its own. A bad row goes to ``rejects/<name>.jsonl`` as
``{"row": n, "reason": "<field>: <message>"}`` (n counts data rows from 1, the CSV header is not
a row); the reason names the field and the rule, never the value, because values are customer
data. Good rows are never lost because of a bad neighbour.

Merge rule (file row + stored account):
- core banking owns identity, contact details, locale, zones, jurisdiction, currency, the
  amounts owed, the due date and time_barred: the file wins;
- collections owns what it learned: opt-outs (stored opt-outs are kept, the file can only add),
  consent, payments, credit balance, and the "unusable" flags of a phone or email (kept while the
  file carries the same phone/email; a new number or address is usable again); a JSON Lines row
  that carries payments adds the ones we do not have; the file's `version` is ignored;
- status: core banking reports CURRENT until its own end-of-cycle roll, and collections decides
  delinquency (the daily sweep). So an import never moves DELINQUENT back to CURRENT while money
  is owed: only a cure (nothing owed) ends a delinquency, and then the account becomes PAID_OFF
  (the stream resolves the case). Nothing owed and DELINQUENT in the file is read as PAID_OFF.
  The file may set DELINQUENT or CHARGED_OFF itself (a case opens, or contact stops).

Only changed rows are written (model dumps compared without `version`), each with a put
conditional on the version read; on a conflict the row is re-read, merged again, and retried once.
"""

from __future__ import annotations

import csv
import json
import re
import tempfile
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO, Any

from babel.numbers import get_currency_precision
from pydantic import ValidationError

from dunning.domain.models import Account, AccountStatus
from dunning.observability import logger, metrics
from dunning.ports import BulkAccounts, Conflict, Ports

INCOMING_PREFIX = "incoming/"
REJECTS_PREFIX = "rejects/"
REPORTS_PREFIX = "reports/imports/"

CSV_COLUMNS = (
    "account_id", "customer_name", "account_number", "product", "risk", "phone", "email", "locale",
    "time_zones", "jurisdiction", "currency", "principal_due", "interest_due", "fees_due", "due_date",
    "status", "opted_out", "time_barred",
)
_REQUIRED_COLUMNS = frozenset(CSV_COLUMNS) - {"product", "risk", "opted_out", "time_barred", "status"}
_LIST_COLUMNS = {"time_zones", "opted_out"}
_CONTACT_COLUMNS = {"phone", "email"}
_AMOUNTS = ("principal_due", "interest_due", "fees_due", "credit_balance")
WRITE_WORKERS = 16  # conditional puts in flight at once
_QUOTED = re.compile(r"""'[^']*'|"[^"]*\"""")


@dataclass
class ImportSummary:
    rows: int = 0
    imported: int = 0
    unchanged: int = 0
    rejected: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"rows": self.rows, "imported": self.imported, "unchanged": self.unchanged,
                "rejected": self.rejected}


class RowRejected(ValueError):
    """A row that cannot be imported; the message names fields and rules, never values."""


@dataclass
class _Rejects:
    """Reject lines, spilled to disk past 1 MiB so a file of bad rows cannot exhaust memory."""

    file: IO[bytes] = field(default_factory=lambda: tempfile.SpooledTemporaryFile(max_size=1 << 20))  # noqa: SIM115
    count: int = 0

    def add(self, row: int, reason: str) -> None:
        self.file.write(json.dumps({"row": row, "reason": reason}, ensure_ascii=False).encode() + b"\n")
        self.count += 1


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


def _check_precision(account: Account) -> None:
    places = get_currency_precision(account.currency)
    for name in _AMOUNTS:
        value: Decimal = getattr(account, name)
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and -exponent > places:
            raise RowRejected(f"{name}: more decimal places than {account.currency} allows ({places})")


def _validate(doc: dict[str, Any]) -> Account:
    try:
        account = Account.model_validate(doc)
    except ValidationError as exc:
        raise RowRejected(_reason(exc)) from None
    _check_precision(account)
    return account


# --------------------------------------------------------------------------- parsing


def _decoded(lines: Iterable[bytes]) -> Iterator[str]:
    """UTF-8 text lines; undecodable bytes become lone surrogates so the row can be rejected alone."""
    first = True
    for raw in lines:
        text = raw.decode("utf-8", errors="surrogateescape")
        if first:
            text, first = text.removeprefix("\ufeff"), False
        yield text


def _has_bad_bytes(values: Iterable[str]) -> bool:
    return any("\udc80" <= ch <= "\udcff" for value in values for ch in value)


def _csv_doc(header: list[str], values: list[str]) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    contact: dict[str, Any] = {}
    for name, raw in zip(header, values, strict=True):
        if name not in CSV_COLUMNS:
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


def parse_csv(lines: Iterable[bytes]) -> Iterator[tuple[int, Account | RowRejected]]:
    """(data row number, account or the reason it was rejected) for each row after the header."""
    reader = csv.reader(_decoded(lines))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        return
    except csv.Error:
        yield 0, RowRejected("header: not valid CSV")
        return
    missing = sorted(_REQUIRED_COLUMNS - set(header))
    if missing or _has_bad_bytes(header):
        yield 0, RowRejected(f"header: missing columns {', '.join(missing)}" if missing
                             else "header: not valid UTF-8")
        return
    row = 0
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error:
            row += 1
            yield row, RowRejected("row: not valid CSV")
            continue
        if not values or all(not v.strip() for v in values):
            continue  # blank line: not a row
        row += 1
        if _has_bad_bytes(values):
            yield row, RowRejected("row: not valid UTF-8")
        elif len(values) != len(header):
            yield row, RowRejected(f"row: expected {len(header)} columns, found {len(values)}")
        else:
            try:
                yield row, _validate(_csv_doc(header, values))
            except RowRejected as exc:
                yield row, exc


def parse_jsonl(lines: Iterable[bytes]) -> Iterator[tuple[int, Account | RowRejected]]:
    row = 0
    for raw in lines:
        if not raw.strip():
            continue
        row += 1
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            yield row, RowRejected("row: not valid UTF-8")
            continue
        try:
            doc = json.loads(text.removeprefix("\ufeff"))
        except json.JSONDecodeError:
            yield row, RowRejected("row: not valid JSON")
            continue
        if not isinstance(doc, dict):
            yield row, RowRejected("row: a line must be a JSON object")
            continue
        try:
            yield row, _validate(doc)
        except RowRejected as exc:
            yield row, exc


# --------------------------------------------------------------------------- merge


def merge(stored: Account | None, incoming: Account) -> Account:
    """The account to store: the file's core-banking fields over what collections learned."""
    if stored is None:
        merged = incoming
        if not merged.owes and merged.status is AccountStatus.DELINQUENT:
            merged = merged.model_copy(update={"status": AccountStatus.PAID_OFF})
        return merged.model_copy(update={"version": 0})
    old, new = stored.contact, incoming.contact
    contact = new.model_copy(update={
        "phone_usable": old.phone_usable if new.phone == old.phone else True,
        "email_usable": old.email_usable if new.email == old.email else True,
    })
    known = {p.payment_id for p in stored.payments}
    payments = [*stored.payments, *(p for p in incoming.payments if p.payment_id not in known)]
    carried = incoming.model_fields_set
    status = incoming.status
    if not incoming.owes:
        if status is AccountStatus.DELINQUENT or (
            stored.status is AccountStatus.DELINQUENT and status is AccountStatus.CURRENT
        ):
            status = AccountStatus.PAID_OFF
    elif stored.status is AccountStatus.DELINQUENT and status is AccountStatus.CURRENT:
        status = AccountStatus.DELINQUENT  # core banking has not rolled yet; only a cure ends it
    return incoming.model_copy(update={
        "contact": contact,
        "status": status,
        "opted_out": stored.opted_out | incoming.opted_out,
        "consented": incoming.consented if "consented" in carried else stored.consented,
        "payments": payments,
        "credit_balance": incoming.credit_balance if "credit_balance" in carried else stored.credit_balance,
        "version": stored.version,
    })


def _same(a: Account, b: Account) -> bool:
    return a.model_dump(mode="json", exclude={"version"}) == b.model_dump(mode="json", exclude={"version"})


# --------------------------------------------------------------------------- import


def _names(key: str) -> tuple[str, str]:
    name = key.removeprefix(INCOMING_PREFIX)
    return f"{REJECTS_PREFIX}{name}.jsonl", f"{REPORTS_PREFIX}{name}.json"


def _parser(key: str) -> Any:
    lowered = key.lower()
    if lowered.endswith((".jsonl", ".ndjson", ".jsonl.txt")):
        return parse_jsonl
    return parse_csv


class _Upserter:
    """Writes a batch's changed rows in parallel: one conditional put each, a few in flight at once
    (a sequential put per row would not finish a 100,000-row file inside the function's timeout)."""

    def __init__(self, ports: Ports, bulk: BulkAccounts, summary: ImportSummary, rejects: _Rejects,
                 workers: int = WRITE_WORKERS) -> None:
        self.ports, self.bulk, self.summary, self.rejects = ports, bulk, summary, rejects
        self._pool = ThreadPoolExecutor(max_workers=workers)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def flush(self, batch: list[tuple[int, Account]]) -> None:
        if not batch:
            return
        # Last row wins when a file repeats an account inside one batch.
        latest: dict[str, tuple[int, Account]] = {}
        for row, account in batch:
            if account.account_id in latest:
                self.summary.unchanged += 1  # superseded by a later row of the same file
            latest[account.account_id] = (row, account)
        stored = self.bulk.batch_get(list(latest))
        futures = [self._pool.submit(self._write, row, stored.get(incoming.account_id), incoming)
                   for row, incoming in latest.values()]
        for future in futures:
            future.result()  # a write that failed twice fails the file: S3 retries the event
        batch.clear()

    def _count(self, outcome: str, row: int = 0, reason: str = "") -> None:
        with self._lock:
            setattr(self.summary, outcome, getattr(self.summary, outcome) + 1)
            if reason:
                self.rejects.add(row, reason)

    def _write(self, row: int, current: Account | None, incoming: Account) -> None:
        for attempt in range(2):
            try:
                merged = merge(current, incoming)
            except ValueError:
                self._count("rejected", row, "row: does not combine with the stored account")
                return
            if current is not None and _same(current, merged):
                self._count("unchanged")
                return
            try:
                self.ports.accounts.put(merged, None if current is None else current.version)
                self._count("imported")
                return
            except Conflict:
                if attempt == 1:
                    raise
                current = self.ports.accounts.find(incoming.account_id)  # changed under us: merge again


def import_file(ports: Ports, bucket: str, key: str, batch_size: int = 25) -> ImportSummary:
    """Import one account file; write its rejects and summary next to it; return the counts."""
    files, bulk = ports.files, ports.bulk
    size = max(1, min(batch_size, 100))
    summary, rejects = ImportSummary(), _Rejects()
    upserter = _Upserter(ports, bulk, summary, rejects)
    batch: list[tuple[int, Account]] = []
    try:
        for row, parsed in _parser(key)(files.lines(bucket, key)):
            if isinstance(parsed, RowRejected):
                if row == 0:  # the header itself is unusable: nothing in the file can be read
                    rejects.add(0, str(parsed))
                    summary.rejected += 1
                    break
                summary.rows += 1
                summary.rejected += 1
                rejects.add(row, str(parsed))
                continue
            summary.rows += 1
            batch.append((row, parsed))
            if len(batch) >= size:
                upserter.flush(batch)
        upserter.flush(batch)
    finally:
        upserter.close()
    rejects_key, report_key = _names(key)
    if rejects.count:
        files.upload(bucket, rejects_key, rejects.file, "application/x-ndjson")
    rejects.file.close()
    report = summary.as_dict() | {"source": key, "rejects": rejects_key if rejects.count else None}
    files.put_json(bucket, report_key, report)
    metrics.add_metric(name="AccountsImported", unit="Count", value=summary.imported)
    metrics.add_metric(name="AccountRowsRejected", unit="Count", value=summary.rejected)
    logger.info("account file imported", extra=summary.as_dict())
    return summary


def decode_key(raw: str) -> str:
    """S3 event keys are URL-encoded with '+' for spaces."""
    from urllib.parse import unquote_plus

    return unquote_plus(raw)
