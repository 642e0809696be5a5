"""How the customers' answers and the providers' receipts reach the stack, as they would on AWS.

A delivered email's SES event goes to EmailEventsTopic; a delivered SMS's End User Messaging event to
its configuration set's topic (the stand-in in sandbox.motocompat.sms_voice builds it); a text back
goes to the SMS webhook, signed as the provider signs it; an email back is stored raw in the
InboundMailBucket and InboundEmailFunction is invoked with SES's receipt, as the receipt rule does.
``Simulation`` (sandbox.simulate) lives the days; this mixin is its side of those entry points.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sandbox import events
from sandbox.bootstrap import WEBHOOK_SECRETS, z
from sandbox.motocompat import sms_voice_backend
from sandbox.personas import PersonaState
from sandbox.providers import ProviderMessage
from sandbox.stack import Stack


class CustomerChannels:
    """The entry points a simulated customer's answer, or a provider's receipt, goes through."""

    stack: Stack
    events: Counter[str]
    replies: list[dict[str, Any]]
    _payment_seq: int

    # Simulation's own: a client of the local AWS, whether a function has a handler, an invoke.
    client: Callable[[str], Any]
    has_function: Callable[[str], bool]
    invoke: Callable[[str, dict[str, Any]], Any]
    def _email_delivered(self, message: ProviderMessage) -> None:
        if not self.has_function("EmailEventsFunction"):
            return
        params = self.stack.parameters
        ses_event = events.ses_delivery(message.message_id, params["SesFromAddress"], message.destination,
                                        message.sent_at, f"dunning-{params['Stage']}")
        self.client("sns").publish(TopicArn=self.stack.topic_arn("EmailEventsTopic"), Message=json.dumps(ses_event))
        self.events["email_delivery_events"] += 1

    def _sms_delivered(self, message: ProviderMessage) -> None:
        """The handset's receipt, as End User Messaging publishes it to the configuration set's topic."""
        event = sms_voice_backend(self.stack.region).delivery_event(message.message_id, message.sent_at)
        if event is None or not self.has_function("SmsEventsFunction"):
            return
        topic_arn, body = event
        self.client("sns").publish(TopicArn=topic_arn, Message=body)
        self.events["sms_delivery_events"] += 1

    def _aliyun_delivered(self, message: ProviderMessage) -> None:
        """The handset's receipt, as Alibaba Cloud SMS pushes it (SmsReport) to the SMS webhook."""
        if not self.has_function("SmsWebhookFunction"):
            return
        self._payment_seq += 1
        self.invoke("SmsWebhookFunction", events.aliyun_report_event(
            WEBHOOK_SECRETS["aliyun"], message.message_id, message.destination, message.sent_at,
            f"rep-{self._payment_seq}"))
        self.events["sms_delivery_events"] += 1

    def _reply_sms(self, person: PersonaState, text: str, now: datetime) -> None:
        record = {"account_id": person.account.account_id, "persona": person.account.persona.value,
                  "channel": "SMS", "from": person.account.phone, "text": text, "at": z(now), "delivered": False}
        self.replies.append(record)
        if not self.has_function("SmsWebhookFunction"):
            return
        self._payment_seq += 1
        event = events.inbound_sms_event(WEBHOOK_SECRETS["generic"], f"in-{self._payment_seq:06d}",
                                         person.account.phone, text, now, f"req-{self._payment_seq}")
        result = self.invoke("SmsWebhookFunction", event)
        record["delivered"] = isinstance(result, dict) and int(result.get("statusCode", 500)) < 300
        self.events["replies_sent"] += 1

    def _reply_email(self, person: PersonaState, text: str, answering: ProviderMessage, now: datetime) -> None:
        """SES receiving as AWS does it: the raw message stored in InboundMailBucket under the
        receipt rule's prefix and SES's message id, then InboundEmailFunction invoked with the receipt."""
        record = {"account_id": person.account.account_id, "persona": person.account.persona.value,
                  "channel": "EMAIL", "from": person.account.email, "text": text, "at": z(now), "delivered": False}
        self.replies.append(record)
        if not self.has_function("InboundEmailFunction"):
            return
        self._payment_seq += 1
        params = self.stack.parameters
        ses_id = f"inbound{self._payment_seq:06d}{person.account.account_id.lower()}"
        raw = events.reply_mime(sender=person.account.email, to=params["InboundEmailAddress"],
                                subject=answering.subject or "", text=text, at=now, message_id=ses_id,
                                answers_ses_id=answering.message_id, quoted=answering.body,
                                quoted_from=params["SesFromAddress"], locale=person.account.locale)
        self.client("s3").put_object(Bucket=self.stack.bucket("InboundMailBucket"), Key=f"inbound/{ses_id}", Body=raw)
        event = events.ses_receipt_event(message_id=ses_id, sender=person.account.email,
                                         recipient=params["InboundEmailAddress"], subject=answering.subject or "",
                                         at=now, function_arn=self.stack.function_name("InboundEmailFunction"))
        result = self.invoke("InboundEmailFunction", event)
        statuses = [r.get("status") for r in (result or {}).get("results", [])] if isinstance(result, dict) else []
        record["delivered"] = bool(statuses) and all(s not in ("MALFORMED", None) for s in statuses)
        self.events["email_replies_sent"] += 1
