"""PlanNextAction, SendNotice, AgentTask and RecordFailure on moto, driven by the sample events."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from dunning.adapters.dynamo import CollectionsRepository
from dunning.domain.ledger import verify_chain
from dunning.domain.models import EntryKind, NoticeStatus
from tests.functions.conftest import seed_case
from tests.support.aws import REGION, FakeContext, load_event, load_function, sent_emails, sent_sms


@pytest.fixture
def fns() -> dict[str, Any]:
    mods = {name: load_function(name) for name in ("plan_next_action", "send_notice", "agent_task",
                                                    "record_failure")}
    for mod in mods.values():
        mod._runtime = None
    return mods


def history(env: dict[str, str], account_id: str = "acc-1001"):  # type: ignore[no-untyped-def]
    return CollectionsRepository(boto3.client("dynamodb", region_name=REGION), env["COLLECTIONS_TABLE"]).history(
        account_id)


def test_plan_returns_one_decision_with_ids_only_and_records_it(aws, clock, fns) -> None:
    seed_case(aws)
    out = fns["plan_next_action"].lambda_handler(load_event("plan_next_action/plan"), FakeContext())
    assert out["action"] == "SEND" and out["step_id"] == "first_notice"
    text = json.dumps(out)
    assert "dana" not in text.lower() and "437" not in text and "+1202" not in text
    entries = history(aws).ledger["acc-1001-20261102"]
    assert [e.kind for e in entries] == [EntryKind.CASE_OPENED, EntryKind.DECISION]


def test_send_notice_sends_once_records_content_and_keeps_the_chain(aws, clock, fns) -> None:
    seed_case(aws)
    event = load_event("send_notice/send-email")
    first = fns["send_notice"].lambda_handler(event, FakeContext())
    again = fns["send_notice"].lambda_handler(event, FakeContext())
    assert first["status"] == "SENT"
    assert again["status"] == "SENT"
    assert len(sent_emails()) == 1  # at most once per step
    h = history(aws)
    notice = h.notices["acc-1001-20261102"][0]
    assert notice.status is NoticeStatus.SENT and notice.provider_message_id
    ledger = h.ledger["acc-1001-20261102"]
    assert ledger[-1].kind is EntryKind.NOTICE and "Dana" in ledger[-1].data["body"]
    assert verify_chain("acc-1001-20261102", ledger).ok


def test_send_costs_two_reads_two_writes_and_one_provider_call(aws, clock, fns) -> None:
    seed_case(aws)
    mod = fns["send_notice"]
    mod.lambda_handler(load_event("send_notice/send-sms"), FakeContext())  # warm: policy, secret
    rt = mod.runtime()
    rt.counter.reset()
    rt.sends = 0
    event = load_event("send_notice/send-email")
    mod.lambda_handler(event, FakeContext())
    assert (rt.counter.reads, rt.counter.writes, rt.sends) == (2, 2, 1)


def test_a_crash_after_the_provider_call_is_uncertain_and_never_resent(aws, clock, fns, monkeypatch) -> None:
    seed_case(aws)
    mod = fns["send_notice"]
    rt = mod.runtime()
    from dunning.adapters.senders import SesEmailSender

    def accepted_then_lost(self, message):  # type: ignore[no-untyped-def]
        raise ConnectionResetError("connection reset after the request was written")

    with monkeypatch.context() as patched:
        patched.setattr(SesEmailSender, "send", accepted_then_lost)
        out = mod.lambda_handler(load_event("send_notice/send-email"), FakeContext())
    assert out["status"] == "UNCERTAIN"
    again = mod.lambda_handler(load_event("send_notice/send-email"), FakeContext())
    assert again["status"] == "UNCERTAIN"
    assert sent_emails() == []
    plan = fns["plan_next_action"].lambda_handler(load_event("plan_next_action/plan"), FakeContext())
    assert plan.get("step_id") != "first_notice"  # the uncertain step is never planned again
    assert rt is mod.runtime()


def test_sms_goes_through_sns_with_the_segment_count_recorded(aws, clock, fns) -> None:
    seed_case(aws)
    out = fns["send_notice"].lambda_handler(load_event("send_notice/send-sms"), FakeContext())
    assert out["status"] == "SENT"
    sms = sent_sms()
    assert len(sms) == 1
    notice = history(aws).notices["acc-1001-20261102"][0]
    assert notice.segments and notice.segments <= 3


def test_agent_task_keeps_the_token_on_the_case_and_queues_ids_only(aws, clock, fns, monkeypatch) -> None:
    seed_case(aws)
    sqs = boto3.client("sqs", region_name=REGION)
    calls = sqs.create_queue(QueueName="CallQueue")["QueueUrl"]
    legal = sqs.create_queue(QueueName="LegalReviewQueue")["QueueUrl"]
    monkeypatch.setenv("CALL_QUEUE_URL", calls)
    monkeypatch.setenv("LEGAL_REVIEW_QUEUE_URL", legal)
    fns["agent_task"].lambda_handler(load_event("agent_task/call"), FakeContext())
    msgs = sqs.receive_message(QueueUrl=calls)["Messages"]
    body = json.loads(msgs[0]["Body"])
    assert set(body) == {"case_id", "account_id", "step_id", "kind", "task_token", "created_at"}
    case = history(aws).cases["acc-1001-20261102"].case
    assert case.call_task_token == body["task_token"]
    assert "call_7" in case.steps_done


def test_record_failure_appends_to_the_ledger(aws, clock, fns) -> None:
    seed_case(aws)
    fns["record_failure"].lambda_handler(load_event("record_failure/failure"), FakeContext())
    entries = history(aws).ledger["acc-1001-20261102"]
    assert entries[-1].kind is EntryKind.FAILURE
    assert verify_chain("acc-1001-20261102", entries).ok
