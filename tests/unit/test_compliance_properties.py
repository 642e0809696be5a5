"""Compliance engine properties over random accounts, cases, histories and instants.

The checks below recount windows, holidays, caps and holds on their own, straight from the
policy and the `holidays` package, so a mistake in the engine's bookkeeping cannot hide itself.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import holidays
from hypothesis import given, settings
from hypothesis import strategies as st

from dunning.domain.compliance import (
    Attempt,
    AttemptKind,
    ContactOutcome,
    ContactRecord,
    Person,
    Verdict,
    check,
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
    Recipient,
    SpecialStatus,
)
from dunning.domain.policy import Policy, default_policy

POLICY: Policy = default_policy()
ZONES = [
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "America/Phoenix",
    "America/Anchorage",
    "Pacific/Honolulu",
    "Pacific/Guam",
    "Europe/London",
    "Asia/Shanghai",
    "Asia/Kolkata",  # +05:30
    "Asia/Kathmandu",  # +05:45
    "Australia/Adelaide",  # +09:30, daylight saving in the southern summer
    "America/Santiago",  # clocks change at local midnight
]
START = datetime(2026, 1, 1, tzinfo=UTC)
END = datetime(2027, 12, 31, tzinfo=UTC)
COUNTED = {
    ContactOutcome.SENT,
    ContactOutcome.UNCERTAIN,
    ContactOutcome.DELIVERED,
    ContactOutcome.CALL_NO_ANSWER,
    ContactOutcome.CALL_LEFT_MESSAGE,
    ContactOutcome.CALL_CONVERSATION,
}
NUMBERS = st.sampled_from([None, "n1", "n2"])


@st.composite
def accounts(draw: st.DrawFn) -> Account:
    jurisdiction = draw(st.sampled_from(list(Jurisdiction)))
    us = jurisdiction is Jurisdiction.US
    channels = list(Channel)
    return Account(
        account_id="acc-1",
        customer_name="Pat Debtor",
        account_number="000123456789",
        contact=Contact(
            phone="+12025550123" if us else "+8613800138000",
            email="pat@example.com",
            phone_usable=draw(st.sampled_from([True] * 9 + [False])),
            email_usable=draw(st.sampled_from([True] * 9 + [False])),
        ),
        locale="en-US" if us else "zh-CN",
        time_zones=draw(st.lists(st.sampled_from(ZONES), min_size=1, max_size=3, unique=True)),
        jurisdiction=jurisdiction,
        currency="USD" if us else "CNY",
        principal_due=Decimal("250.00"),
        due_date=date(2025, 12, 1),
        status=draw(st.sampled_from([AccountStatus.DELINQUENT] * 12 + list(AccountStatus))),
        opted_out=draw(st.sampled_from([set()] * 6 + [{c} for c in channels])),
        consented=draw(st.sampled_from([set(channels)] * 8 + [{Channel.EMAIL}, {Channel.SMS, Channel.CALL}])),
    )


def cases(now: datetime) -> st.SearchStrategy[Case | None]:
    @st.composite
    def build(draw: st.DrawFn) -> Case:
        status = draw(st.sampled_from([CaseStatus.OPEN] * 10 + list(CaseStatus)))
        paused_until = draw(
            st.one_of(
                st.none(),
                st.integers(-3 * 24 * 60, 30 * 24 * 60).map(lambda m: now + timedelta(minutes=m, seconds=17)),
            )
        )
        promise = draw(
            st.one_of(
                st.none(),
                st.integers(-5, 20).map(
                    lambda d: Promise(
                        promised_on=now.date() + timedelta(days=d),
                        amount=Money.of("50.00", "USD"),
                        made_at=now - timedelta(days=1),
                    )
                ),
            )
        )
        return Case(
            case_id="case-1",
            account_id="acc-1",
            status=status,
            opened_at=now - timedelta(days=20),
            paused_until=paused_until,
            promise=promise,
        )

    return st.one_of(st.none(), build())


def histories(now: datetime) -> st.SearchStrategy[list[ContactRecord]]:
    # a dense recent history some of the time, so the call caps are reached as well as the daily ones
    def within(hours: int) -> st.SearchStrategy[list[ContactRecord]]:
        record = st.builds(
            ContactRecord,
            at=st.integers(0, hours * 3600).map(lambda s: now - timedelta(seconds=s)),
            channel=st.sampled_from([Channel.SMS, Channel.EMAIL, Channel.CALL, Channel.CALL]),
            outcome=st.sampled_from(list(ContactOutcome)),
            number_hash=NUMBERS,
        )
        return st.lists(record, max_size=20)

    return st.sampled_from([24, 72, 240, 240]).flatmap(within)


attempts = st.builds(
    Attempt,
    channel=st.sampled_from(list(Channel)),
    kind=st.sampled_from([AttemptKind.COLLECTION] * 3 + [AttemptKind.PLAN_REMINDER, AttemptKind.SERVICE]),
    recipient=st.sampled_from([Recipient.DEBTOR] * 16 + [Recipient.GUARANTOR, Recipient.THIRD_PARTY]),
    first_contact=st.booleans(),
    is_opt_out_confirmation=st.booleans(),
    number_hash=NUMBERS,
)

# day and second of day drawn apart, so shrinking towards 0 does not pile every example on 1 January
instants = st.builds(
    lambda day, second: START + timedelta(days=day, seconds=second),
    st.integers(0, (END - START).days),
    st.integers(0, 24 * 3600 - 1),
)


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    now = draw(instants)
    return {
        "attempt": draw(attempts),
        "account": draw(accounts()),
        "case": draw(cases(now)),
        "history": draw(histories(now)),
        "now": now,
    }


# --------------------------------------------------------------------------- independent checks


def _public_holiday(country: str, day: date) -> bool:
    return day in holidays.country_holidays(country, years=day.year)


def _violations(s: dict[str, Any], t: datetime) -> list[str]:
    """Everything that would make a contact at `t` unlawful, recounted from first principles."""
    attempt: Attempt = s["attempt"]
    account: Account = s["account"]
    case: Case | None = s["case"]
    history: list[ContactRecord] = s["history"]
    rules = POLICY.for_jurisdiction(account.jurisdiction)
    zones = [ZoneInfo(z) for z in account.time_zones]
    service = attempt.kind is AttemptKind.SERVICE
    out: list[str] = []

    if attempt.recipient is Recipient.THIRD_PARTY:
        out.append("third party")
    if not account.contact.reachable(attempt.channel):
        out.append("unreachable")
    if attempt.channel in account.opted_out:
        confirmed = any(
            r.channel is attempt.channel
            and r.outcome is ContactOutcome.CONFIRMATION
            and t - r.at < timedelta(hours=24)
            for r in history
        )
        if not (service and attempt.is_opt_out_confirmation and not confirmed):
            out.append("opted out")
    if attempt.channel not in account.consented and not service:
        out.append("no consent")
    if service:
        return out

    for zone in zones:
        local = t.astimezone(zone)
        if not rules.contact_window.start <= local.time() < rules.contact_window.end:
            out.append(f"outside window in {zone.key}")
        if rules.holidays and _public_holiday(rules.holiday_country, local.date()):
            out.append(f"holiday in {zone.key}")

    counted = [r for r in history if r.outcome in COUNTED]
    first = zones[0]
    today = t.astimezone(first).date()
    per_day = {Channel.SMS: rules.caps.sms_per_day, Channel.EMAIL: rules.caps.email_per_day}
    if attempt.channel in per_day:
        same_day = [
            r for r in counted if r.channel is attempt.channel and r.at.astimezone(first).date() == today
        ]
        if len(same_day) >= per_day[attempt.channel]:
            out.append("daily cap")
    if len([r for r in counted if t - r.at < timedelta(days=7)]) >= rules.caps.contacts_per_week:
        out.append("weekly cap")
    gap = timedelta(hours=rules.caps.spacing_hours)
    if gap and any(t - r.at < gap for r in counted):  # a later record (clock skew) counts as well
        out.append("spacing")
    if attempt.channel is Channel.CALL:
        calls = [r for r in counted if r.channel is Channel.CALL]
        per_week = rules.caps.call_attempts_per_7_days
        if per_week is not None and len([r for r in calls if t - r.at < timedelta(days=7)]) >= per_week:
            out.append("call cap")
        if rules.caps.call_quiet_days_after_conversation is not None:
            quiet = timedelta(days=rules.caps.call_quiet_days_after_conversation)
            if any(r.outcome is ContactOutcome.CALL_CONVERSATION and t - r.at < quiet for r in calls):
                out.append("quiet after conversation")
        if rules.caps.unanswered_calls_per_day_per_number is not None:
            unanswered = [
                r
                for r in calls
                if r.outcome in (ContactOutcome.CALL_NO_ANSWER, ContactOutcome.CALL_LEFT_MESSAGE)
                and r.at.astimezone(first).date() == today
                and (attempt.number_hash is None or r.number_hash in (None, attempt.number_hash))
            ]
            if len(unanswered) >= rules.caps.unanswered_calls_per_day_per_number:
                out.append("unanswered calls per number")

    if account.status in (AccountStatus.CHARGED_OFF, AccountStatus.PAID_OFF):
        out.append("account closed to collection")
    if case is not None:
        status = case.status
        if status in (
            CaseStatus.DISPUTED,
            CaseStatus.REFERRED_TO_LEGAL,
            CaseStatus.RESOLVED,
            CaseStatus.CLOSED,
        ):
            out.append(f"hold {status}")
        if status is CaseStatus.PAUSED and (case.paused_until is None or case.paused_until > t):
            out.append("paused")
        if status is CaseStatus.IN_PLAN and attempt.kind is AttemptKind.COLLECTION:
            out.append("in plan")
        if status is CaseStatus.PROMISED and attempt.kind is AttemptKind.COLLECTION:
            last_day = (
                case.promise.promised_on + timedelta(days=POLICY.promises.grace_days)
                if case.promise
                else None
            )
            if last_day is None or any(t.astimezone(z).date() <= last_day for z in zones):
                out.append("promise pending")
    return out


def _check(s: dict[str, Any], now: datetime, history: list[ContactRecord] | None = None):
    return check(
        s["attempt"], s["account"], s["case"], s["history"] if history is None else history, POLICY, now
    )


# --------------------------------------------------------------------------- properties


@settings(max_examples=200, deadline=None)
@given(scenarios())
def test_allow_is_lawful_and_defer_names_an_allowed_instant(s: dict[str, Any]) -> None:
    now = s["now"]
    result = _check(s, now)
    if result.verdict is Verdict.ALLOW:
        assert _violations(s, now) == []
        assert result.reasons == [] and result.until is None
    elif result.verdict is Verdict.DEFER:
        until = result.until
        assert until is not None and until > now
        assert until.utcoffset() == timedelta(0) and until.second == 0 and until.microsecond == 0
        again = _check(s, until)
        assert again.verdict is Verdict.ALLOW, again
        assert _violations(s, until) == []
        assert result.reasons and result.reasons == sorted(set(result.reasons))
        # the earliest whole minute: the one before it (when still ahead of now) is not allowed
        before = until - timedelta(minutes=1)
        if before >= now:
            assert _check(s, before).verdict is not Verdict.ALLOW
    else:
        assert result.until is None and result.reasons


@settings(max_examples=200, deadline=None)
@given(scenarios(), st.randoms(use_true_random=False))
def test_check_is_deterministic_and_ignores_history_order(s: dict[str, Any], rnd: random.Random) -> None:
    first = _check(s, s["now"])
    assert _check(s, s["now"]) == first
    shuffled = list(s["history"])
    rnd.shuffle(shuffled)
    assert _check(s, s["now"], shuffled) == first


# --------------------------------------------------------------------------- spacing and special statuses


@st.composite
def attempt_streams(draw: st.DrawFn) -> tuple[Account, list[tuple[datetime, Attempt]]]:
    """One person, several loans' worth of attempts in a few days, in time order."""
    account = draw(accounts()).model_copy(update={"opted_out": set(), "status": AccountStatus.DELINQUENT,
                                                 "consented": set(Channel)})
    start = draw(instants)
    offsets = sorted(draw(st.lists(st.integers(0, 4 * 24 * 60), min_size=2, max_size=40)))
    stream = [(start + timedelta(minutes=m), draw(attempts).model_copy(update={"recipient": Recipient.DEBTOR}))
              for m in offsets]
    return account, stream


@settings(max_examples=80, deadline=None)
@given(attempt_streams())
def test_at_most_one_contact_per_person_in_each_spacing_window(scenario: tuple[Account, list]) -> None:
    """Send every attempt the engine allows, across channels, and record it as a contact: no two
    counted contacts are ever closer than the policy's spacing, and only answers to the
    customer's own messages (SERVICE) go out inside it."""
    account, stream = scenario
    gap = timedelta(hours=POLICY.for_jurisdiction(account.jurisdiction).caps.spacing_hours)
    history: list[ContactRecord] = []
    for at, attempt in stream:
        if check(attempt, account, None, history, POLICY, at).verdict is not Verdict.ALLOW:
            continue
        outcome = ContactOutcome.CONFIRMATION if attempt.kind is AttemptKind.SERVICE else (
            ContactOutcome.CALL_NO_ANSWER if attempt.channel is Channel.CALL else ContactOutcome.SENT)
        history.append(ContactRecord(at=at, channel=attempt.channel, outcome=outcome))
    counted = sorted(r.at for r in history if r.outcome in COUNTED)
    assert all(b - a >= gap for a, b in zip(counted, counted[1:], strict=False))


@settings(max_examples=60, deadline=None)
@given(scenarios(), st.sampled_from([s for s in SpecialStatus if s.stops_contact]), st.booleans())
def test_a_stopping_special_status_blocks_everything_with_its_code(s: dict[str, Any], status: SpecialStatus,
                                                                   on_person: bool) -> None:
    person = Person(special_statuses=frozenset({status})) if on_person else None
    account = s["account"] if on_person else s["account"].model_copy(update={"special_status": status})
    result = check(s["attempt"], account, s["case"], s["history"], POLICY, s["now"], person)
    assert result.verdict is Verdict.BLOCK
    assert {"SPECIAL_STATUS", f"SPECIAL_STATUS_{status}"} <= set(result.reasons)


@settings(max_examples=100, deadline=None)
@given(scenarios(), st.lists(st.sampled_from(ZONES), max_size=2))
def test_the_persons_other_zones_only_ever_narrow_the_window(s: dict[str, Any], zones: list[str]) -> None:
    """Another loan's time zone can defer a contact, never allow one the loan alone would not."""
    alone = _check(s, s["now"])
    together = check(s["attempt"], s["account"], s["case"], s["history"], POLICY, s["now"],
                     Person(time_zones=tuple(zones)))
    if together.verdict is Verdict.ALLOW:
        assert alone.verdict is Verdict.ALLOW


# --------------------------------------------------------------------------- caps are the person's


def _without_spacing(policy: Policy) -> Policy:
    """The policy with spacing off, so the daily and weekly caps are what binds."""
    return policy.model_copy(update={"jurisdictions": {
        j: jp.model_copy(update={"caps": jp.caps.model_copy(update={"spacing_hours": 0})})
        for j, jp in policy.jurisdictions.items()}})


@st.composite
def loans_of_one_person(draw: st.DrawFn) -> tuple[list[Account], list[tuple[int, datetime, Attempt]]]:
    """Two or three loans of one customer, and attempts on them in a few days, in time order."""
    account, stream = draw(attempt_streams())
    loans = [account.model_copy(update={"account_id": f"acc-{n}", "customer_id": "cus-1"})
             for n in range(draw(st.integers(2, 3)))]
    return loans, [(draw(st.integers(0, len(loans) - 1)), at, attempt) for at, attempt in stream]


@settings(max_examples=80, deadline=None)
@given(loans_of_one_person(), st.booleans())
def test_caps_hold_for_the_person_across_all_their_loans(scenario: tuple[list[Account], list[Any]],
                                                        spaced: bool) -> None:
    """Each loan decides from its own history and the person's profile, as the planner does: the
    person never receives more SMS or emails a local day, or contacts a week, than one loan may,
    and (with spacing on) no two contacts are closer than the spacing, whichever loans sent them."""
    from dunning.domain.customers import CustomerProfile, combined_history

    loans, stream = scenario
    policy = POLICY if spaced else _without_spacing(POLICY)
    caps = policy.for_jurisdiction(loans[0].jurisdiction).caps
    zone = ZoneInfo(loans[0].time_zones[0])
    profile = CustomerProfile(customer_id="cus-1")
    own: list[list[ContactRecord]] = [[] for _ in loans]
    for n, (loan, at, attempt) in enumerate(stream):
        history = combined_history(own[loan], profile)
        if check(attempt, loans[loan], None, history, policy, at, profile.person()).verdict is not Verdict.ALLOW:
            continue
        outcome = ContactOutcome.CONFIRMATION if attempt.kind is AttemptKind.SERVICE else (
            ContactOutcome.CALL_NO_ANSWER if attempt.channel is Channel.CALL else ContactOutcome.SENT)
        record = ContactRecord(at=at, channel=attempt.channel, outcome=outcome, ref=f"c{n}")
        own[loan].append(record)
        profile.record(record, at)
    counted = sorted((r for records in own for r in records if r.outcome in COUNTED), key=lambda r: r.at)
    for channel, per_day in ((Channel.SMS, caps.sms_per_day), (Channel.EMAIL, caps.email_per_day)):
        days = [r.at.astimezone(zone).date() for r in counted if r.channel is channel]
        assert all(days.count(day) <= per_day for day in days)
    assert all(sum(1 for x in counted if r.at - WEEK_SPAN < x.at <= r.at) <= caps.contacts_per_week for r in counted)
    if spaced:
        gap = timedelta(hours=caps.spacing_hours)
        assert all(b.at - a.at >= gap for a, b in zip(counted, counted[1:], strict=False))


WEEK_SPAN = timedelta(days=7)
