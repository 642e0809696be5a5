"""The planner with the case's history: legal review only for the customers the plan names, a
broken arrangement re-engaged before the ladder resumes, and a specialist where the plan stops."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from dunning.domain.arrangements import offer_plan
from dunning.domain.case_summary import CaseSummary
from dunning.domain.models import (
    Account,
    Action,
    Case,
    CaseStatus,
    Channel,
    Notice,
    NoticeStatus,
    Promise,
    ReasonCode,
    SpecialistDecision,
)
from dunning.domain.planning import PlanOutcome, plan_next_action, reach_from
from dunning.domain.policy import default_policy
from tests.support.case_history import DUE, History, account, case, day

POLICY = default_policy()
STANDARD = POLICY.strategies["standard"]
LADDER = [s.id for s in STANDARD.steps if not s.pre_due]
ALL_BUT_LEGAL = [s for s in LADDER if s != "legal_review"]


def ny(n: int, hour: int = 10) -> datetime:
    """`n` days past due at `hour` in New York."""
    d = DUE + timedelta(days=n)
    return datetime(d.year, d.month, d.day, hour, tzinfo=ZoneInfo("America/New_York"))


def plan(c: Case, now: datetime, history: History | None = None, a: Account | None = None,
         notices: list[Notice] | None = None, summary: CaseSummary | None = None) -> PlanOutcome:
    a, history = a or account(), history or History()
    s = summary or history.summary(now, c, a)
    return plan_next_action(c, a, [], notices or [], POLICY, STANDARD, now, summary=s,
                            reach=reach_from(history.entries))


def sent(step: str, template: str = "x", channel: Channel = Channel.SMS) -> Notice:
    return Notice(notice_id=f"acc-1-20261102:{step}", case_id="acc-1-20261102", account_id="acc-1", step_id=step,
                  channel=channel, template_id=template, template_version="1", locale="en-US",
                  status=NoticeStatus.SENT, body="(text)", created_at=day(1))


# --------------------------------------------------------------------------- who goes to legal review


def test_story_5_2_a_customer_who_never_answered_goes_to_legal_review() -> None:
    h = History().notice(day(1), "first_notice").no_answer(day(7)).no_answer(day(21))
    out = plan(case(steps_done=ALL_BUT_LEGAL), ny(40), h)
    assert (out.decision.action, out.decision.step_id) == (Action.LEGAL_REVIEW, "legal_review")


def test_declared_hardship_goes_to_a_specialist_not_to_legal() -> None:
    h = History().hardship_call(day(7)).payment(day(14)).broken(day(25), "PLAN_BROKEN")
    out = plan(case(steps_done=ALL_BUT_LEGAL), ny(40), h)
    assert out.decision.action is Action.SPECIALIST_REVIEW
    assert ReasonCode.HARDSHIP_DECLARED in out.decision.reasons and out.skipped_steps == []


def test_a_specialists_recorded_go_ahead_lets_the_review_be_asked_for() -> None:
    h = History().hardship_call(day(7)).payment(day(14)).broken(day(25), "PLAN_BROKEN")
    c = case(steps_done=ALL_BUT_LEGAL, specialist_decision=SpecialistDecision.LEGAL_REVIEW)
    out = plan(c, ny(42), h)
    assert out.decision.action is Action.LEGAL_REVIEW
    assert ReasonCode.SPECIALIST_ALLOWED_LEGAL in out.decision.reasons


def test_a_specialists_go_ahead_still_waits_out_a_recent_payment() -> None:
    h = History().hardship_call(day(7)).payment(day(38))
    c = case(steps_done=ALL_BUT_LEGAL, specialist_decision=SpecialistDecision.LEGAL_REVIEW)
    out = plan(c, ny(41), h)
    assert out.decision.action is Action.WAIT and ReasonCode.PAYMENT_RECENT in out.decision.reasons


def test_a_customer_reached_once_this_month_fits_no_profile_and_a_specialist_decides() -> None:
    h = History().promise(day(3)).broken(day(10))
    out = plan(case(steps_done=ALL_BUT_LEGAL), ny(40), h)
    assert out.decision.action is Action.SPECIALIST_REVIEW
    assert ReasonCode.NO_REFERRAL_PROFILE in out.decision.reasons


def test_repeated_broken_arrangements_after_being_reached_again_go_to_legal_review() -> None:
    h = History().promise(day(3)).broken(day(10)).promise(day(13)).broken(day(20))
    assert plan(case(steps_done=ALL_BUT_LEGAL), ny(40), h).decision.action is Action.LEGAL_REVIEW


def test_a_recent_payment_holds_the_review_until_it_cools_off() -> None:
    h = History().no_answer(day(21)).payment(day(35, hour=15))
    out = plan(case(steps_done=ALL_BUT_LEGAL), ny(40), h)
    assert out.decision.action is Action.WAIT and ReasonCode.PAYMENT_RECENT in out.decision.reasons
    later = plan(case(steps_done=ALL_BUT_LEGAL), day(49, hour=16), h)
    assert later.decision.action is Action.LEGAL_REVIEW


def test_no_review_before_the_debtor_was_tried_even_when_the_plan_names_them() -> None:
    out = plan(case(steps_done=ALL_BUT_LEGAL), ny(46), History().notice(day(1), "first_notice"))
    assert out.decision.action is Action.CALL and out.decision.step_id == "pre_legal_call"
    assert ReasonCode.NO_RIGHT_PARTY_CONTACT in out.decision.reasons


def test_a_ladder_that_ends_without_a_referral_goes_to_a_specialist() -> None:
    out = plan(case(steps_done=LADDER), ny(45))  # the review was rejected
    assert out.decision.action is Action.SPECIALIST_REVIEW and ReasonCode.STEPS_EXHAUSTED in out.decision.reasons


def test_with_a_specialist_nothing_is_sent_and_an_unanswered_review_is_asked_again() -> None:
    held = plan(case(status="SPECIALIST", specialist_decision=SpecialistDecision.NO_LEGAL_REVIEW), ny(45))
    assert held.decision.action is Action.WAIT and held.decision.reasons == [ReasonCode.SPECIALIST_HOLD]
    again = plan(case(status="SPECIALIST"), ny(55))  # the review task timed out undecided
    assert again.decision.action is Action.SPECIALIST_REVIEW


# --------------------------------------------------------------------------- re-engagement


def broken_plan_case(**kw: object) -> Case:
    p = offer_plan(account().amount_due, 3, DUE + timedelta(days=14), POLICY.hardship, "p1",
                   ny(7)).model_copy(update={"status": "ACTIVE", "accepted_at": ny(7)})
    return case(status="IN_PLAN", plan=p, steps_done=["first_notice", "sms_3", "call_7"], **kw)


def test_a_broken_plan_is_followed_by_a_missed_payment_notice_not_by_the_stale_ladder() -> None:
    h = History().hardship_call(day(7))
    out = plan(broken_plan_case(), ny(18), h)  # instalment due day 14, grace 3: broken on day 18
    assert out.new_status is CaseStatus.OPEN and ReasonCode.PLAN_BROKEN.value in out.details
    assert (out.decision.action, out.decision.step_id, out.decision.template_id) == (
        Action.SEND, "reengage1_missed_payment", "missed_payment")
    assert set(out.skipped_steps) == {"email_10", "sms_14"}  # their days passed while the plan held the case
    assert ReasonCode.STEP_PASSED_DURING_HOLD in out.decision.reasons


def test_then_a_call_then_one_renewed_offer_then_the_ladder_resumes() -> None:
    h = History().hardship_call(day(7)).broken(day(18, hour=14), "PLAN_BROKEN")
    done = ["first_notice", "sms_3", "call_7", "email_10", "sms_14", "reengage1_missed_payment"]
    call = plan(case(steps_done=done), ny(20), h)
    assert (call.decision.action, call.decision.step_id) == (Action.CALL, "reengage1_call")
    offer = plan(case(steps_done=[*done, "reengage1_call"]), ny(23), h)
    assert (offer.decision.action, offer.decision.template_id) == (Action.SEND, "renewed_offer")
    assert offer.new_plan is not None and offer.new_plan.status.value == "OFFERED"
    assert ReasonCode.RENEWED_OFFER in offer.decision.reasons
    assert offer.skipped_steps == ["call_21"]  # came due during the round, which already called
    resumed = plan(case(steps_done=[*done, "reengage1_call", "reengage1_renewed_offer", "call_21"]), ny(24), h)
    assert resumed.decision.action is Action.WAIT and ReasonCode.NEXT_STEP_LATER in resumed.decision.reasons
    assert resumed.decision.wait_until is not None and resumed.decision.wait_until >= ny(24)


def test_only_one_renewed_offer_per_case() -> None:
    h = (History().promise(day(3)).broken(day(10)).promise(day(16)).broken(day(23)))
    done = [*ALL_BUT_LEGAL[:5], "reengage1_missed_payment", "reengage1_call", "reengage1_renewed_offer",
            "reengage2_missed_payment", "reengage2_call"]
    out = plan(case(steps_done=done), ny(28), h, notices=[sent("reengage1_renewed_offer", "renewed_offer")])
    assert "reengage2_renewed_offer" in out.skipped_steps and out.new_plan is None
    assert ReasonCode.RENEWED_OFFER_LIMIT in out.decision.reasons


def test_the_final_notice_is_sent_late_when_a_hold_covered_its_day() -> None:
    promise = Promise(promised_on=DUE + timedelta(days=28), amount={"amount": "437.50", "currency": "USD"},
                      made_at=ny(26))
    c = case(status="PROMISED", promise=promise, steps_done=[*ALL_BUT_LEGAL[:-1], "reengage1_missed_payment",
                                                            "reengage1_call", "reengage1_renewed_offer"])
    h = History().promise(day(3)).broken(day(10)).promise(day(26))
    out = plan(c, ny(41), h, notices=[sent("reengage1_renewed_offer", "renewed_offer")])
    # Broken again on day 30: its round goes first ...
    assert out.decision.step_id == "reengage2_missed_payment"
    assert "final_notice" not in out.skipped_steps
    # ... and once the round is over the final notice goes, late, before any legal review.
    h.broken(day(30, hour=14))
    done = [*c.steps_done, "reengage2_missed_payment", "reengage2_call", "reengage2_renewed_offer"]
    after = plan(case(steps_done=done), ny(36), h, notices=[sent("reengage1_renewed_offer", "renewed_offer")])
    assert (after.decision.action, after.decision.step_id) == (Action.SEND, "final_notice")


# --------------------------------------------------------------------------- a property

@settings(max_examples=150, deadline=None)
@given(st.integers(min_value=0, max_value=90), st.sets(st.sampled_from(LADDER)),
       st.integers(min_value=0, max_value=3), st.booleans(), st.sampled_from(["OPEN", "PAUSED", "SPECIALIST"]))
def test_a_customer_who_declared_hardship_never_goes_to_legal_review_without_a_specialist(
        days_past_due: int, done: set[str], broken: int, paid: bool, status: str) -> None:
    h = History().hardship_call(day(5))
    for n in range(broken):
        h.broken(day(6 + n), "PLAN_BROKEN")
    if paid:
        h.payment(day(6))
    c = case(status=status, steps_done=sorted(done), paused_until=day(10) if status == "PAUSED" else None)
    now = day(max(days_past_due, 6) + 1)
    out = plan(c, now, h)
    assert out.decision.action is not Action.LEGAL_REVIEW
