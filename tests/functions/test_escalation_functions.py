"""PlanNextAction (which sends what it decides to send), AgentTask and RecordFailure on moto, driven by the
sample events."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from dunning.adapters.dynamo import CollectionsRepository
from dunning.domain.ledger import verify_chain
from dunning.domain.models import EntryKind, Notice, NoticeStatus
from tests.functions.conftest import seed_case
from tests.support.aws import REGION, FakeContext, fresh_function, load_event, sent_emails, sent_sms
from tests.support.fakes import put_notice


@pytest.fixture
def fns() -> dict[str, Any]:
    return {name: fresh_function(name) for name in ("plan_next_action", "agent_task", "record_failure")}


def history(env: dict[str, str], account_id: str = "acc-1001"):  # type: ignore[no-untyped-def]
    return CollectionsRepository(boto3.client("dynamodb", region_name=REGION), env["COLLECTIONS_TABLE"]).history(
        account_id)


def plan(fns: dict[str, Any]) -> dict[str, Any]:
    return fns["plan_next_action"].lambda_handler(load_event("plan_next_action/plan"), FakeContext())


def test_plan_decides_sends_and_returns_ids_only(aws, clock, fns) -> None:
    seed_case(aws)
    out = plan(fns)
    assert out["action"] == "SEND" and out["step_id"] == "first_notice"
    assert out["sent"] == {"status": "SENT", "step_id": "first_notice", "reasons": []}
    text = json.dumps(out)
    assert "dana" not in text.lower() and "437" not in text and "+1202" not in text
    assert len(sent_emails()) == 1


def test_a_sent_notice_is_recorded_with_its_content_after_the_decision(aws, clock, fns) -> None:
    seed_case(aws)
    plan(fns)
    h = history(aws)
    notice = h.notices["acc-1001-20261102"][0]
    assert notice.status is NoticeStatus.SENT and notice.provider_message_id
    ledger = h.ledger["acc-1001-20261102"]
    assert [e.kind for e in ledger] == [EntryKind.CASE_OPENED, EntryKind.DECISION, EntryKind.NOTICE]
    # The text is in the ledger encrypted under the case's key (erasure destroys the key): the
    # hash covers the ciphertext, and the function's own ports can read it.
    assert ledger[1].data["action"] == "SEND" and ledger[-1].data["body"].startswith("enc:v1:")
    record = h.cases["acc-1001-20261102"]
    assert "Dana" in fns["plan_next_action"].ports().collections.reveal(record, ledger)[-1].data["body"]
    assert verify_chain("acc-1001-20261102", ledger).ok


def test_planning_again_never_sends_a_step_twice(aws, clock, fns) -> None:
    seed_case(aws)
    plan(fns)
    again = plan(fns)
    assert again["action"] == "WAIT" and "sent" not in again
    assert len(sent_emails()) == 1  # at most once per step


def test_a_provider_failure_of_unknown_outcome_is_uncertain_and_never_resent(aws, clock, fns, monkeypatch) -> None:
    seed_case(aws)
    from dunning.adapters.senders import SesEmailSender

    def accepted_then_lost(self, message):  # type: ignore[no-untyped-def]
        raise ConnectionResetError("connection reset after the request was written")

    with monkeypatch.context() as patched:
        patched.setattr(SesEmailSender, "send", accepted_then_lost)
        out = plan(fns)
    assert out["sent"]["status"] == "UNCERTAIN"
    assert plan(fns).get("step_id") != "first_notice"  # the uncertain step is never planned again
    assert sent_emails() == []


class Killed(BaseException):
    """The Lambda sandbox dies (timeout, out of memory) with no chance to record anything."""


def test_a_plan_killed_after_the_gate_is_uncertain_on_the_retry_and_never_resent(
        aws, clock, fns, monkeypatch) -> None:
    seed_case(aws)
    from dunning.adapters.senders import SesEmailSender

    def killed(self, message):  # type: ignore[no-untyped-def]
        raise Killed

    with monkeypatch.context() as patched, pytest.raises(Killed):
        patched.setattr(SesEmailSender, "send", killed)
        plan(fns)
    assert history(aws).notices["acc-1001-20261102"][0].status is NoticeStatus.SENDING
    retry = plan(fns)  # Step Functions retry of the Plan state
    assert "sent" not in retry and retry.get("step_id") != "first_notice"
    assert sent_emails() == []
    assert history(aws).notices["acc-1001-20261102"][0].status is NoticeStatus.UNCERTAIN
    ledger = history(aws).ledger["acc-1001-20261102"]
    assert [e.data["status"] for e in ledger if e.kind is EntryKind.NOTICE] == ["UNCERTAIN"]
    assert verify_chain("acc-1001-20261102", ledger).ok


def test_sms_goes_through_sns_with_the_segment_count_recorded(aws, clock, fns) -> None:
    seed_case(aws, strategy_id="sms_first", variant="challenger")
    out = plan(fns)
    assert out["channel"] == "SMS" and out["sent"]["status"] == "SENT"
    assert len(sent_sms()) == 1
    notice = history(aws).notices["acc-1001-20261102"][0]
    assert notice.segments and notice.segments <= 3


def test_agent_task_keeps_the_token_on_the_case_and_queues_ids_only(aws, clock, fns, monkeypatch) -> None:
    seed_case(aws)
    sqs = boto3.client("sqs", region_name=REGION)
    calls = sqs.create_queue(QueueName="CallQueue")["QueueUrl"]
    legal = sqs.create_queue(QueueName="LegalReviewQueue")["QueueUrl"]
    monkeypatch.setenv("CALL_QUEUE_URL", calls)
    monkeypatch.setenv("LEGAL_REVIEW_QUEUE_URL", legal)
    monkeypatch.setenv("SPECIALIST_QUEUE_URL", sqs.create_queue(QueueName="SpecialistQueue")["QueueUrl"])
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


def test_a_plan_records_any_stuck_notice_of_its_own_uncertain_but_leaves_replies_in_flight(aws, clock, fns) -> None:
    from dunning.domain.models import Channel, utc_now

    seed_case(aws)
    rt = fns["plan_next_action"].ports()
    for step in ("legal_referral", "service_stop_SM123"):  # the planner's own, and a reply being sent
        put_notice(rt.collections, Notice(  # as the gate leaves it: item and header
            notice_id=Notice.id_for("acc-1001-20261102", step), case_id="acc-1001-20261102", account_id="acc-1001",
            step_id=step, channel=Channel.SMS, template_id="legal_referral", template_version="1", locale="en-US",
            status=NoticeStatus.SENDING, subject=None, body="(text)", created_at=utc_now()))
    plan(fns)
    statuses = {n.step_id: n.status for n in history(aws).notices["acc-1001-20261102"]}
    assert statuses["legal_referral"] is NoticeStatus.UNCERTAIN
    assert statuses["service_stop_SM123"] is NoticeStatus.SENDING
    assert verify_chain("acc-1001-20261102", history(aws).ledger["acc-1001-20261102"]).ok


def test_a_reply_left_sending_longer_than_any_invocation_runs_is_recorded_uncertain(aws, clock, fns) -> None:
    # Its inbound function died after the gate: nothing else will record it, and until something
    # does, the case's tally shows a send in flight and every plan reads the case whole.
    from datetime import timedelta

    from dunning.domain.models import Channel, utc_now

    seed_case(aws)
    rt = fns["plan_next_action"].ports()
    put_notice(rt.collections, Notice(
        notice_id=Notice.id_for("acc-1001-20261102", "service_help_SM9"), case_id="acc-1001-20261102",
        account_id="acc-1001", step_id="service_help_SM9", channel=Channel.SMS, template_id="help_reply",
        template_version="1", locale="en-US", status=NoticeStatus.SENDING, body="(text)",
        created_at=utc_now() - timedelta(minutes=16)))
    plan(fns)
    h = history(aws)
    statuses = {n.step_id: n.status for n in h.notices["acc-1001-20261102"]}
    assert statuses["service_help_SM9"] is NoticeStatus.UNCERTAIN
    tally = h.cases["acc-1001-20261102"].tally
    assert tally is not None and not tally.sending()


def test_a_send_the_send_time_check_defers_waits_for_its_instant(aws, clock, fns, monkeypatch) -> None:
    # The plan's check cannot see the rendered text; if the send-time check defers, the escalation
    # must wait for the instant it names, not plan the same send again at once (and again ...).
    from datetime import timedelta

    from dunning.domain.compliance import ComplianceResult, Verdict
    from dunning.domain.models import ReasonCode, utc_now
    from dunning.services import escalation

    seed_case(aws)
    later = utc_now() + timedelta(hours=5)
    monkeypatch.setattr(escalation, "check", lambda *a, **k: ComplianceResult(
        verdict=Verdict.DEFER, until=later, reasons=[ReasonCode.CONTACT_WINDOW], details=["test"]))
    out = plan(fns)
    assert out["action"] == "WAIT" and out["wait_until"] == later.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert out["sent"]["status"] == "DEFER" and sent_emails() == []
    kinds = [e.kind for e in history(aws).ledger["acc-1001-20261102"]]
    assert kinds == [EntryKind.CASE_OPENED, EntryKind.DECISION, EntryKind.DECISION]
