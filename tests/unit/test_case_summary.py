"""The case summary: what a reviewer, a step's conditions and a notice's wording judge from."""

from __future__ import annotations

from dunning.domain.case_summary import EngagementClass
from dunning.domain.models import EntryKind
from tests.support.case_history import History, day


def test_a_customer_who_never_answered_is_never_reached_whatever_was_sent() -> None:
    h = History().notice(day(1), "first_notice").notice(day(3), "sms_3", "SMS").no_answer(day(7))
    h.reply(day(4), "STOP").reply(day(5), "WRONG_NUMBER")  # about the channel, or from someone else
    s = h.summary(day(40))
    assert s.engagement is EngagementClass.NEVER_REACHED
    assert (s.right_party_contacts, s.replies, s.calls_attempted, s.call_conversations) == (0, 2, 1, 0)
    assert s.notices["EMAIL"].sent == 1 and s.notices["SMS"].sent == 1
    assert s.days_past_due == 40


def test_a_promise_then_its_break_is_reached_and_broke_an_arrangement() -> None:
    h = History().promise(day(3)).broken(day(10))
    s = h.summary(day(40))
    assert s.engagement is EngagementClass.BROKE_ARRANGEMENTS
    assert (s.promises_made, s.promises_broken, s.arrangements_broken) == (1, 1, 1)
    assert s.last_right_party_contact_at == day(3) and s.last_broken_at == day(10)


def test_hardship_told_on_a_call_outranks_a_broken_plan() -> None:
    h = History().hardship_call(day(7)).payment(day(14)).broken(day(25), "PLAN_BROKEN")
    s = h.summary(day(40))
    assert s.engagement is EngagementClass.HARDSHIP
    assert s.hardship_declared_at == day(7)
    assert (s.plans_agreed, s.plans_broken, s.payments) == (1, 1, 1)
    assert s.paid is not None and str(s.paid.amount) == "50.00"


def test_a_part_payment_alone_is_engagement() -> None:
    assert History().payment(day(9)).summary(day(20)).engagement is EngagementClass.ENGAGED


def test_a_hardship_hold_from_a_text_counts_as_declared_hardship() -> None:
    h = History().add(EntryKind.HOLD, day(5), status="PAUSED", reason="HARDSHIP", until="2026-11-21T16:00:00Z")
    assert h.summary(day(30)).hardship_declared_at == day(5)


def test_what_travels_on_a_queue_has_no_amount() -> None:
    counts = History().payment(day(9)).summary(day(20)).counts()
    assert "amount_due" not in counts and "paid" not in counts
    assert counts["payments"] == 1 and counts["engagement"] == "ENGAGED" and len(counts["digest"]) == 16


def test_the_digest_changes_with_the_history_not_with_the_clock() -> None:
    h = History().promise(day(3))
    first = h.summary(day(20)).digest()
    assert h.summary(day(23)).digest() == first  # days go by, nothing happens
    h.broken(day(24))
    assert h.summary(day(25)).digest() != first


def test_entries_after_the_instant_summarised_are_not_counted() -> None:
    h = History().promise(day(3)).broken(day(10))
    assert h.summary(day(5)).engagement is EngagementClass.ENGAGED
