"""Notice templates: rendering and the template linter (DESIGN sections 5 and 6).

Templates live in the layer at ``dunning/templates/<locale>/<template_id>.<part>.j2`` with the
parts ``sms``, ``email_subject``, ``email_text`` and ``email_html`` (only the HTML part is
autoescaped). Every value a customer must see is formatted here, once, in the customer's locale
and first time zone, so the linter can check that the exact same strings reached the text.

A collection notice says, short and clear: how overdue, how much, by when, how to pay, whom to
call, who is writing, and how to opt out. The linter refuses a notice that leaves one out
(CONTENT) or that threatens, shames or claims false authority (TONE).
"""

from __future__ import annotations

import hashlib
import html as html_lib
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import holidays as holidays_lib
import jinja2
import jinja2.meta
from babel.dates import format_date
from babel.numbers import format_currency
from pydantic import BaseModel, Field, ValidationError

from dunning.domain.models import (
    Account,
    Channel,
    Contact,
    Instalment,
    InstalmentPlan,
    Jurisdiction,
    Money,
    Promise,
    ReasonCode,
    UtcDatetime,
    to_utc,
)
from dunning.domain.policy import Collector, Policy, PolicyError, StepKind

LOCALES: tuple[str, ...] = ("en-US", "zh-CN")

# Locales whose notices the policy lint renders for each jurisdiction. US customers may read
# Chinese; Chinese-jurisdiction notices go out in Chinese (the collector's registered name is Chinese).
JURISDICTION_LOCALES: dict[Jurisdiction, tuple[str, ...]] = {
    Jurisdiction.US: ("en-US", "zh-CN"),
    Jurisdiction.CN: ("zh-CN",),
}

TEMPLATE_IDS: tuple[str, ...] = (
    "pre_due_reminder",
    "first_notice",
    "overdue_reminder",
    "final_notice",
    "plan_offer",
    "plan_confirmation",
    "instalment_reminder",
    "promise_confirmation",
    "payment_confirmation",
    "opt_out_confirmation",
    "help_reply",
    "legal_referral",
)

# Facts (keys of RenderedNotice.facts) each kind of notice must show the customer.
_ALL_FACTS = ("amount", "days_overdue", "deadline", "pay_link", "contact_phone", "collector", "opt_out")
REQUIRED_FACTS: dict[str, tuple[str, ...]] = {
    "pre_due_reminder": ("amount", "due_date", "pay_link", "contact_phone", "collector", "opt_out"),
    "first_notice": _ALL_FACTS,
    "overdue_reminder": _ALL_FACTS,
    "final_notice": _ALL_FACTS,
    "legal_referral": _ALL_FACTS,
    "plan_offer": _ALL_FACTS,
    "instalment_reminder": (
        "instalment_amount", "instalment_due", "pay_link", "contact_phone", "collector", "opt_out",
    ),
    "plan_confirmation": ("plan_total", "contact_phone", "collector", "opt_out"),
    "promise_confirmation": ("promise_amount", "promise_date", "contact_phone", "collector", "opt_out"),
    "payment_confirmation": ("contact_phone", "collector", "opt_out"),
    # Confirms the opt-out itself: repeating "reply STOP" would be absurd.
    "opt_out_confirmation": ("contact_phone", "collector"),
    "help_reply": ("contact_phone", "collector", "opt_out"),
}

# Extra facts a template cannot render without (passed to build_facts through ``extra``).
_NEEDS: dict[str, tuple[str, ...]] = {
    "plan_offer": ("schedule",),
    "plan_confirmation": ("schedule",),
    "instalment_reminder": ("schedule",),
    "promise_confirmation": ("promise_date", "promise_amount"),
}

SMS_SEGMENT_BUDGET: dict[str, int] = {"en-US": 2, "zh-CN": 3}

OPT_OUT_TEXT: dict[tuple[str, Channel], str] = {
    ("en-US", Channel.SMS): "Reply STOP to opt out.",
    ("zh-CN", Channel.SMS): "回复TD退订",
    ("en-US", Channel.EMAIL): "If you no longer want these emails, you can unsubscribe at any time.",
    ("zh-CN", Channel.EMAIL): "如不希望再收到此类邮件，可随时退订。",
}

# US validation notice (Regulation F 1006.34): the disclosure sentence of 15 U.S.C. 1692e(11).
DEBT_COLLECTOR_DISCLOSURE: dict[str, str] = {
    "en-US": "This is a communication from a debt collector.",
    "zh-CN": "本函来自债务催收方。",
}
VALIDATION_PERIOD_DAYS = 30
ASSUMED_RECEIPT_BUSINESS_DAYS = 5  # Reg F safe harbour: assume receipt 5 business days after sending

# ---------------------------------------------------------------------------- tone lists

THREAT_PHRASES_EN: tuple[str, ...] = (
    "arrest", "jail", "prison", "police", "sue you", "lawsuit will be filed", "garnish", "garnishment",
    "we will tell your employer", "contact your employer", "your family will know", "tell your family",
    "criminal", "final warning", "or else", "deadbeat", "shame", "seize", "warrant", "blacklist",
)
THREAT_PHRASES_ZH: tuple[str, ...] = (
    "逮捕", "坐牢", "拘留", "报警", "起诉你", "公安", "通知你的家人", "通知家人", "通知单位", "曝光",
    "老赖", "后果自负", "黑名单", "上门", "征信污点", "最后警告",
)
# On time-barred debt any mention of legal action is a threat the lender cannot carry out.
LEGAL_WORDS_EN: tuple[str, ...] = ("legal", "court", "attorney", "lawyer", "lawsuit", "litigation", "sue")
LEGAL_WORDS_ZH: tuple[str, ...] = ("法律", "法院", "律师", "诉讼", "法务", "起诉")


def _phrase_patterns(en: Iterable[str], zh: Iterable[str]) -> list[tuple[str, re.Pattern[str]]]:
    # English on word boundaries ("police" must not hit "policy"); Chinese has no word breaks.
    out = [(p, re.compile(rf"\b{re.escape(p)}\b", re.IGNORECASE)) for p in en]
    out += [(p, re.compile(re.escape(p))) for p in zh]
    return out


_THREATS = _phrase_patterns(THREAT_PHRASES_EN, THREAT_PHRASES_ZH)
_LEGAL = _phrase_patterns(LEGAL_WORDS_EN, LEGAL_WORDS_ZH)


class UnknownTemplate(LookupError):
    """No bundled template for this id, locale and channel."""

    def __init__(self, template_id: str, locale: str, channel: Channel) -> None:
        super().__init__(f"no template {template_id} for {locale} {channel}")
        self.template_id, self.locale, self.channel = template_id, locale, channel


class MissingFacts(ValueError):
    """The template needs facts (a plan schedule, a promise) that were not supplied."""

    def __init__(self, template_id: str, missing: Iterable[str]) -> None:
        names = sorted(missing)
        super().__init__(f"template {template_id} needs {', '.join(names)}")
        self.template_id, self.missing = template_id, names


# ---------------------------------------------------------------------------- models


class ScheduleItem(BaseModel):
    due_on: date
    amount: Money


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
    unsubscribe_link: str
    link_expires_at: UtcDatetime
    collector: Collector
    creditor: str
    validation_notice: bool = False  # the jurisdiction wants the validation items on first contact
    dispute_by: date | None = None
    time_barred: bool = False
    schedule: list[ScheduleItem] = Field(default_factory=list)
    promise_date: date | None = None
    promise_amount: Money | None = None
    payment_amount: Money | None = None


class RenderedNotice(BaseModel):
    template_id: str
    template_version: str  # sha256 of the template sources used, first 12 hex
    locale: str
    channel: Channel
    subject: str | None = None
    body: str  # SMS text, or the plain-text part of an email
    html: str | None = None
    segments: int | None = None  # SMS only
    encoding: str | None = None  # SMS only: GSM-7 or UCS-2
    facts: dict[str, str]  # formatted values that must appear (see REQUIRED_FACTS)
    validation: dict[str, str] = Field(default_factory=dict)  # US validation items, when carried


class LintFinding(BaseModel):
    code: ReasonCode  # CONTENT or TONE
    detail: str  # names the missing fact or the offending phrase; never customer data


# ---------------------------------------------------------------------------- facts


def _add_business_days(start: date, days: int, country: str) -> date:
    off = holidays_lib.country_holidays(country, years=range(start.year, start.year + 2))
    current = start
    while days > 0:
        current += timedelta(days=1)
        if current.weekday() < 5 and current not in off:
            days -= 1
    return current


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
    account: Account, policy: Policy, now: datetime, *, link_secret: bytes, extra: dict[str, Any] | None = None
) -> NoticeFacts:
    """Facts for a notice to ``account`` at ``now`` (aware).

    The deadline is the customer's local today + ``policy.notice_deadline_days``; the pay link
    expires ``policy.link_valid_days`` after now. ``extra`` may carry ``schedule`` (an
    InstalmentPlan, Instalments, or (due date, amount) pairs), ``plan``, ``promise`` (a Promise) or
    ``promise_date``/``promise_amount``, and ``payment_amount``.
    """
