"""Public holidays and make-up working days per country: the `holidays` package, plus the breaks
and 调休 working days of the bundled calendars (``dunning/policies/calendar-<CC>.yaml``) where the
package lacks them (mainland China's State Council notice).

A day is a day off when either source lists it, unless a calendar makes it a working day: a
make-up Saturday is a working day like any Monday (contact and business days count it).
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml


@lru_cache(maxsize=8)
def _calendar(country: str) -> dict[int, dict[str, Any]]:
    path = resources.files("dunning").joinpath(f"policies/calendar-{country}.yaml")
    if not path.is_file():
        return {}
    data = yaml.safe_load(path.read_text("utf-8")) or {}
    return {int(year): dict(entry) for year, entry in data.items()}


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


@lru_cache(maxsize=64)
def breaks(country: str, year: int) -> frozenset[date]:
    """The calendar's break days in ``year`` (weekends inside a break included)."""
    entry = _calendar(country).get(year, {})
    return frozenset(day for item in entry.get("breaks", []) for day in _days(item["from"], item["to"]))


@lru_cache(maxsize=64)
def working_days(country: str, year: int) -> frozenset[date]:
    """Weekend days the calendar makes working days (调休上班)."""
    return frozenset(_calendar(country).get(year, {}).get("working_days", []))


def announced(country: str, year: int) -> bool:
    """Whether the calendar holds the year's official schedule (make-up days included)."""
    return bool(_calendar(country).get(year, {}).get("announced", False))


@lru_cache(maxsize=64)
def days_off(country: str, year: int) -> frozenset[date]:
    """Every listed holiday of ``country`` in ``year``: the package's and the calendar's breaks,
    less the make-up working days."""
    # Imported here, not at module load: functions that never check a holiday do not pay for it.
    import holidays as holiday_calendars

    listed = frozenset(holiday_calendars.country_holidays(country, years=year).keys())
    return (listed | breaks(country, year)) - working_days(country, year)


def is_working_day(country: str, day: date) -> bool:
    """Monday to Friday, or a make-up day, and not a day off."""
    if day in working_days(country, day.year):
        return True
    return day.weekday() < 5 and day not in days_off(country, day.year)
