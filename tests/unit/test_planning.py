"""The planner: one decision per case, now, from the whole picture."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from dunning.domain.arrangements import offer_plan
from dunning.domain.models import (
    Account,
    Action,
    Case,
    CaseStatus,
    Channel,
    Contact,
    Payment,
    Promise,
    ReasonCode,
)
from dunning.domain.planning import LEGAL_REFERRAL_STEP, MAX_WAIT, Reach, plan_next_action
from dunning.domain.policy import default_policy

POLICY = default_policy()
STANDARD = POLICY.strategies["standard"]
DUE = date(2026, 11, 2)  # a Monday; the 3rd is US Election Day, not a federal holiday


def account(**kw: object) -> Account:
    base: dict[str, object] = dict(
        account_id="acc-1", customer_name="Dana Reyes", account_number="4000123412341234",
        contact=Contact(phone="+12025550143", email="dana@example.com"), locale="en-US",
        time_zones=["America/New_York"], jurisdiction="US", currency="USD",
        principal_due=Decimal("400.00"), interest_due=Decimal("12.50"), fees_due=Decimal("25.00"),
        due_date=DUE, status="DELINQUENT",
    )
    base.update(kw)
    return Account.model_validate(base)


def case(**kw: object) -> Case:
    base: dict[str, object] = dict(case_id="acc-1-20261102", account_id="acc-1",
                                   opened_at=datetime(2026, 11, 3, 11, tzinfo=UTC), strategy_id="standard",
                                   variant="champion")
    base.update(kw)
    return Case.model_validate(base)


def ny(day: date, hour: int, minute: int = 0) -> datetime:
    from zoneinfo import ZoneInfo

    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZoneInfo("America/New_York")).astimezone(UTC)


def plan(c: Case, a: Account, now: datetime, **kw: object):  # type: ignore[no-untyped-def]
    return plan_next_action(c, a, kw.get("history", []), kw.get("notices", []), POLICY, STANDARD, now,  # type: ignore[arg-type]
                            reach=kw.get("reach"))  # type: ignore[arg-type]


def test_first_overdue_day_in_the_window_sends_the_first_notice_by_email() -> None:
    out = plan(case(), account(), ny(DUE + timedelta(days=1), 10))
    assert out.decision.action is Action.SEND
    assert (out.decision.step_id, out.decision.channel, out.decision.template_id) == (
        "first_notice", Channel.EMAIL, "first_notice")
    assert out.decision.policy_version == POLICY.version


def test_before_the_window_opens_the_planner_waits_until_eight_local() -> None:
    out = plan(case(), account(), ny(DUE + timedelta(days=1), 6, 30))
    assert out.decision.action is Action.WAIT
    assert out.decision.wait_until == ny(DUE + timedelta(days=1), 8)
    assert ReasonCode.CONTACT_WINDOW in out.decision.reasons


def test_after_a_step_the_planner_waits_for_the_next_steps_day() -> None:
    out = plan(case(steps_done=["first_notice"]), account(), ny(DUE + timedelta(days=1), 12))
    assert out.decision.action is Action.WAIT
    assert out.decision.wait_until == ny(DUE + timedelta(days=3), 8)
    assert ReasonCode.NEXT_STEP_LATER in out.decision.reasons


def test_call_step_becomes_an_agent_call() -> None:
    out = plan(case(steps_done=["first_notice", "sms_3"]), account(), ny(DUE + timedelta(days=7), 11))
    assert out.decision.action is Action.CALL
    assert out.decision.step_id == "call_7"


def test_paid_account_closes_and_resolves_the_case() -> None:
    paid = account(principal_due=Decimal(0), interest_due=Decimal(0), fees_due=Decimal(0), status="PAID_OFF")
    out = plan(case(), paid, ny(DUE + timedelta(days=5), 11))
    assert out.decision.action is Action.CLOSE
    assert out.new_status is CaseStatus.RESOLVED
    assert out.decision.reasons == [ReasonCode.PAID]


def test_opted_out_channel_is_skipped_with_a_reason() -> None:
    out = plan(case(), account(opted_out={Channel.EMAIL}), ny(DUE + timedelta(days=1), 10))
    assert out.skipped_steps == ["first_notice"]
    assert out.decision.action is Action.WAIT
    assert ReasonCode.CHANNEL_UNUSABLE in out.decision.reasons


def test_pending_promise_holds_until_the_day_after_the_promise_and_grace() -> None:
    promise = Promise(promised_on=DUE + timedelta(days=10), amount={"amount": "437.50", "currency": "USD"},
                      made_at=ny(DUE + timedelta(days=4), 12))
    out = plan(case(status="PROMISED", promise=promise), account(), ny(DUE + timedelta(days=5), 12))
    assert out.decision.action is Action.WAIT
    assert ReasonCode.PROMISE_PENDING in out.decision.reasons
    assert out.decision.wait_until <= ny(DUE + timedelta(days=5), 12) + MAX_WAIT


def test_broken_promise_re_engages_before_the_ladder_resumes() -> None:
    promise = Promise(promised_on=DUE + timedelta(days=5), amount={"amount": "437.50", "currency": "USD"},
                      made_at=ny(DUE + timedelta(days=2), 12))
    out = plan(case(status="PROMISED", promise=promise, steps_done=["first_notice", "sms_3"]), account(),
               ny(DUE + timedelta(days=8), 11))
    assert out.new_status is CaseStatus.OPEN
    assert ReasonCode.PROMISE_BROKEN.value in out.details
    assert (out.decision.action, out.decision.template_id) == (Action.SEND, "missed_payment")
    assert out.skipped_steps == ["call_7"]  # its day passed while the promise held the case


def test_kept_plan_completes_and_resolves() -> None:
    p = offer_plan(account().amount_due, 2, DUE + timedelta(days=10), POLICY.hardship, "p1",
                   ny(DUE + timedelta(days=3), 12)).model_copy(update={"status": "ACTIVE"})
    paid = [Payment(payment_id=f"pay-{i.number}", amount=i.amount, received_at=ny(i.due_on, 9)) for i in p.instalments]
    a = account(payments=paid)
    out = plan(case(status="IN_PLAN", plan=p), a, ny(DUE + timedelta(days=30), 12))
    assert out.decision.action is Action.CLOSE
    assert out.new_status is CaseStatus.RESOLVED


def test_plan_reminder_two_days_before_an_instalment() -> None:
    p = offer_plan(account().amount_due, 2, DUE + timedelta(days=10), POLICY.hardship, "p1",
                   ny(DUE + timedelta(days=3), 12))
    out = plan(case(status="IN_PLAN", plan=p), account(), ny(DUE + timedelta(days=8), 12))
    assert out.decision.action is Action.SEND
    assert out.decision.template_id == "instalment_reminder"


def test_missed_instalment_after_grace_breaks_the_plan() -> None:
    p = offer_plan(account().amount_due, 2, DUE + timedelta(days=10), POLICY.hardship, "p1",
                   ny(DUE + timedelta(days=3), 12))
    out = plan(case(status="IN_PLAN", plan=p, steps_done=["first_notice", "sms_3", "call_7"]), account(),
               ny(DUE + timedelta(days=14), 12))
    assert out.new_status is CaseStatus.OPEN
    assert ReasonCode.PLAN_BROKEN.value in out.details


ALL_BUT_LEGAL = [s.id for s in STANDARD.steps if s.id != "legal_review"]


def test_after_the_last_step_the_case_goes_to_legal_review() -> None:
    # the debtor was called (the right-party attempt a legal review needs: see test_planning_reach)
    out = plan(case(steps_done=ALL_BUT_LEGAL), account(), ny(DUE + timedelta(days=41), 12),
               reach=Reach(right_party_attempted=True))
    assert out.decision.action is Action.LEGAL_REVIEW


def test_time_barred_debt_never_goes_to_legal() -> None:
    out = plan(case(steps_done=ALL_BUT_LEGAL), account(time_barred=True), ny(DUE + timedelta(days=41), 12))
    assert out.decision.action is Action.SPECIALIST_REVIEW  # a person decides what happens next
    assert ReasonCode.STEPS_EXHAUSTED in out.decision.reasons
    assert out.skipped_steps == ["legal_review"]


@pytest.mark.parametrize("sent", [False, True])
def test_approved_referral_sends_the_referral_notice_then_ends_the_case(sent: bool) -> None:
    done = [*ALL_BUT_LEGAL, "legal_review", *([LEGAL_REFERRAL_STEP] if sent else [])]
    c = case(status="LEGAL_REVIEW", steps_done=done, legal_approved_at=ny(DUE + timedelta(days=42), 9))
    out = plan(c, account(), ny(DUE + timedelta(days=42), 12))
    if sent:
        assert out.decision.action is Action.CLOSE
        assert out.new_status is CaseStatus.REFERRED_TO_LEGAL
    else:
        assert (out.decision.action, out.decision.template_id) == (Action.SEND, "legal_referral")


def test_disputed_case_sends_nothing() -> None:
    out = plan(case(status="DISPUTED"), account(), ny(DUE + timedelta(days=3), 12))
    assert out.decision.action is Action.WAIT
    assert out.decision.reasons == [ReasonCode.DISPUTED]


def test_referral_notice_waits_for_the_contact_window_like_any_other() -> None:
    done = [*ALL_BUT_LEGAL, "legal_review"]
    c = case(status="LEGAL_REVIEW", steps_done=done, legal_approved_at=ny(DUE + timedelta(days=42), 9))
    out = plan(c, account(), ny(DUE + timedelta(days=42), 22))
    assert out.decision.action is Action.WAIT
    assert ReasonCode.CONTACT_WINDOW in out.decision.reasons
