"""The customer's page on in-memory ports: nothing shown before the fact on file is confirmed,
every action through the case actions with a PAGE entry by `customer`, confirmed in writing once,
and every hostile request refused with nothing written."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from dunning.domain.ledger import verify_chain
from dunning.domain.models import Case, CaseStatus, Channel, EntryKind, PlanStatus
from dunning.domain.page_session import read_payment_reference
from dunning.domain.page_verify import VerificationKind
from dunning.services import case_actions, escalation
from sandbox.page_client import PageClient
from tests.functions.conftest import NOW, make_account
from tests.support.fakes import FakePorts, InMemoryPageGuard
from tests.support.page import BASE, PAY, client, link_for, service_send, with_fact

CASE = "acc-1001-20261102"
DOB = "1985-04-12"


@pytest.fixture
def ports() -> FakePorts:
    ports = FakePorts()
    ports.clock.at = NOW
    ports.page_base_url = BASE
    account = with_fact(make_account(), ports.keys.link_secret, VerificationKind.DATE_OF_BIRTH, DOB)
    ports.open_case(account, Case(case_id=CASE, account_id=account.account_id, opened_at=NOW,
                                  strategy_id="standard", variant="champion"), NOW)
    return ports


@pytest.fixture
def guard(ports: FakePorts) -> InMemoryPageGuard:
    return InMemoryPageGuard(ports.clock)


def link(ports: FakePorts, purpose: str = "pay", days: int = 14) -> str:
    return link_for(ports.accounts.get("acc-1001"), ports.keys.link_secret, NOW, purpose, days)


def ledger(ports: FakePorts) -> list[Any]:
    return ports.collections.ledger[("acc-1001", CASE)]


def page_entries(ports: FakePorts) -> list[Any]:
    return [e for e in ledger(ports) if e.kind is EntryKind.PAGE]


def case(ports: FakePorts) -> Case:
    return ports.collections.case("acc-1001", CASE).case


def verified(ports: FakePorts, guard: InMemoryPageGuard) -> PageClient:
    browser = client(ports, guard)
    browser.open(link(ports))
    answer = browser.submit("verify", answer=DOB)
    assert answer.state == "account", answer.body[:400]
    return browser


# ---------------------------------------------------------------------------- verify first


def test_nothing_about_the_account_is_shown_before_the_fact_on_file_is_confirmed(ports, guard) -> None:
    browser = client(ports, guard)
    first = browser.open(link(ports))
    assert first.status == 200 and first.state == "verify" and set(first.forms) == {"verify"}
    assert "437.50" not in first.body and "Dana" not in first.body and "1234" not in first.body
    assert first.main["data-arrangement"] == "none" and first.main["lang"] == "en-US"

    answer = browser.submit("verify", answer=DOB)
    assert answer.status == 200 and answer.state == "account"
    assert "$437.50" in answer.body and {"pay", "promise", "plan", "hardship", "dispute", "callback",
                                         "preferences"} <= set(answer.forms)
    (entry,) = page_entries(ports)
    assert entry.actor == "customer" and entry.data["action"] == "verify" and DOB not in json.dumps(entry.data)


def test_wrong_answers_lock_the_link_and_the_lock_is_recorded(ports, guard) -> None:
    browser = client(ports, guard)
    browser.open(link(ports))
    for left in (4, 3, 2, 1):
        answer = browser.submit("verify", answer="1990-01-01")
        assert answer.status == 422 and f"Tries left: {left}" in answer.body
    locked = browser.submit("verify", answer="1990-01-01")
    assert locked.status == 403 and locked.state == "locked"
    assert [e.data["action"] for e in page_entries(ports)] == ["verify_locked"]
    # even the right answer no longer opens it
    again = client(ports, guard)
    assert again.open(link(ports)).state == "locked"


def test_an_altered_link_reveals_nothing_and_an_expired_one_offers_a_fresh_link(ports, guard) -> None:
    good = link(ports)
    altered = good[:-3] + ("A" if good[-3] != "A" else "B") + good[-2:]
    bad = client(ports, guard).open(altered)
    assert bad.status == 404 and bad.state == "invalid" and not bad.forms
    assert "Harbor" not in bad.body

    ports.clock.at = NOW + timedelta(days=15)
    browser = client(ports, guard)
    expired = browser.open(link(ports))
    assert expired.status == 410 and expired.state == "expired" and set(expired.forms) == {"fresh_link"}
    sent = browser.submit("fresh_link")
    assert sent.state == "sent" and len(ports.sms.sent) == 1
    fresh = ports.sms.sent[0].body
    assert "/p/" in fresh and fresh.split("/p/")[1].split()[0] not in good
    # rate-limited per account and day: the answer stays the same, nothing more is sent
    for _ in range(4):
        browser.open(link(ports))
        assert browser.submit("fresh_link").state == "sent"
    assert len(ports.sms.sent) == 3


# ---------------------------------------------------------------------------- acting


def test_a_promise_holds_the_case_and_is_confirmed_in_writing(ports, guard) -> None:
    browser = verified(ports, guard)
    answer = browser.submit("promise", promised_on="2026-11-20", amount="")
    assert answer.state == "account" and answer.arrangement == "promise" and "promise is recorded" in answer.body
    assert case(ports).status is CaseStatus.PROMISED and case(ports).promise.promised_on == date(2026, 11, 20)
    entry = page_entries(ports)[-1]
    assert entry.data["action"] == "promise" and entry.actor == "customer"
    kinds = [e.kind for e in ledger(ports)]
    assert kinds[kinds.index(EntryKind.PAGE, 2) + 1] is EntryKind.PROMISE  # one commit, the caller's record first
    # confirmed in writing the way every caller's promise is (email first when the customer used neither)
    (mail,) = ports.email.sent
    assert "Nov 20" in mail.body and not ports.sms.sent


def test_a_promise_outside_the_policy_is_refused_with_the_form_and_nothing_written(ports, guard) -> None:
    browser = verified(ports, guard)
    before = len(ledger(ports))
    answer = browser.submit("promise", promised_on="2027-06-01")
    assert answer.status == 422 and "between" in answer.body and answer.state == "account"
    assert len(ledger(ports)) == before and case(ports).status is CaseStatus.OPEN


def test_choosing_a_plan_accepts_exactly_the_schedule_shown(ports, guard) -> None:
    browser = verified(ports, guard)
    form = browser.form("plan")
    choices = form.options["choice"]
    three = next(c for c in choices if c.startswith("3:"))
    answer = browser.submit("plan", choice=three)
    assert answer.arrangement == "plan"
    plan = case(ports).plan
    assert case(ports).status is CaseStatus.IN_PLAN and plan.status is PlanStatus.ACTIVE
    assert [str(i.amount.amount) for i in plan.instalments] == ["145.84", "145.83", "145.83"]
    assert sum(i.amount.amount for i in plan.instalments) == Decimal("437.50")
    assert "$145.84" in answer.body
    (mail,) = ports.email.sent
    assert "$145.84" in mail.body and "$437.50" in mail.body


def test_a_schedule_that_changed_since_it_was_shown_is_refused(ports, guard) -> None:
    browser = verified(ports, guard)
    three = next(c for c in browser.form("plan").options["choice"] if c.startswith("3:"))
    account = ports.accounts.get("acc-1001")
    ports.accounts.put(account.model_copy(update={"fees_due": Decimal("0")}), account.version)
    before = len(ledger(ports))
    answer = browser.submit("plan", choice=three)
    assert answer.status == 409 and "changed" in answer.body and len(ledger(ports)) == before


def test_hardship_pauses_and_offers_a_plan_then_the_offer_can_be_accepted(ports, guard) -> None:
    browser = verified(ports, guard)
    answer = browser.submit("hardship", reason="job_loss")
    assert answer.arrangement == "pause" and case(ports).status is CaseStatus.PAUSED
    assert case(ports).plan.status is PlanStatus.OFFERED
    (offer,) = ports.email.sent
    assert "YES" in offer.body and "/p/" in offer.body  # the offer says how to accept: a reply, or the page
    offered = [c for c in browser.form("plan").options["choice"]]
    accepted = browser.submit("plan", choice=offered[0])
    assert accepted.arrangement == "plan" and case(ports).plan.plan_id == case(ports).plan.plan_id
    assert case(ports).status is CaseStatus.IN_PLAN


def test_a_dispute_holds_the_case_and_queues_a_review(ports, guard) -> None:
    browser = verified(ports, guard)
    answer = browser.submit("dispute", reason="not_mine", details="I never took this loan <script>")
    assert answer.arrangement == "dispute" and case(ports).status is CaseStatus.DISPUTED
    assert ports.tasks.queued[-1][1]["reason"] == "DISPUTE_REVIEW"
    assert page_entries(ports)[-1].data["fields"]["details"] == "I never took this loan <script>"
    assert "<script>" not in answer.body


def test_a_call_back_is_booked_in_a_slot_inside_the_contact_window(ports, guard) -> None:
    browser = verified(ports, guard)
    slot = browser.form("callback").options["slot"][0]
    browser.submit("callback", slot=slot)
    kind, task = ports.tasks.queued[-1]
    assert kind == "CALLBACK" and task["reason"] == "CALL_ME" and task["call_from"].startswith(slot[:4])
    (sms,) = ports.sms.sent
    assert "call you" in sms.body


def test_preferences_opt_out_narrow_the_hours_and_change_the_language(ports, guard) -> None:
    browser = verified(ports, guard)
    answer = browser.submit("preferences", sms=None, hours="17-21", language="zh-CN")
    assert answer.status == 200
    account = ports.accounts.get("acc-1001")
    assert Channel.SMS in account.opted_out and account.preferred_locale == "zh-CN"
    assert (account.preferred_hours.start.hour, account.preferred_hours.end.hour) == (17, 21)
    (confirmation,) = ports.sms.sent  # the one confirmation an opt-out allows, on the channel left
    assert answer.main["lang"] == "en-US"  # the page keeps the language it is read in


def test_pay_hands_off_to_the_portal_with_a_one_time_reference_and_no_personal_data(ports, guard) -> None:
    browser = verified(ports, guard)
    answer = browser.submit("pay")
    assert answer.status == 303 and answer.location.startswith(f"{PAY}/?ref=")
    reference = answer.location.split("ref=", 1)[1]
    read = read_payment_reference(reference, ports.keys.link_secret)
    assert read is not None and read["account_id"] == "acc-1001"
    assert "Dana" not in answer.location and "437" not in answer.location and "+1202" not in answer.location
    assert page_entries(ports)[-1].data["fields"]["reference"] == read["nonce"]


# ---------------------------------------------------------------------------- email unsubscribe


def test_one_click_unsubscribe_opts_out_of_email_without_a_visit(ports, guard) -> None:
    send = service_send(ports, guard)
    path = "/p/" + link(ports, "unsubscribe").split("/p/")[1]
    status, _, _ = send("POST", path, {"content-type": "application/x-www-form-urlencoded"},
                        b"List-Unsubscribe=One-Click")
    assert status == 200 and Channel.EMAIL in ports.accounts.get("acc-1001").opted_out
    written = len(ledger(ports))
    send("POST", path, {"content-type": "application/x-www-form-urlencoded"}, b"List-Unsubscribe=One-Click")
    assert len(ledger(ports)) == written  # a repeat changes nothing and writes nothing
    # a pay link is not an unsubscribe link
    other = "/p/" + link(ports).split("/p/")[1]
    assert send("POST", other, {"content-type": "application/x-www-form-urlencoded"},
                b"List-Unsubscribe=One-Click")[0] == 404


def test_the_unsubscribe_link_lands_on_a_one_button_opt_out(ports, guard) -> None:
    browser = client(ports, guard)
    page = browser.open(link(ports, "unsubscribe"))
    assert page.state == "unsubscribe" and {"unsubscribe", "verify"} <= set(page.forms)
    done = browser.submit("unsubscribe")
    assert done.state == "unsubscribed" and Channel.EMAIL in ports.accounts.get("acc-1001").opted_out
    (email,) = ports.email.sent  # the one opt-out confirmation, by email
    assert email.headers is not None and email.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_every_email_carries_one_click_list_unsubscribe_headers(ports) -> None:
    escalation.send(ports, ports.email, CASE, "acc-1001", "first_notice", Channel.EMAIL, "first_notice",
                    actor="test")
    (email,) = ports.email.sent
    url = email.headers["List-Unsubscribe"].strip("<>")
    assert url.startswith(f"{BASE}/p/") and email.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert url in email.body


# ---------------------------------------------------------------------------- hostile input


def _nothing_written(ports: FakePorts, before: int, account_version: int) -> None:
    assert len(ledger(ports)) == before
    assert ports.accounts.get("acc-1001").version == account_version


def test_a_replayed_form_is_refused_and_writes_nothing(ports, guard) -> None:
    browser = verified(ports, guard)
    form = browser.form("promise")
    fields = form.fields | {"promised_on": "2026-11-20"}
    browser.post(form.target, fields)
    before, version = len(ledger(ports)), ports.accounts.get("acc-1001").version
    replay = browser.post(form.target, fields)
    assert replay.status == 409 and "already sent" in replay.body
    _nothing_written(ports, before, version)


def test_a_cross_site_post_is_refused_and_writes_nothing(ports, guard) -> None:
    browser = verified(ports, guard)
    form = browser.form("dispute")
    before, version = len(ledger(ports)), ports.accounts.get("acc-1001").version
    forged = browser.post(form.target, form.fields, {"origin": "https://evil.example", "sec-fetch-site": "cross-site"})
    assert forged.status == 403
    # a form built elsewhere has no visit cookie and no token of this visit
    stranger = PageClient(service_send(ports, guard), BASE)
    assert stranger.post(form.target, form.fields).status == 403
    _nothing_written(ports, before, version)


def test_a_form_for_another_action_or_with_a_forged_token_is_refused(ports, guard) -> None:
    browser = verified(ports, guard)
    promise = browser.form("promise")
    before, version = len(ledger(ports)), ports.accounts.get("acc-1001").version
    common = {k: promise.fields[k] for k in ("form_key", "csrf", "lang")}
    swapped = browser.post(promise.target, common | {"action": "dispute", "reason": "not_mine"})
    forged = browser.post(promise.target, promise.fields | {"csrf": "A" * 22, "promised_on": "2026-11-20"})
    assert swapped.status == 403 and forged.status == 403
    _nothing_written(ports, before, version)


@pytest.mark.parametrize("body,content_type,status", [
    (b"x" * 9000, "application/x-www-form-urlencoded", 413),
    (b"action=promise&action=pay", "application/x-www-form-urlencoded", 400),
    (b'{"action": "pay"}', "application/json", 415),
    (b"action=%ff%fe", "application/x-www-form-urlencoded", 400),
])
def test_oversized_and_malformed_bodies_are_refused_with_a_problem(ports, guard, body, content_type, status) -> None:
    browser = verified(ports, guard)
    before, version = len(ledger(ports)), ports.accounts.get("acc-1001").version
    sent, headers, text = service_send(ports, guard)(
        "POST", "/p/" + link(ports).split("/p/")[1],
        {"content-type": content_type, "cookie": "; ".join(f"{k}={v}" for k, v in browser.cookies.items()),
         "origin": BASE, "accept": "application/json"}, body)
    assert sent == status and headers["content-type"] == "application/problem+json"
    problem = json.loads(text)
    assert problem["status"] == status and "Dana" not in text
    _nothing_written(ports, before, version)


def test_oversized_fields_are_refused(ports, guard) -> None:
    browser = verified(ports, guard)
    before, version = len(ledger(ports)), ports.accounts.get("acc-1001").version
    answer = browser.submit("dispute", reason="other", details="x" * 1500)
    assert answer.status == 400
    _nothing_written(ports, before, version)


def test_requests_past_the_rate_limit_get_429(ports, guard) -> None:
    browser = client(ports, guard)
    statuses = [browser.open(link(ports)).status for _ in range(61)]
    assert statuses[:60] == [200] * 60 and statuses[60] == 429


def test_every_page_carries_a_strict_policy_and_stays_small(ports, guard) -> None:
    browser = verified(ports, guard)
    page = browser.page
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert page.headers["referrer-policy"] == "same-origin" and page.headers["cache-control"] == "no-store"
    assert "<script" not in page.body and "http://" not in page.body.replace(BASE, "")
    css_href = page.body.split('rel="stylesheet" href="')[1].split('"')[0]
    status, _, css = service_send(ports, guard)("GET", css_href, {}, b"")
    assert status == 200 and len(page.body.encode()) + len(css.encode()) < 50_000


def test_the_ledger_stays_a_valid_chain_after_page_actions(ports, guard) -> None:
    browser = verified(ports, guard)
    browser.submit("promise", promised_on="2026-11-20")
    browser.submit("preferences", hours="09-17", language="en-US", sms="on", email="on")
    entries = ledger(ports)
    assert verify_chain(CASE, entries, expected_head_hash=entries[-1].hash).ok


def test_a_short_link_from_a_text_opens_the_same_page_and_an_unknown_code_reveals_nothing(ports, guard) -> None:
    from dunning.domain.links import is_short_code, token_of

    code = ports.collections.shorten_link(token_of(link(ports)), NOW + timedelta(days=45))
    assert is_short_code(code) and "." not in code
    browser = PageClient(service_send(ports, guard), BASE)
    page = browser.open(f"{BASE}/p/{code}")
    assert page.status == 200 and page.state == "verify"
    assert browser.submit("verify", answer=DOB).state == "account"
    stranger = PageClient(service_send(ports, guard), BASE).open(f"{BASE}/p/Zz9Zz9Zz9Z")
    assert stranger.status == 404 and stranger.state == "invalid"


def test_a_text_to_a_chinese_customer_carries_a_short_link_that_stands_for_the_signed_one(ports, guard) -> None:
    """CN policy: texts carry /p/<code>; emails keep the signed link; the code opens the page."""
    from dunning.domain.links import is_short_code, verify_link
    from dunning.domain.models import Contact

    cn = make_account(account_id="acc-2002", customer_name="王芳", locale="zh-CN", jurisdiction="CN", currency="CNY",
                      time_zones=["Asia/Shanghai"], contact=Contact(phone="+8613800138000", email="w@example.cn"))
    sms = escalation.render_for(ports, cn, ports.policy(), None, "overdue_reminder", Channel.SMS)
    code = sms.body.split("/p/")[1].split()[0]
    assert is_short_code(code) and sms.segments == 1 and "hfjr.cn/p/" in sms.body
    token = ports.collections.resolve_link(code)
    assert token is not None and verify_link(token, ports.keys.link_secret, NOW).account_id == "acc-2002"
    email = escalation.render_for(ports, cn, ports.policy(), None, "overdue_reminder", Channel.EMAIL)
    assert "/p/" in email.body and not is_short_code(email.body.split("/p/")[1].split()[0].rstrip("。，"))
    us = escalation.render_for(ports, ports.accounts.get("acc-1001"), ports.policy(), None, "overdue_reminder",
                               Channel.SMS)
    assert not is_short_code(us.body.split("/p/")[1].split()[0])  # GSM-7 texts keep the signed link


def _close_case(ports: FakePorts, status: CaseStatus) -> None:
    record = ports.collections.cases[("acc-1001", CASE)]
    record.case = record.case.model_copy(update={"status": status})


@pytest.mark.parametrize("status", [CaseStatus.REFERRED_TO_LEGAL, CaseStatus.RESOLVED])
def test_a_link_to_a_closed_case_never_says_nothing_is_owed_while_money_is_owed(ports, guard, status) -> None:
    """Seen at 5,000 accounts: a customer opened the link of the email that referred them to the legal
    team, and the page said nothing was overdue. A closed case whose account still owes sends them
    to the phone; only an account that owes nothing is told nothing is overdue."""
    _close_case(ports, status)
    page = client(ports, guard).open(link(ports))
    assert page.status == 200 and page.state == "not_online" and page.forms == {}
    assert "Nothing is overdue" not in page.body and "800-555-0134" in page.body

    account = ports.accounts.get("acc-1001")
    settled = account.model_copy(update={"principal_due": Decimal("0"), "interest_due": Decimal("0"),
                                         "fees_due": Decimal("0")})
    ports.accounts.put(settled, account.version)
    page = client(ports, guard).open(link(ports))
    assert page.state == "no_case" and "Nothing is overdue" in page.body


def test_an_unsubscribe_link_still_works_after_the_case_closed(ports, guard) -> None:
    """The receipt or the referral email's unsubscribe link, opened once the case has closed: the
    one-button opt-out is there (and nothing of the account), and it is recorded."""
    _close_case(ports, CaseStatus.REFERRED_TO_LEGAL)
    browser = client(ports, guard)
    page = browser.open(link(ports, "unsubscribe"))
    assert page.state == "unsubscribe" and set(page.forms) == {"unsubscribe"}
    assert "We do not hold the detail" not in page.body  # no identity check offered: no account to see
    done = browser.submit("unsubscribe")
    assert done.state == "unsubscribed" and Channel.EMAIL in ports.accounts.get("acc-1001").opted_out
    page_record = ports.collections.ledger[("acc-1001", case_actions.pseudo_case_id("PAGE", "acc-1001"))]
    (entry,) = [e for e in page_record if e.kind is EntryKind.PAGE]
    assert entry.data["action"] == "unsubscribe" and len(ports.email.sent) == 1  # its one confirmation
