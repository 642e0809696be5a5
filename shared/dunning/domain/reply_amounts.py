"""Money amounts in a customer's reply (pure, no I/O).

Amounts are ``Decimal``, never float, and carry no currency: the account's currency applies. What
counts as money, in a reply already through ``reply_text.normalise``:

- a currency sign or code: "$150", "$ 1,200.50", "¥500", "usd 80", "rmb 500", "$1.5k";
- a unit after the number: "150 dollars", "50 bucks", "80 usd", "500元", "500块", "500块钱", "1,200元",
  "300人民币", "2k dollars", "1.5万元";
- a number in words with a unit: "fifty bucks", "a hundred dollars", "two hundred and fifty dollars";
- a Chinese numeral with a magnitude (百, 千, 万), with or without a unit: "五百", "一千二" (1,200, as
  people say it), "三百五" (350), "两千块", "1.5万", "2千" -- "十五号" is a date and "千万" ("by all means")
  is not money;
- a bare number right after a pay verb, found by the reader with ``bare_amount_at`` ("pay 150 on
  Friday", "先还500"), unless a unit of time, a date suffix or a percent follows ("pay 15th", "还3期").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from dunning.domain.lazy_regex import lazy

_NUMBER = r"([0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]{1,2})?|[0-9]+(?:\.[0-9]{1,2})?)(?![0-9]|[.,][0-9])"
_THOUSANDS = r"(k|千|万)?"
_UNITS = r"(?:dollars?\b|bucks\b|usd\b|rmb\b|cny\b|元|块钱?|人民币|刀)"
_MAX_AMOUNT = Decimal("100000000")

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
              "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_MAGNITUDE = {"k": 1000, "千": 1000, "万": 10000}

_EN_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40,
    "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
}
_EN_WORD = r"(?:" + "|".join(sorted(_EN_NUMBERS, key=len, reverse=True)) + r"|hundred|thousand)"

_PATTERNS = (
    ("sign", lazy(r"(?:[$¥€£]|\bus\$|\busd|\brmb|\bcny)\s?" + _NUMBER + _THOUSANDS)),
    ("unit", lazy(r"(?<![0-9.,$¥])" + _NUMBER + r" ?" + _THOUSANDS + r" ?" + _UNITS)),
    ("words", lazy(r"\b(" + _EN_WORD + r"(?:[\s-]+(?:and[\s-]+)?" + _EN_WORD + r")*) (?:dollars?|bucks)\b")),
    ("zh-numeral", lazy(
        r"(?<![0-9零〇一二两三四五六七八九十百千万])"
        r"((?:[0-9]+(?:\.[0-9]+)?|[一二两三四五六七八九])[零〇一二两三四五六七八九十百千万0-9]*)"
        r"(?:" + _UNITS + r")?")),
)
# A bare number after a pay verb is money unless what follows makes it a day, a count or a time.
_BARE = lazy(
    r"\s*(?:you |them |back |给?你们|给?您)?(?:the )?" + _NUMBER + _THOUSANDS
    + r"(?!(?:st|nd|rd|th)\b|\s?(?:号|日|月|天|周|期|个|点|次|年|分|小时|%|/|-|:|am\b|pm\b|a\.m|p\.m|o'clock"
    r"|days?\b|weeks?\b|months?\b|years?\b|hours?\b|hrs?\b|mins?\b|minutes?\b|installments?\b|payments?\b"
    r"|times\b|of\b|x\b|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec))"
)


@dataclass(frozen=True)
class AmountMention:
    start: int
    end: int
    value: Decimal


def _decimal(digits: str, magnitude: str | None) -> Decimal | None:
    try:
        value = Decimal(digits.replace(",", ""))
    except InvalidOperation:
        return None
    if magnitude:
        value *= _MAGNITUDE[magnitude]
        if value == value.to_integral_value():
            value = value.quantize(Decimal(1))
    return value if Decimal(0) < value <= _MAX_AMOUNT else None


def _cn_numeral(token: str) -> Decimal | None:
    """五百, 一千二 (1,200), 三百五 (350), 两千零五, 1.5万, 2千, 一万五 (15,000); None unless it has a magnitude."""
    if not any(unit in token for unit in "百千万"):
        return None
    if token[0].isascii():  # 1.5万, 2千, 5百
        digits = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)([百千万])", token)
        if digits is None:
            return None
        value = Decimal(digits[1]) * {"百": 100, "千": 1000, "万": 10000}[digits[2]]
        value = value.quantize(Decimal(1)) if value == value.to_integral_value() else value
        return value if Decimal(0) < value <= _MAX_AMOUNT else None
    total, section, number = 0, 0, 0
    last_unit, after_unit = 0, False
    for char in token:
        if char in _CN_DIGITS or char.isdigit():
            number = _CN_DIGITS[char] if char in _CN_DIGITS else int(char)
            after_unit = after_unit and char not in "零〇"
        elif char in _CN_UNITS:
            section += (number or 1) * _CN_UNITS[char]
            number, last_unit, after_unit = 0, _CN_UNITS[char], True
        elif char == "万":
            total += (section + number) * 10000
            section, number, last_unit, after_unit = 0, 0, 10000, True
        else:
            return None
    if number and after_unit and last_unit >= 100:
        number *= last_unit // 10  # 一千二 is 1,200: the bare digit after a unit is the next unit down
    value = Decimal(total + section + number)
    return value if Decimal(0) < value <= _MAX_AMOUNT else None


def _words(phrase: str) -> Decimal | None:
    total, current = 0, 0
    for word in re.split(r"[\s-]+", phrase):
        if word == "and":
            continue
        if word == "hundred":
            current = (current or 1) * 100
        elif word == "thousand":
            total += (current or 1) * 1000
            current = 0
        else:
            current += _EN_NUMBERS[word]
    value = Decimal(total + current)
    return value if value > 0 else None


def _value(kind: str, m: re.Match[str]) -> Decimal | None:
    if kind in ("sign", "unit"):
        return _decimal(m[1], m[2])
    if kind == "words":
        return _words(m[1])
    return _cn_numeral(m[1])


def amount_mentions(text: str) -> list[AmountMention]:
    """Every money amount in a normalised reply, in reading order (overlaps: the earliest, then longest)."""
    found: list[AmountMention] = []
    for kind, pattern in _PATTERNS:
        for m in pattern.finditer(text):
            value = _value(kind, m)
            if value is not None:
                found.append(AmountMention(m.start(), m.end(), value))
    found.sort(key=lambda a: (a.start, -a.end))
    kept: list[AmountMention] = []
    for mention in found:
        if not kept or mention.start >= kept[-1].end:
            kept.append(mention)
    return kept


def bare_amount_at(text: str, position: int) -> AmountMention | None:
    """A number at ``position`` (right after a pay verb) read as money: "pay 150 friday", "还500"."""
    m = _BARE.match(text, position)
    if m is None:
        return None
    value = _decimal(m[1], m[2])
    if value is None or (value < 10 and not m[2]):  # "pay 2" is too likely a count or a date
        return None
    return AmountMention(m.start(1), m.end(), value)


def first_amount(text: str) -> Decimal | None:
    mentions = amount_mentions(text)
    return mentions[0].value if mentions else None
