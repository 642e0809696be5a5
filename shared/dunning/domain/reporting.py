"""What works: cure, roll, contact and response rates, promises and plans, champion vs challenger.

Pure computations over ledger entries (and, for due dates the ledger lacks, accounts). Everything
is rebuilt from the ledger as of one instant, so a report for a past date gives the same numbers
whenever it is run. Only collection cases count: a case is in the report when its ledger has a
CASE_OPENED entry that is not marked ``pre_due`` (pre-due reminder records open with one marked so;
contact-record pseudo cases have none).

Definitions (each a share of cases unless said otherwise):

- **cure rate**: cases resolved by payment (CASE_CLOSED with status RESOLVED: paid in full, or a
  completed instalment plan) / cases opened. Recent cases have had less time to cure, so compare
  variants, which are assigned at random and share the same mix of case ages, not weeks.
- **contact rate**: cases with at least one notice whose latest status is SENT or DELIVERED (a
  bounce or provider failure does not count), or a call outcome that was a conversation (anything
  but NO_ANSWER, LEFT_MESSAGE and WRONG_NUMBER).
- **response rate**: cases with at least one customer reply (REPLY entry) or call conversation.
- **promise-kept rate**: promises kept / promises whose outcome is known. Kept: the planner
  recorded PROMISE_KEPT, or the case was resolved by payment before the promise was judged.
  Broken: the planner recorded PROMISE_BROKEN. Promises still running, or replaced by a newer
  promise before being judged, are left out of the denominator.
- **plan-completion rate**: accepted plans completed / accepted plans with a known outcome.
  Completed: PLAN_COMPLETED, or the case resolved by payment while the plan ran. Broken:
  PLAN_BROKEN or a PLAN entry with status BROKEN.
- **roll rate** of bucket k over a period [start, end): among cases open at ``start`` whose days
  past due (``start``'s UTC date minus the case's due date) fall in bucket k, the share still open
  at ``end`` with days past due in bucket k+1. Buckets are 1-30, 31-60, 61-90 and 90+ days (a case
  opened on day 0 counts in 1-30). A case can reach bucket k+1 within one period only if the period
  is long enough: the industry convention is a 30-day period; on short sandbox runs the weekly
  report uses 7-day periods, where the roll rate is the share that crossed the next boundary that
  week. The full transition (same bucket, next bucket, cured, closed, referred) is reported beside.
- **funnel**: accounts in the portfolio, cases opened, and how many cases were contacted,
  responded, promised to pay or agreed a plan (a promise, or a plan the customer accepted), were
  cured, or were referred to legal. Each stage is counted on its own, not within the one before:
  a customer can pay without ever answering.
- **cure curve**: for each N = 0..60, the share of cases cured by day N past due (the UTC date of
  the cure minus the due date). A case is seen only up to the report instant, so the curve is the
  cumulative incidence of cure (Aalen-Johansen): on each day, the cures over the cases still open
  and observed that long, times the share of cases still open; a case closed without a cure leaves
  as a competing outcome. With every case observed past day N it is simply cured by N / cases.
  Later days rest on fewer, older cases; the table says how many.
- **payment after a notice**: like reply and cure, a payment (any amount) within
  ATTRIBUTION_DAYS after a notice is credited to it.

Champion/challenger: each variant's cure rate with a Wilson 95% interval; its uplift over the
holdout (and each challenger's over the champion) as a difference in proportions with Newcombe's
hybrid score interval (Wilson intervals of the two rates combined); the verdict says plainly when
the interval includes zero, and when either group has fewer than MIN_CASES cases it says that
nothing can be concluded yet.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from dunning.domain.models import Account, EntryKind, LedgerEntry, iso_z

Z95 = 1.959963984540054  # two-sided 95% normal quantile
MIN_CASES = 10  # below this many cases in either group a comparison says nothing
BUCKETS: tuple[str, ...] = ("1-30", "31-60", "61-90", "90+")
ATTRIBUTION_DAYS = 7  # a reply or cure within this many days after a notice is credited to it
UNANSWERED_CALLS = frozenset({"NO_ANSWER", "LEFT_MESSAGE", "WRONG_NUMBER"})
REACHED = frozenset({"SENT", "DELIVERED"})


# --------------------------------------------------------------------------- statistics


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a proportion; (0, 1) when there is no observation."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe_interval(x1: int, n1: int, x0: int, n0: int, z: float = Z95) -> tuple[float, float]:
    """Newcombe's hybrid score interval (his method 10) for p1 - p0, from the two Wilson intervals."""
    p1, p0 = x1 / n1, x0 / n0
    l1, u1 = wilson_interval(x1, n1, z)
    l0, u0 = wilson_interval(x0, n0, z)
    d = p1 - p0
    return d - math.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2), d + math.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2)


@dataclass(frozen=True)
class Rate:
    numerator: int
    denominator: int

    @property
    def value(self) -> float | None:
        return self.numerator / self.denominator if self.denominator else None

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.numerator, self.denominator)

    def __str__(self) -> str:
        return "n/a" if self.value is None else f"{self.value:.1%} ({self.numerator}/{self.denominator})"


@dataclass(frozen=True)
class Comparison:
    """One group's cure rate against a baseline group's (variant vs holdout, challenger vs champion)."""

    group: str
    baseline: str
    group_rate: Rate
    baseline_rate: Rate
    difference: float | None  # group minus baseline, as a proportion
    low: float | None
    high: float | None
    significant: bool | None  # None: too few cases to say
    verdict: str


def _points(value: float) -> str:
    return f"{value * 100:+.1f} points"


def compare(group: str, group_rate: Rate, baseline: str, baseline_rate: Rate,
            min_cases: int = MIN_CASES) -> Comparison:
    """Difference in cure rate with a 95% interval and a plain-language verdict."""
    n1, n0 = group_rate.denominator, baseline_rate.denominator
    if n1 < min_cases or n0 < min_cases:
        return Comparison(group, baseline, group_rate, baseline_rate, None, None, None, None,
                          f"Too few cases to say anything yet: {group} has {n1} and {baseline} {n0}; "
                          f"each needs at least {min_cases} before a difference means anything.")
    d = (group_rate.value or 0.0) - (baseline_rate.value or 0.0)
    low, high = newcombe_interval(group_rate.numerator, n1, baseline_rate.numerator, n0)
    rates = (f"{group} cures {group_rate.value:.1%} of {n1} cases, "
             f"{baseline} {baseline_rate.value:.1%} of {n0}")
    span = f"95% interval {_points(low)} to {_points(high)}"
    if low <= 0 <= high:
        verdict = (f"No significant difference: {rates}. The difference of {_points(d)} has a {span}, "
                   f"which includes zero, so it may be chance.")
        significant = False
    else:
        better = "more" if d > 0 else "fewer"
        verdict = (f"Significant: {group} cures {better} cases than {baseline} ({_points(d)}, {span}); "
                   f"{rates}.")
        significant = True
    return Comparison(group, baseline, group_rate, baseline_rate, d, low, high, significant, verdict)


# --------------------------------------------------------------------------- cases from the ledger


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


def dpd_bucket(days_past_due: int) -> str:
    if days_past_due <= 30:
        return BUCKETS[0]
    if days_past_due <= 60:
        return BUCKETS[1]
    if days_past_due <= 90:
        return BUCKETS[2]
    return BUCKETS[3]


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
            EntryKind.PAYMENT: self._payment,
        }
        for entry in entries:
            handler = handlers.get(entry.kind)
            if handler is not None:
                handler(entry)
            self.previous = entry
        self.case.notices = list(self.notices.values())
        self.case.plans = list(self.plans.values())
        return self.case

    def _notice(self, e: LedgerEntry) -> None:
        step = str(e.data.get("step_id"))
        self.notices[step] = NoticeFact(step, str(e.data.get("channel")), str(e.data.get("template_id")),
                                        str(e.data.get("status")), e.at)

    def _delivery(self, e: LedgerEntry) -> None:
        notice = self.notices.get(str(e.data.get("step_id")))
        if notice is not None and e.data.get("notice_status"):
            notice.status = str(e.data["notice_status"])

    def _reply(self, e: LedgerEntry) -> None:
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


# --------------------------------------------------------------------------- rates


def cure_rate(cases: Sequence[CaseFacts]) -> Rate:
    return Rate(sum(c.cured for c in cases), len(cases))


def contact_rate(cases: Sequence[CaseFacts]) -> Rate:
    return Rate(sum(c.contacted for c in cases), len(cases))


def response_rate(cases: Sequence[CaseFacts]) -> Rate:
    return Rate(sum(c.responded for c in cases), len(cases))


def promise_kept_rate(cases: Sequence[CaseFacts]) -> Rate:
    judged = [p for c in cases for p in c.promises if p.outcome in ("KEPT", "BROKEN")]
    return Rate(sum(p.outcome == "KEPT" for p in judged), len(judged))


def plan_completion_rate(cases: Sequence[CaseFacts]) -> Rate:
    judged = [p for c in cases for p in c.plans if p.outcome in ("COMPLETED", "BROKEN")]
    return Rate(sum(p.outcome == "COMPLETED" for p in judged), len(judged))


def group_by(cases: Iterable[CaseFacts], key: Callable[[CaseFacts], str]) -> dict[str, list[CaseFacts]]:
    groups: dict[str, list[CaseFacts]] = defaultdict(list)
    for case in cases:
        groups[key(case)].append(case)
    return dict(sorted(groups.items()))


@dataclass(frozen=True)
class NoticePerformance:
    """Notices of one step, channel or template, and what followed them within ATTRIBUTION_DAYS."""

    key: str
    sent: int  # notices that reached the provider (SENT, DELIVERED, BOUNCED, UNCERTAIN)
    reached: int  # latest status SENT or DELIVERED
    delivered: int
    responded: int  # followed by a reply or conversation within the window
    cured: int  # followed by a cure within the window
    paid: int = 0  # followed by a payment (of any size) within the window


def notice_performance(cases: Sequence[CaseFacts], key: Callable[[NoticeFact], str],
                       window_days: int = ATTRIBUTION_DAYS) -> list[NoticePerformance]:
    """Per step / channel / template: last-touch attribution within a window (a reply or cure within
    ``window_days`` after a notice is credited to it; two notices in the window share the credit,
    each counting it once)."""
    window = timedelta(days=window_days)
    rows: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0, 0])
    for case in cases:
        answers = sorted([*case.reply_times, *case.conversation_times])
        for n in case.notices:
            if n.status in ("FAILED", "SENDING"):
                continue
            row = rows[key(n)]
            row[0] += 1
            row[1] += n.status in REACHED
            row[2] += n.status == "DELIVERED"
            row[3] += any(n.at <= t <= n.at + window for t in answers)
            row[4] += case.cured_at is not None and n.at <= case.cured_at <= n.at + window
            row[5] += any(n.at <= t <= n.at + window for t in case.payment_times)
    return [NoticePerformance(k, *v) for k, v in sorted(rows.items())]


# --------------------------------------------------------------------------- funnel and cure curve

CURE_CURVE_DAYS = 60


@dataclass(frozen=True)
class FunnelStage:
    """How many cases reached one stage. Stages are counted independently, not nested: a customer
    can pay without ever replying, so ``cured`` may exceed ``promise_or_plan``."""

    stage: str
    count: int


def funnel(cases: Sequence[CaseFacts], accounts: int | None = None) -> tuple[FunnelStage, ...]:
    """accounts -> cases opened -> contacted -> responded -> promise or plan -> cured, and referred
    to legal (the other way out). The accounts stage is left out when the portfolio size is unknown."""
    stages = [] if accounts is None else [FunnelStage("accounts", accounts)]
    stages += [
        FunnelStage("cases_opened", len(cases)),
        FunnelStage("contacted", sum(c.contacted for c in cases)),
        FunnelStage("responded", sum(c.responded for c in cases)),
        FunnelStage("promise_or_plan", sum(c.committed for c in cases)),
        FunnelStage("cured", sum(c.cured for c in cases)),
        FunnelStage("referred_to_legal", sum(c.end_status == "REFERRED_TO_LEGAL" for c in cases)),
    ]
    return tuple(stages)


@dataclass(frozen=True)
class CurePoint:
    """Day ``day`` past due on the cure curve: ``share`` of cases cured by then (None once no case
    has been observed that long), from ``at_risk`` cases still open and observed on that day, of
    which ``cured_today`` were cured on it; ``cured_so_far`` counts every cure up to that day."""

    day: int
    at_risk: int
    cured_today: int
    cured_so_far: int
    share: float | None


def _exit_day(case: CaseFacts) -> int | None:
    """Days past due on the UTC date the case closed (cured or not); None while open."""
    if case.closed_at is None or case.due_date is None:
        return None
    return (case.closed_at.date() - case.due_date).days


def cure_curve(cases: Sequence[CaseFacts], as_of: datetime,
               max_day: int = CURE_CURVE_DAYS) -> tuple[CurePoint, ...]:
    """Share of cases cured by day N past due, N = 0..max_day (see the module docstring).

    Cases are observed up to the report instant only, so a recent case says nothing about day 40.
    The share is the cumulative incidence of cure (Aalen-Johansen): each day's cures over the cases
    still open and observed that day, weighted by the share still open. Cases closed without a cure
    (referred to legal, written off) leave the curve as a competing outcome, not as censored. When
    every case has been observed past day N this is exactly cured-by-day-N / cases.
    """
    dated = [c for c in cases if c.due_date is not None]
    observed = {c.case_id: (as_of.date() - c.due_date).days for c in dated}  # type: ignore[operator]
    still_open, share, so_far = 1.0, 0.0, 0
    points = []
    for day in range(max_day + 1):
        at_risk = [c for c in dated if observed[c.case_id] >= day
                   and ((d := _exit_day(c)) is None or d >= day)]
        leaving = [c for c in at_risk if _exit_day(c) == day]
        cured = sum(c.cured for c in leaving)
        so_far += cured
        if not at_risk:
            points.append(CurePoint(day, 0, 0, so_far, None))
            continue
        share += still_open * cured / len(at_risk)
        still_open *= 1 - len(leaving) / len(at_risk)
        points.append(CurePoint(day, len(at_risk), cured, so_far, share))
    return tuple(points)


# --------------------------------------------------------------------------- roll rates


@dataclass(frozen=True)
class RollRow:
    bucket: str
    start: int  # cases open in this bucket at the start of the period
    same: int
    next: int  # in the next bucket at the end (the roll rate's numerator)
    cured: int
    closed: int
    referred: int

    @property
    def roll_rate(self) -> Rate | None:
        return None if self.bucket == BUCKETS[-1] else Rate(self.next, self.start)


@dataclass(frozen=True)
class RollRates:
    start: datetime
    end: datetime
    rows: tuple[RollRow, ...]


def roll_rates(cases: Iterable[CaseFacts], start: datetime, end: datetime) -> RollRates:
    """Transitions between days-past-due buckets over [start, end) (see the module docstring)."""
    counts: dict[str, list[int]] = {b: [0, 0, 0, 0, 0, 0] for b in BUCKETS}
    for case in cases:
        dpd = case.days_past_due(start)
        if dpd is None or not case.open_at(start):
            continue
        bucket = dpd_bucket(dpd)
        row = counts[bucket]
        row[0] += 1
        if case.open_at(end):
            later = dpd_bucket(case.days_past_due(end) or 0)
            k = BUCKETS.index(bucket)
            row[1] += later == bucket
            row[2] += k + 1 < len(BUCKETS) and later == BUCKETS[k + 1]
        elif case.end_status == "RESOLVED":
            row[3] += 1
        elif case.end_status == "REFERRED_TO_LEGAL":
            row[5] += 1
        else:
            row[4] += 1
    return RollRates(start, end, tuple(RollRow(b, *counts[b]) for b in BUCKETS))


def pooled(periods: Sequence[RollRates]) -> RollRates:
    """Several periods' transitions added up (a steadier roll rate from short periods)."""
    rows = []
    for i, bucket in enumerate(BUCKETS):
        parts = [p.rows[i] for p in periods]
        rows.append(RollRow(bucket, *(sum(getattr(r, f) for r in parts)
                                      for f in ("start", "same", "next", "cured", "closed", "referred"))))
    first = min((p.start for p in periods), default=datetime.min)
    last = max((p.end for p in periods), default=datetime.min)
    return RollRates(first, last, tuple(rows))


# --------------------------------------------------------------------------- the report


@dataclass(frozen=True)
class Table:
    """A titled table: rendered as HTML and written as ``<name>.csv``."""

    name: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    chart: tuple[str, str] | None = None  # (label column, rate column) to draw as bars


@dataclass(frozen=True)
class Report:
    as_of: datetime
    period_start: datetime
    summary: dict[str, Rate]
    counts: dict[str, int]
    variants: dict[str, Rate]
    comparisons: tuple[Comparison, ...]
    roll: RollRates
    roll_periods: tuple[RollRates, ...]
    tables: tuple[Table, ...]
    notes: tuple[str, ...] = ()
    funnel: tuple[FunnelStage, ...] = ()
    cure_curve: tuple[CurePoint, ...] = ()


def _fmt(rate: Rate) -> tuple[Any, ...]:
    value = rate.value
    low, high = rate.interval if rate.denominator else (None, None)
    return (rate.numerator, rate.denominator, None if value is None else round(value, 4),
            None if low is None else round(low, 4), None if high is None else round(high, 4))


_RATE_COLUMNS = ("cases", "rate", "low_95", "high_95")


def _rates_table(name: str, title: str, label: str, groups: dict[str, list[CaseFacts]]) -> Table:
    columns = (label, "cases", "cured", "cure_rate", "contacted", "contact_rate", "responded",
               "response_rate", "promises_judged", "promise_kept_rate", "plans_judged",
               "plan_completion_rate")
    rows = []
    for key, cases in groups.items():
        cure, contact, response = cure_rate(cases), contact_rate(cases), response_rate(cases)
        kept, plans = promise_kept_rate(cases), plan_completion_rate(cases)
        rows.append((key, len(cases), cure.numerator, _round(cure), contact.numerator, _round(contact),
                     response.numerator, _round(response), kept.denominator, _round(kept), plans.denominator,
                     _round(plans)))
    return Table(name, title, columns, tuple(rows), chart=(label, "cure_rate"))


def _round(rate: Rate) -> float | None:
    return None if rate.value is None else round(rate.value, 4)


def _notice_table(name: str, title: str, label: str, rows: list[NoticePerformance]) -> Table:
    columns = (label, "notices", "reached", "delivered", "followed_by_response", "response_rate",
               "followed_by_payment", "payment_rate", "followed_by_cure", "cure_rate")
    out = [(r.key, r.sent, r.reached, r.delivered, r.responded, _round(Rate(r.responded, r.sent)), r.paid,
            _round(Rate(r.paid, r.sent)), r.cured, _round(Rate(r.cured, r.sent))) for r in rows]
    return Table(name, title, columns, tuple(out), chart=(label, "cure_rate"))


def _roll_table(name: str, title: str, periods: Sequence[RollRates], pooled_last: bool) -> Table:
    columns = ("period", "period_start", "period_end", "bucket", "cases_at_start", "same_bucket",
               "next_bucket", "roll_rate", "cured", "closed", "referred_to_legal")
    rows = []
    for i, period in enumerate(periods):
        label = "pooled" if pooled_last and i == len(periods) - 1 else f"{period.start:%Y-%m-%d}"
        for r in period.rows:
            rr = r.roll_rate
            rows.append((label, iso_z(period.start), iso_z(period.end), r.bucket, r.start, r.same, r.next,
                         None if rr is None else _round(rr), r.cured, r.closed, r.referred))
    return Table(name, title, columns, tuple(rows))


def build_report(entries: Iterable[LedgerEntry], accounts: Iterable[Account], as_of: datetime, *,
                 holdout: str | None = "holdout", champion: str | None = "champion", period_days: int = 7,
                 roll_periods: int = 4, min_cases: int = MIN_CASES) -> Report:
    """The weekly report as of ``as_of``: rates over every case opened so far, the week's counts,
    champion/challenger comparisons, and roll rates over the last ``roll_periods`` periods of
    ``period_days`` (periods that start before the first case are left out)."""
    accounts = list(accounts)
    cases = cases_from_ledger(entries, accounts, as_of)
    stages = funnel(cases, len(accounts) if accounts else None)
    curve = cure_curve(cases, as_of)
    period_start = as_of - timedelta(days=period_days)
    summary = {"cure_rate": cure_rate(cases), "contact_rate": contact_rate(cases),
               "response_rate": response_rate(cases), "promise_kept_rate": promise_kept_rate(cases),
               "plan_completion_rate": plan_completion_rate(cases)}
    counts = {
        "cases_opened": len(cases),
        "cases_open_now": sum(c.open_at(as_of) for c in cases),
        "opened_this_period": sum(c.opened_at > period_start for c in cases),
        "cured_this_period": sum(c.cured_at is not None and c.cured_at > period_start for c in cases),
        "referred_to_legal": sum(c.end_status == "REFERRED_TO_LEGAL" for c in cases),
        "notices_reached": sum(n.status in REACHED for c in cases for n in c.notices),
        "uncertain_sends": sum(n.status == "UNCERTAIN" for c in cases for n in c.notices),
        "promises": sum(len(c.promises) for c in cases),
        "plans_offered": sum(len(c.plans) for c in cases),
        "plans_accepted": sum(p.accepted_at is not None for c in cases for p in c.plans),
    }
    by_variant = group_by(cases, lambda c: c.variant)
    variants = {v: cure_rate(cs) for v, cs in by_variant.items()}
    comparisons: list[Comparison] = []
    if holdout is not None and holdout in variants:
        for v, rate in variants.items():
            if v != holdout:
                comparisons.append(compare(v, rate, holdout, variants[holdout], min_cases))
    if champion is not None and champion in variants:
        for v, rate in variants.items():
            if v not in (champion, holdout):
                comparisons.append(compare(v, rate, champion, variants[champion], min_cases))
    first_open = min((c.opened_at for c in cases), default=as_of)
    periods = []
    for i in range(roll_periods, 0, -1):
        start = as_of - timedelta(days=period_days * i)
        if start >= first_open:
            periods.append(roll_rates(cases, start, start + timedelta(days=period_days)))
    roll = pooled(periods) if periods else roll_rates(cases, period_start, as_of)
    variant_rows = tuple(
        (v, *_fmt(rate)) for v, rate in variants.items())
    tables = (
        Table("summary", "Portfolio", ("measure", "numerator", "denominator", "rate", "low_95", "high_95"),
              tuple((k, *_fmt(r)) for k, r in summary.items())),
        Table("funnel", "Case funnel (each stage counted on its own; shares of cases opened)",
              ("stage", "count", "share_of_cases"),
              tuple((s.stage, s.count, _round(Rate(s.count, len(cases))) if s.stage != "accounts" else None)
                    for s in stages)),
        Table("cure_curve", f"Cure curve: share cured by day N past due (N = 0..{CURE_CURVE_DAYS})",
              ("days_past_due", "open_and_observed", "cured_that_day", "cured_so_far", "share_cured"),
              tuple((p.day, p.at_risk, p.cured_today, p.cured_so_far,
                     None if p.share is None else round(p.share, 4)) for p in curve)),
        Table("variants", "Cure rate by variant (Wilson 95% interval)",
              ("variant", "cured", *_RATE_COLUMNS), variant_rows, chart=("variant", "rate")),
        Table("comparisons", "Champion / challenger",
              ("group", "baseline", "group_rate", "baseline_rate", "difference", "low_95", "high_95",
               "significant", "verdict"),
              tuple((c.group, c.baseline, _round(c.group_rate), _round(c.baseline_rate),
                     None if c.difference is None else round(c.difference, 4),
                     None if c.low is None else round(c.low, 4), None if c.high is None else round(c.high, 4),
                     "" if c.significant is None else ("yes" if c.significant else "no"), c.verdict)
                    for c in comparisons)),
        _rates_table("by_variant", "Rates by variant", "variant", by_variant),
        _rates_table("by_strategy", "Rates by strategy", "strategy",
                     group_by(cases, lambda c: c.strategy_id)),
        _notice_table("by_step", f"Notices by step (response and cure within {ATTRIBUTION_DAYS} days)",
                      "step",
                      notice_performance(cases, lambda n: n.step_id if not n.step_id.startswith("service_")
                                         else "service_reply")),
        _notice_table("by_channel", f"Notices by channel (within {ATTRIBUTION_DAYS} days)", "channel",
                      notice_performance(cases, lambda n: n.channel)),
        _notice_table("by_template", f"Notices by template (within {ATTRIBUTION_DAYS} days)", "template",
                      notice_performance(cases, lambda n: n.template_id)),
        Table("promises_by_channel", "Promise-kept rate by channel", ("channel", "kept", *_RATE_COLUMNS),
              tuple((ch, *_fmt(promise_kept_rate([_only_promises(c, ch) for c in cases])))
                    for ch in sorted({p.channel for c in cases for p in c.promises})),
              chart=("channel", "rate")),
        _roll_table("roll_rates", f"Roll rates, {period_days}-day periods", [*periods, roll] if periods
                    else [roll], pooled_last=bool(periods)),
    )
    notes = (
        f"Cases opened up to {iso_z(as_of)}; this period is the {period_days} days before.",
        f"Comparisons need at least {min_cases} cases in each group.",
        "The last roll-rate rows pool the periods above them." if periods else
        "Too little history for full periods: the roll rates cover the last period only.",
    )
    return Report(as_of, period_start, summary, counts, variants, tuple(comparisons), roll, tuple(periods),
                  tables, notes, stages, curve)


def _only_promises(case: CaseFacts, channel: str) -> CaseFacts:
    return CaseFacts(case.case_id, case.account_id, case.opened_at, case.due_date, case.strategy_id,
                     case.variant, promises=[p for p in case.promises if p.channel == channel])
