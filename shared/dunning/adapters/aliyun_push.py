"""Alibaba Cloud SMS's HTTP batch push: delivery receipts (SmsReport) and customers' replies (SmsUp).

The push is not signed. It is accepted only at an unguessable address: the console's push URL is
``<PublicWebhookBaseUrl>/webhooks/sms/aliyun-report?token=<T>`` (``aliyun-up`` for replies), and
``T`` is the ``aliyun`` entry of the webhook secret (at least 32 characters), compared in constant
time before the body is read. What a forged push could do is bounded: a receipt only moves a
notice we sent through this provider (found by its BizId) to DELIVERED or FAILED; a reply goes
through the same reply reader as every other provider's, idempotently by its sequence id, from a
mainland number that must belong to an account (docs/china.md has the choice and its limits).

Times in the push are Beijing time (UTC+8, no daylight saving) and become UTC here.
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Literal

from dunning.adapters import json_limits
from dunning.adapters.webhooks import BadSignature, MalformedPayload, PayloadTooLarge
from dunning.ports import DeliveryReceipt, InboundSms

PROVIDER = "aliyun"  # as AliyunSmsSender names its messages (aliyun:<BizId>)
PUSH_KINDS: dict[str, Literal["report", "up"]] = {"aliyun-report": "report", "aliyun-up": "up"}
MAX_BODY_BYTES = 256 * 1024  # a batch holds up to a few hundred reports
MIN_TOKEN_CHARS = 32
BEIJING = timezone(timedelta(hours=8))
# The provider's answer that it may stop retrying this batch (it retries anything else).
ACCEPTED = {"code": 0, "msg": "成功"}

PushMessage = DeliveryReceipt | InboundSms


def verify_token(expected: str | None, given: str | None) -> None:
    if not expected or len(expected) < MIN_TOKEN_CHARS:
        raise BadSignature("no push token configured for this provider")
    if not given or not hmac.compare_digest(expected.encode(), given.encode("utf-8", errors="replace")):
        raise BadSignature("push token does not match")


def _text(item: dict[str, Any], name: str, limit: int) -> str:
    value = item.get(name)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value or len(value) > limit:
        raise MalformedPayload(f"{name} missing or malformed")
    return value


def _beijing(item: dict[str, Any], name: str) -> datetime:
    try:
        local = datetime.strptime(_text(item, name, 19), "%Y-%m-%d %H:%M:%S")
    except ValueError as exc:
        raise MalformedPayload(f"{name} is not a time") from exc
    return local.replace(tzinfo=BEIJING).astimezone(UTC)


def _mainland(item: dict[str, Any]) -> str:
    phone = _text(item, "phone_number", 20).removeprefix("+86").removeprefix("86")
    if not (len(phone) == 11 and phone.isascii() and phone.isdigit() and phone.startswith("1")):
        raise MalformedPayload("phone_number is not a mainland mobile number")
    return f"+86{phone}"


def parse_report(item: dict[str, Any]) -> DeliveryReceipt:
    """One SmsReport: the carrier's word on a message we sent (``biz_id`` is SendSms's BizId)."""
    success = item.get("success")
    if not isinstance(success, bool):
        raise MalformedPayload("success missing or malformed")
    code = _text(item, "err_code", 64) if not success else str(item.get("err_code") or "DELIVERED")[:64]
    return DeliveryReceipt(provider=PROVIDER, message_id=_text(item, "biz_id", 64),
                           status="DELIVERED" if success else "FAILED", provider_status=code,
                           at=_beijing(item, "report_time"))


def parse_up(item: dict[str, Any], now: datetime) -> InboundSms:
    """One SmsUp: a customer's reply to our signature's messages."""
    content = item.get("content")
    if not isinstance(content, str) or len(content) > 1600:
        raise MalformedPayload("content missing or malformed")
    return InboundSms(provider=PROVIDER, message_id=f"up-{_text(item, 'sequence_id', 32)}",
                      from_number=_mainland(item), to_number=None, text=content,
                      received_at=_beijing(item, "send_time") if item.get("send_time") else now)


def read_push(provider: str, body: bytes, token: str | None, expected: str | None,
              now: datetime) -> list[PushMessage]:
    """The messages of one push, after the token (BadSignature) and the size and shape checks."""
    verify_token(expected, token)
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"body exceeds {MAX_BODY_BYTES} bytes")
    try:
        items = json_limits.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedPayload("body is not JSON") from exc
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise MalformedPayload("body is not a list of messages")
    kind = PUSH_KINDS[provider]
    return [parse_report(i) if kind == "report" else parse_up(i, now) for i in items]
