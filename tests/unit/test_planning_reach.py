"""The planner and the person: special statuses stop or reroute a case, the holdout waits out its
window, no legal review goes ahead without an attempt to reach the debtor, and a wrong number
asks for the right one instead of escalating."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from dunning.domain.compliance import ContactOutcome, ContactRecord, Person
from dunning.domain.ledger import new_entry
from dunning.domain.models import (
    Account,
    Action,
    Case,
    Channel,
    Contact,
    EntryKind,
    ReasonCode,
    SpecialistDecision,
    SpecialStatus,
)
from dunning.domain.planning import (
    PRE_LEGAL_CALL_STEP,
    SKIP_TRACE_TASK,
    SPECIALIST_TASK,
    Reach,
    plan_next_action,
    reach_from,
)
from dunning.domain.policy import default_policy

POLICY = default_policy()
STANDARD = POLICY.strategies["standard"]
DUE = date(2026, 11, 2)
ALL_BUT_LEGAL = [s.id for s in STANDARD.steps if s.id != "legal_review"]


def account(**kw: object) -> Account:
    base: dict[str, object] = dict(
        account_id="acc-1", customer_name="Dana Reyes", account_number="4000123412341234",
        contact=Contact(phone="+12025550143", email="dana@example.com"), locale="en-US",
        time_zones=["America/New_York"], jurisdiction="US", currency="USD",
        principal_due=Decimal("400.00"), due_date=DUE, status="DELINQUENT")
    base.update(kw)
    return Account.model_validate(base)


def case(**kw: object) -> Case:
    base: dict[str, object] = dict(case_id="acc-1-20261102", account_id="acc-1",
                                   opened_at=datetime(2026, 11, 3, 11, tzinfo=UTC), strategy_id="standard",
                                   variant="champion")
    base.update(kw)
    return Case.model_validate(base)


def ny(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=ZoneInfo("America/New_York")).astimezone(UTC)


def plan(c: Case, a: Account, now: datetime, **kw: object):  # type: ignore[no-untyped-def]
    return plan_next_action(c, a, kw.get("history", []), [], POLICY, kw.get("strategy", STANDARD), now,  # type: ignore[arg-type]
                            person=kw.get("person"), reach=kw.get("reach"))  # type: ignore[arg-type]


# --------------------------------------------------------------------------- special statuses


def test_a_stopping_status_holds_the_case_without_spending_any_step() -> None:
    for status in (s for s in SpecialStatus if s.stops_contact):
        out = plan(case(), account(), ny(DUE + timedelta(days=1), 10),
                   person=Person(special_statuses=frozenset({status})))
        assert out.decision.action is Action.WAIT
        assert out.decision.reasons == sorted({ReasonCode.SPECIAL_STATUS, ReasonCode(f"SPECIAL_STATUS_{status}")})
        assert out.skipped_steps == [] and out.tasks == []
    # reported on the loan by core banking: the same
    out = plan(case(), account(special_status="DECEASED"), ny(DUE + timedelta(days=1), 10))
    assert out.decision.action is Action.WAIT and ReasonCode.SPECIAL_STATUS_DECEASED in out.decision.reasons


def test_a_lifted_status_lets_the_case_go_on() -> None:
    out = plan(case(), account(), ny(DUE + timedelta(days=1), 10), person=Person())
    assert out.decision.action is Action.SEND and out.decision.step_id == "first_notice"


def test_a_vulnerable_customer_goes_to_a_specialist_once_and_never_to_legal_review() -> None:
    vulnerable = Person(special_statuses=frozenset({SpecialStatus.VULNERABLE}))
    first = plan(case(), account(), ny(DUE + timedelta(days=1), 10), person=vulnerable)
    assert first.tasks == [SPECIALIST_TASK]
    again = plan(case(), account(), ny(DUE + timedelta(days=1), 10), person=vulnerable,
                 reach=Reach(specialist_queued=True))
    assert again.tasks == []
    end = plan(case(steps_done=ALL_BUT_LEGAL), account(), ny(DUE + timedelta(days=41), 12), person=vulnerable,
               reach=Reach(specialist_queued=True, right_party_attempted=True))
    # the ladder's end puts the case in front of the specialist, never of a legal approver
    assert end.decision.action is Action.SPECIALIST_REVIEW and "legal_review" in end.skipped_steps
    assert ReasonCode.SPECIALIST_ROUTE in end.decision.reasons
    allowed = plan(case(steps_done=ALL_BUT_LEGAL, specialist_decision=SpecialistDecision.LEGAL_REVIEW), account(),
                   ny(DUE + timedelta(days=41), 12), person=vulnerable,
                   reach=Reach(specialist_queued=True, right_party_attempted=True))
    assert allowed.decision.action is Action.WAIT and ReasonCode.SPECIALIST_HOLD in allowed.decision.reasons


def test_the_softer_strategy_has_no_legal_review() -> None:
    care = POLICY.strategies[POLICY.vulnerable_strategy or ""]
    assert all(s.kind.value != "LEGAL_REVIEW" for s in care.steps)


# --------------------------------------------------------------------------- the holdout


def test_the_holdout_gets_nothing_in_its_window_then_the_normal_strategy() -> None:
    holdout = next(v for v in POLICY.variants if v.holdout)
    c = case(variant=holdout.id)
    inside = plan(c, account(), ny(DUE + timedelta(days=holdout.holdout_days), 10))
    assert inside.decision.action is Action.WAIT and inside.decision.reasons == [ReasonCode.HOLDOUT]
    window_ends = DUE + timedelta(days=holdout.holdout_days + 1)
    assert inside.decision.wait_until == ny(window_ends, 8)
    # then the champion's plan, its days counted from the end of the window: day 1 is the first notice
    after = plan(c, account(), ny(window_ends, 10))
    assert after.decision.action is Action.SEND and after.decision.step_id == "first_notice"
    assert plan(c.model_copy(update={"steps_done": ["first_notice"]}), account(),
                ny(window_ends, 15)).decision.reasons == [ReasonCode.NEXT_STEP_LATER]


# --------------------------------------------------------------------------- before a legal review


def test_no_legal_review_without_an_attempt_to_reach_the_debtor_first_a_call() -> None:
    out = plan(case(steps_done=ALL_BUT_LEGAL), account(), ny(DUE + timedelta(days=41), 12))
    assert out.decision.action is Action.CALL and out.decision.step_id == PRE_LEGAL_CALL_STEP
    assert ReasonCode.NO_RIGHT_PARTY_CONTACT in out.decision.reasons


def test_when_nobody_can_be_called_the_right_number_is_traced_and_awaited() -> None:
    wrong = account(contact=Contact(phone="+12025550143", email="dana@example.com", phone_usable=False))
    out = plan(case(steps_done=ALL_BUT_LEGAL), wrong, ny(DUE + timedelta(days=41), 12))
    assert out.decision.action is Action.WAIT and out.tasks == [SKIP_TRACE_TASK]
    assert {ReasonCode.NO_RIGHT_PARTY_CONTACT, ReasonCode.SKIP_TRACE} <= set(out.decision.reasons)
    waiting = plan(case(steps_done=ALL_BUT_LEGAL), wrong, ny(DUE + timedelta(days=42), 12),
                   reach=Reach(skip_trace_requested=True))
    assert waiting.decision.action is Action.WAIT and waiting.tasks == []
    traced = plan(case(steps_done=ALL_BUT_LEGAL), wrong, ny(DUE + timedelta(days=45), 12),
                  reach=Reach(skip_trace_requested=True, skip_trace_outcome="NOT_FOUND"))
    assert traced.decision.action is Action.LEGAL_REVIEW


def test_a_wrong_number_asks_for_the_right_one_once_and_the_email_steps_go_on() -> None:
    wrong = account(contact=Contact(phone="+12025550143", email="dana@example.com", phone_usable=False))
    out = plan(case(steps_done=["first_notice"]), wrong, ny(DUE + timedelta(days=10), 10))
    assert out.tasks == [SKIP_TRACE_TASK]
    assert out.decision.action is Action.SEND and out.decision.channel is Channel.EMAIL
    again = plan(case(steps_done=["first_notice"]), wrong, ny(DUE + timedelta(days=10), 10),
                 reach=Reach(skip_trace_requested=True))
    assert again.tasks == []


def test_reach_is_read_from_the_cases_ledger() -> None:
    at = datetime(2026, 11, 20, 15, tzinfo=UTC)
    prev = None
    entries = []
    for kind, data in [(EntryKind.CALL_OUTCOME, {"outcome": "WRONG_PARTY"}),
                       (EntryKind.SKIP_TRACE, {"event": "REQUESTED"}),
                       (EntryKind.SPECIALIST, {"event": "QUEUED"})]:
        prev = new_entry("c1", prev, at, kind, data, "test")
        entries.append(prev)
    reach = reach_from(entries)
    assert reach == Reach(right_party_attempted=False, skip_trace_requested=True, skip_trace_outcome=None,
                          specialist_queued=True)
    answered = new_entry("c1", prev, at, EntryKind.CALL_OUTCOME, {"outcome": "NO_ANSWER"}, "test")
    assert reach_from([*entries, answered]).right_party_attempted


def test_spacing_keeps_a_catch_up_from_sending_everything_at_once() -> None:
    """An account already 10 days late: after the first email, the next due step waits 4 hours."""
    sent = [ContactRecord(at=ny(DUE + timedelta(days=10), 9), channel=Channel.EMAIL, outcome=ContactOutcome.SENT)]
    out = plan(case(steps_done=["first_notice"]), account(), ny(DUE + timedelta(days=10), 9), history=sent)
    assert out.decision.action is Action.WAIT and ReasonCode.SPACING in out.decision.reasons
    assert out.decision.wait_until == ny(DUE + timedelta(days=10), 13)
