"""Signed sample requests for the SMS webhook, with the test secrets.

Regenerate the sample events (the generic one is signed for the fixed test instant; pass --now to
sign it for the present, e.g. before a `sam local invoke` or a console test):

    .venv/bin/python -m tests.support.webhooks [--now]
"""

from __future__ import annotations

import base64
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from dunning.adapters.webhooks import generic_signature_header, twilio_signature

TWILIO_TOKEN = "test-twilio-auth-token"  # noqa: S105 - test secret
GENERIC_SECRET = "test-generic-webhook-secret"  # noqa: S105 - test secret
ALIYUN_PUSH_KEY = "test-aliyun-push-key-0123456789abcdef"  # noqa: S105 - test secret
SECRET_NAME = "dunning/sms-webhook"
PUBLIC_BASE = "https://hooks.example.com"
SIGNED_AT = datetime(2026, 11, 3, 15, 0, tzinfo=UTC)  # the function tests' clock
CUSTOMER = "+12025550143"
OUR_NUMBER = "+12025550100"
EVENTS = Path(__file__).resolve().parents[2] / "events" / "sms_webhook"


def http_event(
    provider: str, body: bytes, headers: dict[str, str], *, base64_body: bool = False, query: str = ""
) -> dict[str, Any]:
    path = f"/webhooks/sms/{provider}"
    return {
        "version": "2.0",
        "routeKey": "POST /webhooks/sms/{provider}",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {k.lower(): v for k, v in headers.items()},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "hooks",
            "domainName": "hooks.example.com",
            "http": {
                "method": "POST",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.10",
                "userAgent": "provider/1.0",
            },
            "requestId": "req-1",
            "routeKey": "POST /webhooks/sms/{provider}",
            "stage": "$default",
            "time": "03/Nov/2026:15:00:00 +0000",
            "timeEpoch": 1793718000000,
        },
        "pathParameters": {"provider": provider},
        "body": base64.b64encode(body).decode("ascii") if base64_body else body.decode("utf-8"),
        "isBase64Encoded": base64_body,
    }


def twilio_event(params: dict[str, str], *, token: str = TWILIO_TOKEN, query: str = "") -> dict[str, Any]:
    body = urlencode(params).encode("utf-8")
    url = f"{PUBLIC_BASE}/webhooks/sms/twilio" + (f"?{query}" if query else "")
    signature = twilio_signature(token, url, list(params.items()))
    return http_event(
        "twilio",
        body,
        {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature},
        base64_body=True,
        query=query,
    )


def twilio_inbound(
    text: str, sid: str = "SM0000000000000000000000000000001", sender: str = CUSTOMER, **kw: Any
) -> dict[str, Any]:
    return twilio_event(
        {
            "MessageSid": sid,
            "AccountSid": "AC00000000000000000000000000000000",
            "From": sender,
            "To": OUR_NUMBER,
            "Body": text,
            "NumMedia": "0",
        },
        **kw,
    )


def twilio_receipt(sid: str, status: str, **kw: Any) -> dict[str, Any]:
    return twilio_event(
        {
            "MessageSid": sid,
            "MessageStatus": status,
            "AccountSid": "AC00000000000000000000000000000000",
            "To": CUSTOMER,
            "From": OUR_NUMBER,
        },
        **kw,
    )


def generic_event(
    payload: dict[str, Any] | bytes, *, secret: str = GENERIC_SECRET, signed_at: datetime = SIGNED_AT
) -> dict[str, Any]:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode("utf-8")
    header = generic_signature_header(secret, int(signed_at.timestamp()), body)
    return http_event("generic", body, {"Content-Type": "application/json", "X-Dunning-Signature": header})


def generic_inbound(text: str, message_id: str = "gen-msg-0001", **kw: Any) -> dict[str, Any]:
    return generic_event(
        {
            "type": "inbound",
            "message_id": message_id,
            "from": CUSTOMER,
            "to": OUR_NUMBER,
            "text": text,
            "timestamp": "2026-11-03T15:00:00Z",
        },
        **kw,
    )


def write_samples(now: bool = False) -> None:
    signed_at = datetime.now(UTC) if now else SIGNED_AT
    samples = {
        "twilio-inbound": twilio_inbound("I lost my job, can I pay in instalments?"),
        "twilio-receipt": twilio_receipt("SM00000000000000000000000000000ff", "delivered"),
        "generic-inbound": generic_inbound("STOP", signed_at=signed_at),
    }
    EVENTS.mkdir(parents=True, exist_ok=True)
    for name, event in samples.items():
        (EVENTS / f"{name}.json").write_text(json.dumps(event, indent=2, ensure_ascii=False) + "\n", "utf-8")


if __name__ == "__main__":
    write_samples(now="--now" in sys.argv)


def aliyun_push(items: list[dict[str, Any]] | bytes, *, key: str | None = ALIYUN_PUSH_KEY) -> dict[str, Any]:
    """Alibaba Cloud SMS's HTTP push of a batch (reports or replies), to the URL with its key."""
    body = items if isinstance(items, bytes) else json.dumps(items, ensure_ascii=False).encode("utf-8")
    return http_event("aliyun", body, {"Content-Type": "application/json"},
                      query=f"key={key}" if key is not None else "")
