"""Written confirmations on in-memory ports: every arrangement from every caller (a text, an email,
an agent, an admin, a payment) reaches the customer in writing, in their locale, on a channel they
allow, once."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from dunning.domain.ledger import GENESIS
from dunning.domain.models import Case, Channel, EntryKind, NoticeStatus
from dunning.ports import CaseRecord, InboundSms
from dunning.services import admin, confirmations, payments, replies
from tests.functions.conftest import NOW, make_account
from tests.support.fakes import FakePorts

CASE = "acc-1001-20261102"


def setup(ports: FakePorts, **account: Any) -> FakePorts:
    ports.clock.at = NOW
    acc = make_account(**account)
    ports.accounts.put(acc, None)
    ports.collections.commit(CaseRecord(Case(case_id=CASE, account_id=acc.account_id, opened_at=NOW,
                                             strategy_id="standard", variant="champion"), -1, GENESIS),
                             [(EntryKind.CASE_OPENED, {})], at=NOW, actor="test", create=True)
    ports.collections.put_contact(acc.account_id, ports.keys.phone_hash(acc.contact.phone),
                                  ports.keys.email_hash(acc.contact.email))
    return ports


@pytest.fixture
def ports() -> FakePorts:
    return setup(FakePorts())


def run(ports: FakePorts, **fields: Any) -> admin.AdminResult:
    command = admin.AdminRequest.model_validate(
        {"command": {"account_id": "acc-1001", "case_id": CASE, **fields}}).command
    return admin.execute(ports, command, "arn:aws:iam::123456789012:user/agent-7")


def text(body: str, message_id: str = "SM1") -> InboundSms:
    return InboundSms(provider="generic", message_id=message_id, from_number="+12025550143", to_number=None,
                      text=body, received_at=NOW)


def notices(ports: FakePorts) -> dict[str, Any]:
    return {step: n for (_, _, step), n in ports.collections.notices.items()}


def test_a_promise_an_admin_records_is_confirmed_by_email_once(ports: FakePorts) -> None:
    run(ports, type="record_promise", promised_on="2026-11-20")
    run(ports, type="record_promise", promised_on="2026-11-20")  # the same promise recorded again
    (mail,) = ports.email.sent
    assert "Nov 20, 2026" in mail.body and "$437.50" in mail.body
    assert ports.sms.sent == []
    (step,) = notices(ports)
    assert step.startswith("service_confirm_promise_")


def test_a_plan_agreed_on_the_phone_is_confirmed_with_its_schedule_and_not_also_as_an_offer(ports: FakePorts) -> None:
    out = run(ports, type="record_call_outcome", outcome="HARDSHIP", instalments=3)
    assert out.applied
    (mail,) = ports.email.sent
    assert mail.body.count("$145.83") + mail.body.count("$145.84") == 3  # three instalments, to the cent
    (step,) = notices(ports)
    assert step.startswith("service_confirm_plan_P")


def test_a_hardship_text_gets_the_offer_and_a_yes_gets_the_agreed_plan_both_by_text(ports: FakePorts) -> None:
    replies.handle_inbound(ports, text("I lost my job, can I pay in instalments?"))
    replies.handle_inbound(ports, text("YES", message_id="SM2"))
    assert [n.template_id for n in sorted(notices(ports).values(), key=lambda n: n.step_id)] == [
        "plan_confirmation", "plan_offer"]
    assert len(ports.sms.sent) == 2 and ports.email.sent == []


def test_an_opt_out_is_confirmed_on_the_channel_opted_out_of_and_only_once(ports: FakePorts) -> None:
    run(ports, type="opt_out", channel="SMS")
    run(ports, type="opt_in", channel="SMS")
    ports.clock.at = NOW.replace(hour=16)
    run(ports, type="opt_out", channel="SMS")  # again within the day: a second confirmation is refused
    assert len(ports.sms.sent) == 1 and "no longer receive text messages" in ports.sms.sent[0].body
    assert ports.email.sent == []
    statuses = sorted(n.status for n in notices(ports).values())
    assert statuses == [NoticeStatus.SENT]


def test_an_opt_out_of_calls_needs_no_written_confirmation(ports: FakePorts) -> None:
    run(ports, type="opt_out", channel="CALL")
    assert ports.sms.sent == [] and ports.email.sent == []


def test_a_payment_is_receipted_once_per_payment_id(ports: FakePorts) -> None:
    first = payments.apply_payment(ports, "PMT-1", "acc-1001", Decimal("100.00"), "USD", NOW)
    again = payments.apply_payment(ports, "PMT-1", "acc-1001", Decimal("100.00"), "USD", NOW)
    assert (first["status"], first["receipt"]) == ("APPLIED", "SENT")
    assert again["status"] == "DUPLICATE"
    (receipt,) = ports.email.sent
    assert "$100.00" in receipt.body and "received your payment" in receipt.body


def test_a_payment_on_an_account_with_no_collection_case_gets_no_receipt_from_collections() -> None:
    ports = FakePorts()
    ports.clock.at = NOW
    ports.accounts.put(make_account(status="CURRENT"), None)
    out = payments.apply_payment(ports, "PMT-9", "acc-1001", Decimal("10.00"), "USD", NOW)
    assert out["receipt"] is None and ports.email.sent == [] and ports.sms.sent == []


def test_confirmations_go_in_the_customers_locale() -> None:
    ports = setup(FakePorts(), locale="zh-CN", jurisdiction="CN", currency="CNY",
                  contact={"phone": "+8613812345678", "email": "wang@example.cn"}, time_zones=["Asia/Shanghai"])
    ports.clock.at = datetime(2026, 11, 3, 3, 0, tzinfo=UTC)  # 11:00 in Shanghai
    run(ports, type="record_dispute", reason="借款合同有误")
    (mail,) = ports.email.sent
    assert "异议" in (mail.subject or "") and "暂停" in mail.body


def test_when_no_written_channel_may_be_used_the_arrangement_stands_and_the_gap_is_reported() -> None:
    ports = setup(FakePorts(), opted_out={Channel.SMS, Channel.EMAIL})
    out = run(ports, type="record_promise", promised_on="2026-11-20")
    assert out.applied and ports.sms.sent == [] and ports.email.sent == []
    record = ports.collections.ledger[("acc-1001", CASE)]
    admin_entry = next(e for e in record if e.kind is EntryKind.ADMIN)
    assert [c["template_id"] for c in admin_entry.data["confirmations"]] == ["promise_confirmation"]


def test_the_customers_own_written_channel_comes_first_then_email_then_sms() -> None:
    account = make_account()
    promise = confirmations.Confirmation("service_confirm_promise_x", "promise_confirmation")
    assert confirmations.channel_for(account, promise, Channel.SMS) is Channel.SMS
    assert confirmations.channel_for(account, promise, Channel.CALL) is Channel.EMAIL
    assert confirmations.channel_for(account, promise, None) is Channel.EMAIL
    no_email = make_account(contact={"phone": "+12025550143"})
    assert confirmations.channel_for(no_email, promise, None) is Channel.SMS
    stop = confirmations.Confirmation("service_confirm_opt_out_sms_x", "opt_out_confirmation", Channel.SMS)
    opted = make_account(opted_out={Channel.SMS})
    assert confirmations.channel_for(opted, stop, Channel.EMAIL) is Channel.SMS  # the one confirmation allowed


def test_every_arrangement_maps_to_one_confirmation_with_a_step_derived_from_it() -> None:
    at = datetime(2026, 11, 3, 15, 0, 7, tzinfo=UTC)
    found = confirmations.for_entries([
        (EntryKind.PLAN, {"plan_id": "P1", "status": "OFFERED"}),
        (EntryKind.PLAN, {"plan_id": "P1", "status": "ACTIVE"}),
        (EntryKind.PLAN, {"plan_id": "P2", "status": "OFFERED"}),
        (EntryKind.PROMISE, {"promised_on": "2026-11-20"}),
        (EntryKind.HOLD, {"status": "DISPUTED", "reason": "x"}),
        (EntryKind.HOLD, {"status": "PAUSED", "reason": "HARDSHIP"}),
        (EntryKind.OPT_OUT, {"channel": "EMAIL", "action": "OPT_OUT"}),
        (EntryKind.OPT_OUT, {"channel": "SMS", "action": "OPT_IN"}),
    ], at)
    assert [(c.step_id, c.template_id) for c in found] == [
        ("service_confirm_plan_P1", "plan_confirmation"),
        ("service_confirm_plan_offer_P2", "plan_offer"),
        ("service_confirm_promise_20261103T150007", "promise_confirmation"),
        ("service_confirm_dispute_20261103T150007", "dispute_acknowledgement"),
        ("service_confirm_opt_out_email_20261103T150007", "opt_out_confirmation"),
    ]
