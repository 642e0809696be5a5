"""The notice linter: CONTENT (every fact the customer must see is there) and TONE (no threat,
shaming or false authority), on a rendered notice and on every bundled template (DESIGN section 6).

A collection notice says, short and clear: how overdue, how much, by when, how to pay, whom to
call, who is writing, and how to opt out. The linter refuses a notice that leaves one out
(CONTENT) or that threatens, shames or claims false authority (TONE).
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Iterable, Mapping

import jinja2
from pydantic import BaseModel

from dunning.domain.models import Channel, ReasonCode
from dunning.domain.notices.facts import NoticeFacts
from dunning.domain.notices.render import (
    JURISDICTION_LOCALES,
    LOCALES,
    TEMPLATE_IDS,
    MissingFacts,
    RenderedNotice,
    available_templates,
    one_line,
    render,
)
from dunning.domain.notices.samples import sample_facts
from dunning.domain.policy import Policy, default_policy

# Most SMS segments a notice may take in each locale (a LENGTH problem in the template lint).
SMS_SEGMENT_BUDGET: dict[str, int] = {"en-US": 2, "zh-CN": 3}

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


class LintFinding(BaseModel):
    code: ReasonCode  # CONTENT or TONE
    detail: str  # names the missing fact or the offending phrase; never customer data


def _html_text(markup: str) -> str:
    """Visible text plus attribute values (a link in an href counts as shown)."""
    hrefs = " ".join(re.findall(r'href="([^"]*)"', markup))
    text = re.sub(r"<(style|script)\b.*?</\1>", " ", markup, flags=re.S | re.I)
    text = re.sub(r"<[^>]+>", " ", text)
    return one_line(html_lib.unescape(f"{text} {hrefs}"))


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
    texts = {"text": one_line(notice.body)}
    if notice.html is not None:
        texts["html"] = _html_text(notice.html)
    findings: list[LintFinding] = []

    def require(items: Mapping[str, str], what: str) -> None:
        for key, value in items.items():
            for part, text in texts.items():
                if one_line(value) not in text:
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
) -> list[str]:
    """Render one template with ``facts`` and lint it: one line per problem, each led by ``prefix``.

    ``budget`` also holds an SMS to its locale's segment budget (set for the locale's home
    jurisdiction only).
    """
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
                    # Everything but the referral notice must be sendable on time-barred debt too.
                    problems += check_template(
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


