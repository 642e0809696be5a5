"""The Report function on moto: reads both tables, writes the weekly HTML and CSVs to the archive."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import boto3
import pytest

from dunning.adapters.dynamo import AccountsRepository, CollectionsRepository
from dunning.domain.ledger import GENESIS
from dunning.domain.models import Case, EntryKind
from dunning.ports import CaseRecord
from tests.functions.conftest import NOW, make_account
from tests.support.aws import REGION, FakeContext, load_event, load_function

ARCHIVE = "dunning-test-archive"


@pytest.fixture
def archive(aws: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> str:
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=ARCHIVE)
    monkeypatch.setenv("ARCHIVE_BUCKET", ARCHIVE)
    load_function("report")._ports = None  # settings are read once per cold start
    return ARCHIVE


def seed(env: dict[str, str], n: int, cured: int, variant: str) -> None:
    db = boto3.client("dynamodb", region_name=REGION)
    accounts = AccountsRepository(db, env["ACCOUNTS_TABLE"])
    collections = CollectionsRepository(db, env["COLLECTIONS_TABLE"])
    for i in range(n):
        account = make_account(account_id=f"{variant}-{i}")
        accounts.put(account, None)
        case = Case(case_id=f"{account.account_id}-20261102", account_id=account.account_id,
                    opened_at=NOW - timedelta(days=7), strategy_id="standard", variant=variant)
        record = CaseRecord(case, -1, GENESIS)
        collections.commit(record, [(EntryKind.CASE_OPENED, {
            "strategy_id": "standard", "variant": variant, "due_date": date(2026, 11, 2).isoformat()})],
            at=NOW - timedelta(days=7), actor="test", create=True)
        if i < cured:
            collections.commit(record, [(EntryKind.CASE_CLOSED, {"status": "RESOLVED", "reasons": ["PAID"]})],
                               at=NOW - timedelta(days=2), actor="test")


def test_the_weekly_report_is_written_to_the_archive(aws: dict[str, str], archive: str) -> None:
    seed(aws, 12, 5, "champion")
    seed(aws, 10, 1, "holdout")
    app = load_function("report")
    result: dict[str, Any] = app.lambda_handler({"as_of": "2026-11-09T07:00:00Z"}, FakeContext())
    prefix = "reports/weekly/2026-11-09/"
    listed = boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=archive, Prefix=prefix)
    keys = {o["Key"] for o in listed["Contents"]}
    assert {prefix + "report.html", prefix + "variants.csv", prefix + "roll_rates.csv"} <= keys
    assert set(result["keys"]) == keys and result["cases"] == 22
    obj = boto3.client("s3", region_name=REGION).get_object(Bucket=archive, Key=prefix + "variants.csv")
    body = obj["Body"].read().decode()
    assert "champion,5,12," in body and "holdout,1,10," in body
    html = boto3.client("s3", region_name=REGION).get_object(Bucket=archive, Key=prefix + "report.html")
    assert html["ContentType"].startswith("text/html")
    text = html["Body"].read().decode()
    assert "champion vs holdout" in text and "Dana" not in text  # aggregates only, never a customer


def test_the_scheduled_event_reports_as_of_now(aws: dict[str, str], archive: str) -> None:
    seed(aws, 2, 1, "champion")
    result = load_function("report").lambda_handler(load_event("report/weekly"), FakeContext())
    assert result["cases"] == 2 and all(k.startswith("reports/weekly/") for k in result["keys"])
