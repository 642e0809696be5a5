"""Notice templates: rendering and the template linter (DESIGN sections 5 and 6).

Templates live in the layer at ``dunning/templates/<locale>/<template_id>.<part>.j2`` with the
parts ``sms``, ``email_subject``, ``email_text`` and ``email_html`` (only the HTML part is
autoescaped). Every value a customer must see is formatted here, once, in the customer's locale
and first time zone, so the linter can check that the exact same strings reached the text.

A collection notice says, short and clear: how overdue, how much, by when, how to pay, whom to
call, who is writing, and how to opt out. The linter refuses a notice that leaves one out
(CONTENT) or that threatens, shames or claims false authority (TONE).
"""

from __future__ import annotations

import hashlib
import html as html_lib
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import holidays as holidays_lib
import jinja2
import jinja2.meta
from babel.dates import format_date, format_skeleton
from babel.numbers import format_currency
from pydantic import BaseModel, Field

from dunning.domain.models import (
    Account,
    Channel,
    Contact,
    Instalment,
    InstalmentPlan,
    Jurisdiction,
    Money,
    Promise,
    ReasonCode,
    UtcDatetime,
    to_utc,
)
from dunning.domain.policy import Collector, Policy, StepKind

LOCALES: tuple[str, ...] = ("en-US", "zh-CN")

# Locales whose notices the policy lint renders for each jurisdiction. US customers may read
# Chinese; Chinese-jurisdiction notices go out in Chinese (the collector's registered name is Chinese).
JURISDICTION_LOCALES: dict[Jurisdiction, tuple[str, ...]] = {
    Jurisdiction.US: ("en-US", "zh-CN"),
    Jurisdiction.CN: ("zh-CN",),
}

TEMPLATE_IDS: tuple[str, ...] = (
    "pre_due_reminder",
    "first_notice",
    "overdue_reminder",
    "final_notice",
    "plan_offer",
    "plan_confirmation",
    "instalment_reminder",
    "promise_confirmation",
    "payment_confirmation",
    "opt_out_confirmation",
    "help_reply",
    "legal_referral",
)

# Facts (keys of RenderedNotice.facts) each kind of notice must show the customer.
_ALL_FACTS = ("amount", "days_overdue", "deadline", "pay_link", "contact_phone", "collector", "opt_out")
REQUIRED_FACTS: dict[str, tuple[str, ...]] = {
    "pre_due_reminder": ("amount", "due_date", "pay_link", "contact_phone", "collector", "opt_out"),
    "first_notice": _ALL_FACTS,
    "overdue_reminder": _ALL_FACTS,
    "final_notice": _ALL_FACTS,
    "legal_referral": _ALL_FACTS,
    "plan_offer": _ALL_FACTS,
    "instalment_reminder": (
        "instalment_amount",
        "instalment_due",
        "pay_link",
        "contact_phone",
        "collector",
        "opt_out",
    ),
    "plan_confirmation": ("plan_total", "contact_phone", "collector", "opt_out"),
    "promise_confirmation": ("promise_amount", "promise_date", "contact_phone", "collector", "opt_out"),
    "payment_confirmation": ("contact_phone", "collector", "opt_out"),
    # Confirms the opt-out itself: repeating "reply STOP" would be absurd.
    "opt_out_confirmation": ("contact_phone", "collector"),
    "help_reply": ("contact_phone", "collector", "opt_out"),
}

# Extra facts a template cannot render without (passed to build_facts through ``extra``).
_NEEDS: dict[str, tuple[str, ...]] = {
    "plan_offer": ("schedule",),
    "plan_confirmation": ("schedule",),
    "instalment_reminder": ("schedule",),
    "promise_confirmation": ("promise_date", "promise_amount"),
}

SMS_SEGMENT_BUDGET: dict[str, int] = {"en-US": 2, "zh-CN": 3}

OPT_OUT_TEXT: dict[tuple[str, Channel], str] = {
    ("en-US", Channel.SMS): "Reply STOP to opt out.",
    ("zh-CN", Channel.SMS): "回复TD退订",
    ("en-US", Channel.EMAIL): "If you no longer want these emails, you can unsubscribe at any time.",
    ("zh-CN", Channel.EMAIL): "如不希望再收到此类邮件，可随时退订。",
}

# US validation notice (Regulation F 1006.34): the disclosure sentence of 15 U.S.C. 1692e(11).
DEBT_COLLECTOR_DISCLOSURE: dict[str, str] = {
    "en-US": "This is a communication from a debt collector.",
    "zh-CN": "本函来自债务催收方。",
}
VALIDATION_PERIOD_DAYS = 30
ASSUMED_RECEIPT_BUSINESS_DAYS = 5  # Reg F safe harbour: assume receipt 5 business days after sending

# ---------------------------------------------------------------------------- tone lists

THREAT_PHRASES_EN: tuple[str, ...] = (
    "arrest",
    "jail",
    "prison",
    "police",
    "sue you",
    "lawsuit will be filed",
    "garnish",
    "garnishment",
    "we will tell your employer",
    "contact your employer",
    "your family will know",
    "tell your family",
    "criminal",
    "final warning",
    "or else",
    "deadbeat",
    "shame",
    "seize",
    "warrant",
    "blacklist",
)
THREAT_PHRASES_ZH: tuple[str, ...] = (
    "逮捕",
    "坐牢",
    "拘留",
    "报警",
    "起诉你",
    "公安",
    "通知你的家人",
    "通知家人",
    "通知单位",
    "曝光",
    "老赖",
    "后果自负",
    "黑名单",
    "上门",
    "征信污点",
    "最后警告",
)
# On time-barred debt any mention of legal action is a threat the lender cannot carry out.
LEGAL_WORDS_EN: tuple[str, ...] = ("legal", "court", "attorney", "lawyer", "lawsuit", "litigation", "sue")
LEGAL_WORDS_ZH: tuple[str, ...] = ("法律", "法院", "律师", "诉讼", "法务", "起诉")


def _phrase_patterns(en: Iterable[str], zh: Iterable[str]) -> list[tuple[str, re.Pattern[str]]]:
    # English on word boundaries ("police" must not hit "policy"); Chinese has no word breaks.
    out = [(p, re.compile(rf"\b{re.escape(p)}\b", re.IGNORECASE)) for p in en]
    out += [(p, re.compile(re.escape(p))) for p in zh]
    return out


_THREATS = _phrase_patterns(THREAT_PHRASES_EN, THREAT_PHRASES_ZH)
_LEGAL = _phrase_patterns(LEGAL_WORDS_EN, LEGAL_WORDS_ZH)


class UnknownTemplate(LookupError):
    """No bundled template for this id, locale and channel."""

    def __init__(self, template_id: str, locale: str, channel: Channel) -> None:
        super().__init__(f"no template {template_id} for {locale} {channel}")
        self.template_id, self.locale, self.channel = template_id, locale, channel


class MissingFacts(ValueError):
    """The template needs facts (a plan schedule, a promise) that were not supplied."""

    def __init__(self, template_id: str, missing: Iterable[str]) -> None:
        names = sorted(missing)
        super().__init__(f"template {template_id} needs {', '.join(names)}")
        self.template_id, self.missing = template_id, names


# ---------------------------------------------------------------------------- models


class ScheduleItem(BaseModel):
    due_on: date
    amount: Money


class NoticeFacts(BaseModel):
    """Everything a notice may say about one account, before locale formatting."""

    account_id: str
    customer_name: str
    account_last4: str
    jurisdiction: Jurisdiction
    time_zone: str
    amount_due: Money
    principal: Money
    interest: Money
    fees: Money
    days_overdue: int = Field(ge=0)
    due_date: date | None = None
    today: date  # the customer's local date when the facts were built
    deadline: date
    pay_link: str
    unsubscribe_link: str
    link_expires_at: UtcDatetime
    collector: Collector
    creditor: str
    validation_notice: bool = False  # the jurisdiction wants the validation items on first contact
    dispute_by: date | None = None
    time_barred: bool = False
    schedule: list[ScheduleItem] = Field(default_factory=list)
    promise_date: date | None = None
    promise_amount: Money | None = None
    payment_amount: Money | None = None


class RenderedNotice(BaseModel):
    template_id: str
    template_version: str  # sha256 of the template sources used, first 12 hex
    locale: str
    channel: Channel
    subject: str | None = None
    body: str  # SMS text, or the plain-text part of an email
    html: str | None = None
    segments: int | None = None  # SMS only
    encoding: str | None = None  # SMS only: GSM-7 or UCS-2
    facts: dict[str, str]  # formatted values that must appear (see REQUIRED_FACTS)
    validation: dict[str, str] = Field(default_factory=dict)  # US validation items, when carried


class LintFinding(BaseModel):
    code: ReasonCode  # CONTENT or TONE
    detail: str  # names the missing fact or the offending phrase; never customer data


# ---------------------------------------------------------------------------- facts


def _add_business_days(start: date, days: int, country: str) -> date:
    off = holidays_lib.country_holidays(country, years=range(start.year, start.year + 2))
    current = start
    while days > 0:
        current += timedelta(days=1)
        if current.weekday() < 5 and current not in off:
            days -= 1
    return current


def _schedule_from(value: Any, currency: str) -> list[ScheduleItem]:
    if isinstance(value, InstalmentPlan):
        value = value.instalments
    items: list[ScheduleItem] = []
    for entry in value or []:
        if isinstance(entry, ScheduleItem):
            items.append(entry)
        elif isinstance(entry, Instalment):
            items.append(ScheduleItem(due_on=entry.due_on, amount=entry.amount))
        elif isinstance(entry, Mapping):
            items.append(ScheduleItem.model_validate(entry))
        else:
            due_on, amount = entry
            money = amount if isinstance(amount, Money) else Money.of(amount, currency)
            items.append(ScheduleItem(due_on=due_on, amount=money))
    return items


def build_facts(
    account: Account,
    policy: Policy,
    now: datetime,
    *,
    link_secret: bytes,
    extra: dict[str, Any] | None = None,
) -> NoticeFacts:
    """Facts for a notice to ``account`` at ``now`` (aware).

    The deadline is the customer's local today + ``policy.notice_deadline_days``; the pay link
    expires ``policy.link_valid_days`` after now. ``extra`` may carry ``schedule`` (an
    InstalmentPlan, Instalments, or (due date, amount) pairs), ``plan``, ``promise`` (a Promise) or
    ``promise_date``/``promise_amount``, and ``payment_amount``.
    """
    from dunning.domain.links import sign_link  # imported here: links is a sibling written separately

    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    extra = dict(extra or {})
    jp = policy.for_jurisdiction(account.jurisdiction)
    zone = account.time_zones[0]
    today = now.astimezone(ZoneInfo(zone)).date()
    expires_at = to_utc(now) + timedelta(days=policy.link_valid_days)
    currency = account.currency
    values: dict[str, Any] = {
        "account_id": account.account_id,
        "customer_name": account.customer_name,
        "account_last4": account.account_last4,
        "jurisdiction": account.jurisdiction,
        "time_zone": zone,
        "amount_due": account.amount_due.quantized(),
        "principal": Money.of(account.principal_due, currency).quantized(),
        "interest": Money.of(account.interest_due, currency).quantized(),
        "fees": Money.of(account.fees_due, currency).quantized(),
        "days_overdue": max(0, account.days_past_due(today)),
        "due_date": account.due_date,
        "today": today,
        "deadline": today + timedelta(days=policy.notice_deadline_days),
        "pay_link": sign_link(jp.collector.pay_url, account.account_id, expires_at, link_secret, "pay"),
        "unsubscribe_link": sign_link(
            jp.collector.pay_url, account.account_id, expires_at, link_secret, "unsubscribe"
        ),
        "link_expires_at": expires_at,
        "collector": jp.collector,
        "creditor": jp.collector.name,
        "validation_notice": jp.first_contact_disclosure,
        "time_barred": account.time_barred,
    }
    if jp.first_contact_disclosure:
        received = _add_business_days(today, ASSUMED_RECEIPT_BUSINESS_DAYS, jp.holiday_country)
        values["dispute_by"] = received + timedelta(days=VALIDATION_PERIOD_DAYS)
    schedule, plan = extra.pop("schedule", None), extra.pop("plan", None)
    schedule = schedule if schedule is not None else plan
    if schedule is not None:
        values["schedule"] = _schedule_from(schedule, currency)
    promise = extra.pop("promise", None)
    if isinstance(promise, Promise):
        values["promise_date"], values["promise_amount"] = promise.promised_on, promise.amount
    for key in ("promise_amount", "payment_amount"):
        if key in extra and not isinstance(extra[key], Money | dict):
            extra[key] = Money.of(extra[key], currency)
    values.update(extra)
    return NoticeFacts.model_validate(values)


# ---------------------------------------------------------------------------- rendering

_PARTS: dict[Channel, tuple[str, ...]] = {
    Channel.SMS: ("sms",),
    Channel.EMAIL: ("email_subject", "email_text", "email_html"),
}
_NAME = re.compile(r"^(?P<tid>[a-z0-9_]+)\.(?P<part>sms|email_subject|email_text|email_html)\.j2$")


def templates_root() -> Path:
    return Path(str(resources.files("dunning").joinpath("templates")))


@lru_cache(maxsize=8)
def _environment(root: str) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(root),
        # Only the HTML part is escaped: SMS and plain text must show "&" and "<" as they are.
        autoescape=jinja2.select_autoescape(enabled_extensions=("email_html.j2",), default_for_string=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _babel_locale(locale: str) -> str:
    return locale.replace("-", "_")


def _days_phrase(days: int, locale: str) -> str:
    if locale == "zh-CN":
        return f"已逾期{days}天"
    return f"{days} day past due" if days == 1 else f"{days} days past due"


def _next_instalment(facts: NoticeFacts) -> ScheduleItem | None:
    upcoming = [item for item in facts.schedule if item.due_on >= facts.today]
    return upcoming[0] if upcoming else (facts.schedule[-1] if facts.schedule else None)


def _context(facts: NoticeFacts, locale: str, channel: Channel) -> dict[str, Any]:
    """Formatted strings for the templates; absent optional facts are left out (StrictUndefined)."""
    loc = _babel_locale(locale)

    def money(value: Money) -> str:
        return format_currency(value.amount, value.currency, locale=loc)

    def day(value: date) -> str:
        # SMS dates drop the year: deadlines are weeks away, and every character counts there.
        if channel is Channel.SMS:
            return format_skeleton("MMMd", value, locale=loc)
        return format_date(value, "medium", locale=loc)

    ctx: dict[str, Any] = {
        "customer_name": facts.customer_name,
        "last4": facts.account_last4,
        "masked_account": f"••••{facts.account_last4}",
        "amount": money(facts.amount_due),
        "principal": money(facts.principal),
        "interest": money(facts.interest),
        "fees": money(facts.fees),
        "days": facts.days_overdue,
        "days_overdue": _days_phrase(facts.days_overdue, locale),
        "deadline": day(facts.deadline),
        "pay_link": facts.pay_link,
        "unsubscribe_link": facts.unsubscribe_link,
        "collector": facts.collector.name,
        "creditor": facts.creditor,
        "contact_phone": facts.collector.phone,
        "contact_hours": facts.collector.hours,
        "contact_email": facts.collector.email,
        "opt_out": OPT_OUT_TEXT[(locale, channel)],
        "validation": facts.validation_notice,
        "disclosure": DEBT_COLLECTOR_DISCLOSURE[locale],
    }
    if facts.due_date is not None:
        ctx["due_date"] = day(facts.due_date)
    if facts.dispute_by is not None:
        ctx["dispute_by"] = day(facts.dispute_by)
    if facts.schedule:
        ctx["schedule"] = [
            {"number": n, "due": day(item.due_on), "amount": money(item.amount)}
            for n, item in enumerate(facts.schedule, start=1)
        ]
        total = Money.zero(facts.schedule[0].amount.currency)
        for item in facts.schedule:
            total = total + item.amount
        ctx["plan_total"] = money(total)
        ctx["plan_count"] = len(facts.schedule)
        nxt = _next_instalment(facts)
        if nxt is not None:
            ctx["instalment_amount"], ctx["instalment_due"] = money(nxt.amount), day(nxt.due_on)
    if facts.promise_date is not None:
        ctx["promise_date"] = day(facts.promise_date)
    if facts.promise_amount is not None:
        ctx["promise_amount"] = money(facts.promise_amount)
    if facts.payment_amount is not None:
        ctx["payment_amount"] = money(facts.payment_amount)
    return ctx


def _template_version(env: jinja2.Environment, names: Iterable[str]) -> str:
    """Hash of every source the notice was built from, including layouts and includes."""
    assert env.loader is not None
    seen: dict[str, str] = {}
    pending = list(names)
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        source, _, _ = env.loader.get_source(env, name)
        seen[name] = source
        for ref in jinja2.meta.find_referenced_templates(env.parse(source)):
            if ref is not None:
                pending.append(ref)
    digest = hashlib.sha256()
    for name in sorted(seen):
        digest.update(name.encode() + b"\x00" + seen[name].encode() + b"\x00")
    return digest.hexdigest()[:12]


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _tidy_text(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines))


def render(
    template_id: str, channel: Channel, facts: NoticeFacts, locale: str, *, templates_dir: Path | None = None
) -> RenderedNotice:
    """Render one notice. Raises UnknownTemplate, or MissingFacts when a plan/promise is needed."""
    from dunning.domain.sms import gsm7_safe, sms_size

    root = templates_dir or templates_root()
    env = _environment(str(root))
    parts = _PARTS.get(channel)
    if parts is None or (locale, channel) not in _available(str(root)).get(template_id, set()):
        raise UnknownTemplate(template_id, locale, channel)
    ctx = _context(facts, locale, channel)
    missing = [need for need in _NEEDS.get(template_id, ()) if need not in ctx]
    if missing:
        raise MissingFacts(template_id, missing)
    names = {part: f"{locale}/{template_id}.{part}.j2" for part in parts}
    try:
        out = {part: env.get_template(name).render(ctx) for part, name in names.items()}
    except jinja2.UndefinedError as exc:
        raise MissingFacts(template_id, [str(exc.message or "a fact")]) from exc
    required = REQUIRED_FACTS.get(template_id, ("collector",))
    fact_values = {key: str(ctx[key]) for key in required if key in ctx}
    validation: dict[str, str] = {}
    if channel is Channel.EMAIL and template_id == "first_notice" and facts.validation_notice:
        validation = {
            key: str(ctx[key])
            for key in ("principal", "interest", "fees", "amount", "creditor", "dispute_by", "disclosure")
        }
    version = _template_version(env, names.values())
    if channel is Channel.SMS:
        body = _one_line(out["sms"])
        if locale == "en-US":
            # Curly quotes or a narrow space from Babel would silently switch the SMS to UCS-2.
            body = gsm7_safe(body)
            fact_values = {key: gsm7_safe(value) for key, value in fact_values.items()}
        size = sms_size(body)
        return RenderedNotice(
            template_id=template_id,
            template_version=version,
            locale=locale,
            channel=channel,
            body=body,
            segments=size.segments,
            encoding=str(size.encoding),
            facts=fact_values,
        )
    return RenderedNotice(
        template_id=template_id,
        template_version=version,
        locale=locale,
        channel=channel,
        subject=_one_line(out["email_subject"]),
        body=_tidy_text(out["email_text"]),
        html=out["email_html"].strip(),
        facts=fact_values,
        validation=validation,
    )


@lru_cache(maxsize=8)
def _available(root_dir: str) -> dict[str, set[tuple[str, Channel]]]:
    root = Path(root_dir)
    parts: dict[tuple[str, str], set[str]] = {}
    if root.is_dir():
        for locale_dir in sorted(p for p in root.iterdir() if p.is_dir()):
            for path in locale_dir.iterdir():
                match = _NAME.match(path.name)
                if match:
                    parts.setdefault((match["tid"], locale_dir.name), set()).add(match["part"])
    found: dict[str, set[tuple[str, Channel]]] = {}
    for (tid, locale), have in parts.items():
        for channel, needed in _PARTS.items():
            if set(needed) <= have:
                found.setdefault(tid, set()).add((locale, channel))
    return found


def available_templates() -> dict[str, set[tuple[str, Channel]]]:
    """Bundled template id -> {(locale, channel)} that can be rendered (all parts present)."""
    return {tid: set(found) for tid, found in _available(str(templates_root())).items()}


# ---------------------------------------------------------------------------- lint


def _html_text(markup: str) -> str:
    """Visible text plus attribute values (a link in an href counts as shown)."""
    hrefs = " ".join(re.findall(r'href="([^"]*)"', markup))
    text = re.sub(r"<(style|script)\b.*?</\1>", " ", markup, flags=re.S | re.I)
    text = re.sub(r"<[^>]+>", " ", text)
    return _one_line(html_lib.unescape(f"{text} {hrefs}"))


def _tone_findings(text: str, time_barred: bool) -> list[LintFinding]:
    findings = [
        LintFinding(code=ReasonCode.TONE, detail=f"threatening or shaming phrase {phrase!r}")
        for phrase, pattern in _THREATS
        if pattern.search(text)
    ]
    if time_barred:
        findings += [
            LintFinding(
                code=ReasonCode.TONE, detail=f"legal action mentioned on time-barred debt ({phrase!r})"
            )
            for phrase, pattern in _LEGAL
            if pattern.search(text)
        ]
    return findings


def lint_rendered(
    notice: RenderedNotice, *, first_contact: bool = False, time_barred: bool = False
) -> list[LintFinding]:
    """CONTENT and TONE findings for a rendered notice; empty means it may be sent.

    ``first_contact`` means the jurisdiction wants the validation-notice items with this first
    contact. They are checked in email only: an SMS cannot carry them, and Regulation F lets the
    validation notice follow within five days of the initial communication.
    """
    texts = {"text": _one_line(notice.body)}
    if notice.html is not None:
        texts["html"] = _html_text(notice.html)
    findings: list[LintFinding] = []

    def require(items: Mapping[str, str], what: str) -> None:
        for key, value in items.items():
            for part, text in texts.items():
                if _one_line(value) not in text:
                    where = "" if part == "text" else " in html"
                    findings.append(
                        LintFinding(code=ReasonCode.CONTENT, detail=f"missing {what}{key}{where}")
                    )

    require(notice.facts, "")
    if first_contact and notice.channel is Channel.EMAIL:
        if not notice.validation:
            findings.append(LintFinding(code=ReasonCode.CONTENT, detail="missing validation notice"))
        require(notice.validation, "validation item ")
    whole = " ".join([notice.subject or "", *texts.values()])
    findings += _tone_findings(whole, time_barred)
    return findings


# ---------------------------------------------------------------------------- samples

SAMPLE_LINK_SECRET = b"dunning-sample-link-secret--dev-only"  # for lint and the dev CLI, never deployed
SAMPLE_NOW = datetime.fromisoformat("2026-11-10T15:00:00+00:00")
SAMPLE_DAYS_OVERDUE = 12

_SAMPLES: dict[Jurisdiction, dict[str, Any]] = {
    Jurisdiction.US: {
        "account_id": "SAMPLE-US-0001",
        "customer_name": "Alex Morgan",
        "account_number": "4000123412341234",
        "contact": {"phone": "+12125551234", "email": "alex.morgan@example.com"},
        "locale": "en-US",
        "time_zones": ["America/New_York"],
        "currency": "USD",
        "principal_due": "1180.00",
        "interest_due": "42.50",
        "fees_due": "25.00",
    },
    Jurisdiction.CN: {
        "account_id": "SAMPLE-CN-0001",
        "customer_name": "王小明",
        "account_number": "6222020200112345678",
        "contact": {"phone": "+8613800138000", "email": "wang.xm@example.com"},
        "locale": "zh-CN",
        "time_zones": ["Asia/Shanghai"],
        "currency": "CNY",
        "principal_due": "8600.00",
        "interest_due": "310.00",
        "fees_due": "90.00",
    },
}


def sample_account(
    jurisdiction: Jurisdiction, locale: str | None = None, now: datetime = SAMPLE_NOW
) -> Account:
    """A made-up delinquent account (12 days past due at ``now``) for previews and lint."""
    values = dict(_SAMPLES[jurisdiction])
    values["contact"] = Contact.model_validate(values["contact"])
    if locale is not None:
        values["locale"] = locale
    today = now.astimezone(ZoneInfo(values["time_zones"][0])).date()
    return Account.model_validate(
        {
            **values,
            "jurisdiction": jurisdiction,
            "due_date": today - timedelta(days=SAMPLE_DAYS_OVERDUE),
            "status": "DELINQUENT",
        }
    )


def sample_extra(account: Account, now: datetime = SAMPLE_NOW) -> dict[str, Any]:
    """A plan schedule (three instalments), a promise and a payment, for previewing every template."""
    today = now.astimezone(ZoneInfo(account.time_zones[0])).date()
    due = account.amount_due.quantized()
    part = Money(amount=(due.amount / 3).quantize(due.minor_unit), currency=due.currency)
    last = due - part - part
    schedule = [(today + timedelta(days=3 + 7 * i), amount) for i, amount in enumerate((part, part, last))]
    return {
        "schedule": schedule,
        "promise_date": today + timedelta(days=5),
        "promise_amount": due,
        "payment_amount": due,
    }


def _sample_facts(jurisdiction: Jurisdiction, locale: str, policy: Policy) -> NoticeFacts:
    account = sample_account(jurisdiction, locale)
    return build_facts(
        account, policy, SAMPLE_NOW, link_secret=SAMPLE_LINK_SECRET, extra=sample_extra(account)
    )


def _lint_lines(
    prefix: str, notice: RenderedNotice, *, first_contact: bool, time_barred: bool, budget: bool
) -> list[str]:
    lines = [
        f"{prefix}: {f.code} {f.detail}"
        for f in lint_rendered(notice, first_contact=first_contact, time_barred=time_barred)
    ]
    limit = SMS_SEGMENT_BUDGET.get(notice.locale) if budget else None
    if notice.segments is not None and limit is not None and notice.segments > limit:
        lines.append(f"{prefix}: LENGTH {notice.segments} SMS segments, budget {limit}")
    return lines


def _check_one(
    prefix: str,
    template_id: str,
    channel: Channel,
    facts: NoticeFacts,
    locale: str,
    *,
    first_contact: bool,
    time_barred: bool,
    budget: bool = True,
) -> list[str]:
    try:
        notice = render(template_id, channel, facts, locale)
    except (MissingFacts, jinja2.TemplateError) as exc:
        return [f"{prefix}: does not render ({exc.__class__.__name__})"]
    return _lint_lines(prefix, notice, first_contact=first_contact, time_barred=time_barred, budget=budget)


# Channels each template must exist in, per bundled locale.
TEMPLATE_CHANNELS: dict[str, tuple[Channel, ...]] = {
    tid: (Channel.SMS,) if tid == "help_reply" else (Channel.SMS, Channel.EMAIL) for tid in TEMPLATE_IDS
}


def lint_bundled_templates(policy: Policy | None = None) -> list[str]:
    """Render every bundled template with the sample accounts and lint it; one line per problem."""
    from dunning.domain.policy import default_policy

    policy = policy or default_policy()
    available = available_templates()
    problems: list[str] = []
    for template_id, channels in TEMPLATE_CHANNELS.items():
        for locale in LOCALES:
            for channel in channels:
                if (locale, channel) not in available.get(template_id, set()):
                    problems.append(f"template {template_id} {locale} {channel}: missing")
    for jurisdiction, locales in JURISDICTION_LOCALES.items():
        if jurisdiction not in policy.jurisdictions:
            continue
        disclosure = policy.for_jurisdiction(jurisdiction).first_contact_disclosure
        for locale in locales:
            facts = _sample_facts(jurisdiction, locale, policy)
            for template_id in sorted(available):
                for loc, channel in sorted(available[template_id]):
                    if loc != locale:
                        continue
                    prefix = f"template {template_id} {locale} {channel}"
                    if len(locales) > 1:
                        prefix += f" ({jurisdiction})"
                    first = disclosure and template_id == "first_notice"
                    # The SMS length budget is set for each locale's home jurisdiction.
                    native = locale == locales[0]
                    # Everything but the referral notice must be sendable on time-barred debt too.
                    problems += _check_one(
                        prefix,
                        template_id,
                        channel,
                        facts,
                        locale,
                        first_contact=first,
                        time_barred=template_id != "legal_referral",
                        budget=native,
                    )
    return problems


# ---------------------------------------------------------------------------- policy lint

LAWFUL_WINDOW = (datetime.strptime("07:00", "%H:%M").time(), datetime.strptime("22:00", "%H:%M").time())


def _strategy_jurisdictions(policy: Policy) -> dict[str, set[Jurisdiction]]:
    everywhere = set(policy.jurisdictions)
    used: dict[str, set[Jurisdiction]] = {}
    for seg in policy.segments:
        where = set(seg.match.jurisdictions or everywhere) & everywhere
        for sid in [seg.strategy, *seg.variant_strategies.values()]:
            used.setdefault(sid, set()).update(where)
    if policy.holdout_strategy:
        used.setdefault(policy.holdout_strategy, set()).update(everywhere)
    # A strategy no segment points at could still be wired in later: check it everywhere.
    return {sid: used.get(sid) or everywhere for sid in policy.strategies}


def _sanity_problems(policy: Policy) -> list[str]:
    problems: list[str] = []
    start, end = LAWFUL_WINDOW
    for jurisdiction, jp in policy.jurisdictions.items():
        window = jp.contact_window
        if window.start < start or window.end > end:
            problems.append(
                f"jurisdiction {jurisdiction}: contact window {window.start:%H:%M}-{window.end:%H:%M} "
                f"is outside {start:%H:%M}-{end:%H:%M}"
            )
        if jp.caps.sms_per_day > 3 or jp.caps.email_per_day > 3:
            problems.append(f"jurisdiction {jurisdiction}: more than 3 messages a day per channel")
    if policy.link_valid_days < policy.notice_deadline_days:
        problems.append(
            f"policy: link_valid_days {policy.link_valid_days} < notice_deadline_days "
            f"{policy.notice_deadline_days}: the pay link would expire before the deadline"
        )
    return problems


def policy_problems(policy: Policy) -> list[str]:
    """Compliance lint of a valid policy: one line per problem, naming the strategy/step or rule.

    Every message step's template must exist for each locale its jurisdictions use, render with a
    sample account, and lint clean (including on time-barred debt, since steps reach those too).
    """
    problems = _sanity_problems(policy)
    available = available_templates()
    facts_cache: dict[tuple[Jurisdiction, str], NoticeFacts] = {}
    for sid, jurisdictions in _strategy_jurisdictions(policy).items():
        strategy = policy.strategies[sid]
        first_message = next(
            (s for s in strategy.steps if not s.pre_due and s.kind in (StepKind.SMS, StepKind.EMAIL)), None
        )
        for step in strategy.steps:
            channel = step.kind.channel
            if step.template is None or channel not in _PARTS:
                continue
            for jurisdiction in sorted(jurisdictions):
                jp = policy.for_jurisdiction(jurisdiction)
                for locale in JURISDICTION_LOCALES.get(jurisdiction, LOCALES):
                    where = f"strategy {sid}: step {step.id}: template {step.template} {locale} {channel}"
                    if (locale, channel) not in available.get(step.template, set()):
                        problems.append(f"{where}: no such template")
                        continue
                    key = (jurisdiction, locale)
                    if key not in facts_cache:
                        facts_cache[key] = _sample_facts(jurisdiction, locale, policy)
                    first = jp.first_contact_disclosure and step is first_message
                    problems += _check_one(
                        f"{where} ({jurisdiction})",
                        step.template,
                        channel,
                        facts_cache[key],
                        locale,
                        # steps reach every delinquent account, time-barred ones included
                        first_contact=first,
                        time_barred=True,
                        budget=locale == JURISDICTION_LOCALES[jurisdiction][0],
                    )
    return list(dict.fromkeys(problems))  # one line per problem even when several steps share it


__all__ = [
    "LintFinding",
    "MissingFacts",
    "NoticeFacts",
    "RenderedNotice",
    "ScheduleItem",
    "UnknownTemplate",
    "available_templates",
    "build_facts",
    "lint_bundled_templates",
    "lint_rendered",
    "policy_problems",
    "render",
    "sample_account",
    "sample_extra",
]
