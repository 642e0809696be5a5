"""The tone linter rejects threats, shaming, insults and false authority in English and Chinese,
however they are disguised, and lets through what a lender must or may say."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dunning.domain.models import Channel, Jurisdiction, ReasonCode
from dunning.domain.notices.lint import lint_rendered, lint_text
from dunning.domain.notices.render import JURISDICTION_LOCALES, available_templates, render
from dunning.domain.notices.samples import sample_facts
from dunning.domain.notices.tone import ToneRule, tone_rules
from dunning.domain.policy import default_policy

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "tone"


def load(name: str) -> list[dict[str, str]]:
    lines = (CORPUS / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


ABUSIVE = load("abusive.jsonl")
POLITE = load("polite.jsonl")


def test_the_corpora_are_large_enough_in_both_languages() -> None:
    assert len(ABUSIVE) >= 100 and len(POLITE) >= 60
    for corpus in (ABUSIVE, POLITE):
        assert {line["lang"] for line in corpus} == {"en", "zh"}
    # every rule is exercised by at least one abusive line in each language but false authority
    for lang in ("en", "zh"):
        rules = {line["rule"] for line in ABUSIVE if line["lang"] == lang}
        assert rules == {r.value for r in ToneRule} - {ToneRule.LEGAL_TIME_BARRED.value}


@pytest.mark.parametrize("line", ABUSIVE, ids=[f"{n}-{line['rule']}" for n, line in enumerate(ABUSIVE, 1)])
def test_every_abusive_line_is_rejected_by_its_rule(line: dict[str, str]) -> None:
    assert line["rule"] in tone_rules(line["text"])


@pytest.mark.parametrize("line", POLITE, ids=[f"{n}-{line['lang']}" for n, line in enumerate(POLITE, 1)])
def test_every_polite_line_passes(line: dict[str, str]) -> None:
    assert tone_rules(line["text"]) == []


MISSED_BEFORE = {  # the lines the phrase list used to let through
    "Pay today or you will be arrested": ToneRule.ARREST,
    "We will report you to your employer": ToneRule.EMPLOYER,
    "联系您的紧急联系人及通讯录好友": ToneRule.THIRD_PARTY,
    "列入失信被执行人名单": ToneRule.BLACKLIST,
    "让你社死": ToneRule.SHAMING,
}


def test_the_lines_the_old_linter_missed_are_caught() -> None:
    assert {text: tone_rules(text) for text in MISSED_BEFORE} == {t: [r] for t, r in MISSED_BEFORE.items()}


def test_a_denial_lets_a_mention_pass_but_a_condition_does_not() -> None:
    assert tone_rules("We will not contact your employer.") == []
    assert tone_rules("If you do not pay, we will contact your employer.") == [ToneRule.EMPLOYER]
    assert tone_rules("We will not hesitate to contact your employer.") == [ToneRule.EMPLOYER]
    assert tone_rules("我们不会上门催收。") == []
    assert tone_rules("再不还款就上门催收。") == [ToneRule.HOME_VISIT]
    assert tone_rules("我们不得不联系您的家人。") == [ToneRule.THIRD_PARTY]


def test_arrest_shaming_and_insults_are_never_acceptable_even_denied() -> None:
    assert tone_rules("You will not be arrested if you pay today.") == [ToneRule.ARREST]
    assert tone_rules("不还款也不会让你社死。") == [ToneRule.SHAMING]


def test_what_the_customer_may_do_is_not_a_threat() -> None:
    assert tone_rules("You may wish to talk to your family before you call us.") == []
    assert tone_rules("Pay now or you will force us to call your boss.") == [ToneRule.EMPLOYER]


def test_legal_words_break_tone_only_on_time_barred_debt() -> None:
    text = "If we cannot agree a plan, the account may be referred to our legal department."
    assert tone_rules(text) == []
    assert tone_rules(text, time_barred=True) == [ToneRule.LEGAL_TIME_BARRED]
    assert tone_rules("您的账户已转交法务部门审核。", time_barred=True) == [ToneRule.LEGAL_TIME_BARRED]


def test_findings_name_the_rule_and_never_carry_the_text() -> None:
    text = "Pay Alex Morgan's $1,247.50 or we tell your wife, you deadbeat."
    findings = lint_text(text)
    assert [(f.code, f.rule) for f in findings] == [
        (ReasonCode.TONE, "third_party"),
        (ReasonCode.TONE, "insult"),
    ]
    assert all(f.detail == f.rule for f in findings)


def test_every_shipped_template_passes_the_tone_rules() -> None:
    policy = default_policy()
    checked = 0
    for jurisdiction, locales in JURISDICTION_LOCALES.items():
        for locale in locales:
            facts = sample_facts(jurisdiction, locale, policy)
            for template_id, found in available_templates().items():
                for loc, channel in found:
                    if loc != locale:
                        continue
                    notice = render(template_id, channel, facts, locale)
                    time_barred = template_id != "legal_referral"
                    tone = [f for f in lint_rendered(notice, time_barred=time_barred) if f.code is ReasonCode.TONE]
                    assert tone == [], (template_id, locale, channel)
                    checked += 1
    assert checked >= 40


def test_a_rendered_notice_passes_the_free_text_notice_check() -> None:
    policy = default_policy()
    for locale, jurisdiction in (("en-US", Jurisdiction.US), ("zh-CN", Jurisdiction.CN)):
        # (a Chinese reminder leaves the hotline to its page: the first notice names everything)
        template = "overdue_reminder" if locale == "en-US" else "first_notice"
        notice = render(template, Channel.SMS, sample_facts(jurisdiction, locale, policy), locale)
        collector = policy.for_jurisdiction(jurisdiction).collector
        assert lint_text(notice.body, notice=True, collector=collector) == []
        without_link = notice.body.replace(notice.facts["pay_link"], "")
        assert [f.rule for f in lint_text(without_link, notice=True, collector=collector)] == ["pay_link"]


# ---------------------------------------------------------------------------- disguises

THREAT_WORDS = {
    "arrested": ToneRule.ARREST,
    "jail": ToneRule.ARREST,
    "prison": ToneRule.ARREST,
    "police": ToneRule.ARREST,
    "blacklisted": ToneRule.BLACKLIST,
    "garnished": ToneRule.LAWSUIT,
    "deadbeat": ToneRule.INSULT,
    "humiliated": ToneRule.SHAMING,
}
ZH_THREATS = {
    "通讯录": ToneRule.THIRD_PARTY,
    "失信被执行人": ToneRule.BLACKLIST,
    "社死": ToneRule.SHAMING,
    "坐牢": ToneRule.ARREST,
    "曝光": ToneRule.SHAMING,
    "上门": ToneRule.HOME_VISIT,
}
SEPARATORS = st.sampled_from([" ", "  ", ".", "-", "_", "*", "·", " . ", "/", "~"])
PUNCTUATION = st.sampled_from(["", "", ".", "-", "_", "*", "'"])
ZERO_WIDTH = st.sampled_from(["", "", "\u200b", "\u200d", "\u00ad", "\ufeff"])


def _sentence(word: str) -> str:
    return f"Pay the balance today or be {word}, this is serious."


@settings(max_examples=60, deadline=None)
@given(word=st.sampled_from(sorted(THREAT_WORDS)), separator=SEPARATORS)
def test_the_same_separator_between_every_letter_does_not_hide_a_threat(word: str, separator: str) -> None:
    assert THREAT_WORDS[word] in tone_rules(_sentence(separator.join(word)))


@settings(max_examples=60, deadline=None)
@given(word=st.sampled_from(sorted(THREAT_WORDS)), data=st.data())
def test_punctuation_or_zero_width_marks_in_any_gaps_do_not_hide_a_threat(word: str, data: st.DataObject) -> None:
    gaps = data.draw(st.lists(st.one_of(PUNCTUATION, ZERO_WIDTH), min_size=len(word) - 1, max_size=len(word) - 1))
    disguised = word[0] + "".join(gap + letter for gap, letter in zip(gaps, word[1:], strict=True))
    assert THREAT_WORDS[word] in tone_rules(_sentence(disguised))


def _full_width(c: str) -> str:
    return chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c


@settings(max_examples=60, deadline=None)
@given(word=st.sampled_from(sorted(THREAT_WORDS)), data=st.data())
def test_case_full_width_and_look_alike_digits_do_not_hide_a_threat(word: str, data: st.DataObject) -> None:
    look_alike = {"o": "0", "e": "3", "a": "@", "s": "$", "i": "1", "l": "1", "t": "7"}
    out = []
    for i, letter in enumerate(word):
        c = letter
        # a look-alike digit inside the word (its first letter stays a letter, as people write them)
        if i > 0 and letter in look_alike and data.draw(st.booleans()):
            c = look_alike[letter]
        if data.draw(st.booleans()):
            c = c.upper()
        if data.draw(st.booleans()):
            c = _full_width(c)
        out.append(c)
    assert THREAT_WORDS[word] in tone_rules(_sentence("".join(out)))


@settings(max_examples=60, deadline=None)
@given(phrase=st.sampled_from(sorted(ZH_THREATS)), separator=st.sampled_from(["", " ", "-", "·", "*", "\u200b", "　"]))
def test_separators_between_chinese_characters_do_not_hide_a_threat(phrase: str, separator: str) -> None:
    text = f"再不还款，我们就{separator.join(phrase)}。"
    assert ZH_THREATS[phrase] in tone_rules(text)


@settings(max_examples=40, deadline=None)
@given(line=st.sampled_from(POLITE), width=st.booleans(), upper=st.booleans())
def test_polite_lines_stay_polite_in_any_case_or_width(line: dict[str, str], width: bool, upper: bool) -> None:
    text = line["text"].upper() if upper else line["text"]
    if width:
        text = "".join(_full_width(c) for c in text)
    assert unicodedata.normalize("NFKC", text).casefold() == unicodedata.normalize("NFKC", line["text"]).casefold()
    assert tone_rules(text) == []
