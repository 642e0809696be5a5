"""Notices say how overdue, how much, by when, how to pay, whom to call, who is writing and how to
opt out, in the customer's language; the linter refuses any that leave one out or threaten."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from dunning.domain.links import verify_link
from dunning.domain.models import Channel, Jurisdiction, Money, Payment, ReasonCode
from dunning.domain.notices.facts import NoticeFacts, build_facts
from dunning.domain.notices.lint import as_agency, lint_bundled_templates, lint_rendered
from dunning.domain.notices.render import (
    TEMPLATE_IDS,
    MissingFacts,
    RenderedNotice,
    UnknownTemplate,
    available_templates,
    render,
    templates_root,
)
from dunning.domain.notices.samples import SAMPLE_LINK_SECRET, sample_account, sample_extra
from dunning.domain.policy import Policy, default_policy
from dunning.domain.policy_lint import policy_problems

NOW = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)
SECRET = SAMPLE_LINK_SECRET


def facts_for(jurisdiction: Jurisdiction, locale: str, now: datetime = NOW, **changes: object) -> NoticeFacts:
    account = sample_account(jurisdiction, locale, now)
    if changes:
        account = account.model_copy(update=changes)
    return build_facts(account, default_policy(), now, link_secret=SECRET, extra=sample_extra(account, now))


@pytest.fixture(scope="module")
def us() -> NoticeFacts:
    return facts_for(Jurisdiction.US, "en-US")


@pytest.fixture(scope="module")
def cn() -> NoticeFacts:
    return facts_for(Jurisdiction.CN, "zh-CN")


def codes(findings: list) -> set[ReasonCode]:
    return {f.code for f in findings}


# ---------------------------------------------------------------------------- bundled set


def test_every_bundled_template_renders_and_lints_clean() -> None:
    assert lint_bundled_templates() == []


def test_every_template_exists_in_both_locales() -> None:
    found = available_templates()
    for template_id in TEMPLATE_IDS:
        for locale in ("en-US", "zh-CN"):
            assert (locale, Channel.SMS) in found[template_id]
            if template_id not in ("help_reply", "which_loan"):  # answers to a text, by text
                assert (locale, Channel.EMAIL) in found[template_id]


def test_the_default_policy_passes_the_compliance_lint() -> None:
    assert policy_problems(default_policy()) == []


# ---------------------------------------------------------------------------- what the customer reads


def test_us_sms_reminder_is_short_plain_and_complete(us: NoticeFacts) -> None:
    notice = render("overdue_reminder", Channel.SMS, us, "en-US")
    assert notice.encoding == "GSM-7" and notice.segments is not None and notice.segments <= 2
    for text in (
        "$1,247.50",
        "12 days past due",
        "Nov 17",
        "Reply STOP to opt out.",
        "Harbor Consumer Finance",
        "+1 800-555-0134",
        "ending 1234",
        us.pay_link,
    ):
        assert text in notice.body
    # an SMS may be read by anyone holding the phone: no full account number, no name
    assert "4000123412341234" not in notice.body and "Alex" not in notice.body
    assert notice.facts["opt_out"] == "Reply STOP to opt out."
    assert lint_rendered(notice) == []


def test_chinese_sms_uses_chinese_formats_and_a_reminder_fits_one_segment_with_its_short_link(
        cn: NoticeFacts) -> None:
    short = cn.model_copy(update={"sms_pay_link": "hfjr.cn/p/Ab3dE6gH9k"})
    notice = render("overdue_reminder", Channel.SMS, short, "zh-CN")
    assert notice.encoding == "UCS-2" and notice.segments == 1
    for text in ("【海港消费金融】", "尾号5678", "已逾期", "11月17日", "¥9,000.00", "hfjr.cn/p/Ab3dE6gH9k",
                 "拒收请回复R"):
        assert text in notice.body
    assert "https://" not in notice.body and lint_rendered(notice) == []
    # the day count and the hotline are on the page the link opens; the first notice names both
    first = render("first_notice", Channel.SMS, short, "zh-CN")
    assert first.segments == 2 and "已逾期12天" in first.body and "400-555-0134" in first.body


@pytest.mark.parametrize("template_id", ["pre_due_reminder", "overdue_reminder", "instalment_reminder"])
def test_chinese_reminders_stay_in_one_segment_for_large_amounts_and_long_dates(cn: NoticeFacts,
                                                                               template_id: str) -> None:
    big = Money.of("123456.78", "CNY")
    worst = cn.model_copy(update={
        "sms_pay_link": "hfjr.cn/p/Ab3dE6gH9k", "amount_due": big, "deadline": date(2026, 12, 29),
        "due_date": date(2026, 12, 28), "account_last4": "9999",
        "schedule": [item.model_copy(update={"amount": big, "due_on": date(2026, 12, 28)}) for item in cn.schedule]})
    assert render(template_id, Channel.SMS, worst, "zh-CN").segments == 1


def test_email_carries_masked_account_subject_html_and_unsubscribe(us: NoticeFacts) -> None:
    notice = render("overdue_reminder", Channel.EMAIL, us, "en-US")
    assert notice.subject and "••••1234" in notice.subject
    assert notice.html is not None and notice.segments is None
    for part in (notice.body, notice.html):
        assert "Nov 17, 2026" in part and "$1,247.50" in part and "Mon-Fri 8am-8pm ET" in part
        assert "unsubscribe" in part.lower()
    assert "4000123412341234" not in notice.body + notice.html
    assert lint_rendered(notice) == []


def test_html_escapes_customer_data_but_the_text_part_does_not(us: NoticeFacts) -> None:
    facts = us.model_copy(update={"customer_name": "<b>Bobby & Co</b>"})
    notice = render("overdue_reminder", Channel.EMAIL, facts, "en-US")
    assert notice.html is not None
    assert "&lt;b&gt;Bobby &amp; Co&lt;/b&gt;" in notice.html and "<b>Bobby" not in notice.html
    assert "<b>Bobby & Co</b>" in notice.body


def agency_facts(jurisdiction: Jurisdiction, locale: str, now: datetime = NOW, **changes: object) -> NoticeFacts:
    """Facts under the bundled policy with `jurisdiction` collected by an agency for the lender."""
    account = sample_account(jurisdiction, locale, now)
    if changes:
        account = account.model_copy(update=changes)
    policy = as_agency(default_policy(), jurisdiction)
    return build_facts(account, policy, now, link_secret=SECRET, extra=sample_extra(account, now))


def test_a_lenders_own_first_notice_never_calls_it_a_debt_collector(us: NoticeFacts) -> None:
    for locale in ("en-US", "zh-CN"):
        facts = facts_for(Jurisdiction.US, locale)
        assert facts.collector_role == "FIRST_PARTY" and not facts.validation_notice
        notice = render("first_notice", Channel.EMAIL, facts, locale)
        text = f"{notice.subject} {notice.body} {notice.html}"
        for claim in ("debt collector", "collection agency", "NOTICE OF DEBT", "催收机构", "催收方", "债务通知"):
            assert claim not in text
        assert lint_rendered(notice, first_contact=False, first_party=True) == []


def test_a_first_party_notice_that_calls_itself_a_debt_collector_is_refused(us: NoticeFacts) -> None:
    notice = render("first_notice", Channel.EMAIL, agency_facts(Jurisdiction.US, "en-US"), "en-US")
    findings = lint_rendered(notice, first_contact=True, first_party=True)
    assert [f.rule for f in findings] == ["first_party_identity"]


def test_an_agencys_first_notice_carries_the_full_validation_notice_with_its_itemisation_date() -> None:
    facts = agency_facts(Jurisdiction.US, "en-US")
    notice = render("first_notice", Channel.EMAIL, facts, "en-US")
    assert "This is a communication from a debt collector." in notice.body
    assert "Harbor Recovery Services is a debt collector. We are trying to collect a debt that you owe to " \
           "Harbor Consumer Finance." in notice.body
    assert facts.itemization_date == facts.due_date
    # owed then (principal + interest), fees charged since, nothing paid, the total now
    for text in (f"As of {facts.itemization_date:%b} {facts.itemization_date.day}, {facts.itemization_date.year}, "
                 "you owed: $1,222.50", "fees:      + $25.00", "toward the debt: - $0.00",
                 "Total amount of the debt now: $1,247.50", "dispute"):
        assert text in notice.body
    assert facts.dispute_by is not None and facts.dispute_by >= facts.today + timedelta(days=30)
    assert set(notice.validation) >= {"itemization_date", "owed_at_itemization", "dispute_by", "creditor"}
    assert lint_rendered(notice, first_contact=True) == []
    zh = render("first_notice", Channel.EMAIL, agency_facts(Jurisdiction.US, "zh-CN"), "zh-CN")
    assert "截至" in zh.body and lint_rendered(zh, first_contact=True) == []


def test_a_payment_since_the_itemisation_date_is_itemised() -> None:
    paid_at = NOW - timedelta(days=2)
    payment = Payment(payment_id="p1", amount=Money.of("100.00", "USD"), received_at=paid_at)
    facts = agency_facts(Jurisdiction.US, "en-US", payments=[payment])
    assert facts.paid_since_itemization == Money.of("100.00", "USD")
    assert facts.owed_at_itemization == Money.of("1322.50", "USD")  # 1247.50 now + 100 paid - 25 fees


def test_a_first_contact_without_validation_items_is_refused(cn: NoticeFacts) -> None:
    notice = render("overdue_reminder", Channel.EMAIL, agency_facts(Jurisdiction.US, "en-US"), "en-US")
    findings = lint_rendered(notice, first_contact=True)
    assert [f.detail for f in findings] == ["missing validation notice"]
    # China has no such notice, so its first notice goes without the block
    assert "债务通知" not in render("first_notice", Channel.EMAIL, cn, "zh-CN").body


def test_plan_offer_lists_every_instalment(us: NoticeFacts) -> None:
    notice = render("plan_offer", Channel.EMAIL, us, "en-US")
    for line in ("1. $415.83 due Nov 13, 2026", "2. $415.83 due Nov 20, 2026", "3. $415.84 due Nov 27, 2026"):
        assert line in notice.body


def test_promise_confirmation_repeats_the_promise(cn: NoticeFacts) -> None:
    facts = cn.model_copy(
        update={"promise_date": date(2026, 11, 20), "promise_amount": Money.of("500", "CNY")}
    )
    notice = render("promise_confirmation", Channel.SMS, facts, "zh-CN")
    assert "11月20日" in notice.body and "¥500.00" in notice.body


def test_opt_out_confirmation_does_not_ask_to_opt_out_again(us: NoticeFacts) -> None:
    notice = render("opt_out_confirmation", Channel.SMS, us, "en-US")
    assert "STOP" not in notice.body and "START" in notice.body
    assert lint_rendered(notice) == []


# ---------------------------------------------------------------------------- facts


def test_deadline_counts_from_the_customers_local_today() -> None:
    late_evening_in_new_york = datetime(2026, 11, 10, 3, 0, tzinfo=UTC)  # still Nov 9 in New York
    us = facts_for(Jurisdiction.US, "en-US", late_evening_in_new_york)
    cn = facts_for(Jurisdiction.CN, "zh-CN", late_evening_in_new_york)  # already Nov 10 in Shanghai
    days = default_policy().notice_deadline_days
    assert us.deadline == date(2026, 11, 9) + timedelta(days=days)
    assert cn.deadline == date(2026, 11, 10) + timedelta(days=days)


def test_pay_link_is_signed_and_expires_with_the_policy(us: NoticeFacts) -> None:
    claims = verify_link(us.pay_link, SECRET, NOW)
    assert claims.account_id == "SAMPLE-US-0001" and claims.purpose == "pay"
    assert claims.expires_at == NOW + timedelta(days=default_policy().link_valid_days)


def test_amounts_are_itemised_and_days_overdue_never_negative() -> None:
    before_due = facts_for(Jurisdiction.US, "en-US", due_date=date(2026, 11, 13))
    assert before_due.days_overdue == 0
    assert before_due.amount_due == Money.of("1247.50", "USD")
    assert before_due.principal + before_due.interest + before_due.fees == before_due.amount_due


# ---------------------------------------------------------------------------- linter negatives


def test_a_threatening_phrase_is_flagged(us: NoticeFacts, cn: NoticeFacts) -> None:
    en = render("overdue_reminder", Channel.SMS, us, "en-US")
    threat = en.model_copy(update={"body": en.body + " Pay now or we will tell your employer."})
    assert codes(lint_rendered(threat)) == {ReasonCode.TONE}
    zh = render("overdue_reminder", Channel.SMS, cn, "zh-CN")
    assert codes(lint_rendered(zh.model_copy(update={"body": zh.body + "否则后果自负"}))) == {ReasonCode.TONE}
    shouty = en.model_copy(update={"subject": "FINAL WARNING"})
    assert codes(lint_rendered(shouty)) == {ReasonCode.TONE}


def test_words_that_merely_contain_a_phrase_are_not_flagged(us: NoticeFacts) -> None:
    notice = render("overdue_reminder", Channel.SMS, us, "en-US")
    assert lint_rendered(notice.model_copy(update={"body": notice.body + " See our privacy policy."})) == []


def test_a_missing_deadline_is_flagged(us: NoticeFacts) -> None:
    notice = render("overdue_reminder", Channel.EMAIL, us, "en-US")
    deadline = notice.facts["deadline"]
    assert notice.html is not None
    broken = notice.model_copy(
        update={"body": notice.body.replace(deadline, "soon"), "html": notice.html.replace(deadline, "soon")}
    )
    details = [f.detail for f in lint_rendered(broken)]
    assert details == ["missing deadline", "missing deadline in html"]


def test_legal_referral_cannot_go_to_time_barred_debt(us: NoticeFacts, cn: NoticeFacts) -> None:
    for facts, locale in ((us, "en-US"), (cn, "zh-CN")):
        for channel in (Channel.SMS, Channel.EMAIL):
            notice = render("legal_referral", channel, facts, locale)
            assert lint_rendered(notice) == []
            assert codes(lint_rendered(notice, time_barred=True)) == {ReasonCode.TONE}


def test_a_template_with_a_threat_or_without_a_deadline_fails_the_linter(
    tmp_path: Path, us: NoticeFacts
) -> None:
    shutil.copytree(templates_root(), tmp_path, dirs_exist_ok=True)
    sms = tmp_path / "en-US" / "overdue_reminder.sms.j2"
    sms.write_text(
        "{{ collector }}: {{ days_overdue }}, {{ amount }}. Pay {{ pay_link }} or else. "
        "Call {{ contact_phone }}. {{ opt_out }}",
        encoding="utf-8",
    )
    notice = render("overdue_reminder", Channel.SMS, us, "en-US", templates_dir=tmp_path)
    details = {(f.code, f.detail) for f in lint_rendered(notice)}
    assert details == {
        (ReasonCode.CONTENT, "missing deadline"),
        (ReasonCode.TONE, "ultimatum"),  # the rule's name, never the text
    }


# ---------------------------------------------------------------------------- errors and versions


def test_unknown_templates_and_channels_are_refused(us: NoticeFacts) -> None:
    with pytest.raises(UnknownTemplate):
        render("final_demand", Channel.SMS, us, "en-US")
    with pytest.raises(UnknownTemplate):
        render("overdue_reminder", Channel.CALL, us, "en-US")
    with pytest.raises(UnknownTemplate):
        render("help_reply", Channel.EMAIL, us, "en-US")
    with pytest.raises(UnknownTemplate):
        render("overdue_reminder", Channel.SMS, us, "fr-FR")


def test_a_plan_notice_without_a_plan_is_refused(us: NoticeFacts) -> None:
    with pytest.raises(MissingFacts, match="schedule"):
        render("plan_offer", Channel.SMS, us.model_copy(update={"schedule": []}), "en-US")


def test_template_version_follows_the_sources(tmp_path: Path, us: NoticeFacts) -> None:
    first = render("overdue_reminder", Channel.EMAIL, us, "en-US")
    assert len(first.template_version) == 12 and int(first.template_version, 16) >= 0
    assert render("overdue_reminder", Channel.EMAIL, us, "en-US").template_version == first.template_version
    shutil.copytree(templates_root(), tmp_path, dirs_exist_ok=True)
    layout = tmp_path / "en-US" / "_layout.email_html.j2"  # a shared layout counts as a source
    layout.write_text(layout.read_text("utf-8").replace("Sincerely", "Kind regards"), "utf-8")
    changed = render("overdue_reminder", Channel.EMAIL, us, "en-US", templates_dir=tmp_path)
    assert changed.template_version != first.template_version
    assert render("overdue_reminder", Channel.SMS, us, "en-US", templates_dir=tmp_path).template_version == (
        render("overdue_reminder", Channel.SMS, us, "en-US").template_version
    )


def test_rendered_notice_round_trips_as_json(cn: NoticeFacts) -> None:
    notice = render("first_notice", Channel.EMAIL, cn, "zh-CN")
    assert RenderedNotice.model_validate_json(notice.model_dump_json()) == notice


# ---------------------------------------------------------------------------- policy lint


def _policy(mutate) -> Policy:  # type: ignore[no-untyped-def]
    raw = yaml.safe_load((templates_root().parent / "policies" / "default.yaml").read_text("utf-8"))
    mutate(raw)
    return Policy.model_validate(raw)


def test_policy_lint_names_the_step_whose_template_is_missing() -> None:
    def mutate(raw: dict) -> None:
        raw["strategies"]["standard"]["steps"][2]["template"] = "gentle_nudge"

    problems = policy_problems(_policy(mutate))
    assert problems
    assert all(p.startswith("strategy standard: step sms_3: template gentle_nudge") for p in problems)


def test_policy_lint_refuses_contact_windows_outside_the_law_and_short_links() -> None:
    def mutate(raw: dict) -> None:
        raw["jurisdictions"]["CN"]["contact_window"] = {"start": "07:00", "end": "22:30"}
        raw["notice_deadline_days"], raw["link_valid_days"] = 10, 5

    problems = policy_problems(_policy(mutate))
    assert "jurisdiction CN: contact window 07:00-22:30 is outside 07:00-22:00" in problems
    assert any(p.startswith("policy: link_valid_days 5 < notice_deadline_days 10") for p in problems)


def test_policy_lint_refuses_a_legal_referral_as_a_routine_step() -> None:
    def mutate(raw: dict) -> None:
        raw["strategies"]["standard"]["steps"][5]["template"] = "legal_referral"

    problems = policy_problems(_policy(mutate))
    assert problems and all("step sms_14" in p and "TONE" in p for p in problems)


# ---------------------------------------------------------------------------- properties


@settings(max_examples=30, deadline=None)
@given(
    cents=st.integers(min_value=1, max_value=9_999_999),
    days=st.integers(min_value=1, max_value=365),
    locale=st.sampled_from(["en-US", "zh-CN"]),
)
def test_any_amount_and_lateness_renders_a_complete_short_reminder(
    cents: int, days: int, locale: str
) -> None:
    jurisdiction = Jurisdiction.US if locale == "en-US" else Jurisdiction.CN
    account = sample_account(jurisdiction, locale, NOW).model_copy(
        update={
            "principal_due": Decimal(cents) / 100,
            "interest_due": Decimal(0),
            "fees_due": Decimal(0),
            "due_date": date(2026, 11, 10) - timedelta(days=days),
        }
    )
    facts = build_facts(account, default_policy(), NOW, link_secret=SECRET)
    notice = render("overdue_reminder", Channel.SMS, facts, locale)
    assert lint_rendered(notice) == []
    assert notice.segments is not None and notice.segments <= (2 if locale == "en-US" else 3)
