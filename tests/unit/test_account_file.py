"""Account files read row by row with every row accounted for: generated files with planted faults.

Each generated file mixes good rows with faults at random rows (unbalanced and stray quotes,
repeated account ids, bad UTF-8, bad values, control characters, over-long lines, blank lines),
written with one of the three line endings and fed to the reader in chunks cut anywhere. Every
good row must come out as its account, every planted fault as a reject with its own row number,
and rows == accepted + rejected.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dunning.domain.account_file import (
    CSV_COLUMNS,
    MAX_ROW_BYTES,
    AccountingError,
    FileRejected,
    ImportSummary,
    RowRejected,
    check_file,
    parse_csv,
    parse_jsonl,
    physical_lines,
    split_csv_line,
)
from dunning.domain.models import Account

PROPERTY = settings(max_examples=100, deadline=None, derandomize=True)

BASE = {
    "account_id": "ACC-0", "customer_name": "Alex Morgan", "account_number": "4000123412341234",
    "product": "personal_loan", "risk": "standard", "phone": "+12125551234", "email": "alex@example.com",
    "locale": "en-US", "time_zones": "America/New_York", "jurisdiction": "US", "currency": "USD",
    "principal_due": "1180.00", "interest_due": "42.50", "fees_due": "25.00", "due_date": "2026-11-20",
    "status": "CURRENT", "opted_out": "", "time_barred": "false", "customer_id": "", "special_status": "",
}
HEADER = ",".join(CSV_COLUMNS)

# Names a lender may send: commas, quotes, CJK, spaces; no control characters or lone surrogates.
names = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=40
).filter(lambda t: t.strip() != "")

# A bad value per field, and the field its reason must name.
BAD_VALUES = [
    ("phone", "+1555", "phone"), ("principal_due", "12.3.4", "principal_due"),
    ("principal_due", "1e999999", "principal_due"), ("principal_due", "1.005", "principal_due"),
    ("currency", "XXY", "currency"), ("time_zones", "Mars/Olympus_Mons", "time_zones"),
    ("locale", "xx-XX", "locale"), ("due_date", "2026-02-30", "due_date"), ("email", "not-an-email", "email"),
    ("customer_name", "Alex\x07Morgan", "customer_name"),
]
FAULTS = ["open_quote", "stray_quote", "text_after_quote", "repeat", "bad_utf8", "bad_value", "columns",
          "oversize"]


def csv_cell(value: str) -> str:
    """A field as a careful producer writes it: quoted (quotes doubled) when it needs to be."""
    if any(ch in value for ch in ',"') or value != value.strip():
        return '"' + value.replace('"', '""') + '"'
    return value


def csv_line(cells: dict[str, str]) -> str:
    return ",".join(csv_cell(cells[c]) for c in CSV_COLUMNS)


def chunked(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start:start + size]


@dataclass
class Planted:
    lines: list[bytes]
    good: dict[int, tuple[str, str, str]]  # row -> (account id, name, principal)
    faults: dict[int, str]  # row -> what its reason must contain


@st.composite
def csv_files(draw: st.DrawFn) -> tuple[Planted, bytes, int]:
    kinds = draw(st.lists(st.sampled_from(["good", "good", "blank", *FAULTS]), min_size=1, max_size=25))
    planted = Planted([HEADER.encode()], {}, {})
    first_rows: dict[str, int] = {}
    for index, kind in enumerate(["good", *kinds]):
        row = len(planted.lines)  # the header is line 1, so row n is line n + 1
        cells = dict(BASE, account_id=f"ACC-{index}", customer_name=draw(names),
                     principal_due=f"{draw(st.integers(1, 99_999))}.{draw(st.integers(10, 99))}")
        line = csv_line(cells)
        if kind == "good":
            planted.good[row] = (cells["account_id"], cells["customer_name"].strip(), cells["principal_due"])
            first_rows[cells["account_id"]] = row
        elif kind == "blank":
            line = draw(st.sampled_from(["", "   ", ",,,", '"",""']))
        elif kind == "repeat":
            repeated = draw(st.sampled_from(sorted(first_rows)))
            line = csv_line(dict(cells, account_id=repeated))
            planted.faults[row] = f"account_id: repeats row {first_rows[repeated]};"
        elif kind == "bad_value":
            column, value, reason = draw(st.sampled_from(BAD_VALUES))
            line = csv_line(dict(cells, **{column: value}))
            planted.faults[row] = f"{reason}"
        elif kind == "columns":
            line = ",".join([csv_cell(cells[c]) for c in CSV_COLUMNS][:draw(st.integers(1, len(CSV_COLUMNS) - 1))])
            planted.faults[row] = f"row: expected {len(CSV_COLUMNS)} columns"
        elif kind == "oversize":
            line = csv_line(dict(cells, customer_name="x" * MAX_ROW_BYTES))
            planted.faults[row] = "row: longer than"
        elif kind == "bad_utf8":
            planted.faults[row] = "row: not valid UTF-8"
        else:  # a quote fault in a column whose values hold no comma or quote, anywhere on the line
            column = draw(st.sampled_from(["account_number", "product", "phone", "currency", "due_date"]))
            value = cells[column]
            raw_cells = [csv_cell(cells[c]) for c in CSV_COLUMNS]
            raw_cells[CSV_COLUMNS.index(column)] = {
                "open_quote": '"' + value, "stray_quote": value[:2] + '"' + value[2:],
                "text_after_quote": f'"{value}"x'}[kind]
            line = ",".join(raw_cells)
            planted.faults[row] = "quote"
        raw = line.encode()
        if kind == "bad_utf8":
            raw = raw.replace(b",", b",\xff", 1)
        planted.lines.append(raw)
    ending = draw(st.sampled_from([b"\n", b"\r\n", b"\r"]))
    body = ending.join(planted.lines) + (ending if draw(st.booleans()) else b"")
    if draw(st.booleans()):
        body = b"\xef\xbb\xbf" + body  # a byte order mark, as spreadsheet exports write
    return planted, body, draw(st.sampled_from([5, 64, 4096, 1 << 16]))


def outcome(parsed: list[tuple[int, Account | RowRejected]]) -> tuple[dict[int, Account], dict[int, str]]:
    accepted = {row: p for row, p in parsed if isinstance(p, Account)}
    rejected = {row: str(p) for row, p in parsed if isinstance(p, RowRejected)}
    assert len(accepted) + len(rejected) == len(parsed), "one outcome per row"
    return accepted, rejected


@PROPERTY
@given(csv_files())
def test_every_good_csv_row_is_read_and_every_planted_fault_rejected_on_its_row(
    generated: tuple[Planted, bytes, int],
) -> None:
    planted, body, chunk = generated
    accepted, rejected = outcome(list(parse_csv(chunked(body, chunk))))

    assert {row: (a.account_id, a.customer_name, str(a.principal_due)) for row, a in accepted.items()} == planted.good
    assert sorted(rejected) == sorted(planted.faults)
    for row, must_contain in planted.faults.items():
        assert must_contain in rejected[row], (row, rejected[row])

    result = check_file("accounts.csv", chunked(body, chunk))
    assert result.rows == len(planted.good) + len(planted.faults) == result.accepted + result.rejected
    assert [r["row"] for r in result.rejects] == sorted(planted.faults)


json_names = names


@st.composite
def jsonl_files(draw: st.DrawFn) -> tuple[Planted, bytes, int]:
    kinds = draw(st.lists(st.sampled_from([
        "good", "good", "blank", "not_json", "not_object", "repeat", "bad_utf8", "bad_value", "oversize",
        "nan", "long_number", "deep", "repeated_key", "control"]), min_size=1, max_size=25))
    planted = Planted([], {}, {})
    first_rows: dict[str, int] = {}
    for index, kind in enumerate(["good", *kinds]):
        row = len(planted.lines) + 1
        name = draw(json_names)
        principal = f"{draw(st.integers(1, 99_999))}.{draw(st.integers(10, 99))}"
        doc: dict[str, Any] = {
            "account_id": f"ACC-{index}", "customer_name": name, "account_number": "4000123412341234",
            "contact": {"phone": "+12125551234", "email": "alex@example.com"}, "locale": "en-US",
            "time_zones": ["America/New_York"], "jurisdiction": "US", "currency": "USD",
            "principal_due": principal, "due_date": "2026-11-20",
        }
        if draw(st.booleans()):  # a key core banking added: ignored, whatever it holds
            doc["branch_note"] = draw(st.text(max_size=10))
        text = json.dumps(doc, ensure_ascii=draw(st.booleans()))
        expect = {
            "not_json": "row: not valid JSON", "not_object": "row: a line must be a JSON object",
            "bad_utf8": "row: not valid UTF-8", "oversize": "row: longer than", "nan": "row: not valid JSON",
            "long_number": "row: not valid JSON", "deep": "row: not valid JSON",
            "repeated_key": "account_id: a key appears twice", "control": "customer_name: contains a control",
        }.get(kind)
        if kind == "good":
            planted.good[row] = (doc["account_id"], name, principal)  # JSON values are taken as they are
            first_rows[doc["account_id"]] = row
        elif kind == "blank":
            text = draw(st.sampled_from(["", "  ", "\t"]))
        elif kind == "not_json":
            text = text[: draw(st.integers(1, len(text) - 1))]
        elif kind == "not_object":
            text = json.dumps(draw(st.sampled_from([[doc], 1, "ACC-1", None, True])))
        elif kind == "repeat":
            repeated = draw(st.sampled_from(sorted(first_rows)))
            text = json.dumps(doc | {"account_id": repeated})
            expect = f"account_id: repeats row {first_rows[repeated]};"
        elif kind == "bad_value":
            field_name, value, expect = draw(st.sampled_from([
                ("principal_due", 12.5, "principal_due"), ("principal_due", "1e999999", "principal_due"),
                ("currency", "XXY", "currency"), ("time_zones", [], "time_zones"),
                ("due_date", "2026-13-01", "due_date"), ("contact", {"phone": "+1555"}, "phone"),
                ("payments", [{"payment_id": "P1", "amount": {"amount": "5", "currency": "USD"},
                               "received_at": "9999-12-31T23:59:59-14:00"}], "received_at: instant out of range"),
            ]))
            text = json.dumps(doc | {field_name: value})
        elif kind == "oversize":
            text = json.dumps(doc | {"customer_name": "x" * MAX_ROW_BYTES})
        elif kind == "nan":
            text = text.replace(f'"{principal}"', "NaN")
        elif kind == "long_number":
            text = text.replace(f'"{principal}"', "1" * 5000)
        elif kind == "deep":
            text = "[" * 100_000 + "]" * 100_000
        elif kind == "repeated_key":
            text = text.replace("{", '{"account_id": "ACC-X", ', 1)
        elif kind == "control":
            text = json.dumps(doc | {"customer_name": name + "\x1b[2J"})
        raw = text.encode()
        if kind == "bad_utf8":
            raw = raw.replace(b"4000", b"40\xc0\xaf00", 1)
        if expect is not None:
            planted.faults[row] = expect
        planted.lines.append(raw)
    ending = draw(st.sampled_from([b"\n", b"\r\n"]))
    body = ending.join(planted.lines) + (ending if draw(st.booleans()) else b"")
    return planted, body, draw(st.sampled_from([5, 64, 4096, 1 << 16]))


@PROPERTY
@given(jsonl_files())
def test_every_good_json_line_is_read_and_every_planted_fault_rejected_on_its_row(
    generated: tuple[Planted, bytes, int],
) -> None:
    planted, body, chunk = generated
    accepted, rejected = outcome(list(parse_jsonl(chunked(body, chunk))))

    assert {row: (a.account_id, a.customer_name, str(a.principal_due)) for row, a in accepted.items()} == planted.good
    assert sorted(rejected) == sorted(planted.faults)
    for row, must_contain in planted.faults.items():
        assert must_contain in rejected[row], (row, rejected[row])
    result = check_file("accounts.jsonl", chunked(body, chunk))
    assert result.rows == len(planted.good) + len(planted.faults) == result.accepted + result.rejected


@PROPERTY
@given(
    lines=st.lists(st.binary(max_size=30).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")), max_size=20),
    ending=st.sampled_from([b"\n", b"\r\n", b"\r"]),
    cut=st.integers(1, 40),
)
def test_lines_come_out_whole_however_the_bytes_are_cut(lines: list[bytes], ending: bytes, cut: int) -> None:
    body = b"".join(line + ending for line in lines)
    assert list(physical_lines(chunked(body, cut))) == lines


# --------------------------------------------------------------------------- named cases


def _csv(*rows: str, ending: str = "\r\n") -> bytes:
    return (ending.join([HEADER, *rows]) + ending).encode()


GOOD = csv_line(BASE)


def test_one_unbalanced_quote_costs_its_own_row_only() -> None:
    """The reported case: a 51-row file once lost its 50 good rows to one open quote."""
    rows = [csv_line(dict(BASE, account_id=f"ACC-{i}")) for i in range(51)]
    rows[0] = rows[0].replace("Alex Morgan", '"Alex Morgan', 1)

    accepted, rejected = outcome(list(parse_csv([_csv(*rows)])))

    assert sorted(accepted) == list(range(2, 52))
    assert rejected == {1: "customer_name (column 2): unbalanced quote: the quoted field does not end on its "
                           "line (fields cannot span lines)"}


def test_quoted_fields_keep_commas_and_doubled_quotes_but_cannot_span_lines() -> None:
    name = 'Morgan, Alex "AJ"'
    body = _csv(csv_line(dict(BASE, customer_name=name)),
                csv_line(dict(BASE, account_id="ACC-2")).replace("Alex Morgan", '"Alex\nMorgan"'),
                csv_line(dict(BASE, account_id="ACC-3")))

    accepted, rejected = outcome(list(parse_csv([body])))

    assert accepted[1].customer_name == name
    # The record that tried to span lines is rejected, and so is its continuation line; row 4 is read.
    assert set(rejected) == {2, 3} and "unbalanced quote" in rejected[2] and "quote" in rejected[3]
    assert accepted[4].account_id == "ACC-3"


def test_a_repeated_account_keeps_its_first_row_and_rejects_each_repeat() -> None:
    first = csv_line(BASE)
    later = csv_line(dict(BASE, principal_due="1.00"))
    accepted, rejected = outcome(list(parse_csv([_csv(first, later, csv_line(dict(BASE, account_id="ACC-2")), later)])))

    assert accepted[1].principal_due == Decimal("1180.00")
    assert rejected == {2: "account_id: repeats row 1; only an account's first row is imported",
                        4: "account_id: repeats row 1; only an account's first row is imported"}


def test_a_rejected_first_row_does_not_claim_its_account_id() -> None:
    bad = csv_line(dict(BASE, phone="+1555"))
    accepted, rejected = outcome(list(parse_csv([_csv(bad, GOOD)])))
    assert list(rejected) == [1] and rejected[1].startswith("phone:")
    assert list(accepted) == [2]


def test_blank_lines_are_numbered_but_are_not_rows() -> None:
    body = _csv(GOOD, "", ",,,", csv_line(dict(BASE, account_id="ACC-2", phone="+1555")))
    result = check_file("a.csv", [body])
    assert (result.rows, result.accepted, result.rejected) == (2, 1, 1)
    assert result.rejects[0]["row"] == 4


@pytest.mark.parametrize(("body", "reason"), [
    (b"account_id,customer_name\nACC-1,x\nACC-2,y\n", "header: missing columns account_number, currency"),
    (f"{HEADER},phone\n{GOOD},+12125550000\n".encode(), "header: columns appear more than once: phone"),
    ('\ufeffaccount_id,"customer'.encode() + b"\n" + GOOD.encode(), "header: column 2: unbalanced quote"),
    (b"\xffaccount_id\n" + GOOD.encode(), "header: not valid UTF-8"),
    (b"\n" + HEADER.encode() + b"\n" + GOOD.encode(), "header: the first line must be the header"),
    (_csv(GOOD).decode().encode("utf-16"), "file: UTF-16 or UTF-32 text"),
    (b"x" * (MAX_ROW_BYTES + 1) + b"\n" + GOOD.encode(), "header: longer than"),
])
def test_a_file_without_a_usable_header_is_rejected_whole_with_its_rows_counted(body: bytes, reason: str) -> None:
    parsed = list(parse_csv([body]))
    assert len(parsed) == 1 and parsed[0][0] == 0 and isinstance(parsed[0][1], FileRejected)
    assert str(parsed[0][1]).startswith(reason)
    result = check_file("a.csv", [body])
    assert result.accepted == 0 and result.rows == result.rejected >= 1
    assert result.rejects == [{"row": 0, "reason": str(parsed[0][1])}]


def test_a_utf16_json_lines_file_is_rejected_whole() -> None:
    body = ('{"account_id": "ACC-1"}\n{"account_id": "ACC-2"}\n').encode("utf-16")
    result = check_file("a.jsonl", [body])
    assert result.rejects == [{"row": 0, "reason": "file: UTF-16 or UTF-32 text; account files must be UTF-8"}]
    assert result.rows == result.rejected == 2


def test_an_empty_file_or_a_header_alone_has_no_rows() -> None:
    assert check_file("a.csv", []).as_dict() == {"rows": 0, "imported": 0, "rejected": 0, "rejects": []}
    assert check_file("a.csv", [HEADER.encode()]).rows == 0
    assert check_file("a.jsonl", [b"\n\n"]).rows == 0


def test_an_endless_line_is_never_held_whole() -> None:
    def endless() -> Iterator[bytes]:
        yield GOOD.encode() + b"\n"
        for _ in range(100):  # 6.4 MB without a line break, then a good line
            yield b"y" * 64_000
        yield b"\n" + GOOD.encode()

    lines = list(physical_lines(endless()))
    assert lines == [GOOD.encode(), None, GOOD.encode()]


def test_reasons_never_carry_the_values() -> None:
    secret_name, secret_phone = "Zed Quixote", "+1555"
    rows = [csv_line(dict(BASE, customer_name=secret_name + "\x07")),
            csv_line(dict(BASE, account_id="ACC-2", phone=secret_phone)),
            csv_line(dict(BASE, account_id="ACC-3")).replace("Alex Morgan", '"' + secret_name, 1)]
    result = json.dumps(check_file("a.csv", [_csv(*rows)]).as_dict())
    assert secret_name not in result and secret_phone not in result


def test_split_follows_rfc_4180_on_one_line() -> None:
    assert split_csv_line('a,"b,c", "d""e" ,') == ["a", "b,c", 'd"e', ""]
    assert split_csv_line("") == [""]


def test_counts_that_do_not_add_up_are_an_error() -> None:
    ImportSummary(rows=3, imported=1, unchanged=1, rejected=1).check()
    with pytest.raises(AccountingError, match="rows 3 != imported 1"):
        ImportSummary(rows=3, imported=1, unchanged=0, rejected=1).check()
