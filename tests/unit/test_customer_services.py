"""One person, two loans, on in-memory ports: the caps and spacing see both loans, a text reaches
both cases once, a special status from any source stops (or reroutes) every loan, and agents get a
worklist, the phone only when they ask for it, and a window check on what they record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from dunning.domain.ledger import GENESIS
from dunning.domain.models import Case, CaseStatus, Channel, Contact, EntryKind, Notice, NoticeStatus, SpecialStatus
from dunning.ports import CaseRecord, InboundEmail, InboundSms, TransientError
from dunning.services import admin, cases, customers, escalation, replies
from tests.functions.conftest import make_account
from tests.support.fakes import FakePorts, put_notice

NOW = datetime(2026, 11, 3, 15, 0, tzinfo=UTC)  # 10:00 in New York, a Tuesday
LOANS = {"L1": ("4000123412341234", "400.00"), "L2": ("4000123412349876", "150.00")}
PHONE = "+12025550143"
ADDRESS = "dana@example.com"


def case_id(account_id: str) -> str:
    return f"{account_id}-20261031"


@pytest.fixture
def ports() -> FakePorts:
    """Customer C1 holds two loans, both 3 days late, each with its first notice already sent."""
    ports = FakePorts()
    ports.clock.at = NOW
    for account_id, (number, owed) in LOANS.items():
        account = make_account(account_id=account_id, account_number=number, customer_id="C1",
                               principal_due=Decimal(owed), interest_due=Decimal(0), fees_due=Decimal(0),
                               due_date="2026-10-31")
        ports.accounts.put(account, None)
        case = Case(case_id=case_id(account_id), account_id=account_id, opened_at=NOW - timedelta(days=2),
                    strategy_id="standard", variant="champion", steps_done=["first_notice"])
        ports.collections.commit(CaseRecord(case, -1, GENESIS), [(EntryKind.CASE_OPENED, {})],
                                 at=NOW - timedelta(days=2), actor="test", create=True)
        ports.collections.put_contact(account_id, ports.keys.phone_hash(PHONE))
        customers.register(ports, account, NOW - timedelta(days=2))
    return ports


def text(body: str, message_id: str = "SM1") -> InboundSms:
    return InboundSms(provider="generic", message_id=message_id, from_number=PHONE, to_number=None, text=body,
                      received_at=NOW)


def entries(ports: FakePorts, account_id: str, kind: EntryKind) -> list[Any]:
    return [e for e in ports.collections.ledger[(account_id, case_id(account_id))] if e.kind is kind]


def case_of(ports: FakePorts, account_id: str) -> Case:
    return ports.collections.case(account_id, case_id(account_id)).case


def run_admin(ports: FakePorts, cmd: Any, actor: str, roles: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The command's result as the admin function answers it (JSON)."""
    return admin.execute(ports, cmd, actor, roles).model_dump(mode="json")


def command(**fields: Any) -> Any:
    return admin.AdminRequest.model_validate({"command": fields}).command


# --------------------------------------------------------------------------- caps across loans


def test_a_person_with_two_overdue_loans_gets_one_sms_a_day(ports: FakePorts) -> None:
    first = escalation.plan(ports, case_id("L1"), "L1")
    second = escalation.plan(ports, case_id("L2"), "L2")

    assert first["action"] == "SEND" and first["sent"]["status"] == "SENT"
    assert second["action"] == "WAIT"
    assert {"DAILY_CAP", "SPACING"} <= set(second["reasons"])
    assert len(ports.sms.sent) == 1
    # the person's profile carries the contact for every loan of theirs
    profile = ports.collections.customer("C1")
    assert [c.ref for c in profile.contacts] == [f"{case_id('L1')}:sms_3"]


def test_two_loans_sending_at_the_same_instant_cannot_both_send(ports: FakePorts, monkeypatch: Any) -> None:
    stale = ports.collections.customer("C1")  # what L2's plan read, before L1 sent
    escalation.plan(ports, case_id("L1"), "L1")
    monkeypatch.setattr(ports.collections, "customer", lambda customer_id: stale.model_copy(deep=True))

    with pytest.raises(TransientError):  # the gate's condition on the profile: Step Functions plans again
        escalation.plan(ports, case_id("L2"), "L2")
    assert len(ports.sms.sent) == 1


def test_a_failed_send_stops_counting_for_the_person(ports: FakePorts, monkeypatch: Any) -> None:
    from dunning.ports import ProviderRejected

    def refuse(message: Any) -> str:
        raise ProviderRejected("InvalidParameter")

    monkeypatch.setattr(ports.sms, "send", refuse)
    assert escalation.plan(ports, case_id("L1"), "L1")["sent"]["status"] == "FAILED"
    monkeypatch.undo()
    ports.clock.at = NOW + timedelta(hours=4)
    assert escalation.plan(ports, case_id("L2"), "L2")["sent"]["status"] == "SENT"


def test_an_overdue_email_names_the_persons_other_overdue_loan(ports: FakePorts) -> None:
    result = escalation.send(ports, ports.email, case_id("L1"), "L1", "email_2", Channel.EMAIL, "overdue_reminder",
                             actor="test")

    assert result.status == "SENT"
    (message,) = ports.email.sent
    # one notice covers both loans: this one's amount, and the other's with its last four digits
    assert "$400.00" in message.body and "ending 9876: $150.00, 3 days past due" in message.body
    assert "ending 9876" in (message.html or "")


def test_an_overdue_email_to_a_person_with_one_loan_names_no_other(ports: FakePorts) -> None:
    paid = ports.accounts.get("L2")
    ports.accounts.put(paid.model_copy(update={"status": "PAID_OFF"}), paid.version)
    escalation.send(ports, ports.email, case_id("L1"), "L1", "email_2", Channel.EMAIL, "overdue_reminder",
                    actor="test")
    (message,) = ports.email.sent
    assert "other loans" not in message.body and "9876" not in message.body


# --------------------------------------------------------------------------- the conversation


def test_stop_reaches_every_loan_and_is_confirmed_once(ports: FakePorts) -> None:
    out = replies.handle_inbound(ports, text("STOP"))

    assert out["customer_id"] == "C1" and len(out["cases"]) == 2
    assert len(ports.sms.sent) == 1  # one confirmation for the person
    for account_id in LOANS:
        assert len(entries(ports, account_id, EntryKind.REPLY)) == 1
        assert Channel.SMS in ports.accounts.get(account_id).opted_out
    assert Channel.SMS in ports.collections.customer("C1").opted_out
    again = replies.handle_inbound(ports, text("STOP"))  # redelivered: nothing new
    assert len(ports.sms.sent) == 1 and again["cases"][0]["case_status"] is None


def test_a_promise_of_one_loans_amount_holds_that_loan_only(ports: FakePorts) -> None:
    replies.handle_inbound(ports, text("I will pay $150 on Friday"))

    assert case_of(ports, "L2").status is CaseStatus.PROMISED
    assert case_of(ports, "L1").status is CaseStatus.OPEN
    assert any("another of the customer's loans" in n for e in entries(ports, "L1", EntryKind.REPLY)
               for n in e.data["notes"])
    assert len(ports.sms.sent) == 1 and "150" in ports.sms.sent[0].body  # the confirmation of that promise


def test_a_promise_that_fits_no_loan_asks_which_loan(ports: FakePorts) -> None:
    out = replies.handle_inbound(ports, text("I will pay $60 on Friday"))

    assert out["asked_which_loan"] is True
    assert {case_of(ports, a).status for a in LOANS} == {CaseStatus.OPEN}
    (question,) = ports.sms.sent
    assert "1234" in question.body and "9876" in question.body
    # the answer names the loan by its last four digits: that loan only
    replies.handle_inbound(ports, text("9876 I will pay $60 on Friday", "SM2"))
    assert case_of(ports, "L2").status is CaseStatus.PROMISED and case_of(ports, "L1").status is CaseStatus.OPEN


def test_hardship_is_every_loans(ports: FakePorts) -> None:
    replies.handle_inbound(ports, text("I lost my job and cannot pay"))
    assert {case_of(ports, a).status for a in LOANS} == {CaseStatus.PAUSED}
    assert len(ports.sms.sent) == 1  # one plan offer, from the first case


def _emailed(ports: FakePorts, account_id: str, step: str, template: str, ses_id: str) -> None:
    """A notice we emailed on the loan, and the address indexed: its SES id is what a reply quotes."""
    put_notice(ports.collections, Notice(
        notice_id=Notice.id_for(case_id(account_id), step), case_id=case_id(account_id), account_id=account_id,
        step_id=step, channel=Channel.EMAIL, template_id=template, template_version="t", locale="en-US",
        status=NoticeStatus.SENT, body="...", provider_message_id=f"ses:{ses_id}", created_at=NOW - timedelta(hours=2)))
    ports.collections.put_contact(account_id, ports.keys.phone_hash(PHONE), ports.keys.email_hash(ADDRESS))


def email(body: str, answers: str) -> InboundEmail:
    return InboundEmail(provider="ses-inbound", message_id=f"in-{answers}", from_address=ADDRESS,
                        subject="Re: your loan", text=body, received_at=NOW, answers_ses_ids=(answers,))


def test_a_dispute_answering_an_overdue_email_holds_every_loan_it_named(ports: FakePorts) -> None:
    """The overdue email named the person's other overdue loan too (seen at 5,000 accounts: the
    customer meant that one, and it kept being contacted)."""
    _emailed(ports, "L1", "email_10", "overdue_reminder", "ses-overdue")

    out = replies.handle_inbound(ports, email("I dispute this debt, it is not mine", "ses-overdue"))

    assert {case_of(ports, a).status for a in LOANS} == {CaseStatus.DISPUTED}
    assert out["cases"][0]["case_id"] == case_id("L1")  # the loan of the notice answered comes first
    (first,) = entries(ports, "L1", EntryKind.REPLY)
    assert first.data["answers"] == {"case_id": case_id("L1"), "step_id": "email_10"}
    assert "answers" not in entries(ports, "L2", EntryKind.REPLY)[0].data


def test_a_reply_naming_one_loan_to_an_overdue_email_holds_that_loan(ports: FakePorts) -> None:
    _emailed(ports, "L1", "email_10", "overdue_reminder", "ses-overdue")
    replies.handle_inbound(ports, email("9876 is not my loan, I dispute it", "ses-overdue"))
    assert case_of(ports, "L2").status is CaseStatus.DISPUTED and case_of(ports, "L1").status is CaseStatus.OPEN


def test_a_reply_to_an_email_about_one_loan_only_is_about_that_loan(ports: FakePorts) -> None:
    _emailed(ports, "L1", "service_confirm_payment_P1", "payment_confirmation", "ses-receipt")
    replies.handle_inbound(ports, email("I dispute this debt, it is not mine", "ses-receipt"))
    assert case_of(ports, "L1").status is CaseStatus.DISPUTED and case_of(ports, "L2").status is CaseStatus.OPEN


# --------------------------------------------------------------------------- special statuses


def test_a_bankruptcy_told_by_text_stops_every_loan_and_a_person_verifies_it(ports: FakePorts) -> None:
    replies.handle_inbound(ports, text("I filed for bankruptcy, chapter 7"))

    assert ports.collections.customer("C1").stopped == [SpecialStatus.BANKRUPTCY]
    for account_id in LOANS:
        (entry,) = entries(ports, account_id, EntryKind.SPECIAL_STATUS)
        assert entry.data["status"] == "BANKRUPTCY" and entry.data["route"] == "STOP"
        assert entry.data["reasons"] == ["SPECIAL_STATUS", "SPECIAL_STATUS_BANKRUPTCY"]
        decided = escalation.plan(ports, case_id(account_id), account_id)
        assert decided["action"] == "WAIT" and "SPECIAL_STATUS_BANKRUPTCY" in decided["reasons"]
    assert [kind for kind, _ in ports.tasks.queued] == ["CALLBACK"]
    assert ports.sms.sent == []


def test_an_admin_sets_and_lifts_a_status_for_the_person(ports: FakePorts) -> None:
    out = run_admin(ports, command(type="set_special_status", account_id="L1", status="LITIGATION_HOLD",
                                       note="suit filed"), "arn:aws:iam::1:user/ops")
    assert out["applied"] and ports.collections.customer("C1").stopped == [SpecialStatus.LITIGATION_HOLD]
    assert escalation.plan(ports, case_id("L2"), "L2")["action"] == "WAIT"  # the other loan stops too
    run_admin(ports, command(type="set_special_status", account_id="L1", status="LITIGATION_HOLD", lift=True),
                  "arn:aws:iam::1:user/ops")
    assert ports.collections.customer("C1").stopped == []
    assert escalation.plan(ports, case_id("L2"), "L2")["action"] == "SEND"


def test_a_vulnerable_customer_goes_to_a_specialist_on_the_softer_strategy(ports: FakePorts) -> None:
    run_admin(ports, command(type="set_special_status", account_id="L1", status="VULNERABLE"),
                  "arn:aws:iam::1:user/ops")
    out = escalation.plan(ports, case_id("L1"), "L1")

    assert case_of(ports, "L1").strategy_id == "vulnerable_care"
    assert [kind for kind, _ in ports.tasks.queued] == ["SPECIALIST"]
    assert out["action"] == "CALL" and out["step_id"] == "care_call_1"
    escalation.plan(ports, case_id("L1"), "L1")
    assert [kind for kind, _ in ports.tasks.queued] == ["SPECIALIST"]  # once per case


def test_a_status_in_core_bankings_file_reaches_the_person_and_the_case(ports: FakePorts) -> None:
    old = ports.accounts.get("L1").model_dump(mode="json")
    new = old | {"special_status": "DECEASED"}
    assert cases.on_account_change(ports, old, new) == "special_status"
    assert ports.collections.customer("C1").stopped == [SpecialStatus.DECEASED]
    (entry,) = entries(ports, "L1", EntryKind.SPECIAL_STATUS)
    assert entry.data["source"] == "FILE"


# --------------------------------------------------------------------------- agents


def _call_task(ports: FakePorts, account_id: str = "L1") -> None:
    escalation.open_task(ports, case_id(account_id), account_id, "call_7", "CALL", f"token-{account_id}")


def test_the_worklist_lists_call_tasks_due_now_in_the_customers_window(ports: FakePorts) -> None:
    _call_task(ports)
    out = run_admin(ports, command(type="worklist"), "arn:aws:iam::1:user/agent")
    (row,) = out["tasks"]
    assert row["case_id"] == case_id("L1") and row["in_window"] and row["local_time"].endswith("America/New_York")
    assert row["phone"].endswith("0143") and PHONE not in row["phone"]
    assert out["lines"] and case_id("L1") in out["lines"][0]
    ports.clock.at = datetime(2026, 11, 4, 3, 0, tzinfo=UTC)  # 22:00 in New York
    assert run_admin(ports, command(type="worklist"), "agent")["tasks"] == []
    late = run_admin(ports, command(type="worklist", due_only=False), "agent")["tasks"]
    assert late[0]["in_window"] is False and late[0]["window_opens_at"] == "2026-11-04T13:00:00Z"


def test_only_an_agent_sees_the_phone_and_every_reveal_is_recorded(ports: FakePorts) -> None:
    reveal = command(type="reveal_phone", account_id="L1", case_id=case_id("L1"), reason="calling, task call_7")
    with pytest.raises(admin.Forbidden):
        run_admin(ports, reveal, "arn:aws:iam::1:user/ops")
    out = run_admin(ports, reveal, "arn:aws:sts::1:assumed-role/CollectionsAgent/jo", frozenset({admin.AGENT}))
    assert out["phone"] == PHONE
    (entry,) = entries(ports, "L1", EntryKind.PHONE_REVEALED)
    assert entry.actor.endswith("/jo")
    # who, why, and which number as a keyed hash: never the number itself
    assert entry.data == {"by": entry.actor, "reason": "calling, task call_7",
                          "number_hash": ports.keys.phone_hash(PHONE)}
    shown = run_admin(ports, command(type="show_case", account_id="L1", case_id=case_id("L1")), "ops")
    assert shown["account"]["contact"]["phone"] != PHONE


def test_a_call_outside_the_window_is_recorded_as_a_violation(ports: FakePorts) -> None:
    _call_task(ports)
    at_0227_ny = datetime(2026, 11, 3, 7, 27, tzinfo=UTC)
    out = run_admin(ports, command(type="record_call_outcome", account_id="L1", case_id=case_id("L1"),
                                       outcome="NO_ANSWER", called_at="2026-11-03T07:27:00Z"), "agent")
    assert out["applied"] and out["violations"][0]["rule"] == "CONTACT_WINDOW"
    (violation,) = entries(ports, "L1", EntryKind.VIOLATION)
    assert violation.data["at"] == "2026-11-03T07:27:00Z"
    (call,) = entries(ports, "L1", EntryKind.CALL_OUTCOME)
    assert call.data["standard"] == "NO_ANSWER"
    # the attempt counts for the person, at the time it was made
    assert [c.at for c in ports.collections.customer("C1").contacts] == [at_0227_ny]


@pytest.mark.parametrize(("outcome", "standard"), [
    ("RIGHT_PARTY", "RIGHT_PARTY"), ("REFUSED", "REFUSED"), ("CALLBACK", "CALLBACK"), ("WRONG_PARTY", "WRONG_PARTY"),
    ("LEFT_MESSAGE", "NO_ANSWER"), ("WRONG_NUMBER", "WRONG_PARTY"), ("HARDSHIP", "RIGHT_PARTY"),
])
def test_outcomes_are_recorded_with_their_standard_code(ports: FakePorts, outcome: str, standard: str) -> None:
    _call_task(ports)
    out = run_admin(ports, command(type="record_call_outcome", account_id="L1", case_id=case_id("L1"),
                                       outcome=outcome), "agent")
    assert out["violations"] == []
    (call,) = entries(ports, "L1", EntryKind.CALL_OUTCOME)
    assert call.data["standard"] == standard
    if outcome == "CALLBACK":
        assert [(t["case_id"], t["reason"]) for kind, t in ports.tasks.queued if kind == "CALLBACK"] == [
            (case_id("L1"), "CALL_ME")]


def test_a_wrong_party_opens_a_skip_trace_and_its_outcome_restores_the_phone(ports: FakePorts) -> None:
    _call_task(ports)
    run_admin(ports, command(type="record_call_outcome", account_id="L1", case_id=case_id("L1"),
                                 outcome="WRONG_PARTY"), "agent")
    assert ports.accounts.get("L1").contact.phone_usable is False
    escalation.plan(ports, case_id("L1"), "L1")
    assert [kind for kind, _ in ports.tasks.queued] == ["CALL", "SKIP_TRACE"]  # the call task, then the trace
    (requested,) = entries(ports, "L1", EntryKind.SKIP_TRACE)
    assert requested.data == {"event": "REQUESTED"}

    run_admin(ports, command(type="record_skip_trace", account_id="L1", case_id=case_id("L1"),
                                 outcome="FOUND", new_phone="+12025550199"), "agent")
    contact: Contact = ports.accounts.get("L1").contact
    assert (contact.phone, contact.phone_usable) == ("+12025550199", True)
    assert entries(ports, "L1", EntryKind.SKIP_TRACE)[-1].data["outcome"] == "FOUND"

