"""Faults injected into moto's AWS: provider errors at the HTTP layer, failed commits, and counts.

Provider faults are injected where botocore hands a request to moto (its ``before-send`` stubber),
so every client in the process sees them, in the test thread and in Step Functions' workers alike,
and the real senders parse the real error responses.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSResponse
from moto.core.botocore_stubber import BotocoreStubber, MockRawResponse

ACCOUNT, REGION = "123456789012", "us-east-1"


@dataclass
class Fault:
    """Answer the next ``times`` calls of ``service.operation`` with ``code``/``status``.

    ``accepted``: the provider took the message (moto records it) and then failed to say so:
    the dangerous case, where any resend is a duplicate.
    """

    service: str  # botocore's event name: "sesv2", "sns", "dynamodb"
    operation: str  # "SendEmail", "Publish", "TransactWriteItems"
    code: str
    status: int
    times: int = 1
    accepted: bool = False
    fired: int = 0


@dataclass
class ProviderFaults:
    faults: list[Fault] = field(default_factory=list)
    calls: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, fault: Fault) -> Fault:
        self.faults.append(fault)
        return fault

    @property
    def injected(self) -> int:
        return sum(f.fired for f in self.faults)

    def _take(self, service: str, operation: str) -> Fault | None:
        with self._lock:
            self.calls[f"{service}.{operation}"] += 1
            for fault in self.faults:
                if fault.service == service and fault.operation == operation and fault.fired < fault.times:
                    fault.fired += 1
                    return fault
        return None


def _error_response(url: str, service: str, code: str, status: int) -> AWSResponse:
    if service == "sns":  # query protocol: XML
        body = (
            f"<ErrorResponse><Error><Type>{'Receiver' if status >= 500 else 'Sender'}</Type><Code>{code}"
            f"</Code><Message>injected</Message></Error><RequestId>fault</RequestId></ErrorResponse>"
        )
        headers = {"Content-Type": "text/xml"}
    else:  # JSON protocols (SES v2 rest-json, DynamoDB json)
        body = json.dumps({"__type": code, "message": "injected"})
        headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-ErrorType": code}
    return AWSResponse(url, status, headers, MockRawResponse(body))  # type: ignore[arg-type]


@contextmanager
def provider_faults() -> Iterator[ProviderFaults]:
    plan = ProviderFaults()
    original = BotocoreStubber.__call__

    def call(self: BotocoreStubber, event_name: str, request: Any, **kwargs: Any) -> AWSResponse | None:
        # event_name: before-send.<service>.<Operation>
        parts = event_name.split(".")
        fault = plan._take(parts[1], parts[2]) if len(parts) >= 3 else None
        if fault is None:
            return original(self, event_name, request, **kwargs)
        if fault.accepted:
            original(self, event_name, request, **kwargs)  # the provider has it now
        return _error_response(request.url, parts[1], fault.code, fault.status)

    BotocoreStubber.__call__ = call  # type: ignore[method-assign]
    try:
        yield plan
    finally:
        BotocoreStubber.__call__ = original  # type: ignore[method-assign]


# --------------------------------------------------------------------------- what the providers got


def sent_emails() -> list[Any]:
    from moto.ses.models import ses_backends

    return list(ses_backends[ACCOUNT][REGION].sent_messages)


def sent_sms() -> list[tuple[str, str]]:
    """(phone number, text) of every SMS accepted: by End User Messaging (the sandbox's stand-in, on a
    provisioned stack) or by SNS (functions configured without an SMS configuration set)."""
    from moto.sns.models import sns_backends

    from sandbox.motocompat import sms_voice_backend

    by_sns = [(number, text) for number, text, *_ in sns_backends[ACCOUNT][REGION].sms_messages.values()]
    return by_sns + [(t.destination, t.body) for t in sms_voice_backend(REGION).sent.values()]


def duplicates(messages: list[Any]) -> int:
    """Messages beyond the first with the same destination and content."""
    return sum(n - 1 for n in Counter(messages).values() if n > 1)


def email_keys() -> list[tuple[str, str]]:
    out = []
    for m in sent_emails():
        destination = m.destinations.get("ToAddresses", [""])[0] if isinstance(m.destinations, dict) else ""
        out.append((destination, str(getattr(m, "subject", ""))))
    return out
