"""What a notice may say about one account, before locale formatting (DESIGN section 5).

Amounts come from the account, the deadline from the customer's local today and the policy, and the
pay and unsubscribe links are signed here so that every channel shows the same link.

Who is writing is policy, per jurisdiction: a lender collecting its own loans (FIRST_PARTY) is its
own creditor and never a debt collector; an agency (AGENCY) names the creditor it collects for, and
its first contact carries the validation notice of Regulation F 1006.34: the itemisation date, what
was owed then, what was charged and paid since, the total now, and the dispute-by date.

The itemisation date is the date the payment was due (the last statement date of 1006.34(b)(3)):
what was owed then is everything owed now less the fees charged since plus what was paid since;
interest is billed with the statement here, so none accrues after it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import holidays as holidays_lib
from pydantic import BaseModel, Field

from dunning.domain.case_summary import EngagementClass
from dunning.domain.links import sign_link
from dunning.domain.models import (
    Account,
    Instalment,
    InstalmentPlan,
    Jurisdiction,
    Money,
    Promise,
    UtcDatetime,
    to_utc,
)
from dunning.domain.policy import Collector, Policy

VALIDATION_PERIOD_DAYS = 30
ASSUMED_RECEIPT_BUSINESS_DAYS = 5  # Reg F safe harbour: assume receipt 5 business days after sending


class ScheduleItem(BaseModel):
    due_on: date
    amount: Money


class OtherLoan(BaseModel):
    """Another overdue loan of the same person, named in this loan's notice."""

    last4: str
    amount: Money
    due_date: date | None = None


class NoticeFacts(BaseModel):
    """Everything a notice may say about one account, before locale formatting."""

    account_id: str
    customer_name: str
    account_last4: str
    jurisdiction: Jurisdiction
    time_zone: str
    amount_due: Money
    principal: Money
    interest: Money
    fees: Money
    days_overdue: int = Field(ge=0)
    due_date: date | None = None
    today: date  # the customer's local date when the facts were built
    deadline: date
    pay_link: str
    sms_pay_link: str | None = None  # the pay link as a text shows it (a short link), when it differs
    unsubscribe_link: str
    link_expires_at: UtcDatetime
    collector: Collector
    creditor: str
    collector_role: str = "FIRST_PARTY"  # FIRST_PARTY (the lender itself) or AGENCY
    validation_notice: bool = False  # an agency: the validation items on first contact
    dispute_by: date | None = None
    itemization_date: date | None = None
    owed_at_itemization: Money | None = None
    interest_since_itemization: Money | None = None
    fees_since_itemization: Money | None = None
    paid_since_itemization: Money | None = None
    time_barred: bool = False
    schedule: list[ScheduleItem] = Field(default_factory=list)
    promise_date: date | None = None
    promise_amount: Money | None = None
    payment_amount: Money | None = None
    # What the case's history lets a notice say (never reached, broke an arrangement ...); None:
    # unknown, and the notice says nothing about it.
    history: EngagementClass | None = None
    callback_at: UtcDatetime | None = None  # a call-back the customer booked (slot start and end)
    callback_until: UtcDatetime | None = None
    loans: list[str] = Field(default_factory=list)  # last 4 digits of the customer's open loans (which_loan)
    other_loans: list[OtherLoan] = Field(default_factory=list)  # the person's other overdue loans


def _add_business_days(start: date, days: int, country: str) -> date:
    off = holidays_lib.country_holidays(country, years=range(start.year, start.year + 2))
    current = start
    while days > 0:
        current += timedelta(days=1)
        if current.weekday() < 5 and current not in off:
            days -= 1
    return current


def _itemization(account: Account, today: date) -> dict[str, Any]:
    """The validation notice's itemisation (see the module docstring)."""
    currency = account.currency
    since = account.due_date or today
    paid = sum((p.amount.amount for p in account.payments
                if p.amount.currency == currency and p.received_at.date() > since), Decimal(0))
    fees = Money.of(account.fees_due, currency)
    return {
        "itemization_date": since,
        "owed_at_itemization": (account.amount_due - fees + Money.of(paid, currency)).quantized(),
        "interest_since_itemization": Money.zero(currency).quantized(),
        "fees_since_itemization": fees.quantized(),
        "paid_since_itemization": Money.of(paid, currency).quantized(),
    }


def _schedule_from(value: Any, currency: str) -> list[ScheduleItem]:
    if isinstance(value, InstalmentPlan):
        value = value.instalments
    items: list[ScheduleItem] = []
    for entry in value or []:
        if isinstance(entry, ScheduleItem):
            items.append(entry)
        elif isinstance(entry, Instalment):
            items.append(ScheduleItem(due_on=entry.due_on, amount=entry.amount))
        elif isinstance(entry, Mapping):
            items.append(ScheduleItem.model_validate(entry))
        else:
            due_on, amount = entry
            money = amount if isinstance(amount, Money) else Money.of(amount, currency)
            items.append(ScheduleItem(due_on=due_on, amount=money))
    return items


def build_facts(
    account: Account,
    policy: Policy,
    now: datetime,
    *,
    link_secret: bytes,
    extra: dict[str, Any] | None = None,
    link_base: str | None = None,
) -> NoticeFacts:
    """Facts for a notice to ``account`` at ``now`` (aware).

    The deadline is the customer's local today + ``policy.notice_deadline_days``; the pay link
    expires ``policy.link_valid_days`` after now. Both links open the customer's page
    (``<link_base>/p/<token>``; the deployment's page address, else the collector's ``pay_url``):
    the pay link lands on the page, the unsubscribe link on its email opt-out (and is what the
    email's List-Unsubscribe header points at). ``extra`` may carry ``schedule`` (an
    InstalmentPlan, Instalments, or (due date, amount) pairs), ``plan``, ``promise`` (a Promise) or
    ``promise_date``/``promise_amount``, ``payment_amount``, and ``history`` (an EngagementClass).
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    extra = dict(extra or {})
    jp = policy.for_jurisdiction(account.jurisdiction)
    zone = account.time_zones[0]
    today = now.astimezone(ZoneInfo(zone)).date()
    expires_at = to_utc(now) + timedelta(days=policy.link_valid_days)
    base = link_base or jp.collector.pay_url
    currency = account.currency
    values: dict[str, Any] = {
        "account_id": account.account_id,
        "customer_name": account.customer_name,
        "account_last4": account.account_last4,
        "jurisdiction": account.jurisdiction,
        "time_zone": zone,
        "amount_due": account.amount_due.quantized(),
        "principal": Money.of(account.principal_due, currency).quantized(),
        "interest": Money.of(account.interest_due, currency).quantized(),
        "fees": Money.of(account.fees_due, currency).quantized(),
        "days_overdue": max(0, account.days_past_due(today)),
        "due_date": account.due_date,
        "today": today,
        "deadline": today + timedelta(days=policy.notice_deadline_days),
        "pay_link": sign_link(base, account.account_id, expires_at, link_secret, "pay"),
        "unsubscribe_link": sign_link(base, account.account_id, expires_at, link_secret, "unsubscribe"),
        "link_expires_at": expires_at,
        "collector": jp.collector,
        "creditor": jp.collector.creditor or jp.collector.name,
        "collector_role": jp.role,
        "validation_notice": jp.validation_notice,
        "time_barred": account.time_barred,
    }
    if jp.validation_notice:
        received = _add_business_days(today, ASSUMED_RECEIPT_BUSINESS_DAYS, jp.holiday_country)
        values["dispute_by"] = received + timedelta(days=VALIDATION_PERIOD_DAYS)
        values |= _itemization(account, today)
    schedule, plan = extra.pop("schedule", None), extra.pop("plan", None)
    schedule = schedule if schedule is not None else plan
    if schedule is not None:
        values["schedule"] = _schedule_from(schedule, currency)
    promise = extra.pop("promise", None)
    if isinstance(promise, Promise):
        values["promise_date"], values["promise_amount"] = promise.promised_on, promise.amount
    for key in ("promise_amount", "payment_amount"):
        if key in extra and not isinstance(extra[key], Money | dict):
            extra[key] = Money.of(extra[key], currency)
    values.update(extra)
    return NoticeFacts.model_validate(values)

