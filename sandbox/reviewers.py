"""The sandbox's legal approver and collections specialist: people who judge a case from its summary.

Both read what an admin reads (`show_case`: the case summary and its digest) and decide the way the
lender's written practice says, so a run tests the decision instead of rubber-stamping it:

- the **approver** rejects a legal referral of a customer who declared hardship, or who engaged
  (spoke to us, replied about the debt, agreed something, paid) in the last APPROVER_RECENT_DAYS,
  or whose dispute is open; otherwise approves;
- the **specialist** keeps a customer who declared hardship out of the legal route, and one who
  engaged in the last SPECIALIST_RECENT_DAYS; otherwise lets the legal review go ahead.

Each decision is recorded with the digest of the summary it was taken on. `legal_figures` counts
what came of it for the run's summary.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

APPROVER_RECENT_DAYS = 14
# As long a silence as the bundled plan asks of a customer never reached (no_right_party_contact_days):
# one broken promise followed by a month of silence is still a customer to work, not to refer.
SPECIALIST_RECENT_DAYS = 45


def _instant(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def last_engaged(summary: dict[str, Any]) -> datetime | None:
    seen = [t for t in (_instant(summary.get("last_right_party_contact_at")),
                        _instant(summary.get("last_payment_at"))) if t is not None]
    return max(seen, default=None)


def approver_decision(summary: dict[str, Any], now: datetime) -> tuple[bool, str]:
    """(approve, why) for a legal referral, from the case summary show_case returns."""
    if summary.get("hardship_declared_at"):
        return False, "customer declared hardship"
    if summary.get("dispute_open"):
        return False, "dispute open"
    engaged = last_engaged(summary)
    if engaged is not None and now - engaged < timedelta(days=APPROVER_RECENT_DAYS):
        return False, f"customer engaged within {APPROVER_RECENT_DAYS} days"
    return True, f"summary reviewed: {summary.get('engagement', 'UNKNOWN').lower()}"


def specialist_decision(summary: dict[str, Any], now: datetime) -> tuple[str, str]:
    """(LEGAL_REVIEW | NO_LEGAL_REVIEW, why) for a case on the specialist queue."""
    if summary.get("hardship_declared_at"):
        return "NO_LEGAL_REVIEW", "declared hardship: work an arrangement, not a referral"
    engaged = last_engaged(summary)
    if engaged is not None and now - engaged < timedelta(days=SPECIALIST_RECENT_DAYS):
        return "NO_LEGAL_REVIEW", f"customer engaged within {SPECIALIST_RECENT_DAYS} days"
    return "LEGAL_REVIEW", "no answer since the arrangement broke; legal review may go ahead"


def legal_figures(ledger_items: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Legal referrals by engagement class and cure rate per variant, reviews and their decisions,
    and the referrals of customers in hardship that no specialist allowed (must be none)."""
    from dunning.domain.reporting.facts import cases_from_ledger
    from dunning.domain.reporting.rates import cure_rate, engaged_referral_share, group_by, referrals_by_engagement
    from sandbox.report import ledger_entries

    cases = cases_from_ledger(ledger_entries(ledger_items))
    unallowed = sum(1 for c in cases if c.referred and c.engagement.value == "HARDSHIP"
                    and "LEGAL_REVIEW" not in c.specialist_decisions)
    decisions: Counter[str] = Counter(d for c in cases for d in c.specialist_decisions)
    legal: Counter[str] = Counter(d for c in cases for d in c.legal_decisions)
    share = engaged_referral_share(cases)
    return {
        "legal_referrals_by_engagement": referrals_by_engagement(cases),
        "engaged_share_of_referrals": None if share.value is None else round(share.value, 4),
        "hardship_referred_without_specialist_decision": unallowed,
        "legal_reviews": {"requested": sum(c.legal_reviews for c in cases), "approved": legal["APPROVED"],
                          "rejected": legal["REJECTED"]},
        "specialist_reviews": {"requested": sum(c.specialist_reviews for c in cases),
                               **{d: decisions[d] for d in ("LEGAL_REVIEW", "NO_LEGAL_REVIEW")}},
        "by_variant": {
            variant: {"cases": len(group), "cured": cure_rate(group).numerator,
                      "cure_rate": None if cure_rate(group).value is None else round(cure_rate(group).value or 0, 4),
                      "legal_referrals": referrals_by_engagement(group)}
            for variant, group in group_by(cases, lambda c: c.variant).items()},
    }
