"""The specialist route and the legal review on moto: a customer who declared hardship goes to
SpecialistQueue, not to legal; a specialist's decision is recorded and resumes the escalation;
reviewers judge from the case summary, and an approval records what was seen."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
import time_machine

from dunning.adapters.dynamo import CollectionsRepository
from dunning.domain.models import CaseStatus, EntryKind, SpecialistDecision
from tests.functions.conftest import seed_case
from tests.support.aws import REGION, FakeContext, fresh_function, load_event
from tests.support.listening import listening_env

CASE = "acc-1001-20261102"
# Monday 14 December 2026, 10:00 in New York: 42 days past the due date of 2 November.
LATER = datetime(2026, 12, 14, 15, 0, tzinfo=UTC)
LADDER_BUT_LEGAL = ["first_notice", "sms_3", "call_7", "email_10", "sms_14", "call_21", "final_notice"]
SPECIALIST = "arn:aws:iam::123456789012:user/hardship-specialist"


@pytest.fixture
def env(aws: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    with time_machine.travel(LATER, tick=False):
        extra = listening_env(aws, monkeypatch)
        sqs = boto3.client("sqs", region_name=REGION)
        for name, var in (("LegalReviewQueue", "LEGAL_REVIEW_QUEUE_URL"), ("SpecialistQueue", "SPECIALIST_QUEUE_URL")):
            url = sqs.create_queue(QueueName=name)["QueueUrl"]
            monkeypatch.setenv(var, url)
            extra[var] = url
        yield extra


@pytest.fixture
def fns() -> dict[str, Any]:
    return {name: fresh_function(name) for name in ("plan_next_action", "agent_task", "admin")}


def repo(env: dict[str, str]) -> CollectionsRepository:
    return CollectionsRepository(boto3.client("dynamodb", region_name=REGION), env["COLLECTIONS_TABLE"])


def seed_hardship(env: dict[str, str], **case_kw: Any) -> None:
    """A customer who told an agent of hardship on day 7, agreed a plan, and has said nothing since."""
    _, case = seed_case(env, steps_done=LADDER_BUT_LEGAL, **case_kw)
    record = repo(env).case("acc-1001", case.case_id)
    at = datetime(2026, 11, 9, 15, tzinfo=UTC)
    repo(env).commit(record, [(EntryKind.CALL_OUTCOME, {"outcome": "HARDSHIP"}),
                              (EntryKind.PLAN, {"plan_id": "P1", "status": "ACTIVE"})], at=at, actor="test")
    record = repo(env).case("acc-1001", case.case_id)
    repo(env).commit(record, [(EntryKind.DECISION, {"action": "WAIT", "reasons": [], "details": ["PLAN_BROKEN"]})],
                     at=datetime(2026, 11, 25, 15, tzinfo=UTC), actor="test")


def plan(fns: dict[str, Any]) -> dict[str, Any]:
    return fns["plan_next_action"].lambda_handler(load_event("plan_next_action/plan"), FakeContext())


def task(fns: dict[str, Any], name: str) -> dict[str, Any]:
    return fns["agent_task"].lambda_handler(load_event(f"agent_task/{name}"), FakeContext())


def admin(fns: dict[str, Any], command: dict[str, Any], actor: str = SPECIALIST) -> dict[str, Any]:
    return fns["admin"].lambda_handler({"command": {"account_id": "acc-1001", "case_id": CASE} | command,
                                        "actor": actor}, FakeContext())


def queued(env: dict[str, str], var: str) -> list[dict[str, Any]]:
    msgs = boto3.client("sqs", region_name=REGION).receive_message(QueueUrl=env[var], MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in msgs.get("Messages", [])]


def test_declared_hardship_at_the_legal_step_goes_to_the_specialist_queue(env, fns, tasks) -> None:
    seed_hardship(env)
    decision = plan(fns)
    assert decision["action"] == "SPECIALIST_REVIEW" and "HARDSHIP_DECLARED" in decision["reasons"]
    task(fns, "specialist")
    case = repo(env).case("acc-1001", CASE).case
    assert case.status is CaseStatus.SPECIALIST and case.specialist_task_token
    assert "legal_review" not in case.steps_done  # the review it stands in for may still be allowed
    [sent] = queued(env, "SPECIALIST_QUEUE_URL")
    assert sent["kind"] == "SPECIALIST" and sent["reasons"] == ["HARDSHIP_DECLARED", "SPECIALIST_REVIEW"]
    summary = sent["summary"]
    assert summary["engagement"] == "HARDSHIP" and summary["plans_broken"] == 1 and summary["days_past_due"] == 42
    text = json.dumps(sent)
    assert "437" not in text and "Dana" not in text and "amount_due" not in text  # counts, no amounts or names
    assert queued(env, "LEGAL_REVIEW_QUEUE_URL") == []


def test_a_specialist_who_keeps_the_case_out_of_legal_is_recorded_and_nothing_is_sent(env, fns, tasks) -> None:
    seed_hardship(env)
    plan(fns)
    task(fns, "specialist")
    view = admin(fns, {"type": "show_case"})
    assert view["summary"]["hardship_declared_at"] and view["summary"]["amount_due"]["amount"] == "437.50"
    out = admin(fns, {"type": "specialist_decision", "decision": "NO_LEGAL_REVIEW", "reason": "job loss; new plan",
                      "summary_digest": view["summary_digest"]})
    assert out["applied"] and out["task_completed"] and out["case_status"] == "SPECIALIST"
    assert tasks.calls == [("AQCEAAAAKgAAAAMAAAAAAAAAAspecialistexampletoken", {"decision": "NO_LEGAL_REVIEW"})]
    [decided] = [e for e in repo(env).history("acc-1001").ledger[CASE] if e.kind is EntryKind.SPECIALIST
                 and e.data["event"] == "DECIDED"]
    assert decided.data["by"] == f"console:{SPECIALIST}" and decided.data["seen_digest"] == view["summary_digest"]
    assert decided.data["summary"]["engagement"] == "HARDSHIP"
    held = plan(fns)
    assert held["action"] == "WAIT" and held["reasons"] == ["SPECIALIST_HOLD"]


def test_a_specialist_may_let_the_legal_review_go_ahead_and_the_approver_sees_why(env, fns, tasks) -> None:
    seed_hardship(env)
    plan(fns)
    task(fns, "specialist")
    out = admin(fns, {"type": "specialist_decision", "decision": "LEGAL_REVIEW", "reason": "no contact in 5 weeks"})
    assert out["applied"] and out["case_status"] == "OPEN"
    assert repo(env).case("acc-1001", CASE).case.specialist_decision is SpecialistDecision.LEGAL_REVIEW
    decision = plan(fns)
    assert decision["action"] == "LEGAL_REVIEW" and "SPECIALIST_ALLOWED_LEGAL" in decision["reasons"]
    task(fns, "legal_review")
    [review] = queued(env, "LEGAL_REVIEW_QUEUE_URL")
    assert review["summary"]["specialist_decision"] == "LEGAL_REVIEW" and "437" not in json.dumps(review)
    requested = [e for e in repo(env).history("acc-1001").ledger[CASE] if e.kind is EntryKind.LEGAL][-1]
    assert requested.data["specialist_decision"] == "LEGAL_REVIEW"
    assert repo(env).case("acc-1001", CASE).case.specialist_decision is None  # spent on this review


def test_an_approval_records_what_was_seen_and_refuses_a_summary_that_is_out_of_date(env, fns, tasks) -> None:
    _, case = seed_case(env, steps_done=LADDER_BUT_LEGAL)
    record = repo(env).case("acc-1001", case.case_id)  # called, and nobody answered
    repo(env).commit(record, [(EntryKind.CALL_OUTCOME, {"outcome": "NO_ANSWER"})],
                     at=datetime(2026, 11, 9, 15, tzinfo=UTC), actor="test")
    assert plan(fns)["action"] == "LEGAL_REVIEW"  # never reached: story 5.2
    task(fns, "legal_review")
    admin_actor = "arn:aws:iam::123456789012:user/collections-admin"
    view = admin(fns, {"type": "show_case"}, admin_actor)
    assert view["summary"]["engagement"] == "NEVER_REACHED"
    record = repo(env).case("acc-1001", CASE)
    repo(env).commit(record, [(EntryKind.REPLY, {"intent": "OTHER", "channel": "SMS"})], at=LATER, actor="test")
    stale = admin(fns, {"type": "approve_legal_referral", "summary_digest": view["summary_digest"]}, admin_actor)
    assert stale["applied"] is False and tasks.calls == []
    assert any("changed since" in n for n in stale["notes"])
    fresh = admin(fns, {"type": "show_case"}, admin_actor)
    out = admin(fns, {"type": "approve_legal_referral", "summary_digest": fresh["summary_digest"]}, admin_actor)
    assert out["applied"] and out["task_completed"]
    approved = [e for e in repo(env).history("acc-1001").ledger[CASE] if e.kind is EntryKind.LEGAL][-1]
    assert approved.data["event"] == "APPROVED" and approved.data["seen_digest"] == fresh["summary_digest"]
    assert approved.data["summary"]["replies"] == 1


def test_a_plan_offered_to_a_case_with_the_specialist_resumes_its_escalation(env, fns, tasks) -> None:
    seed_hardship(env)
    plan(fns)
    task(fns, "specialist")
    out = admin(fns, {"type": "offer_plan"})
    assert out["applied"] and out["case_status"] == "PAUSED"
    assert tasks.calls == [("AQCEAAAAKgAAAAMAAAAAAAAAAspecialistexampletoken", {"status": "PAUSED"})]
    assert repo(env).case("acc-1001", CASE).case.specialist_task_token is None


def test_a_decision_on_a_case_not_with_a_specialist_is_recorded_and_refused(env, fns, tasks) -> None:
    seed_case(env)
    out = admin(fns, {"type": "specialist_decision", "decision": "LEGAL_REVIEW", "reason": "x"})
    assert out["applied"] is False and "not SPECIALIST" in out["notes"][0] and tasks.calls == []
