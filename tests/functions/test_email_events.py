"""EmailEvents on moto: SES events recorded on the case first, then acted on."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dunning.domain.compliance import AttemptKind
from dunning.domain.models import Channel, EntryKind, NoticeStatus
from dunning.services import escalation
from tests.functions.conftest import seed_case
from tests.support.aws import FakeContext, fresh_function, load_event
from tests.support.listening import collections, listening_env

CASE = "acc-1001-20261102"


@pytest.fixture
def env(aws: dict[str, str], monkeypatch: pytest.MonkeyPatch, clock: Any) -> dict[str, str]:
    env = listening_env(aws, monkeypatch)
    seed_case(env)
    return env


@pytest.fixture
def fn() -> Any:
    mod = fresh_function("email_events")
    return mod


@pytest.fixture
def ses_id(env: dict[str, str], fn: Any) -> str:
    """Send the first notice by email for real (moto SES) and return SES's message id."""
    rt = fn.ports()
    result = escalation.send(
        rt,
        rt.sender(Channel.EMAIL),
        CASE,
        "acc-1001",
        "first_notice",
        Channel.EMAIL,
        "first_notice",
        actor="test",
        kind=AttemptKind.COLLECTION,
    )
    assert result.status == "SENT"
    notice = collections(env).history("acc-1001").notices[CASE][0]
    return notice.provider_message_id.removeprefix("ses:")


def event_for(name: str, message_id: str) -> dict[str, Any]:
    event = load_event(f"email_events/{name}")
    ses = json.loads(event["Records"][0]["Sns"]["Message"])
    ses["mail"]["messageId"] = message_id
    event["Records"][0]["Sns"]["Message"] = json.dumps(ses)
    return event


def deliveries(env: dict[str, str]) -> list[Any]:
    return [e for e in collections(env).history("acc-1001").ledger[CASE] if e.kind is EntryKind.DELIVERY]


def test_delivery_marks_the_notice_delivered_once(env, fn, ses_id) -> None:
    event = event_for("delivery", ses_id)
    fn.lambda_handler(event, FakeContext())
    fn.lambda_handler(event, FakeContext())
    assert collections(env).history("acc-1001").notices[CASE][0].status is NoticeStatus.DELIVERED
    assert len(deliveries(env)) == 1 and deliveries(env)[0].data["event_type"] == "Delivery"


def test_hard_bounce_makes_the_address_unusable(env, fn, ses_id) -> None:
    fn.lambda_handler(event_for("bounce", ses_id), FakeContext())
    account = fn.ports().accounts.get("acc-1001")
    assert account.contact.email_usable is False and not account.can_use(Channel.EMAIL)
    assert collections(env).history("acc-1001").notices[CASE][0].status is NoticeStatus.BOUNCED
    entry = deliveries(env)[0]
    assert entry.data["bounce_type"] == "Permanent" and "dana" not in json.dumps(entry.data)


def test_transient_bounce_is_only_recorded(env, fn, ses_id) -> None:
    event = event_for("bounce", ses_id)
    ses = json.loads(event["Records"][0]["Sns"]["Message"])
    ses["bounce"]["bounceType"] = "Transient"
    event["Records"][0]["Sns"]["Message"] = json.dumps(ses)
    fn.lambda_handler(event, FakeContext())
    assert fn.ports().accounts.get("acc-1001").contact.email_usable is True
    assert len(deliveries(env)) == 1


def test_complaint_opts_the_customer_out_of_email(env, fn, ses_id) -> None:
    fn.lambda_handler(event_for("complaint", ses_id), FakeContext())
    assert Channel.EMAIL in fn.ports().accounts.get("acc-1001").opted_out
    kinds = [e.kind for e in collections(env).history("acc-1001").ledger[CASE]]
    assert kinds[-2:] == [EntryKind.DELIVERY, EntryKind.OPT_OUT]


def test_event_for_an_unknown_message_writes_nothing(env, fn) -> None:
    out = fn.lambda_handler(event_for("delivery", "not-ours"), FakeContext())
    assert out["results"][0]["status"] == "UNKNOWN_MESSAGE"


def test_a_bounce_for_an_address_whose_account_row_is_gone_is_recorded_not_retried(env, fn, ses_id) -> None:
    import boto3

    from tests.support.aws import REGION

    boto3.client("dynamodb", region_name=REGION).delete_item(
        TableName=env["ACCOUNTS_TABLE"], Key={"account_id": {"S": "acc-1001"}})
    out = fn.lambda_handler(event_for("bounce", ses_id), FakeContext())  # never raises into SNS's retries
    assert out["results"][0]["status"] == "RECORDED"
    assert deliveries(env)[0].data["bounce_type"] == "Permanent"


def _open_event(ses_id: str, at: str) -> dict[str, Any]:
    event = event_for("delivery", ses_id)
    ses = json.loads(event["Records"][0]["Sns"]["Message"])
    ses["eventType"] = "Open"
    ses["open"] = {"timestamp": at, "userAgent": "Mail", "ipAddress": "192.0.2.1"}
    event["Records"][0]["Sns"]["Message"] = json.dumps(ses)
    return event


def test_each_event_is_kept_on_its_notice_and_a_redelivery_reads_no_ledger(env, fn, ses_id, calls) -> None:
    fn.lambda_handler(event_for("delivery", ses_id), FakeContext())
    fn.lambda_handler(_open_event(ses_id, "2026-11-03T16:00:00.000Z"), FakeContext())
    notice = collections(env).history("acc-1001").notices[CASE][0]
    assert notice.status is NoticeStatus.DELIVERED
    assert notice.delivery_events == [f"ses:{ses_id}:Delivery", f"ses:{ses_id}:Open:2026-11-03T16:00:00.000Z"]
    calls.clear()
    out = fn.lambda_handler(_open_event(ses_id, "2026-11-03T16:00:00.000Z"), FakeContext())
    assert out["results"][0]["status"] == "DUPLICATE"
    # the message's lookup and one BatchGetItem (the case's header and the notice); nothing written
    assert [o for s, o in calls if s == "dynamodb"] == ["Query", "BatchGetItem"]
    assert [e.data["event_type"] for e in deliveries(env)] == ["Delivery", "Open"]


def test_a_notice_written_before_it_kept_its_events_is_checked_against_the_ledger(env, fn, ses_id) -> None:
    import boto3

    from tests.support.aws import REGION

    fn.lambda_handler(event_for("delivery", ses_id), FakeContext())
    # as a notice written (or rewritten) by an earlier version is stored: without the attribute
    boto3.client("dynamodb", region_name=REGION).update_item(
        TableName=env["COLLECTIONS_TABLE"], UpdateExpression="REMOVE delivery_events",
        Key={"pk": {"S": "ACCOUNT#acc-1001"}, "sk": {"S": f"CASE#{CASE}#NOTICE#first_notice"}})
    assert collections(env).history("acc-1001").notices[CASE][0].delivery_events is None
    again = fn.lambda_handler(event_for("delivery", ses_id), FakeContext())
    assert again["results"][0]["status"] == "DUPLICATE"
    fn.lambda_handler(_open_event(ses_id, "2026-11-03T16:00:00.000Z"), FakeContext())
    assert [e.data["event_type"] for e in deliveries(env)] == ["Delivery", "Open"]
    # and the notice holds both from then on
    assert collections(env).history("acc-1001").notices[CASE][0].delivery_events == [
        f"ses:{ses_id}:Delivery", f"ses:{ses_id}:Open:2026-11-03T16:00:00.000Z"]


def test_a_notice_opened_again_and_again_keeps_its_latest_events_and_still_records_each_once(
        env, fn, ses_id, monkeypatch) -> None:
    from dunning.services import deliveries as recording

    monkeypatch.setattr(recording, "EVENTS_KEPT_ON_NOTICE", 3)
    opens = [_open_event(ses_id, f"2026-11-03T16:0{m}:00.000Z") for m in range(5)]
    for event in opens:
        fn.lambda_handler(event, FakeContext())
    kept = collections(env).history("acc-1001").notices[CASE][0].delivery_events
    assert kept == [f"ses:{ses_id}:Open:2026-11-03T16:0{m}:00.000Z" for m in (2, 3, 4)]
    # the first open, redelivered, is no longer on the notice: the ledger still knows it
    assert fn.lambda_handler(opens[0], FakeContext())["results"][0]["status"] == "DUPLICATE"
    assert len(deliveries(env)) == 5
