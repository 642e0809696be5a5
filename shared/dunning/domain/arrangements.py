"""Arrangements with a customer in hardship: instalment plans and promises to pay (seed 4.3).

A plan splits what is owed into equal instalments in the currency's minor unit; the cents that do
not divide evenly go to the *first* instalments, so the customer never pays more later than earlier.
Payments are allocated oldest-instalment-first. A promise is kept when enough money arrives after it
was made, by the promised date plus grace. Everything here is pure and deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal
from enum import StrEnum
from typing import Any

from dunning.domain.models import Instalment, InstalmentPlan, Money, Payment, PlanStatus, Promise, to_utc
from dunning.domain.policy import Hardship, Promises


class PlanOfferError(ValueError):
    """A plan that must not be offered. The message names the rule only: no amounts, no PII."""


# --------------------------------------------------------------------------- offering a plan


def _minor_units(money: Money) -> int:
    """The amount as a whole number of minor units; raises when it has finer precision."""
    units = money.amount / money.minor_unit
    if units != units.to_integral_value():
        raise PlanOfferError("amount owed is finer than the currency's minor unit")
    return int(units)


def _from_minor(units: int, currency: str) -> Money:
    unit = Money.zero(currency).minor_unit
    return Money(amount=Decimal(units) * unit, currency=currency)


def offer_plan(
    amount_owed: Money,
    count: int,
    first_due: date,
    hardship: Hardship,
    plan_id: str,
    now: datetime,
) -> InstalmentPlan:
    """Split `amount_owed` into `count` instalments due every `instalment_interval_days`.

    The instalments sum exactly to `amount_owed` and differ by at most one minor unit; the
    remainder minor units go to the first instalments (100.00 USD in 3 is 33.34, 33.33, 33.33).
    Raises PlanOfferError when the count is not on offer or an instalment would fall below the
    policy's minimum for the currency (or below one minor unit when no minimum is configured).
    """
    if count < 1 or count not in hardship.instalment_counts:
        raise PlanOfferError("count not allowed")
    if not amount_owed.is_positive:
        raise PlanOfferError("amount owed must be positive")
    currency = amount_owed.currency
    base, remainder = divmod(_minor_units(amount_owed), count)
    smallest = _from_minor(base, currency)  # every instalment is `base` or `base + 1` minor units
    minimum = hardship.min_instalment.get(currency)
    if base < 1 or (minimum is not None and smallest.amount < minimum):
        raise PlanOfferError("instalment below the minimum")
    interval = timedelta(days=hardship.instalment_interval_days)
    instalments = [
        Instalment(
            number=i + 1,
            due_on=first_due + i * interval,
            amount=_from_minor(base + (1 if i < remainder else 0), currency),
        )
        for i in range(count)
    ]
    return InstalmentPlan(
        plan_id=plan_id, status=PlanStatus.OFFERED, instalments=instalments, offered_at=to_utc(now)
    )


def best_offer(
    amount_owed: Money, first_due: date, hardship: Hardship, plan_id: str, now: datetime
) -> InstalmentPlan | None:
    """The plan with the most (so the smallest) instalments that still respects the minimum.

    A customer in hardship is best served by small instalments; None when no allowed count fits.
    """
    for count in sorted(set(hardship.instalment_counts), reverse=True):
        try:
            return offer_plan(amount_owed, count, first_due, hardship, plan_id, now)
        except PlanOfferError:
            continue
    return None


# --------------------------------------------------------------------------- following a plan


def _plan_currency(plan: InstalmentPlan) -> str | None:
    return plan.instalments[0].amount.currency if plan.instalments else None


def _payments_towards(plan: InstalmentPlan, payments: Sequence[Payment]) -> Decimal:
    """Net sum of payments since the plan started (accepted, else offered); reversals subtract."""
    start = plan.accepted_at or plan.offered_at
    currency = _plan_currency(plan)
    total = Decimal(0)
    for payment in payments:
        if payment.received_at < start:
            continue  # already part of what was owed when the plan was made
        if payment.amount.currency != currency:
            # never silently drop money: a payment in another currency is a data error upstream
            raise ValueError(f"payment {payment.payment_id}: currency differs from plan {plan.plan_id}")
        total += payment.amount.amount
    return total


def apply_payments(plan: InstalmentPlan, payments: Sequence[Payment]) -> InstalmentPlan:
    """A copy of `plan` with `Instalment.paid` set by a waterfall over `payments`.

    `payments` is every payment on the account; only those received at or after the plan's
    acceptance (or offer, if not yet accepted) count. Allocation is recomputed from zero, so
    applying the same payments twice gives the same plan. Money fills the oldest instalment first
    and an overpayment carries to later instalments; each instalment's `paid` is capped at its
    amount, and whatever exceeds the whole plan is reported by `unallocated`. The plan's status is
    left alone: `plan_state` says what the payments mean.
    """
    left = max(_payments_towards(plan, payments), Decimal(0))
    instalments: list[Instalment] = []
    for inst in plan.instalments:
        paid = min(left, inst.amount.amount)
        left -= paid
        instalments.append(inst.model_copy(update={"paid": paid}))
    return plan.model_copy(update={"instalments": instalments})


def unallocated(plan: InstalmentPlan, payments: Sequence[Payment]) -> Money:
    """What the payments since the plan started exceed the plan's total by (zero if they do not)."""
    total = plan.total
    excess = _payments_towards(plan, payments) - total.amount
    return Money(amount=max(excess, Decimal(0)), currency=total.currency)


class PlanState(StrEnum):
    ON_TRACK = "ON_TRACK"
    COMPLETED = "COMPLETED"
    BROKEN = "BROKEN"


def plan_state(plan: InstalmentPlan, today: date, grace_days: int) -> PlanState:
    """COMPLETED when every instalment is settled; BROKEN when one is unsettled more than
    `grace_days` after its due date (due 1 March, grace 3: on track on 4 March, broken on 5 March);
    ON_TRACK otherwise. Reads the instalments' `paid` (see `apply_payments`), not `plan.status`.
    """
    if all(inst.settled for inst in plan.instalments):
        return PlanState.COMPLETED
    for inst in plan.instalments:
        if not inst.settled and (today - inst.due_on).days > grace_days:
            return PlanState.BROKEN
    return PlanState.ON_TRACK


def next_instalment(plan: InstalmentPlan) -> Instalment | None:
    """The first instalment not yet settled: the one the next reminder is about."""
    return next((inst for inst in plan.instalments if not inst.settled), None)


def reminder_date(inst: Instalment, hardship: Hardship) -> date:
    return inst.due_on - timedelta(days=hardship.reminder_days_before)


def plan_data(plan: InstalmentPlan) -> dict[str, Any]:
    """A plan as its PLAN ledger entry records it."""
    return {
        "plan_id": plan.plan_id,
        "status": plan.status.value,
        "total": format(plan.total.amount, "f"),
        "currency": plan.total.currency,
        "instalments": [
            {"number": i.number, "due_on": i.due_on.isoformat(), "amount": format(i.amount.amount, "f")}
            for i in plan.instalments
        ],
    }


def hardship_pause_until(now: datetime, hardship: Hardship) -> datetime:
    """When a hardship pause ends: no collection contact before this instant."""
    return to_utc(now) + timedelta(days=hardship.pause_days)


# --------------------------------------------------------------------------- promises to pay


class PromiseState(StrEnum):
    PENDING = "PENDING"
    KEPT = "KEPT"
    BROKEN = "BROKEN"


def promise_state(
    promise: Promise,
    payments: Sequence[Payment],
    today: date,
    grace_days: int,
    *,
    tz: tzinfo = UTC,
) -> PromiseState:
    """KEPT once payments received after `promise.made_at` add up to the promised amount by
    `promised_on + grace_days`; BROKEN when `today` is past that day and they do not; else PENDING.

    Several partial payments keep a promise together. A payment's day is taken in `tz` (the
    customer's zone, since `promised_on` is their local date); payments after the deadline arrive
    too late to keep it.
    """
    deadline = promise.promised_on + timedelta(days=grace_days)
    received = Decimal(0)
    for payment in payments:
        if payment.received_at <= promise.made_at:
            continue  # counted in `paid_at_making`, not towards the promise
        if payment.received_at.astimezone(tz).date() > deadline:
            continue
        if payment.amount.currency != promise.amount.currency:
            raise ValueError(f"payment {payment.payment_id}: currency differs from the promise")
        received += payment.amount.amount
    if received >= promise.amount.amount:
        return PromiseState.KEPT
    if today > deadline:
        return PromiseState.BROKEN
    return PromiseState.PENDING


def validate_promise(
    promised_on: date, amount: Money, owed: Money, today: date, promises: Promises
) -> list[str]:
    """Problems with a promise the customer offers, one line each, without amounts; empty if fine.

    A promise above what is owed is not a problem: it is capped at the amount owed (record
    `promise_amount(amount, owed)`), since nobody should be held to paying more than they owe.
    """
    problems: list[str] = []
    if promised_on < today:
        problems.append("promised date is in the past")
    elif (promised_on - today).days > promises.max_days_ahead:
        problems.append(f"promised date is more than {promises.max_days_ahead} days ahead")
    if amount.currency != owed.currency:
        problems.append("promised amount is in a different currency from the amount owed")
    if not amount.is_positive:
        problems.append("promised amount must be positive")
    elif amount.quantized().amount != amount.amount:
        problems.append("promised amount is finer than the currency's minor unit")
    if not owed.is_positive:
        problems.append("nothing is owed")
    return problems


def promise_amount(amount: Money, owed: Money) -> Money:
    """The amount to record for a promise: what was promised, capped at what is owed."""
    return owed if owed < amount else amount
