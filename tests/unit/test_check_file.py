"""`dunning check-file`: what ImportAccounts would do with a file, driven through main(argv)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dunning.domain.account_file import CSV_COLUMNS
from sandbox.cli import main

HEADER = ",".join(CSV_COLUMNS)
ROW = ("ACC-{i},Alex Morgan,4000123412341234,personal_loan,standard,+12125551234,alex@example.com,en-US,"
       "America/New_York,US,USD,1180.00,42.50,25.00,2026-11-20,CURRENT,,false,,")


def write(tmp_path: Path, name: str, lines: list[str]) -> Path:
    path = tmp_path / name
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode())
    return path


def test_a_file_with_a_bad_quote_and_a_repeat_lists_both_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [ROW.format(i=i) for i in range(51)]
    rows[0] = rows[0].replace("Alex Morgan", '"Alex Morgan')
    rows.append(ROW.format(i=7))
    path = write(tmp_path, "accounts.csv", [HEADER, *rows])

    assert main(["check-file", str(path), "--json"]) == 1

    out = json.loads(capsys.readouterr().out)
    assert (out["rows"], out["imported"], out["rejected"]) == (52, 50, 2)
    assert [r["row"] for r in out["rejects"]] == [1, 52]
    assert "unbalanced quote" in out["rejects"][0]["reason"]
    assert out["rejects"][1]["reason"] == "account_id: repeats row 8; only an account's first row is imported"


def test_a_clean_file_exits_0_and_says_what_would_be_imported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "accounts.csv", [HEADER, ROW.format(i=1), ROW.format(i=2)])

    assert main(["check-file", str(path)]) == 0
    assert capsys.readouterr().out.strip() == "2 rows: 2 would be imported, 0 rejected"

    assert main(["check-file", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"rows": 2, "imported": 2, "rejected": 0, "rejects": []}


def test_json_lines_are_chosen_by_the_name_as_the_import_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = {"account_id": "ACC-1", "customer_name": "Alex Morgan", "account_number": "4000123412341234",
           "contact": {"phone": "+12125551234"}, "locale": "en-US", "time_zones": ["America/New_York"],
           "jurisdiction": "US", "currency": "USD", "principal_due": "100.00", "due_date": "2026-11-20"}
    path = write(tmp_path, "accounts.ndjson", [json.dumps(doc), "[1, 2]", "{oops", json.dumps(doc)])

    assert main(["check-file", str(path)]) == 1

    assert capsys.readouterr().out.splitlines() == [
        "row 2: row: a line must be a JSON object",
        "row 3: row: not valid JSON (Expecting property name enclosed in double quotes at column 2)",
        "row 4: account_id: repeats row 1; only an account's first row is imported",
        "4 rows: 1 would be imported, 3 rejected",
    ]


def test_an_unreadable_header_rejects_the_whole_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "accounts.csv", ["account_id,customer_name", "ACC-1,x", "ACC-2,y"])

    assert main(["check-file", str(path), "--json"]) == 1

    out = json.loads(capsys.readouterr().out)
    assert (out["rows"], out["imported"], out["rejected"]) == (2, 0, 2)
    assert out["rejects"] == [{"row": 0, "reason": "header: missing columns account_number, currency, due_date, "
                                                     "email, fees_due, interest_due, jurisdiction, locale, phone, "
                                                     "principal_due, time_zones"}]


def test_a_missing_file_is_an_error_not_a_verdict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-file", str(tmp_path / "nope.csv")]) == 2
    assert "cannot read" in capsys.readouterr().err
