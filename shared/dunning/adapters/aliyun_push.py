"""Alibaba Cloud SMS's HTTP push: delivery reports (SmsReport) and customers' replies (SmsUp).

The push is not signed. Chosen over the queue mode (a second provider API, its own signing and a
scheduled poller) because the endpoint can be made safe on its own, and this is how:

- **unguessable**: the URL configured in the console carries ``?key=<secret>`` (the ``aliyun``
  entry of the webhook secret, 32+ random bytes), compared in constant time; a request without
  it is refused 403 before its body is read;
- **allow-listed**: with ``ALIYUN_PUSH_SOURCE_CIDRS`` set (the provider's published callback
  addresses), any other source is refused 403;
- **idempotent**: every report and reply has its own key (``BizId`` and status; the reply's
  sequence id), so a redelivered batch writes nothing twice (the same de-duplication as every
  provider's);
- **unable to do harm on its own**: a report only marks one of our messages delivered or failed;
  a reply is read like any other, but only an opt-out acts at once (it can only make us write
  less); a promise, a dispute, a plan accepted or an opt-in from this endpoint is recorded and
  handed to a person to confirm, never acted on by the push alone.

Bodies are JSON arrays (a batch); times are Beijing time without a zone, as the provider sends
them. Everything refused raises a ``WebhookError`` naming no value.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from dunning.adapters import json_limits
from dunning.adapters.webhooks import BadSignature, MalformedPayload, PayloadTooLarge, WebhookMessage, WebhookRequest
from dunning.ports import DeliveryReceipt, InboundSms

MAX_PUSH_BYTES = 64 * 1024
MAX_ITEMS = 100
_BEIJING = ZoneInfo("Asia/Shanghai")


def read_aliyun_push(request: WebhookRequest, secret: str | None, source_cidrs: Sequence[str],
                     now: datetime) -> list[WebhookMessage]:
    """Check key, source and size, then parse the batch into receipts and replies."""
    if not secret:
        raise BadSignature("no credentials configured for this provider")
    given = (parse_qs(urlsplit(request.url).query).get("key") or [""])[0]
    if not hmac.compare_digest(given.encode(), secret.encode()):
        raise BadSignature("push key missing or wrong")
    if source_cidrs and not _allowed(request.source_ip, source_cidrs):
        raise BadSignature("push from an address not on the allow-list")
    if len(request.body) > MAX_PUSH_BYTES:
        raise PayloadTooLarge(f"body exceeds {MAX_PUSH_BYTES} bytes")
    try:
        batch = json_limits.loads(request.body)
    except ValueError as exc:
        raise MalformedPayload("invalid JSON body") from exc
    if not isinstance(batch, list) or not batch or len(batch) > MAX_ITEMS:
        raise MalformedPayload(f"body must be a JSON array of 1 to {MAX_ITEMS} reports or replies")
    return [_item(raw, now) for raw in batch]


def _allowed(source_ip: str | None, cidrs: Sequence[str]) -> bool:
    try:
        address = ipaddress.ip_address(source_ip or "")
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(c, strict=False) for c in cidrs)


def _item(raw: Any, now: datetime) -> WebhookMessage:
    if not isinstance(raw, dict):
        raise MalformedPayload("every item must be an object")
    if "biz_id" in raw:
        return _report(raw, now)
    if "content" in raw:
        return _reply(raw, now)
    raise MalformedPayload("an item is neither a report (biz_id) nor a reply (content)")


def _text(raw: Mapping[str, Any], name: str, limit: int, required: bool = True) -> str:
    value = raw.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str | int) or isinstance(value, bool) or not str(value).strip() or len(str(value)) > limit:
        raise MalformedPayload(f"invalid {name}")
    return str(value)


def _when(raw: Mapping[str, Any], name: str, now: datetime) -> datetime:
    value = raw.get(name)
    if value is None:
        return now
    try:
        return datetime.strptime(str(value), "%Y-%m-%d %H:%M:%S").replace(tzinfo=_BEIJING).astimezone(now.tzinfo)
    except ValueError as exc:
        raise MalformedPayload(f"invalid {name}") from exc


def _report(raw: Mapping[str, Any], now: datetime) -> DeliveryReceipt:
    success = raw.get("success")
    if not isinstance(success, bool):
        raise MalformedPayload("invalid success")
    code = "DELIVERED" if success else _text(raw, "err_code", 64)
    return DeliveryReceipt(provider="aliyun", message_id=_text(raw, "biz_id", 64), status="DELIVERED" if success
                           else "FAILED", provider_status=code, at=_when(raw, "report_time", now))


def _reply(raw: Mapping[str, Any], now: datetime) -> InboundSms:
    phone = _text(raw, "phone_number", 20)
    if not phone.isascii() or not phone.isdigit():
        raise MalformedPayload("invalid phone_number")
    content = raw.get("content")
    if not isinstance(content, str) or len(content) > 1600:
        raise MalformedPayload("invalid content")
    return InboundSms(provider="aliyun", message_id=f"up-{_text(raw, 'sequence_id', 64)}",
                      from_number=f"+86{phone.removeprefix('86') if len(phone) > 11 else phone}",
                      to_number=_text(raw, "dest_code", 32, required=False) or None, text=content,
                      received_at=_when(raw, "send_time", now), authenticated=False)
