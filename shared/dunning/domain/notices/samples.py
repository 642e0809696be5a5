"""Made-up accounts and notice facts for previewing and linting templates.

The samples stand for a typical delinquent customer in each jurisdiction, 12 days past due, with a
plan schedule, a promise and a payment so that every template can render. The link secret is a
fixed development value: links signed with it only work against a local sandbox.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from dunning.domain.links import sample_short_link
from dunning.domain.models import Account, Contact, Jurisdiction, Money
from dunning.domain.notices.facts import NoticeFacts, build_facts
from dunning.domain.policy import Policy

SAMPLE_LINK_SECRET = b"dunning-sample-link-secret--dev-only"  # for lint and the dev CLI, never deployed
SAMPLE_NOW = datetime.fromisoformat("2026-11-10T15:00:00+00:00")
SAMPLE_DAYS_OVERDUE = 12

_SAMPLES: dict[Jurisdiction, dict[str, Any]] = {
    Jurisdiction.US: {
        "account_id": "SAMPLE-US-0001",
        "customer_name": "Alex Morgan",
        "account_number": "4000123412341234",
        "contact": {"phone": "+12125551234", "email": "alex.morgan@example.com"},
        "locale": "en-US",
        "time_zones": ["America/New_York"],
        "currency": "USD",
        "principal_due": "1180.00",
        "interest_due": "42.50",
        "fees_due": "25.00",
    },
    Jurisdiction.CN: {
        "account_id": "SAMPLE-CN-0001",
        "customer_name": "王小明",
        "account_number": "6222020200112345678",
        "contact": {"phone": "+8613800138000", "email": "wang.xm@example.com"},
        "locale": "zh-CN",
        "time_zones": ["Asia/Shanghai"],
        "currency": "CNY",
        "principal_due": "8600.00",
        "interest_due": "310.00",
        "fees_due": "90.00",
    },
}


def sample_account(
    jurisdiction: Jurisdiction, locale: str | None = None, now: datetime = SAMPLE_NOW
) -> Account:
    """A made-up delinquent account (12 days past due at ``now``) for previews and lint."""
    values = dict(_SAMPLES[jurisdiction])
    values["contact"] = Contact.model_validate(values["contact"])
    if locale is not None:
        values["locale"] = locale
    today = now.astimezone(ZoneInfo(values["time_zones"][0])).date()
    return Account.model_validate(
        {
            **values,
            "jurisdiction": jurisdiction,
            "due_date": today - timedelta(days=SAMPLE_DAYS_OVERDUE),
            "status": "DELINQUENT",
        }
    )


def sample_extra(account: Account, now: datetime = SAMPLE_NOW) -> dict[str, Any]:
    """A plan schedule (three instalments), a promise and a payment, for previewing every template."""
    today = now.astimezone(ZoneInfo(account.time_zones[0])).date()
    due = account.amount_due.quantized()
    part = Money(amount=(due.amount / 3).quantize(due.minor_unit), currency=due.currency)
    last = due - part - part
    schedule = [(today + timedelta(days=3 + 7 * i), amount) for i, amount in enumerate((part, part, last))]
    return {
        "schedule": schedule,
        "promise_date": today + timedelta(days=5),
        "promise_amount": due,
        "payment_amount": due,
        "callback_at": now + timedelta(days=1, hours=2),
        "callback_until": now + timedelta(days=1, hours=4),
        "loans": [account.account_last4, "0417"],
        # the person's other overdue loan, which the overdue notices name too
        "other_loans": [{"last4": "0417", "amount": Money(amount=Decimal("512.00"), currency=due.currency),
                         "due_date": today - timedelta(days=31)}],
    }


def sample_facts(jurisdiction: Jurisdiction, locale: str, policy: Policy) -> NoticeFacts:
    """Facts for the sample account of ``jurisdiction`` in ``locale``, able to render every template."""
    account = sample_account(jurisdiction, locale)
    facts = build_facts(
        account, policy, SAMPLE_NOW, link_secret=SAMPLE_LINK_SECRET, extra=sample_extra(account)
    )
    jp = policy.for_jurisdiction(jurisdiction)
    if jp.sms_short_links:
        # Measured as texts go out: with a short link (an example code); emails keep the long one.
        facts = facts.model_copy(update={"sms_pay_link": sample_short_link(jp.collector.short_link_host,
                                                                           facts.pay_link)})
    return facts

