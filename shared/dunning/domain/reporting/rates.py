"""What works: cure, roll, contact and response rates, promises and plans, champion vs challenger.

Pure computations over the cases ``facts`` rebuilt from the ledger. Definitions (each a share of
cases unless said otherwise; what makes a case contacted, responded, cured or a promise kept is
said in ``facts``):

- **cure rate**: cases resolved by payment / cases opened. Recent cases have had less time to cure,
  so compare variants, which are assigned at random and share the same mix of case ages, not weeks.
- **contact rate**, **response rate**: cases contacted, cases that responded.
- **promise-kept rate**: promises kept / promises whose outcome is known. Promises still running,
  or replaced by a newer promise before being judged, are left out of the denominator.
- **plan-completion rate**: accepted plans completed / accepted plans with a known outcome.
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
- **legal referrals by engagement**: referred cases split by what the customer had done by then:
  never reached, engaged (reached or paid, nothing broken), broke arrangements, declared hardship;
  the engaged share is every class but the first. Shown per variant beside its cure rate, so a
  plan that refers fewer engaged customers can be seen not to cure fewer.
- **payment after a notice**: like reply and cure, a payment (any amount) within
  ATTRIBUTION_DAYS after a notice is credited to it.

Uplift over the holdout: the holdout gets no outreach at all for its window (``holdout_days``
after the due date), so the share of cases cured by day N past due (N = the window) in a treated
variant against the holdout's is the strategy's true effect: the **uplift** is the difference, with
Newcombe's 95% interval, and the **incremental cures** are that difference times the variant's
cases (with the interval's ends). Only cases observed at least N days count (a case due last week
says nothing about day 30), cured means resolved by payment on or before day N.

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
from dataclasses import dataclass
from datetime import datetime, timedelta

from dunning.domain.case_summary import EngagementClass
from dunning.domain.reporting.facts import REACHED, CaseFacts, NoticeFact

Z95 = 1.959963984540054  # two-sided 95% normal quantile
MIN_CASES = 10  # below this many cases in either group a comparison says nothing
BUCKETS: tuple[str, ...] = ("1-30", "31-60", "61-90", "90+")
ATTRIBUTION_DAYS = 7  # a reply or cure within this many days after a notice is credited to it


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


def dpd_bucket(days_past_due: int) -> str:
    if days_past_due <= 30:
        return BUCKETS[0]
    if days_past_due <= 60:
        return BUCKETS[1]
    if days_past_due <= 90:
        return BUCKETS[2]
    return BUCKETS[3]


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


def referrals_by_engagement(cases: Sequence[CaseFacts]) -> dict[str, int]:
    """Legal referrals split by what the customer had done (domain.case_summary.EngagementClass)."""
    counts = {c.value: 0 for c in EngagementClass}
    for case in cases:
        if case.referred:
            counts[case.engagement.value] += 1
    return counts


def engaged_referral_share(cases: Sequence[CaseFacts]) -> Rate:
    """Of the legal referrals, the share whose customer had engaged (reached, paid, promised ...)."""
    referred = [c for c in cases if c.referred]
    return Rate(sum(c.engagement.engaged for c in referred), len(referred))


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


# --------------------------------------------------------------------------- uplift over the holdout

UPLIFT_DAYS = 30  # the default holdout window


@dataclass(frozen=True)
class Uplift:
    """A treated group against the no-contact holdout, by day ``day`` past due."""

    group: str
    baseline: str
    day: int
    group_rate: Rate  # cured by day `day`, of the group's cases observed that long
    baseline_rate: Rate
    uplift: float | None  # group minus holdout, as a proportion
    low: float | None
    high: float | None
    incremental_cures: tuple[float, float, float] | None  # (low, estimate, high) cures the outreach added
    significant: bool | None
    verdict: str


def cured_by_day(cases: Sequence[CaseFacts], as_of: datetime, day: int) -> Rate:
    """Cases cured on or before day ``day`` past due, of those observed at least that long."""
    observed = [c for c in cases if c.due_date is not None and (as_of.date() - c.due_date).days >= day]
    cured = sum(1 for c in observed if c.cured and (d := _exit_day(c)) is not None and d <= day)
    return Rate(cured, len(observed))


def uplift(groups: dict[str, list[CaseFacts]], holdout: str, as_of: datetime, day: int = UPLIFT_DAYS,
           min_cases: int = MIN_CASES) -> tuple[Uplift, ...]:
    """Each variant's uplift over the holdout by day ``day`` (see the module docstring)."""
    if holdout not in groups:
        return ()
    base = cured_by_day(groups[holdout], as_of, day)
    out = []
    for name, cases in groups.items():
        if name == holdout:
            continue
        rate = cured_by_day(cases, as_of, day)
        c = compare(name, rate, holdout, base, min_cases)
        n = rate.denominator
        extra = None if c.difference is None or c.low is None or c.high is None else (
            c.low * n, c.difference * n, c.high * n)
        verdict = f"By day {day} past due: {c.verdict}"
        if extra is not None:
            verdict += (f" On {n} cases that is {extra[1]:+.1f} cures from the outreach "
                        f"(95% interval {extra[0]:+.1f} to {extra[2]:+.1f}).")
        out.append(Uplift(name, holdout, day, rate, base, c.difference, c.low, c.high, extra, c.significant,
                          verdict))
    return tuple(out)


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


