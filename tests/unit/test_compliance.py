"""Compliance engine: each rule at fixed instants, with hand-made US and CN accounts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from dunning.domain.compliance import (
    Attempt,
    AttemptKind,
    ContactOutcome,
    ContactRecord,
    Verdict,
    check,
    is_allowed_at,
    is_holiday,
)
from dunning.domain.models import (
    Account,
    AccountStatus,
    Case,
    CaseStatus,
    Channel,
    Contact,
    Jurisdiction,
    Money,
    Promise,
    ReasonCode,
    Recipient,
    parse_instant,
)
from dunning.domain.notices import lint as notice_lint
from dunning.domain.notices.render import RenderedNotice
from dunning.domain.policy import Policy, default_policy

POLICY: Policy = default_policy()
US_PHONE = "+12025550123"
CN_PHONE = "+8613800138000"
EMAIL = "pat.debtor@example.com"
NAME = "Pat Debtor"


def at(text: str) -> datetime:
    return parse_instant(text)


def account(*zones: str, jurisdiction: str = "US", **changes: Any) -> Account:
    us = jurisdiction == "US"
    fields: dict[str, Any] = {
        "account_id": "acc-1",
        "customer_name": NAME,
        "account_number": "000123456789",
        "contact": Contact(phone=US_PHONE if us else CN_PHONE, email=EMAIL),
        "locale": "en-US" if us else "zh-CN",
        "time_zones": list(zones) or (["America/New_York"] if us else ["Asia/Shanghai"]),
        "jurisdiction": jurisdiction,
        "currency": "USD" if us else "CNY",
        "principal_due": Decimal("120.00"),
        "due_date": date(2026, 2, 1),
        "status": AccountStatus.DELINQUENT,
    }
    fields.update(changes)
    return Account(**fields)


def case(status: CaseStatus = CaseStatus.OPEN, **changes: Any) -> Case:
    return Case(
        case_id="case-1", account_id="acc-1", status=status, opened_at=at("2026-02-02T12:00:00Z"), **changes
    )


def rec(
    when: str, channel: Channel, outcome: ContactOutcome, number_hash: str | None = None
) -> ContactRecord:
    return ContactRecord(at=at(when), channel=channel, outcome=outcome, number_hash=number_hash)


def run(
    now: str,
    channel: Channel = Channel.SMS,
    acct: Account | None = None,
    the_case: Case | None = None,
    history: list[ContactRecord] | None = None,
    **attempt: Any,
):
    acct = acct or account()
    the_case = the_case if the_case is not None else case()
    result = check(Attempt(channel=channel, **attempt), acct, the_case, history or [], POLICY, at(now))
    if result.verdict is Verdict.DEFER:
        # the instant a DEFER names must itself be allowed
        assert result.until is not None and result.until > at(now)
        assert is_allowed_at(
            Attempt(channel=channel, **attempt), acct, the_case, history or [], POLICY, result.until
        )
    return result


def assert_defer(result: Any, until: str, *codes: ReasonCode) -> None:
    assert result.verdict is Verdict.DEFER, result
    assert result.until == at(until), result
    for code in codes:
        assert code in result.reasons, result


# --------------------------------------------------------------------------- window


class TestContactWindow:
    def test_before_eight_in_new_york_waits_until_eight(self) -> None:
        result = run("2026-03-02T12:59:00Z")  # 07:59 EST
        assert_defer(result, "2026-03-02T13:00:00Z", ReasonCode.CONTACT_WINDOW)
        assert result.reasons == [ReasonCode.CONTACT_WINDOW]
        assert result.details == ["CONTACT_WINDOW: 07:59 America/New_York outside 08:00-21:00"]

    def test_at_eight_and_at_20_59_are_allowed(self) -> None:
        assert run("2026-03-02T13:00:00Z").verdict is Verdict.ALLOW
        assert run("2026-03-03T01:59:00Z").verdict is Verdict.ALLOW  # 20:59 EST

    def test_at_21_00_waits_until_next_morning(self) -> None:
        assert_defer(run("2026-03-03T02:00:00Z"), "2026-03-03T13:00:00Z", ReasonCode.CONTACT_WINDOW)

    def test_daylight_saving_day_uses_the_new_offset(self) -> None:
        # 2026-03-08: clocks go forward at 02:00 in New York, 08:00 EDT = 12:00Z
        assert_defer(run("2026-03-08T11:30:00Z"), "2026-03-08T12:00:00Z", ReasonCode.CONTACT_WINDOW)

    def test_los_angeles_local_time(self) -> None:
        acct = account("America/Los_Angeles")
        assert_defer(run("2026-03-02T15:59:00Z", acct=acct), "2026-03-02T16:00:00Z")
        assert run("2026-03-03T04:59:00Z", acct=acct).verdict is Verdict.ALLOW  # 20:59 PST

    def test_two_zones_only_where_both_agree(self) -> None:
        acct = account("America/New_York", "America/Los_Angeles")
        result = run("2026-03-02T15:59:00Z", acct=acct)  # 10:59 NY, 07:59 LA
        assert_defer(result, "2026-03-02T16:00:00Z", ReasonCode.CONTACT_WINDOW)  # 11:00 NY
        assert result.details == ["CONTACT_WINDOW: 07:59 America/Los_Angeles outside 08:00-21:00"]
        assert run("2026-03-03T01:59:00Z", acct=acct).verdict is Verdict.ALLOW  # 20:59 NY, 17:59 LA
        assert_defer(run("2026-03-03T02:00:00Z", acct=acct), "2026-03-03T16:00:00Z")

    def test_half_hour_zone(self) -> None:
        acct = account("Asia/Kolkata", jurisdiction="CN")
        assert_defer(
            run("2026-03-02T02:29:00Z", acct=acct), "2026-03-02T02:30:00Z", ReasonCode.CONTACT_WINDOW
        )

    def test_zones_a_day_apart_still_share_part_of_the_day(self) -> None:
        # +14 and -11: 25 hours apart, so their clocks differ by one hour (and a day)
        acct = account("Pacific/Kiritimati", "Pacific/Pago_Pago")
        assert_defer(run("2026-03-02T12:59:00Z", acct=acct), "2026-03-02T19:00:00Z")

    def test_zones_that_never_share_a_window_block(self) -> None:
        acct = account("Europe/London", "Asia/Shanghai", "America/Los_Angeles")
        result = run("2026-03-02T12:00:00Z", acct=acct)
        assert result.verdict is Verdict.BLOCK
        assert result.reasons == [ReasonCode.CONTACT_WINDOW]
        assert result.until is None

    def test_calls_keep_the_window_service_answers_do_not(self) -> None:
        assert run("2026-03-02T07:00:00Z", channel=Channel.CALL).verdict is Verdict.DEFER
        assert run("2026-03-02T07:00:00Z", kind=AttemptKind.PLAN_REMINDER).verdict is Verdict.DEFER
        assert run("2026-03-02T07:00:00Z", kind=AttemptKind.SERVICE).verdict is Verdict.ALLOW


# --------------------------------------------------------------------------- holidays


class TestHoliday:
    def test_independence_day_on_a_saturday_is_observed_on_friday(self) -> None:
        # 2026-07-04 is a Saturday: `holidays` lists both the 4th and Friday the 3rd (observed)
        result = run("2026-07-03T15:00:00Z")
        assert_defer(result, "2026-07-05T12:00:00Z", ReasonCode.HOLIDAY)
        assert "HOLIDAY: 2026-07-03 is a public holiday in US (America/New_York)" in result.details
        assert_defer(run("2026-07-04T15:00:00Z"), "2026-07-05T12:00:00Z", ReasonCode.HOLIDAY)

    def test_independence_day_on_a_sunday_is_observed_on_monday(self) -> None:
        assert_defer(run("2027-07-04T15:00:00Z"), "2027-07-06T12:00:00Z", ReasonCode.HOLIDAY)

    def test_evening_before_a_holiday_is_allowed(self) -> None:
        assert run("2026-07-03T00:30:00Z").verdict is Verdict.ALLOW  # 20:30 on 2 July in New York

    def test_chinese_national_day_week(self) -> None:
        acct = account(jurisdiction="CN")
        # 1-7 October 2026 in Shanghai, Sunday the 4th included: contact resumes on the 8th at 08:00
        for day in range(1, 8):
            result = run(f"2026-10-0{day}T02:00:00Z", acct=acct)
            assert_defer(result, "2026-10-08T00:00:00Z", ReasonCode.HOLIDAY)
        assert run("2026-09-30T12:59:00Z", acct=acct).verdict is Verdict.ALLOW  # 20:59 on 30 Sept

    def test_weekend_inside_a_holiday_break_counts_ordinary_weekend_does_not(self) -> None:
        assert is_holiday("CN", date(2026, 10, 4))  # Sunday between National Day holidays
        assert is_holiday("CN", date(2026, 2, 21))  # Saturday inside the Spring Festival break
        assert not is_holiday("CN", date(2026, 3, 7))
        assert not is_holiday("US", date(2026, 7, 5))  # the Sunday after a Saturday holiday
        assert not is_holiday("US", date(2026, 11, 28))  # Saturday after Thanksgiving and Black Friday

    def test_a_holiday_in_any_zone_defers(self) -> None:
        acct = account("America/New_York", "Pacific/Guam")
        # 17:30 Thanksgiving in New York, 08:30 the next day in Guam
        assert_defer(run("2026-11-26T22:30:00Z", acct=acct), "2026-11-27T22:00:00Z", ReasonCode.HOLIDAY)
        # 17:30 the day before in New York, 08:30 Thanksgiving in Guam
        assert_defer(run("2026-11-25T22:30:00Z", acct=acct), "2026-11-27T22:00:00Z", ReasonCode.HOLIDAY)

    def test_holiday_rule_off_in_policy(self) -> None:
        us = POLICY.jurisdictions[Jurisdiction.US].model_copy(update={"holidays": False})
        policy = POLICY.model_copy(update={"jurisdictions": {**POLICY.jurisdictions, Jurisdiction.US: us}})
        result = check(
            Attempt(channel=Channel.SMS), account(), case(), [], policy, at("2026-07-03T15:00:00Z")
        )
        assert result.verdict is Verdict.ALLOW

    def test_service_answers_on_holidays(self) -> None:
        assert run("2026-07-03T15:00:00Z", kind=AttemptKind.SERVICE).verdict is Verdict.ALLOW


# --------------------------------------------------------------------------- caps


class TestDailyCap:
    def test_second_sms_in_a_day_waits_for_next_morning(self) -> None:
        history = [rec("2026-03-02T14:00:00Z", Channel.SMS, ContactOutcome.DELIVERED)]
        result = run("2026-03-02T20:00:00Z", history=history)
        assert_defer(result, "2026-03-03T13:00:00Z", ReasonCode.DAILY_CAP)
        assert result.details[0] == "DAILY_CAP: 1 of 1 SMS on 2026-03-02 (America/New_York)"

    def test_uncertain_counts_failed_and_confirmation_do_not(self) -> None:
        uncertain = [rec("2026-03-02T14:00:00Z", Channel.SMS, ContactOutcome.UNCERTAIN)]
        assert run("2026-03-02T20:00:00Z", history=uncertain).verdict is Verdict.DEFER
        failed = [
            rec("2026-03-02T14:00:00Z", Channel.SMS, ContactOutcome.FAILED),
            rec("2026-03-02T15:00:00Z", Channel.SMS, ContactOutcome.CONFIRMATION),
        ]
        assert run("2026-03-02T20:00:00Z", history=failed).verdict is Verdict.ALLOW

    def test_sms_and_email_have_separate_daily_caps(self) -> None:
        history = [rec("2026-03-02T14:00:00Z", Channel.SMS, ContactOutcome.SENT)]
        assert run("2026-03-02T20:00:00Z", channel=Channel.EMAIL, history=history).verdict is Verdict.ALLOW

    def test_day_is_the_local_day_of_the_first_zone(self) -> None:
        # 23:30 on 1 March in New York is already 2 March in UTC
        history = [rec("2026-03-02T04:30:00Z", Channel.SMS, ContactOutcome.SENT)]
        assert run("2026-03-02T13:00:00Z", history=history).verdict is Verdict.ALLOW

    def test_weekly_cap_across_channels_waits_for_the_oldest_to_drop_out(self) -> None:
        channels = [
            Channel.SMS,
            Channel.CALL,
            Channel.SMS,
            Channel.CALL,
            Channel.SMS,
            Channel.CALL,
            Channel.SMS,
        ]
        history = [
            rec(
                f"2026-02-{24 + i:02d}T15:00:30Z" if i < 5 else f"2026-03-0{i - 4}T15:00:30Z",
                ch,
                ContactOutcome.SENT,
            )
            for i, ch in enumerate(channels)
        ]
        result = run("2026-03-03T14:00:00Z", channel=Channel.EMAIL, history=history)
        # oldest at 24 Feb 15:00:30 leaves the rolling week at 3 Mar 15:00:30, rounded up to the minute
        assert_defer(result, "2026-03-03T15:01:00Z", ReasonCode.DAILY_CAP)
        assert "DAILY_CAP: 7 of 7 contacts in the last 7 days" in result.details


class TestCallCap:
    def test_eighth_call_in_seven_days_waits_for_the_oldest_to_drop_out(self) -> None:
        history = [
            rec(f"2026-03-0{d}T15:00:00Z", Channel.CALL, ContactOutcome.CALL_NO_ANSWER) for d in range(2, 9)
        ]
        # 19:00Z: four hours after the last attempt, so spacing allows it and only the cap speaks
        result = run("2026-03-08T19:00:00Z", channel=Channel.CALL, history=history)
        assert_defer(result, "2026-03-09T15:00:00Z", ReasonCode.CALL_CAP)
        assert "CALL_CAP: 7 of 7 call attempts in the last 7 days" in result.details
        assert run("2026-03-08T19:00:00Z", channel=Channel.CALL, history=history[1:]).verdict is Verdict.ALLOW

    def test_call_three_days_after_a_conversation_waits_seven_days(self) -> None:
        history = [rec("2026-03-02T15:00:00Z", Channel.CALL, ContactOutcome.CALL_CONVERSATION)]
        result = run("2026-03-05T15:00:00Z", channel=Channel.CALL, history=history)
        assert_defer(result, "2026-03-09T15:00:00Z", ReasonCode.CALL_CAP)
        assert result.reasons == [ReasonCode.CALL_CAP]

    def test_conversation_does_not_stop_an_email(self) -> None:
        history = [rec("2026-03-02T15:00:00Z", Channel.CALL, ContactOutcome.CALL_CONVERSATION)]
        assert run("2026-03-05T15:00:00Z", channel=Channel.EMAIL, history=history).verdict is Verdict.ALLOW

    def test_cn_seventh_unanswered_call_to_a_number_waits_for_next_day(self) -> None:
        acct = account(jurisdiction="CN")
        history = [
            rec(f"2026-03-02T0{h}:00:00Z", Channel.CALL, ContactOutcome.CALL_NO_ANSWER, number_hash="n1")
            for h in range(1, 7)
        ]
        result = run(
            "2026-03-02T08:00:00Z", channel=Channel.CALL, acct=acct, history=history, number_hash="n1"
        )
        assert_defer(result, "2026-03-03T00:00:00Z", ReasonCode.CALL_CAP)  # 08:00 Shanghai
        # 10:00Z: four hours after the last attempt, so only the per-number cap can stand in the way
        other = run(
            "2026-03-02T10:00:00Z", channel=Channel.CALL, acct=acct, history=history, number_hash="n2"
        )
        assert other.verdict is Verdict.ALLOW
        unknown = run("2026-03-02T10:00:00Z", channel=Channel.CALL, acct=acct, history=history)
        assert unknown.verdict is Verdict.DEFER  # an unknown number may be the same line

    def test_cn_has_no_quiet_days_after_a_conversation(self) -> None:
        acct = account(jurisdiction="CN")
        history = [rec("2026-03-02T02:00:00Z", Channel.CALL, ContactOutcome.CALL_CONVERSATION)]
        assert (
            run("2026-03-03T02:00:00Z", channel=Channel.CALL, acct=acct, history=history).verdict
            is Verdict.ALLOW
        )


# --------------------------------------------------------------------------- permissions


class TestOptOutAndRecipient:
    def test_opted_out_channel_blocks(self) -> None:
        acct = account(opted_out={Channel.SMS})
        result = run("2026-03-02T15:00:00Z", acct=acct)
        assert result.verdict is Verdict.BLOCK
        assert result.reasons == [ReasonCode.OPT_OUT]
        assert run("2026-03-02T15:00:00Z", channel=Channel.EMAIL, acct=acct).verdict is Verdict.ALLOW

    def test_one_confirmation_allowed_at_any_hour_second_blocked(self) -> None:
        acct = account(opted_out={Channel.SMS})
        confirm: dict[str, Any] = {"kind": AttemptKind.SERVICE, "is_opt_out_confirmation": True}
        assert run("2026-03-02T06:00:00Z", acct=acct, **confirm).verdict is Verdict.ALLOW  # 01:00 NY
        history = [rec("2026-03-02T06:00:05Z", Channel.SMS, ContactOutcome.CONFIRMATION)]
        second = run("2026-03-02T06:05:00Z", acct=acct, history=history, **confirm)
        assert second.verdict is Verdict.BLOCK
        assert second.reasons == [ReasonCode.OPT_OUT]

    def test_other_service_messages_on_an_opted_out_channel_block(self) -> None:
        acct = account(opted_out={Channel.SMS})
        assert run("2026-03-02T15:00:00Z", acct=acct, kind=AttemptKind.SERVICE).verdict is Verdict.BLOCK

    def test_no_consent_blocks_collection_but_not_an_answer(self) -> None:
        acct = account(consented={Channel.EMAIL})
        result = run("2026-03-02T15:00:00Z", channel=Channel.CALL, acct=acct)
        assert result.verdict is Verdict.BLOCK
        assert result.reasons == [ReasonCode.OPT_OUT]
        assert run("2026-03-02T15:00:00Z", acct=acct, kind=AttemptKind.SERVICE).verdict is Verdict.ALLOW

    def test_unusable_contact_details_block_with_recipient(self) -> None:
        acct = account(contact=Contact(phone=US_PHONE, email=EMAIL, phone_usable=False))
        for channel in (Channel.SMS, Channel.CALL):
            result = run("2026-03-02T15:00:00Z", channel=channel, acct=acct)
            assert (result.verdict, result.reasons) == (Verdict.BLOCK, [ReasonCode.RECIPIENT])
        assert run("2026-03-02T15:00:00Z", channel=Channel.EMAIL, acct=acct).verdict is Verdict.ALLOW
        no_email = account(contact=Contact(phone=US_PHONE))
        assert run("2026-03-02T15:00:00Z", channel=Channel.EMAIL, acct=no_email).reasons == [
            ReasonCode.RECIPIENT
        ]

    def test_third_party_never_guarantor_yes(self) -> None:
        result = run("2026-03-02T15:00:00Z", recipient=Recipient.THIRD_PARTY)
        assert (result.verdict, result.reasons) == (Verdict.BLOCK, [ReasonCode.RECIPIENT])
        assert run("2026-03-02T15:00:00Z", recipient=Recipient.GUARANTOR).verdict is Verdict.ALLOW


# --------------------------------------------------------------------------- holds


class TestHold:
    def test_disputed_blocks_every_contact_but_answers(self) -> None:
        disputed = case(CaseStatus.DISPUTED)
        for kind in (AttemptKind.COLLECTION, AttemptKind.PLAN_REMINDER):
            result = run("2026-03-02T15:00:00Z", the_case=disputed, kind=kind)
            assert (result.verdict, result.reasons) == (Verdict.BLOCK, [ReasonCode.HOLD])
        assert (
            run("2026-03-02T15:00:00Z", the_case=disputed, kind=AttemptKind.SERVICE).verdict is Verdict.ALLOW
        )

    def test_pause_defers_until_it_ends(self) -> None:
        paused = case(CaseStatus.PAUSED, paused_until=at("2026-03-16T14:00:00Z"))
        assert_defer(run("2026-03-02T15:00:00Z", the_case=paused), "2026-03-16T14:00:00Z", ReasonCode.HOLD)
        assert run("2026-03-16T14:00:00Z", the_case=paused).verdict is Verdict.ALLOW

    def test_pause_ending_at_night_waits_for_the_window(self) -> None:
        paused = case(CaseStatus.PAUSED, paused_until=at("2026-03-17T03:00:00Z"))  # 23:00 NY
        result = run("2026-03-02T15:00:00Z", the_case=paused)
        assert_defer(result, "2026-03-17T12:00:00Z", ReasonCode.HOLD, ReasonCode.CONTACT_WINDOW)

    def test_pause_without_end_blocks(self) -> None:
        result = run("2026-03-02T15:00:00Z", the_case=case(CaseStatus.PAUSED))
        assert (result.verdict, result.reasons) == (Verdict.BLOCK, [ReasonCode.HOLD])

    def test_promise_defers_collection_past_promise_and_grace(self) -> None:
        promise = Promise(
            promised_on=date(2026, 3, 10),
            amount=Money.of("120.00", "USD"),
            made_at=at("2026-03-02T15:00:00Z"),
        )
        promised = case(CaseStatus.PROMISED, promise=promise)
        # promised 10 March, one grace day: collection resumes 12 March at 08:00 New York
        result = run("2026-03-02T15:00:00Z", the_case=promised)
        assert_defer(result, "2026-03-12T12:00:00Z", ReasonCode.HOLD)
        assert (
            run("2026-03-02T15:00:00Z", the_case=promised, kind=AttemptKind.PLAN_REMINDER).verdict
            is Verdict.ALLOW
        )

    def test_plan_blocks_collection_allows_plan_reminders(self) -> None:
        in_plan = case(CaseStatus.IN_PLAN)
        result = run("2026-03-02T15:00:00Z", the_case=in_plan)
        assert (result.verdict, result.reasons) == (Verdict.BLOCK, [ReasonCode.HOLD])
        reminder = run("2026-03-02T15:00:00Z", the_case=in_plan, kind=AttemptKind.PLAN_REMINDER)
        assert reminder.verdict is Verdict.ALLOW
        # a reminder still respects the window
        assert (
            run("2026-03-02T03:00:00Z", the_case=in_plan, kind=AttemptKind.PLAN_REMINDER).verdict
            is Verdict.DEFER
        )

    @pytest.mark.parametrize("status", [CaseStatus.REFERRED_TO_LEGAL, CaseStatus.RESOLVED, CaseStatus.CLOSED])
    def test_ended_cases_only_get_answers(self, status: CaseStatus) -> None:
        for kind in (AttemptKind.COLLECTION, AttemptKind.PLAN_REMINDER):
            result = run("2026-03-02T15:00:00Z", the_case=case(status), kind=kind)
            assert (result.verdict, result.reasons) == (Verdict.BLOCK, [ReasonCode.HOLD])
        assert (
            run("2026-03-02T15:00:00Z", the_case=case(status), kind=AttemptKind.SERVICE).verdict
            is Verdict.ALLOW
        )

    @pytest.mark.parametrize("status", [AccountStatus.CHARGED_OFF, AccountStatus.PAID_OFF])
    def test_charged_off_and_paid_off_accounts_get_no_collection(self, status: AccountStatus) -> None:
        result = run("2026-03-02T15:00:00Z", acct=account(status=status))
        assert (result.verdict, result.reasons) == (Verdict.BLOCK, [ReasonCode.HOLD])

    def test_no_case_yet_pre_due_reminder_allowed(self) -> None:
        acct = account(status=AccountStatus.CURRENT)
        result = check(Attempt(channel=Channel.SMS), acct, None, [], POLICY, at("2026-03-02T15:00:00Z"))
        assert result.verdict is Verdict.ALLOW


# --------------------------------------------------------------------------- composition


class TestComposition:
    def test_block_wins_over_defer_and_lists_only_blocking_codes(self) -> None:
        acct = account(opted_out={Channel.SMS})
        result = run(
            "2026-03-02T03:00:00Z",
            acct=acct,
            the_case=case(CaseStatus.DISPUTED),
            recipient=Recipient.THIRD_PARTY,
        )
        assert result.verdict is Verdict.BLOCK
        assert result.until is None
        assert result.reasons == [ReasonCode.HOLD, ReasonCode.OPT_OUT, ReasonCode.RECIPIENT]

    def test_cap_then_holiday_then_window_find_one_instant(self) -> None:
        # SMS on 2 July; 3 July (observed) and 4 July are holidays; next is 5 July 08:00 New York
        history = [rec("2026-07-02T14:00:00Z", Channel.SMS, ContactOutcome.SENT)]
        result = run("2026-07-02T20:00:00Z", history=history)
        assert_defer(result, "2026-07-05T12:00:00Z", ReasonCode.DAILY_CAP, ReasonCode.HOLIDAY)
        assert result.reasons == sorted(set(result.reasons))

    def test_beyond_the_horizon_blocks(self) -> None:
        paused = case(CaseStatus.PAUSED, paused_until=at("2028-01-10T15:00:00Z"))
        result = run("2026-03-02T15:00:00Z", the_case=paused)
        assert result.verdict is Verdict.BLOCK
        assert result.reasons == [ReasonCode.HOLD]
        assert "no allowed instant within horizon" in result.details

    def test_details_carry_no_personal_data(self) -> None:
        acct = account("America/New_York", "America/Los_Angeles", opted_out={Channel.EMAIL})
        history = [rec("2026-03-02T14:00:00Z", Channel.SMS, ContactOutcome.SENT)]
        results = [
            run("2026-03-02T15:00:00Z", acct=acct, history=history),
            run("2026-03-02T15:00:00Z", channel=Channel.EMAIL, acct=acct),
        ]
        text = " ".join(d for r in results for d in r.details)
        for secret in (US_PHONE, EMAIL, NAME, "120", "000123456789", "acc-1", "case-1"):
            assert secret not in text

    def test_same_inputs_same_answer_and_until_is_utc(self) -> None:
        history = [rec("2026-03-02T14:00:00Z", Channel.SMS, ContactOutcome.SENT)]
        first = run("2026-03-02T20:00:00Z", history=history)
        second = run("2026-03-02T20:00:00Z", history=history)
        assert first == second
        assert first.until is not None and first.until.utcoffset() == timedelta(0)
        assert first.model_dump(mode="json")["until"] == "2026-03-03T13:00:00Z"

    def test_naive_now_is_refused(self) -> None:
        with pytest.raises(ValueError, match="naive"):
            check(Attempt(channel=Channel.SMS), account(), case(), [], POLICY, datetime(2026, 3, 2, 15))


# --------------------------------------------------------------------------- content


@dataclass
class FakeFinding:
    code: ReasonCode
    detail: str


class TestContent:
    @pytest.fixture
    def lint(self, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
        calls: list[Any] = []
        findings: list[FakeFinding] = []

        def fake(content: Any, *, first_contact: bool, time_barred: bool, first_party: bool) -> list[FakeFinding]:
            calls.append((content, first_contact, time_barred))
            return list(findings)

        monkeypatch.setattr(notice_lint, "lint_rendered", fake)
        return [calls, findings]

    def test_clean_text_allowed_and_flags_passed_through(self, lint: list[Any]) -> None:
        calls, _ = lint
        acct = account(time_barred=True)
        assert (
            run("2026-03-02T15:00:00Z", acct=acct, content="notice", first_contact=True).verdict
            is Verdict.ALLOW
        )
        assert calls[0] == ("notice", True, True)

    def test_findings_block_with_their_codes(self, lint: list[Any]) -> None:
        _, findings = lint
        findings += [
            FakeFinding(ReasonCode.TONE, "threatening phrase"),
            FakeFinding(ReasonCode.CONTENT, "missing amount"),
        ]
        result = run("2026-03-02T15:00:00Z", content="notice")
        assert result.verdict is Verdict.BLOCK
        assert result.reasons == [ReasonCode.CONTENT, ReasonCode.TONE]
        assert "TONE: threatening phrase" in result.details

    def test_service_answers_only_need_a_decent_tone(self, lint: list[Any]) -> None:
        _, findings = lint
        findings.append(FakeFinding(ReasonCode.CONTENT, "missing amount"))
        assert run("2026-03-02T15:00:00Z", content="ok", kind=AttemptKind.SERVICE).verdict is Verdict.ALLOW
        findings.append(FakeFinding(ReasonCode.TONE, "shaming phrase"))
        assert run("2026-03-02T15:00:00Z", content="ok", kind=AttemptKind.SERVICE).reasons == [
            ReasonCode.TONE
        ]

    def test_without_content_the_lint_is_not_asked(self, lint: list[Any]) -> None:
        calls, _ = lint
        run("2026-03-02T15:00:00Z", channel=Channel.CALL)
        assert calls == []


class TestContentWithTheRealLint:
    """The bundled lint, on notices built by hand so the rule is tested apart from the templates."""

    def notice(self, body: str, **facts: str) -> Any:
        return RenderedNotice(
            template_id="overdue_reminder",
            template_version="test",
            locale="en-US",
            channel=Channel.SMS,
            body=body,
            facts=facts or {"amount": "$120.00"},
        )

    def test_complete_polite_notice_allowed(self) -> None:
        notice = self.notice("Harbor: $120.00 is overdue. Pay by Mar 9. Reply STOP to opt out.")
        assert run("2026-03-02T15:00:00Z", content=notice).verdict is Verdict.ALLOW

    def test_missing_fact_blocks_with_content(self) -> None:
        notice = self.notice("Harbor: your account is overdue. Reply STOP to opt out.")
        result = run("2026-03-02T15:00:00Z", content=notice)
        assert (result.verdict, result.reasons) == (Verdict.BLOCK, [ReasonCode.CONTENT])

    def test_threat_blocks_with_tone(self) -> None:
        notice = self.notice("Harbor: $120.00 is overdue. Pay now or we will contact your employer.")
        result = run("2026-03-02T15:00:00Z", content=notice)
        assert (result.verdict, result.reasons) == (Verdict.BLOCK, [ReasonCode.TONE])

    def test_the_decision_names_the_tone_rule_never_the_text(self) -> None:
        notice = self.notice("Harbor: $120.00 is overdue. Pay or be arr3sted; we will call your boss.")
        result = run("2026-03-02T15:00:00Z", content=notice)
        assert result.reasons == [ReasonCode.TONE]
        assert result.details == ["TONE: arrest", "TONE: employer"]

    def test_legal_words_on_time_barred_debt_block_with_tone(self) -> None:
        notice = self.notice("Harbor: $120.00 is overdue. Our legal team reviews unpaid accounts.")
        assert run("2026-03-02T15:00:00Z", content=notice).verdict is Verdict.ALLOW
        result = run("2026-03-02T15:00:00Z", acct=account(time_barred=True), content=notice)
        assert (result.verdict, result.reasons) == (Verdict.BLOCK, [ReasonCode.TONE])
