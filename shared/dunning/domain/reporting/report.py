"""The weekly report: rates over every case so far, the period's counts, champion/challenger
comparisons, roll rates and the tables the HTML page and CSV files show.

Built from ledger entries and accounts as of one instant (see ``facts`` for what a case is and
``rates`` for what each number means).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from dunning.domain.models import Account, LedgerEntry, iso_z
from dunning.domain.reporting.facts import REACHED, CaseFacts, cases_from_ledger
from dunning.domain.reporting.rates import (
    ATTRIBUTION_DAYS,
    CURE_CURVE_DAYS,
    MIN_CASES,
    UPLIFT_DAYS,
    Comparison,
    CurePoint,
    FunnelStage,
    NoticePerformance,
    Rate,
    RollRates,
    compare,
    contact_rate,
    cure_curve,
    cure_rate,
    engaged_referral_share,
    funnel,
    group_by,
    notice_performance,
    plan_completion_rate,
    pooled,
    promise_kept_rate,
    referrals_by_engagement,
    response_rate,
    roll_rates,
    uplift,
)


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


def _referrals_table(groups: dict[str, list[CaseFacts]], everyone: list[CaseFacts]) -> Table:
    """Legal referrals by engagement class beside the cure rate, per variant and overall."""
    columns = ("variant", "cases", "cured", "cure_rate", "referred_to_legal", "never_reached", "engaged",
               "broke_arrangements", "hardship", "engaged_share_of_referrals", "legal_reviews_rejected",
               "specialist_reviews")
    rows = []
    for key, cases in [*groups.items(), ("all", everyone)]:
        cure, split = cure_rate(cases), referrals_by_engagement(cases)
        rows.append((key, len(cases), cure.numerator, _round(cure), sum(split.values()), split["NEVER_REACHED"],
                     split["ENGAGED"], split["BROKE_ARRANGEMENTS"], split["HARDSHIP"],
                     _round(engaged_referral_share(cases)),
                     sum(c.legal_decisions.count("REJECTED") for c in cases),
                     sum(c.specialist_reviews for c in cases)))
    return Table("legal_referrals", "Legal referrals by what the customer had done, beside the cure rate",
                 columns, tuple(rows))


def _round(rate: Rate) -> float | None:
    return None if rate.value is None else round(rate.value, 4)


def _r4(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


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
                 roll_periods: int = 4, min_cases: int = MIN_CASES, uplift_day: int = UPLIFT_DAYS) -> Report:
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
        "referred_after_engaging": engaged_referral_share(cases).numerator,
        "specialist_reviews": sum(c.specialist_reviews for c in cases),
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
    uplifts = uplift(by_variant, holdout, as_of, uplift_day, min_cases) if holdout is not None else ()
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
        Table("uplift", f"Uplift over the no-contact holdout: cured by day {uplift_day} past due "
                        "(Newcombe 95% interval)",
              ("group", "baseline", "day", "group_cured", "group_cases", "group_rate", "holdout_cured",
               "holdout_cases", "holdout_rate", "uplift", "low_95", "high_95", "incremental_cures",
               "incremental_low_95", "incremental_high_95", "significant", "verdict"),
              tuple((u.group, u.baseline, u.day, u.group_rate.numerator, u.group_rate.denominator,
                     _round(u.group_rate), u.baseline_rate.numerator, u.baseline_rate.denominator,
                     _round(u.baseline_rate), _r4(u.uplift), _r4(u.low), _r4(u.high),
                     *((round(x, 1) for x in (u.incremental_cures[1], u.incremental_cures[0],
                                              u.incremental_cures[2])) if u.incremental_cures else (None,) * 3),
                     "" if u.significant is None else ("yes" if u.significant else "no"), u.verdict)
                    for u in uplifts)),
        _rates_table("by_variant", "Rates by variant", "variant", by_variant),
        _referrals_table(by_variant, cases),
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
        f"Uplift compares cures by day {uplift_day} past due with the holdout, which gets no outreach "
        "in that window.",
        "The last roll-rate rows pool the periods above them." if periods else
        "Too little history for full periods: the roll rates cover the last period only.",
    )
    return Report(as_of, period_start, summary, counts, variants, tuple(comparisons), roll, tuple(periods),
                  tables, notes, stages, curve)


def _only_promises(case: CaseFacts, channel: str) -> CaseFacts:
    return CaseFacts(case.case_id, case.account_id, case.opened_at, case.due_date, case.strategy_id,
                     case.variant, promises=[p for p in case.promises if p.channel == channel])
