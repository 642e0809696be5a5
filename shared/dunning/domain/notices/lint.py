"""The notice linter: CONTENT (every fact the customer must see is there) and TONE (no threat,
shaming or false authority), on a rendered notice and on every bundled template (DESIGN section 6).

A collection notice says, short and clear: how overdue, how much, by when, how to pay, whom to
call, who is writing, and how to opt out. The linter refuses a notice that leaves one out
(CONTENT) or that threatens, shames or claims false authority (TONE, rules in ``tone``). Each
finding names its rule (a fact's name, or a tone rule's), which is what the ledger keeps: never
the text.
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Mapping
from pathlib import Path

import jinja2
from pydantic import BaseModel

from dunning.domain.models import Channel, Jurisdiction, ReasonCode
from dunning.domain.notices.facts import NoticeFacts
from dunning.domain.notices.render import (
    HISTORY_CLASSES,
    HISTORY_TEMPLATES,
    JURISDICTION_LOCALES,
    LOCALE_TEXTS,
    SMS_REMINDERS,
    TEMPLATE_IDS,
    MissingFacts,
    RenderedNotice,
    available_templates,
    one_line,
    render,
)
from dunning.domain.notices.samples import sample_facts
from dunning.domain.notices.tone import tone_rules
from dunning.domain.policy import Collector, Policy, default_policy


class LintFinding(BaseModel):
    code: ReasonCode  # CONTENT or TONE
    rule: str  # the fact that is missing (CONTENT) or the tone rule broken (TONE): safe to log and store
    detail: str  # for people: names the missing fact or the tone rule; never customer data or the text


def _html_text(markup: str) -> str:
    """Visible text plus attribute values (a link in an href counts as shown)."""
    hrefs = " ".join(re.findall(r'href="([^"]*)"', markup))
    text = re.sub(r"<(style|script)\b.*?</\1>", " ", markup, flags=re.S | re.I)
    text = re.sub(r"<[^>]+>", " ", text)
    return one_line(html_lib.unescape(f"{text} {hrefs}"))


def tone_findings(text: str, *, time_barred: bool = False) -> list[LintFinding]:
    """One TONE finding per rule the text breaks (see ``tone``); empty means the tone is fine."""
    return [
        LintFinding(code=ReasonCode.TONE, rule=rule.value, detail=rule.value)
        for rule in tone_rules(text, time_barred=time_barred)
    ]


# How a collection agency names itself; a lender collecting its own loans must never say so.
_AGENCY_WORDS = re.compile(r"debt collector|collection agency|催收机构|催收方|催收公司", re.I)


def lint_rendered(
    notice: RenderedNotice, *, first_contact: bool = False, time_barred: bool = False, first_party: bool = False
) -> list[LintFinding]:
    """CONTENT and TONE findings for a rendered notice; empty means it may be sent.

    ``first_contact`` means the jurisdiction wants the validation-notice items with this first
    contact (an agency). They are checked in email only: an SMS cannot carry them, and Regulation F
    lets the validation notice follow within five days of the initial communication.
    ``first_party``: the lender writes about its own loan, so the notice must not call it a debt
    collector or an agency (that would misstate who the customer deals with).
    """
    texts = {"text": one_line(notice.body)}
    if notice.html is not None:
        texts["html"] = _html_text(notice.html)
    findings: list[LintFinding] = []

    def require(items: Mapping[str, str], what: str, prefix: str) -> None:
        for key, value in items.items():
            for part, text in texts.items():
                if one_line(value) not in text:
                    where = "" if part == "text" else " in html"
                    detail = f"missing {what}{key}{where}"
                    findings.append(LintFinding(code=ReasonCode.CONTENT, rule=f"{prefix}{key}", detail=detail))

    require(notice.facts, "", "")
    if first_contact and notice.channel is Channel.EMAIL:
        if not notice.validation:
            findings.append(
                LintFinding(code=ReasonCode.CONTENT, rule="validation_notice", detail="missing validation notice")
            )
        require(notice.validation, "validation item ", "validation.")
    whole = " ".join([notice.subject or "", *texts.values()])
    if first_party and _AGENCY_WORDS.search(whole):
        findings.append(LintFinding(code=ReasonCode.CONTENT, rule="first_party_identity",
                                    detail="a first-party notice calls the lender a debt collector"))
    findings += tone_findings(whole, time_barred=time_barred)
    return findings


# What a free text must show to stand as a notice, when the facts behind it are not known: an
# amount, how late, a date to pay by, a link, the collector's phone and name, and how to opt out.
_TEXT_FACTS: dict[str, re.Pattern[str]] = {
    "amount": re.compile(
        r"(?:US\$|CN¥|[$€£¥￥])\s?\d[\d,]*(?:\.\d{1,2})?|\d[\d,]*(?:\.\d{1,2})?\s?(?:USD|CNY|dollars|元)", re.I
    ),
    "days_overdue": re.compile(r"\d+\s*days?\s+(?:past\s+due|overdue|late)|逾期\s*\d+\s*天", re.I),
    "deadline": re.compile(
        r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+\d{1,2}\b|\b\d{1,2}/\d{1,2}\b"
        r"|\b\d{4}-\d{2}-\d{2}\b|\d{1,2}\s*月\s*\d{1,2}\s*日",
        re.I,
    ),
    "pay_link": re.compile(r"https?://\S+|\b[a-z0-9.\-]+\.[a-z]{2,}/p/[A-Za-z0-9]{8,}\b"),  # or a short link
    "contact_phone": re.compile(r"\+?\d[\d\s().-]{6,}\d"),
    "opt_out": re.compile(r"\bstop\b|unsubscribe|退订|拒收", re.I),
}


def lint_text(
    text: str, *, notice: bool = False, collector: Collector | None = None, time_barred: bool = False
) -> list[LintFinding]:
    """TONE findings for any text a customer may read (an agent's message, a reply, a draft);
    with ``notice``, also CONTENT: the text must show what a notice shows (see _TEXT_FACTS), and,
    when the ``collector`` is known, its exact name and phone number."""
    findings: list[LintFinding] = []
    flat = one_line(text)
    shown = {key: bool(pattern.search(flat)) for key, pattern in _TEXT_FACTS.items()}
    if collector is not None:
        shown["contact_phone"] = collector.phone in flat
        shown["collector"] = collector.name.casefold() in flat.casefold()
    for key in ("amount", "days_overdue", "deadline", "pay_link", "contact_phone", "collector", "opt_out"):
        if notice and not shown.get(key, True):
            findings.append(LintFinding(code=ReasonCode.CONTENT, rule=key, detail=f"missing {key}"))
    return findings + tone_findings(text, time_barred=time_barred)


def _lint_lines(
    prefix: str, notice: RenderedNotice, *, first_contact: bool, time_barred: bool, budget: bool,
    first_party: bool = False,
) -> list[str]:
    lines = [
        f"{prefix}: {f.code} {f.detail}"
        for f in lint_rendered(notice, first_contact=first_contact, time_barred=time_barred,
                               first_party=first_party)
    ]
    texts = LOCALE_TEXTS[notice.locale]
    reminder = notice.template_id in SMS_REMINDERS and texts.sms_reminder_budget is not None
    limit = (texts.sms_reminder_budget if reminder else texts.sms_segment_budget) if budget else None
    if notice.segments is not None and limit is not None and notice.segments > limit:
        lines.append(f"{prefix}: LENGTH {notice.segments} SMS segments, budget {limit}")
    return lines


def check_template(
    prefix: str,
    template_id: str,
    channel: Channel,
    facts: NoticeFacts,
    locale: str,
    *,
    first_contact: bool,
    time_barred: bool,
    budget: bool = True,
    templates_dir: Path | None = None,
) -> list[str]:
    """Render one template with ``facts`` and lint it: one line per problem, each led by ``prefix``.

    ``budget`` also holds an SMS to its locale's segment budget (set for the locale's home
    jurisdiction only). ``templates_dir`` renders from another templates folder than the bundled one.
    """
    try:
        notice = render(template_id, channel, facts, locale, templates_dir=templates_dir)
    except (MissingFacts, jinja2.TemplateError) as exc:
        return [f"{prefix}: does not render ({exc.__class__.__name__})"]
    return _lint_lines(prefix, notice, first_contact=first_contact, time_barred=time_barred, budget=budget,
                       first_party=facts.collector_role == "FIRST_PARTY")


# Channels each template must exist in, per bundled locale.
SMS_ONLY_TEMPLATES = frozenset({"help_reply", "which_loan"})  # answers to a text, by text
TEMPLATE_CHANNELS: dict[str, tuple[Channel, ...]] = {
    tid: (Channel.SMS,) if tid in SMS_ONLY_TEMPLATES else (Channel.SMS, Channel.EMAIL) for tid in TEMPLATE_IDS
}


def lint_bundled_templates(policy: Policy | None = None, *, templates_dir: Path | None = None) -> list[str]:
    """Render every bundled template (or every one in ``templates_dir``) with the sample accounts
    and lint it; one line per problem."""
    policy = policy or default_policy()
    available = available_templates(templates_dir)
    problems: list[str] = []
    for template_id, channels in TEMPLATE_CHANNELS.items():
        for locale in LOCALE_TEXTS:
            for channel in channels:
                if (locale, channel) not in available.get(template_id, set()):
                    problems.append(f"template {template_id} {locale} {channel}: missing")
    for jurisdiction, locales in JURISDICTION_LOCALES.items():
        if jurisdiction not in policy.jurisdictions:
            continue
        for locale in locales:
            problems += _lint_locale(policy, jurisdiction, locale, locales, available, templates_dir)
    return problems + _agency_problems(policy, templates_dir)


def _lint_locale(policy: Policy, jurisdiction: Jurisdiction, locale: str, locales: tuple[str, ...],
                 available: dict[str, set[tuple[str, Channel]]], templates_dir: Path | None) -> list[str]:
    problems: list[str] = []
    disclosure = policy.for_jurisdiction(jurisdiction).validation_notice
    facts = sample_facts(jurisdiction, locale, policy)
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
            for label, variant in history_variants(template_id, facts):
                # Everything but the referral notice must be sendable on time-barred debt too.
                problems += check_template(prefix + label, template_id, channel, variant, locale,
                                           first_contact=first, time_barred=template_id != "legal_referral",
                                           budget=native, templates_dir=templates_dir)
    return problems


def history_variants(template_id: str, facts: NoticeFacts) -> list[tuple[str, NoticeFacts]]:
    """The facts in every history class a template words differently (one, unchanged, otherwise)."""
    if template_id not in HISTORY_TEMPLATES:
        return [("", facts)]
    return [(f" [{name}]", NoticeFacts.model_validate({**facts.model_dump(), "history": None if name == "UNKNOWN"
                                                       else name})) for name in HISTORY_CLASSES]


def _agency_problems(policy: Policy, templates_dir: Path | None) -> list[str]:
    """The agency wording ships too: whoever switches a jurisdiction to AGENCY gets a notice that
    already passed its lint, validation items and itemisation date included."""
    problems: list[str] = []
    for jurisdiction, locales in JURISDICTION_LOCALES.items():
        if jurisdiction in policy.jurisdictions and not policy.for_jurisdiction(jurisdiction).validation_notice:
            problems += _lint_as_agency(policy, jurisdiction, locales, templates_dir)
    return problems


def as_agency(policy: Policy, jurisdiction: Jurisdiction, agency_name: str = "Harbor Recovery Services") -> Policy:
    """The policy with ``jurisdiction`` collected by an agency for the lender (for lint and tests):
    the agency writes under its own name, for the lender as creditor."""
    jp = policy.for_jurisdiction(jurisdiction)
    lender = jp.collector.creditor or jp.collector.name
    agency = jp.model_copy(update={
        "collector_role": "AGENCY", "first_contact_disclosure": False,
        "collector": jp.collector.model_copy(update={"name": agency_name, "creditor": lender}),
    })
    return policy.model_copy(update={"jurisdictions": {**policy.jurisdictions, jurisdiction: agency}})


def _lint_as_agency(policy: Policy, jurisdiction: Jurisdiction, locales: tuple[str, ...],
                    templates_dir: Path | None) -> list[str]:
    agency = as_agency(policy, jurisdiction)
    problems: list[str] = []
    for locale in locales:
        facts = sample_facts(jurisdiction, locale, agency)
        problems += check_template(f"template first_notice {locale} EMAIL ({jurisdiction}, as an agency)",
                                   "first_notice", Channel.EMAIL, facts, locale, first_contact=True,
                                   time_barred=True, templates_dir=templates_dir)
    return problems
