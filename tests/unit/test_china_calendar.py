"""Mainland China's holidays as the State Council publishes them: the holidays package lists the
holidays and the days off in lieu, the policy adds what it leaves out (the weekend days inside a
holiday block) and the weekend days worked in exchange (调休), which are never a holiday."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from dunning.domain.compliance import is_holiday
from dunning.domain.policy import default_policy

CN = default_policy().for_jurisdiction("CN")

# The State Council's 2026 calendar: every day off, block by block, and the days worked instead.
BLOCKS_2026 = [(date(2026, 1, 1), 3), (date(2026, 2, 15), 9), (date(2026, 4, 4), 3), (date(2026, 5, 1), 5),
               (date(2026, 6, 19), 3), (date(2026, 9, 25), 3), (date(2026, 10, 1), 7)]
WORKED_2026 = [date(2026, 1, 4), date(2026, 2, 14), date(2026, 2, 28), date(2026, 5, 9), date(2026, 9, 20),
               date(2026, 10, 10)]


def off(day: date) -> bool:
    return is_holiday(CN.holiday_country, day, CN.days_off, CN.working_days)


def test_every_day_of_every_2026_holiday_block_is_off_and_the_exchanged_weekends_are_worked() -> None:
    days_off = [start + timedelta(days=n) for start, length in BLOCKS_2026 for n in range(length)]
    assert len(days_off) == 33 and all(off(d) for d in days_off)
    assert not any(off(d) for d in WORKED_2026)
    # everything else in 2026 is an ordinary day: a weekday to work, a weekend free for contact
    rest = {date(2026, 1, 1) + timedelta(days=n) for n in range(365)} - set(days_off)
    assert not any(off(d) for d in rest)


def test_without_the_policy_the_package_misses_weekend_days_inside_the_blocks() -> None:
    missed = [d for d in (date(2026, 1, 3), date(2026, 2, 15), date(2026, 4, 4), date(2026, 6, 20),
                          date(2026, 9, 27)) if not is_holiday("CN", d)]
    assert missed and set(missed) <= set(CN.days_off)


def test_2027_statutory_holidays_and_days_in_lieu_are_known_before_the_state_council_publishes() -> None:
    for day in (date(2027, 1, 1), date(2027, 2, 6), date(2027, 2, 8), date(2027, 2, 10), date(2027, 4, 5),
                date(2027, 5, 3), date(2027, 6, 9), date(2027, 9, 15), date(2027, 10, 1), date(2027, 10, 5)):
        assert off(day), day
    assert not off(date(2027, 3, 10))


@settings(max_examples=200, deadline=None)
@given(st.dates(min_value=date(2026, 1, 1), max_value=date(2027, 12, 31)),
       st.sets(st.dates(min_value=date(2026, 1, 1), max_value=date(2027, 12, 31)), max_size=6),
       st.sets(st.dates(min_value=date(2026, 1, 1), max_value=date(2027, 12, 31)), max_size=6))
def test_a_day_worked_in_exchange_is_never_a_holiday_and_a_listed_day_off_always_is(
        day: date, days_off: set[date], working: set[date]) -> None:
    if day in working:
        assert not is_holiday("CN", day, days_off, working)
    elif day in days_off:
        assert is_holiday("CN", day, days_off, working)
    # more days off never makes a day less of a holiday
    assert not is_holiday("CN", day, (), working) or is_holiday("CN", day, days_off, working)
