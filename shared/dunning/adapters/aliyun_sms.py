"""SMS to mainland China through Alibaba Cloud SMS (Dysmsapi ``SendSms``), and the router that picks
a provider per destination country.

Mainland carriers deliver only a registered signature (签名, shown as 【…】) with a pre-approved
template: the notice goes out as ``TemplateCode`` + ``TemplateParam`` (the named params of
docs/china.md), never as free text. Failures are sorted as for SES and End User Messaging
(dunning.adapters.senders):
  TransientError    not accepted, try later (throttled, a flow-control limit, no balance)
  ProviderRejected  refused for good (a bad number, an unregistered template, an auth failure)
  anything else     a 5xx or a network failure: it may have gone out, the caller records UNCERTAIN
The SDK retries only when given RetryOptions; none are given, so each send is one request.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from dunning.domain.models import valid_e164
from dunning.domain.policy import SmsProvider
from dunning.ports import OutboundMessage, ProviderRejected, Sender, TransientError

PROVIDER = "aliyun-sms"
ENDPOINT = "dysmsapi.aliyuncs.com"

# Business codes of a 200 answer that mean "not accepted now, the same request may pass later".
_LATER = {"isv.BUSINESS_LIMIT_CONTROL", "isv.DAY_LIMIT_CONTROL", "isv.MINUTE_LIMIT_CONTROL",
          "isv.AMOUNT_NOT_ENOUGH", "isp.SYSTEM_BUSY"}


def _business_error(code: str) -> Exception:
    # Any other code of a 200 answer is the provider saying it did not take the message.
    return TransientError(code) if code in _LATER else ProviderRejected(code[:64])


def _classify(exc: Exception) -> Exception:
    from alibabacloud_tea_openapi.exceptions import ClientException, ThrottlingException

    code = str(getattr(exc, "code", "") or "")[:64]
    if isinstance(exc, ThrottlingException) or code.startswith("Throttling"):
        return TransientError(code or "Throttling")
    if isinstance(exc, ClientException):  # 4xx: refused at the gateway (signature, key, parameters)
        return ProviderRejected(code or "ClientError")
    # A 5xx (ServerException), a timeout or a dropped connection: it may have been accepted.
    unknown: Exception = exc
    return unknown


class AliyunSmsSender:
    """``SendSms`` with the registered signature and the template the notice's id maps to."""

    provider = PROVIDER

    def __init__(self, client: Callable[[], Any], config: Callable[[], SmsProvider]) -> None:
        self._client, self._config = client, config

    def request(self, message: OutboundMessage) -> dict[str, str]:
        """The SendSms fields for ``message`` (ProviderRejected when no template is registered)."""
        config = self._config()
        template = config.templates.get(message.template_id or "")
        if template is None:
            # No free text outside approved templates: a carrier would drop it anyway.
            raise ProviderRejected("NoRegisteredTemplate")
        params = message.params or {}
        missing = [name for name in template.params if name not in params]
        if missing:
            raise ProviderRejected("TemplateParamMissing")
        return {
            "PhoneNumbers": message.destination.removeprefix(config.country_code),
            "SignName": config.sign_name,
            "TemplateCode": template.code,
            "TemplateParam": json.dumps({name: params[name] for name in template.params},
                                        ensure_ascii=False, separators=(",", ":")),
            # Ids only: the provider hands OutId back on the receipt.
            "OutId": ":".join((message.tags or {}).get(k, "") for k in ("case_id", "step_id"))[:64],
        }

    def send(self, message: OutboundMessage) -> str:
        try:
            valid_e164(message.destination)
        except ValueError as exc:
            raise ProviderRejected("InvalidPhoneNumber") from exc
        fields = self.request(message)
        from alibabacloud_dysmsapi20170525 import models
        from darabonba.runtime import RuntimeOptions

        request = models.SendSmsRequest(
            phone_numbers=fields["PhoneNumbers"], sign_name=fields["SignName"],
            template_code=fields["TemplateCode"], template_param=fields["TemplateParam"],
            out_id=fields["OutId"] or None)
        # Timeouts (ms) well inside the function's 30 s: a hung call ends as UNCERTAIN here.
        runtime = RuntimeOptions(autoretry=False, max_attempts=1, connect_timeout=5000, read_timeout=10000)
        try:
            response = self._client().send_sms_with_options(request, runtime)
        except Exception as exc:  # noqa: BLE001 - sorted by what it means for at-most-once
            raise _classify(exc) from exc
        body = response.body
        code = str(getattr(body, "code", "") or "")
        if code != "OK":
            raise _business_error(code or "NoCode")
        biz_id = getattr(body, "biz_id", None)
        if not biz_id:
            # Accepted but without an id: it went out; nothing can be matched to it later.
            raise RuntimeError("SendSms accepted without a BizId")
        return str(biz_id)


def aliyun_client(credentials: Callable[[], dict[str, str]], endpoint: str = ENDPOINT) -> Any:
    """The Dysmsapi client, keyed from the secret (``access_key_id``, ``access_key_secret``)."""
    from alibabacloud_dysmsapi20170525.client import Client
    from alibabacloud_tea_openapi.utils_models import Config

    keys = credentials()
    return Client(Config(access_key_id=keys["access_key_id"], access_key_secret=keys["access_key_secret"],
                         endpoint=endpoint))


class CountryRoutedSms:
    """One SMS sender per destination country: numbers under a routed country code go to its
    provider, the rest to ``default`` (AWS End User Messaging or SNS)."""

    def __init__(self, default: Sender, routes: dict[str, Sender]) -> None:
        self._default = default
        self.provider = default.provider  # what provider_of falls back to; each send names its own
        # Longest code first: +1 must not take +1242's numbers.
        self._routes = sorted(routes.items(), key=lambda kv: -len(kv[0]))

    def route(self, message: OutboundMessage) -> Sender:
        for code, sender in self._routes:
            if message.destination.startswith(code):
                return sender
        return self._default

    def provider_for(self, message: OutboundMessage) -> str:
        return self.route(message).provider

    def send(self, message: OutboundMessage) -> str:
        return self.route(message).send(message)
