"""SMS to +86 through Alibaba Cloud SMS: the real SDK (request built and signed) against the
sandbox's stand-in for Dysmsapi, how its answers are sorted for at-most-once, and the router that
sends other numbers through AWS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from dunning.adapters.aliyun_sms import AliyunSmsSender, CountryRoutedSms, aliyun_client
from dunning.domain.models import Channel, Jurisdiction
from dunning.domain.notices.facts import build_facts
from dunning.domain.notices.registration import registrations
from dunning.domain.notices.render import render
from dunning.domain.notices.samples import SAMPLE_LINK_SECRET, SAMPLE_NOW, sample_account, sample_extra
from dunning.domain.policy import SmsProvider, default_policy
from dunning.ports import OutboundMessage, ProviderRejected, TransientError, provider_of
from sandbox.motocompat.aliyun_sms import DAILY_LIMIT, AliyunSmsBackend, aliyun_sms

KEYS = {"access_key_id": "LTAI5tSandboxKey", "access_key_secret": "sandbox-secret-not-for-production"}
POLICY = default_policy()
CN = POLICY.for_jurisdiction(Jurisdiction.CN)
PROVIDER = CN.sms_provider
assert PROVIDER is not None


@pytest.fixture
def backend() -> Iterator[AliyunSmsBackend]:
    with aliyun_sms() as backend:
        backend.keys[KEYS["access_key_id"]] = KEYS["access_key_secret"]
        backend.signatures.add(PROVIDER.sign_name)
        for code, content in registrations(PROVIDER, "zh-CN", CN.collector).items():
            backend.register_template(code, content)
        yield backend


def sender(keys: dict[str, str] = KEYS, provider: SmsProvider = PROVIDER) -> AliyunSmsSender:
    client = aliyun_client(lambda: keys)
    return AliyunSmsSender(lambda: client, lambda: provider)


def notice(template_id: str = "overdue_reminder", destination: str = "+8613800138000") -> tuple[OutboundMessage, str]:
    account = sample_account(Jurisdiction.CN, "zh-CN")
    facts = build_facts(account, POLICY, SAMPLE_NOW, link_secret=SAMPLE_LINK_SECRET, extra=sample_extra(account),
                        shorten=lambda _token, _expires: "Ab3dE6gH")
    rendered = render(template_id, Channel.SMS, facts, "zh-CN")
    message = OutboundMessage(destination=destination, body=rendered.body, template_id=template_id,
                              params=rendered.params, tags={"case_id": "CN-1-20261101", "step_id": "sms_3"})
    return message, rendered.body


@pytest.mark.parametrize("template_id", ["pre_due_reminder", "first_notice", "overdue_reminder",
                                         "plan_confirmation", "opt_out_confirmation", "help_reply"])
def test_the_handset_gets_exactly_the_text_the_engine_rendered(backend: AliyunSmsBackend, template_id: str) -> None:
    message, body = notice(template_id)
    biz_id = sender().send(message)
    sent = backend.sent[biz_id]
    assert sent.text == body  # the provider's registered text, filled in, is our notice word for word
    assert sent.phone == "13800138000" and sent.template_code == PROVIDER.templates[template_id].code
    assert sent.out_id == "CN-1-20261101:sms_3"  # ids only come back on the receipt


def test_only_the_registered_params_are_sent(backend: AliyunSmsBackend) -> None:
    message, _ = notice("overdue_reminder")
    fields = sender().request(message)
    assert set(json.loads(fields["TemplateParam"])) == {"amount", "deadline", "last4", "pay_link"}
    assert "王小明" not in fields["TemplateParam"]  # no name: the notice never carries one


def test_a_template_without_a_code_is_refused_before_any_request(backend: AliyunSmsBackend) -> None:
    message, _ = notice()
    unregistered = PROVIDER.model_copy(update={"templates": {}})
    with pytest.raises(ProviderRejected, match="NoRegisteredTemplate"):
        sender(provider=unregistered).send(message)
    assert backend.sent == {}


@pytest.mark.parametrize(("change", "refusal"), [
    ({"destination": "+8612345"}, "InvalidPhoneNumber"),  # not E.164: refused before the provider
    ({"destination": "+861062345678"}, "isv.MOBILE_NUMBER_ILLEGAL"),  # a landline: the provider refuses
])
def test_numbers_the_provider_cannot_take_fail_for_good(backend: AliyunSmsBackend, change: dict[str, str],
                                                        refusal: str) -> None:
    message, _ = notice(**change)
    with pytest.raises(ProviderRejected, match=refusal.replace(".", r"\.")):
        sender().send(message)


def test_an_unregistered_template_code_or_signature_fails_for_good(backend: AliyunSmsBackend) -> None:
    message, _ = notice()
    backend.templates.clear()
    with pytest.raises(ProviderRejected, match="SMS_TEMPLATE_ILLEGAL"):
        sender().send(message)
    backend.signatures.clear()
    with pytest.raises(ProviderRejected, match="SMS_SIGNATURE_ILLEGAL"):
        sender().send(message)


def test_wrong_keys_are_refused_at_the_gateway_for_good(backend: AliyunSmsBackend) -> None:
    message, _ = notice()
    with pytest.raises(ProviderRejected, match="SignatureDoesNotMatch"):
        sender(keys=KEYS | {"access_key_secret": "not-the-secret"}).send(message)
    with pytest.raises(ProviderRejected, match="InvalidAccessKeyId"):
        sender(keys={"access_key_id": "LTAI5tUnknown", "access_key_secret": "x"}).send(message)
    assert backend.sent == {}


def test_the_daily_limit_per_number_is_transient(backend: AliyunSmsBackend) -> None:
    message, _ = notice()
    for _ in range(DAILY_LIMIT):
        sender().send(message)
    with pytest.raises(TransientError, match="BUSINESS_LIMIT_CONTROL"):
        sender().send(message)
    backend.today = "1970-01-02"
    assert sender().send(message)


class _Failing:
    def __init__(self, exc: Exception) -> None:
        self.exc = exc
        self.calls = 0

    def send_sms_with_options(self, request: Any, runtime: Any) -> Any:
        self.calls += 1
        assert runtime.autoretry is False and runtime.max_attempts == 1  # one request per send
        raise self.exc


def _sdk_error(kind: str, code: str, status: int) -> Exception:
    from alibabacloud_tea_openapi import exceptions

    return getattr(exceptions, kind)(status_code=status, code=code, message=code)


@pytest.mark.parametrize(("error", "expected"), [
    (_sdk_error("ThrottlingException", "Throttling.User", 400), TransientError),
    (_sdk_error("ClientException", "Forbidden.RAM", 403), ProviderRejected),
])
def test_gateway_refusals_are_sorted(error: Exception, expected: type[Exception]) -> None:
    message, _ = notice()
    client = _Failing(error)
    with pytest.raises(expected):
        AliyunSmsSender(lambda: client, lambda: PROVIDER).send(message)
    assert client.calls == 1


@pytest.mark.parametrize("error", [_sdk_error("ServerException", "ServiceUnavailable", 503), TimeoutError("read")])
def test_a_5xx_or_a_timeout_is_an_unknown_outcome_never_a_retry(error: Exception) -> None:
    message, _ = notice()
    client = _Failing(error)
    with pytest.raises(Exception) as raised:
        AliyunSmsSender(lambda: client, lambda: PROVIDER).send(message)
    # Neither TransientError nor ProviderRejected: the caller records UNCERTAIN and never resends.
    assert not isinstance(raised.value, TransientError | ProviderRejected)
    assert client.calls == 1


class _Recording:
    provider = "sms-voice"

    def __init__(self) -> None:
        self.sent: list[OutboundMessage] = []

    def send(self, message: OutboundMessage) -> str:
        self.sent.append(message)
        return "aws-1"


def test_only_mainland_numbers_go_to_the_domestic_provider(backend: AliyunSmsBackend) -> None:
    aws = _Recording()
    router = CountryRoutedSms(aws, {"+86": sender()})
    china, _ = notice()
    us = OutboundMessage(destination="+12025550143", body="Harbor Finance: 3 days past due.")
    biz_id = router.send(china)
    assert biz_id in backend.sent and provider_of(router, china) == "aliyun-sms"
    assert router.send(us) == "aws-1" and provider_of(router, us) == "sms-voice"
    assert aws.sent == [us]
