"""Compliance engine: may this contact attempt go out now, later, or never? (DESIGN section 5)

Longer than most modules: every rule of ``check()`` in one file, so a decision can be audited in one read.

`check()` is pure and deterministic: the same attempt, account, case, history, policy and instant
always give the same answer. Every rule looks only at the instant it is asked about, never at the
instant the question was first put, so the instant a DEFER names is itself ALLOWED when `check()`
is asked again at that instant with the same inputs.

Decisions that the rules below take and that callers rely on:

- Reason codes: OPT_OUT covers both an opt-out and a channel the customer never consented to;
  RECIPIENT covers third parties and contact details that are missing or known to be unusable
  (wrong number, hard bounce).
- Day boundaries for the daily caps (SMS/email per day, CN unanswered calls per number per day)
  are taken in the account's first time zone.
- A promise hold lasts until local midnight after `promised_on + promises.grace_days`, taken in
  the zone where that midnight comes last, so no candidate zone is still inside the grace period.
- Holidays: a local date is a holiday when `holidays` lists it for the jurisdiction's country in
  any candidate zone; a weekend enclosed by holidays on both sides (the middle Sunday of Golden
  Week) counts as a holiday too, because the whole break is a rest period.
- History: one `ContactRecord` per contact with its latest outcome. A record stamped after the
  instant asked about still counts, so a clock skew between writers never allows a second send.
- SERVICE messages (answers to what the customer sent) are exempt from window, holidays, caps,
  spacing, holds and consent, but not from an opt-out (one confirmation only), recipient, special
  status or tone rules.
- The person: caps, spacing, opt-outs and the window belong to the customer across all their
  loans. The caller passes the customer's history (every loan's contacts) and a `Person` with the
  customer's opt-outs, time zones and special statuses; they add to the account's own.
- SPACING: at most one counted contact per person in `caps.spacing_hours`, across channels.
- SPECIAL_STATUS: bankruptcy, deceased, cease contact and litigation hold BLOCK every automated
  contact, service answers included (people take those customers over); VULNERABLE is a route
  (a specialist's softer strategy), not a block. Reasons: SPECIAL_STATUS and its sub-code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

from dunning.domain.models import (
    Account,
    AccountStatus,
    Case,
    CaseStatus,
    Channel,
    ReasonCode,
    Recipient,
    SpecialStatus,
    UtcDatetime,
    iso_z,
    special_status_reason,
    to_utc,
)
from dunning.domain.policy import JurisdictionPolicy, Policy


class Verdict(StrEnum):
    ALLOW = "ALLOW"
    DEFER = "DEFER"
    BLOCK = "BLOCK"


class AttemptKind(StrEnum):
    COLLECTION = "COLLECTION"  # a dunning step (SMS/EMAIL/CALL): every rule applies
    PLAN_REMINDER = "PLAN_REMINDER"  # reminder of an accepted plan or promise: allowed during those holds
    SERVICE = "SERVICE"  # a direct answer to something the customer sent


class Attempt(BaseModel):
    """One contact the caller wants to make."""

    channel: Channel
    kind: AttemptKind = AttemptKind.COLLECTION
    recipient: Recipient = Recipient.DEBTOR
    first_contact: bool = False
    is_opt_out_confirmation: bool = False
    number_hash: str | None = None  # which phone number, for per-number caps
    content: Any | None = None  # a rendered notice when the text is known


class ContactOutcome(StrEnum):
    SENT = "SENT"
    UNCERTAIN = "UNCERTAIN"  # never know it did not reach them: counts
    FAILED = "FAILED"  # nothing reached the customer: does not count
    DELIVERED = "DELIVERED"
    CALL_NO_ANSWER = "CALL_NO_ANSWER"
    CALL_LEFT_MESSAGE = "CALL_LEFT_MESSAGE"
    CALL_CONVERSATION = "CALL_CONVERSATION"
    CONFIRMATION = "CONFIRMATION"  # opt-out confirmation: does not count against caps


UNANSWERED_CALL_OUTCOMES = frozenset({ContactOutcome.CALL_NO_ANSWER, ContactOutcome.CALL_LEFT_MESSAGE})
# What counts against the caps: everything that may have reached the customer (an UNCERTAIN send
# is assumed to have), every call; not a failed send, nor an opt-out confirmation.
COUNTED_OUTCOMES = frozenset({ContactOutcome.SENT, ContactOutcome.UNCERTAIN, ContactOutcome.DELIVERED,
                              ContactOutcome.CALL_CONVERSATION} | UNANSWERED_CALL_OUTCOMES)


class ContactRecord(BaseModel):
    """A contact already made (or possibly made), as the caps see it."""

    model_config = ConfigDict(frozen=True)

    at: UtcDatetime
    channel: Channel
    outcome: ContactOutcome
    number_hash: str | None = None
    ref: str | None = None  # the notice or ledger entry it comes from: one contact counted once


class Person(BaseModel):
    """What the rules need about the customer beyond the one account (all their loans)."""

    model_config = ConfigDict(frozen=True)

    opted_out: frozenset[Channel] = frozenset()
    time_zones: tuple[str, ...] = ()
    special_statuses: frozenset[SpecialStatus] = frozenset()


class ComplianceResult(BaseModel):
    """The verdict with its stable reason codes; details are short and carry no PII."""

    model_config = ConfigDict(frozen=True)

    verdict: Verdict
    until: UtcDatetime | None = None
    reasons: list[ReasonCode]
    details: list[str]


# --------------------------------------------------------------------------- internals

WEEK = timedelta(days=7)
HORIZON = timedelta(days=400)
MAX_ITERATIONS = 400
MAX_DETAILS = 12
OPT_OUT_CONFIRMATION_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class _Finding:
    code: ReasonCode
    detail: str
    not_before: datetime | None = None  # None: BLOCK; otherwise DEFER until at least then


@dataclass(frozen=True)
class _Context:
    attempt: Attempt
    account: Account
    case: Case | None
    history: tuple[ContactRecord, ...]
    counted: tuple[ContactRecord, ...]  # records that count against caps, oldest first
    policy: Policy
    rules: JurisdictionPolicy
    zones: tuple[ZoneInfo, ...]
    person: Person = Person()

    @property
    def opted_out(self) -> frozenset[Channel]:
        return frozenset(self.account.opted_out) | self.person.opted_out

    @property
    def special_statuses(self) -> frozenset[SpecialStatus]:
        own = {self.account.special_status} if self.account.special_status else set()
        return self.person.special_statuses | own

    @property
    def first_zone(self) -> ZoneInfo:
        return self.zones[0]

    @property
    def is_service(self) -> bool:
        return self.attempt.kind is AttemptKind.SERVICE


_Rule = Callable[[_Context, datetime], list[_Finding]]


def _block(code: ReasonCode, detail: str) -> _Finding:
    return _Finding(code, f"{code}: {detail}")


def _defer(code: ReasonCode, detail: str, not_before: datetime) -> _Finding:
    return _Finding(code, f"{code}: {detail}", not_before)


def _ceil_minute(value: datetime) -> datetime:
    floored = value.replace(second=0, microsecond=0)
    return floored if floored == value else floored + timedelta(minutes=1)


def _hhmm(value: time) -> str:
    return value.strftime("%H:%M")


def _local_midnight_after(t: datetime, zone: ZoneInfo) -> datetime:
    """The first instant of the next local calendar day."""
    return _wall_to_utc(t.astimezone(zone).date() + timedelta(days=1), time(0, 0), zone)


def _wall_to_utc(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """The earliest instant at which the local clock shows `day wall` or later.

    Ambiguous wall times (clocks going back) give their first occurrence; wall times skipped by
    a clock going forward give the instant of the jump.
    """
    naive = datetime.combine(day, wall)
    early = min(naive.replace(tzinfo=zone, fold=f).astimezone(UTC) for f in (0, 1))
    late = max(naive.replace(tzinfo=zone, fold=f).astimezone(UTC) for f in (0, 1))
    if early.astimezone(zone).replace(tzinfo=None) == naive:
        return early
    # inside a gap: the jump happens between the two readings; find it to the second
    lo, hi = early, late
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if mid.astimezone(zone).replace(tzinfo=None) >= naive:
            hi = mid
        else:
            lo = mid
    return hi


# --------------------------------------------------------------------------- window


def _in_window(t: datetime, zone: ZoneInfo, rules: JurisdictionPolicy) -> bool:
    local = t.astimezone(zone).time()
    return rules.contact_window.start <= local < rules.contact_window.end


def _zone_windows(
    zone: ZoneInfo, rules: JurisdictionPolicy, t: datetime, days: int
) -> list[tuple[datetime, datetime]]:
    first = t.astimezone(zone).date() - timedelta(days=1)
    window = rules.contact_window
    out = []
    for k in range(days + 2):
        day = first + timedelta(days=k)
        start, end = _wall_to_utc(day, window.start, zone), _wall_to_utc(day, window.end, zone)
        if start < end:
            out.append((start, end))
    return out


def _intersect(
    a: list[tuple[datetime, datetime]], b: list[tuple[datetime, datetime]]
) -> list[tuple[datetime, datetime]]:
    out, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        start, end = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if start < end:
            out.append((start, end))
        if a[i][1] <= b[j][1]:
            i += 1
        else:
            j += 1
    return out


def _next_common_window(ctx: _Context, t: datetime, days: int) -> datetime | None:
    """The earliest instant after `t` inside the window in every zone, looking `days` ahead."""
    common = _zone_windows(ctx.zones[0], ctx.rules, t, days)
    for zone in ctx.zones[1:]:
        common = _intersect(common, _zone_windows(zone, ctx.rules, t, days))
    for start, end in common:
        if end <= t:
            continue
        # t inside a common window yet outside by the clock only happens around odd clock jumps
        return start if start > t else t + timedelta(minutes=1)
    return None


def with_preferred_hours(rules: JurisdictionPolicy, account: Account) -> JurisdictionPolicy:
    """The jurisdiction's rules with the contact window narrowed to the hours the customer chose
    (PREFERENCE): a preference can only narrow the legal window, never widen it."""
    hours = account.preferred_hours
    if hours is None:
        return rules
    window = rules.contact_window
    start, end = max(window.start, hours.start), min(window.end, hours.end)
    if start >= end:
        return rules  # no overlap with what the law allows: the law's window stands
    return rules.model_copy(update={"contact_window": window.model_copy(update={"start": start, "end": end})})


def _rule_window(ctx: _Context, t: datetime) -> list[_Finding]:
    if ctx.is_service:
        return []
    outside = [z for z in ctx.zones if not _in_window(t, z, ctx.rules)]
    if not outside:
        return []
    window = ctx.rules.contact_window
    span = f"{_hhmm(window.start)}-{_hhmm(window.end)}"
    # Inside the law's window and outside only the customer's own hours: their preference held it.
    legal = ctx.policy.for_jurisdiction(ctx.account.jurisdiction)
    code = (ReasonCode.PREFERENCE if all(_in_window(t, z, legal) for z in outside)
            else ReasonCode.CONTACT_WINDOW)
    nxt = _next_common_window(ctx, t, 3) or _next_common_window(ctx, t, HORIZON.days)
    if nxt is None:
        return [_block(code, f"the account's time zones never share {span}")]
    return [_defer(code, f"{t.astimezone(z).strftime('%H:%M')} {z.key} outside {span}", nxt) for z in outside]


# --------------------------------------------------------------------------- holidays


@lru_cache(maxsize=64)
def _holiday_dates(country: str, year: int) -> frozenset[date]:
    # Imported here, not at module load: functions that never check a holiday (failures, agent
    # tasks, payments, the stream) do not pay for it at cold start.
    import holidays as holiday_calendars

    return frozenset(holiday_calendars.country_holidays(country, years=year).keys())


def _listed_holiday(country: str, day: date, days_off: frozenset[date] = frozenset()) -> bool:
    return day in days_off or day in _holiday_dates(country, day.year)


def is_holiday(country: str, day: date, days_off: Iterable[date] = (),
               working_days: Iterable[date] = ()) -> bool:
    """A public holiday of `country`, or a weekend enclosed by public holidays on both sides.

    ``days_off`` and ``working_days`` are the policy's calendar where the package's falls short
    (mainland China's State Council calendar: the weekend days inside a holiday block, and the
    weekend days worked in exchange, 调休, which are never a holiday)."""
    off, worked = frozenset(days_off), frozenset(working_days)
    if day in worked:
        return False
    if _listed_holiday(country, day, off):
        return True
    if day.weekday() < 5:
        return False
    before, after = day - timedelta(days=1), day + timedelta(days=1)
    while before.weekday() >= 5 and before not in worked and not _listed_holiday(country, before, off):
        before -= timedelta(days=1)
    while after.weekday() >= 5 and after not in worked and not _listed_holiday(country, after, off):
        after += timedelta(days=1)
    return _listed_holiday(country, before, off) and _listed_holiday(country, after, off)


def _rule_holiday(ctx: _Context, t: datetime) -> list[_Finding]:
    if ctx.is_service or not ctx.rules.holidays:
        return []
    country, off, worked = ctx.rules.holiday_country, ctx.rules.days_off, ctx.rules.working_days
    found = []
    for zone in ctx.zones:
        day = t.astimezone(zone).date()
        if not is_holiday(country, day, off, worked):
            continue
        after = day + timedelta(days=1)
        while is_holiday(country, after, off, worked):
            after += timedelta(days=1)
        detail = f"{day.isoformat()} is a public holiday in {country} ({zone.key})"
        found.append(_defer(ReasonCode.HOLIDAY, detail, _wall_to_utc(after, time(0, 0), zone)))
    return found


# --------------------------------------------------------------------------- caps


def _local_day(t: datetime, zone: ZoneInfo) -> date:
    return t.astimezone(zone).date()


def _free_after(times: list[datetime], cap: int, span: timedelta) -> datetime:
    """When a rolling `span` holding `times` (sorted) next holds fewer than `cap` of them."""
    return times[len(times) - cap] + span


def _rule_daily_cap(ctx: _Context, t: datetime) -> list[_Finding]:
    if ctx.is_service:
        return []
    caps, channel, zone = ctx.rules.caps, ctx.attempt.channel, ctx.first_zone
    found = []
    per_day = {Channel.SMS: caps.sms_per_day, Channel.EMAIL: caps.email_per_day}.get(channel)
    if per_day is not None:
        today = _local_day(t, zone)
        used = sum(1 for r in ctx.counted if r.channel is channel and _local_day(r.at, zone) == today)
        if used >= per_day:
            detail = f"{used} of {per_day} {channel} on {today.isoformat()} ({zone.key})"
            found.append(_defer(ReasonCode.DAILY_CAP, detail, _local_midnight_after(t, zone)))
    week = [r.at for r in ctx.counted if r.at > t - WEEK]
    if len(week) >= caps.contacts_per_week:
        detail = f"{len(week)} of {caps.contacts_per_week} contacts in the last 7 days"
        if caps.contacts_per_week == 0:
            found.append(_block(ReasonCode.DAILY_CAP, "no contacts allowed by policy"))
        else:
            found.append(
                _defer(ReasonCode.DAILY_CAP, detail, _free_after(week, caps.contacts_per_week, WEEK))
            )
    if per_day == 0:
        found.append(_block(ReasonCode.DAILY_CAP, f"no {channel} allowed by policy"))
    return found


def _same_number(attempt: Attempt, record: ContactRecord) -> bool:
    # an unknown number on either side may be the same line: count it
    return (
        attempt.number_hash is None or record.number_hash is None or record.number_hash == attempt.number_hash
    )


def _rule_call_cap(ctx: _Context, t: datetime) -> list[_Finding]:
    if ctx.is_service or ctx.attempt.channel is not Channel.CALL:
        return []
    caps = ctx.rules.caps
    calls = [r for r in ctx.counted if r.channel is Channel.CALL]
    found = []
    if caps.call_attempts_per_7_days is not None:
        cap = caps.call_attempts_per_7_days
        week = [r.at for r in calls if r.at > t - WEEK]
        if cap == 0:
            found.append(_block(ReasonCode.CALL_CAP, "no calls allowed by policy"))
        elif len(week) >= cap:
            detail = f"{len(week)} of {cap} call attempts in the last 7 days"
            found.append(_defer(ReasonCode.CALL_CAP, detail, _free_after(week, cap, WEEK)))
    if caps.call_quiet_days_after_conversation is not None:
        quiet = timedelta(days=caps.call_quiet_days_after_conversation)
        talks = [r.at for r in calls if r.outcome is ContactOutcome.CALL_CONVERSATION and r.at + quiet > t]
        if talks:
            detail = f"a conversation within the last {caps.call_quiet_days_after_conversation} days"
            found.append(_defer(ReasonCode.CALL_CAP, detail, max(talks) + quiet))
    if caps.unanswered_calls_per_day_per_number is not None:
        cap, zone = caps.unanswered_calls_per_day_per_number, ctx.first_zone
        today = _local_day(t, zone)
        unanswered = sum(
            1
            for r in calls
            if r.outcome in UNANSWERED_CALL_OUTCOMES
            and _same_number(ctx.attempt, r)
            and _local_day(r.at, zone) == today
        )
        if cap == 0:
            found.append(_block(ReasonCode.CALL_CAP, "no calls allowed by policy"))
        elif unanswered >= cap:
            detail = (
                f"{unanswered} of {cap} unanswered calls to this number on {today.isoformat()} ({zone.key})"
            )
            found.append(_defer(ReasonCode.CALL_CAP, detail, _local_midnight_after(t, zone)))
    return found


# --------------------------------------------------------------------------- permissions


def _rule_opt_out(ctx: _Context, t: datetime) -> list[_Finding]:
    channel, attempt = ctx.attempt.channel, ctx.attempt
    if channel in ctx.opted_out:
        if ctx.is_service and attempt.is_opt_out_confirmation:
            confirmed = any(
                r.channel is channel
                and r.outcome is ContactOutcome.CONFIRMATION
                and r.at > t - OPT_OUT_CONFIRMATION_WINDOW
                for r in ctx.history
            )
            if not confirmed:
                return []
            return [_block(ReasonCode.OPT_OUT, f"opt-out from {channel} already confirmed")]
        return [_block(ReasonCode.OPT_OUT, f"customer opted out of {channel}")]
    if channel not in ctx.account.consented and not ctx.is_service:
        return [_block(ReasonCode.OPT_OUT, f"no consent to contact by {channel}")]
    return []


def _rule_recipient(ctx: _Context, t: datetime) -> list[_Finding]:
    found = []
    if ctx.attempt.recipient is Recipient.THIRD_PARTY:
        found.append(_block(ReasonCode.RECIPIENT, "third parties are never contacted"))
    if not ctx.account.contact.reachable(ctx.attempt.channel):
        found.append(_block(ReasonCode.RECIPIENT, f"no usable contact details for {ctx.attempt.channel}"))
    return found


_ENDED = {CaseStatus.REFERRED_TO_LEGAL, CaseStatus.RESOLVED, CaseStatus.CLOSED}
_NO_DUNNING = {CaseStatus.IN_PLAN: "case IN_PLAN: only plan reminders",
               CaseStatus.SPECIALIST: "case with a specialist: no dunning"}


def _promise_ends(ctx: _Context, promised_on: date) -> datetime:
    last_day = promised_on + timedelta(days=ctx.policy.promises.grace_days)
    return max(_wall_to_utc(last_day + timedelta(days=1), time(0, 0), z) for z in ctx.zones)


def _rule_hold(ctx: _Context, t: datetime) -> list[_Finding]:
    if ctx.is_service:
        return []
    kind, found = ctx.attempt.kind, []
    if ctx.account.status in (AccountStatus.CHARGED_OFF, AccountStatus.PAID_OFF):
        found.append(_block(ReasonCode.HOLD, f"account {ctx.account.status}"))
    case = ctx.case
    if case is None:
        return found
    status = case.status
    if status in _ENDED or status is CaseStatus.DISPUTED:
        found.append(_block(ReasonCode.HOLD, f"case {status}"))
    elif status is CaseStatus.PAUSED:
        if case.paused_until is None:
            found.append(_block(ReasonCode.HOLD, "case paused without an end"))
        elif case.paused_until > t:
            found.append(
                _defer(ReasonCode.HOLD, f"case paused until {iso_z(case.paused_until)}", case.paused_until)
            )
    elif status is CaseStatus.PROMISED and kind is AttemptKind.COLLECTION:
        if case.promise is None:
            found.append(_block(ReasonCode.HOLD, "case PROMISED without a promise"))
        else:
            ends = _promise_ends(ctx, case.promise.promised_on)
            if ends > t:
                detail = f"promise to pay by {case.promise.promised_on.isoformat()} plus grace"
                found.append(_defer(ReasonCode.HOLD, detail, ends))
    elif status in _NO_DUNNING and kind is AttemptKind.COLLECTION:
        found.append(_block(ReasonCode.HOLD, _NO_DUNNING[status]))
    return found


def _rule_special_status(ctx: _Context, t: datetime) -> list[_Finding]:
    stops = sorted(s for s in ctx.special_statuses if s.stops_contact)
    found = []
    for status in stops:
        detail = f"{status}: no automated contact"
        found.append(_block(ReasonCode.SPECIAL_STATUS, detail))
        found.append(_block(special_status_reason(status), detail))
    return found


def _rule_spacing(ctx: _Context, t: datetime) -> list[_Finding]:
    hours = ctx.rules.caps.spacing_hours
    if ctx.is_service or hours == 0:
        return []
    gap = timedelta(hours=hours)
    # a record stamped after t counts too (clock skew between writers never allows a burst)
    recent = [r.at for r in ctx.counted if r.at > t - gap]
    if not recent:
        return []
    last = max(recent)
    detail = f"a contact at {iso_z(last)}: at most one every {hours} h per person"
    return [_defer(ReasonCode.SPACING, detail, last + gap)]


# --------------------------------------------------------------------------- content


def _rule_content(ctx: _Context, t: datetime) -> list[_Finding]:
    if ctx.attempt.content is None:
        return []
    # imported here: the notice lint pulls in Jinja2 and Babel, which most checks (calls, planning) never need
    from dunning.domain.notices.lint import lint_rendered

    findings = lint_rendered(
        ctx.attempt.content, first_contact=ctx.attempt.first_contact, time_barred=ctx.account.time_barred,
        first_party=ctx.rules.role == "FIRST_PARTY",
    )
    out = []
    for finding in findings:
        code = ReasonCode(finding.code)
        # a service answer (STOP confirmation, HELP) is not a demand: only tone applies to it
        if ctx.is_service and code is not ReasonCode.TONE:
            continue
        out.append(_block(code, str(finding.detail)))
    return out


_RULES: tuple[_Rule, ...] = (
    _rule_recipient,
    _rule_opt_out,
    _rule_special_status,
    _rule_hold,
    _rule_content,
    _rule_window,
    _rule_holiday,
    _rule_daily_cap,
    _rule_call_cap,
    _rule_spacing,
)


def _evaluate(ctx: _Context, t: datetime) -> list[_Finding]:
    return [finding for rule in _RULES for finding in rule(ctx, t)]


def _result(
    verdict: Verdict, findings: list[_Finding], until: datetime | None = None, extra: str = ""
) -> ComplianceResult:
    details: list[str] = []
    for f in findings:
        if f.detail not in details:
            details.append(f.detail)
    details = details[:MAX_DETAILS]
    if extra:
        details.append(extra)
    return ComplianceResult(
        verdict=verdict, until=until, reasons=sorted({f.code for f in findings}), details=details
    )


# --------------------------------------------------------------------------- public


def check(
    attempt: Attempt,
    account: Account,
    case: Case | None,
    history: Sequence[ContactRecord],
    policy: Policy,
    now: datetime,
    person: Person | None = None,
) -> ComplianceResult:
    """ALLOW now, DEFER until the earliest instant every rule allows, or BLOCK, with reasons.

    ``history`` is the customer's (every loan's contacts); ``person`` adds the customer's opt-outs,
    time zones and special statuses to the account's own."""
    now = to_utc(now)
    person = person or Person()
    history_t = tuple(history)
    zone_names = list(dict.fromkeys([*account.time_zones, *person.time_zones]))
    ctx = _Context(
        attempt=attempt,
        account=account,
        case=case,
        history=history_t,
        counted=tuple(sorted((r for r in history_t if r.outcome in COUNTED_OUTCOMES), key=lambda r: r.at)),
        policy=policy,
        rules=with_preferred_hours(policy.for_jurisdiction(account.jurisdiction), account),
        zones=tuple(ZoneInfo(name) for name in zone_names),
        person=person,
    )
    findings = _evaluate(ctx, now)
    if not findings:
        return _result(Verdict.ALLOW, [])
    if any(f.not_before is None for f in findings):
        return _result(Verdict.BLOCK, [f for f in findings if f.not_before is None])
    seen = list(findings)
    seen_codes = {f.code for f in findings}
    t = now
    for _ in range(MAX_ITERATIONS):
        # every deferring rule gives a lower bound; the earliest candidate is the latest of them
        t = _ceil_minute(max(f.not_before for f in findings if f.not_before is not None))
        if t - now > HORIZON:
            break
        findings = _evaluate(ctx, t)
        if not findings:
            return _result(Verdict.DEFER, seen, until=t)
        if any(f.not_before is None for f in findings):
            return _result(Verdict.BLOCK, [f for f in findings if f.not_before is None])
        # a rule met only on the way to the answer is explained once, at the instant it applied
        for f in findings:
            if f.code not in seen_codes:
                seen_codes.add(f.code)
                seen.append(_Finding(f.code, f"{f.detail} (at {iso_z(t)})", f.not_before))
    return _result(Verdict.BLOCK, seen, extra="no allowed instant within horizon")


def is_allowed_at(
    attempt: Attempt,
    account: Account,
    case: Case | None,
    history: Sequence[ContactRecord],
    policy: Policy,
    at: datetime,
    person: Person | None = None,
) -> bool:
    return check(attempt, account, case, history, policy, at, person).verdict is Verdict.ALLOW


__all__ = [
    "COUNTED_OUTCOMES",
    "Attempt",
    "AttemptKind",
    "ComplianceResult",
    "ContactOutcome",
    "ContactRecord",
    "Person",
    "UNANSWERED_CALL_OUTCOMES",
    "Verdict",
    "check",
    "is_allowed_at",
    "is_holiday",
]
