"""Retention and erasure (issue: integrity, item 7): an ended case is kept exactly as long as its
jurisdiction's policy says, in the archive and in the table; an erased customer's free text can
never be read again while the ledger still verifies."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from dunning.domain.models import CaseStatus, EntryKind, Jurisdiction, utc_now
from dunning.domain.policy import default_policy
from dunning.services import admin, integrity
from tests.reliability.test_tamper import CASE, _ports, _verify, sealed  # noqa: F401 - the sealed case fixture
from tests.support.aws import REGION


def test_the_policy_keeps_us_cases_three_years_and_cn_cases_five() -> None:
    policy = default_policy()
    assert integrity.retention_years(policy, Jurisdiction.US.value) == 3
    assert integrity.retention_years(policy, Jurisdiction.CN.value) == 5
    assert integrity.retention_years(policy, None) == 5  # not known: the longest
    assert integrity.years_after(datetime(2028, 2, 29, tzinfo=UTC), 3) == datetime(2031, 2, 28, tzinfo=UTC)


def _close(clock: Any, note: str = "the customer wrote in", jurisdiction: str | None = "US") -> None:
    ports = _ports()
    repo = ports.collections
    clock.shift(60)
    record = repo.case("acc-1001", CASE)
    record.case.jurisdiction = jurisdiction  # as the stream opens cases: the account's, at opening
    record.case.transition(CaseStatus.CLOSED)
    record.case.closed_at, record.case.resolution = utc_now(), "PAID"
    repo.commit(record, [(EntryKind.REPLY, {"intent": "PAID", "text": note, "channel": "SMS"}),
                         (EntryKind.CASE_CLOSED, {"status": "CLOSED", "reasons": ["PAID"]})],
                at=utc_now(), actor="test")
    integrity.anchor_at_close(ports, repo.case("acc-1001", CASE))


def _case_items(env: dict[str, str]) -> list[dict[str, Any]]:
    return boto3.client("dynamodb", region_name=REGION).query(
        TableName=env["COLLECTIONS_TABLE"], KeyConditionExpression="pk = :p AND begins_with(sk, :s)",
        ExpressionAttributeValues={":p": {"S": "ACCOUNT#acc-1001"}, ":s": {"S": f"CASE#{CASE}"}})["Items"]


@pytest.mark.parametrize(("jurisdiction", "years"), [("US", 3), ("CN", 5), (None, 5)])
def test_an_ended_case_is_anchored_and_every_item_expires_after_its_retention(
        sealed, clock, jurisdiction: str | None, years: int) -> None:  # noqa: F811
    _close(clock, jurisdiction=jurisdiction)
    closed_at = utc_now()
    expected = int(integrity.years_after(closed_at, years).timestamp())  # not known: the longest
    items = _case_items(sealed)
    assert items and {int(i["expires_at"]["N"]) for i in items} == {expected}
    s3 = boto3.client("s3", region_name=REGION)
    bucket = sealed["ARCHIVE_BUCKET"]
    (anchor,) = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="anchors/closed/")["Contents"]]
    head = s3.head_object(Bucket=bucket, Key=anchor)
    assert int(head["ObjectLockRetainUntilDate"].timestamp()) == expected
    assert _verify().ok


def test_erasure_is_refused_while_a_case_is_open(sealed) -> None:  # noqa: F811
    with pytest.raises(admin.CommandRefused, match="still open"):
        admin.execute(_ports(), admin.EraseCustomer(type="erase_customer", account_id="acc-1001", request_id="R-1"),
                      "arn:aws:iam::1:user/dpo")


def test_an_erased_customer_cannot_be_read_but_the_ledger_still_verifies(sealed, clock) -> None:  # noqa: F811
    _close(clock, note="my new address is 1 Main St")
    ports = _ports()
    result = admin.execute(ports, admin.EraseCustomer(type="erase_customer", account_id="acc-1001",
                                                       request_id="R-7"), "arn:aws:iam::1:user/dpo")
    assert result.applied and result.model_dump()["cases"] == [CASE]

    history = ports.collections.history("acc-1001")
    record = history.cases[CASE]
    revealed = ports.collections.reveal(record, history.ledger[CASE])
    (reply,) = [e for e in revealed if e.kind is EntryKind.REPLY]
    assert reply.data["text"] == "[erased]"  # the case key is gone: the ciphertext stays, unreadable
    erasure = [e for e in history.ledger[CASE] if e.kind is EntryKind.ADMIN][-1]
    assert erasure.data["command"] == "erase_customer" and erasure.data["by"] == "arn:aws:iam::1:user/dpo"
    assert erasure.data["params"] == {"request_id": "R-7"}
    account = ports.accounts.get("acc-1001")
    assert account.contact.phone is None and account.contact.email is None
    assert ports.collections.lookup(f"PHONE#{ports.keys.phone_hash('+12025550143')}") == []
    assert _verify().ok  # hashes are over ciphertext: erasure breaks no chain, seal or anchor
