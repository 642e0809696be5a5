"""The stand-in SMS and email providers: what they received, stamped with the (virtual) time.

moto's SES (and SNS, where no SMS configuration set is given) and the End User Messaging SMS
stand-in (sandbox.motocompat.sms_voice) are the providers the functions send through. ``ProviderTap``
records every email recipient and every SMS the moment the provider accepts it (sandbox.motocompat.sent_messages),
with the virtual clock's time. Those records, not the engine's own ledger, are what the
simulated customers read and what the independent audit (sandbox.audit) checks.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sandbox.aliyun_sms import listening
from sandbox.bootstrap import z
from sandbox.motocompat import Accepted, reporting_sends


@dataclass
class ProviderMessage:
    """One message as a provider received it (not as the engine meant it)."""

    provider: str  # "ses" | "sns" | "sms-voice"
    message_id: str
    channel: str  # "EMAIL" | "SMS"
    destination: str
    sent_at: datetime
    subject: str | None
    body: str
    account_id: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"channel": self.channel, "account_id": self.account_id, "destination": self.destination,
                "sent_at": z(self.sent_at), "subject": self.subject, "body": self.body,
                "provider_message_id": f"{self.provider}:{self.message_id}"}


class ProviderTap:
    """Stamps every SES send and every SMS (End User Messaging or SNS) with the (virtual) time the provider got it."""

    def __init__(self) -> None:
        self.messages: list[ProviderMessage] = []
        self._patches = ExitStack()

    def __enter__(self) -> ProviderTap:
        self._patches.enter_context(reporting_sends(self._received))
        self._patches.enter_context(listening(self._received))  # texts to mainland numbers (aliyun)
        return self

    def __exit__(self, *exc: object) -> None:
        self._patches.close()

    def _received(self, sent: Accepted) -> None:
        self.messages.append(ProviderMessage(sent.provider, sent.message_id, sent.channel, sent.destination,
                                             datetime.now(UTC), sent.subject, sent.body))
