"""The case-actions service on in-memory ports: replies, admins and agents act through the same
actions, each recorded with its caller's entry in one commit, effects carried out after it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from dunning.domain.ledger import GENESIS, verify_chain
from dunning.domain.models import Case, CaseStatus, Channel, EntryKind, PlanStatus
from dunning.ports import CaseRecord, Conflict, InboundSms, NotFound
from dunning.services import admin, case_actions, replies
from tests.functions.conftest import NOW, make_account
from tests.support.fakes import FakePorts

CASE = "acc-1001-20261102"


@pytest.fixture
def ports() -> FakePorts:
    ports = FakePorts()
    ports.clock.at = NOW
    account = make_account()
    ports.accounts.put(account, None)
    case = Case(case_id=CASE, account_id=account.account_id, opened_at=NOW, strategy_id="standard",
                variant="champion")
    ports.collections.commit(CaseRecord(case, -1, GENESIS), [(EntryKind.CASE_OPENED, {})], at=NOW,
                             actor="test", create=True)
    ports.collections.put_contact(account.account_id, ports.keys.phone_hash(account.contact.phone))
    return ports


def text(body: str, message_id: str = "SM1") -> InboundSms:
    return InboundSms(provider="generic", message_id=message_id, from_number="+12025550143", to_number=None,
                      text=body, received_at=NOW)


def ledger(ports: FakePorts) -> list[Any]:
    return ports.collections.ledger[("acc-1001", CASE)]


def case(ports: FakePorts) -> Case:
    return ports.collections.case("acc-1001", CASE).case


def command(**fields: Any) -> Any:
    return admin.AdminRequest.model_validate({"command": {"account_id": "acc-1001", "case_id": CASE, **fields}}).command


def test_a_promise_by_text_and_one_taken_by_an_admin_hold_the_case_alike(ports: FakePorts) -> None:
    by_text = replies.handle_inbound(ports, text("I will pay on 2026-11-20"))
    texted = case(ports).promise
    assert by_text["intent"] == "PROMISE" and case(ports).status is CaseStatus.PROMISED

    other = FakePorts(clock=ports.clock)
    other.accounts, other.collections = ports.accounts, type(ports.collections)()
    other.collections.commit(CaseRecord(Case(case_id=CASE, account_id="acc-1001", opened_at=NOW), -1, GENESIS),
                             [(EntryKind.CASE_OPENED, {})], at=NOW, actor="test", create=True)
    out = admin.execute(other, command(type="record_promise", promised_on="2026-11-20"), "admin-1")
    taken = other.collections.case("acc-1001", CASE).case.promise

    assert out.applied and texted is not None and taken is not None
    assert (texted.promised_on, texted.amount) == (taken.promised_on, taken.amount) == (
        date(2026, 11, 20), make_account().amount_due)
    # the texted promise is confirmed in writing, once, to the number on file
    assert [m.destination for m in ports.sms.sent] == ["+12025550143"]


def test_every_action_is_recorded_after_its_callers_entry_in_one_chained_commit(ports: FakePorts) -> None:
    admin.execute(ports, command(type="record_dispute", reason="not my loan"), "admin-1")
    kinds = [e.kind for e in ledger(ports)]
    # the action after its caller's entry, then (after the commit) the written acknowledgement
    assert kinds == [EntryKind.CASE_OPENED, EntryKind.ADMIN, EntryKind.HOLD, EntryKind.NOTICE]
    assert ledger(ports)[-1].data["template_id"] == "dispute_acknowledgement"
    assert verify_chain(CASE, ledger(ports), expected_head_hash=ports.collections.cases[("acc-1001", CASE)]
                        .ledger_head).ok


def test_an_action_that_cannot_apply_is_recorded_as_refused_and_changes_nothing(ports: FakePorts) -> None:
    out = admin.execute(ports, command(type="resume_case"), "admin-1")
    assert out.applied is False and out.notes == ["case is OPEN, not PAUSED"]
    admin_entry = ledger(ports)[-1]
    assert admin_entry.kind is EntryKind.ADMIN and admin_entry.data["applied"] is False
    assert case(ports).status is CaseStatus.OPEN


def test_a_concurrent_write_makes_the_action_decide_again_from_the_fresh_case(ports: FakePorts) -> None:
    real_commit = ports.collections.commit
    raced = {"done": False}

    def commit_after_a_payment_paused_it(record: CaseRecord, entries: Any, **kw: Any) -> Any:
        if not raced["done"]:  # someone else pauses the case between our read and our write
            raced["done"] = True
            fresh = ports.collections.case("acc-1001", CASE)
            fresh.case.transition(CaseStatus.DISPUTED)
            real_commit(fresh, [], at=NOW, actor="someone-else")
        return real_commit(record, entries, **kw)

    ports.collections.commit = commit_after_a_payment_paused_it  # type: ignore[method-assign]
    out = admin.execute(ports, command(type="record_promise", promised_on="2026-11-20"), "admin-1")
    # decided again on the DISPUTED case: a promise cannot hold a disputed case
    assert out.applied is False and case(ports).status is CaseStatus.DISPUTED
    assert [e.kind for e in ledger(ports)][-1] is EntryKind.ADMIN


def test_an_agents_hardship_outcome_agrees_a_plan_and_completes_the_call_task(ports: FakePorts) -> None:
    record = ports.collections.case("acc-1001", CASE)
    record.case.call_task_token = "call-token"
    ports.collections.commit(record, [], at=NOW, actor="test")

    out = admin.execute(ports, command(type="record_call_outcome", outcome="HARDSHIP", instalments=3), "agent-7")

    assert out.task_completed is True and ports.workflow.completed == [("call-token", {"outcome": "HARDSHIP"})]
    plan = case(ports).plan
    assert case(ports).status is CaseStatus.IN_PLAN and plan is not None and plan.status is PlanStatus.ACTIVE
    assert sum(i.amount.amount for i in plan.instalments) == make_account().amount_due.amount
    call = next(e for e in ledger(ports) if e.kind is EntryKind.CALL_OUTCOME)
    assert call.data["number_hash"] == "h:+12025550143"  # a hash, never the number


def test_a_call_task_that_timed_out_is_noted_and_its_token_cleared(ports: FakePorts) -> None:
    record = ports.collections.case("acc-1001", CASE)
    record.case.call_task_token = "expired"
    ports.collections.commit(record, [], at=NOW, actor="test")
    ports.workflow.waiting = {"another-token"}

    out = admin.execute(ports, command(type="record_call_outcome", outcome="NO_ANSWER"), "agent-7")

    assert out.task_completed is False and any("no longer waiting" in n for n in out.notes)
    assert case(ports).call_task_token is None


def test_stop_by_text_opts_out_once_and_confirms_once_even_when_redelivered(ports: FakePorts) -> None:
    first = replies.handle_inbound(ports, text("STOP"))
    again = replies.handle_inbound(ports, text("STOP"))
    assert (first["status"], again["status"]) == ("RECORDED", "DUPLICATE")
    assert Channel.SMS in ports.accounts.get("acc-1001").opted_out
    assert len(ports.sms.sent) == 1
    assert len([e for e in ledger(ports) if e.kind is EntryKind.REPLY]) == 1


def test_a_reply_nobody_can_act_on_is_queued_for_a_person_with_ids_only(ports: FakePorts) -> None:
    replies.handle_inbound(ports, text("the weather is nice today"))
    assert ports.tasks.queued == [("CALLBACK", {"case_id": CASE, "account_id": "acc-1001", "reason": "UNREAD",
                                                "queued_at": "2026-11-03T15:00:00Z"})]


def test_legal_approval_records_who_approved_and_completes_the_review(ports: FakePorts) -> None:
    record = ports.collections.case("acc-1001", CASE)
    record.case.transition(CaseStatus.LEGAL_REVIEW)
    record.case.approval_task_token = "approval"
    ports.collections.commit(record, [], at=NOW, actor="test")

    out = admin.execute(ports, command(type="approve_legal_referral", note="no contact in 60 days"), "lead-1")

    assert out.applied and out.task_completed and ports.workflow.completed == [("approval", {"approved": True})]
    assert case(ports).legal_approved_by == "lead-1"


def test_a_task_that_cannot_be_completed_keeps_its_token_for_a_retry(ports: FakePorts) -> None:
    record = ports.collections.case("acc-1001", CASE)
    record.case.call_task_token = "call-token"
    ports.collections.commit(record, [], at=NOW, actor="test")

    def unreachable(token: str, output: dict[str, Any]) -> None:
        raise ConnectionError("states endpoint unreachable")

    ports.workflow.succeed = unreachable  # type: ignore[method-assign]
    with pytest.raises(ConnectionError):
        admin.execute(ports, command(type="record_call_outcome", outcome="NO_ANSWER"), "agent-7")
    assert case(ports).call_task_token == "call-token"


def test_a_fee_waiver_never_takes_more_than_is_owed(ports: FakePorts) -> None:
    out = admin.execute(ports, command(type="waive_fee", amount="999.00", reason="goodwill"), "admin-1")
    assert out.applied is False and ports.accounts.get("acc-1001").fees_due == Decimal("25.00")
    admin.execute(ports, command(type="waive_fee", amount="25.00", reason="goodwill"), "admin-1")
    assert ports.accounts.get("acc-1001").fees_due == Decimal("0")


def test_an_unknown_case_is_not_found(ports: FakePorts) -> None:
    with pytest.raises(admin.CaseNotFound):
        admin.execute(ports, command(type="show_case", case_id="nope"), "admin-1")
    with pytest.raises(NotFound):
        case_actions.perform(ports, "nobody", case_actions.nothing, lambda *a: (EntryKind.ADMIN, {}), actor="x")


def test_conflict_on_every_attempt_is_transient(ports: FakePorts) -> None:
    from dunning.ports import TransientError

    def always(*a: Any, **kw: Any) -> Any:
        raise Conflict("TransactionCanceledException")

    ports.collections.commit = always  # type: ignore[method-assign]
    with pytest.raises(TransientError):
        admin.execute(ports, command(type="record_dispute", reason="x"), "admin-1")


@pytest.mark.parametrize(("body", "reason"), [
    ("my husband passed away last month", "BEREAVEMENT"),
    ("stop harassing me or I will report you to the regulator", "COMPLAINT"),
    ("请给我打个电话", "CALL_ME"),
])
def test_replies_only_a_person_can_take_up_are_queued_with_their_reason(ports: FakePorts, body: str,
                                                                         reason: str) -> None:
    replies.handle_inbound(ports, text(body))
    assert reason in [task["reason"] for kind, task in ports.tasks.queued if kind == "CALLBACK"]


def test_a_bereavement_stops_automated_contact(ports: FakePorts) -> None:
    replies.handle_inbound(ports, text("my husband passed away last month"))
    # A death told in a reply is the DECEASED special status, on the person, until a person lifts it.
    (status,) = [e for e in ledger(ports) if e.kind is EntryKind.SPECIAL_STATUS]
    assert status.data["status"] == "DECEASED" and status.data["route"] == "STOP"
    profile = ports.collections.customer(ports.accounts.get("acc-1001").customer)
    assert "DECEASED" in {s.value for s in profile.person().special_statuses}
    assert ports.sms.sent == []


def test_stop_in_plain_words_opts_out_of_every_channel_it_names(ports: FakePorts) -> None:
    replies.handle_inbound(ports, text("stop texting and emailing me, leave me alone"))
    opted = ports.accounts.get("acc-1001").opted_out
    assert Channel.SMS in opted and Channel.EMAIL in opted


def test_yes_accepts_the_plan_on_offer_and_is_confirmed_in_writing(ports: FakePorts) -> None:
    admin.execute(ports, command(type="offer_plan", count=3), "agent-7")
    assert case(ports).plan is not None and case(ports).plan.status is PlanStatus.OFFERED  # type: ignore[union-attr]
    out = replies.handle_inbound(ports, text("好的"))
    assert out["intent"] == "ACCEPT_PLAN" and case(ports).status is CaseStatus.IN_PLAN
    assert len(ports.sms.sent) == 1


def test_yes_with_nothing_on_offer_changes_nothing_and_a_person_looks(ports: FakePorts) -> None:
    out = replies.handle_inbound(ports, text("yes"))
    assert case(ports).status is CaseStatus.OPEN and out["intent"] == "ACCEPT"
    assert [kind for kind, _ in ports.tasks.queued] == ["CALLBACK"]
