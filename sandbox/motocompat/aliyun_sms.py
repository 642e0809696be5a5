"""A stand-in for Alibaba Cloud SMS (Dysmsapi 2017-05-25), the provider +86 numbers go through.

The functions call it with the real SDK (``alibabacloud_dysmsapi20170525``): the request is built,
signed (ACS3-HMAC-SHA256 over the canonical request) and handed to ``DaraCore.do_action``, the
SDK's one HTTP call. ``aliyun_sms()`` answers there, without a network, as the service does:

  SendSms   the signature is checked against the stand-in's access keys (SignatureDoesNotMatch,
            InvalidAccessKeyId.NotFound, HTTP 4xx); then, in a 200 answer, a ``Code``: OK with a
            BizId, or isv.MOBILE_NUMBER_ILLEGAL (not 11 mainland digits), isv.SMS_SIGNATURE_ILLEGAL
            (unregistered 签名), isv.SMS_TEMPLATE_ILLEGAL (unknown code),
            isv.TEMPLATE_MISSING_PARAMETERS (a registered param not given),
            isv.BUSINESS_LIMIT_CONTROL (over the per-number daily limit).

What the handset shows is the provider's own text: 【signature】 + the registered template with the
params filled in, never the text the engine rendered. The sandbox registers the templates from the
policy (``register_from_policy``), so a template that drifted from its registration shows up in
what the simulated customers read. Receipts (SmsReport) are produced by ``report`` for the driver.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlparse

from darabonba.core import DaraCore
from darabonba.response import DaraResponse

from sandbox.motocompat.patching import replaced, require_parameters

_DO_ACTION = require_parameters(DaraCore.do_action, "request", "runtime_option")
_HOST = "dysmsapi.aliyuncs.com"
_MAINLAND = re.compile(r"^1[3-9]\d{9}$")
_PARAM = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
DAILY_LIMIT = 10  # the console's default per-number daily limit for notification templates


@dataclass
class SentSms:
    biz_id: str
    phone: str  # as given: 11 mainland digits
    sign_name: str
    template_code: str
    text: str  # what the handset shows
    out_id: str | None
    day: str


@dataclass
class AliyunSmsBackend:
    """One account's keys, registered signatures and templates, and accepted messages."""

    keys: dict[str, str] = field(default_factory=dict)  # AccessKeyId -> AccessKeySecret
    signatures: set[str] = field(default_factory=set)
    templates: dict[str, str] = field(default_factory=dict)  # code -> content with ${param}
    sent: dict[str, SentSms] = field(default_factory=dict)
    today: str = "1970-01-01"  # the driver moves it with the virtual clock (the daily limit)

    def register_template(self, code: str, content: str) -> None:
        self.templates[code] = content

    def send_sms(self, phone: str, sign_name: str, template_code: str, params: dict[str, Any],
                 out_id: str | None) -> dict[str, str]:
        request_id = str(uuid.uuid4()).upper()

        def refused(code: str, message: str) -> dict[str, str]:
            return {"Code": code, "Message": message, "RequestId": request_id}

        if not _MAINLAND.match(phone):
            return refused("isv.MOBILE_NUMBER_ILLEGAL", "invalid mobile number")
        if sign_name not in self.signatures:
            return refused("isv.SMS_SIGNATURE_ILLEGAL", "signature not approved")
        content = self.templates.get(template_code)
        if content is None:
            return refused("isv.SMS_TEMPLATE_ILLEGAL", "template not approved")
        missing = [name for name in _PARAM.findall(content) if name not in params]
        if missing:
            return refused("isv.TEMPLATE_MISSING_PARAMETERS", "template params missing")
        if sum(1 for s in self.sent.values() if s.phone == phone and s.day == self.today) >= DAILY_LIMIT:
            return refused("isv.BUSINESS_LIMIT_CONTROL", "daily limit reached for this number")
        text = f"【{sign_name}】" + _PARAM.sub(lambda m: str(params[m.group(1)]), content)
        biz_id = f"{uuid.uuid4().int % 10**15:015d}^0"
        self.sent[biz_id] = SentSms(biz_id, phone, sign_name, template_code, text, out_id, self.today)
        return {"Code": "OK", "Message": "OK", "BizId": biz_id, "RequestId": request_id}

    def report(self, biz_id: str, at: datetime, success: bool = True) -> dict[str, Any]:
        """The SmsReport message the provider queues for ``biz_id`` when the carrier answers."""
        sms = self.sent[biz_id]
        stamp = at.strftime("%Y-%m-%d %H:%M:%S")  # Beijing time in the real service; UTC here
        return {"phone_number": sms.phone, "success": success, "biz_id": biz_id, "out_id": sms.out_id or "",
                "send_time": stamp, "report_time": stamp, "err_code": "DELIVERED" if success else "MK:0001",
                "err_msg": "用户接收成功" if success else "failed", "sms_size": "1"}


class _Rejected(Exception):
    def __init__(self, status: int, code: str) -> None:
        super().__init__(code)
        self.status, self.code = status, code


_backend = AliyunSmsBackend()


def aliyun_sms_backend() -> AliyunSmsBackend:
    """The stand-in's state (only while ``aliyun_sms()`` is entered)."""
    return _backend


def _verify(request: Any) -> None:
    """The request's ACS3-HMAC-SHA256 signature (the SDK's V3 signing), recomputed with our copy of
    the key's secret over the same canonical request."""
    import copy
    import hashlib

    from alibabacloud_tea_openapi.utils import Utils

    headers = {str(k): str(v) for k, v in (request.headers or {}).items()}
    credential = re.match(r"^ACS3-HMAC-SHA256 Credential=([^,]+),", headers.get("Authorization", ""))
    secret = _backend.keys.get(credential.group(1)) if credential else None
    if credential is None or secret is None:
        raise _Rejected(404, "InvalidAccessKeyId.NotFound")
    body = request.body or b""
    payload = hashlib.sha256(body if isinstance(body, bytes) else str(body).encode()).hexdigest()
    unsigned = copy.copy(request)
    unsigned.headers = {k: v for k, v in headers.items() if k != "Authorization"}
    expected = Utils.get_authorization(unsigned, "ACS3-HMAC-SHA256", payload, credential.group(1), secret)
    if headers.get("x-acs-content-sha256") != payload or expected != headers["Authorization"]:
        raise _Rejected(400, "SignatureDoesNotMatch")


def _answer(request: Any) -> tuple[int, dict[str, Any]]:
    query = {str(k): str(v) for k, v in (request.query or {}).items()}
    try:
        _verify(request)
    except _Rejected as exc:
        return exc.status, {"Code": exc.code, "Message": exc.code, "RequestId": str(uuid.uuid4()).upper()}
    if (request.headers or {}).get("x-acs-action") != "SendSms":
        return 400, {"Code": "InvalidAction.NotFound", "Message": "not modelled by the sandbox's stand-in"}
    try:
        params = json.loads(query.get("TemplateParam") or "{}")
    except json.JSONDecodeError:
        return 200, {"Code": "isv.INVALID_JSON_PARAM", "Message": "TemplateParam is not JSON"}
    return 200, _backend.send_sms(query.get("PhoneNumbers", ""), query.get("SignName", ""),
                                  query.get("TemplateCode", ""), params if isinstance(params, dict) else {},
                                  query.get("OutId"))


@contextmanager
def aliyun_sms() -> Iterator[AliyunSmsBackend]:
    """Answer the SDK's requests to Dysmsapi in-process; fresh state each time. Any other host
    still goes to the SDK's own HTTP call (there is none in the sandbox)."""

    def do_action(request: Any, runtime_option: Any = None) -> DaraResponse:
        host = (request.headers or {}).get("host") or urlparse(str(getattr(request, "pathname", ""))).hostname
        if host != _HOST:
            return original(request, runtime_option)
        status, body = _answer(request)
        response = DaraResponse()
        response.status_code, response.status_message = status, "OK" if status == 200 else "Error"
        response.headers = {"content-type": "application/json;charset=utf-8"}
        response.body = json.dumps(body, ensure_ascii=False).encode("utf-8")
        return response

    global _backend
    _backend = AliyunSmsBackend()
    try:
        with replaced(DaraCore, "do_action", staticmethod(do_action)) as original:
            yield _backend
    finally:
        _backend = AliyunSmsBackend()
