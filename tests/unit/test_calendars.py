"""China's public holidays as policy data: the State Council's breaks and make-up working days
(调休) for 2026, the statutory days for 2027, and what contact, deadlines and call-back slots make
of them."""

from __future__ import annotations

from datetime import UTC, date, datetime

import holidays
import pytest

from dunning.domain.calendars import announced, breaks, days_off, is_working_day, working_days
from dunning.domain.compliance import is_holiday

MAKE_UP_2026 = [date(2026, 1, 4), date(2026, 2, 14), date(2026, 2, 28), date(2026, 5, 9), date(2026, 9, 20),
                date(2026, 10, 10)]


def test_the_2026_notice_agrees_with_the_holidays_package_where_the_package_has_it() -> None:
    listed = holidays.country_holidays("CN", years=2026)
    assert announced("CN", 2026)
    # every day the package lists falls inside a break of the notice ...
    assert set(listed) <= breaks("CN", 2026)
    # ... and the make-up days are the package's weekend working days
    assert working_days("CN", 2026) == frozenset(MAKE_UP_2026)
    assert {d for d in listed.weekend_workdays if d.year == 2026} == set(MAKE_UP_2026)


@pytest.mark.parametrize("day", [date(2026, 2, 15), date(2026, 2, 21), date(2026, 2, 22), date(2026, 10, 4),
                                 date(2026, 1, 3), date(2026, 4, 4), date(2026, 6, 20)])
def test_weekends_inside_a_break_are_days_off_though_the_package_does_not_list_them(day: date) -> None:
    assert day not in holidays.country_holidays("CN", years=2026)
    assert is_holiday("CN", day) and not is_working_day("CN", day)


@pytest.mark.parametrize("day", MAKE_UP_2026)
def test_make_up_days_are_working_days(day: date) -> None:
    assert day.weekday() >= 5
    assert is_working_day("CN", day) and not is_holiday("CN", day)


def test_an_ordinary_weekend_is_neither_a_holiday_nor_a_working_day() -> None:
    saturday = date(2026, 3, 14)
    assert not is_holiday("CN", saturday) and not is_working_day("CN", saturday)


@pytest.mark.parametrize("day", [date(2027, 1, 1), date(2027, 2, 5), date(2027, 2, 8), date(2027, 4, 5),
                                 date(2027, 5, 1), date(2027, 5, 2), date(2027, 6, 9), date(2027, 9, 15),
                                 date(2027, 10, 1), date(2027, 10, 3)])
def test_the_2027_statutory_days_are_holidays(day: date) -> None:
    assert day in days_off("CN", 2027) and is_holiday("CN", day)


def test_2027_is_marked_unannounced_until_its_make_up_days_are_added() -> None:
    assert not announced("CN", 2027) and working_days("CN", 2027) == frozenset()


def test_other_countries_are_the_holidays_package_alone() -> None:
    assert days_off("US", 2026) == frozenset(holidays.country_holidays("US", years=2026))
    assert not announced("US", 2026)


def test_a_deadline_in_business_days_counts_a_make_up_saturday_and_skips_the_spring_festival() -> None:
    from dunning.domain.notices.facts import _add_business_days

    # Fri 13 Feb 2026 + 1 business day: Sat 14 Feb is a make-up working day
    assert _add_business_days(date(2026, 2, 13), 1, "CN") == date(2026, 2, 14)
    # from Sat 14 Feb, the next business day is Tue 24 Feb, after the 9-day break
    assert _add_business_days(date(2026, 2, 14), 1, "CN") == date(2026, 2, 24)


def test_call_back_slots_skip_the_break_and_use_the_make_up_day() -> None:
    from dunning.domain.page_view import callback_slots
    from dunning.domain.policy import default_policy
    from tests.functions.conftest import make_account

    account = make_account(account_id="cn-1", jurisdiction="CN", currency="CNY", locale="zh-CN",
                           time_zones=["Asia/Shanghai"], verification={})
    slots = callback_slots(account, default_policy(), datetime(2026, 2, 12, 1, 0, tzinfo=UTC))
    days = sorted({start.date() for start, _ in slots})  # slots are in the customer's zone
    assert date(2026, 2, 14) in days  # the make-up Saturday
    assert not any(date(2026, 2, 15) <= d <= date(2026, 2, 23) for d in days)
