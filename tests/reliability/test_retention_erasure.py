"""Retention and erasure (issue: integrity, item 7): an ended case is kept exactly as long as its
jurisdiction's policy says, in the archive and in the table; an erased customer's free text can
never be read again while the ledger still verifies."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time
from typing import Any

import boto3
import pytest

from dunning.domain.models import Account, CaseStatus, ContactHours, EntryKind, Jurisdiction, utc_now
from dunning.domain.policy import default_policy
from dunning.services import admin, case_actions, ingest, integrity
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


def test_reading_a_closed_case_later_does_not_move_its_retention(sealed, clock) -> None:  # noqa: F811
    _close(clock)
    closed_at = utc_now()
    expected = int(integrity.years_after(closed_at, 3).timestamp())
    clock.shift(200 * 86400)  # an auditor verifies and exports it months later: both are recorded
    ports = _ports()
    for command in (admin.VerifyCase(type="verify_case", account_id="acc-1001", case_id=CASE),
                    admin.ExportEvidence(type="export_evidence", account_id="acc-1001", case_id=CASE)):
        admin.execute(ports, command, "arn:aws:iam::1:user/auditor")
    clock.shift(3600)
    integrity.anchor_run(_ports())
    items = _case_items(sealed)
    assert len(items) > 3 and {int(i["expires_at"]["N"]) for i in items} == {expected}  # the new ones too


SECRETS = {"dispute": "I never borrowed from you, ask Mary Chen", "status": "his daughter Mary Chen called",
           "reveal": "calling Mary Chen back", "skip": "+12025550199"}


def _write_personal_entries(clock: Any) -> None:
    """What a customer's page, an agent and a skip trace write on a case, through the functions' port."""
    repo = _ports().collections
    clock.shift(60)
    repo.commit(repo.case("acc-1001", CASE), [
        (EntryKind.PAGE, {"action": "dispute", "channel": "PAGE",
                          "fields": {"reason": "other", "details": SECRETS["dispute"]}}),
        (EntryKind.SPECIAL_STATUS, {"event": "SET", "status": "DECEASED", "source": "ADMIN",
                                    "by": "agent-7", "note": SECRETS["status"]}),
        (EntryKind.PHONE_REVEALED, {"by": "agent-7", "reason": SECRETS["reveal"], "number_hash": "h"}),
        (EntryKind.ADMIN, {"command": "record_skip_trace", "by": "agent-7",
                           "params": {"outcome": "FOUND", "new_phone": SECRETS["skip"]}}),
    ], at=utc_now(), actor="test")


def _table_text(env: dict[str, str]) -> str:
    items = boto3.client("dynamodb", region_name=REGION).scan(TableName=env["COLLECTIONS_TABLE"])["Items"]
    return json.dumps(items, ensure_ascii=False)


def test_what_a_page_an_agent_or_a_skip_trace_wrote_is_never_stored_readable_and_goes_with_erasure(
        sealed, clock) -> None:  # noqa: F811
    _write_personal_entries(clock)
    stored = _table_text(sealed)
    assert not [name for name, text in SECRETS.items() if text in stored]  # ciphertext at rest
    ports = _ports()
    history = ports.collections.history("acc-1001")
    shown = json.dumps([e.data for e in ports.collections.reveal(history.cases[CASE], history.ledger[CASE])],
                       ensure_ascii=False)
    assert all(text in shown for text in SECRETS.values())  # an admin still reads them until erasure

    _close(clock)
    admin.execute(_ports(), admin.EraseCustomer(type="erase_customer", account_id="acc-1001", request_id="R-9"),
                  "arn:aws:iam::1:user/dpo")
    history = ports.collections.history("acc-1001")
    shown = json.dumps([e.data for e in ports.collections.reveal(history.cases[CASE], history.ledger[CASE])],
                       ensure_ascii=False)
    assert not [name for name, text in SECRETS.items() if text in shown] and shown.count("[erased]") >= 4
    assert _verify().ok


def test_an_erased_account_stays_erased_when_the_lender_sends_it_again(sealed, clock) -> None:  # noqa: F811
    ports = _ports()
    case_actions.update_account(ports, "acc-1001", _with_page_facts)
    _close(clock)
    admin.execute(ports, admin.EraseCustomer(type="erase_customer", account_id="acc-1001", request_id="R-3"),
                  "arn:aws:iam::1:user/dpo")
    erased = ports.accounts.get("acc-1001")
    assert erased.erased_at is not None and erased.verification == {} and erased.preferred_hours is None

    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="lender-files")
    s3.put_object(Bucket="lender-files", Key="incoming/day2.csv", Body=(
        b"account_id,customer_name,account_number,product,risk,phone,email,locale,time_zones,jurisdiction,"
        b"currency,principal_due,interest_due,fees_due,due_date,status,opted_out,time_barred\r\n"
        b"acc-1001,Alex Morgan,4000123412341234,personal_loan,standard,+12025550143,alex@example.com,en-US,"
        b"America/New_York,US,USD,0,0,0,,CURRENT,,false\r\n"))
    summary = ingest.import_file(ports, "lender-files", "incoming/day2.csv")
    assert (summary.rows, summary.imported, summary.rejected) == (1, 0, 1)
    rejects = s3.get_object(Bucket="lender-files", Key="rejects/day2.csv.jsonl")["Body"].read().decode()
    assert json.loads(rejects) == {"row": 1, "reason": "account: its customer's data was erased on request"}
    again = ports.accounts.get("acc-1001")
    assert again.customer_name == "ERASED" and again.contact.phone is None and again.contact.email is None
    assert ports.collections.lookup(f"PHONE#{ports.keys.phone_hash('+12025550143')}") == []


def _with_page_facts(account: Account) -> bool:
    account.verification = {"date_of_birth": "keyed-hash"}
    account.preferred_hours = ContactHours(start=time(9), end=time(17))
    return True
