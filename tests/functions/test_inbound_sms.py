"""InboundSms on moto: two-way SMS replies from SNS are handled like webhook replies."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dunning.domain.models import CaseStatus, Channel, EntryKind
from tests.support.aws import FakeContext, fresh_function, load_event, sent_sms
from tests.support.listening import case_of, collections, item_counts, listening_env, seed_reachable_case


@pytest.fixture
def env(aws: dict[str, str], monkeypatch: pytest.MonkeyPatch, clock: Any) -> dict[str, str]:
    env = listening_env(aws, monkeypatch)
    account, case = seed_reachable_case(env)
    return env


@pytest.fixture
def fn() -> Any:
    mod = fresh_function("inbound_sms")
    return mod


def test_stop_from_two_way_sms_opts_out_once(env, fn) -> None:
    event = load_event("inbound_sms/stop")
    out = fn.lambda_handler(event, FakeContext())
    assert out["results"][0]["intent"] == "STOP"
    assert len(sent_sms()) == 1
    before = item_counts(env)
    fn.lambda_handler(event, FakeContext())  # SNS redelivery
    assert item_counts(env) == before and len(sent_sms()) == 1
    account = fn.ports().accounts.get("acc-1001")
    assert Channel.SMS in account.opted_out
    history = collections(env).history("acc-1001")
    record = history.cases["acc-1001-20261102"]
    reply = next(e for e in fn.ports().collections.reveal(record, history.ledger[record.case.case_id])
                 if e.kind is EntryKind.REPLY)
    assert reply.data["provider"] == "aws-sms" and reply.data["text"] == "STOP"


def test_promise_from_two_way_sms_holds_the_case(env, fn) -> None:
    fn.lambda_handler(load_event("inbound_sms/promise"), FakeContext())
    from dunning.domain.models import Case

    case = case_of(
        env, Case(case_id="acc-1001-20261102", account_id="acc-1001", opened_at="2026-11-03T15:00:00Z")
    )
    assert case.status is CaseStatus.PROMISED


def test_malformed_message_is_dropped_without_writing(env, fn) -> None:
    event = load_event("inbound_sms/stop")
    event["Records"][0]["Sns"]["Message"] = json.dumps({"messageBody": "STOP"})
    before = item_counts(env)
    out = fn.lambda_handler(event, FakeContext())
    assert out["results"][0]["status"] == "MALFORMED" and item_counts(env) == before
