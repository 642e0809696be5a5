"""The sandbox's Alibaba Cloud SMS answers the adapter's real requests as the service does."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dunning.adapters.aliyun_sms import AliyunSmsSender
from dunning.domain.policy import default_policy
from dunning.ports import OutboundMessage, ProviderRejected, TemplateCall
from sandbox.aliyun_sms import ACCESS_KEY_ID, ACCESS_KEY_SECRET, StandIn, listening
from sandbox.motocompat.sent_messages import Accepted

ROUTE = default_policy().sms_routes[0]
REMINDER = ROUTE.templates["overdue_reminder"]
PARAMS = {"amount": "¥9,000.00", "deadline": "12月9日", "last4": "5678", "pay_link": "hfjr.cn/p/Ab3dE6gH9k"}


def send(call: TemplateCall, destination: str = "+8613800138000", secret: str = ACCESS_KEY_SECRET) -> str:
    sender = AliyunSmsSender(ACCESS_KEY_ID, secret, transport=StandIn([ROUTE]),
                             clock=lambda: datetime(2026, 12, 4, 2, tzinfo=UTC))
    return sender.send(OutboundMessage(destination=destination, body="", template=call))


def test_a_registered_template_is_delivered_as_the_provider_renders_it() -> None:
    delivered: list[Accepted] = []
    with listening(delivered.append):
        biz_id = send(TemplateCall(ROUTE.sign_name, REMINDER.code, PARAMS))
    [text] = delivered
    assert text.provider == "aliyun" and text.message_id == biz_id and text.destination == "+8613800138000"
    assert text.body.startswith("【海港消费金融】") and text.body.endswith("拒收请回复R")
    assert "¥9,000.00" in text.body and "12月9日" in text.body and "/p/Ab3dE6gH9k" in text.body


@pytest.mark.parametrize(("call", "destination", "secret", "code"), [
    (TemplateCall("别的签名", REMINDER.code, PARAMS), "+8613800138000", ACCESS_KEY_SECRET, "isv.SMS_SIGNATURE_ILLEGAL"),
    (TemplateCall(ROUTE.sign_name, "SMS_123456789", PARAMS), "+8613800138000", ACCESS_KEY_SECRET,
     "isv.SMS_TEMPLATE_ILLEGAL"),
    (TemplateCall(ROUTE.sign_name, REMINDER.code, {"amount": "¥1"}), "+8613800138000", ACCESS_KEY_SECRET,
     "isv.TEMPLATE_PARAMS_ILLEGAL"),
    (TemplateCall(ROUTE.sign_name, REMINDER.code, PARAMS), "+8612345", ACCESS_KEY_SECRET, "isv.MOBILE_NUMBER_ILLEGAL"),
    (TemplateCall(ROUTE.sign_name, REMINDER.code, PARAMS), "+8613800138000", "a-wrong-secret", "SignatureDoesNotMatch"),
])
def test_what_the_service_refuses_is_refused_with_its_code(call: TemplateCall, destination: str, secret: str,
                                                           code: str) -> None:
    delivered: list[Accepted] = []
    with listening(delivered.append), pytest.raises(ProviderRejected, match=code):
        send(call, destination, secret)
    assert delivered == []
