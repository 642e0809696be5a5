"""Texts to mainland China: Alibaba Cloud SMS in registered templates only, signed as its RPC API
asks, with every answer mapped so a send is never repeated into a duplicate."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from dunning.adapters.aliyun_sms import AliyunSmsSender, percent_encode, signature, string_to_sign
from dunning.domain.ledger import GENESIS
from dunning.domain.models import Case, Channel, Contact, EntryKind, NoticeStatus
from dunning.domain.policy import default_policy
from dunning.ports import CaseRecord, OutboundMessage, ProviderRejected, TemplateCall, TransientError
from dunning.services import customers, escalation
from tests.functions.conftest import make_account
from tests.support.fakes import FakePorts

NOW = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, a Wednesday
CALL = TemplateCall("海港消费金融", "SMS_900000010", {"amount": "¥9,000.00", "last4": "5678"})


def message(destination: str = "+8613800138000", template: TemplateCall | None = CALL) -> OutboundMessage:
    return OutboundMessage(destination=destination, body="(the provider renders it)", template=template,
                           tags={"case_id": "acc-2002-20261102", "step_id": "sms_3"})


class Provider:
    """Answers like SendSms; keeps what it was asked."""

    def __init__(self, status: int = 200, answer: dict[str, Any] | bytes | None = None) -> None:
        self.status = status
        self.answer = answer if answer is not None else {"Code": "OK", "Message": "OK",
                                                         "BizId": "900619746936498440^0", "RequestId": "R1"}
        self.asked: list[dict[str, str]] = []

    def __call__(self, url: str) -> tuple[int, bytes]:
        self.asked.append(dict(parse_qsl(urlsplit(url).query, keep_blank_values=True)))
        body = self.answer if isinstance(self.answer, bytes) else json.dumps(self.answer).encode()
        return self.status, body


def sender(provider: Provider) -> AliyunSmsSender:
    return AliyunSmsSender("LTAI-test", "secret-test", transport=provider, clock=lambda: NOW)


def test_the_query_is_signed_as_the_rpc_api_specifies() -> None:
    assert percent_encode("a b*~/") == "a%20b%2A~%2F"
    assert string_to_sign({"B": "~*", "A": "b c"}) == "GET&%2F&A%3Db%2520c%26B%3D~%252A"
    provider = Provider()
    assert sender(provider).send(message()) == "900619746936498440^0"
    [asked] = provider.asked
    sent_signature = asked.pop("Signature")
    assert sent_signature == signature(asked, "secret-test")
    assert signature({**asked, "PhoneNumbers": "13900000000"}, "secret-test") != sent_signature
    assert asked["Action"] == "SendSms" and asked["Version"] == "2017-05-25"
    assert asked["PhoneNumbers"] == "13800138000" and asked["SignName"] == "海港消费金融"
    assert asked["TemplateCode"] == "SMS_900000010" and asked["Timestamp"] == "2026-11-18T02:00:00Z"
    assert json.loads(asked["TemplateParam"]) == {"amount": "¥9,000.00", "last4": "5678"}
    assert asked["OutId"] == "acc-2002-20261102"  # ids only


@pytest.mark.parametrize(("status", "answer", "raised"), [
    (200, {"Code": "isv.MOBILE_NUMBER_ILLEGAL"}, ProviderRejected),  # never sent: recorded FAILED
    (200, {"Code": "isv.BUSINESS_LIMIT_CONTROL"}, ProviderRejected),  # the number's flow control
    (200, {"Code": "isv.SMS_TEMPLATE_ILLEGAL"}, ProviderRejected),
    (200, {"Code": "SignatureDoesNotMatch"}, ProviderRejected),
    (400, {"Code": "Throttling.User"}, TransientError),  # refused before taking it: retried
    (500, {"Code": "isp.SYSTEM_ERROR"}, RuntimeError),  # may have been sent: UNCERTAIN
    (502, b"<html>bad gateway</html>", RuntimeError),
    (200, {"Code": "OK"}, RuntimeError),  # no BizId: not known to be sent
])
def test_every_answer_is_mapped_so_a_send_is_never_repeated(status: int, answer: Any, raised: type) -> None:
    with pytest.raises(raised):
        sender(Provider(status, answer)).send(message())


def test_no_free_text_and_no_other_country_through_it() -> None:
    provider = Provider()
    with pytest.raises(ProviderRejected, match="NoApprovedTemplate"):
        sender(provider).send(message(template=None))
    with pytest.raises(ProviderRejected, match="NotAMainlandNumber"):
        sender(provider).send(message("+12025550143"))
    assert provider.asked == []


@pytest.fixture
def ports() -> FakePorts:
    """A Chinese customer with a +86 number and a US one, both overdue, each with a case."""
    ports = FakePorts()
    ports.clock.at = NOW
    for account in (make_account(account_id="acc-2002", customer_name="王芳", locale="zh-CN", jurisdiction="CN",
                                 currency="CNY", time_zones=["Asia/Shanghai"], principal_due=Decimal("9000.00"),
                                 interest_due=Decimal(0), fees_due=Decimal(0),
                                 contact=Contact(phone="+8613800138000", email="wang@example.cn")),
                    make_account()):
        ports.accounts.put(account, None)
        case = Case(case_id=f"{account.account_id}-20261102", account_id=account.account_id,
                    opened_at=NOW - timedelta(days=14), strategy_id="standard", variant="champion")
        ports.collections.commit(CaseRecord(case, -1, GENESIS), [(EntryKind.CASE_OPENED, {})],
                                 at=NOW - timedelta(days=14), actor="test", create=True)
        customers.register(ports, account, NOW - timedelta(days=14))
    return ports


def test_a_mainland_number_gets_its_text_through_the_domestic_provider_in_its_registered_template(ports) -> None:
    result = escalation.send(ports, ports.sender(Channel.SMS), "acc-2002-20261102", "acc-2002", "sms_3", Channel.SMS,
                             "overdue_reminder", actor="test")
    assert result.status == "SENT" and ports.sms.sent == []
    [sent] = ports.domestic_sms.sent
    registered = default_policy().sms_route_for("+8613800138000").templates["overdue_reminder"]
    assert sent.template is not None and sent.template.code == registered.code
    assert sent.template.sign_name == "海港消费金融" and set(sent.template.params) == set(registered.params)
    assert sent.template.params["amount"] == "¥9,000.00" and "/p/" in sent.template.params["pay_link"]
    notice = ports.collections.history("acc-2002").notices["acc-2002-20261102"][0]
    assert notice.status is NoticeStatus.SENT and notice.provider_message_id.startswith("aliyun:")


def test_any_other_number_keeps_going_through_aws(ports) -> None:
    ports.clock.at = NOW + timedelta(hours=14)  # 11:00 in New York
    escalation.send(ports, ports.sender(Channel.SMS), "acc-1001-20261102", "acc-1001", "sms_3", Channel.SMS,
                    "overdue_reminder", actor="test")
    assert len(ports.sms.sent) == 1 and ports.sms.sent[0].template is None and ports.domestic_sms.sent == []
