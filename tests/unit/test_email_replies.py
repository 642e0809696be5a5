"""Email replies on in-memory ports: found by the hashed address and the notice they answer, read by
the same reader and acted on by the same case actions as texts; auto-replies and mail failing SES's
checks are recorded and never acted on."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from dunning.domain.ledger import GENESIS
from dunning.domain.models import Case, CaseStatus, Channel, EntryKind, Notice, NoticeStatus
from dunning.domain.reporting.facts import cases_from_ledger
from dunning.ports import CaseRecord, InboundEmail, TransientError
from dunning.services import replies
from tests.functions.conftest import NOW, make_account
from tests.support.fakes import FakePorts, put_notice

CASE = "acc-1001-20261102"
ADDRESS = "dana@example.com"
SES_ID = "0100018b-notice-000000"


def open_case(ports: FakePorts, account_id: str = "acc-1001", email: str = ADDRESS, step: str = "first_notice",
              ses_id: str = SES_ID) -> str:
    account = make_account(account_id=account_id, contact={"phone": "+12025550143", "email": email})
    ports.accounts.put(account, None)
    case_id = f"{account_id}-20261102"
    ports.collections.commit(CaseRecord(Case(case_id=case_id, account_id=account_id, opened_at=NOW,
                                             strategy_id="standard", variant="champion"), -1, GENESIS),
                             [(EntryKind.CASE_OPENED, {})], at=NOW, actor="test", create=True)
    ports.collections.put_contact(account_id, ports.keys.phone_hash(account.contact.phone),
                                  ports.keys.email_hash(email))
    # the first notice we emailed them: its SES message id is what their client quotes back
    put_notice(ports.collections, Notice(
        notice_id=Notice.id_for(case_id, step), case_id=case_id, account_id=account_id, step_id=step,
        channel=Channel.EMAIL, template_id="first_notice", template_version="t", locale="en-US",
        status=NoticeStatus.SENT, body="...", provider_message_id=f"ses:{ses_id}", created_at=NOW - timedelta(days=1)))
    return case_id


@pytest.fixture
def ports() -> FakePorts:
    ports = FakePorts()
    ports.clock.at = NOW
    open_case(ports)
    return ports


def mail(text: str, message_id: str = "in-1", **kw: Any) -> InboundEmail:
    fields: dict[str, Any] = dict(provider="ses-inbound", message_id=message_id, from_address="Dana@Example.com ",
                                  subject="Re: Your payment is overdue", text=text, received_at=NOW,
                                  answers_ses_ids=(SES_ID,), stored_at="s3://mail/inbound/in-1")
    return InboundEmail(**(fields | kw))


def entries(ports: FakePorts, case_id: str = CASE, account_id: str = "acc-1001") -> list[Any]:
    return ports.collections.ledger[(account_id, case_id)]


def reply_entry(ports: FakePorts, case_id: str = CASE, account_id: str = "acc-1001") -> Any:
    return next(e for e in entries(ports, case_id, account_id) if e.kind is EntryKind.REPLY)


def status(ports: FakePorts, case_id: str = CASE, account_id: str = "acc-1001") -> CaseStatus:
    return ports.collections.case(account_id, case_id).case.status


def test_a_dispute_by_email_holds_the_case_and_is_acknowledged_by_email(ports: FakePorts) -> None:
    out = replies.handle_inbound(ports, mail("This is not my debt, I dispute it."), actor="InboundEmail")
    assert out["intent"] == "DISPUTE" and status(ports) is CaseStatus.DISPUTED
    data = reply_entry(ports).data
    assert data["channel"] == "EMAIL" and data["response"] is True
    assert data["answers"] == {"case_id": CASE, "step_id": "first_notice"}
    assert data["address_hash"] == ports.keys.email_hash(ADDRESS) and "number_hash" not in data
    (ack,) = ports.email.sent
    assert ack.destination == ADDRESS and "dispute" in (ack.subject or "").lower()
    assert ports.sms.sent == []


def test_stop_by_email_opts_out_of_email_only_and_is_confirmed_there_once(ports: FakePorts) -> None:
    replies.handle_inbound(ports, mail("STOP"))
    replies.handle_inbound(ports, mail("stop", message_id="in-2"))  # asked twice the same hour
    account = ports.accounts.get("acc-1001")
    assert account.opted_out == {Channel.EMAIL}
    assert len(ports.email.sent) == 1 and ports.sms.sent == []
    assert "no longer receive emails" in ports.email.sent[0].body


def test_an_auto_reply_is_recorded_and_neither_acted_on_nor_counted_as_a_response(ports: FakePorts) -> None:
    out = replies.handle_inbound(ports, mail("I am out of the office until Monday. STOP", auto_reply="AUTO_SUBMITTED"))
    assert out["status"] == "AUTO_REPLY" and status(ports) is CaseStatus.OPEN
    data = reply_entry(ports).data
    assert data["response"] is False and data["disposition"] == "AUTO_REPLY" and data["intent"] is None
    assert ports.accounts.get("acc-1001").opted_out == set()
    assert ports.email.sent == [] and ports.tasks.queued == []
    (facts,) = cases_from_ledger(entries(ports))
    assert not facts.responded


def test_mail_failing_ses_checks_is_recorded_without_its_text_and_not_acted_on(ports: FakePorts) -> None:
    out = replies.handle_inbound(ports, mail("I dispute this debt", verdict_problems=("DMARC",)))
    assert out["status"] == "REJECTED" and status(ports) is CaseStatus.OPEN
    data = reply_entry(ports).data
    assert data["text"] is None and data["verdict_problems"] == ["DMARC"]
    assert data["stored_at"] == "s3://mail/inbound/in-1"
    assert ports.email.sent == []


def test_the_notice_answered_picks_the_loan_among_several_with_the_same_address(ports: FakePorts) -> None:
    other = open_case(ports, account_id="acc-2002", step="email_10", ses_id="0100018b-other-000000")
    replies.handle_inbound(ports, mail("I will pay on 2026-11-20", answers_ses_ids=("0100018b-other-000000",)))
    assert status(ports, other, "acc-2002") is CaseStatus.PROMISED
    assert status(ports) is CaseStatus.OPEN
    assert not any(e.kind is EntryKind.REPLY for e in entries(ports))


def test_without_a_thread_a_reply_from_a_shared_address_reaches_each_of_its_loans(ports: FakePorts) -> None:
    other = open_case(ports, account_id="acc-2002", step="email_10", ses_id="0100018b-other-000000")
    out = replies.handle_inbound(ports, mail("please call me", answers_ses_ids=()))
    assert out["status"] == "RECORDED" and len(out["results"]) == 2
    assert reply_entry(ports, other, "acc-2002").data["intent"] == "CALL_ME"


def test_our_thread_answered_from_an_unknown_address_goes_to_a_person_and_changes_nothing(ports: FakePorts) -> None:
    out = replies.handle_inbound(ports, mail("I dispute this", from_address="someone.else@example.org"))
    assert out["status"] == "UNVERIFIED_SENDER" and status(ports) is CaseStatus.OPEN
    assert [task["reason"] for _, task in ports.tasks.queued] == ["UNVERIFIED_SENDER"]
    assert ports.email.sent == []


def test_an_unknown_sender_outside_our_threads_is_not_recorded(ports: FakePorts) -> None:
    out = replies.handle_inbound(ports, mail("hello", from_address="nobody@example.org", answers_ses_ids=()))
    assert out["status"] == "UNKNOWN_SENDER"
    assert not any(e.kind is EntryKind.REPLY for e in entries(ports))


def test_a_reply_with_nothing_to_read_goes_to_a_person(ports: FakePorts) -> None:
    out = replies.handle_inbound(ports, mail(""))
    assert out["callback"] == "UNREAD" and status(ports) is CaseStatus.OPEN


def test_a_redelivered_email_changes_and_sends_nothing_more(ports: FakePorts) -> None:
    first = replies.handle_inbound(ports, mail("I will pay on 2026-11-20"))
    again = replies.handle_inbound(ports, mail("I will pay on 2026-11-20"))
    assert first["status"] == "RECORDED" and again["status"] == "DUPLICATE"
    assert len([e for e in entries(ports) if e.kind is EntryKind.REPLY]) == 1
    assert len(ports.email.sent) == 1  # the promise confirmation, by email, once


def test_a_throttled_confirmation_is_finished_by_the_redelivery(ports: FakePorts) -> None:
    class Throttled:
        provider = "fake-email"

        def send(self, message: Any) -> str:
            raise TransientError("Throttling")

    working = ports.email
    ports.email = Throttled()  # type: ignore[assignment]
    with pytest.raises(TransientError):
        replies.handle_inbound(ports, mail("I will pay on 2026-11-20"))
    assert status(ports) is CaseStatus.PROMISED  # recorded and acted on all the same
    ports.email = working
    again = replies.handle_inbound(ports, mail("I will pay on 2026-11-20"))
    assert again["status"] == "DUPLICATE"
    (confirmation,) = working.sent
    assert "2026" in confirmation.body or "Nov" in confirmation.body


def test_help_by_email_has_no_written_answer_so_a_person_calls(ports: FakePorts) -> None:
    out = replies.handle_inbound(ports, mail("HELP"))
    assert out["intent"] == "HELP" and out["callback"] == "CALL_ME" and ports.email.sent == []


def test_a_reply_to_a_pseudo_case_address_only_records(ports: FakePorts) -> None:
    # An address whose account has no active case: the reply is kept on a contact record.
    ports.accounts.put(make_account(account_id="acc-3003", contact={"email": "pat@example.com"}), None)
    ports.collections.put_contact("acc-3003", None, ports.keys.email_hash("pat@example.com"))
    out = replies.handle_inbound(ports, replace(mail("I will pay Friday", from_address="pat@example.com"),
                                                answers_ses_ids=()))
    assert out["case_id"] == "INBOUND-acc-3003" and out["callback"]
