"""Rendering notices from the bundled templates (DESIGN section 5).

Templates live in the layer at ``dunning/templates/<locale>/<template_id>.<part>.j2`` with the
parts ``sms``, ``email_subject``, ``email_text`` and ``email_html`` (only the HTML part is
autoescaped). Every value a customer must see is formatted here, once, in the customer's locale
and first time zone, so the linter can check that the exact same strings reached the text.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
import jinja2.meta
from babel.dates import format_date, format_interval, format_skeleton
from babel.numbers import format_currency
from pydantic import BaseModel, Field

from dunning.domain.case_summary import EngagementClass
from dunning.domain.models import Channel, Jurisdiction, Money
from dunning.domain.notices.facts import NoticeFacts, ScheduleItem
from dunning.domain.sms import gsm7_safe, sms_size


@dataclass(frozen=True)
class LocaleTexts:
    """What a notice says in one locale outside its templates (docs/extending.md, "A new locale")."""

    opt_out_sms: str  # how to opt out, in every SMS
    opt_out_email: str
    # A collection agency's sentence of 15 U.S.C. 1692e(11), in its validation notice (Regulation F
    # 1006.34) and emails; rendered only when the policy says AGENCY: a lender is no debt collector.
    disclosure: str
    day_past_due: str  # "{days}" is replaced; the first for one day, the second for more
    days_past_due: str
    gsm7: bool  # SMS written in GSM-7 letters: Babel's curly quotes and narrow spaces are folded
    sms_segment_budget: int  # most SMS segments a notice may take (a LENGTH problem in the lint)
    sms_reminder_budget: int | None = None  # most segments of a reminder (SMS_REMINDERS); None: as above
    # Facts a text carrying the pay link may leave to the page it opens (every page shows them).
    sms_page_facts: tuple[str, ...] = ()


# Every locale a notice can be written in; each has a folder of templates and Babel data in the
# layer, and accounts may carry it (dunning.domain.models.LOCALES).
LOCALE_TEXTS: dict[str, LocaleTexts] = {
    "en-US": LocaleTexts(
        opt_out_sms="Reply STOP to opt out.",
        opt_out_email="If you no longer want these emails, you can unsubscribe at any time.",
        disclosure="This is a communication from a debt collector.",
        day_past_due="{days} day past due",
        days_past_due="{days} days past due",
        gsm7=True,
        sms_segment_budget=2,
    ),
    "zh-CN": LocaleTexts(
        opt_out_sms="拒收请回复R",  # the domestic convention (R, T, TD, 退订 and 拒收 all stop texts)
        opt_out_email="如不希望再收到此类邮件，可随时退订。",
        disclosure="本函来自债务催收方。",
        day_past_due="已逾期{days}天",
        days_past_due="已逾期{days}天",
        gsm7=False,
        # With a short link (docs/china.md) a reminder fits one UCS-2 segment (70 units), every
        # other text two; a reminder leaves the day count and the hotline to the page it opens.
        sms_segment_budget=2,
        sms_reminder_budget=1,
        sms_page_facts=("days_overdue", "contact_phone"),
    ),
}

# Locales whose notices the policy lint renders for each jurisdiction; the first is the
# jurisdiction's own (its SMS budget applies). US customers may read Chinese; Chinese-jurisdiction
# notices go out in Chinese (the collector's registered name is Chinese).
JURISDICTION_LOCALES: dict[Jurisdiction, tuple[str, ...]] = {
    Jurisdiction.US: ("en-US", "zh-CN"),
    Jurisdiction.CN: ("zh-CN",),
}

# The texts a customer gets most often, held to the locale's reminder budget.
SMS_REMINDERS = frozenset({"pre_due_reminder", "overdue_reminder", "instalment_reminder"})

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
    "dispute_acknowledgement",
    "help_reply",
    "legal_referral",
    "missed_payment",
    "renewed_offer",
    # written confirmations of what the customer did on their page (and a fresh link to it)
    "callback_confirmation",
    "preferences_confirmation",
    "page_link",
    "which_loan",
)

# Notices whose wording follows the case's history (facts.history): each must be rendered and
# linted in every history class (notices.lint does).
HISTORY_TEMPLATES: tuple[str, ...] = ("final_notice", "legal_referral")
HISTORY_CLASSES: tuple[str, ...] = (*(c.value for c in EngagementClass), "UNKNOWN")

# Facts (keys of RenderedNotice.facts) each kind of notice must show the customer.
_ALL_FACTS = ("amount", "days_overdue", "deadline", "pay_link", "contact_phone", "collector", "opt_out")
REQUIRED_FACTS: dict[str, tuple[str, ...]] = {
    "pre_due_reminder": ("amount", "due_date", "pay_link", "contact_phone", "collector", "opt_out"),
    "first_notice": _ALL_FACTS,
    "overdue_reminder": _ALL_FACTS,
    "final_notice": _ALL_FACTS,
    "legal_referral": _ALL_FACTS,
    "missed_payment": _ALL_FACTS,
    "plan_offer": _ALL_FACTS,
    "renewed_offer": _ALL_FACTS,
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
    # No pay link: collection pauses while a dispute is reviewed.
    "dispute_acknowledgement": ("contact_phone", "collector", "opt_out"),
    # Confirms the opt-out itself: repeating "reply STOP" would be absurd.
    "opt_out_confirmation": ("contact_phone", "collector"),
    "help_reply": ("contact_phone", "collector", "opt_out"),
    "callback_confirmation": ("callback_time", "contact_phone", "collector", "opt_out"),
    "preferences_confirmation": ("pay_link", "contact_phone", "collector", "opt_out"),
    "page_link": ("pay_link", "contact_phone", "collector", "opt_out"),
    # Asks which of their loans a promise is for: lists them by their last four digits.
    "which_loan": ("loans", "contact_phone", "collector", "opt_out"),
}

# Extra facts a template cannot render without (passed to build_facts through ``extra``).
_NEEDS: dict[str, tuple[str, ...]] = {
    "plan_offer": ("schedule",),
    "renewed_offer": ("schedule",),
    "plan_confirmation": ("schedule",),
    "instalment_reminder": ("schedule",),
    "promise_confirmation": ("promise_date", "promise_amount"),
    "callback_confirmation": ("callback_time",),
    "which_loan": ("loans",),
}


# The validation notice's items (Regulation F 1006.34(c)): each must appear in an agency's first notice.
VALIDATION_ITEMS: tuple[str, ...] = (
    "disclosure", "creditor", "itemization_date", "owed_at_itemization", "interest_since_itemization",
    "fees_since_itemization", "paid_since_itemization", "amount", "dispute_by",
)


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
    unsubscribe_link: str | None = None  # email only: what List-Unsubscribe (RFC 8058) points at
    facts: dict[str, str]  # formatted values that must appear (see REQUIRED_FACTS)
    # SMS only: every variable the template uses, as formatted into the text (a provider that
    # sends approved templates only is given these, by name, instead of the text)
    variables: dict[str, str] = Field(default_factory=dict)
    validation: dict[str, str] = Field(default_factory=dict)  # US validation items, when carried


CHANNEL_PARTS: dict[Channel, tuple[str, ...]] = {
    Channel.SMS: ("sms",),
    Channel.EMAIL: ("email_subject", "email_text", "email_html"),
}
_NAME = re.compile(r"^(?P<tid>[a-z0-9_]+)\.(?P<part>sms|email_subject|email_text|email_html)\.j2$")


def template_variables(env: jinja2.Environment, name: str) -> list[str]:
    """The variables a template reads, sorted (what a provider's registered copy names)."""
    return _variables(env, name)


@lru_cache(maxsize=256)
def _variables(env: jinja2.Environment, name: str) -> list[str]:
    assert env.loader is not None
    source = env.loader.get_source(env, name)[0]
    return sorted(jinja2.meta.find_undeclared_variables(env.parse(source)))


# What a registered template holds as fixed text rather than as a variable: the signature (the
# provider prints it from SignName) and the opt-out line.
PROVIDER_FIXED = ("collector", "opt_out")


def registered_variables(template_id: str, locale: str, templates_dir: Path | None = None) -> list[str]:
    """The named variables of our SMS template as registered with an approved-template provider."""
    env = _environment(str(templates_dir or templates_root()))
    return [v for v in template_variables(env, f"{locale}/{template_id}.sms.j2") if v not in PROVIDER_FIXED]


def provider_params(notice: RenderedNotice) -> dict[str, str]:
    """A rendered SMS's values for its registered template's variables."""
    return {k: v for k, v in notice.variables.items() if k not in PROVIDER_FIXED}


def render_registered(template_id: str, locale: str, sign_name: str, params: dict[str, str]) -> str:
    """The text an approved-template provider sends for our registered template: its signature,
    then the template with the given variables and its fixed opt-out line."""
    env = _environment(str(templates_root()))
    ctx: dict[str, Any] = {**params, "collector": sign_name, "opt_out": LOCALE_TEXTS[locale].opt_out_sms}
    return one_line(env.get_template(f"{locale}/{template_id}.sms.j2").render(ctx))


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


def _days_phrase(days: int, texts: LocaleTexts) -> str:
    return (texts.day_past_due if days == 1 else texts.days_past_due).format(days=days)


def _next_instalment(facts: NoticeFacts) -> ScheduleItem | None:
    upcoming = [item for item in facts.schedule if item.due_on >= facts.today]
    return upcoming[0] if upcoming else (facts.schedule[-1] if facts.schedule else None)


def _context(facts: NoticeFacts, locale: str, channel: Channel) -> dict[str, Any]:
    """Formatted strings for the templates; absent optional facts are left out (StrictUndefined)."""
    loc, texts = _babel_locale(locale), LOCALE_TEXTS[locale]

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
        "days_overdue": _days_phrase(facts.days_overdue, texts),
        "deadline": day(facts.deadline),
        "pay_link": facts.sms_pay_link if channel is Channel.SMS and facts.sms_pay_link else facts.pay_link,
        "unsubscribe_link": facts.unsubscribe_link,
        "collector": facts.collector.name,
        "creditor": facts.creditor,
        "contact_phone": facts.collector.phone,
        "contact_hours": facts.collector.hours,
        "contact_email": facts.collector.email,
        "opt_out": texts.opt_out_sms if channel is Channel.SMS else texts.opt_out_email,
        "validation": facts.validation_notice,
        "agency": facts.collector_role == "AGENCY",
        "disclosure": texts.disclosure,
        "history": facts.history.value if facts.history is not None else "UNKNOWN",
    }
    ctx |= _validation_context(facts, money, day)
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
        ctx["first_instalment_amount"], ctx["first_instalment_due"] = (ctx["schedule"][0]["amount"],
                                                                       ctx["schedule"][0]["due"])
        nxt = _next_instalment(facts)
        if nxt is not None:
            ctx["instalment_amount"], ctx["instalment_due"] = money(nxt.amount), day(nxt.due_on)
    return (ctx | _arrangement_context(facts, loc, money, day) | _loans_context(facts)
            | _other_loans_context(facts, money, texts))


def _arrangement_context(facts: NoticeFacts, loc: str, money: Callable[[Money], str],
                         day: Callable[[date], str]) -> dict[str, str]:
    """What the customer agreed to (a promise, a payment, a call-back), where the notice carries it."""
    ctx: dict[str, str] = {}
    if facts.promise_date is not None:
        ctx["promise_date"] = day(facts.promise_date)
    if facts.promise_amount is not None:
        ctx["promise_amount"] = money(facts.promise_amount)
    if facts.payment_amount is not None:
        ctx["payment_amount"] = money(facts.payment_amount)
    if facts.callback_at is not None:
        ctx["callback_time"] = _slot_phrase(facts.callback_at, facts.callback_until, facts.time_zone, loc)
    return ctx


def _validation_context(facts: NoticeFacts, money: Any, day: Any) -> dict[str, str]:
    """An agency's itemisation (validation notice), when the facts carry one."""
    ctx: dict[str, str] = {}
    if facts.itemization_date is not None:
        ctx["itemization_date"] = day(facts.itemization_date)
    for key in ("owed_at_itemization", "interest_since_itemization", "fees_since_itemization",
                "paid_since_itemization"):
        value = getattr(facts, key)
        if value is not None:
            ctx[key] = money(value)
    return ctx


def _other_loans_context(facts: NoticeFacts, money: Any, texts: LocaleTexts) -> dict[str, Any]:
    """The person's other overdue loans, which an overdue notice names too."""
    if not facts.other_loans:
        return {}
    return {"other_loans": [
        {"last4": loan.last4, "amount": money(loan.amount),
         "days_overdue": _days_phrase(max(0, (facts.today - loan.due_date).days), texts)
         if loan.due_date is not None else ""}
        for loan in facts.other_loans]}


def _loans_context(facts: NoticeFacts) -> dict[str, str]:
    if not facts.loans:
        return {}
    return {"loans": ", ".join(facts.loans), "first_loan": facts.loans[0]}


def _slot_phrase(start: datetime, end: datetime | None, zone: str, loc: str) -> str:
    """A call-back slot in the customer's zone and words: "Thu, Nov 12, 2:00 – 4:00 PM"."""
    tz = ZoneInfo(zone)
    local_start = start.astimezone(tz)
    day = format_skeleton("MMMEd", local_start, locale=loc)
    skeleton = "Hm" if loc.startswith("zh") else "hm"
    if end is None:
        return f"{day} {format_skeleton(skeleton, local_start, locale=loc)}"
    return f"{day} {format_interval(local_start, end.astimezone(tz), skeleton, locale=loc)}"


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


def one_line(text: str) -> str:
    return " ".join(text.split())


def _tidy_text(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines))


def render(
    template_id: str, channel: Channel, facts: NoticeFacts, locale: str, *, templates_dir: Path | None = None
) -> RenderedNotice:
    """Render one notice. Raises UnknownTemplate, or MissingFacts when a plan/promise is needed."""
    root = templates_dir or templates_root()
    env = _environment(str(root))
    parts = CHANNEL_PARTS.get(channel)
    found = _available(str(root)).get(template_id, set())
    if parts is None or locale not in LOCALE_TEXTS or (locale, channel) not in found:
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
    if channel is Channel.SMS and template_id in SMS_REMINDERS:
        required = tuple(key for key in required if key not in LOCALE_TEXTS[locale].sms_page_facts)
    fact_values = {key: str(ctx[key]) for key in required if key in ctx}
    validation: dict[str, str] = {}
    if channel is Channel.EMAIL and template_id == "first_notice" and facts.validation_notice:
        validation = {key: str(ctx[key]) for key in VALIDATION_ITEMS}
    version = _template_version(env, names.values())
    if channel is Channel.SMS:
        body = one_line(out["sms"])
        if LOCALE_TEXTS[locale].gsm7:
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
            variables={name: str(ctx[name]) for name in template_variables(env, names["sms"])
                       if isinstance(ctx.get(name), str | int)},
        )
    return RenderedNotice(
        template_id=template_id,
        template_version=version,
        locale=locale,
        channel=channel,
        subject=one_line(out["email_subject"]),
        body=_tidy_text(out["email_text"]),
        html=out["email_html"].strip(),
        facts=fact_values,
        validation=validation,
        unsubscribe_link=facts.unsubscribe_link,
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
        for channel, needed in CHANNEL_PARTS.items():
            if set(needed) <= have:
                found.setdefault(tid, set()).add((locale, channel))
    return found


def available_templates(templates_dir: Path | None = None) -> dict[str, set[tuple[str, Channel]]]:
    """Template id -> {(locale, channel)} that can be rendered (all parts present), of the bundled
    templates or of ``templates_dir``."""
    return {tid: set(found) for tid, found in _available(str(templates_dir or templates_root())).items()}

