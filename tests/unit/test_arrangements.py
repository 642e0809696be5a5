"""Instalment plans and promises to pay: what a customer in hardship is offered and held to."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dunning.domain.arrangements import (
    PlanOfferError,
    PlanState,
    PromiseState,
    apply_payments,
    best_offer,
    hardship_pause_until,
    next_instalment,
    offer_plan,
    plan_state,
    promise_amount,
    promise_state,
    reminder_date,
    unallocated,
    validate_promise,
)
from dunning.domain.models import InstalmentPlan, Money, Payment, PlanStatus, Promise
from dunning.domain.policy import Hardship, Promises, default_policy

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
FIRST_DUE = date(2026, 3, 9)
NO_MINIMUM = Hardship(instalment_counts=[2, 3, 4])
USD_MINIMUM = Hardship(instalment_counts=[2, 3, 4], min_instalment={"USD": Decimal("25.00")})


def usd(amount: str) -> Money:
    return Money.of(amount, "USD")


def pay(pid: str, amount: str, at: datetime, currency: str = "USD") -> Payment:
    return Payment(payment_id=pid, amount=Money.of(amount, currency), received_at=at)


def amounts(plan: InstalmentPlan) -> list[Decimal]:
    return [inst.amount.amount for inst in plan.instalments]


def paid(plan: InstalmentPlan) -> list[Decimal]:
    return [inst.paid for inst in plan.instalments]


# --------------------------------------------------------------------------- offering a plan


def test_remainder_cents_go_to_the_first_instalments() -> None:
    plan = offer_plan(usd("100.00"), 3, FIRST_DUE, NO_MINIMUM, "P-1", NOW)
    assert amounts(plan) == [Decimal("33.34"), Decimal("33.33"), Decimal("33.33")]
    assert plan.total == usd("100.00")
    assert plan.status is PlanStatus.OFFERED
    assert plan.offered_at == NOW and plan.accepted_at is None
    assert [i.number for i in plan.instalments] == [1, 2, 3]


def test_instalments_fall_due_every_interval_from_the_first_due_date() -> None:
    plan = offer_plan(usd("100.00"), 3, FIRST_DUE, NO_MINIMUM, "P-1", NOW)
    assert [i.due_on for i in plan.instalments] == [date(2026, 3, 9), date(2026, 3, 16), date(2026, 3, 23)]
    monthly = Hardship(instalment_counts=[2], instalment_interval_days=30)
    plan = offer_plan(usd("10.00"), 2, FIRST_DUE, monthly, "P-2", NOW)
    assert [i.due_on for i in plan.instalments] == [date(2026, 3, 9), date(2026, 4, 8)]


def test_an_even_split_in_yuan() -> None:
    plan = offer_plan(Money.of("1000", "CNY"), 4, FIRST_DUE, NO_MINIMUM, "P-1", NOW)
    assert amounts(plan) == [Decimal("250.00")] * 4
    assert all(i.amount.currency == "CNY" for i in plan.instalments)


def test_yen_is_split_in_whole_yen() -> None:
    plan = offer_plan(Money.of("10", "JPY"), 3, FIRST_DUE, NO_MINIMUM, "P-1", NOW)
    assert amounts(plan) == [Decimal(4), Decimal(3), Decimal(3)]
    assert plan.total == Money.of("10", "JPY")


def test_the_minimum_instalment_refuses_a_split_too_fine_and_best_offer_picks_the_largest_fit() -> None:
    with pytest.raises(PlanOfferError, match="instalment below the minimum") as refused:
        offer_plan(usd("60.00"), 4, FIRST_DUE, USD_MINIMUM, "P-1", NOW)
    assert "60" not in str(refused.value) and "25" not in str(refused.value)
    with pytest.raises(PlanOfferError, match="instalment below the minimum"):
        offer_plan(usd("60.00"), 3, FIRST_DUE, USD_MINIMUM, "P-1", NOW)  # 20 each
    plan = best_offer(usd("60.00"), FIRST_DUE, USD_MINIMUM, "P-1", NOW)
    assert plan is not None
    assert amounts(plan) == [Decimal("30.00"), Decimal("30.00")]


def test_best_offer_prefers_the_smallest_instalments() -> None:
    plan = best_offer(usd("1000.00"), FIRST_DUE, USD_MINIMUM, "P-1", NOW)
    assert plan is not None and len(plan.instalments) == 4


def test_best_offer_is_none_when_no_count_respects_the_minimum() -> None:
    assert best_offer(usd("40.00"), FIRST_DUE, USD_MINIMUM, "P-1", NOW) is None


def test_the_minimum_applies_only_to_its_own_currency() -> None:
    plan = offer_plan(Money.of("60", "CNY"), 4, FIRST_DUE, USD_MINIMUM, "P-1", NOW)
    assert amounts(plan) == [Decimal("15.00")] * 4


def test_the_bundled_policy_minimum_for_yuan() -> None:
    hardship = default_policy().hardship
    plan = best_offer(Money.of("350", "CNY"), FIRST_DUE, hardship, "P-1", NOW)
    assert plan is not None and len(plan.instalments) == 3  # 4 x 87.50 is below 100


def test_a_count_not_in_the_policy_is_refused() -> None:
    with pytest.raises(PlanOfferError, match="count not allowed"):
        offer_plan(usd("100.00"), 6, FIRST_DUE, NO_MINIMUM, "P-1", NOW)


def test_nothing_owed_or_sub_cent_amounts_are_refused() -> None:
    with pytest.raises(PlanOfferError, match="positive"):
        offer_plan(usd("0"), 2, FIRST_DUE, NO_MINIMUM, "P-1", NOW)
    with pytest.raises(PlanOfferError, match="minor unit"):
        offer_plan(usd("10.005"), 2, FIRST_DUE, NO_MINIMUM, "P-1", NOW)


def test_trailing_zeros_beyond_the_minor_unit_are_fine() -> None:
    plan = offer_plan(usd("10.0000"), 2, FIRST_DUE, NO_MINIMUM, "P-1", NOW)
    assert amounts(plan) == [Decimal("5.00"), Decimal("5.00")]


def test_a_naive_offer_time_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        offer_plan(usd("10.00"), 2, FIRST_DUE, NO_MINIMUM, "P-1", datetime(2026, 3, 2, 9, 0))


CENTS = st.integers(min_value=1, max_value=10**9)  # 0.01 .. 10,000,000.00


@settings(max_examples=300, deadline=None)
@given(cents=CENTS, count=st.sampled_from(range(1, 13)), currency=st.sampled_from(["USD", "CNY"]))
def test_any_split_sums_exactly_and_is_as_even_as_possible(cents: int, count: int, currency: str) -> None:
    owed = Money(amount=Decimal(cents).scaleb(-2), currency=currency)
    hardship = Hardship(instalment_counts=list(range(1, 13)))
    if cents < count:
        with pytest.raises(PlanOfferError, match="instalment below the minimum"):
            offer_plan(owed, count, FIRST_DUE, hardship, "P-1", NOW)
        return
    plan = offer_plan(owed, count, FIRST_DUE, hardship, "P-1", NOW)
    split = amounts(plan)
    assert len(split) == count
    assert sum(split, Decimal(0)) == owed.amount
    assert max(split) - min(split) <= Decimal("0.01")
    assert all(a > 0 and a == a.quantize(Decimal("0.01")) for a in split)
    assert split == sorted(split, reverse=True)  # the extra cents come first
    dues = [i.due_on for i in plan.instalments]
    assert all(a < b for a, b in zip(dues, dues[1:], strict=False))


@settings(max_examples=200, deadline=None)
@given(cents=CENTS)
def test_best_offer_never_goes_below_the_minimum(cents: int) -> None:
    owed = usd(str(Decimal(cents).scaleb(-2)))
    plan = best_offer(owed, FIRST_DUE, USD_MINIMUM, "P-1", NOW)
    if plan is None:
        assert owed.amount < Decimal("50.00")  # even two instalments would be under 25
        return
    assert plan.total == owed
    assert all(a >= Decimal("25.00") for a in amounts(plan))
    if len(plan.instalments) < 4:  # a finer split would have broken the minimum
        assert owed.amount / (len(plan.instalments) + 1) < Decimal("25.00")


# --------------------------------------------------------------------------- following a plan


def accepted_plan() -> InstalmentPlan:
    plan = offer_plan(usd("100.00"), 3, FIRST_DUE, NO_MINIMUM, "P-1", NOW)
    return plan.model_copy(update={"status": PlanStatus.ACTIVE, "accepted_at": NOW + timedelta(hours=1)})


def test_a_partial_payment_goes_to_the_first_instalment() -> None:
    plan = apply_payments(accepted_plan(), [pay("pay-1", "20.00", NOW + timedelta(days=5))])
    assert paid(plan) == [Decimal("20.00"), 0, 0]
    assert next_instalment(plan) is not None and next_instalment(plan).number == 1  # type: ignore[union-attr]


def test_an_overpayment_carries_to_later_instalments() -> None:
    plan = apply_payments(
        accepted_plan(),
        [pay("pay-1", "20.00", NOW + timedelta(days=5)), pay("pay-2", "30.00", NOW + timedelta(days=6))],
    )
    assert paid(plan) == [Decimal("33.34"), Decimal("16.66"), 0]
    assert [i.settled for i in plan.instalments] == [True, False, False]
    assert next_instalment(plan).number == 2  # type: ignore[union-attr]


def test_payments_before_the_plan_was_accepted_do_not_count() -> None:
    plan = apply_payments(
        accepted_plan(),
        [pay("old", "50.00", NOW - timedelta(days=3)), pay("new", "10.00", NOW + timedelta(days=1))],
    )
    assert paid(plan) == [Decimal("10.00"), 0, 0]


def test_an_offered_plan_counts_payments_since_the_offer() -> None:
    plan = offer_plan(usd("100.00"), 3, FIRST_DUE, NO_MINIMUM, "P-1", NOW)
    assert paid(apply_payments(plan, [pay("p", "5.00", NOW)])) == [Decimal("5.00"), 0, 0]


def test_paying_more_than_the_plan_completes_it_and_the_excess_is_reported() -> None:
    payments = [pay("pay-1", "120.00", NOW + timedelta(days=2))]
    plan = apply_payments(accepted_plan(), payments)
    assert paid(plan) == amounts(plan)
    assert unallocated(plan, payments) == usd("20.00")
    assert next_instalment(plan) is None
    assert plan_state(plan, date(2026, 3, 3), grace_days=3) is PlanState.COMPLETED


def test_applying_payments_does_not_change_the_original_plan_and_is_repeatable() -> None:
    original = accepted_plan()
    payments = [pay("pay-1", "40.00", NOW + timedelta(days=2))]
    once = apply_payments(original, payments)
    assert paid(original) == [0, 0, 0]
    assert apply_payments(once, payments) == once
    assert once.status is PlanStatus.ACTIVE


def test_a_reversal_takes_money_back_off_the_instalments() -> None:
    payments = [
        pay("pay-1", "40.00", NOW + timedelta(days=2)),
        pay("rev-1", "-40.00", NOW + timedelta(days=3)),
    ]
    assert paid(apply_payments(accepted_plan(), payments)) == [0, 0, 0]


def test_a_payment_in_another_currency_is_refused_by_id() -> None:
    with pytest.raises(ValueError, match="payment pay-9") as refused:
        apply_payments(accepted_plan(), [pay("pay-9", "77.00", NOW + timedelta(days=1), "CNY")])
    assert "77" not in str(refused.value)


def test_a_plan_is_broken_exactly_one_day_after_grace() -> None:
    plan = accepted_plan()  # first instalment due 9 March
    assert plan_state(plan, date(2026, 3, 9), grace_days=3) is PlanState.ON_TRACK
    assert plan_state(plan, date(2026, 3, 12), grace_days=3) is PlanState.ON_TRACK
    assert plan_state(plan, date(2026, 3, 13), grace_days=3) is PlanState.BROKEN


def test_a_paid_instalment_keeps_the_plan_on_track_until_the_next_one_is_late() -> None:
    plan = apply_payments(accepted_plan(), [pay("pay-1", "33.34", NOW + timedelta(days=6))])
    assert plan_state(plan, date(2026, 3, 19), grace_days=3) is PlanState.ON_TRACK
    assert plan_state(plan, date(2026, 3, 20), grace_days=3) is PlanState.BROKEN


def test_a_partly_paid_instalment_past_grace_breaks_the_plan() -> None:
    plan = apply_payments(accepted_plan(), [pay("pay-1", "33.33", NOW + timedelta(days=6))])
    assert plan_state(plan, date(2026, 3, 13), grace_days=3) is PlanState.BROKEN


def test_the_reminder_goes_out_before_the_instalment_is_due() -> None:
    inst = accepted_plan().instalments[1]
    assert reminder_date(inst, Hardship(reminder_days_before=2)) == date(2026, 3, 14)
    assert reminder_date(inst, Hardship(reminder_days_before=0)) == inst.due_on


def test_the_hardship_pause_lasts_the_policy_days() -> None:
    assert hardship_pause_until(NOW, Hardship(pause_days=14)) == NOW + timedelta(days=14)
    shanghai = NOW.astimezone(timezone(timedelta(hours=8)))
    until = hardship_pause_until(shanghai, Hardship(pause_days=14))
    assert until == NOW + timedelta(days=14) and until.tzinfo == UTC


@settings(max_examples=200, deadline=None)
@given(
    count=st.integers(min_value=1, max_value=6),
    payments=st.lists(st.integers(min_value=1, max_value=20_000), max_size=6),
)
def test_the_waterfall_never_skips_an_unsettled_instalment(count: int, payments: list[int]) -> None:
    hardship = Hardship(instalment_counts=list(range(1, 7)))
    plan = offer_plan(usd("100.00"), count, FIRST_DUE, hardship, "P-1", NOW)
    received = [
        pay(f"p{i}", str(Decimal(c).scaleb(-2)), NOW + timedelta(days=i)) for i, c in enumerate(payments)
    ]
    after = apply_payments(plan, received)
    total_in = sum((p.amount.amount for p in received), Decimal(0))
    assert sum(paid(after), Decimal(0)) == min(total_in, Decimal("100.00"))
    assert sum(paid(after), Decimal(0)) + unallocated(after, received).amount == total_in
    for earlier, later in zip(after.instalments, after.instalments[1:], strict=False):
        assert earlier.settled or later.paid == 0
    assert all(0 <= i.paid <= i.amount.amount for i in after.instalments)


# --------------------------------------------------------------------------- promises to pay

PROMISE = Promise(promised_on=date(2026, 3, 10), amount=usd("80.00"), made_at=NOW)


def test_a_promise_is_kept_by_two_partial_payments() -> None:
    first = [pay("pay-1", "50.00", NOW + timedelta(days=2))]
    assert promise_state(PROMISE, first, date(2026, 3, 5), grace_days=1) is PromiseState.PENDING
    both = [*first, pay("pay-2", "30.00", NOW + timedelta(days=7))]
    assert promise_state(PROMISE, both, date(2026, 3, 9), grace_days=1) is PromiseState.KEPT
    assert promise_state(PROMISE, both, date(2026, 4, 30), grace_days=1) is PromiseState.KEPT


def test_a_promise_is_broken_the_day_after_the_promised_date_plus_grace() -> None:
    partial = [pay("pay-1", "50.00", NOW + timedelta(days=2))]
    assert promise_state(PROMISE, partial, date(2026, 3, 10), grace_days=1) is PromiseState.PENDING
    assert promise_state(PROMISE, partial, date(2026, 3, 11), grace_days=1) is PromiseState.PENDING
    assert promise_state(PROMISE, partial, date(2026, 3, 12), grace_days=1) is PromiseState.BROKEN


def test_a_payment_on_the_last_grace_day_still_keeps_the_promise() -> None:
    on_time = [pay("pay-1", "80.00", datetime(2026, 3, 11, 23, 0, tzinfo=UTC))]
    assert promise_state(PROMISE, on_time, date(2026, 3, 12), grace_days=1) is PromiseState.KEPT


def test_a_payment_after_the_deadline_does_not_keep_the_promise() -> None:
    late = [pay("pay-1", "80.00", datetime(2026, 3, 12, 1, 0, tzinfo=UTC))]
    assert promise_state(PROMISE, late, date(2026, 3, 12), grace_days=1) is PromiseState.BROKEN


def test_the_deadline_is_the_customers_local_day() -> None:
    # 16:30 UTC on 11 March is already 12 March in Shanghai: too late for a Shanghai customer
    payment = [pay("pay-1", "80.00", datetime(2026, 3, 11, 16, 30, tzinfo=UTC))]
    shanghai = timezone(timedelta(hours=8))
    assert promise_state(PROMISE, payment, date(2026, 3, 12), 1) is PromiseState.KEPT
    assert promise_state(PROMISE, payment, date(2026, 3, 12), 1, tz=shanghai) is PromiseState.BROKEN


def test_payments_before_the_promise_was_made_do_not_count_towards_it() -> None:
    earlier = [pay("pay-0", "80.00", NOW - timedelta(minutes=1)), pay("pay-x", "5.00", NOW)]
    assert promise_state(PROMISE, earlier, date(2026, 3, 12), grace_days=1) is PromiseState.BROKEN


TODAY = date(2026, 3, 2)
PROMISES = Promises(max_days_ahead=30)


def test_a_reasonable_promise_has_no_problems() -> None:
    assert validate_promise(date(2026, 3, 2), usd("50.00"), usd("80.00"), TODAY, PROMISES) == []
    assert validate_promise(date(2026, 4, 1), usd("80.00"), usd("80.00"), TODAY, PROMISES) == []


def test_promise_problems_are_named_without_amounts() -> None:
    assert validate_promise(date(2026, 3, 1), usd("50.00"), usd("80.00"), TODAY, PROMISES) == [
        "promised date is in the past"
    ]
    assert validate_promise(date(2026, 4, 2), usd("50.00"), usd("80.00"), TODAY, PROMISES) == [
        "promised date is more than 30 days ahead"
    ]
    assert validate_promise(date(2026, 3, 5), usd("0"), usd("80.00"), TODAY, PROMISES) == [
        "promised amount must be positive"
    ]
    assert validate_promise(date(2026, 3, 5), usd("-5.00"), usd("80.00"), TODAY, PROMISES) == [
        "promised amount must be positive"
    ]
    assert validate_promise(date(2026, 3, 5), usd("5.001"), usd("80.00"), TODAY, PROMISES) == [
        "promised amount is finer than the currency's minor unit"
    ]
    mismatch = validate_promise(date(2026, 3, 5), Money.of("50", "CNY"), usd("80.00"), TODAY, PROMISES)
    assert mismatch == ["promised amount is in a different currency from the amount owed"]
    several = validate_promise(date(2026, 2, 1), usd("0"), usd("0"), TODAY, PROMISES)
    assert len(several) == 3
    assert not any(ch.isdigit() for ch in " ".join(several))


def test_a_promise_above_what_is_owed_is_accepted_and_capped() -> None:
    assert validate_promise(date(2026, 3, 5), usd("500.00"), usd("80.00"), TODAY, PROMISES) == []
    assert promise_amount(usd("500.00"), usd("80.00")) == usd("80.00")
    assert promise_amount(usd("50.00"), usd("80.00")) == usd("50.00")
