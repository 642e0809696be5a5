"""The customer: one person's caps, opt-outs, window and special statuses across all their loans,
which loan a reply is about, and special statuses read in what people write."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from dunning.domain.compliance import (
    Attempt,
    AttemptKind,
    ContactOutcome,
    ContactRecord,
    Person,
    Verdict,
    check,
)
from dunning.domain.customers import (
    CONTACT_RETENTION,
    MAX_CONTACTS,
    CustomerProfile,
    Loan,
    StatusMark,
    combined_history,
    loans_meant,
)
from dunning.domain.models import Account, Channel, Contact, ReasonCode, SpecialStatus
from dunning.domain.policy import default_policy
from dunning.domain.special_status import status_in_reply

POLICY = default_policy()
NOW = datetime(2026, 11, 3, 15, 0, tzinfo=UTC)  # 10:00 in New York, a Tuesday


def account(**kw: object) -> Account:
    base: dict[str, object] = dict(
        account_id="L1", customer_name="Dana Reyes", account_number="4000123412341234",
        contact=Contact(phone="+12025550143", email="dana@example.com"), locale="en-US",
        time_zones=["America/New_York"], jurisdiction="US", currency="USD", principal_due=Decimal("400.00"),
        due_date=date(2026, 10, 20), status="DELINQUENT", customer_id="C1")
    base.update(kw)
    return Account.model_validate(base)


def sms(at: datetime, ref: str, outcome: ContactOutcome = ContactOutcome.SENT) -> ContactRecord:
    return ContactRecord(at=at, channel=Channel.SMS, outcome=outcome, ref=ref)


# --------------------------------------------------------------------------- the profile


def test_an_account_without_a_customer_id_is_its_own_customer() -> None:
    assert account(customer_id=None).customer == "L1"
    assert account().customer == "C1"


def test_registering_loans_keeps_each_once_and_every_time_zone() -> None:
    profile = CustomerProfile(customer_id="C1")
    assert profile.register(account())
    assert profile.register(account(account_id="L2", time_zones=["America/Los_Angeles"]))
    assert not profile.register(account())  # nothing new: nothing to write
    assert profile.accounts == ["L1", "L2"]
    assert profile.time_zones == ["America/New_York", "America/Los_Angeles"]


def test_the_contact_summary_is_bounded_and_counts_a_contact_once() -> None:
    profile = CustomerProfile(customer_id="C1")
    assert not profile.record(sms(NOW - CONTACT_RETENTION - timedelta(hours=1), "old"), NOW)  # too old to count
    assert profile.record(sms(NOW, "n1", ContactOutcome.UNCERTAIN), NOW)
    assert profile.record(sms(NOW, "n1", ContactOutcome.SENT), NOW)  # the same notice, a later word
    assert [(c.ref, c.outcome) for c in profile.contacts] == [("n1", ContactOutcome.SENT)]
    for n in range(MAX_CONTACTS + 20):
        profile.record(sms(NOW - timedelta(minutes=n), f"x{n}"), NOW)
    assert len(profile.contacts) == MAX_CONTACTS


def test_the_history_counted_is_the_loans_own_plus_the_persons_other_loans() -> None:
    own = [sms(NOW - timedelta(days=1), "L1-case:first_notice", ContactOutcome.FAILED)]
    profile = CustomerProfile(customer_id="C1", contacts=[
        sms(NOW - timedelta(days=1), "L1-case:first_notice", ContactOutcome.UNCERTAIN),  # known FAILED here
        sms(NOW - timedelta(hours=2), "L2-case:sms_3"),  # the other loan's text this morning
    ])
    merged = combined_history(own, profile)
    assert [(r.ref, r.outcome) for r in merged] == [
        ("L1-case:first_notice", ContactOutcome.FAILED), ("L2-case:sms_3", ContactOutcome.SENT)]


def test_two_loans_one_person_one_sms_a_day() -> None:
    """The caps see both loans: the second loan's SMS waits for the next day (and for spacing)."""
    profile = CustomerProfile(customer_id="C1", contacts=[sms(NOW - timedelta(hours=5), "L2-case:sms_3")])
    history = combined_history([], profile)
    result = check(Attempt(channel=Channel.SMS), account(), None, history, POLICY, NOW, profile.person())
    assert result.verdict is Verdict.DEFER and ReasonCode.DAILY_CAP in result.reasons
    assert result.until == datetime(2026, 11, 4, 13, 0, tzinfo=UTC)  # 08:00 in New York the next day
    assert check(Attempt(channel=Channel.SMS), account(), None, [], POLICY, NOW).verdict is Verdict.ALLOW


def test_an_opt_out_and_a_time_zone_of_the_person_hold_on_every_loan() -> None:
    person = Person(opted_out=frozenset({Channel.SMS}), time_zones=("America/Los_Angeles",))
    blocked = check(Attempt(channel=Channel.SMS), account(), None, [], POLICY, NOW, person)
    assert blocked.verdict is Verdict.BLOCK and blocked.reasons == [ReasonCode.OPT_OUT]
    # 10:00 in New York is 07:00 in Los Angeles: the email waits for 08:00 there
    email = check(Attempt(channel=Channel.EMAIL), account(), None, [], POLICY, NOW, person)
    assert email.verdict is Verdict.DEFER and email.reasons == [ReasonCode.CONTACT_WINDOW]
    assert email.until == datetime(2026, 11, 3, 16, 0, tzinfo=UTC)


@pytest.mark.parametrize("status", [s for s in SpecialStatus if s.stops_contact])
def test_a_stopping_status_blocks_every_contact_with_its_reason_codes(status: SpecialStatus) -> None:
    person = Person(special_statuses=frozenset({status}))
    for kind in AttemptKind:
        result = check(Attempt(channel=Channel.EMAIL, kind=kind), account(), None, [], POLICY, NOW, person)
        assert result.verdict is Verdict.BLOCK
        assert result.reasons == sorted({ReasonCode.SPECIAL_STATUS, ReasonCode(f"SPECIAL_STATUS_{status}")})
    # reported on the loan by the file, before the person's profile knows it: the same
    own = check(Attempt(channel=Channel.SMS), account(special_status=status), None, [], POLICY, NOW)
    assert own.verdict is Verdict.BLOCK and ReasonCode.SPECIAL_STATUS in own.reasons


def test_a_vulnerable_customer_is_routed_not_blocked() -> None:
    person = Person(special_statuses=frozenset({SpecialStatus.VULNERABLE}))
    assert check(Attempt(channel=Channel.EMAIL), account(), None, [], POLICY, NOW, person).verdict is Verdict.ALLOW


def test_statuses_are_set_once_and_lifted() -> None:
    profile = CustomerProfile(customer_id="C1")
    mark = StatusMark(status=SpecialStatus.BANKRUPTCY, since=NOW, source="ADMIN", account_id="L1", by="ops")
    assert profile.set_status(mark) and not profile.set_status(mark)
    assert profile.stopped == [SpecialStatus.BANKRUPTCY] and not profile.vulnerable
    assert profile.lift_status(SpecialStatus.BANKRUPTCY) and not profile.lift_status(SpecialStatus.BANKRUPTCY)
    assert profile.person().special_statuses == frozenset()


# --------------------------------------------------------------------------- which loan a reply is about

LOANS = [Loan("L1", "1234", Decimal("400.00")), Loan("L2", "9876", Decimal("150.00"))]


@pytest.mark.parametrize(("text", "amount", "meant"), [
    ("I will pay 150 on Friday", Decimal("150.00"), ["L2"]),  # the amount of one loan
    ("I will pay $550 on Friday", Decimal("550.00"), ["L1", "L2"]),  # the total
    ("will pay on friday", None, ["L1", "L2"]),  # everything
    ("9876 I will pay $50 on the 15th", Decimal("50.00"), ["L2"]),  # named by its last four digits
    ("I will pay $50 on Friday", Decimal("50.00"), None),  # fits no loan: ask which
])
def test_a_reply_goes_to_the_loans_it_is_about_and_asks_only_when_it_must(
        text: str, amount: Decimal | None, meant: list[str] | None) -> None:
    assert loans_meant(text, amount, LOANS) == meant


def test_two_loans_owing_the_same_amount_cannot_be_told_apart_by_it() -> None:
    twins = [Loan("L1", "1234", Decimal("150.00")), Loan("L2", "9876", Decimal("150.00"))]
    assert loans_meant("I'll pay 150 tomorrow", Decimal("150.00"), twins) is None


# --------------------------------------------------------------------------- special statuses in replies


@pytest.mark.parametrize(("text", "status"), [
    ("I filed for bankruptcy last week, my case number is 26-1234", SpecialStatus.BANKRUPTCY),
    ("We are in Chapter 13, talk to the trustee", SpecialStatus.BANKRUPTCY),
    ("我已经申请个人破产了", SpecialStatus.BANKRUPTCY),
    ("My father passed away in October", SpecialStatus.DECEASED),
    ("The account holder has died. I am the executor of his estate", SpecialStatus.DECEASED),
    ("他已经去世了", SpecialStatus.DECEASED),
    ("Cease all communication with me", SpecialStatus.CEASE_CONTACT),
    ("Do not contact me again", SpecialStatus.CEASE_CONTACT),
    ("不要再联系我", SpecialStatus.CEASE_CONTACT),
    ("Speak to my lawyer", SpecialStatus.LITIGATION_HOLD),
    ("我已经委托律师处理", SpecialStatus.LITIGATION_HOLD),
    ("I'm having chemotherapy and can't work", SpecialStatus.VULNERABLE),
    ("最近抑郁，没法工作", SpecialStatus.VULNERABLE),
])
def test_special_statuses_are_read_in_english_and_chinese(text: str, status: SpecialStatus) -> None:
    claim = status_in_reply(text)
    assert claim is not None and claim.status is status and text not in claim.matched


@pytest.mark.parametrize("text", [
    "I'm nearly bankrupt, can I pay in instalments?",  # hardship, not a filing
    "I am broke until payday",
    "STOP",
    "stop texting me",  # an SMS opt-out, not a request that every contact cease
    "I will pay on Friday",
    "我破产了没钱还",  # 破产 alone is hardship in everyday speech
])
def test_everyday_words_are_not_read_as_a_special_status(text: str) -> None:
    assert status_in_reply(text) is None
