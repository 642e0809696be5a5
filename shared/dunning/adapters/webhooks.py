"""SMS provider webhooks: verify the signature, then turn the body into an inbound reply or a receipt.

Providers:
  twilio   form-encoded; ``X-Twilio-Signature`` = base64(HMAC-SHA1(auth token, URL + the POST
           parameters sorted by name, each name+value appended)), exactly as Twilio computes it.
  generic  JSON; ``X-Dunning-Signature: t=<unix ts>,v1=<hex HMAC-SHA256 over "<ts>.<raw body>">``,
           accepted only within a 5-minute window either side of now (replay protection).

Everything here raises a ``WebhookError`` with its HTTP status; messages never carry the body,
numbers or text (ids and reasons only), so they are safe to log and to return.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import parse_qsl

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from dunning.adapters import json_limits
from dunning.ports import DeliveryReceipt, InboundSms, ReceiptStatus, Refused

MAX_BODY_BYTES = 16 * 1024
REPLAY_WINDOW_SECONDS = 300
# ASCII digits only, and no more than a Unix time needs: str.isdigit() also takes superscripts
# and other Unicode digits that int() refuses, and int() refuses more than 4,300 digits.
_UNIX_TIME = re.compile(r"[0-9]{1,12}")

# Provider statuses that mean something for a notice; the others (queued, sent, ...) are progress only.
_RECEIPT_STATUSES: dict[str, ReceiptStatus] = {
    "delivered": "DELIVERED",
    "undelivered": "FAILED",
    "failed": "FAILED",
}


class WebhookError(Refused):
    """A webhook request refused before anything is written."""


class MalformedPayload(WebhookError):
    status, title = 400, "Malformed webhook body"


class BadSignature(WebhookError):
    status, title = 403, "Signature verification failed"


class UnknownProvider(WebhookError):
    status, title = 404, "Unknown SMS provider"


class PayloadTooLarge(WebhookError):
    status, title = 413, "Webhook body too large"


WebhookMessage = InboundSms | DeliveryReceipt


# --------------------------------------------------------------------------- signatures


def twilio_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """Twilio's X-Twilio-Signature for a POST to `url` with form `params` (repeated names allowed)."""
    values: dict[str, set[str]] = {}
    for name, value in params:
        values.setdefault(name, set()).add(value)
    payload = url + "".join(name + value for name in sorted(values) for value in sorted(values[name]))
    digest = hmac.new(auth_token.encode("utf-8"), payload.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def generic_signature(secret: str, timestamp: int, body: bytes) -> str:
    """The v1 value of X-Dunning-Signature: hex HMAC-SHA256 over "<timestamp>.<raw body>"."""
    signed = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def generic_signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={generic_signature(secret, timestamp, body)}"


def _same(expected: str, given: str) -> bool:
    """Constant-time comparison that also takes a garbled (non-ASCII) header: compare_digest
    refuses non-ASCII str, and a forged header must be a 403, not a crash."""
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8", "surrogatepass"))


def _parse_generic_header(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and _UNIX_TIME.fullmatch(value):
            timestamp = int(value)
        elif key == "v1" and value:
            signatures.append(value.strip().lower())
    if timestamp is None or not signatures:
        raise BadSignature("signature header must carry t=<unix time> and v1=<hex digest>")
    return timestamp, signatures


def verify_generic(secret: str, header: str | None, body: bytes, now: datetime) -> None:
    if not header:
        raise BadSignature("missing X-Dunning-Signature")
    timestamp, signatures = _parse_generic_header(header)
    if abs(now.timestamp() - timestamp) > REPLAY_WINDOW_SECONDS:
        raise BadSignature("signature timestamp outside the replay window")
    expected = generic_signature(secret, timestamp, body)
    if not any(_same(expected, candidate) for candidate in signatures):
        raise BadSignature("signature does not match")


def verify_twilio(auth_token: str, header: str | None, url: str, params: list[tuple[str, str]]) -> None:
    if not header:
        raise BadSignature("missing X-Twilio-Signature")
    if not _same(twilio_signature(auth_token, url, params), header.strip()):
        raise BadSignature("signature does not match")


# --------------------------------------------------------------------------- bodies


def _form(body: bytes) -> list[tuple[str, str]]:
    try:
        return parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body))
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedPayload("body is not form-encoded UTF-8") from exc


def _required(params: Mapping[str, str], *names: str) -> None:
    missing = [n for n in names if not params.get(n)]
    if missing:
        raise MalformedPayload(f"missing field(s): {', '.join(missing)}")


# Ids and numbers become parts of DynamoDB keys and idempotency keys (a sort key holds 1 KiB):
# anything longer than a provider ever sends is refused, not stored.
MAX_ID_CHARS = 128
MAX_NUMBER_CHARS = 32
MAX_STATUS_CHARS = 32


def _bounded(params: Mapping[str, str | None], limits: Mapping[str, int]) -> None:
    long = sorted(name for name, limit in limits.items() if len(params.get(name) or "") > limit)
    if long:
        raise MalformedPayload(f"field(s) too long: {', '.join(long)}")


def parse_twilio(params: list[tuple[str, str]], now: datetime) -> WebhookMessage:
    fields = dict(params)
    _required(fields, "MessageSid")
    _bounded(fields, {"MessageSid": MAX_ID_CHARS, "From": MAX_NUMBER_CHARS, "To": MAX_NUMBER_CHARS,
                      "MessageStatus": MAX_STATUS_CHARS})
    if "Body" in fields and "MessageStatus" not in fields:
        _required(fields, "From")
        return InboundSms(
            provider="twilio",
            message_id=fields["MessageSid"],
            from_number=fields["From"],
            to_number=fields.get("To"),
            text=fields["Body"],
            received_at=now,
        )
    _required(fields, "MessageStatus")
    status = fields["MessageStatus"].lower()
    return DeliveryReceipt(
        provider="twilio",
        message_id=fields["MessageSid"],
        status=_RECEIPT_STATUSES.get(status),
        provider_status=status,
        at=now,
    )


class _GenericBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: Literal["inbound", "receipt"]
    message_id: str = Field(max_length=MAX_ID_CHARS)
    from_: str | None = Field(default=None, max_length=MAX_NUMBER_CHARS)
    to: str | None = Field(default=None, max_length=MAX_NUMBER_CHARS)
    text: str | None = None
    status: str | None = Field(default=None, max_length=MAX_STATUS_CHARS)
    timestamp: datetime | None = None

    @field_validator("message_id")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("blank")
        return value

    @field_validator("timestamp")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("timestamp needs a time zone")
        try:
            return value.astimezone(UTC) if value else None
        except OverflowError as exc:  # 9999-12-31T23:59:59-14:00 is past the last UTC instant
            raise ValueError("timestamp out of range") from exc


def parse_generic(body: bytes, now: datetime) -> WebhookMessage:
    try:
        raw = json_limits.loads(body)
        if not isinstance(raw, dict):
            raise MalformedPayload("body must be a JSON object")
        raw = {("from_" if k == "from" else k): v for k, v in raw.items()}
        parsed = _GenericBody.model_validate(raw)
    except (ValueError, ValidationError) as exc:
        if isinstance(exc, MalformedPayload):
            raise
        # field names only: pydantic's messages would echo the values
        fields = sorted({str(e["loc"][0]) for e in exc.errors()}) if isinstance(exc, ValidationError) else []
        raise MalformedPayload(f"invalid JSON body{': ' + ', '.join(fields) if fields else ''}") from exc
    at = parsed.timestamp or now
    if parsed.type == "inbound":
        if not parsed.from_ or parsed.text is None:
            raise MalformedPayload("an inbound message needs from and text")
        return InboundSms(
            provider="generic",
            message_id=parsed.message_id,
            from_number=parsed.from_,
            to_number=parsed.to,
            text=parsed.text,
            received_at=at,
        )
    if not parsed.status:
        raise MalformedPayload("a receipt needs a status")
    status = parsed.status.lower()
    return DeliveryReceipt(
        provider="generic",
        message_id=parsed.message_id,
        status=_RECEIPT_STATUSES.get(status),
        provider_status=status,
        at=at,
    )


# --------------------------------------------------------------------------- providers


@dataclass(frozen=True)
class WebhookRequest:
    """What the HTTP edge hands over: headers lower-cased, the raw body, the public URL called."""

    headers: Mapping[str, str]
    body: bytes
    url: str
    source_ip: str | None = None  # as API Gateway saw it (requestContext.http.sourceIp)


def _twilio(secret: str, request: WebhookRequest, now: datetime) -> WebhookMessage:
    params = _form(request.body)
    verify_twilio(secret, request.headers.get("x-twilio-signature"), request.url, params)
    return parse_twilio(params, now)


def _generic(secret: str, request: WebhookRequest, now: datetime) -> WebhookMessage:
    verify_generic(secret, request.headers.get("x-dunning-signature"), request.body, now)
    return parse_generic(request.body, now)


PROVIDERS: dict[str, Callable[[str, WebhookRequest, datetime], WebhookMessage]] = {
    "twilio": _twilio,
    "generic": _generic,
}


def read_webhook(
    provider: str, request: WebhookRequest, secrets: Callable[[], Mapping[str, Any]], now: datetime
) -> WebhookMessage:
    """Check provider, size and signature (in that order), then parse. Raises WebhookError."""
    handler = PROVIDERS.get(provider)
    if handler is None:
        raise UnknownProvider("no such provider")
    if len(request.body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"body exceeds {MAX_BODY_BYTES} bytes")
    secret = secrets().get(provider)
    if not secret:
        raise BadSignature("no credentials configured for this provider")
    return handler(str(secret), request, now)
