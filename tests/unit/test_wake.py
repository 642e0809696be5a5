"""A waiting escalation is woken by what changes its case, and only by that: the wait's token is kept
on the case the decision saw, every case action completes it after its commit, and a token already
spent (the timer, another event) costs nothing more than the call."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from dunning.domain.models import Account, Case, CaseStatus, EntryKind
from dunning.ports import InboundSms
from dunning.services import admin, cases, customers, escalation, payments, replies
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


def _file_change(ports: FakePorts, **changes: object) -> str:
    """The lender's file rewrites loan L1 with `changes` (dotted keys reach into the contact)."""
    old = ports.accounts.get("L1").model_dump(mode="json")
    new = {**old, "contact": dict(old["contact"])}
    for key, value in changes.items():
        if key.startswith("contact."):
            new["contact"][key.removeprefix("contact.")] = value
        else:
            new[key] = value
    stored = ports.accounts.put(Account.model_validate(new), old["version"])  # the import's write, then its record
    return cases.on_account_change(ports, old, stored.model_dump(mode="json"))


@pytest.mark.parametrize("changes", [
    {"contact.phone": "+12025550199"},
    {"contact.email": "dana.new@example.com"},
    {"due_date": "2026-10-25"},
    {"time_zones": ["America/Los_Angeles"]},
    {"consented": ["CALL", "EMAIL", "SMS"]},  # calls allowed again
    {"customer_id": "C9"},
], ids=lambda c: next(iter(c)))
def test_a_change_in_the_lenders_file_that_can_bring_the_next_move_forward_wakes_the_case(
        ports: FakePorts, changes: dict[str, object]) -> None:
    _file_change(ports, consented=["EMAIL", "SMS"])
    waiting(ports)
    assert _file_change(ports, **changes) == "woken"
    assert ports.workflow.completed == [("wait-1", {"woken": "CASE_CHANGED"})]


@pytest.mark.parametrize("changes", [
    {"principal_due": "380.00", "interest_due": "14.10"},  # the day's interest: every account, every day
    {"opted_out": ["SMS"]},  # only restricts: every send is checked against it
    {"time_barred": True},
    {"consented": ["SMS", "EMAIL"]},  # a consent withdrawn only restricts
    {"consented": ["SMS", "EMAIL", "CALL"][::-1]},  # the same set, in another order
    {"preferred_hours": {"start": "09:00:00", "end": "12:00:00"}},  # the customer's page wrote it, and woke
    {"contact.phone_usable": False},
], ids=lambda c: next(iter(c)))
def test_a_change_that_cannot_bring_the_next_move_forward_leaves_the_wait_alone(
        ports: FakePorts, changes: dict[str, object]) -> None:
    waiting(ports)
    assert _file_change(ports, **changes) == "ignored"
    assert ports.workflow.completed == []


def test_a_due_date_the_lender_corrects_brings_the_next_step_forward_at_once(ports: FakePorts) -> None:
    """The file moves the due date four days back: the call that waited for its day is due today,
    and the woken Plan holds it only for the spacing after the text, not for four days."""
    sent = escalation.plan(ports, CASE, "L1")
    assert (sent["action"], sent["step_id"]) == ("SEND", "sms_3") and sent["wait_seconds"] > 3 * 86400
    waiting(ports)
    assert _file_change(ports, due_date="2026-10-27") == "woken"
    woken = escalation.plan(ports, CASE, "L1")  # the day-7 call is due; only the spacing after the text holds it
    assert (woken["action"], woken["reasons"]) == ("WAIT", ["SPACING"]) and woken["wait_seconds"] <= 4 * 3600
    ports.clock.at = datetime.fromisoformat(woken["wait_until"])
    due = escalation.plan(ports, CASE, "L1")
    assert (due["action"], due["step_id"]) == ("CALL", "call_7")


def test_the_waits_after_a_send_are_recorded_with_the_notice(ports: FakePorts) -> None:
    """The next step falls on Thanksgiving: the escalation waits past it straight after the send, so
    no decision of its own records the holiday; the notice's ledger entry does (`then`), where the
    what-if tool counts compliance deferrals."""
    _file_change(ports, due_date="2026-11-19")  # sms_3 on 22 November, call_7 on Thanksgiving
    ports.clock.at = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)
    out = escalation.plan(ports, CASE, "L1")
    assert (out["action"], out["step_id"]) == ("SEND", "sms_3") and "HOLIDAY" in out["then"]
    assert out["wait_until"].startswith("2026-11-27")
    notice = [e for e in ports.collections.history("L1").ledger[CASE] if e.kind is EntryKind.NOTICE][-1]
    assert notice.data["step_id"] == "sms_3" and notice.data["then"] == out["then"]
