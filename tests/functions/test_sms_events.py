"""SmsEvents on moto: End User Messaging's delivery events recorded against the notice they name."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dunning.domain.models import Channel, EntryKind, Notice, NoticeStatus
from tests.functions.conftest import NOW, seed_case
from tests.support.aws import FakeContext, fresh_function, load_event
from tests.support.fakes import put_notice
from tests.support.listening import collections, item_counts, listening_env

CASE = "acc-1001-20261102"
MESSAGE_ID = "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d"  # what the samples report on


@pytest.fixture
def env(aws: dict[str, str], monkeypatch: pytest.MonkeyPatch, clock: Any) -> dict[str, str]:
    env = listening_env(aws, monkeypatch)
    seed_case(env)
    put_notice(collections(env), Notice(
        notice_id=Notice.id_for(CASE, "sms_3"), case_id=CASE, account_id="acc-1001", step_id="sms_3",
        channel=Channel.SMS, template_id="overdue_reminder", template_version="t", locale="en-US",
        status=NoticeStatus.SENT, body="...", provider_message_id=f"sms-voice:{MESSAGE_ID}", created_at=NOW))
    return env


@pytest.fixture
def fn() -> Any:
    return fresh_function("sms_events")


def notice_status(env: dict[str, str]) -> NoticeStatus:
    (notice,) = collections(env).history("acc-1001").notices[CASE]
    return notice.status


def deliveries(env: dict[str, str]) -> list[Any]:
    return [e for e in collections(env).history("acc-1001").ledger[CASE] if e.kind is EntryKind.DELIVERY]


def test_a_delivered_event_marks_the_notice_delivered_once(env, fn) -> None:
    event = load_event("sms_events/delivered")
    out = fn.lambda_handler(event, FakeContext())
    assert out["results"][0]["notice_status"] == "DELIVERED" and notice_status(env) is NoticeStatus.DELIVERED
    (entry,) = deliveries(env)
    assert entry.data["provider"] == "sms-voice" and entry.data["provider_status"] == "TEXT_DELIVERED"
    before = item_counts(env)
    fn.lambda_handler(event, FakeContext())  # SNS redelivers
    assert item_counts(env) == before


def test_a_final_carrier_block_marks_it_failed(env, fn) -> None:
    fn.lambda_handler(load_event("sms_events/blocked"), FakeContext())
    assert notice_status(env) is NoticeStatus.FAILED


def test_a_failure_that_is_not_final_and_a_pending_state_record_nothing(env, fn) -> None:
    event = load_event("sms_events/blocked")
    sms = json.loads(event["Records"][0]["Sns"]["Message"]) | {"isFinal": False}
    event["Records"][0]["Sns"]["Message"] = json.dumps(sms)
    before = item_counts(env)
    out = fn.lambda_handler(event, FakeContext())
    pending = fn.lambda_handler(load_event("sms_events/pending"), FakeContext())
    assert out["results"][0]["status"] == pending["results"][0]["status"] == "IGNORED"
    assert item_counts(env) == before and notice_status(env) is NoticeStatus.SENT


def test_an_event_for_a_message_no_notice_carries_is_not_remembered(env, fn) -> None:
    event = load_event("sms_events/delivered")
    sms = json.loads(event["Records"][0]["Sns"]["Message"]) | {"messageId": "not-ours"}
    event["Records"][0]["Sns"]["Message"] = json.dumps(sms)
    before = item_counts(env)
    out = fn.lambda_handler(event, FakeContext())
    assert out["results"][0]["status"] == "UNKNOWN_MESSAGE" and item_counts(env) == before


def test_a_malformed_event_is_dropped(env, fn) -> None:
    event = load_event("sms_events/delivered")
    event["Records"][0]["Sns"]["Message"] = json.dumps({"eventType": "TEXT_DELIVERED"})
    out = fn.lambda_handler(event, FakeContext())
    assert out["results"][0]["status"] == "MALFORMED"
