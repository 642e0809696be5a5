"""The weekly report splits legal referrals by what the customer had done, beside the cure rate."""

from __future__ import annotations

from dunning.domain.models import EntryKind
from dunning.domain.reporting.report import build_report
from tests.support.case_history import History, day


def case(account: str, variant: str) -> History:
    h = History(f"{account}-20261102")
    h.entries.clear()
    return h.add(EntryKind.CASE_OPENED, day(1), variant=variant, strategy_id="standard", due_date="2026-11-02")


def test_referrals_by_engagement_class_and_cure_rate_per_variant() -> None:
    never = case("a1", "champion").add(EntryKind.CASE_CLOSED, day(41), status="REFERRED_TO_LEGAL")
    broke = (case("a2", "champion").promise(day(3)).broken(day(10)).promise(day(12)).broken(day(20))
             .add(EntryKind.CASE_CLOSED, day(45), status="REFERRED_TO_LEGAL"))
    cured = case("a3", "champion").payment(day(4)).add(EntryKind.CASE_CLOSED, day(4), status="RESOLVED")
    late_answer = case("a4", "challenger").add(EntryKind.CASE_CLOSED, day(41), status="REFERRED_TO_LEGAL")
    late_answer.reply(day(43), "OTHER")  # after the referral: the class is what was known at the time
    specialist = (case("a5", "challenger").hardship_call(day(7))
                  .add(EntryKind.SPECIALIST, day(40), event="REVIEW_REQUESTED")
                  .add(EntryKind.SPECIALIST, day(40), event="DECIDED", decision="NO_LEGAL_REVIEW"))
    entries = [e for h in (never, broke, cured, late_answer, specialist) for e in h.entries]
    report = build_report(entries, [], day(60))
    table = next(t for t in report.tables if t.name == "legal_referrals")
    rows = {r[0]: dict(zip(table.columns, r, strict=True)) for r in table.rows}
    assert rows["champion"]["cure_rate"] == round(1 / 3, 4) and rows["champion"]["referred_to_legal"] == 2
    assert (rows["champion"]["never_reached"], rows["champion"]["broke_arrangements"]) == (1, 1)
    assert rows["challenger"]["never_reached"] == 1 and rows["challenger"]["specialist_reviews"] == 1
    assert rows["all"]["engaged_share_of_referrals"] == round(1 / 3, 4)
    assert report.counts["referred_after_engaging"] == 1 and report.counts["specialist_reviews"] == 1
