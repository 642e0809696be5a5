"""What happened on a case, as counts and instants: the history a step's conditions, a notice's
wording, a legal reviewer and a specialist judge from.

Rebuilt from the case's ledger entries (and the account's payments, which reach the account before
the ledger), so the same history always gives the same summary and a report can rebuild it later.

- **Right-party contact**: the customer spoke or wrote to us about the debt: a call answered (any
  outcome but NO_ANSWER, LEFT_MESSAGE and WRONG_NUMBER), a reply whose intent is not STOP, START,
  HELP or WRONG_NUMBER (those are about the channel, or from someone else), or a promise or plan
  agreed by any channel.
- **Broken / kept arrangements**: as the planner judged them (PROMISE_BROKEN, PLAN_BROKEN,
  PROMISE_KEPT, PLAN_COMPLETED in its decisions).
- **Hardship declared**: the customer told us by reply or on a call, or a hold was put on the case
  for hardship.
- **Engagement class** (what a legal referral is split by): HARDSHIP if hardship was declared;
  else BROKE_ARRANGEMENTS if a promise or plan was broken; else ENGAGED if the customer was
  reached or paid something; else NEVER_REACHED.

`counts()` is what may travel on a queue or into the ledger (ids, counts, instants, codes: no
amount); the amounts are only in the summary `show_case` returns. `digest()` fingerprints the
history itself (not the instant it was summarised), so an approval can record what was seen.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from dunning.domain.case_tally import UNANSWERED_CALLS, CaseTally
from dunning.domain.models import (
    Account,
    Case,
    CaseStatus,
    EntryKind,
    LedgerEntry,
    Money,
    Notice,
    NoticeStatus,
    PlanStatus,
    UtcDatetime,
)

# Notices the planner sends in the customer's service (answers to their texts) are not contact attempts.
_SERVICE_PREFIX = "service_"


class EngagementClass(StrEnum):
    NEVER_REACHED = "NEVER_REACHED"
    ENGAGED = "ENGAGED"  # reached or paid something; no arrangement broken, no hardship declared
    BROKE_ARRANGEMENTS = "BROKE_ARRANGEMENTS"
    HARDSHIP = "HARDSHIP"

    @property
    def engaged(self) -> bool:
        return self is not EngagementClass.NEVER_REACHED


class ChannelAttempts(BaseModel):
    model_config = ConfigDict(frozen=True)

    sent: int = 0  # reached the provider (sent, delivered, bounced or uncertain)
    delivered: int = 0
    undelivered: int = 0  # bounced or refused by the provider


class CaseSummary(BaseModel):
    """One case's history for the people and rules that judge it (see the module docstring)."""

    model_config = ConfigDict(frozen=True)

    case_id: str
    status: str
    as_of: UtcDatetime
    days_past_due: int
    amount_due: Money | None = None  # in show_case only, never on a queue or in a log
    notices: dict[str, ChannelAttempts] = Field(default_factory=dict)  # EMAIL, SMS
    calls_attempted: int = 0
    call_conversations: int = 0
    call_outcomes: dict[str, int] = Field(default_factory=dict)
    replies: int = 0
    last_reply_at: UtcDatetime | None = None
    right_party_contacts: int = 0
    last_right_party_contact_at: UtcDatetime | None = None
    payments: int = 0
    paid: Money | None = None  # in show_case only
    last_payment_at: UtcDatetime | None = None
    promises_made: int = 0
    promises_kept: int = 0
    promises_broken: int = 0
    plans_offered: int = 0
    plans_agreed: int = 0
    plans_completed: int = 0
    plans_broken: int = 0
    last_broken_at: UtcDatetime | None = None
    arrangement_active: bool = False  # a promise or plan running now
    offer_open_since: UtcDatetime | None = None  # a plan on offer, not yet accepted
    hardship_declared_at: UtcDatetime | None = None
    disputes: int = 0
    dispute_open: bool = False
    specialist_reviews: int = 0
    specialist_decision: str | None = None  # the latest since the case last went to a specialist
    engagement: EngagementClass = EngagementClass.NEVER_REACHED

    @property
    def arrangements_broken(self) -> int:
        return self.promises_broken + self.plans_broken

    @property
    def last_engaged_at(self) -> datetime | None:
        """The customer's latest sign of life: a right-party contact or a payment."""
        seen = [t for t in (self.last_right_party_contact_at, self.last_payment_at) if t is not None]
        return max(seen, default=None)

    def counts(self) -> dict[str, Any]:
        """What may go on a queue or into the ledger: ids, counts, instants and codes, no amount."""
        doc = self.model_dump(mode="json", exclude={"amount_due", "paid"})
        doc["arrangements_broken"] = self.arrangements_broken
        doc["digest"] = self.digest()
        return doc

    def digest(self) -> str:
        """A fingerprint of the history (not of when it was summarised): equal while nothing happens."""
        doc = self.model_dump(mode="json", exclude={"as_of", "days_past_due"})
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


def _notice_attempts(notices: Iterable[Notice]) -> dict[str, ChannelAttempts]:
    out: dict[str, list[int]] = {}
    for n in notices:
        if n.step_id.startswith(_SERVICE_PREFIX) or n.status in (NoticeStatus.FAILED, NoticeStatus.SENDING):
            continue
        row = out.setdefault(n.channel.value, [0, 0, 0])
        row[0] += 1
        row[1] += n.status is NoticeStatus.DELIVERED
        row[2] += n.status is NoticeStatus.BOUNCED
    return {ch: ChannelAttempts(sent=r[0], delivered=r[1], undelivered=r[2]) for ch, r in sorted(out.items())}


def _notices_from_ledger(entries: Iterable[LedgerEntry]) -> dict[str, ChannelAttempts]:
    """The latest status of each notice, as NOTICE and DELIVERY entries tell it (for reports)."""
    status: dict[str, tuple[str, str]] = {}
    for e in entries:
        step = str(e.data.get("step_id"))
        if e.kind is EntryKind.NOTICE:
            status[step] = (str(e.data.get("channel")), str(e.data.get("status")))
        elif e.kind is EntryKind.DELIVERY and step in status and e.data.get("notice_status"):
            status[step] = (status[step][0], str(e.data["notice_status"]))
    out: dict[str, list[int]] = {}
    for step, (channel, st) in status.items():
        if step.startswith(_SERVICE_PREFIX) or st in (NoticeStatus.FAILED.value, NoticeStatus.SENDING.value):
            continue
        row = out.setdefault(channel, [0, 0, 0])
        row[0] += 1
        row[1] += st == NoticeStatus.DELIVERED.value
        row[2] += st == NoticeStatus.BOUNCED.value
    return {ch: ChannelAttempts(sent=r[0], delivered=r[1], undelivered=r[2]) for ch, r in sorted(out.items())}


def engagement_class(*, hardship: bool, broken: int, reached: bool, paid: bool) -> EngagementClass:
    if hardship:
        return EngagementClass.HARDSHIP
    if broken:
        return EngagementClass.BROKE_ARRANGEMENTS
    if reached or paid:
        return EngagementClass.ENGAGED
    return EngagementClass.NEVER_REACHED


def _local_today(now: datetime, account: Account | None) -> date:
    zone = account.time_zones[0] if account is not None else "UTC"
    return now.astimezone(ZoneInfo(zone)).date()


def summarise_case(case: Case, entries: Sequence[LedgerEntry], now: datetime, *, account: Account | None = None,
                   notices: Sequence[Notice] | None = None) -> CaseSummary:
    """The case's history as of `now`, from its ledger `entries` (and, when given, the account's
    payments and amounts, and the notices' latest statuses)."""
    mine = [e for e in entries if e.case_id == case.case_id and e.at <= now]
    tally = CaseTally.fold(mine, notices or ())
    return summarise(case, tally, now, account=account,
                     attempts=None if notices is not None else _notices_from_ledger(mine))


def summarise(case: Case, tally: CaseTally, now: datetime, *, account: Account | None = None,
              attempts: dict[str, ChannelAttempts] | None = None) -> CaseSummary:
    """The case's history as of `now`, from its tally (and, when given, the account's payments and
    amounts); `attempts` per channel when they come from elsewhere than the tally's notices."""
    currency = account.currency if account is not None else None
    payments = {pid: (p.received_at, p.amount, p.currency) for pid, p in tally.payments.items()}
    if account is not None:
        for p in account.payments:  # the account may know of a payment the ledger does not have yet
            if p.received_at >= case.opened_at and p.received_at <= now and p.payment_id not in payments:
                payments[p.payment_id] = (p.received_at, p.amount.amount, p.amount.currency)
    paid_total = sum((amount for _, amount, cur in payments.values() if cur == currency), Decimal(0))
    last_payment = max((at for at, _, _ in payments.values()), default=None)
    conversations = sum(n for outcome, n in tally.calls.items() if outcome not in UNANSWERED_CALLS)
    plan = case.plan
    offer_open = plan.offered_at if plan is not None and plan.status is PlanStatus.OFFERED else None
    due = account.due_date if account is not None else None
    days = (_local_today(now, account) - due).days if due is not None else 0
    broken = sum(tally.broken.values())
    return CaseSummary(
        case_id=case.case_id,
        status=case.status.value,
        as_of=now,
        days_past_due=max(days, 0),
        amount_due=account.amount_due.quantized() if account is not None else None,
        notices=attempts if attempts is not None else _notice_attempts(tally.case_notices(case.case_id, "")),
        calls_attempted=sum(tally.calls.values()),
        call_conversations=conversations,
        call_outcomes=dict(sorted(tally.calls.items())),
        replies=tally.replies,
        last_reply_at=tally.last_reply_at,
        right_party_contacts=tally.right_party_contacts,
        last_right_party_contact_at=tally.last_right_party_contact_at,
        payments=len(payments),
        paid=Money.of(paid_total, currency).quantized() if currency is not None else None,
        last_payment_at=last_payment,
        promises_made=tally.promises_made,
        promises_kept=tally.kept.get("PROMISE_KEPT", 0),
        promises_broken=tally.broken.get("PROMISE_BROKEN", 0),
        plans_offered=len(tally.plans_offered),
        plans_agreed=len(tally.plans_agreed),
        plans_completed=tally.kept.get("PLAN_COMPLETED", 0),
        plans_broken=tally.broken.get("PLAN_BROKEN", 0),
        last_broken_at=tally.broken_at,
        arrangement_active=case.status in (CaseStatus.PROMISED, CaseStatus.IN_PLAN),
        offer_open_since=offer_open,
        hardship_declared_at=tally.hardship_at,
        disputes=tally.disputes,
        dispute_open=case.status is CaseStatus.DISPUTED,
        specialist_reviews=tally.specialist_reviews,
        specialist_decision=tally.specialist_decision,
        engagement=engagement_class(hardship=tally.hardship_at is not None, broken=broken,
                                    reached=tally.right_party_contacts > 0, paid=bool(payments)),
    )


def engagement_from_entries(entries: Sequence[LedgerEntry]) -> EngagementClass:
    """The engagement class from ledger entries alone (what a report can rebuild)."""
    tally = CaseTally.fold(entries)
    return engagement_class(hardship=tally.hardship_at is not None, broken=sum(tally.broken.values()),
                            reached=tally.right_party_contacts > 0, paid=bool(tally.payments))
