"""SMS segments are counted the way carriers bill them."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dunning.domain.sms import GSM7_BASIC, GSM7_EXTENSION, Encoding, SmsSize, gsm7_safe, sms_size


def size(encoding: Encoding, units: int, segments: int, per_segment: int) -> SmsSize:
    return SmsSize(encoding=encoding, units=units, segments=segments, per_segment=per_segment)


# --------------------------------------------------------------------------- GSM-7


@pytest.mark.parametrize(
    "length,segments,per_segment",
    [(1, 1, 160), (160, 1, 160), (161, 2, 153), (306, 2, 153), (307, 3, 153), (459, 3, 153), (460, 4, 153)],
)
def test_gsm7_boundaries(length: int, segments: int, per_segment: int) -> None:
    assert sms_size("a" * length) == size(Encoding.GSM7, length, segments, per_segment)


def test_extension_characters_cost_two_septets_at_the_single_segment_boundary() -> None:
    assert sms_size("a" * 158 + "€") == size(Encoding.GSM7, 160, 1, 160)
    assert sms_size("a" * 159 + "€") == size(Encoding.GSM7, 161, 2, 153)
    assert sms_size("{}[]~|^\\\f€").units == 20


def test_an_escaped_character_is_never_split_across_segments() -> None:
    # 152 septets then "€": it would need septets 153 and 154, so it moves to segment 2 whole
    text = "a" * 152 + "€" + "a" * 152
    assert sms_size(text) == size(Encoding.GSM7, 306, 3, 153)
    # the same septet count without an escape at the seam fits in two
    assert sms_size("a" * 151 + "€" + "a" * 153) == size(Encoding.GSM7, 306, 2, 153)


def test_plain_english_notice_with_accents_of_the_gsm_alphabet_stays_gsm7() -> None:
    notice = (
        "Hi, your payment of $120.50 is 5 days overdue. Pay by 10 Mar: https://pay.example.com/p/x. Café Ñ ü"
    )
    result = sms_size(notice)
    assert result.encoding is Encoding.GSM7
    assert result.units == len(notice)


def test_the_gsm_tables_are_complete() -> None:
    assert len(GSM7_BASIC) == 127  # 128 codes less the escape
    assert len(GSM7_EXTENSION) == 10
    assert not GSM7_BASIC & GSM7_EXTENSION


# --------------------------------------------------------------------------- UCS-2


@pytest.mark.parametrize(
    "length,segments,per_segment",
    [(70, 1, 70), (71, 2, 67), (134, 2, 67), (135, 3, 67)],
)
def test_ucs2_boundaries(length: int, segments: int, per_segment: int) -> None:
    assert sms_size("欠" * length) == size(Encoding.UCS2, length, segments, per_segment)


def test_chinese_notice_is_ucs2() -> None:
    notice = "【某某消费金融】您的借款已逾期5天，应还金额人民币1,200.00元。回复TD退订"
    result = sms_size(notice)
    assert result.encoding is Encoding.UCS2
    assert result.units == len(notice)
    assert result.segments == 1


def test_one_character_outside_gsm_turns_the_whole_message_ucs2() -> None:
    assert sms_size("a" * 100).segments == 1
    assert sms_size("a" * 100 + "’") == size(Encoding.UCS2, 101, 2, 67)


def test_an_emoji_counts_two_units() -> None:
    assert sms_size("👍") == size(Encoding.UCS2, 2, 1, 70)
    assert sms_size("a" * 68 + "👍") == size(Encoding.UCS2, 70, 1, 70)
    assert sms_size("a" * 69 + "👍") == size(Encoding.UCS2, 71, 2, 67)


def test_a_surrogate_pair_is_never_split_across_segments() -> None:
    assert sms_size("a" * 66 + "👍" + "a" * 66) == size(Encoding.UCS2, 134, 3, 67)
    assert sms_size("a" * 65 + "👍" + "a" * 67) == size(Encoding.UCS2, 134, 2, 67)


def test_an_empty_message_still_costs_one_segment() -> None:
    assert sms_size("") == size(Encoding.GSM7, 0, 1, 160)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=600))
def test_segments_hold_the_whole_message_and_never_much_more(text: str) -> None:
    result = sms_size(text)
    assert result.segments * result.per_segment >= result.units
    if result.segments > 1:
        # at most one unit wasted at each seam by a character that would not fit
        assert result.segments <= math.ceil(result.units / (result.per_segment - 1))
        assert result.segments >= math.ceil(result.units / result.per_segment)


# --------------------------------------------------------------------------- gsm7_safe


def test_typographic_characters_are_replaced_so_english_stays_gsm7() -> None:
    text = "It’s “due” now – pay today… or call\u00a0us — thanks"
    safe = gsm7_safe(text)
    assert safe == 'It\'s "due" now - pay today... or call us - thanks'
    assert sms_size(text).encoding is Encoding.UCS2
    assert sms_size(safe).encoding is Encoding.GSM7


def test_gsm7_safe_leaves_chinese_and_gsm_text_alone() -> None:
    assert gsm7_safe("您的借款已逾期") == "您的借款已逾期"
    assert gsm7_safe("Café {ref} €5") == "Café {ref} €5"
