"""Texts to mainland China through Alibaba Cloud SMS (Dysmsapi ``SendSms``, API version 2017-05-25).

Mainland carriers deliver only texts from a registered signature (签名, shown as 【…】) in a
pre-approved template: the request names the template by its code and fills its named variables
(``TemplateParam``); no free text leaves this adapter. The policy maps each of our zh-CN SMS
templates to its code (``Policy.sms_routes``) and ``dunning policy check`` refuses a template
without one.

The request is the service's RPC call, signed as its documentation specifies (HMAC-SHA1 over the
percent-encoded, sorted query, key ``AccessKeySecret + "&"``), sent with urllib3, which the layer
already carries. The vendor SDK pulls in aiohttp and twenty more packages (about 20 MB, twice the
room the layer has left) for this one call.

At most once, as for SES and End User Messaging: a refusal the provider answers before taking the
message (API throttling) is a ``TransientError`` (the gate is released and the send retried); a
refusal of the message itself (bad number, template, signature, a number's flow control) is
``ProviderRejected`` (recorded FAILED, never retried); anything else (a timeout, a 5xx, an answer
that cannot be read) may have been sent, so it is left to the caller to record UNCERTAIN.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from dunning.ports import OutboundMessage, ProviderRejected, TransientError

API_VERSION = "2017-05-25"
DEFAULT_ENDPOINT = "https://dysmsapi.aliyuncs.com/"
# Answered before the message was taken: safe to send again later.
_RETRYABLE = frozenset({"Throttling", "Throttling.User", "Throttling.Api", "ServiceUnavailable"})

# GET url -> (HTTP status, body). urllib3 in production; the sandbox's stand-in answers in-process.
Transport = Callable[[str], tuple[int, bytes]]


def _urllib3_transport() -> Transport:
    import urllib3

    pool = urllib3.PoolManager(timeout=urllib3.Timeout(connect=3.0, read=10.0), retries=False)

    def get(url: str) -> tuple[int, bytes]:
        resp = pool.request("GET", url)
        return int(resp.status), bytes(resp.data)

    return get


def percent_encode(value: str) -> str:
    """RFC 3986 percent-encoding as the RPC signature wants it (``~`` kept, space as %20)."""
    return quote(value, safe="-_.~")


def string_to_sign(params: dict[str, str], method: str = "GET") -> str:
    canonical = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items()))
    return f"{method}&{percent_encode('/')}&{percent_encode(canonical)}"


def signature(params: dict[str, str], access_key_secret: str, method: str = "GET") -> str:
    digest = hmac.new(f"{access_key_secret}&".encode(), string_to_sign(params, method).encode(), hashlib.sha1)
    return base64.b64encode(digest.digest()).decode("ascii")


def national_number(e164: str) -> str:
    """``+8613800138000`` -> ``13800138000``: the service takes mainland numbers without the prefix."""
    if not e164.startswith("+86") or not e164[3:].isdigit():
        raise ProviderRejected("NotAMainlandNumber")
    return e164[3:]


class AliyunSmsSender:
    """``SendSms`` with the route's signature and the message's approved template."""

    provider = "aliyun"

    def __init__(self, access_key_id: str, access_key_secret: str, endpoint: str = DEFAULT_ENDPOINT,
                 transport: Transport | None = None, clock: Callable[[], datetime] | None = None) -> None:
        self._key_id, self._secret = access_key_id, access_key_secret
        self._endpoint = endpoint if endpoint.endswith("/") else endpoint + "/"
        self._transport = transport
        self._clock = clock or (lambda: datetime.now(UTC))

    def send(self, message: OutboundMessage) -> str:
        call = message.template
        if call is None:  # free text never goes to a mainland number
            raise ProviderRejected("NoApprovedTemplate")
        params = {
            "AccessKeyId": self._key_id, "Action": "SendSms", "Format": "JSON", "RegionId": "cn-hangzhou",
            "SignatureMethod": "HMAC-SHA1", "SignatureNonce": uuid.uuid4().hex, "SignatureVersion": "1.0",
            "Timestamp": self._clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "Version": API_VERSION,
            "PhoneNumbers": national_number(message.destination), "SignName": call.sign_name,
            "TemplateCode": call.code, "TemplateParam": json.dumps(call.params, ensure_ascii=False,
                                                                   separators=(",", ":")),
        }
        if message.tags:  # ids only: comes back on the receipt as OutId
            params["OutId"] = message.tags.get("case_id", "")[:64]
        query = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items()))
        url = f"{self._endpoint}?Signature={percent_encode(signature(params, self._secret))}&{query}"
        transport = self._transport or _urllib3_transport()
        self._transport = transport
        status, body = transport(url)  # a network error propagates: the outcome is unknown
        answer = _answer(status, body)
        code = str(answer.get("Code", ""))
        if code == "OK" and answer.get("BizId"):
            return str(answer["BizId"])
        if code in _RETRYABLE or status == 429:
            raise TransientError(code or "Throttling")
        if code.startswith(("isv.", "Forbidden", "SignatureDoesNotMatch", "InvalidAccessKeyId", "MissingParameter",
                            "InvalidParameter")):
            raise ProviderRejected(code)
        raise RuntimeError(f"SendSms answered {status} {code or 'without a code'}")  # may have been sent


def _answer(status: int, body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise RuntimeError(f"SendSms answered {status} with no JSON") from None
    if not isinstance(data, dict):
        raise RuntimeError(f"SendSms answered {status} with no object")
    return data
