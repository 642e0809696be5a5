"""What the customer's page shows and offers, decided from the account, the case and the policy.

Pure: the same account, case, policy and instant give the same page. The amounts and dates are
formatted once, here, in the visitor's language and the customer's first time zone. The plan
options are computed exactly as the case action that accepts them computes them, and each carries
a digest of its schedule, so what is accepted is what was shown (a schedule that changed in the
meantime is refused, never silently swapped).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_interval, format_skeleton
from babel.numbers import format_currency

from dunning.domain.arrangements import PlanOfferError, apply_payments, offer_plan
from dunning.domain.compliance import is_holiday, with_preferred_hours
from dunning.domain.models import Account, Case, CaseStatus, Channel, Instalment, Money, PlanStatus
from dunning.domain.policy import Policy

LANGUAGES = ("en-US", "zh-CN")
LANGUAGE_NAMES = {"en-US": "English", "zh-CN": "中文"}
CALLBACK_LEAD = timedelta(hours=1)  # a slot starting sooner than this cannot be staffed
_ARRANGEMENTS = {CaseStatus.PROMISED: "promise", CaseStatus.IN_PLAN: "plan", CaseStatus.PAUSED: "pause",
                 CaseStatus.DISPUTED: "dispute"}


def local_today(account: Account, now: datetime) -> date:
    return now.astimezone(ZoneInfo(account.time_zones[0])).date()


def arrangement(case: Case | None) -> str:
    """What `<main data-arrangement>` says: none, promise, plan, pause or dispute."""
    return _ARRANGEMENTS.get(case.status, "none") if case is not None else "none"


def available_actions(case: Case) -> set[str]:
    """The forms the page offers for the case as it stands (anything else posted is refused)."""
    actions = {"pay", "callback", "preferences"}
    status = case.status
    if status in (CaseStatus.OPEN, CaseStatus.PAUSED, CaseStatus.PROMISED, CaseStatus.LEGAL_REVIEW):
        actions |= {"promise", "plan"}
    if status in (CaseStatus.OPEN, CaseStatus.PROMISED, CaseStatus.LEGAL_REVIEW):
        actions.add("hardship")
    if status in (CaseStatus.OPEN, CaseStatus.PAUSED, CaseStatus.PROMISED, CaseStatus.IN_PLAN,
                  CaseStatus.LEGAL_REVIEW):
        actions.add("dispute")
    return actions


# --------------------------------------------------------------------------- plans


def schedule_digest(instalments: list[Instalment]) -> str:
    text = "|".join(f"{i.number}:{i.due_on.isoformat()}:{i.amount.amount}:{i.amount.currency}" for i in instalments)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class PlanOption:
    instalments: list[Instalment]
    offered: bool  # the plan already on offer on the case (accepting it keeps its id)

    @property
    def count(self) -> int:
        return len(self.instalments)

    @property
    def first_due(self) -> date:
        return self.instalments[0].due_on

    @property
    def digest(self) -> str:
        return schedule_digest(self.instalments)

    @property
    def choice(self) -> str:
        return f"{self.count}:{self.first_due.isoformat()}:{self.digest}"


def plan_options(account: Account, case: Case, policy: Policy, now: datetime) -> list[PlanOption]:
    """The plan on offer (while it still adds up to what is owed), then every count the policy
    allows, first instalment one interval from today, exactly as `offer_plan_action` makes them."""
    owed = account.amount_due
    hardship = policy.hardship
    options: list[PlanOption] = []
    offered = case.plan if case.plan is not None and case.plan.status is PlanStatus.OFFERED else None
    if offered is not None and offered.total.amount == owed.amount and offered.total.currency == owed.currency:
        options.append(PlanOption(list(offered.instalments), offered=True))
    first = local_today(account, now) + timedelta(days=hardship.instalment_interval_days)
    for count in sorted(set(hardship.instalment_counts)):
        try:
            plan = offer_plan(owed, count, first, hardship, "preview", now)
        except PlanOfferError:
            continue
        option = PlanOption(list(plan.instalments), offered=False)
        if not any(o.digest == option.digest for o in options):
            options.append(option)
    return options


# --------------------------------------------------------------------------- call-backs


def callback_slots(account: Account, policy: Policy, now: datetime) -> list[tuple[datetime, datetime]]:
    """Slots on the next business days, inside the contact window narrowed by the customer's own
    hours, in their first time zone, none starting within the hour."""
    rules = with_preferred_hours(policy.for_jurisdiction(account.jurisdiction), account)
    window, page = rules.contact_window, policy.page
    zone = ZoneInfo(account.time_zones[0])
    day, days, slots = local_today(account, now), 0, []
    length = timedelta(hours=page.callback_slot_hours)
    for _ in range(21):  # three weeks is plenty to find a few business days, even around Golden Week
        if days >= page.callback_days:
            break
        if day.weekday() < 5 and not (rules.holidays and is_holiday(rules.holiday_country, day, rules.days_off,
                                                                     rules.working_days)):
            found = False
            start = datetime.combine(day, window.start, tzinfo=zone)
            close = datetime.combine(day, window.end, tzinfo=zone)
            while start + length <= close:
                if start.astimezone(UTC) >= now + CALLBACK_LEAD:
                    slots.append((start.astimezone(UTC), (start + length).astimezone(UTC)))
                    found = True
                start += length
            days += int(found)
        day += timedelta(days=1)
    return slots


def slot_value(start: datetime) -> str:
    return start.astimezone(UTC).strftime("%Y%m%dT%H%MZ")


# Ranges of local hours a customer may pick; each is cut to the legal window.
HOUR_RANGES = ((8, 12), (12, 17), (17, 21), (9, 17), (18, 21))


def hour_ranges(account: Account, policy: Policy) -> list[tuple[int, int]]:
    """The preferred-hours choices: common ranges inside the jurisdiction's window (and the one
    the customer holds now, should a policy change have moved the window)."""
    window = policy.for_jurisdiction(account.jurisdiction).contact_window
    first, last = window.start.hour + (window.start.minute > 0), window.end.hour
    ranges = [(max(a, first), min(b, last)) for a, b in HOUR_RANGES]
    held = account.preferred_hours
    if held is not None:
        ranges.append((held.start.hour, held.end.hour))
    return sorted({r for r in ranges if r[0] < r[1]})


def hours_value(account: Account) -> str:
    hours = account.preferred_hours
    return "any" if hours is None else f"{hours.start.hour:02d}-{hours.end.hour:02d}"


def parse_hours(value: str, account: Account, policy: Policy) -> tuple[time, time] | None:
    """`any` (None) or `HH-HH` inside the legal window; ValueError otherwise."""
    if value == "any":
        return None
    first, last = (int(part) for part in value.split("-"))
    window = policy.for_jurisdiction(account.jurisdiction).contact_window
    if not (window.start <= time(first) and last <= 23 and time(last) <= window.end and first < last):
        raise ValueError("hours: outside the contact window, or not in order")
    return time(first), time(last)


def languages_for(account: Account) -> tuple[str, ...]:
    """Notices in Chinese-jurisdiction accounts go out in Chinese; US customers may read either."""
    return ("zh-CN",) if account.jurisdiction.value == "CN" else LANGUAGES


# --------------------------------------------------------------------------- formatting


@dataclass
class Formatter:
    language: str
    zone: str

    @property
    def _loc(self) -> str:
        return self.language.replace("-", "_")

    def money(self, value: Money) -> str:
        return format_currency(value.amount, value.currency, locale=self._loc)

    def day(self, value: date) -> str:
        return format_date(value, "medium", locale=self._loc)

    def slot(self, start: datetime, end: datetime) -> str:
        tz = ZoneInfo(self.zone)
        local = start.astimezone(tz)
        skeleton = "Hm" if self.language == "zh-CN" else "hm"
        return f"{format_skeleton('MMMEd', local, locale=self._loc)} " \
               f"{format_interval(local, end.astimezone(tz), skeleton, locale=self._loc)}"

    def instant_day(self, value: datetime) -> str:
        return self.day(value.astimezone(ZoneInfo(self.zone)).date())


@dataclass
class View:
    """Everything the page template shows, already formatted (no amount is computed in a template)."""

    language: str
    arrangement: str = "none"
    owed: dict[str, str] = field(default_factory=dict)
    account_last4: str = ""
    arrangement_details: dict[str, object] = field(default_factory=dict)
    actions: set[str] = field(default_factory=set)
    plans: list[dict[str, object]] = field(default_factory=list)
    promise: dict[str, str] = field(default_factory=dict)
    slots: list[dict[str, str]] = field(default_factory=list)
    preferences: dict[str, object] = field(default_factory=dict)
    collector: dict[str, str] = field(default_factory=dict)


def _arrangement_details(case: Case, account: Account, fmt: Formatter, policy: Policy) -> dict[str, object]:
    if case.status is CaseStatus.PROMISED and case.promise is not None:
        return {"date": fmt.day(case.promise.promised_on), "amount": fmt.money(case.promise.amount)}
    if case.status is CaseStatus.IN_PLAN and case.plan is not None:
        plan = apply_payments(case.plan, account.payments)
        return {"rows": [{"number": i.number, "due": fmt.day(i.due_on), "amount": fmt.money(i.amount),
                          "paid": i.settled} for i in plan.instalments],
                "total": fmt.money(plan.total)}
    if case.status is CaseStatus.PAUSED and case.paused_until is not None:
        details: dict[str, object] = {"until": fmt.instant_day(case.paused_until)}
        if case.plan is not None and case.plan.status is PlanStatus.OFFERED:
            details["offered"] = True
        return details
    if case.status is CaseStatus.DISPUTED:
        return {"disputed": True}
    return {}


def build_view(account: Account, case: Case, policy: Policy, now: datetime, language: str) -> View:
    """The verified page: what is owed, the arrangement, and the forms the case allows."""
    fmt = Formatter(language, account.time_zones[0])
    jp = policy.for_jurisdiction(account.jurisdiction)
    today = local_today(account, now)
    currency = account.currency
    view = View(language=language, arrangement=arrangement(case), account_last4=account.account_last4)
    view.owed = {
        "total": fmt.money(account.amount_due.quantized()),
        "principal": fmt.money(Money.of(account.principal_due, currency).quantized()),
        "interest": fmt.money(Money.of(account.interest_due, currency).quantized()),
        "fees": fmt.money(Money.of(account.fees_due, currency).quantized()),
        "days_overdue": str(max(0, account.days_past_due(today))),
        "due_date": fmt.day(account.due_date) if account.due_date else "",
        "deadline": fmt.day(today + timedelta(days=policy.notice_deadline_days)),
    }
    view.collector = {"name": jp.collector.name, "phone": jp.collector.phone, "email": jp.collector.email,
                      "hours": jp.collector.hours}
    view.arrangement_details = _arrangement_details(case, account, fmt, policy)
    actions = available_actions(case)
    if "plan" in actions:
        options = plan_options(account, case, policy, now)
        view.plans = [{"choice": o.choice, "count": o.count, "offered": o.offered,
                       "total": fmt.money(account.amount_due),
                       "rows": [{"number": i.number, "due": fmt.day(i.due_on), "amount": fmt.money(i.amount)}
                                for i in o.instalments]} for o in options]
        if not options:
            actions.discard("plan")
    if "promise" in actions:
        view.promise = {"min": today.isoformat(),
                        "max": (today + timedelta(days=policy.promises.max_days_ahead)).isoformat(),
                        "amount": format(account.amount_due.quantized().amount, "f"),
                        "currency": currency}
    view.slots = [{"value": slot_value(start), "label": fmt.slot(start, end)}
                  for start, end in callback_slots(account, policy, now)]
    if not view.slots:
        actions.discard("callback")
    view.actions = actions
    view.preferences = {
        "sms": Channel.SMS not in account.opted_out, "email": Channel.EMAIL not in account.opted_out,
        "has_phone": account.contact.phone is not None, "has_email": account.contact.email is not None,
        "hours": hours_value(account),
        "hour_ranges": [(f"{a:02d}-{b:02d}", f"{a:02d}:00–{b:02d}:00") for a, b in hour_ranges(account, policy)],
        "language": account.notice_locale, "languages": [(code, LANGUAGE_NAMES[code])
                                                         for code in languages_for(account)],
    }
    return view
