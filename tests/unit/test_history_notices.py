"""Truthful notices: the final and legal-referral notices say what the case's history shows, in
every history class and both locales, and never claim what did not happen."""

from __future__ import annotations

import pytest

from dunning.domain.case_summary import EngagementClass
from dunning.domain.models import Channel, Jurisdiction
from dunning.domain.notices.facts import NoticeFacts
from dunning.domain.notices.lint import lint_rendered
from dunning.domain.notices.render import HISTORY_CLASSES, HISTORY_TEMPLATES, render
from dunning.domain.notices.samples import sample_facts
from dunning.domain.policy import default_policy

LOCALES = {"en-US": Jurisdiction.US, "zh-CN": Jurisdiction.CN}

# What each class may say, and what no other class may (per locale).
SAYS: dict[str, dict[str, str]] = {
    "en-US": {"NEVER_REACHED": "have not heard from you", "ENGAGED": "no arrangement to settle",
              "BROKE_ARRANGEMENTS": "payments agreed with you have not been made",
              "HARDSHIP": "financial difficulty"},
    "zh-CN": {"NEVER_REACHED": "未收到您的回复", "ENGAGED": "没有还款安排",
              "BROKE_ARRANGEMENTS": "约定的还款未能按约完成", "HARDSHIP": "您曾告知我们您遇到经济困难"},
}
ENGAGED_FINAL = {"en-US": "no arrangement to settle the amount due", "zh-CN": "尚未就应还款项达成还款安排"}
# The sentence that was false for customers who had agreed a plan and paid part of it.
UNTRUE = ("we have not been able to agree a way forward", "我们尚未与您商定还款安排")


def facts(locale: str, history: str) -> NoticeFacts:
    base = sample_facts(LOCALES[locale], locale, default_policy())
    return NoticeFacts.model_validate({**base.model_dump(), "history": None if history == "UNKNOWN" else history})


@pytest.mark.parametrize("locale", sorted(LOCALES))
@pytest.mark.parametrize("history", HISTORY_CLASSES)
@pytest.mark.parametrize("template_id", HISTORY_TEMPLATES)
@pytest.mark.parametrize("channel", [Channel.EMAIL, Channel.SMS])
def test_every_history_template_renders_and_lints_clean_in_every_class(template_id: str, history: str,
                                                                       locale: str, channel: Channel) -> None:
    notice = render(template_id, channel, facts(locale, history), locale)
    assert lint_rendered(notice, time_barred=template_id != "legal_referral") == []
    text = " ".join([notice.subject or "", notice.body, notice.html or ""])
    assert not any(untrue in text for untrue in UNTRUE)
    if channel is Channel.EMAIL:
        says = SAYS[locale]
        expected = ENGAGED_FINAL[locale] if (template_id, history) == ("final_notice", "ENGAGED") else says.get(history)
        if expected is not None:
            assert expected in notice.body and expected in notice.html  # type: ignore[operator]
        others = [s for h, s in says.items() if h != history and h != "HARDSHIP" and s != expected]
        assert not any(other in notice.body for other in others), (history, notice.body)


@pytest.mark.parametrize("locale", sorted(LOCALES))
def test_a_customer_who_never_answered_is_told_so_and_one_who_broke_a_plan_is_told_that(locale: str) -> None:
    never = render("final_notice", Channel.EMAIL, facts(locale, "NEVER_REACHED"), locale).body
    broke = render("final_notice", Channel.EMAIL, facts(locale, "BROKE_ARRANGEMENTS"), locale).body
    assert SAYS[locale]["NEVER_REACHED"] in never and SAYS[locale]["NEVER_REACHED"] not in broke
    assert SAYS[locale]["BROKE_ARRANGEMENTS"] in broke


@pytest.mark.parametrize("locale", sorted(LOCALES))
def test_an_unknown_history_claims_nothing(locale: str) -> None:
    for template_id in HISTORY_TEMPLATES:
        body = render(template_id, Channel.EMAIL, facts(locale, "UNKNOWN"), locale).body
        assert not any(sentence in body for sentence in SAYS[locale].values() if "difficulty" not in sentence)


@pytest.mark.parametrize("locale", sorted(LOCALES))
@pytest.mark.parametrize("template_id", ["missed_payment", "renewed_offer"])
@pytest.mark.parametrize("channel", [Channel.EMAIL, Channel.SMS])
def test_the_re_engagement_notices_render_and_lint_clean(template_id: str, locale: str, channel: Channel) -> None:
    notice = render(template_id, channel, facts(locale, "BROKE_ARRANGEMENTS"), locale)
    assert lint_rendered(notice, time_barred=True) == []
    if template_id == "renewed_offer" and channel is Channel.EMAIL:
        assert notice.body.count("\n  ") >= 3  # the new schedule, one instalment a line


def test_every_class_has_a_wording() -> None:
    assert set(HISTORY_CLASSES) == {*(c.value for c in EngagementClass), "UNKNOWN"}
