"""The weekly report's numbers, worked out by hand on small ledgers, and what it renders."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dunning.domain.ledger import new_entry
from dunning.domain.models import EntryKind, LedgerEntry
from dunning.domain.reporting.facts import cases_from_ledger
from dunning.domain.reporting.rates import (
    Rate,
    compare,
    contact_rate,
    cure_curve,
    cure_rate,
    dpd_bucket,
    funnel,
    newcombe_interval,
    notice_performance,
    plan_completion_rate,
    promise_kept_rate,
    response_rate,
    roll_rates,
    wilson_interval,
)
from dunning.domain.reporting.render import render_files, render_html
from dunning.domain.reporting.report import build_report
from sandbox.cli import main

FIXTURE_DUMP = Path(__file__).resolve().parents[1] / "fixtures" / "report_dump"
T0 = datetime(2026, 11, 3, 15, 0, tzinfo=UTC)


class CaseLedger:
    """A hash-chained ledger for one case, written the way the services write it."""

    def __init__(self, account_id: str, due: date, *, variant: str = "champion", strategy: str = "standard",
                 opened: datetime = T0) -> None:
        self.case_id = f"{account_id}-{due:%Y%m%d}"
        self.entries: list[LedgerEntry] = []
        self.add(EntryKind.CASE_OPENED, opened, strategy_id=strategy, variant=variant, policy_version="p1",
                 due_date=due.isoformat(), days_past_due_at_open=(opened.date() - due).days)

    def add(self, kind: EntryKind, at: datetime, **data: Any) -> CaseLedger:
        prev = self.entries[-1] if self.entries else None
        self.entries.append(new_entry(self.case_id, prev, at, kind, data))
        return self

    def notice(self, at: datetime, step: str, channel: str = "EMAIL", status: str = "SENT",
               template: str = "first_notice") -> CaseLedger:
        return self.add(EntryKind.NOTICE, at, step_id=step, channel=channel, template_id=template,
                        status=status)

    def cured(self, at: datetime) -> CaseLedger:
        return self.add(EntryKind.CASE_CLOSED, at, status="RESOLVED", reasons=["PAID"])


def ledger_of(*cases: CaseLedger) -> list[LedgerEntry]:
    return [e for c in cases for e in c.entries]


def days(n: float) -> timedelta:
    return timedelta(days=n)


# --------------------------------------------------------------------------- statistics


def test_wilson_interval_for_4_of_10_matches_the_hand_computation() -> None:
    # p = 0.4, z^2 = 3.8415: centre (0.4 + 0.19207) / 1.38415 = 0.42775,
    # half 1.95996 * sqrt(0.024 + 0.0096037) / 1.38415 = 0.25957 -> [0.168, 0.687]
    low, high = wilson_interval(4, 10)
    assert (round(low, 3), round(high, 3)) == (0.168, 0.687)


def test_ten_cases_four_cured_is_a_cure_rate_of_0_4() -> None:
    ledgers = [CaseLedger(f"acc-{i}", date(2026, 11, 2)) for i in range(10)]
    for ledger in ledgers[:4]:
        ledger.cured(T0 + days(3))
    rate = cure_rate(cases_from_ledger(ledger_of(*ledgers)))
    assert (rate.numerator, rate.denominator, rate.value) == (4, 10, 0.4)


def test_a_small_difference_on_small_groups_is_reported_not_significant() -> None:
    result = compare("challenger", Rate(2, 20), "holdout", Rate(1, 10))
    assert result.significant is False
    assert result.difference == pytest.approx(0.0)
    assert result.low is not None and result.high is not None and result.low < 0 < result.high
    assert "No significant difference" in result.verdict and "includes zero" in result.verdict


def test_a_real_difference_on_a_large_sample_is_significant() -> None:
    # Wilson 300/1000 = [0.27241, 0.32912], 200/1000 = [0.17638, 0.22592];
    # low 0.1 - sqrt(0.02759^2 + 0.02592^2) = 0.0621, high 0.1 + sqrt(0.02912^2 + 0.02362^2) = 0.1375
    result = compare("champion", Rate(300, 1000), "holdout", Rate(200, 1000))
    assert result.significant is True
    assert result.low is not None and result.high is not None
    assert (round(result.low, 4), round(result.high, 4)) == (0.0621, 0.1375)
    assert result.verdict.startswith("Significant: champion cures more cases than holdout (+10.0 points")


def test_a_worse_variant_is_called_worse() -> None:
    result = compare("challenger", Rate(150, 1000), "champion", Rate(300, 1000))
    assert result.significant is True and "cures fewer cases than champion" in result.verdict


def test_too_small_a_sample_says_nothing_can_be_concluded() -> None:
    result = compare("challenger", Rate(4, 5), "holdout", Rate(0, 4))
    assert result.significant is None and result.low is None
    assert result.verdict.startswith("Too few cases to say anything yet")


def test_newcombe_interval_is_symmetric_under_swapping_the_groups() -> None:
    low, high = newcombe_interval(7, 25, 3, 30)
    swapped_low, swapped_high = newcombe_interval(3, 30, 7, 25)
    assert (low, high) == pytest.approx((-swapped_high, -swapped_low))


# --------------------------------------------------------------------------- roll rates


def test_dpd_buckets_have_their_documented_edges() -> None:
    assert [dpd_bucket(d) for d in (0, 1, 30, 31, 60, 61, 90, 91, 400)] == [
        "1-30", "1-30", "1-30", "31-60", "31-60", "61-90", "61-90", "90+", "90+"]


def test_roll_rate_on_three_hand_made_cases() -> None:
    start = datetime(2026, 11, 10, 12, tzinfo=UTC)
    end = start + days(7)
    rolls = CaseLedger("acc-a", date(2026, 10, 13), opened=start - days(27))  # 28 dpd -> 35 at the end
    stays = CaseLedger("acc-b", date(2026, 10, 31), opened=start - days(9))  # 10 dpd -> 17
    # 25 dpd, paid during the week
    cures = CaseLedger("acc-c", date(2026, 10, 16), opened=start - days(24)).cured(start + days(4))
    result = roll_rates(cases_from_ledger(ledger_of(rolls, stays, cures)), start, end)
    first = result.rows[0]
    assert (first.bucket, first.start, first.next, first.same, first.cured) == ("1-30", 3, 1, 1, 1)
    assert first.roll_rate == Rate(1, 3)
    assert all(r.start == 0 for r in result.rows[1:])
    assert result.rows[-1].roll_rate is None  # 90+ has nowhere further to roll


def test_a_case_opened_after_the_period_start_is_not_in_its_roll_rate() -> None:
    start = datetime(2026, 11, 10, 12, tzinfo=UTC)
    late = CaseLedger("acc-late", date(2026, 11, 9), opened=start + days(1))
    assert roll_rates(cases_from_ledger(late.entries), start, start + days(7)).rows[0].start == 0


# --------------------------------------------------------------------------- contact, response, promises


def test_contact_and_response_rates_count_what_reached_and_what_answered() -> None:
    due = date(2026, 11, 2)
    sent = CaseLedger("acc-1", due).notice(T0, "first_notice")
    failed = CaseLedger("acc-2", due).notice(T0, "first_notice", status="FAILED")
    bounced = (CaseLedger("acc-3", due).notice(T0, "first_notice")
               .add(EntryKind.DELIVERY, T0 + days(0.1), step_id="first_notice", notice_status="BOUNCED"))
    talked = CaseLedger("acc-4", due).add(EntryKind.CALL_OUTCOME, T0, outcome="PROMISE")
    no_answer = CaseLedger("acc-5", due).add(EntryKind.CALL_OUTCOME, T0, outcome="NO_ANSWER")
    replied = (CaseLedger("acc-6", due).notice(T0, "sms_3", channel="SMS")
               .add(EntryKind.REPLY, T0 + days(1), intent="HARDSHIP", channel="SMS"))
    cases = cases_from_ledger(ledger_of(sent, failed, bounced, talked, no_answer, replied))
    assert contact_rate(cases) == Rate(3, 6)  # sent, talked, replied's SMS
    assert response_rate(cases) == Rate(2, 6)  # the conversation and the reply


def test_promises_kept_broken_and_pending() -> None:
    due = date(2026, 11, 2)
    kept = (CaseLedger("acc-1", due).add(EntryKind.REPLY, T0, intent="PROMISE", channel="SMS")
            .add(EntryKind.PROMISE, T0, promised_on="2026-11-10", amount="437.5", currency="USD")
            .add(EntryKind.DECISION, T0 + days(8), action="WAIT", reasons=["NEXT_STEP_LATER"],
                 details=["PROMISE_KEPT"]))
    paid = (CaseLedger("acc-2", due).add(EntryKind.PROMISE, T0, promised_on="2026-11-10")
            .cured(T0 + days(5)))
    broken = (CaseLedger("acc-3", due).add(EntryKind.CALL_OUTCOME, T0, outcome="PROMISE")
              .add(EntryKind.PROMISE, T0, promised_on="2026-11-10")
              .add(EntryKind.DECISION, T0 + days(9), action="SEND", reasons=["STEP_DUE"],
                   details=["PROMISE_BROKEN"]))
    pending = CaseLedger("acc-4", due).add(EntryKind.PROMISE, T0, promised_on="2026-11-20")
    cases = cases_from_ledger(ledger_of(kept, paid, broken, pending))
    assert promise_kept_rate(cases) == Rate(2, 3)
    channels = {p.channel for c in cases for p in c.promises}
    assert channels == {"SMS", "CALL", "ADMIN"}


def test_plan_completion_counts_accepted_plans_with_an_outcome() -> None:
    due = date(2026, 11, 2)

    def plan(ledger: CaseLedger, status: str, at: datetime) -> CaseLedger:
        return ledger.add(EntryKind.PLAN, at, plan_id="P1", status=status)

    completed = plan(plan(CaseLedger("acc-1", due), "OFFERED", T0), "ACTIVE", T0 + days(1)).add(
        EntryKind.DECISION, T0 + days(30), action="CLOSE", reasons=["PLAN_COMPLETED"]).cured(T0 + days(30))
    broken = plan(plan(CaseLedger("acc-2", due), "OFFERED", T0), "ACTIVE", T0 + days(1)).add(
        EntryKind.DECISION, T0 + days(12), action="SEND", reasons=["STEP_DUE"], details=["PLAN_BROKEN"])
    declined = plan(CaseLedger("acc-3", due), "OFFERED", T0)
    running = plan(plan(CaseLedger("acc-4", due), "OFFERED", T0), "ACTIVE", T0 + days(1))
    cases = cases_from_ledger(ledger_of(completed, broken, declined, running))
    assert plan_completion_rate(cases) == Rate(1, 2)


def test_entries_after_the_report_instant_are_ignored() -> None:
    ledger = CaseLedger("acc-1", date(2026, 11, 2)).cured(T0 + days(10))
    assert cure_rate(cases_from_ledger(ledger.entries, as_of=T0 + days(5))) == Rate(0, 1)
    assert cure_rate(cases_from_ledger(ledger.entries, as_of=T0 + days(11))) == Rate(1, 1)


def test_pseudo_cases_without_case_opened_are_not_collection_cases() -> None:
    record = new_entry("INBOUND-acc-9", None, T0, EntryKind.REPLY, {"intent": "OTHER", "channel": "SMS"})
    assert cases_from_ledger([record]) == []


def test_notice_performance_credits_replies_and_cures_within_the_window() -> None:
    due = date(2026, 11, 2)
    quick = (CaseLedger("acc-1", due).notice(T0, "sms_3", channel="SMS", template="overdue_reminder")
             .add(EntryKind.REPLY, T0 + days(1), intent="PAID", channel="SMS").cured(T0 + days(2)))
    slow = CaseLedger("acc-2", due).notice(T0, "sms_3", channel="SMS", template="overdue_reminder").cured(
        T0 + days(20))
    rows = notice_performance(cases_from_ledger(ledger_of(quick, slow)), lambda n: n.step_id)
    assert [(r.key, r.sent, r.responded, r.cured) for r in rows] == [("sms_3", 2, 1, 1)]


# --------------------------------------------------------------------------- the report


def portfolio() -> list[LedgerEntry]:
    """30 champion cases (12 cured), 30 challenger (15 cured), 10 holdout (2 cured)."""
    ledgers = []
    for variant, total, cured in (("champion", 30, 12), ("challenger", 30, 15), ("holdout", 10, 2)):
        for i in range(total):
            ledger = CaseLedger(f"{variant}-{i}", date(2026, 10, 20), variant=variant,
                                strategy={"challenger": "sms_first", "holdout": "minimum_contact"}.get(
                                    variant, "standard"), opened=T0 - days(14))
            ledger.notice(T0 - days(13), "first_notice")
            if i < cured:
                ledger.cured(T0 - days(10) + days(i % 7))
            ledgers.append(ledger)
    return ledger_of(*ledgers)


def test_the_report_compares_each_variant_with_the_holdout_and_the_challenger_with_the_champion() -> None:
    report = build_report(portfolio(), [], T0 + days(7))
    assert report.variants["champion"] == Rate(12, 30)
    assert report.variants["holdout"] == Rate(2, 10)
    pairs = [(c.group, c.baseline) for c in report.comparisons]
    assert pairs == [("challenger", "holdout"), ("champion", "holdout"), ("challenger", "champion")]
    assert all(c.significant is False for c in report.comparisons)  # 70 cases cannot settle 10-point gaps
    assert report.summary["cure_rate"] == Rate(29, 70)


def test_html_is_self_contained_with_charts_and_no_external_reference() -> None:
    html = render_html(build_report(portfolio(), [], T0 + days(7)))
    assert html.count("<svg") >= 3 and "<rect" in html
    assert "http" not in html.lower()
    assert not re.search(r"<(script|link|img|iframe)\b", html, re.I)
    assert not re.search(r"\b(src|href)\s*=", html, re.I)
    assert "No significant difference" in html


def test_csv_files_hold_the_tables() -> None:
    files = render_files(build_report(portfolio(), [], T0 + days(7)))
    assert {"report.html", "variants.csv", "comparisons.csv", "roll_rates.csv", "by_step.csv",
            "by_channel.csv", "by_template.csv", "summary.csv"} <= set(files)
    lines = files["variants.csv"].splitlines()
    assert lines[0] == "variant,cured,cases,rate,low_95,high_95"
    assert "champion,12,30,0.4000" in files["variants.csv"]


def test_report_text_is_escaped() -> None:
    ledger = CaseLedger("acc-1", date(2026, 11, 2), variant="<b>v</b>")
    html = render_html(build_report(ledger.entries, [], T0 + days(1)))
    assert "<b>v</b>" not in html and "&lt;b&gt;v&lt;/b&gt;" in html


def test_dunning_report_builds_the_report_from_a_dump(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out" / "weekly.html"
    assert main(["report", "--dump", str(FIXTURE_DUMP), "--out", str(out), "--csv"]) == 0
    html = out.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html
    assert (tmp_path / "out" / "variants.csv").exists()
    printed = capsys.readouterr().out
    assert "cure rate" in printed and f"report written to {out}" in printed


def test_dunning_report_without_a_dump_says_what_is_missing(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--dump", str(tmp_path)]) == 1
    assert "ledger.jsonl not found" in capsys.readouterr().err


# --------------------------------------------------------------------------- funnel and cure curve


def test_funnel_counts_each_stage_on_its_own() -> None:
    due = date(2026, 11, 2)
    answered = (CaseLedger("acc-1", due).notice(T0, "sms_1", channel="SMS")
                .add(EntryKind.REPLY, T0 + days(1), intent="PROMISE", channel="SMS")
                .add(EntryKind.PROMISE, T0 + days(1), promised_on="2026-11-09").cured(T0 + days(6)))
    silent_payer = CaseLedger("acc-2", due).notice(T0, "email_1", status="DELIVERED").cured(T0 + days(2))
    bounced = CaseLedger("acc-3", due).notice(T0, "email_1", status="BOUNCED")
    referred = CaseLedger("acc-4", due).add(EntryKind.CASE_CLOSED, T0 + days(30), status="REFERRED_TO_LEGAL")
    stages = funnel(cases_from_ledger(ledger_of(answered, silent_payer, bounced, referred)), accounts=10)
    assert [(s.stage, s.count) for s in stages] == [
        ("accounts", 10), ("cases_opened", 4), ("contacted", 2), ("responded", 1), ("promise_or_plan", 1),
        ("cured", 2), ("referred_to_legal", 1)]


def test_funnel_without_a_portfolio_size_starts_at_cases_opened() -> None:
    stages = funnel(cases_from_ledger(CaseLedger("acc-1", date(2026, 11, 2)).entries))
    assert stages[0].stage == "cases_opened"


def test_a_pre_due_reminder_record_is_not_a_collection_case() -> None:
    pre = new_entry("PRE-acc-1-20261102", None, T0, EntryKind.CASE_OPENED,
                    {"pre_due": True, "strategy_id": "standard", "variant": "champion",
                     "due_date": "2026-11-02"})
    real = CaseLedger("acc-1", date(2026, 11, 2))
    assert [c.case_id for c in cases_from_ledger([pre, *real.entries])] == ["acc-1-20261102"]


def test_cure_curve_with_every_case_observed_is_cured_by_day_n_over_cases() -> None:
    due = date(2026, 11, 1)
    opened = datetime(2026, 11, 2, 6, tzinfo=UTC)
    day = lambda n: datetime(2026, 11, 1, 15, tzinfo=UTC) + days(n)  # noqa: E731
    ledgers = [CaseLedger("acc-1", due, opened=opened).cured(day(4)),
               CaseLedger("acc-2", due, opened=opened).cured(day(10)),
               CaseLedger("acc-3", due, opened=opened).add(EntryKind.CASE_CLOSED, day(20),
                                                           status="REFERRED_TO_LEGAL"),
               CaseLedger("acc-4", due, opened=opened)]
    as_of = datetime(2026, 12, 1, 0, tzinfo=UTC)  # day 30 past due
    curve = cure_curve(cases_from_ledger(ledger_of(*ledgers)), as_of)
    share = {p.day: p.share for p in curve}
    assert len(curve) == 61
    assert share[3] == 0.0 and share[4] == 0.25 and share[9] == 0.25
    assert share[10] == 0.5 and share[30] == 0.5  # 2 of 4 cured by day 10; the referral is no cure
    assert [(p.at_risk, p.cured_today, p.cured_so_far) for p in curve if p.day in (4, 10, 21)] == [
        (4, 1, 1), (3, 1, 2), (1, 0, 2)]
    assert share[31] is None  # no case has been observed 31 days past due yet


def test_cure_curve_counts_a_recent_case_only_for_the_days_it_was_seen() -> None:
    # acc-1 cured on day 2; acc-2 still open after 7 days; acc-3 became due later and is seen 3 days.
    # Day 2: 1 cure among 3 open cases -> 1/3. Afterwards only acc-2 (and acc-3 up to day 3) remain
    # open and uncured, so the share stays 1/3 (counting only cases seen 5 days would say 1/2).
    t = lambda d, n: datetime(d.year, d.month, d.day, 15, tzinfo=UTC) + days(n)  # noqa: E731
    early, late = date(2026, 11, 1), date(2026, 11, 5)
    ledgers = [CaseLedger("acc-1", early, opened=t(early, 1)).cured(t(early, 2)),
               CaseLedger("acc-2", early, opened=t(early, 1)),
               CaseLedger("acc-3", late, opened=t(late, 1))]
    curve = cure_curve(cases_from_ledger(ledger_of(*ledgers)), datetime(2026, 11, 8, 12, tzinfo=UTC))
    assert curve[2].share == pytest.approx(1 / 3) and curve[2].at_risk == 3
    assert curve[5].share == pytest.approx(1 / 3) and curve[5].at_risk == 1
    assert curve[8].share is None


def test_a_payment_within_the_window_is_credited_to_the_notice() -> None:
    due = date(2026, 11, 2)
    part = (CaseLedger("acc-1", due).notice(T0, "sms_1", channel="SMS")
            .add(EntryKind.PAYMENT, T0 + days(3), payment_id="p1", amount="10.00", currency="USD"))
    late = (CaseLedger("acc-2", due).notice(T0, "sms_1", channel="SMS")
            .add(EntryKind.PAYMENT, T0 + days(9), payment_id="p2", amount="10.00", currency="USD"))
    rows = notice_performance(cases_from_ledger(ledger_of(part, late)), lambda n: n.channel)
    assert [(r.key, r.sent, r.paid, r.cured) for r in rows] == [("SMS", 2, 1, 0)]


def test_html_shows_the_funnel_the_cure_curve_and_the_variants() -> None:
    html = render_html(build_report(portfolio(), [], T0 + days(7)))
    for section in ("funnel", "cure_curve", "champion_challenger", "variants", "by_channel"):
        assert f'<section id="{section}">' in html
    assert "<polyline" in html  # the cure curve is drawn
    assert "http" not in html.lower() and "<script" not in html.lower()
    funnel_csv = render_files(build_report(portfolio(), [], T0 + days(7)))["funnel.csv"]
    assert funnel_csv.splitlines()[1:3] == ["cases_opened,70,1.0000", "contacted,70,1.0000"]
