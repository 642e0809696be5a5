"""A step's conditions (`requires`, `requires_any`) judged against the case's history.

Two kinds of condition, and what the planner does when one fails:

- **cooling-off** (a payment in the last N days; a promise, plan or offer running, or one broken in
  the last N days): they clear by themselves, so the step waits until they do (a broken
  arrangement gets its re-engagement first, a payment its chance to be followed by more);
- **profile** (no right-party contact in the last N days, no declared hardship, at least N broken
  arrangements): they say who the step is for, when it is due. A contact step whose profile does
  not fit is skipped; a legal review goes to a specialist instead, who decides (and is recorded).
  A legal review whose cooling-off conditions fail too waits them out first.

Every failure carries a stable reason code, which the planner writes to the ledger.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from dunning.domain.case_summary import CaseSummary
from dunning.domain.models import ReasonCode
from dunning.domain.policy import StepConditions

# Reason codes of the conditions that clear by themselves (cooling-off).
COOLING_OFF = frozenset({ReasonCode.PAYMENT_RECENT, ReasonCode.ARRANGEMENT_ACTIVE,
                         ReasonCode.ARRANGEMENT_BROKEN_RECENTLY})


@dataclass(frozen=True)
class ConditionResult:
    met: bool
    reasons: tuple[ReasonCode, ...] = ()  # why not, when not met
    # Not met: when waiting alone will have met it (None: a profile condition fails, which is not
    # waited for, even one that time would change, such as a recent right-party contact).
    clears_at: datetime | None = None
    # When the cooling-off conditions of `requires` clear (None: none of them fails). A specialist's
    # decision stands in for the profile, never for these.
    cooling_until: datetime | None = None

    @property
    def waitable(self) -> bool:
        return not self.met and self.clears_at is not None


MET = ConditionResult(True)


def _one(kind: ReasonCode, clears_at: datetime | None) -> ConditionResult:
    return ConditionResult(False, (kind,), clears_at)


def _checks(conditions: StepConditions, s: CaseSummary, now: datetime, offer_days: int) -> list[ConditionResult]:
    found: list[ConditionResult] = []
    if conditions.no_declared_hardship and s.hardship_declared_at is not None:
        found.append(_one(ReasonCode.HARDSHIP_DECLARED, None))
    if (n := conditions.no_right_party_contact_days) is not None and s.last_right_party_contact_at is not None \
            and now - s.last_right_party_contact_at < timedelta(days=n):
        found.append(_one(ReasonCode.RIGHT_PARTY_CONTACT_RECENT, None))
    if (n := conditions.no_payment_days) is not None and s.last_payment_at is not None:
        ends = s.last_payment_at + timedelta(days=n)
        if now < ends:
            found.append(_one(ReasonCode.PAYMENT_RECENT, ends))
    if (n := conditions.no_active_or_recent_broken_arrangement_days) is not None:
        if s.arrangement_active:
            # The planner judges the arrangement when it falls due; nothing to schedule from here.
            found.append(_one(ReasonCode.ARRANGEMENT_ACTIVE, now + timedelta(days=1)))
        elif s.offer_open_since is not None and now < s.offer_open_since + timedelta(days=offer_days):
            found.append(_one(ReasonCode.ARRANGEMENT_ACTIVE, s.offer_open_since + timedelta(days=offer_days)))
        if s.last_broken_at is not None and now < s.last_broken_at + timedelta(days=n):
            found.append(_one(ReasonCode.ARRANGEMENT_BROKEN_RECENTLY, s.last_broken_at + timedelta(days=n)))
    if (n := conditions.min_broken_arrangements) is not None and s.arrangements_broken < n:
        found.append(_one(ReasonCode.TOO_FEW_BROKEN_ARRANGEMENTS, None))
    return found


def _all_of(found: Sequence[ConditionResult]) -> ConditionResult:
    if not found:
        return MET
    reasons = tuple(dict.fromkeys(r for f in found for r in f.reasons))
    clears = [f.clears_at for f in found]
    return ConditionResult(False, reasons, None if None in clears else max(c for c in clears if c is not None))


def judge(requires: StepConditions | None, requires_any: Sequence[StepConditions], summary: CaseSummary,
          now: datetime, *, offer_days: int = 7) -> ConditionResult:
    """Whether a step with these conditions may go ahead now. `offer_days` is how long a plan on
    offer stays open to the customer (the notice's deadline)."""
    checks = _checks(requires, summary, now, offer_days) if requires is not None else []
    every = _all_of(checks)
    cooling = [f.clears_at for f in checks if f.reasons[0] in COOLING_OFF and f.clears_at is not None]
    if requires_any:
        options = [_all_of(_checks(c, summary, now, offer_days)) for c in requires_any]
        if any(o.met for o in options):
            profile = MET
        else:
            waits = [o.clears_at for o in options if o.clears_at is not None]
            reasons = (ReasonCode.NO_REFERRAL_PROFILE, *dict.fromkeys(r for o in options for r in o.reasons))
            profile = ConditionResult(False, reasons, min(waits) if waits else None)
    else:
        profile = MET
    result = _all_of([r for r in (every, profile) if not r.met])
    return ConditionResult(result.met, result.reasons, result.clears_at, max(cooling, default=None))
