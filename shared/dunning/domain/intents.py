"""What a customer's reply asks us to do: the intent of an inbound SMS or email, in English or Chinese.

Text is normalised first (NFKC, so full-width letters, digits and ``￥`` become their ASCII forms;
curly apostrophes become ``'``; case-folded; whitespace collapsed).

Carrier keywords (STOP, UNSUBSCRIBE, CANCEL, END, QUIT, STOPALL, OPTOUT, REVOKE, 退订, TD, T; START,
UNSTOP, YES, RESUME, 开始, 恢复; HELP, INFO, 帮助) count only when the whole message is that keyword,
ignoring case, surrounding whitespace and punctuation, so "T" or "end" inside a sentence means
nothing. Clear free-text opt-outs ("please stop texting me", "unsubscribe", "不要再发了", 退订
anywhere) are STOP as well: honouring an opt-out we did not need to is cheap, missing one is not.

Priority when several intents match (first wins), and why:

1. STOP -- an opt-out must be honoured whatever else the message says.
2. WRONG_NUMBER -- the sender is not the debtor; nothing else they say is about the debt, and
   writing to them again would disclose the debt to a third party.
3. DISPUTE -- a disputed debt is held for review even if the customer also offers to pay.
4. HARDSHIP -- a vulnerable customer is offered a plan rather than held to a promise; a promise
   in the same message ("I lost my job, can I pay on the 15th?") is still carried on the result.
5. PROMISE -- a pay verb in the future sense *and* a date ("I will pay on Friday", "15号还");
   beats PAID so "paid half, will pay the rest Friday" records the outstanding commitment.
6. PAID -- a claim of payment ("already paid", 已还), checked against the ledger later.
7. CALL_ME -- a request for a call back.
8. HELP, 9. START -- whole-message keywords only.
10. OTHER -- anything else, queued for a person.

Dates are resolved against the customer's *local* date in their IANA time zone, never the UTC
date, and a promise date is never before that local today:

- "today", "tomorrow", "day after tomorrow", "in 3 days", "in 2 weeks"; 今天, 明天, 后天, 大后天,
  "3天后", "两周后".
- "Friday" / "coming Friday" / 周五 / 星期五 / 礼拜五: the next Friday strictly after today (a
  customer writing "Friday" on a Friday means next week's, they would say "today" otherwise);
  when the message also says "today" and today is that weekday, it is today.
- "this Friday": the next Friday on or after today. 这周五 / 本周五: Friday of the current week
  (weeks start on Monday), no date if it has already passed.
- "next Friday" / 下周五 / 下星期五 / 下个礼拜五: the Friday of next week, weeks starting on
  Monday. Said on a Wednesday, "next Friday" is nine days away, not two; said on a Sunday, "next
  Monday" is tomorrow. 下下周五 is the Friday of the week after next.
- "15th" / "on the 15th" / 15号 / 15日 / 十五号: that day of this month if it has not passed (today
  counts), else of next month; a day the month lacks (31st in a 30-day month) is clamped to the
  month's last day. "15th of next month" / 下个月15号: always next month, clamped the same way.
- "December 5th", "5th of Dec", 12月5日, 12/5 (US month/day): this year if not passed, else next
  year, clamped the same way; with a year (2026-12-05, 12/5/2026, 2026年12月5日) it is exact, and
  no date if invalid or already past.

When the text holds several date expressions the first in reading order wins.

Amounts ("$50", "50 dollars", "50 bucks", "50元", "¥50", "50块") are Decimal, never float, and
carry no currency: the account's currency applies.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict

from dunning.domain.models import DecimalStr, to_utc


class Intent(StrEnum):
    STOP = "STOP"
    START = "START"
    HELP = "HELP"
    PAID = "PAID"
    PROMISE = "PROMISE"
    HARDSHIP = "HARDSHIP"
    DISPUTE = "DISPUTE"
    WRONG_NUMBER = "WRONG_NUMBER"
    CALL_ME = "CALL_ME"
    OTHER = "OTHER"


Language = Literal["en", "zh"]


class Classification(BaseModel):
    """The intent of one reply. ``matched`` names the rule that fired (for the ledger), never the text."""

    model_config = ConfigDict(frozen=True)

    intent: Intent
    promise_date: date | None = None
    promise_amount: DecimalStr | None = None
    language: Language
    matched: str


# --------------------------------------------------------------------------- normalisation

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u00b4": "'", "`": "'"})
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KEYWORD_JOINERS = re.compile(r"[\s\-_.]+")


def _normalise(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES).casefold()
    return " ".join(folded.split())


def _is_edge_noise(char: str) -> bool:
    # punctuation, symbols (emoji), separators and control characters around a keyword
    return unicodedata.category(char)[0] in "PSZC"


def _keyword_form(normalised: str) -> str:
    start, end = 0, len(normalised)
    while start < end and _is_edge_noise(normalised[start]):
        start += 1
    while end > start and _is_edge_noise(normalised[end - 1]):
        end -= 1
    return _KEYWORD_JOINERS.sub("", normalised[start:end])


# Chinese carrier conventions ("回复TD退订"): their confirmation goes out in Chinese.
_ZH_KEYWORDS = frozenset({"td", "t"})


def _language(normalised: str, keyword: str) -> Language:
    return "zh" if _CJK.search(normalised) or keyword in _ZH_KEYWORDS else "en"


# --------------------------------------------------------------------------- keywords and phrases

_STOP_KEYWORDS = frozenset(
    {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "optout", "revoke",
     "退订", "td", "t", "停止", "取消", "取消订阅"}
)
_START_KEYWORDS = frozenset({"start", "unstop", "yes", "resume", "开始", "恢复", "恢复订阅", "重新订阅"})
_HELP_KEYWORDS = frozenset({"help", "info", "帮助"})


@dataclass(frozen=True)
class _Rule:
    name: str  # stable label written to the ledger
    pattern: re.Pattern[str]


def _rules(*pairs: tuple[str, str]) -> tuple[_Rule, ...]:
    return tuple(_Rule(name, re.compile(pattern)) for name, pattern in pairs)


_STOP_PHRASES = _rules(
    ("en:stop-contacting",
     r"\bstop (?:texting|txting|messaging|contacting|calling|sending|emailing|bothering|harass\w*)\b"),
    ("en:please-stop", r"^\W*(?:please )?stop(?: it)?(?: please)?\W*$"),
    ("en:unsubscribe", r"\bunsubscribe\b"),
    ("en:opt-out", r"\bopt[ -]?out\b"),
    ("en:do-not-contact",
     r"\b(?:do not|don'?t|never) (?:ever )?(?:text|txt|message|contact|call|email|phone|sms) "
     r"(?:me|us|this number)\b"),
    ("en:remove-me", r"\bremove (?:me|my number)\b"),
    ("zh:unsubscribe", r"退订|取消订阅|拒收"),
    ("zh:do-not-contact", r"(?:别|不要|不用|请勿|勿|停止)再?(?:给我)?(?:发|打|联系|骚扰|打扰|致电)"),
)

_WRONG_NUMBER_PHRASES = _rules(
    ("en:wrong-number", r"\bwrong (?:number|person|phone|guy|man|woman|lady)\b"),
    ("en:not-my-number", r"\bnot my (?:number|phone)\b"),
    ("en:who-is-this-not", r"\bwho(?: is|'s|s) this\b.*\bnot\b"),
    ("en:not-that-person",
     r"\b(?:i'm|im|i am|this is) not (?:him|her|them|that person|the person)\b"
     r"|\bno ?(?:one|body) (?:here )?(?:by|with|named|called) that\b"
     r"|\bdon'?t know (?:this|that|the|any) (?:person|guy|man|woman|lady)\b"),
    ("zh:wrong-number", r"打错|发错|找错人|号码错|不是我的(?:号|手机|电话)"),
    ("zh:not-that-person", r"不是本人|不认识(?:这个?人|此人|他|她|你说的)|没有这个人|查无此人"),
)

_DISPUTE_PHRASES = _rules(
    ("en:dispute", r"\bdisput\w*"),
    ("en:not-my-debt", r"\bnot my (?:debt|loan|account|bill|balance)\b|\b(?:is ?n'?t|is not|not) mine\b"),
    ("en:wrong-amount",
     r"\b(?:wrong|incorrect) (?:amount|balance|figure)\b|\b(?:amount|balance) (?:is )?(?:wrong|incorrect)\b"
     r"|\bovercharg\w*"),
    ("en:never-borrowed",
     r"\bnever (?:borrowed|took (?:out )?(?:a|this|the|any|that) loan|had (?:a|an|this|any) (?:loan|account)"
     r"|signed|applied)\b"),
    ("en:do-not-owe", r"\b(?:do not|don'?t|dont) owe\b|\bowe (?:you )?nothing\b"),
    ("en:fraud", r"\bfraud\w*|\bidentity theft\b|\bscam\b"),
    ("zh:not-mine", r"不是我的|没借过|没有借过|从没借|从来没借|不欠"),
    ("zh:dispute", r"异议|金额不对|金额有误|金额错|数额不对|欺诈|盗用|冒用"),
)

_HARDSHIP_PHRASES = _rules(
    ("en:lost-job",
     r"\blost (?:my|our|his|her) (?:job|work|income)\b|\blaid off\b|\bunemployed\b|\bout of work\b"
     r"|\bredundan\w*"),
    ("en:cannot-afford",
     r"\b(?:can'?t|cannot|can not|unable to|not able to) (?:afford|pay|make (?:the |my |a )?payments?)\b"),
    ("en:plan",
     r"\b(?:re)?payment (?:plan|arrangement)\b|\binstal+ments?\b|\bpay (?:it )?in (?:parts|pieces)\b"
     r"|\bsmaller payments\b"),
    ("en:hardship", r"\bhardship\b|\bstruggl\w*|\bno money\b|\b(?:i'm|im|i am) broke\b|\bbankrupt\w*"),
    ("zh:plan", r"分期|延期|宽限"),
    ("zh:hardship",
     r"困难|没钱|没有钱|失业|下岗|没工作|没有工作|还不起|还不上|还不了|付不起|付不了|破产|住院"),
)

_PAID_PHRASES = _rules(
    ("en:i-paid", r"\b(?:i|we)(?:'ve| have)?(?: just| already)? paid\b"),
    ("en:already-paid",
     r"\b(?:already|just) paid\b|\bpaid (?:it|already|in full|off|the (?:bill|balance|loan|amount|debt))\b"
     r"|\b(?:it's|it is|has been|been) paid\b"),
    ("en:payment-made",
     r"\b(?:made|sent|submitted) (?:a|the|my|that) payment\b"
     r"|\bpayment (?:was |has been |is )?(?:made|sent|done|submitted|complete\w*)\b"),
    ("zh:paid",
     r"(?<![没未])(?:已经?(?:还|付|支付|转账|缴|结清)|还了|还清了|付了|付过了|还过了|转账了|转过去了)"),
)

_CALL_ME_PHRASES = _rules(
    ("en:call-me", r"\bcall me\b|\bgive me a (?:call|ring)\b|\b(?:ring|phone) me\b|\bcall (?:me )?back\b"),
    ("en:speak-to-someone",
     r"\b(?:speak|talk) (?:to|with) (?:someone|somebody|a (?:real )?(?:person|human)"
     r"|an? (?:agent|manager|representative|advisor|adviser))\b"),
    ("zh:call-me", r"给我打电话|打电话给我|打给我|回电|回个电话|来电话|联系我|人工|客服"),
)

# A pay verb in the future sense: "paid" is deliberately absent, so "I paid on Monday" stays PAID.
_PAY_VERBS = _rules(
    ("en:pay",
     r"\b(?:pay|paying|repay|settle|settling|transfer|transferring)\b"
     r"|\bmake (?:a |the |my )?(?:payment|transfer)\b|\bpayment (?:on|by|next|this|tomorrow|today|in|of)\b"
     r"|\bsend (?:it|you|the (?:money|payment|rest|balance)|payment|money)\b"
     r"|\bclear (?:it|the (?:balance|debt|account|arrears))\b"
     r"|\b(?:have|get) (?:you )?(?:the |your )?money\b"),
    # 还 is also the adverb "still/also" (还没, 还是, 还有); 已还 and 还了 are past, i.e. PAID
    ("zh:pay",
     r"(?<![已经没未])(?:还款|还钱|付款|支付|转账|缴费|交钱|付|缴|还(?![了过没是有不在会要得行好可能]))"),
)


def _first(rules: Sequence[_Rule], text: str) -> _Rule | None:
    return next((rule for rule in rules if rule.pattern.search(text)), None)


# --------------------------------------------------------------------------- dates

_DAY = r"(3[01]|[12][0-9]|0?[1-9])"
_CN_NUMBER = r"[0-9]{1,4}|[零〇一二两三四五六七八九十]{1,3}"
_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4,
              "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_WORD_NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
                 "seven": 7, "eight": 8, "nine": 9, "ten": 10, "a couple of": 2, "a few": 3}
_MONTHS = {"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9,
           "oct": 10, "nov": 11, "dec": 12}
_MONTH = (r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
          r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
_EN_WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
_ZH_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6,
                "1": 0, "2": 1, "3": 2, "4": 3, "5": 4, "6": 5, "7": 6}
_TODAY_WORDS = re.compile(r"\b(?:today|tonight)\b|今天|今日|今晚")
_MAX_DAYS_AHEAD = 3660  # "in 99999 days" is not a promise


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


def _day_of_month(day: int | None, today: date) -> date | None:
    if day is None or not 1 <= day <= 31:
        return None
    this_month = _clamped(today.year, today.month, day)
    if this_month >= today:
        return this_month
    year, month = (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)
    return _clamped(year, month, day)


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


# resolvers take the match, the local today and the whole normalised text
_Resolver = Callable[[re.Match[str], date, str], date | None]


def _resolve_iso(m: re.Match[str], today: date, text: str) -> date | None:
    return _exact(int(m[1]), int(m[2]), int(m[3]))


def _resolve_zh_full(m: re.Match[str], today: date, text: str) -> date | None:
    return _exact(int(m[1]), _cn_int(m[2]), _cn_int(m[3]))


def _resolve_zh_month_day(m: re.Match[str], today: date, text: str) -> date | None:
    return _month_day(_cn_int(m[1]), _cn_int(m[2]), today)


def _resolve_us(m: re.Match[str], today: date, text: str) -> date | None:
    month, day = int(m[1]), int(m[2])
    if m[3] is None:
        return _month_day(month, day, today)
    year = int(m[3])
    return _exact(year + 2000 if year < 100 else year, month, day)


def _resolve_month_name_day(m: re.Match[str], today: date, text: str) -> date | None:
    return _month_day(_MONTHS[m[1][:3]], int(m[2]), today)


def _resolve_day_month_name(m: re.Match[str], today: date, text: str) -> date | None:
    return _month_day(_MONTHS[m[2][:3]], int(m[1]), today)


def _resolve_day(m: re.Match[str], today: date, text: str) -> date | None:
    return _day_of_month(_cn_int(m[1]), today)


def _resolve_next_month_day(m: re.Match[str], today: date, text: str) -> date | None:
    day = _cn_int(m[1])
    if day is None or not 1 <= day <= 31:
        return None
    year, month = (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)
    return _clamped(year, month, day)


def _offset(days: int) -> _Resolver:
    return lambda m, today, text: today + timedelta(days=days)


def _resolve_en_in(m: re.Match[str], today: date, text: str) -> date | None:
    count = int(m[1]) if m[1].isdigit() else _WORD_NUMBERS.get(m[1])
    return _days_ahead(count, 7 if m[2].startswith("week") else 1, today)


def _resolve_zh_after(m: re.Match[str], today: date, text: str) -> date | None:
    return _days_ahead(_cn_int(m[1]), 1 if m[2] in ("天", "日") else 7, today)


def _resolve_en_weekday(m: re.Match[str], today: date, text: str) -> date | None:
    weekday = _EN_WEEKDAYS[m[2][:3]]
    if m[1] == "next":
        return _weekday_of_week(today, weekday, 1)
    if weekday == today.weekday() and (m[1] == "this" or _TODAY_WORDS.search(text)):
        return today
    return _next_weekday(today, weekday, include_today=False)


def _resolve_zh_weekday(m: re.Match[str], today: date, text: str) -> date | None:
    weekday = _ZH_WEEKDAYS[m[3]]
    prefix = m[1] or ""
    if prefix.startswith("下"):
        return _weekday_of_week(today, weekday, prefix.count("下"))
    if prefix:  # 这周/本周: this calendar week only
        return _weekday_of_week(today, weekday, 0)
    if weekday == today.weekday() and _TODAY_WORDS.search(text):
        return today
    return _next_weekday(today, weekday, include_today=False)


@dataclass(frozen=True)
class _DateRule:
    name: str
    pattern: re.Pattern[str]
    resolve: _Resolver


_DATE_RULES: tuple[_DateRule, ...] = tuple(
    _DateRule(name, re.compile(pattern), resolve)
    for name, pattern, resolve in (
        ("iso", r"(?<![0-9])([0-9]{4})[-/.]([0-9]{1,2})[-/.]([0-9]{1,2})(?![0-9])", _resolve_iso),
        ("zh:year-month-day", r"([0-9]{4})年(" + _CN_NUMBER + r")月(" + _CN_NUMBER + r")[日号]?",
         _resolve_zh_full),
        ("zh:month-day", r"(" + _CN_NUMBER + r")月(" + _CN_NUMBER + r")(?:[日号]|(?![0-9]))",
         _resolve_zh_month_day),
        ("en:month/day", r"(?<![0-9/.$])(1[0-2]|0?[1-9])/" + _DAY + r"(?:/([0-9]{4}|[0-9]{2}))?(?![0-9/])",
         _resolve_us),
        ("en:month-name-day", r"\b" + _MONTH + r"\.? (?:the )?" + _DAY + r"(?:st|nd|rd|th)?\b",
         _resolve_month_name_day),
        ("en:day-month-name", r"\b" + _DAY + r"(?:st|nd|rd|th)? (?:of )?" + _MONTH + r"\b",
         _resolve_day_month_name),
        ("en:day-of-month", r"\b" + _DAY + r"(?:st|nd|rd|th)\b", _resolve_day),
        ("zh:day-of-month", r"(?<![0-9])(" + _CN_NUMBER + r")[号日]", _resolve_day),
        ("zh:next-month-day", r"下个?月(" + _CN_NUMBER + r")[号日]?", _resolve_next_month_day),
        ("en:day-of-next-month", r"\b" + _DAY + r"(?:st|nd|rd|th)? of next month\b", _resolve_next_month_day),
        ("today", r"\b(?:today|tonight)\b|今天|今日|今晚", _offset(0)),
        ("day-after-tomorrow", r"\bday after tomorrow\b|(?<!大)后天", _offset(2)),
        ("zh:in-3-days", r"大后天", _offset(3)),
        ("tomorrow", r"\b(?:tomorrow|tmrw?|tmw)\b|明天|明日|明早|明晚", _offset(1)),
        ("en:in-days",
         r"\bin ([0-9]{1,5}|an?|one|two|three|four|five|six|seven|eight|nine|ten|a couple of|a few) "
         r"(days?|weeks?)\b", _resolve_en_in),
        ("zh:days-later", r"(" + _CN_NUMBER + r")个?(天|日|星期|周|礼拜)(?:之后|以后|后)", _resolve_zh_after),
        ("en:weekday",
         r"\b(?:(next|this|coming|this coming) )?(monday|tuesday|wednesday|thursday|friday|saturday|sunday"
         r"|tues?|thu(?:rs?)?|fri)\b", _resolve_en_weekday),
        ("zh:weekday", r"(下下个?|下个?|这个?|本)?(周|星期|礼拜)([一二三四五六日天1-7])",
         _resolve_zh_weekday),
    )
)


def _date_mentions(text: str) -> list[tuple[re.Match[str], _DateRule]]:
    """Non-overlapping date expressions in reading order; at one position the longest wins."""
    found = [(m, rule) for rule in _DATE_RULES for m in rule.pattern.finditer(text)]
    found.sort(key=lambda item: (item[0].start(), -item[0].end()))
    mentions: list[tuple[re.Match[str], _DateRule]] = []
    taken_until = 0
    for match, rule in found:
        if match.start() >= taken_until:
            mentions.append((match, rule))
            taken_until = match.end()
    return mentions


def _find_date(text: str, today: date) -> tuple[date, str] | None:
    for match, rule in _date_mentions(text):
        try:
            resolved = rule.resolve(match, today, text)
        except (ValueError, OverflowError):  # beyond year 9999 or a month that does not exist
            continue
        if resolved is not None and resolved >= today:
            return resolved, rule.name
    return None


def local_today(now: datetime, time_zone: str) -> date:
    """The customer's calendar date at ``now`` (an aware instant) in their IANA time zone."""
    try:
        zone = ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError("unknown IANA time zone") from exc
    return to_utc(now).astimezone(zone).date()


def extract_promise_date(text: str, now: datetime, time_zone: str) -> date | None:
    """The first date the text mentions, as the customer's local date (see the module docstring).

    Never before the customer's local today; None when there is no usable date.
    """
    found = _find_date(_normalise(text), local_today(now, time_zone))
    return found[0] if found else None


# --------------------------------------------------------------------------- amounts

_NUMBER = r"([0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]{1,2})?|[0-9]+(?:\.[0-9]{1,2})?)(?![0-9]|[.,][0-9])"
_AMOUNT_PATTERNS = (
    re.compile(r"(?:[$¥]|\busd|\brmb|\bcny)\s?" + _NUMBER),
    re.compile(r"(?<![0-9.,])" + _NUMBER + r" ?(?:dollars?\b|bucks\b|usd\b|rmb\b|cny\b|元|块|人民币)"),
)


def _first_amount(normalised: str) -> Decimal | None:
    matches = [m for pattern in _AMOUNT_PATTERNS for m in pattern.finditer(normalised)]
    for match in sorted(matches, key=lambda m: m.start()):
        try:
            amount = Decimal(match[1].replace(",", ""))
        except InvalidOperation:
            continue
        if amount > 0:
            return amount
    return None


def extract_promise_amount(text: str) -> Decimal | None:
    """The first money amount in the text ("$50", "50元", "¥1,200.50"), as a Decimal; None if none."""
    return _first_amount(_normalise(text))


# --------------------------------------------------------------------------- classification

_PHRASES_BEFORE_PROMISE: tuple[tuple[Intent, tuple[_Rule, ...]], ...] = (
    (Intent.STOP, _STOP_PHRASES),
    (Intent.WRONG_NUMBER, _WRONG_NUMBER_PHRASES),
    (Intent.DISPUTE, _DISPUTE_PHRASES),
    (Intent.HARDSHIP, _HARDSHIP_PHRASES),
)
_PHRASES_AFTER_PROMISE: tuple[tuple[Intent, tuple[_Rule, ...]], ...] = (
    (Intent.PAID, _PAID_PHRASES),
    (Intent.CALL_ME, _CALL_ME_PHRASES),
)
_KEYWORDS_LAST: tuple[tuple[Intent, frozenset[str]], ...] = (
    (Intent.HELP, _HELP_KEYWORDS),
    (Intent.START, _START_KEYWORDS),
)


@dataclass(frozen=True)
class _Promise:
    on: date
    amount: Decimal | None
    matched: str


def _pay_verb(text: str) -> tuple[_Rule, re.Match[str]] | None:
    for rule in _PAY_VERBS:
        match = rule.pattern.search(text)
        if match is not None:
            return rule, match
    return None


def _promised_amount(text: str, verb: re.Match[str]) -> Decimal | None:
    # "I paid $50, will pay the rest Friday": the $50 is paid, not promised
    after_verb = _first_amount(text[verb.end():])
    if after_verb is not None or _first(_PAID_PHRASES, text) is not None:
        return after_verb
    return _first_amount(text)


def _promise(text: str, today: date) -> _Promise | None:
    verb = _pay_verb(text)
    if verb is None:
        return None
    found = _find_date(text, today)
    if found is None:
        return None
    rule, match = verb
    return _Promise(found[0], _promised_amount(text, match), f"promise:{rule.name}+{found[1]}")


def _match_before_promise(text: str) -> tuple[Intent, str] | None:
    for intent, rules in _PHRASES_BEFORE_PROMISE:
        rule = _first(rules, text)
        if rule is not None:
            return intent, rule.name
    return None


def _match_after_promise(text: str, keyword: str) -> tuple[Intent, str]:
    for intent, rules in _PHRASES_AFTER_PROMISE:
        rule = _first(rules, text)
        if rule is not None:
            return intent, rule.name
    for intent, keywords in _KEYWORDS_LAST:
        if keyword in keywords:
            return intent, f"keyword:{keyword.upper()}"
    return Intent.OTHER, "none"


def classify(text: str, now: datetime, time_zone: str) -> Classification:
    """The intent of one inbound reply, with any promised date and amount (see the module docstring)."""
    today = local_today(now, time_zone)
    normalised = _normalise(text)
    keyword = _keyword_form(normalised)
    language = _language(normalised, keyword)
    if keyword in _STOP_KEYWORDS:
        return Classification(intent=Intent.STOP, language=language, matched=f"keyword:{keyword.upper()}")

    promise = _promise(normalised, today)
    early = _match_before_promise(normalised)
    if early is not None:
        intent, matched = early
        if intent is Intent.HARDSHIP and promise is not None:
            # the plan conversation starts from the date they could manage
            return Classification(intent=intent, language=language, matched=matched,
                                  promise_date=promise.on, promise_amount=promise.amount)
        return Classification(intent=intent, language=language, matched=matched)
    if promise is not None:
        return Classification(intent=Intent.PROMISE, language=language, matched=promise.matched,
                              promise_date=promise.on, promise_amount=promise.amount)
    intent, matched = _match_after_promise(normalised, keyword)
    return Classification(intent=intent, language=language, matched=matched)
