"""Dates in a customer's reply, as the customer meant them (pure, no I/O).

Longer than most modules: this docstring specifies every date form read, beside the one rule table doing it.

Every date is resolved against the customer's *local* date in their IANA time zone, never the UTC
date, and a date before that local today is never returned. The text is a reply already through
``reply_text.normalise``.

Exact days:

- "today", "tonight", "now", "right now", "by end of day"; 今天, 今晚, 现在, 马上: today.
- "tomorrow" (and "tmrw", "2morrow"), "day after tomorrow", "in 3 days", "within 3 days", "3 days from
  now", "in two weeks"; 明天, 明儿, 后天, 大后天, "3天后", "三天内", "两周后".
- "Friday" / "coming Friday" / "by Fri" / 周五 / 星期五 / 礼拜五: the next Friday strictly after today (a
  customer writing "Friday" on a Friday means next week's, they would say "today" otherwise); when
  the message also says "today" and today is that weekday, it is today.
- "this Friday": the next Friday on or after today. 这周五 / 本周五: Friday of the current week
  (weeks start on Monday), no date if it has already passed.
- "next Friday" / "Friday next week" / 下周五 / 下个礼拜五: the Friday of next week, weeks starting on
  Monday. Said on a Wednesday, "next Friday" is nine days away, not two; said on a Sunday, "next
  Monday" is tomorrow. 下下周五 is the Friday of the week after next.
- "15th" / "on the 15th" / "by the 15" / 15号 / 15日 / 十五号: that day of this month if it has not
  passed (today counts), else of next month; a day the month lacks (31st in a 30-day month) is
  clamped to the month's last day. "the 15th of next month" / "next month on the 10th" / 下个月15号:
  always next month, clamped the same way. "the first of the month": the 1st, the same way.
- "December 5th", "5th of Dec", 12月5日: this year if not passed, else next year, clamped the same way;
  with a year (2026-12-05, 2026年12月5日, 12/5/2026) it is exact, and no date if invalid or past.
- Slashed dates follow the customer's convention: month first ("12/10" is 10 December) for the
  United States, China, Taiwan, Japan, Korea and the Philippines and for any locale of theirs, day
  first ("12/10" is 12 October) elsewhere (Europe/London, en-GB, zh-HK). A locale, when given,
  decides; else the time zone; else month first (both home markets write it so). A slashed date
  that has only one valid reading ("25/12") is read that way whatever the convention.

Spans resolve to their *last* day, the day by which the customer said they would have paid (a
kept-promise check then waits for the whole span, and nobody is chased inside it):

- "this weekend", "the weekend", "by the end of the week", "this week", 周末, 这周末, 本周: Sunday of this
  week (today on a Sunday); "next weekend", "next week", "end of next week", 下周, 下周末: Sunday of
  next week.
- "end of the month", "month end", "EOM", 月底, 月末, 这个月底: the last day of this month; "end of next
  month", 下个月底: the last day of next month; "end of the year", 年底: 31 December.
- "beginning of next month", "early next month", 下个月初, 月初: the 5th (the first days of a month);
  上旬 the 10th, 中旬 the 20th, 下旬 the last day; "mid-month", 月中: the 15th.

Vague spans are no date: "next month" / 下个月 alone, "in a few days", "soon", 过两天, "payday". Past
expressions ("yesterday", "last Friday", "3 days ago", 上周五, 上个月15号, 三天前) are recognised and name no
day, so "paid last Friday" is never read as next Friday. "Now", "right away", 马上 are today, unless a
day comes earlier in the sentence ("I get paid Friday, I'll pay right away" means Friday).

``date_mentions`` lists every date expression in reading order (non-overlapping; at one position
the longest wins) with its resolved day, so the reader can tie each to its clause.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dunning.domain.lazy_regex import LazyRegex, lazy
from dunning.domain.models import to_utc

DateOrder = Literal["month-first", "day-first"]

_DAY = r"(3[01]|[12][0-9]|0?[1-9])"
_CN_NUMBER = r"[0-9]{1,4}|[零〇一二两三四五六七八九十]{1,3}"
_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4,
              "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_WORD_NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
                 "seven": 7, "eight": 8, "nine": 9, "ten": 10, "a couple of": 2, "a couple": 2, "couple of": 2}
_MONTHS = {"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9,
           "oct": 10, "nov": 11, "dec": 12}
_MONTH = (r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
          r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
_EN_WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
# Full names and unambiguous short forms anywhere; "mon", "sat", "sun" only after a word that makes them days.
_WEEKDAY = (r"(monday|tuesday|wednesday|thursday|friday|saturday|sunday|tues?|weds?|thu(?:rs?)?|fri"
            r"|(?<=on |by |xt |is |ng |il )(?:mon|sat|sun))")
_ZH_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6,
                "1": 0, "2": 1, "3": 2, "4": 3, "5": 4, "6": 5, "7": 6}
_TODAY_WORDS = lazy(r"\b(?:today|tonight)\b|今天|今日|今晚")
_MAX_DAYS_AHEAD = 3660  # "in 99999 days" is not a promise

# Where "12/10" is 10 December. Everywhere else writes the day first.
_MONTH_FIRST_ZONES = frozenset({
    "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles", "America/Phoenix",
    "America/Anchorage", "America/Juneau", "America/Sitka", "America/Metlakatla", "America/Yakutat",
    "America/Nome", "America/Adak", "America/Boise", "America/Detroit", "America/Menominee",
    "America/Indianapolis", "America/Louisville", "America/Puerto_Rico", "Pacific/Honolulu", "Pacific/Guam",
    "Asia/Shanghai", "Asia/Chongqing", "Asia/Chungking", "Asia/Harbin", "Asia/Urumqi", "Asia/Kashgar",
    "Asia/Taipei", "Asia/Tokyo", "Asia/Seoul", "Asia/Manila", "PRC", "ROC", "ROK", "Japan", "UTC", "Etc/UTC",
})
_MONTH_FIRST_ZONE_PREFIXES = ("America/Indiana/", "America/Kentucky/", "America/North_Dakota/", "US/")
_MONTH_FIRST_LOCALES = ("en-us", "en_us", "zh-cn", "zh_cn", "zh-hans", "zh-sg", "zh-tw", "zh_tw", "zh-hant-tw",
                        "ja", "ko", "en-ph", "fil")


def date_order(time_zone: str, locale: str | None = None) -> DateOrder:
    """How this customer writes "12/10": the locale decides when given, else the time zone."""
    if locale:
        folded = locale.casefold()
        if folded in ("zh", "en") or folded.startswith(_MONTH_FIRST_LOCALES):
            return "month-first"
        return "day-first"
    if time_zone in _MONTH_FIRST_ZONES or time_zone.startswith(_MONTH_FIRST_ZONE_PREFIXES):
        return "month-first"
    return "day-first"


def local_today(now: datetime, time_zone: str) -> date:
    """The customer's calendar date at ``now`` (an aware instant) in their IANA time zone."""
    try:
        zone = ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError("unknown IANA time zone") from exc
    return to_utc(now).astimezone(zone).date()


# --------------------------------------------------------------------------- arithmetic


def _cn_int(token: str) -> int | None:
    """Digits or a Chinese numeral up to 99 (十五, 二十, 三十一, 两)."""
    if token.isascii():
        return int(token) if token.isdigit() else None
    if "十" not in token:
        return _CN_DIGITS.get(token) if len(token) == 1 else None
    tens, _, ones = token.partition("十")
    tens_value = _CN_DIGITS.get(tens, -1) if tens else 1
    ones_value = _CN_DIGITS.get(ones, -1) if ones else 0
    if tens_value < 0 or ones_value < 0 or "十" in ones:
        return None
    return tens_value * 10 + ones_value


def _clamped(year: int, month: int, day: int) -> date:
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def _next_month(today: date) -> tuple[int, int]:
    return (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)


def _day_of_month(day: int | None, today: date) -> date | None:
    if day is None or not 1 <= day <= 31:
        return None
    this_month = _clamped(today.year, today.month, day)
    if this_month >= today:
        return this_month
    return _clamped(*_next_month(today), day)


def _day_of_next_month(day: int | None, today: date) -> date | None:
    if day is None or not 1 <= day <= 31:
        return None
    return _clamped(*_next_month(today), day)


def _month_day(month: int | None, day: int | None, today: date) -> date | None:
    if month is None or day is None or not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    this_year = _clamped(today.year, month, day)
    return this_year if this_year >= today else _clamped(today.year + 1, month, day)


def _exact(year: int, month: int | None, day: int | None) -> date | None:
    if month is None or day is None:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _days_ahead(count: int | None, unit_days: int, today: date) -> date | None:
    if count is None or count * unit_days > _MAX_DAYS_AHEAD:
        return None
    return today + timedelta(days=count * unit_days)


def _next_weekday(today: date, weekday: int, *, include_today: bool) -> date:
    ahead = (weekday - today.weekday()) % 7
    if ahead == 0 and not include_today:
        ahead = 7
    return today + timedelta(days=ahead)


def _weekday_of_week(today: date, weekday: int, weeks_ahead: int) -> date:
    monday = today - timedelta(days=today.weekday())
    return monday + timedelta(weeks=weeks_ahead, days=weekday)


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


# --------------------------------------------------------------------------- resolvers

# resolvers take the match, the local today, the whole normalised text and the slash-date convention
_Resolver = Callable[[re.Match[str], date, str, DateOrder], date | None]


def _resolve_iso(m: re.Match[str], today: date, text: str, order: DateOrder) -> date | None:
    return _exact(int(m[1]), int(m[2]), int(m[3]))


def _resolve_zh_full(m: re.Match[str], today: date, text: str, order: DateOrder) -> date | None:
    return _exact(int(m[1]), _cn_int(m[2]), _cn_int(m[3]))


def _resolve_zh_month_day(m: re.Match[str], today: date, text: str, order: DateOrder) -> date | None:
    return _month_day(_cn_int(m[1]), _cn_int(m[2]), today)


def _resolve_slashed(m: re.Match[str], today: date, text: str, order: DateOrder) -> date | None:
    first, second = int(m[1]), int(m[2])
    month, day = (first, second) if order == "month-first" else (second, first)
    if month > 12 >= day:  # only one reading is a date
        month, day = day, month
    if m[3] is None:
        return _month_day(month, day, today)
    year = int(m[3])
    return _exact(year + 2000 if year < 100 else year, month, day)


def _resolve_month_name_day(m: re.Match[str], today: date, text: str, order: DateOrder) -> date | None:
    return _month_day(_MONTHS[m[1][:3]], int(m[2]), today)


def _resolve_day_month_name(m: re.Match[str], today: date, text: str, order: DateOrder) -> date | None:
    return _month_day(_MONTHS[m[2][:3]], int(m[1]), today)


def _resolve_day(m: re.Match[str], today: date, text: str, order: DateOrder) -> date | None:
    return _day_of_month(_cn_int(m[1]), today)


def _resolve_next_month_day(m: re.Match[str], today: date, text: str, order: DateOrder) -> date | None:
    return _day_of_next_month(_cn_int(m[1]), today)


def _first_of_month(m: re.Match[str], today: date, text: str, order: DateOrder) -> date | None:
    return _day_of_next_month(1, today) if "next" in m[0] else _day_of_month(1, today)


def _offset(days: int) -> _Resolver:
    return lambda m, today, text, order: today + timedelta(days=days)


def _resolve_en_in(m: re.Match[str], today: date, text: str, order: DateOrder) -> date | None:
    count = int(m[1]) if m[1].isdigit() else _WORD_NUMBERS.get(m[1])
    unit = {"w": 7, "f": 14}.get(m[2][0], 1)  # days, weeks, fortnights
    return _days_ahead(count, unit, today)


def _resolve_zh_after(m: re.Match[str], today: date, text: str, order: DateOrder) -> date | None:
    return _days_ahead(_cn_int(m[1]), 1 if m[2] in ("天", "日") else 7, today)


def _resolve_en_weekday(m: re.Match[str], today: date, text: str, order: DateOrder) -> date | None:
    weekday = _EN_WEEKDAYS[m[2][:3]]
    if m[1] == "next":
        return _weekday_of_week(today, weekday, 1)
    if weekday == today.weekday() and (m[1] == "this" or _TODAY_WORDS.search(text)):
        return today
    return _next_weekday(today, weekday, include_today=False)


def _resolve_en_weekday_next_week(m: re.Match[str], today: date, text: str, order: DateOrder) -> date | None:
    return _weekday_of_week(today, _EN_WEEKDAYS[m[1][:3]], 1)


def _resolve_zh_weekday(m: re.Match[str], today: date, text: str, order: DateOrder) -> date | None:
    weekday = _ZH_WEEKDAYS[m[3]]
    prefix = m[1] or ""
    if prefix.startswith("下"):
        return _weekday_of_week(today, weekday, prefix.count("下"))
    if prefix:  # 这周/本周: this calendar week only
        return _weekday_of_week(today, weekday, 0)
    if weekday == today.weekday() and _TODAY_WORDS.search(text):
        return today
    return _next_weekday(today, weekday, include_today=False)


def _sunday(weeks_ahead: int) -> _Resolver:
    return lambda m, today, text, order: _weekday_of_week(today, 6, weeks_ahead)


def _resolve_en_weekend(m: re.Match[str], today: date, text: str, order: DateOrder) -> date | None:
    if m[1] == "last":
        return None
    return _weekday_of_week(today, 6, 1 if m[1] == "next" else 0)


def _resolve_zh_week(m: re.Match[str], today: date, text: str, order: DateOrder) -> date | None:
    return _weekday_of_week(today, 6, (m[1] or "").count("下"))


def _month_end_of(months_ahead: int) -> _Resolver:
    def resolve(m: re.Match[str], today: date, text: str, order: DateOrder) -> date | None:
        year, month = _next_month(today) if months_ahead else (today.year, today.month)
        return _month_end(year, month)
    return resolve


def _resolve_en_named_month_end(m: re.Match[str], today: date, text: str, order: DateOrder) -> date | None:
    month = _MONTHS[m[1][:3]]
    end = _month_end(today.year, month)
    return end if end >= today else _month_end(today.year + 1, month)


def _part_of_month(day: int) -> _Resolver:
    """A day standing for part of a month: next month's when the words say so, else this month's unless past."""
    def resolve(m: re.Match[str], today: date, text: str, order: DateOrder) -> date | None:
        return _day_of_next_month(day, today) if "next" in m[0] else _day_of_month(day, today)
    return resolve


_ZH_PARTS = {"底": 31, "末": 31, "下旬": 31, "初": 5, "上旬": 10, "中旬": 20, "中": 15}


def _resolve_zh_month_part(m: re.Match[str], today: date, text: str, order: DateOrder) -> date | None:
    prefix = m[1] or ""
    day = _ZH_PARTS[m[2]]
    if prefix.startswith("下"):
        return _day_of_next_month(day, today)
    if prefix:  # 这个月/本月: this month only, even if that day has passed
        candidate = _clamped(today.year, today.month, day)
        return candidate if candidate >= today else None
    return _day_of_month(day, today)


def _resolve_zh_named_month_part(m: re.Match[str], today: date, text: str, order: DateOrder) -> date | None:
    month = _cn_int(m[1])
    if month is None or not 1 <= month <= 12:
        return None
    return _month_day(month, _ZH_PARTS[m[2]], today)


def _year_end(m: re.Match[str], today: date, text: str, order: DateOrder) -> date | None:
    return date(today.year, 12, 31)


def _past(m: re.Match[str], today: date, text: str, order: DateOrder) -> date | None:
    return None


@dataclass(frozen=True)
class _DateRule:
    name: str  # stable label, part of the rule id written to the ledger
    pattern: LazyRegex
    resolve: _Resolver


_DATE_RULES: tuple[_DateRule, ...] = tuple(
    _DateRule(name, lazy(pattern), resolve)
    for name, pattern, resolve in (
        ("iso", r"(?<![0-9])([0-9]{4})[-/.]([0-9]{1,2})[-/.]([0-9]{1,2})(?![0-9])", _resolve_iso),
        ("zh:year-month-day", r"([0-9]{4})年(" + _CN_NUMBER + r")月(" + _CN_NUMBER + r")[日号]?",
         _resolve_zh_full),
        ("zh:month-day", r"(" + _CN_NUMBER + r")月(" + _CN_NUMBER + r")(?:[日号]|(?![0-9]))",
         _resolve_zh_month_day),
        ("slashed", r"(?<![0-9/.$¥])([0-9]{1,2})/([0-9]{1,2})(?:/([0-9]{4}|[0-9]{2}))?(?![0-9/%])"
         r"(?<!\b1/2(?= (?:of|now|the|and|up)\b))",
         _resolve_slashed),
        ("en:month-name-day", r"\b" + _MONTH + r"\.? (?:the )?" + _DAY + r"(?:st|nd|rd|th)?\b",
         _resolve_month_name_day),
        ("en:day-month-name", r"\b" + _DAY + r"(?:st|nd|rd|th)? (?:of )?" + _MONTH + r"\b",
         _resolve_day_month_name),
        ("en:day-of-month", r"\b" + _DAY + r"(?:st|nd|rd|th)\b", _resolve_day),
        ("en:day-of-month",
         r"\b(?:on|(?:by|before|until) the) (1[0-9]|2[0-9]|3[01])\b"
         r"(?! ?(?:days?|weeks?|months?|years?|hours?|hrs?|minutes?|mins?|am|pm|a\.m|p\.m|o'clock|dollars?|bucks"
         r"|usd|k\b|%|/|:|\.[0-9]|,[0-9]))", _resolve_day),
        ("en:day-of-month",
         r"\b(?:on|by|before|until) the ([1-9])\b(?! ?(?:days?|weeks?|months?|years?|am|pm|dollars?|bucks|:|/))",
         _resolve_day),
        ("zh:day-of-month", r"(?<![0-9])(" + _CN_NUMBER + r")[号日]", _resolve_day),
        ("zh:next-month-day", r"下个?月(?:的)?(" + _CN_NUMBER + r")[号日]?", _resolve_next_month_day),
        ("en:day-of-next-month", r"\b" + _DAY + r"(?:st|nd|rd|th)? (?:of )?next month\b",
         _resolve_next_month_day),
        ("en:day-of-next-month", r"\bnext month (?:on |by )?(?:the )?" + _DAY + r"(?:st|nd|rd|th)?\b",
         _resolve_next_month_day),
        ("en:first-of-month", r"\b(?:the )?(?:first|1st) of (?:the |next |the next )?month\b", _first_of_month),
        ("today",
         r"\b(?:today|tonight|this (?:morning|afternoon|evening)|later today|(?:by )?end of (?:the )?day|eod)\b"
         r"|今天|今日|今晚|今儿", _offset(0)),
        # adverbs of "at once": today on their own, but "paid Friday, I'll pay right away" means Friday
        ("now", r"\b(?:right now|now|immediately|right away|straight away)\b|现在|马上|立刻|立即|这就",
         _offset(0)),
        ("day-after-tomorrow", r"\bday after tomorrow\b|(?<!大)后天", _offset(2)),
        ("zh:in-3-days", r"大后天", _offset(3)),
        ("tomorrow", r"\btomorrow\b|明天|明日|明早|明晚|明儿", _offset(1)),
        ("en:in-days",
         r"\b(?:in|within) ([0-9]{1,5}|an?|one|two|three|four|five|six|seven|eight|nine|ten|a couple(?: of)?"
         r"|couple of) (days?|weeks?)\b", _resolve_en_in),
        ("en:in-days",
         r"\b([0-9]{1,5}|an?|one|two|three|four|five|six|seven|eight|nine|ten) (days?|weeks?) from (?:now|today)\b",
         _resolve_en_in),
        ("en:in-days", r"\b(?:in|within) (a|one|two) (fortnights?)\b", _resolve_en_in),
        ("zh:days-later", r"(" + _CN_NUMBER + r")个?(天|日|星期|周|礼拜)(?:之后|以后|后|之内|以内|内)",
         _resolve_zh_after),
        ("en:weekday-next-week", r"\bnext week (?:on )?" + _WEEKDAY + r"\b", _resolve_en_weekday_next_week),
        ("en:weekday-next-week", r"\b" + _WEEKDAY + r" (?:of )?next week\b", _resolve_en_weekday_next_week),
        ("en:weekday", r"\b(?:(next|this|coming|this coming) )?" + _WEEKDAY + r"\b", _resolve_en_weekday),
        ("zh:weekday", r"(下下个?|下个?|这个?|本)?(周|星期|礼拜)([一二三四五六日天1-7])", _resolve_zh_weekday),
        ("en:weekend", r"\b(?:(next|this|last) )?(?:coming )?weekend\b", _resolve_en_weekend),
        ("en:end-of-week", r"\b(?:the )?end of (?:the |this )?week\b|\beow\b|\bthis week\b", _sunday(0)),
        ("en:next-week", r"\b(?:the )?end of next week\b|\bnext week\b", _sunday(1)),
        ("zh:week", r"(下下个?|下个?|这个?|本)?(?:周末|礼拜天?末|星期末)", _resolve_zh_week),
        ("zh:week", r"(下下个?|下个?|这个?|本)(?:周|星期|礼拜)(?![一二三四五六日天1-7末])", _resolve_zh_week),
        ("en:end-of-month",
         r"\b(?:the )?end of (?:the |this )?month\b|\bmonth[- ]?end\b|\beom\b|\blast day of (?:the |this )?month\b",
         _month_end_of(0)),
        ("en:end-of-month", r"\b(?:the )?end of next month\b|\blast day of next month\b", _month_end_of(1)),
        ("en:end-of-month", r"\b(?:the )?end of " + _MONTH + r"\b", _resolve_en_named_month_end),
        ("en:start-of-month",
         r"\b(?:the )?(?:beginning|start) of (next|the|this|the next) month\b|\b(early) next month\b"
         r"|\b(?:the )?first (?:week|few days) of (next|the|the next) month\b",
         _part_of_month(5)),
        ("en:mid-month", r"\bmid[- ]?(next )?month\b|\b(?:the )?middle of (next|the|this) month\b",
         _part_of_month(15)),
        ("zh:month-part", r"(" + _CN_NUMBER + r")月(底|末|初|上旬|中旬|下旬|中)", _resolve_zh_named_month_part),
        ("zh:month-part", r"(下个?|这个?|本)?月(底|末|初|上旬|中旬|下旬|中)", _resolve_zh_month_part),
        ("year-end", r"\b(?:the )?end of (?:the |this )?year\b|\byear[- ]end\b|年底|年末", _year_end),
        # the past, so that "paid last Friday" / 上周五还的 never reads as next Friday
        ("past",
         r"\byesterday\b|\blast (?:night|week|weekend|month|year|monday|tuesday|wednesday|thursday|friday|saturday"
         r"|sunday|mon|tues?|wed|thu(?:rs?)?|fri|sat|sun)\b|\b(?:[0-9]+|a|an|one|two|three|four|five|six|a few|a couple"
         r"(?: of)?) (?:days?|weeks?|months?|years?) ago\b|\bthe other day\b|\bearlier (?:today|this week)\b"
         r"|昨天|昨晚|前天|去年|上(?:个)?(?:周|星期|礼拜)[一二三四五六日天1-7末]?"
         r"|上个?月(?:[0-9一二三四五六七八九十]+[号日])?"
         r"|(?:[0-9一二三四五六七八九十两几]+)(?:天|周|个星期|个月|年)(?:以前|之前|前)|刚才|刚刚", _past),
    )
)


@dataclass(frozen=True)
class DateMention:
    """One date expression: where it is, the day it names (None if past, invalid or vague) and its rule."""

    start: int
    end: int
    on: date | None
    rule: str

    @property
    def past(self) -> bool:
        return self.rule == "past"

    @property
    def adverb(self) -> bool:
        """"now", 马上: a date only when no other date is near ("paid Friday, will pay at once")."""
        return self.rule == "now"


def date_mentions(text: str, today: date, order: DateOrder = "month-first") -> list[DateMention]:
    """Every date expression in a normalised reply, in reading order; at one position the longest wins."""
    found = [(m, rule) for rule in _DATE_RULES for m in rule.pattern.finditer(text)]
    found.sort(key=lambda item: (item[0].start(), -item[0].end()))
    mentions: list[DateMention] = []
    taken_until = 0
    for match, rule in found:
        if match.start() < taken_until:
            continue
        try:
            resolved = rule.resolve(match, today, text, order)
        except (ValueError, OverflowError):  # beyond year 9999 or a month that does not exist
            resolved = None
        if resolved is not None and resolved < today:
            resolved = None
        mentions.append(DateMention(match.start(), match.end(), resolved, rule.name))
        taken_until = match.end()
    return mentions


def first_date(text: str, today: date, order: DateOrder = "month-first") -> DateMention | None:
    """The first date in reading order that names a day on or after today."""
    return next((m for m in date_mentions(text, today, order) if m.on is not None), None)
