"""A stand-in for Alibaba Cloud SMS (Dysmsapi ``SendSms``), so the sandbox exercises the path
texts to mainland numbers take, in-process and without a network.

It answers the adapter's real request (``dunning.adapters.aliyun_sms``, whose urllib3 transport is
replaced while the local AWS runs) the way the service does: it checks the RPC signature against
the sandbox's RAM user, the signature name and template code against what the published policy
registered, the template's variables against the registration and the number as a mainland
mobile; it then "delivers" the provider's own rendering of the registered template (【签名】, the
text, the fixed opt-out line) to whoever listens (the sandbox's provider tap), and answers with a
BizId. Refusals carry the service's error codes, so every branch of the adapter's mapping runs.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from sandbox.motocompat.patching import replaced
from sandbox.motocompat.sent_messages import Accepted

# The sandbox's Alibaba Cloud RAM user (complete_mock stores it in Secrets Manager).
ACCESS_KEY_ID, ACCESS_KEY_SECRET = "LTAI5tSandboxDunning", "sandbox-aliyun-secret-not-for-production"
_MAINLAND_MOBILE = re.compile(r"1[3-9][0-9]{9}")
_listeners: list[Callable[[Accepted], None]] = []


class StandIn:
    """SendSms as the service answers it; `registered` is what the policy's routes registered."""

    def __init__(self, routes: list[Any]) -> None:
        self.routes = routes
        self.sent = 0

    def __call__(self, url: str) -> tuple[int, bytes]:
        from dunning.adapters.aliyun_sms import signature

        query = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
        given = query.pop("Signature", "")
        if query.get("AccessKeyId") != ACCESS_KEY_ID:
            return _refuse(404, "InvalidAccessKeyId.NotFound")
        if signature(query, ACCESS_KEY_SECRET) != given:
            return _refuse(400, "SignatureDoesNotMatch")
        if query.get("Action") != "SendSms" or query.get("Version") != "2017-05-25":
            return _refuse(400, "InvalidParameter")
        route = next((r for r in self.routes if r.sign_name == query.get("SignName")), None)
        if route is None:
            return _refuse(200, "isv.SMS_SIGNATURE_ILLEGAL")
        template_id = next((t for t, reg in route.templates.items() if reg.code == query.get("TemplateCode")), None)
        if template_id is None:
            return _refuse(200, "isv.SMS_TEMPLATE_ILLEGAL")
        try:
            params = json.loads(query.get("TemplateParam") or "{}")
        except ValueError:
            return _refuse(200, "isv.INVALID_JSON_PARAM")
        if not isinstance(params, dict) or sorted(params) != sorted(route.templates[template_id].params):
            return _refuse(200, "isv.TEMPLATE_PARAMS_ILLEGAL")
        phone = query.get("PhoneNumbers", "")
        if not _MAINLAND_MOBILE.fullmatch(phone):
            return _refuse(200, "isv.MOBILE_NUMBER_ILLEGAL")
        from dunning.domain.notices.render import render_registered

        body = render_registered(template_id, route.locale, route.sign_name, {k: str(v) for k, v in params.items()})
        self.sent += 1
        # Like the service's: 18 digits; derived from what was sent, so ids from different shards of
        # one run never collide and a rerun with the same seed gives the same ids
        digest = hashlib.sha256(f"{phone}|{self.sent}|{query.get('TemplateCode')}|{query.get('Timestamp')}".encode())
        biz_id = f"{int.from_bytes(digest.digest()[:8], 'big') % 10**18:018d}^0"
        for listener in list(_listeners):
            listener(Accepted("aliyun", biz_id, "SMS", f"+86{phone}", None, body))
        return 200, json.dumps({"Code": "OK", "Message": "OK", "BizId": biz_id,
                                "RequestId": str(uuid.uuid4()).upper()}).encode()


def _refuse(status: int, code: str) -> tuple[int, bytes]:
    return status, json.dumps({"Code": code, "Message": code, "RequestId": str(uuid.uuid4()).upper()}).encode()


@contextmanager
def aliyun_sms(routes: list[Any] | None = None) -> Iterator[StandIn]:
    """While the local AWS runs, the adapter's requests reach this stand-in instead of the network."""
    import dunning.adapters.aliyun_sms as adapter
    from dunning.domain.policy import default_policy

    stand_in = StandIn(routes if routes is not None else default_policy().sms_routes)
    with replaced(adapter, "_urllib3_transport", lambda: stand_in):
        yield stand_in


@contextmanager
def listening(on_accepted: Callable[[Accepted], None]) -> Iterator[None]:
    """``on_accepted(message)`` for every text the stand-in delivers."""
    _listeners.append(on_accepted)
    try:
        yield
    finally:
        _listeners.remove(on_accepted)
