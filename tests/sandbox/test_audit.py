"""The independent audit finds each kind of violation planted in what the providers received, and
nothing in a clean month (including the exemptions a customer's own message earns)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from sandbox.audit import RULES, AuditReport, audit
from sandbox.bootstrap import z
from sandbox.providers import ProviderMessage

ACCOUNT_ID = "acc-1"
PHONE, EMAIL = "+12025550143", "dana@example.com"
NOTICE = ("Notice {n}: your loan payment of ${due} is overdue. Pay by Oct 1 or call us on 800-555-0134. "
          "Reply STOP to end texts.")
DUE = Decimal("437.50")


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """An instant in September 2026 (UTC); the customer lives in New York (UTC-4)."""
    return datetime(2026, 9, day, hour, minute, tzinfo=UTC)


class Run:
    """What one account's run left behind: provider messages, ledger, stored account, replies."""

    def __init__(self) -> None:
        self.messages: list[ProviderMessage] = []
        self.ledger: list[dict[str, Any]] = []
        self.replies: list[dict[str, Any]] = []
        self.account: dict[str, Any] = {"account_id": ACCOUNT_ID, "jurisdiction": "US",
                                        "time_zones": ["America/New_York"], "principal_due": "400.00",
                                        "interest_due": "12.50", "fees_due": "25.00"}
        self.due = DUE

    def send(self, when: datetime, channel: str = "SMS", body: str | None = None, *, recorded: bool = True,
             account_id: str | None = ACCOUNT_ID, notice_id: str | None = None) -> ProviderMessage:
        n = len(self.messages) + 1
        provider = "sns" if channel == "SMS" else "ses"
        message = ProviderMessage(provider, f"m{n}", channel, PHONE if channel == "SMS" else EMAIL, when,
                                  None if channel == "SMS" else "About your loan",
                                  body if body is not None else NOTICE.format(n=n, due=f"{self.due:.2f}"),
                                  account_id)
        self.messages.append(message)
        if recorded:
            self.ledger.append({"pk": f"ACCOUNT#{ACCOUNT_ID}", "kind": "NOTICE", "at": z(when),
                                "data": {"notice_id": notice_id or f"n{n}", "status": "SENT",
                                         "provider_message_id": f"{provider}:m{n}"}})
        return message

    def reply(self, when: datetime, text: str, *, delivered: bool = True) -> None:
        self.replies.append({"account_id": ACCOUNT_ID, "persona": "any", "from": PHONE, "text": text,
                             "at": z(when), "delivered": delivered})

    def confirm(self, when: datetime, text: str = "Thank you, we have noted your message.") -> ProviderMessage:
        """The system's one answer to the customer's reply."""
        return self.send(when, "SMS", text)

    def pay(self, when: datetime, amount: str) -> None:
        self.ledger.append({"pk": f"ACCOUNT#{ACCOUNT_ID}", "kind": "PAYMENT", "at": z(when),
                            "data": {"amount": amount, "received_at": z(when)}})
        self.due -= Decimal(amount)
        self.account["principal_due"] = str(Decimal(self.account["principal_due"]) - Decimal(amount))

    def audit(self) -> AuditReport:
        return audit(self.messages, self.ledger, [self.account], self.replies)


def findings(report: AuditReport) -> list[tuple[str, str, datetime]]:
    return [(f.rule, f.account_id, f.at) for f in report.findings]


def clean_month() -> Run:
    """Notices in hours, a payment, a promise kept to, a STOP late at night and its confirmation."""
    run = Run()
    run.send(at(15, 15))  # 11:00 in New York
    run.send(at(15, 20), "EMAIL")  # 16:00: four hours after the text (spacing)
    run.send(at(16, 15), body=NOTICE.format(n=3, due="437.50") + " https://pay.dunning.example/p/xSHAMEx")
    run.pay(at(16, 18), "100.00")
    run.send(at(17, 15))  # states the new balance, 337.50
    run.reply(at(17, 15, 3), "I will pay on 2026-09-22")
    run.confirm(at(17, 15, 4))  # a second SMS that day: the answer to the customer is exempt
    run.send(at(24, 15))  # after the promised day and its grace
    run.reply(at(25, 3, 30), "stop")  # 23:30 in New York
    run.confirm(at(25, 3, 31), "You will get no more texts from us.")  # outside hours, no amount: exempt
    run.send(at(25, 16), "EMAIL")  # the opt-out is from texts only
    run.reply(at(25, 17), "I dispute this debt", delivered=False)  # the system never heard it
    run.send(at(26, 16), "EMAIL")
    return run


def test_a_clean_month_has_no_findings() -> None:
    report = clean_month().audit()

    assert report.findings == []
    assert report.counts() == {**dict.fromkeys(RULES, 0), "violations": 0, "messages_audited": 9}


def _late_evening(run: Run) -> datetime:
    return run.send(at(18, 2)).sent_at  # 22:00 in New York


def _labour_day(run: Run) -> datetime:
    return run.send(datetime(2026, 9, 7, 15, 0, tzinfo=UTC)).sent_at


def _second_text_in_a_day(run: Run) -> datetime:
    run.send(at(18, 14))
    return run.send(at(18, 20)).sent_at


def _eighth_contact_in_a_week(run: Run) -> datetime:
    for day in (22, 23, 24):  # more than a week after the first notice
        run.send(at(day, 14))
        run.send(at(day, 19), "EMAIL")
    run.send(at(25, 14))
    return run.send(at(25, 19), "EMAIL").sent_at


def _text_after_stop(run: Run) -> datetime:
    run.reply(at(18, 14), "STOP")
    run.confirm(at(18, 14, 1))
    run.send(at(18, 15), "EMAIL")  # allowed: texts only
    return run.send(at(19, 15)).sent_at


def _email_while_disputed(run: Run) -> datetime:
    run.reply(at(18, 14), "I dispute this debt, it is not mine")
    run.confirm(at(18, 14, 1))
    return run.send(at(20, 15), "EMAIL").sent_at


def _notice_before_the_promised_day(run: Run) -> datetime:
    run.reply(at(18, 14), "I will pay on 2026-09-25")
    run.confirm(at(18, 14, 1))
    return run.send(at(22, 15), "EMAIL").sent_at


def _no_amount(run: Run) -> datetime:
    return run.send(at(18, 15), body="Your loan is overdue. Call us on 800-555-0134. Reply STOP to end texts.").sent_at


def _no_collector_phone(run: Run) -> datetime:
    return run.send(at(18, 15), body="Your loan payment of $437.50 is overdue. Reply STOP to end texts.").sent_at


def _threat(run: Run) -> datetime:
    return run.send(at(18, 15), body=NOTICE.format(n=9, due="437.50") + " We will tell your employer.").sent_at


def _same_text_twice_in_a_day(run: Run) -> datetime:
    run.send(at(18, 14), "SMS", "Your loan payment of $437.50 is overdue. Call 800-555-0134.")
    return run.send(at(18, 19), "EMAIL", "Your loan payment of $437.50 is overdue. Call 800-555-0134.").sent_at


def _one_notice_sent_twice(run: Run) -> datetime:
    run.send(at(18, 15), notice_id="n-step-2")
    return run.send(at(19, 15), notice_id="n-step-2").sent_at


def _email_an_hour_after_a_text(run: Run) -> datetime:
    run.send(at(18, 14))
    return run.send(at(18, 15), "EMAIL").sent_at


def _sent_without_a_ledger_entry(run: Run) -> datetime:
    return run.send(at(18, 15), recorded=False).sent_at


@pytest.mark.parametrize(("plant", "rule", "detail"), [
    (_late_evening, "window", "SMS at 22:00 America/New_York"),
    (_labour_day, "holiday", "SMS on 2026-09-07 (America/New_York)"),
    (_second_text_in_a_day, "daily_cap", "SMS #2 on 2026-09-18"),
    (_eighth_contact_in_a_week, "weekly_cap", "8 messages in 7 days"),
    (_email_an_hour_after_a_text, "spacing", "EMAIL 1:00:00 after the last"),
    (_text_after_stop, "opted_out", "SMS during opt_out since 2026-09-18T14:00Z"),
    (_email_while_disputed, "hold", "EMAIL during dispute since 2026-09-18T14:00Z"),
    (_notice_before_the_promised_day, "hold", "EMAIL during promise since 2026-09-18T14:00Z"),
    (_no_amount, "content", "SMS does not state the amount due"),
    (_no_collector_phone, "content", "SMS does not give the collector's phone"),
    (_threat, "tone", "SMS contains a forbidden phrase"),
    (_same_text_twice_in_a_day, "duplicate_sends", "EMAIL same body twice on 2026-09-18"),
    (_one_notice_sent_twice, "duplicate_sends", "notice n-step-2 sent 2 times"),
    (_sent_without_a_ledger_entry, "unrecorded_sends", "has no NOTICE ledger entry"),
])
def test_each_planted_violation_is_found_and_nothing_else(plant: Callable[[Run], datetime], rule: str,
                                                          detail: str) -> None:
    run = Run()
    run.send(at(15, 15))  # a clean notice before it
    when = plant(run)

    report = run.audit()

    assert findings(report) == [(rule, ACCOUNT_ID, when)]
    assert detail in report.findings[0].detail
    counts = report.counts()
    assert counts[rule] == 1
    assert counts["violations"] == (0 if rule in ("duplicate_sends", "unrecorded_sends") else 1)


def test_a_message_to_an_address_of_no_account_is_unrecorded() -> None:
    run = Run()
    stray = run.send(at(18, 15), account_id=None)

    assert findings(run.audit()) == [("unrecorded_sends", "?", stray.sent_at)]


def test_the_confirmation_of_a_stop_counts_against_no_cap() -> None:
    """Seven contacts in a week, then STOP: the confirmation is the eighth message but no contact."""
    run = Run()
    for day in (15, 16, 17):
        run.send(at(day, 14))
        run.send(at(day, 19), "EMAIL")
    run.send(at(18, 14))
    run.reply(at(18, 14, 5), "STOP")
    run.confirm(at(18, 14, 6))

    assert run.audit().findings == []


@pytest.mark.parametrize("text", ["STOP", "Stop.", "cancel", "UNSUBSCRIBE", "退订", "TD", "quit!"])
def test_every_opt_out_keyword_holds_texts(text: str) -> None:
    run = Run()
    run.send(at(15, 15))
    run.reply(at(16, 14), text)
    run.confirm(at(16, 14, 1))
    late = run.send(at(17, 15))

    assert findings(run.audit()) == [("opted_out", ACCOUNT_ID, late.sent_at)]


def test_a_window_violation_is_found_in_every_zone_the_customer_may_be_in() -> None:
    run = Run()
    run.account["time_zones"] = ["America/New_York", "America/Los_Angeles"]
    early = run.send(at(18, 14))  # 10:00 in New York, 07:00 in Los Angeles

    report = run.audit()

    assert findings(report) == [("window", ACCOUNT_ID, early.sent_at)]
    assert "America/Los_Angeles" in report.findings[0].detail


def test_caps_and_spacing_are_counted_over_all_the_loans_of_one_person() -> None:
    """One text a day on each of two loans is one text a day per loan, but two for the person."""
    run = Run()
    run.send(at(18, 14))
    second = run.send(at(18, 20), account_id="acc-2")
    run.send(at(19, 14), account_id="acc-2")
    close = run.send(at(19, 16), "EMAIL")
    accounts = [run.account, {**run.account, "account_id": "acc-2"}]

    assert audit(run.messages, run.ledger, accounts, run.replies).findings == []
    per_person = audit(run.messages, run.ledger, accounts, run.replies, owners={"acc-1": "c1", "acc-2": "c1"})
    assert findings(per_person) == [("daily_cap", "acc-2", second.sent_at), ("spacing", ACCOUNT_ID, close.sent_at)]


def test_a_message_after_a_status_that_stops_contact_is_found() -> None:
    run = Run()
    run.send(at(18, 14))
    late = run.send(at(20, 14))

    report = audit(run.messages, run.ledger, [run.account], run.replies, stopped={ACCOUNT_ID: at(19, 9)})

    assert findings(report) == [("special_status", ACCOUNT_ID, late.sent_at)]
    assert report.counts()["violations"] == 1
def test_a_receipt_right_after_a_late_payment_answers_the_customer_but_a_second_message_does_not() -> None:
    """A payment made at 23:00 is receipted at once: no window, cap or promise-hold finding; the
    next message after it is an ordinary contact again."""
    run = Run()
    run.send(at(15, 15))
    run.reply(at(15, 15, 3), "I will pay on 2026-09-22")
    run.confirm(at(15, 15, 4))
    run.pay(at(16, 3), "100.00")  # 23:00 in New York, during the promise hold
    run.send(at(16, 3, 1), "SMS", "Thank you: we have received your payment of $100.00. 800-555-0134")
    second = run.send(at(16, 3, 2), "SMS", "Thank you: we have received your payment of $100.00. 800-555-0134.")

    assert {rule for rule, _, when in findings(run.audit()) if when == second.sent_at} >= {"window", "hold"}
    assert all(when == second.sent_at for _, _, when in findings(run.audit()))


def _call(run: Run, when: datetime, outcome: str) -> None:
    run.ledger.append({"pk": f"ACCOUNT#{ACCOUNT_ID}", "kind": "CALL_OUTCOME", "at": z(when),
                       "data": {"outcome": outcome}})


def test_what_was_agreed_on_a_call_is_confirmed_in_writing_at_once_but_an_unanswered_call_excuses_nothing() -> None:
    run = Run()
    run.send(at(15, 15), "EMAIL")
    _call(run, at(15, 16), "HARDSHIP")
    run.send(at(15, 16, 1), "EMAIL")  # the plan's schedule: a second email that day, and exempt
    _call(run, at(17, 16), "NO_ANSWER")
    run.send(at(17, 15), "EMAIL")
    nagging = run.send(at(17, 16, 1), "EMAIL")

    # a second email an hour after the first: over the daily cap, and too soon for the person's spacing
    assert findings(run.audit()) == [("daily_cap", ACCOUNT_ID, nagging.sent_at),
                                     ("spacing", ACCOUNT_ID, nagging.sent_at)]


def _page(run: Run, when: datetime, action: str, **data: Any) -> None:
    run.ledger.append({"pk": f"ACCOUNT#{ACCOUNT_ID}", "kind": "PAGE", "at": z(when),
                       "data": {"action": action, "applied": True, "account_changes": []} | data})


def test_what_the_customer_did_on_their_page_is_answered_once_and_then_held_to() -> None:
    """An opt-out of texts on the page at night: its one confirmation is exempt like a STOP's;
    a text after it breaks the opt-out, an email does not."""
    run = Run()
    run.send(at(15, 15))
    _page(run, at(16, 3, 30), "verify")
    _page(run, at(16, 3, 31), "preferences", account_changes=[["OPT_OUT", "SMS"]])
    run.confirm(at(16, 3, 31), "You will get no more texts from us.")  # 23:31 in New York: exempt
    run.send(at(16, 16), "EMAIL")
    assert run.audit().findings == []
    late = run.send(at(18, 15))
    assert findings(run.audit()) == [("opted_out", ACCOUNT_ID, late.sent_at)]


def test_an_opt_out_confirmed_at_the_instant_a_notice_is_due_is_the_answer_and_the_notice_is_not() -> None:
    """The page's opt-out and the escalation's next step at one instant (seen at 5,000 accounts):
    the confirmation the ledger records as a service message answers it, in whichever order the
    provider received the two."""
    run = Run()
    _page(run, at(16, 18), "preferences", account_changes=[["OPT_OUT", "SMS"]])
    run.send(at(16, 18), "EMAIL")  # the step due at that hour, by email: neither held nor exempt
    run.send(at(16, 18), "SMS", "You will get no more texts from us.",
             notice_id="acc-1-20260901:service_confirm_opt_out_sms")
    assert run.audit().findings == []
    late = run.send(at(18, 15))
    assert findings(run.audit()) == [("opted_out", ACCOUNT_ID, late.sent_at)]


def test_a_promise_made_on_the_page_holds_notices_until_its_day() -> None:
    run = Run()
    _page(run, at(18, 14), "promise", fields={"promised_on": "2026-09-25"})
    run.confirm(at(18, 14))
    early = run.send(at(21, 15))
    assert findings(run.audit()) == [("hold", ACCOUNT_ID, early.sent_at)]


def test_only_a_chinese_reminder_may_leave_the_hotline_to_the_page_its_link_opens() -> None:
    run = Run()
    body = f"【海港消费金融】尾号1234借款已逾期，请于9月22日前还款${DUE:,.2f} hfjr.cn/p/Ab3dE6gH9k 拒收请回复R"
    reminder = run.send(at(15, 15), body=body)
    notice = run.send(at(17, 15), body=body)
    templates = {reminder.message_id: "overdue_reminder", notice.message_id: "first_notice"}
    for entry in run.ledger:
        mid = entry["data"]["provider_message_id"].split(":", 1)[1]
        entry["data"]["template_id"] = templates[mid]
    found = [(f.rule, f.at, f.detail) for f in run.audit().findings]
    assert found == [("content", notice.sent_at, "SMS does not give the collector's phone")]


@pytest.mark.parametrize("link", ["hfjr.cn/p/gYJAILfgVv", "https://pay.example.com/p/xSHAMEq9",
                                  "pay.example.com/p/POLICE1"])
def test_letters_of_a_link_are_no_threat_with_or_without_a_scheme(link: str) -> None:
    """A CN text leaves the scheme out of its link (seen at 5,000 accounts: a token holding "JAIL");
    the words around the link are still read."""
    run = Run()
    run.send(at(18, 15), body=f"Your loan payment of $437.50 is overdue. Pay: {link} or call 800-555-0134.")
    assert run.audit().findings == []
    threat = run.send(at(21, 15), body=f"Your loan payment of $437.50 is overdue. Pay: {link} or go to jail. "
                                        "800-555-0134")
    assert findings(run.audit()) == [("tone", ACCOUNT_ID, threat.sent_at)]


def test_a_reply_and_a_payment_at_one_instant_are_each_answered_once() -> None:
    """Seen at 5,000 accounts: a customer promised again at the very minute their payment on the
    loan was posted. The promise's confirmation and the payment's receipt each answer one of them;
    neither is a contact during the promise, nor too soon after the last notice. A third message
    then is."""
    run = Run()
    run.send(at(15, 15))
    run.reply(at(15, 15, 28), "I will pay on 2026-09-18")
    run.confirm(at(15, 15, 28))
    run.send(at(20, 15), "EMAIL")  # the promise not kept: the next step, after its hold
    run.reply(at(20, 15, 6), "I will pay on 2026-09-25")
    run.send(at(20, 15, 6), "SMS", "Thank you, we have noted your promise.",
             notice_id="acc-1-20260915:service_confirm_promise_20260920T150600")
    run.pay(at(20, 15, 6), "437.50")
    run.send(at(20, 15, 6), "EMAIL", "Thank you: we have received your payment of $437.50. 800-555-0134",
             notice_id="acc-1-20260915:service_confirm_payment_P1")
    assert run.audit().findings == []
    third = run.send(at(20, 15, 7), "SMS", "Thank you: we have received your payment of $437.50. 800-555-0134.")
    assert ("hold", ACCOUNT_ID, third.sent_at) in findings(run.audit())
