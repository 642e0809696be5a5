"""Collection cases rebuilt from the ledger: the facts every report rate is computed from.

Everything is rebuilt from the ledger as of one instant, so a report for a past date gives the same
numbers whenever it is run. Only collection cases count: a case is in the report when its ledger has
a CASE_OPENED entry that is not marked ``pre_due`` (pre-due reminder records open with one marked
so; contact-record pseudo cases have none). Due dates the ledger lacks come from the case id or,
failing that, the account.

What a case's facts mean:

- **contacted**: at least one notice whose latest status is SENT or DELIVERED (a bounce or provider
  failure does not count), or a call outcome that was a conversation (anything but NO_ANSWER,
  LEFT_MESSAGE and WRONG_NUMBER).
- **responded**: at least one customer reply (a REPLY entry not marked ``response: false``, as
  auto-replies and mail failing SES's checks are) or call conversation.
- **promise outcome**: KEPT when the planner recorded PROMISE_KEPT, or the case was resolved by
  payment before the promise was judged; BROKEN when the planner recorded PROMISE_BROKEN;
  SUPERSEDED when a newer promise replaced it before it was judged; PENDING while it runs.
- **plan outcome** (of accepted plans): COMPLETED on PLAN_COMPLETED, or the case resolved by payment
  while the plan ran; BROKEN on PLAN_BROKEN or a PLAN entry with status BROKEN; a plan never
  accepted stays OFFERED.
- **cured**: closed with status RESOLVED (paid in full, or a completed instalment plan).
- **engagement**: the case's engagement class (domain.case_summary) from its entries up to its
  close (for a referral: what the customer had done by the time of the referral).
- **legal and specialist reviews**: requested, and what the reviewers decided.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from dunning.domain.case_summary import EngagementClass, engagement_from_entries
from dunning.domain.case_tally import UNANSWERED_CALLS
from dunning.domain.models import Account, EntryKind, LedgerEntry

REACHED = frozenset({"SENT", "DELIVERED"})


@dataclass
class NoticeFact:
    step_id: str
    channel: str
    template_id: str
    status: str
    at: datetime


@dataclass
class PromiseFact:
    made_at: datetime
    promised_on: date | None
    channel: str
    outcome: str = "PENDING"  # KEPT, BROKEN, SUPERSEDED, PENDING


@dataclass
class PlanFact:
    plan_id: str
    offered_at: datetime
    accepted_at: datetime | None = None
    outcome: str = "PENDING"  # COMPLETED, BROKEN, PENDING (of accepted plans); OFFERED if never accepted


@dataclass
class CaseFacts:
    """One collection case as the report sees it, rebuilt from its ledger up to the report instant."""

    case_id: str
    account_id: str
    opened_at: datetime
    due_date: date | None
    strategy_id: str
    variant: str
    closed_at: datetime | None = None
    end_status: str | None = None  # RESOLVED, CLOSED, REFERRED_TO_LEGAL
    notices: list[NoticeFact] = field(default_factory=list)
    reply_times: list[datetime] = field(default_factory=list)
    conversation_times: list[datetime] = field(default_factory=list)
    payment_times: list[datetime] = field(default_factory=list)
    promises: list[PromiseFact] = field(default_factory=list)
    plans: list[PlanFact] = field(default_factory=list)
    engagement: EngagementClass = EngagementClass.NEVER_REACHED
    legal_reviews: int = 0
    legal_decisions: list[str] = field(default_factory=list)  # APPROVED, REJECTED
    specialist_reviews: int = 0
    specialist_decisions: list[str] = field(default_factory=list)  # LEGAL_REVIEW, NO_LEGAL_REVIEW

    @property
    def referred(self) -> bool:
        return self.end_status == "REFERRED_TO_LEGAL"

    @property
    def cured(self) -> bool:
        return self.end_status == "RESOLVED"

    @property
    def cured_at(self) -> datetime | None:
        return self.closed_at if self.cured else None

    @property
    def contacted(self) -> bool:
        return any(n.status in REACHED for n in self.notices) or bool(self.conversation_times)

    @property
    def responded(self) -> bool:
        return bool(self.reply_times) or bool(self.conversation_times)

    @property
    def committed(self) -> bool:
        """The customer promised to pay or agreed an instalment plan."""
        return bool(self.promises) or any(p.accepted_at is not None for p in self.plans)

    def open_at(self, at: datetime) -> bool:
        return self.opened_at <= at and (self.closed_at is None or self.closed_at > at)

    def days_past_due(self, at: datetime) -> int | None:
        return None if self.due_date is None else (at.date() - self.due_date).days


def account_id_of(case_id: str) -> str:
    """Collection case ids are ``<account_id>-<due yyyymmdd>`` (services.cases.case_id_for)."""
    head, _, tail = case_id.rpartition("-")
    return head if head and len(tail) == 8 and tail.isdigit() else case_id


def _due_from_case_id(case_id: str) -> date | None:
    tail = case_id.rpartition("-")[2]
    try:
        return datetime.strptime(tail, "%Y%m%d").date() if len(tail) == 8 else None
    except ValueError:
        return None


def _codes(data: dict[str, Any]) -> set[str]:
    return {str(c) for c in [*(data.get("reasons") or []), *(data.get("details") or [])]}


def _parse_date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


class _CaseBuilder:
    """Replays one case's ledger in order, one method per entry kind."""

    def __init__(self, case: CaseFacts) -> None:
        self.case = case
        self.notices: dict[str, NoticeFact] = {}
        self.plans: dict[str, PlanFact] = {}
        self.previous: LedgerEntry | None = None

    def replay(self, entries: list[LedgerEntry]) -> CaseFacts:
        handlers: dict[EntryKind, Callable[[LedgerEntry], None]] = {
            EntryKind.NOTICE: self._notice, EntryKind.DELIVERY: self._delivery, EntryKind.REPLY: self._reply,
            EntryKind.CALL_OUTCOME: self._call, EntryKind.PROMISE: self._promise, EntryKind.PLAN: self._plan,
            EntryKind.DECISION: self._decision, EntryKind.CASE_CLOSED: self._closed,
            EntryKind.PAYMENT: self._payment, EntryKind.LEGAL: self._legal, EntryKind.SPECIALIST: self._specialist,
        }
        for entry in entries:
            handler = handlers.get(entry.kind)
            if handler is not None:
                handler(entry)
            self.previous = entry
        self.case.notices = list(self.notices.values())
        self.case.plans = list(self.plans.values())
        closed = self.case.closed_at
        self.case.engagement = engagement_from_entries([e for e in entries if closed is None or e.at <= closed])
        return self.case

    def _legal(self, e: LedgerEntry) -> None:
        event = str(e.data.get("event"))
        if event == "REVIEW_REQUESTED":
            self.case.legal_reviews += 1
        elif event in ("APPROVED", "REJECTED"):
            self.case.legal_decisions.append(event)

    def _specialist(self, e: LedgerEntry) -> None:
        if e.data.get("event") == "REVIEW_REQUESTED":
            self.case.specialist_reviews += 1
        elif e.data.get("event") == "DECIDED":
            self.case.specialist_decisions.append(str(e.data.get("decision")))

    def _notice(self, e: LedgerEntry) -> None:
        step = str(e.data.get("step_id"))
        self.notices[step] = NoticeFact(step, str(e.data.get("channel")), str(e.data.get("template_id")),
                                        str(e.data.get("status")), e.at)

    def _delivery(self, e: LedgerEntry) -> None:
        notice = self.notices.get(str(e.data.get("step_id")))
        if notice is not None and e.data.get("notice_status"):
            notice.status = str(e.data["notice_status"])

    def _reply(self, e: LedgerEntry) -> None:
        if e.data.get("response") is False:
            return  # recorded, never the customer's answer (an auto-reply, mail failing SES's checks)
        self.case.reply_times.append(e.at)

    def _payment(self, e: LedgerEntry) -> None:
        self.case.payment_times.append(e.at)

    def _call(self, e: LedgerEntry) -> None:
        if str(e.data.get("outcome")) not in UNANSWERED_CALLS:
            self.case.conversation_times.append(e.at)

    def _promise(self, e: LedgerEntry) -> None:
        for older in self.case.promises:
            if older.outcome == "PENDING":
                older.outcome = "SUPERSEDED"
        channel, prev = "ADMIN", self.previous
        if prev is not None and prev.at == e.at:  # recorded in the same commit as what prompted it
            if prev.kind is EntryKind.REPLY:
                channel = str(prev.data.get("channel") or "SMS")
            elif prev.kind is EntryKind.CALL_OUTCOME:
                channel = "CALL"
        self.case.promises.append(PromiseFact(e.at, _parse_date(e.data.get("promised_on")), channel))

    def _plan(self, e: LedgerEntry) -> None:
        plan_id = str(e.data.get("plan_id"))
        plan = self.plans.setdefault(plan_id, PlanFact(plan_id, e.at, outcome="OFFERED"))
        status = str(e.data.get("status"))
        if status == "ACTIVE" and plan.accepted_at is None:
            plan.accepted_at, plan.outcome = e.at, "PENDING"
        elif status in ("BROKEN", "COMPLETED") and plan.accepted_at is not None:
            plan.outcome = status

    def _decision(self, e: LedgerEntry) -> None:
        codes = _codes(e.data)
        pending = [p for p in self.case.promises if p.outcome == "PENDING"]
        for code, outcome in (("PROMISE_KEPT", "KEPT"), ("PROMISE_BROKEN", "BROKEN")):
            if pending and code in codes:
                pending[-1].outcome = outcome
        running = [p for p in self.plans.values() if p.accepted_at is not None and p.outcome == "PENDING"]
        for code, outcome in (("PLAN_COMPLETED", "COMPLETED"), ("PLAN_BROKEN", "BROKEN")):
            if running and code in codes:
                running[-1].outcome = outcome

    def _closed(self, e: LedgerEntry) -> None:
        if self.case.closed_at is not None:
            return
        self.case.closed_at, self.case.end_status = e.at, str(e.data.get("status"))
        if self.case.end_status != "RESOLVED":
            return
        # Paid: whatever was promised or planned and still running was honoured.
        for p in self.case.promises:
            p.outcome = "KEPT" if p.outcome == "PENDING" else p.outcome
        for plan in self.plans.values():
            if plan.accepted_at is not None and plan.outcome == "PENDING":
                plan.outcome = "COMPLETED"


def _case_from_entries(entries: list[LedgerEntry], accounts: dict[str, Account]) -> CaseFacts | None:
    opened = next((e for e in entries if e.kind is EntryKind.CASE_OPENED), None)
    if opened is None or opened.data.get("pre_due"):
        return None
    account_id = account_id_of(opened.case_id)
    account = accounts.get(account_id)
    due = (_parse_date(opened.data.get("due_date")) or _due_from_case_id(opened.case_id)
           or (account.due_date if account else None))
    case = CaseFacts(case_id=opened.case_id, account_id=account_id, opened_at=opened.at, due_date=due,
                     strategy_id=str(opened.data.get("strategy_id") or "unknown"),
                     variant=str(opened.data.get("variant") or "unassigned"))
    return _CaseBuilder(case).replay(entries)


def cases_from_ledger(entries: Iterable[LedgerEntry], accounts: Iterable[Account] = (),
                      as_of: datetime | None = None) -> list[CaseFacts]:
    """Collection cases rebuilt from ledger entries written up to ``as_of`` (all when None)."""
    by_case: dict[str, list[LedgerEntry]] = defaultdict(list)
    for entry in entries:
        if as_of is None or entry.at <= as_of:
            by_case[entry.case_id].append(entry)
    known = {a.account_id: a for a in accounts}
    cases = []
    for case_id in sorted(by_case):
        built = _case_from_entries(sorted(by_case[case_id], key=lambda e: e.seq), known)
        if built is not None:
            cases.append(built)
    return cases


