"""A waiting escalation is woken by what changes its case, and only by that: the wait's token is kept
on the case the decision saw, every case action completes it after its commit, and a token already
spent (the timer, another event) costs nothing more than the call."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from dunning.domain.models import Case, CaseStatus
from dunning.ports import InboundSms
from dunning.services import admin, customers, escalation, payments, replies
from tests.functions.conftest import make_account
from tests.support.fakes import FakePorts

NOW = datetime(2026, 11, 3, 15, 0, tzinfo=UTC)  # 10:00 in New York
CASE = "L1-20261031"
PHONE = "+12025550143"


@pytest.fixture
def ports() -> FakePorts:
    ports = FakePorts()
    ports.clock.at = NOW
    for account_id in ("L1", "L2"):  # one person, two loans
        account = make_account(account_id=account_id, customer_id="C1", due_date="2026-10-31")
        ports.open_case(account, Case(case_id=f"{account_id}-20261031", account_id=account_id,
                                      opened_at=NOW - timedelta(days=2), strategy_id="standard",
                                      variant="champion", steps_done=["first_notice"]), NOW - timedelta(days=2))
        customers.register(ports, account, NOW - timedelta(days=2))
    ports.collections.put_contact("L1", ports.keys.phone_hash(PHONE))
    return ports


def version(ports: FakePorts) -> int:
    return ports.collections.case("L1", CASE).case.version


def waiting(ports: FakePorts, token: str = "wait-1") -> None:
    out = escalation.wait_for_events(ports, CASE, "L1", token, version(ports))
    assert out["waiting"] and ports.collections.case("L1", CASE).case.wake_token == token
    assert ports.workflow.completed == []


def test_a_wait_keeps_its_token_on_the_case_it_was_decided_on(ports: FakePorts) -> None:
    waiting(ports)


def test_a_case_that_changed_since_the_decision_is_planned_again_at_once(ports: FakePorts) -> None:
    decided = version(ports)
    admin.execute(ports, admin.AdminRequest.model_validate({"command": {
        "type": "record_dispute", "account_id": "L1", "case_id": CASE, "reason": "charged twice"}}).command,
        "arn:aws:iam::123456789012:user/admin")  # between the Plan and the wait's start
    out = escalation.wait_for_events(ports, CASE, "L1", "wait-1", decided)
    assert not out["waiting"] and ports.workflow.completed == [("wait-1", {"woken": "CASE_CHANGED"})]
    assert ports.collections.case("L1", CASE).case.wake_token is None


@pytest.mark.parametrize("act", ["reply", "admin", "payment"])
def test_what_changes_the_case_wakes_its_escalation(ports: FakePorts, act: str) -> None:
    waiting(ports)
    if act == "reply":
        replies.handle_inbound(ports, InboundSms(provider="generic", message_id="SM1", from_number=PHONE,
                                                 to_number=None, text="I will pay on Friday", received_at=NOW))
    elif act == "admin":
        admin.execute(ports, admin.AdminRequest.model_validate({"command": {
            "type": "pause_case", "account_id": "L1", "case_id": CASE, "days": 7, "reason": "in hospital"}}).command,
            "arn:aws:iam::123456789012:user/admin")
    else:
        payments.apply_payment(ports, "P1", "L1", Decimal("50.00"), "USD", NOW)
    assert ports.workflow.completed == [("wait-1", {"woken": "CASE_CHANGED"})]


def test_a_spent_token_is_left_alone_and_the_next_plan_clears_it(ports: FakePorts) -> None:
    waiting(ports)
    ports.workflow.waiting = {"another-token"}  # wait-1 timed out: Step Functions says TaskTimedOut
    admin.execute(ports, admin.AdminRequest.model_validate({"command": {
        "type": "record_dispute", "account_id": "L1", "case_id": CASE, "reason": "charged twice"}}).command,
        "arn:aws:iam::123456789012:user/admin")
    assert ports.workflow.completed == []  # nothing to wake, and the action still stands
    assert ports.collections.case("L1", CASE).case.status is CaseStatus.DISPUTED
    escalation.plan(ports, CASE, "L1")
    assert ports.collections.case("L1", CASE).case.wake_token is None


def test_a_sent_notice_waits_for_the_cases_next_move_instead_of_planning_again(ports: FakePorts) -> None:
    """Sent on the case as read: the escalation waits until the next step, whose Plan then acts."""
    out = escalation.plan(ports, CASE, "L1")
    assert (out["action"], out["sent"]["status"], out["step_id"]) == ("SEND", "SENT", "sms_3")
    assert out["wait_seconds"] > 0 and out["case_version"] == version(ports)
    until = datetime.fromisoformat(out["wait_until"].replace("Z", "+00:00"))
    ports.clock.at = until - timedelta(minutes=1)
    assert escalation.plan(ports, CASE, "L1")["action"] == "WAIT"  # nothing to do before it
    ports.clock.at = until
    assert escalation.plan(ports, CASE, "L1")["action"] in ("SEND", "CALL")


def test_a_notice_recorded_on_a_case_that_changed_meanwhile_plans_again_at_once(ports: FakePorts) -> None:
    """A reply committed between the gate and the outcome: the case is no longer as read."""
    real_send = ports.sms.send

    def send_and_reply(message):  # type: ignore[no-untyped-def]
        message_id = real_send(message)
        replies.handle_inbound(ports, InboundSms(provider="generic", message_id="SM9", from_number=PHONE,
                                                 to_number=None, text="who is this", received_at=NOW))
        return message_id

    ports.sms.send = send_and_reply  # type: ignore[method-assign]
    out = escalation.plan(ports, CASE, "L1")
    assert (out["action"], out["sent"]["status"]) == ("SEND", "SENT")
    assert out["wait_seconds"] == 0 and "wait_until" not in out


def test_a_status_lifted_on_the_person_wakes_their_other_loans_case_and_one_set_does_not(ports: FakePorts) -> None:
    """A special status is the person's. Lifted on the loan the admin addressed, the person's other
    loan is planned again now, not 14 days later; set, it needs no wake (every send is checked)."""
    other = "L2-20261031"
    out = escalation.wait_for_events(ports, other, "L2", "wait-L2", ports.collections.case("L2", other).case.version)
    assert out["waiting"]
    for lift in (False, True):
        admin.execute(ports, admin.AdminRequest.model_validate({"command": {
            "type": "set_special_status", "account_id": "L1", "status": "LITIGATION_HOLD", "lift": lift}}).command,
            "arn:aws:iam::123456789012:user/admin")
        woken = ("wait-L2", {"woken": "CASE_CHANGED"}) in ports.workflow.completed
        assert woken is lift


def test_a_wait_that_changes_the_case_still_waits_until_its_instant(ports: FakePorts) -> None:
    """A pause that ends in this decision (recorded now, so nothing is folded) still waits for the
    next step: the loop is handed its wait, never a WAIT without one."""
    record = ports.collections.case("L1", CASE)
    record.case.status, record.case.paused_until = CaseStatus.PAUSED, NOW - timedelta(hours=1)
    record.case.steps_done = ["first_notice", "sms_3"]
    ports.collections.commit(record, [], at=NOW - timedelta(hours=2), actor="test")
    out = escalation.plan(ports, CASE, "L1")
    assert out["action"] == "WAIT" and out["wait_seconds"] > 0
    assert datetime.fromisoformat(out["wait_until"].replace("Z", "+00:00")) > NOW
    assert ports.collections.case("L1", CASE).case.status is CaseStatus.OPEN
