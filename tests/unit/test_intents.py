"""Reply intents: what a customer's SMS reply makes the engine do, in English and Chinese."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dunning.domain.intents import (
    Classification,
    Intent,
    classify,
    extract_promise_amount,
    extract_promise_date,
    local_today,
)
from dunning.domain.models import Channel

# Wednesday 2026-11-25, mid-morning in New York and mid-afternoon in UTC: same local date in both
WEDNESDAY = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
# Friday 20:00 UTC is already Saturday 04:00 on 2026-11-28 in Shanghai
FRIDAY_EVENING_UTC = datetime(2026, 11, 27, 20, 0, tzinfo=UTC)
# Saturday 05:00 UTC is still Friday 21:00 on 2026-11-27 in Los Angeles
SATURDAY_MORNING_UTC = datetime(2026, 11, 28, 5, 0, tzinfo=UTC)
NY = "America/New_York"
SHANGHAI = "Asia/Shanghai"


def _classify(text: str, now: datetime = WEDNESDAY, zone: str = NY) -> Classification:
    return classify(text, now, zone)


# --------------------------------------------------------------------------- intents

MESSAGES: list[tuple[str, Intent]] = [
    # carrier keywords: the whole message, any case, trimmed, punctuation ignored
    ("STOP", Intent.STOP),
    ("stop", Intent.STOP),
    ("  Stop!  ", Intent.STOP),
    ("UNSUBSCRIBE", Intent.STOP),
    ("cancel.", Intent.STOP),
    ("End", Intent.STOP),
    ("QUIT", Intent.STOP),
    ("STOP ALL", Intent.STOP),
    ("opt-out", Intent.STOP),
    ("Revoke", Intent.STOP),
    ("退订", Intent.STOP),
    ("TD", Intent.STOP),
    ("t", Intent.STOP),
    ("ＳＴＯＰ", Intent.STOP),  # full-width
    ("Please stop texting me", Intent.STOP),
    ("don't call me again", Intent.STOP),
    ("不要再给我发短信了", Intent.STOP),
    ("回复退订可以吗", Intent.STOP),
    ("START", Intent.START),
    ("unstop", Intent.START),
    ("Yes", Intent.ACCEPT),  # a carrier opt-in word too: START is in secondary
    ("开始", Intent.START),
    ("恢复", Intent.START),
    ("HELP", Intent.HELP),
    ("info?", Intent.HELP),
    ("帮助", Intent.HELP),
    ("I paid", Intent.PAID),
    ("Already paid yesterday", Intent.PAID),
    ("I've already paid this", Intent.PAID),
    ("I made the payment this morning", Intent.PAID),
    ("已还", Intent.PAID),
    ("我已经还款了", Intent.PAID),
    ("还了", Intent.PAID),
    ("I will pay on Friday", Intent.PROMISE),
    ("can pay next Monday", Intent.PROMISE),
    ("pay $50 on the 15th", Intent.PROMISE),
    ("I’ll settle it tomorrow", Intent.PROMISE),
    ("will pay on 2026-12-05", Intent.PROMISE),
    ("I can pay 12/5", Intent.PROMISE),
    ("15号还", Intent.PROMISE),
    ("下周五还款", Intent.PROMISE),
    ("明天还", Intent.PROMISE),
    ("3天后还钱", Intent.PROMISE),
    ("12月5日付款", Intent.PROMISE),
    ("我下个月15号还1000元", Intent.PROMISE),
    ("I lost my job", Intent.HARDSHIP),
    ("I can't afford this right now", Intent.HARDSHIP),
    ("can we set up a payment plan?", Intent.HARDSHIP),
    ("Can I pay in installments", Intent.HARDSHIP),
    ("instalments please", Intent.HARDSHIP),
    ("能分期吗", Intent.HARDSHIP),
    ("最近很困难", Intent.HARDSHIP),
    ("我没钱", Intent.HARDSHIP),
    ("我失业了", Intent.HARDSHIP),
    ("This is not my debt", Intent.DISPUTE),
    ("I dispute this", Intent.DISPUTE),
    ("wrong amount", Intent.DISPUTE),
    ("I never borrowed anything from you", Intent.DISPUTE),
    ("这不是我的", Intent.DISPUTE),
    ("我有异议", Intent.DISPUTE),
    ("金额不对", Intent.DISPUTE),
    ("wrong number", Intent.WRONG_NUMBER),
    ("Who is this? I'm not Maria", Intent.WRONG_NUMBER),
    ("打错了", Intent.WRONG_NUMBER),
    ("我不是本人", Intent.WRONG_NUMBER),
    ("call me", Intent.CALL_ME),
    ("Can someone give me a call after 5pm", Intent.CALL_ME),
    ("请给我打电话", Intent.CALL_ME),
    ("请回电", Intent.CALL_ME),
    ("ok thanks", Intent.ACCEPT),  # a whole-message yes: the case decides whether it accepts anything
    ("what is this about", Intent.HELP),  # the help reply says who we are and how to reach us
    ("thanks", Intent.OTHER),
    ("I will pay soon", Intent.OTHER),  # a pay verb with no date is not a promise
    ("你好", Intent.OTHER),
    ("", Intent.OTHER),
]


@pytest.mark.parametrize(("text", "expected"), MESSAGES)
def test_reply_is_classified_as_the_customer_meant(text: str, expected: Intent) -> None:
    assert _classify(text).intent is expected


@pytest.mark.parametrize(
    "text",
    [
        "I want to stop the payment plan",  # plan talk, not an opt-out
        "the end of the month",
        "T minus 3 days",
        "I'll do it, TD bank",
        "cancel my direct debit please",
    ],
)
def test_carrier_keywords_inside_a_sentence_are_not_an_opt_out(text: str) -> None:
    assert _classify(text).intent is not Intent.STOP


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # an opt-out wins even when the customer also promises to pay
        ("stop texting me, I will pay on Friday", Intent.STOP),
        # not the debtor: nothing else they say counts
        ("wrong number, I don't owe you anything", Intent.WRONG_NUMBER),
        # a disputed debt is held for review even with an offer to pay
        ("not my debt but I'll pay on Friday to make this stop", Intent.DISPUTE),
        # a promise in the same message as a claim of payment: the outstanding part matters
        ("I paid $50 and will pay the rest on Friday", Intent.PROMISE),
        ("I paid, call me if you have not received it", Intent.PAID),
        ("我没钱，下周五还", Intent.HARDSHIP),
    ],
)
def test_the_higher_priority_intent_wins(text: str, expected: Intent) -> None:
    assert _classify(text).intent is expected


def test_hardship_still_carries_the_date_the_customer_could_pay() -> None:
    result = _classify("I can't pay, I lost my job, can I pay on the 15th?")

    assert result.intent is Intent.HARDSHIP
    assert result.promise_date == date(2026, 12, 15)


def test_promise_carries_date_and_amount_as_decimal() -> None:
    result = _classify("I can pay $1,250.50 on Friday")

    assert result.intent is Intent.PROMISE
    assert result.promise_date == date(2026, 11, 27)
    assert result.promise_amount == Decimal("1250.50")
    assert isinstance(result.promise_amount, Decimal)


def test_an_amount_already_paid_is_not_taken_as_the_promised_amount() -> None:
    result = _classify("I paid $50 and will pay the rest on Friday")

    assert result.promise_date == date(2026, 11, 27)
    assert result.promise_amount is None


def test_intents_other_than_promise_and_hardship_carry_no_promise() -> None:
    result = _classify("I already paid $50 on Monday")

    assert result.intent is Intent.PAID
    assert (result.promise_date, result.promise_amount) == (None, None)


@pytest.mark.parametrize(
    ("text", "language"),
    [("I will pay on Friday", "en"), ("明天还", "zh"), ("TD", "zh"), ("STOP", "en"), ("ok 好的", "zh")],
)
def test_language_follows_the_script_of_the_reply(text: str, language: str) -> None:
    assert _classify(text).language == language


def test_the_ledger_sees_the_rule_that_matched_never_the_customer_text() -> None:
    text = "I'm Maria Lopez at 555-0100, I will pay $40 on Friday"
    result = _classify(text)

    assert result.intent is Intent.PROMISE
    assert result.matched == "promise:en:pay+en:weekday"
    for fragment in ("maria", "555", "40"):
        assert fragment not in result.matched.lower()


@pytest.mark.parametrize(
    ("text", "matched"),
    [
        ("stop", "keyword:STOP"),
        ("退订", "keyword:退订"),
        ("wrong number", "en:wrong-number"),
        ("hmm", "none"),
    ],
)
def test_matched_names_the_keyword_or_rule(text: str, matched: str) -> None:
    assert _classify(text).matched == matched


def test_classification_is_immutable() -> None:
    result = _classify("STOP")
    with pytest.raises(ValueError, match="frozen"):
        result.intent = Intent.START  # type: ignore[misc]


def test_promise_amount_serialises_as_a_string_not_a_float() -> None:
    dumped = _classify("I will pay 50.10 dollars tomorrow").model_dump(mode="json")

    assert dumped["promise_amount"] == "50.10"
    assert dumped["promise_date"] == "2026-11-26"


# --------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("today", date(2026, 11, 25)),
        ("tomorrow", date(2026, 11, 26)),
        ("day after tomorrow", date(2026, 11, 27)),
        ("in 3 days", date(2026, 11, 28)),
        ("in two weeks", date(2026, 12, 9)),
        # bare weekday: strictly after today
        ("Friday", date(2026, 11, 27)),
        ("fri", date(2026, 11, 27)),
        ("Wednesday", date(2026, 12, 2)),
        ("this Wednesday", date(2026, 11, 25)),
        ("Monday", date(2026, 11, 30)),
        # "next <weekday>": that weekday in next Monday-start week, so nine days away from a Wednesday
        ("next Friday", date(2026, 12, 4)),
        ("next Monday", date(2026, 11, 30)),
        ("next Wednesday", date(2026, 12, 2)),
        # day of month: this month if not passed (today counts), else next month
        ("on the 15th", date(2026, 12, 15)),
        ("25th", date(2026, 11, 25)),
        ("the 28th", date(2026, 11, 28)),
        ("31st", date(2026, 11, 30)),  # November has 30 days: clamped to month end
        ("December 5th", date(2026, 12, 5)),
        ("5th of Dec", date(2026, 12, 5)),
        ("Jan 3", date(2027, 1, 3)),
        ("2026-12-05", date(2026, 12, 5)),
        ("12/5", date(2026, 12, 5)),
        ("11/1", date(2027, 11, 1)),  # already passed this year
        ("12/5/2026", date(2026, 12, 5)),
        ("2/30", date(2027, 2, 28)),
        # Chinese
        ("今天", date(2026, 11, 25)),
        ("明天", date(2026, 11, 26)),
        ("后天", date(2026, 11, 27)),
        ("大后天", date(2026, 11, 28)),
        ("15号", date(2026, 12, 15)),
        ("30日", date(2026, 11, 30)),
        ("十五号", date(2026, 12, 15)),
        ("12月5日", date(2026, 12, 5)),
        ("12月5号", date(2026, 12, 5)),
        ("2027年1月3日", date(2027, 1, 3)),
        ("周五", date(2026, 11, 27)),
        ("星期五", date(2026, 11, 27)),
        ("礼拜五", date(2026, 11, 27)),
        ("周三", date(2026, 12, 2)),
        ("星期天", date(2026, 11, 29)),
        ("下周五", date(2026, 12, 4)),
        ("下星期五", date(2026, 12, 4)),
        ("下个礼拜一", date(2026, 11, 30)),
        ("这周五", date(2026, 11, 27)),
        ("3天后", date(2026, 11, 28)),
        ("两周后", date(2026, 12, 9)),
        ("下个月15号", date(2026, 12, 15)),
        ("下月31日", date(2026, 12, 31)),
        ("the 10th of next month", date(2026, 12, 10)),
    ],
)
def test_promise_date_on_a_wednesday(text: str, expected: date) -> None:
    assert extract_promise_date(text, WEDNESDAY, NY) == expected


@pytest.mark.parametrize(
    "text",
    ["", "soon", "yesterday", "2026-11-01", "2026-02-30", "12/5/2020", "这周一", "in 99999 days", "13/45"],
)
def test_no_promise_date_when_there_is_none_or_it_is_past(text: str) -> None:
    assert extract_promise_date(text, WEDNESDAY, NY) is None


def test_friday_on_a_friday_means_next_week_unless_the_customer_says_today() -> None:
    friday = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)

    assert extract_promise_date("Friday", friday, NY) == date(2026, 12, 4)
    assert extract_promise_date("周五", friday, NY) == date(2026, 12, 4)
    assert extract_promise_date("this Friday", friday, NY) == date(2026, 11, 27)
    assert classify("I will pay today, Friday", friday, NY).promise_date == date(2026, 11, 27)
    assert classify("I'll pay Friday today", friday, NY).promise_date == date(2026, 11, 27)


def test_next_monday_said_on_a_sunday_is_tomorrow() -> None:
    sunday = datetime(2026, 11, 29, 15, 0, tzinfo=UTC)

    assert extract_promise_date("next Monday", sunday, NY) == date(2026, 11, 30)
    assert extract_promise_date("下周一", sunday, NY) == date(2026, 11, 30)
    assert extract_promise_date("下下周一", sunday, NY) == date(2026, 12, 7)


def test_dates_follow_the_customers_local_date_not_the_utc_date() -> None:
    # 2026-11-27T20:00Z: Friday in UTC, already Saturday 28th in Shanghai
    assert local_today(FRIDAY_EVENING_UTC, SHANGHAI) == date(2026, 11, 28)
    assert extract_promise_date("明天", FRIDAY_EVENING_UTC, SHANGHAI) == date(2026, 11, 29)
    assert extract_promise_date("tomorrow", FRIDAY_EVENING_UTC, "UTC") == date(2026, 11, 28)
    assert extract_promise_date("today", FRIDAY_EVENING_UTC, SHANGHAI) == date(2026, 11, 28)
    # the 27th has passed in Shanghai, not in UTC
    assert extract_promise_date("27号", FRIDAY_EVENING_UTC, SHANGHAI) == date(2026, 12, 27)
    assert extract_promise_date("27th", FRIDAY_EVENING_UTC, "UTC") == date(2026, 11, 27)
    # on Saturday, "Friday" is six days ahead; on Friday in UTC it is seven
    assert extract_promise_date("周五", FRIDAY_EVENING_UTC, SHANGHAI) == date(2026, 12, 4)
    assert extract_promise_date("Saturday", FRIDAY_EVENING_UTC, SHANGHAI) == date(2026, 12, 5)
    assert extract_promise_date("Saturday", FRIDAY_EVENING_UTC, "UTC") == date(2026, 11, 28)


def test_a_zone_behind_utc_is_still_on_the_previous_day() -> None:
    assert local_today(SATURDAY_MORNING_UTC, "America/Los_Angeles") == date(2026, 11, 27)
    assert extract_promise_date("tomorrow", SATURDAY_MORNING_UTC, "America/Los_Angeles") == date(2026, 11, 28)


def test_the_first_date_in_reading_order_wins() -> None:
    assert extract_promise_date("Friday or maybe Monday", WEDNESDAY, NY) == date(2026, 11, 27)
    assert extract_promise_date("明天或者下周五", WEDNESDAY, NY) == date(2026, 11, 26)


def test_promise_date_uses_full_width_digits() -> None:
    assert extract_promise_date("１５号还", WEDNESDAY, NY) == date(2026, 12, 15)


def test_an_unknown_zone_or_naive_instant_is_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        classify("STOP", WEDNESDAY, "Mars/Olympus")
    with pytest.raises(ValueError, match="naive"):
        classify("STOP", datetime(2026, 11, 25, 15, 0), NY)  # noqa: DTZ001 - the point of the test


# --------------------------------------------------------------------------- amounts


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$50", Decimal("50")),
        ("$ 1,200.50", Decimal("1200.50")),
        ("50 dollars", Decimal("50")),
        ("50 bucks", Decimal("50")),
        ("50元", Decimal("50")),
        ("¥50", Decimal("50")),
        ("￥50", Decimal("50")),  # full-width yen sign
        ("50块", Decimal("50")),
        ("500块钱", Decimal("500")),
        ("on the 15th", None),
        ("pay 50 on friday", None),  # a bare number is not money
        ("$0", None),
    ],
)
def test_amounts_are_decimals(text: str, expected: Decimal | None) -> None:
    assert extract_promise_amount(text) == expected


# --------------------------------------------------------------------------- properties

TOKENS = st.sampled_from(
    [
        "stop",
        "pay",
        "I will pay",
        "还",
        "15号",
        "31st",
        "12/31",
        "2/29",
        "next",
        "friday",
        "下周",
        "五",
        "tomorrow",
        "明天",
        "in",
        "9999",
        "days",
        "$",
        "50",
        "元",
        "十",
        "月",
        "日",
        "2026-13-40",
        "9999-12-31",
        "0",
        "t",
        "?",
        "！",
        "ｓ",
        "下下下周日",
        "大后天",
        "paid",
        "lost my job",
    ]
)
TEXTS = st.one_of(st.text(), st.lists(st.one_of(TOKENS, st.text(max_size=3)), max_size=12).map(" ".join))
INSTANTS = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2090, 12, 31), timezones=st.just(UTC)
)
ZONES = st.sampled_from(["UTC", NY, SHANGHAI, "Pacific/Kiritimati", "Pacific/Pago_Pago", "Asia/Kolkata"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXTS, now=INSTANTS, zone=ZONES)
def test_classify_never_raises_and_never_promises_a_past_date(text: str, now: datetime, zone: str) -> None:
    result = classify(text, now, zone)

    assert isinstance(result.intent, Intent)
    assert result.language in ("en", "zh")
    today = local_today(now, zone)
    if result.promise_date is not None:
        assert result.promise_date >= today
    promised = extract_promise_date(text, now, zone)
    assert promised is None or promised >= today
    if result.promise_amount is not None:
        assert isinstance(result.promise_amount, Decimal) and result.promise_amount > 0


# --------------------------------------------------------------------------- people, not keywords


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # any reasonable way of saying stop
        ("quit texting me, leave me alone", Intent.STOP),
        ("I want these messages to stop", Intent.STOP),
        ("Please refrain from contacting me further", Intent.STOP),
        ("别烦我了", Intent.STOP),
        ("不要再发了", Intent.STOP),
        ("please 别再call我了", Intent.STOP),
        ("R", Intent.STOP),
        ("拒收", Intent.STOP),
        ("stpo", Intent.STOP),
        ("🛑", Intent.STOP),
        # the new intents
        ("my husband passed away last month…", Intent.BEREAVEMENT),
        ("借款人上个月过世了", Intent.BEREAVEMENT),
        ("I'll report you to the CFPB", Intent.COMPLAINT),
        ("你们再打电话骚扰我，我就去投诉", Intent.COMPLAINT),  # a conditional threat is a complaint, not a stop
        ("好的", Intent.ACCEPT),
        ("可以", Intent.ACCEPT),
        ("yeah sure 👍", Intent.ACCEPT),
        ("同意分期", Intent.ACCEPT),
        # hardship without the word
        ("I was in the hospital for two weeks… can we work something out?", Intent.HARDSHIP),
        ("最近手头紧，过几天再还行吗", Intent.HARDSHIP),
        ("周转不过来", Intent.HARDSHIP),
        ("能不能分三期", Intent.HARDSHIP),
        # disputes and requests for proof; the wrong party
        ("this isn't my debt", Intent.DISPUTE),
        ("send me validation of this debt", Intent.DISPUTE),
        ("请把借款合同发给我", Intent.DISPUTE),
        ("who is this? I don't know any John Smith", Intent.WRONG_NUMBER),
        ("请给我打个电话", Intent.CALL_ME),
        ("who is this?", Intent.HELP),
        ("我上周五还的", Intent.PAID),  # a pay verb on a past day is a claim of payment
    ],
)
def test_people_are_understood_in_their_own_words(text: str, expected: Intent) -> None:
    assert _classify(text, zone=SHANGHAI if any("\u4e00" <= c <= "\u9fff" for c in text) else NY).intent is expected


def test_a_stop_wins_and_keeps_what_else_was_said() -> None:
    result = _classify("stop texting me, I already paid")

    assert result.intent is Intent.STOP
    assert result.secondary == (Intent.PAID,)
    assert result.evidence == ("en:stop-contacting", "en:i-paid")
    assert result.stop_channels == (Channel.SMS,)


def test_a_stop_that_also_promises_carries_the_date_for_the_case() -> None:
    result = _classify("You don't need to text me, I'll pay Friday")

    assert (result.intent, result.secondary) == (Intent.STOP, (Intent.PROMISE,))
    assert result.promise_date == date(2026, 11, 27)


@pytest.mark.parametrize(
    ("text", "channels"),
    [("stop calling me", (Channel.CALL,)), ("Please stop emailing me", (Channel.EMAIL,)), ("STOP", ()),
     ("leave me alone", ()), ("不要再打电话了", (Channel.CALL,))],
)
def test_a_stop_names_the_channels_its_words_name(text: str, channels: tuple[Channel, ...]) -> None:
    assert _classify(text).stop_channels == channels


def test_yes_is_accept_with_the_carrier_opt_in_kept_as_a_secondary_signal() -> None:
    result = _classify("YES")

    assert (result.intent, result.secondary, result.matched) == (Intent.ACCEPT, (Intent.START,), "keyword:YES")


@pytest.mark.parametrize(
    "text",
    [
        "I won't pay tomorrow",  # negated
        "maybe I can pay friday",  # a hedge
        "I'll try to pay on the 15th",
        "尽量月底还",
        "可能下周还",
        "I was going to pay on Friday but my car broke down",  # the past
        "is the payment due on the 15th?",  # an obligation question
        "15号之前要还吗",
        "What happens if I pay on the 20th instead?",
        "I get paid Friday",  # a date with no pay verb
        "did you get my payment on the 10th?",  # when it was paid
        "I paid last Friday",
    ],
)
def test_a_non_promise_is_never_read_as_a_promise(text: str) -> None:
    result = _classify(text, zone=SHANGHAI if any("\u4e00" <= c <= "\u9fff" for c in text) else NY)

    assert result.intent is not Intent.PROMISE
    assert result.promise_date is None


@pytest.mark.parametrize(
    ("text", "expected", "matched"),
    [
        ("I can't pay until Friday", date(2026, 11, 27), "promise:en:not-until+en:weekday"),
        ("I can't pay today but I can pay on Monday", date(2026, 11, 30), "promise:en:pay+en:weekday"),
        ("can u give me till the 15th", date(2026, 12, 15), "promise-ask:en:extend+en:day-of-month"),
        ("Can I pay on the 15th?", date(2026, 12, 15), "promise-ask:en:pay+en:day-of-month"),
        ("How about the 20th?", date(2026, 12, 20), "promise-ask:en:ask+en:day-of-month"),
        ("明天还不上，后天行吗", date(2026, 11, 27), "promise-ask:zh:ask+day-after-tomorrow"),
        ("我周五发工资，发了马上还你们", date(2026, 11, 27), "promise:zh:pay+zh:weekday"),
    ],
)
def test_a_reschedule_or_a_proposed_day_is_a_promise(text: str, expected: date, matched: str) -> None:
    result = _classify(text)

    assert (result.intent, result.promise_date, result.matched) == (Intent.PROMISE, expected, matched)
    assert result.confidence == ("low" if matched.startswith("promise-ask") else "high")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # spans resolve to their last day (Wednesday 2026-11-25)
        ("this weekend", date(2026, 11, 29)),
        ("next weekend", date(2026, 12, 6)),
        ("next week", date(2026, 12, 6)),
        ("by the end of the week", date(2026, 11, 29)),
        ("end of month", date(2026, 11, 30)),
        ("end of next month", date(2026, 12, 31)),
        ("early next month", date(2026, 12, 5)),
        ("mid-month", date(2026, 12, 15)),
        ("end of the year", date(2026, 12, 31)),
        ("月底", date(2026, 11, 30)),
        ("下个月初", date(2026, 12, 5)),
        ("下个月底", date(2026, 12, 31)),
        ("月中", date(2026, 12, 15)),
        ("周末", date(2026, 11, 29)),
        ("下周", date(2026, 12, 6)),
        ("12月底", date(2026, 12, 31)),
        ("年底", date(2026, 12, 31)),
        ("Friday next week", date(2026, 12, 4)),
        ("in a fortnight", date(2026, 12, 9)),
        ("3 days from now", date(2026, 11, 28)),
        ("一周内", date(2026, 12, 2)),
        ("明儿", date(2026, 11, 26)),
        ("tmrw", date(2026, 11, 26)),
        ("on 15", date(2026, 12, 15)),
        ("next month on the 10th", date(2026, 12, 10)),
    ],
)
def test_spans_and_colloquial_dates(text: str, expected: date) -> None:
    assert extract_promise_date(text, WEDNESDAY, NY) == expected


@pytest.mark.parametrize("text", ["next month", "in a few days", "soon", "过两天", "payday", "last Friday", "上周五"])
def test_vague_or_past_days_are_no_date(text: str) -> None:
    assert extract_promise_date(text, WEDNESDAY, NY) is None


@pytest.mark.parametrize(
    ("zone", "locale", "expected"),
    [
        (NY, None, date(2026, 12, 10)),
        (SHANGHAI, None, date(2026, 12, 10)),
        ("Europe/London", None, date(2027, 10, 12)),
        (NY, "en-GB", date(2027, 10, 12)),  # the locale decides when known
        ("Europe/London", "zh-CN", date(2026, 12, 10)),
    ],
)
def test_a_slashed_date_follows_the_customers_convention(zone: str, locale: str | None, expected: date) -> None:
    assert classify("I'll pay on 12/10", WEDNESDAY, zone, locale=locale).promise_date == expected


def test_a_slashed_date_with_one_valid_reading_is_read_that_way() -> None:
    assert extract_promise_date("25/12", WEDNESDAY, NY) == date(2026, 12, 25)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("五百", Decimal("500")),
        ("一千二", Decimal("1200")),
        ("三百五", Decimal("350")),
        ("两千零五", Decimal("2005")),
        ("1.5万", Decimal("15000")),
        ("1,200元", Decimal("1200")),
        ("fifty bucks", Decimal("50")),
        ("two hundred and fifty dollars", Decimal("250")),
        ("$1.5k", Decimal("1500")),
        ("十五号", None),  # a date
        ("千万别再打了", None),  # "by all means", not ten million
    ],
)
def test_amounts_in_words_and_chinese_numerals(text: str, expected: Decimal | None) -> None:
    assert extract_promise_amount(text) == expected


@pytest.mark.parametrize(
    ("text", "amount"),
    [("I can pay 150 on friday", Decimal("150")), ("后天还500", Decimal("500")), ("我明天还你们1000", Decimal("1000")),
     ("I can pay on the 15th", None), ("还3期", None)],
)
def test_a_bare_number_right_after_a_pay_verb_is_the_amount(text: str, amount: Decimal | None) -> None:
    zone = SHANGHAI if any("\u4e00" <= c <= "\u9fff" for c in text) else NY
    assert _classify(text, zone=zone).promise_amount == amount


@pytest.mark.parametrize(
    ("text", "expected"),
    [("明天還款", Intent.PROMISE), ("別再發了", Intent.STOP), ("stooop", Intent.STOP),
     ("15号pay可以吗", Intent.PROMISE), ("ＳＴＯＰ", Intent.STOP), ("i payed it already smh", Intent.PAID)],
)
def test_traditional_characters_typos_and_mixed_scripts(text: str, expected: Intent) -> None:
    assert _classify(text, zone=SHANGHAI).intent is expected


def test_a_reply_read_from_a_weak_cue_has_low_confidence() -> None:
    assert _classify("stpo").confidence == "low"
    assert _classify("hmm").confidence == "low"
    assert _classify("is this a scam?").confidence == "low"
    assert _classify("I lost my job, can I pay on the 15th?").confidence == "low"  # hardship and a promise
    assert _classify("I will pay on Friday").confidence == "high"
