"""ImportAccounts on moto: a file dropped under incoming/ lands in AccountsTable, bad rows in rejects/."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import boto3
import pytest

from dunning.domain.account_file import check_file
from dunning.domain.models import AccountStatus, Channel
from tests.support.aws import (
    REGION,
    FakeContext,
    create_incoming_bucket,
    fresh_function,
    load_event,
    moto_env,
    record_calls,
)

HEADER = ("account_id,customer_name,account_number,product,risk,phone,email,locale,time_zones,jurisdiction,"
          "currency,principal_due,interest_due,fees_due,due_date,status,opted_out,time_barred")
ROWS = [
    "ACC-1,Alex Morgan,4000123412341234,personal_loan,standard,+12125551234,alex@example.com,en-US,"
    "America/New_York,US,USD,1180.00,42.50,25.00,2026-11-20,CURRENT,,false",
    # row 2: bad phone
    "ACC-2,Jamie Lee,4000123412345678,personal_loan,standard,+1555,jamie@example.com,en-US,"
    "America/Chicago,US,USD,300.00,0,0,2026-11-21,CURRENT,,false",
    "ACC-3,王小明,6222020200112345678,personal_loan,standard,+8613800138000,wang.xm@example.com,zh-CN,"
    "Asia/Shanghai,CN,CNY,8600.00,310.00,90.00,2026-11-22,CURRENT,SMS,false",
    "ACC-4,Sam Rivera,4000999912341234,personal_loan,high,+12125559876,sam@example.com,en-US,"
    "America/New_York;America/Los_Angeles,US,USD,0,0,0,,CURRENT,,false",
    # row 5: float-ish amount
    "ACC-5,Pat Kim,4000111122223333,personal_loan,standard,+12125550100,pat@example.com,en-US,"
    "America/New_York,US,USD,12.3.4,0,0,2026-11-20,CURRENT,,false",
    # row 6: unknown time zone
    "ACC-6,Robin Fox,4000444455556666,personal_loan,standard,+12125550111,robin@example.com,en-US,"
    "Mars/Olympus_Mons,US,USD,50.00,0,0,2026-11-20,CURRENT,,false",
]
PII = ["+1555", "Jamie Lee", "jamie@example.com", "Pat Kim", "pat@example.com", "12.3.4", "Mars/Olympus_Mons",
       "Robin Fox", "robin@example.com", "4000444455556666", "4000111122223333", "4000123412345678"]


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    with moto_env(monkeypatch) as env:
        bucket = create_incoming_bucket(monkeypatch)
        app = fresh_function("import_accounts")
        yield {**env, "bucket": bucket, "app": app, "s3": boto3.client("s3", region_name=REGION)}
        app._ports = None


def _drop(env: dict[str, Any], key: str, body: bytes) -> dict[str, Any]:
    env["s3"].put_object(Bucket=env["bucket"], Key=key, Body=body)
    event = copy.deepcopy(load_event("import_accounts/s3-object-created"))
    event["Records"][0]["s3"]["object"]["key"] = key.replace(" ", "+")
    event["Records"][0]["s3"]["bucket"]["name"] = env["bucket"]
    out = env["app"].lambda_handler(event, FakeContext())
    for file in out["files"]:  # every row is accounted for, in every test
        assert file["rows"] == file["imported"] + file["unchanged"] + file["rejected"]
    return out


def _get(env: dict[str, Any], key: str) -> bytes:
    return env["s3"].get_object(Bucket=env["bucket"], Key=key)["Body"].read()


def _csv(rows: list[str]) -> bytes:
    return ("\r\n".join([HEADER, *rows]) + "\r\n").encode()


def test_good_rows_land_and_bad_rows_are_rejected_without_pii(env: dict[str, Any]) -> None:
    out = _drop(env, "incoming/accounts-2026-11-28.csv", _csv(ROWS))

    assert out["files"][0] | {"key": None} == {"key": None, "rows": 6, "imported": 3, "unchanged": 0,
                                               "rejected": 3}
    rt = env["app"].ports()
    acc1 = rt.accounts.get("ACC-1")
    assert acc1.amount_due.amount == Decimal("1247.50") and acc1.contact.phone == "+12125551234"
    assert rt.accounts.get("ACC-3").opted_out == {Channel.SMS}
    assert rt.accounts.get("ACC-4").time_zones == ["America/New_York", "America/Los_Angeles"]
    assert rt.accounts.find("ACC-2") is None and rt.accounts.find("ACC-5") is None

    raw = _get(env, "rejects/accounts-2026-11-28.csv.jsonl").decode()
    rejects = [json.loads(line) for line in raw.splitlines()]
    assert [r["row"] for r in rejects] == [2, 5, 6]
    assert rejects[0]["reason"].startswith("phone:")
    assert rejects[1]["reason"].startswith("principal_due:")
    assert rejects[2]["reason"].startswith("time_zones:")
    for secret in PII:
        assert secret not in raw
    report = json.loads(_get(env, "reports/imports/accounts-2026-11-28.csv.json"))
    assert (report["rows"], report["imported"], report["unchanged"], report["rejected"]) == (6, 3, 0, 3)


def test_unchanged_reimport_writes_nothing(env: dict[str, Any]) -> None:
    _drop(env, "incoming/day1.csv", _csv(ROWS))
    rt = env["app"].ports()
    calls = record_calls(rt.client("dynamodb"))

    out = _drop(env, "incoming/day2.csv", _csv(ROWS))["files"][0]

    assert (out["imported"], out["unchanged"], out["rejected"]) == (0, 3, 3)
    assert not {"PutItem", "UpdateItem", "BatchWriteItem", "TransactWriteItems"} & set(calls)
    assert rt.accounts.get("ACC-1").version == 1


def test_collections_fields_survive_and_delinquency_is_not_undone_while_owed(env: dict[str, Any]) -> None:
    _drop(env, "incoming/day1.csv", _csv(ROWS[:1]))
    rt = env["app"].ports()
    acc = rt.accounts.get("ACC-1")
    learned = acc.model_copy(update={
        "status": AccountStatus.DELINQUENT, "opted_out": {Channel.EMAIL}, "credit_balance": Decimal("5.00"),
        "contact": acc.contact.model_copy(update={"phone_usable": False}),
    })
    rt.accounts.put(learned, acc.version)

    # Core banking still says CURRENT with money owed, and changes the interest.
    changed = ROWS[0].replace("42.50", "45.00")
    assert _drop(env, "incoming/day2.csv", _csv([changed]))["files"][0]["imported"] == 1

    after = rt.accounts.get("ACC-1")
    assert after.status is AccountStatus.DELINQUENT
    assert after.interest_due == Decimal("45.00")
    assert after.opted_out == {Channel.EMAIL}
    assert after.credit_balance == Decimal("5.00") and after.contact.phone_usable is False

    # Paid off in core banking: nothing owed ends the delinquency.
    paid = ROWS[0].replace("1180.00,42.50,25.00", "0,0,0")
    _drop(env, "incoming/day3.csv", _csv([paid]))
    assert rt.accounts.get("ACC-1").status is AccountStatus.PAID_OFF


def test_json_lines_import_with_a_bad_line(env: dict[str, Any]) -> None:
    good = {"account_id": "ACC-J1", "customer_name": "Alex Morgan", "account_number": "4000123412341234",
            "contact": {"phone": "+12125551234", "email": "alex@example.com"}, "locale": "en-US",
            "time_zones": ["America/New_York"], "jurisdiction": "US", "currency": "USD",
            "principal_due": "100.00", "due_date": "2026-11-20"}
    lines = [json.dumps(good), "{not json", json.dumps(good | {"account_id": "ACC-J2", "currency": "XXY"}),
             json.dumps(good | {"account_id": "ACC-J3", "principal_due": "1.005"})]
    body = ("\n".join(lines) + "\n").encode() + b'{"account_id": "\xff\xfe"}\n'

    out = _drop(env, "incoming/accounts.jsonl", body)["files"][0]

    assert (out["rows"], out["imported"], out["rejected"]) == (5, 1, 4)
    rejects = [json.loads(x) for x in _get(env, "rejects/accounts.jsonl.jsonl").splitlines()]
    assert [(r["row"], r["reason"].split(":")[0]) for r in rejects] == [
        (2, "row"), (3, "currency"), (4, "principal_due"), (5, "row")]
    assert "XXY" not in json.dumps(rejects)
    assert env["app"].ports().accounts.get("ACC-J1").principal_due == Decimal("100.00")


def test_wrong_column_count_and_missing_header_columns(env: dict[str, Any]) -> None:
    out = _drop(env, "incoming/short.csv", _csv([ROWS[0], "ACC-9,only,three"]))["files"][0]
    assert (out["imported"], out["rejected"]) == (1, 1)
    assert json.loads(_get(env, "rejects/short.csv.jsonl"))["reason"] == "row: expected 18 columns, found 3"

    # The file is rejected as a whole (reason on row 0) and its one row counted as rejected, so the
    # counts add up (they used to say 0 rows and 1 rejected).
    out = _drop(env, "incoming/noheader.csv", b"account_id,customer_name\nACC-1,x\n")["files"][0]
    assert (out["rows"], out["imported"], out["rejected"]) == (1, 0, 1)
    reject = json.loads(_get(env, "rejects/noheader.csv.jsonl"))
    assert reject["row"] == 0 and reject["reason"].startswith("header: missing columns")


def test_many_rows_are_written_in_batches(env: dict[str, Any]) -> None:
    template = ROWS[0]
    rows = [template.replace("ACC-1,", f"ACC-B{i},", 1) for i in range(120)]
    out = _drop(env, "incoming/big.csv", _csv(rows))["files"][0]
    assert (out["rows"], out["imported"]) == (120, 120)
    assert env["app"].ports().accounts.get("ACC-B119").version == 1


def test_one_unbalanced_quote_costs_its_own_row_and_the_other_fifty_land(env: dict[str, Any]) -> None:
    # This file used to report rows: 1 and import nothing: the open quote swallowed the rest.
    rows = [ROWS[0].replace("ACC-1,", f"ACC-Q{i},", 1) for i in range(51)]
    rows[0] = rows[0].replace("Alex Morgan", '"Alex Morgan', 1)

    out = _drop(env, "incoming/quote.csv", _csv(rows))["files"][0]

    assert (out["rows"], out["imported"], out["unchanged"], out["rejected"]) == (51, 50, 0, 1)
    reject = json.loads(_get(env, "rejects/quote.csv.jsonl"))
    assert reject["row"] == 1 and "unbalanced quote" in reject["reason"]
    rt = env["app"].ports()
    assert rt.accounts.find("ACC-Q0") is None and rt.accounts.get("ACC-Q50").version == 1


def test_a_repeated_account_lands_from_its_first_row_and_each_repeat_is_rejected(env: dict[str, Any]) -> None:
    # The repeat used to win silently (the first row counted as unchanged). Here it sits two batches later.
    rows = [ROWS[0].replace("ACC-1,", f"ACC-R{i},", 1) for i in range(60)]
    rows.append(rows[0].replace("1180.00", "1.00"))

    out = _drop(env, "incoming/repeat.csv", _csv(rows))["files"][0]

    assert (out["rows"], out["imported"], out["unchanged"], out["rejected"]) == (61, 60, 0, 1)
    assert json.loads(_get(env, "rejects/repeat.csv.jsonl")) == {
        "row": 61, "reason": "account_id: repeats row 1; only an account's first row is imported"}
    assert env["app"].ports().accounts.get("ACC-R0").principal_due == Decimal("1180.00")


def test_check_file_says_what_the_import_does(env: dict[str, Any]) -> None:
    rows = [*ROWS, ROWS[2].replace("ACC-3", "ACC-7").replace("王小明", '"王, 小明'), ROWS[0],
            ROWS[3].replace("ACC-4", "ACC-8").replace("Sam Rivera", "Sam\x00Rivera")]
    body = _csv(rows)

    checked = check_file("mixed.csv", [body])
    out = _drop(env, "incoming/mixed.csv", body)["files"][0]

    rejects = [json.loads(x) for x in _get(env, "rejects/mixed.csv.jsonl").splitlines()]
    assert rejects == checked.rejects and [r["row"] for r in rejects] == [2, 5, 6, 7, 8, 9]
    assert (out["rows"], out["imported"], out["rejected"]) == (checked.rows, checked.accepted, checked.rejected)


def test_one_write_worker_writes_the_rows_in_the_files_order(env: dict[str, Any],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """IMPORT_WRITE_WORKERS=1 (the sandbox's setting): the AccountsTable stream, and so the order
    in which cases open, follows the file, not the writer threads."""
    monkeypatch.setenv("IMPORT_WRITE_WORKERS", "1")
    env["app"]._ports = None  # a cold start reads the settings
    accounts = env["app"].ports().accounts
    written: list[str] = []
    put = accounts.put

    def recording_put(account: Any, version: int | None) -> Any:
        written.append(account.account_id)
        return put(account, version)

    monkeypatch.setattr(accounts, "put", recording_put)
    rows = [ROWS[0].replace("ACC-1,", f"ACC-O{i:02d},", 1) for i in range(60)]
    _drop(env, "incoming/ordered.csv", _csv(rows))
    assert env["app"].ports().settings.import_write_workers == 1
    assert written == [f"ACC-O{i:02d}" for i in range(60)]
