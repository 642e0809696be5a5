"""SmsEvents: delivery events of our SMS from AWS End User Messaging, through its configuration set.

SendTextMessage names a configuration set whose event destination is SmsEventsTopic; each event
(TEXT_SUCCESSFUL, TEXT_DELIVERED, TEXT_BLOCKED ...) carries the message id SendTextMessage returned,
which the notice recorded. A delivered one marks the notice DELIVERED, a final failure FAILED, each
as one DELIVERY ledger entry, once per (message, event type); queued, pending and unknown states
record nothing (a notice of unknown fate stays SENT, which the caps count). A message that cannot
be parsed is logged by id and dropped: retrying it would never succeed.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.data_classes import SNSEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, ValidationError

from dunning.composition import AwsPorts, cold_start
from dunning.observability import entry_point, logger, metrics
from dunning.ports import DeliveryReceipt, ReceiptStatus
from dunning.services.inbound_once import Deduplicated
from dunning.settings import ListeningSettings, load_settings

PROVIDER = "sms-voice"  # EndUserMessagingSmsSender.provider: notices record "sms-voice:<message id>"

# TEXT_SUCCESSFUL is the carrier's acceptance; in countries without handset receipts it is the last
# word, and the service uses it and TEXT_DELIVERED interchangeably there.
DELIVERED = frozenset({"TEXT_DELIVERED", "TEXT_SUCCESSFUL"})
# Failures are taken as final only when the event says so (a carrier outage may still deliver).
FAILED = frozenset({"TEXT_INVALID", "TEXT_INVALID_MESSAGE", "TEXT_UNREACHABLE", "TEXT_CARRIER_UNREACHABLE",
                    "TEXT_BLOCKED", "TEXT_CARRIER_BLOCKED", "TEXT_SPAM", "TEXT_TTL_EXPIRED",
                    "TEXT_PROTECT_BLOCKED"})

# Settings, clients and the idempotency store: built on first use, once per cold start.
ports = cold_start(globals(), "_ports", lambda: AwsPorts(load_settings(ListeningSettings)))
dedupe = cold_start(globals(), "_dedupe", lambda: Deduplicated(
    ports(), ports().idempotency_store(ports().settings.idempotency_table)))


class SmsEvent(BaseModel):
    """The JSON End User Messaging publishes for one SMS event (numbers and prices are not read)."""

    model_config = ConfigDict(extra="ignore")

    eventType: str  # noqa: N815 - AWS field names
    messageId: str  # noqa: N815
    eventTimestamp: int  # noqa: N815 - Unix milliseconds
    isFinal: bool = False  # noqa: N815
    messageStatus: str | None = None  # noqa: N815


def status_of(event: SmsEvent) -> ReceiptStatus | None:
    if event.eventType in DELIVERED:
        return "DELIVERED"
    if event.eventType in FAILED and event.isFinal:
        return "FAILED"
    return None


def to_receipt(event: SmsEvent) -> DeliveryReceipt:
    return DeliveryReceipt(provider=PROVIDER, message_id=event.messageId, status=status_of(event),
                           provider_status=event.eventType,
                           at=datetime.fromtimestamp(event.eventTimestamp / 1000, tz=UTC))


@entry_point()
@event_source(data_class=SNSEvent)
def lambda_handler(event: SNSEvent, context: LambdaContext) -> dict[str, Any]:
    results = []
    for record in event.records:
        sns = record.sns
        try:
            parsed = SmsEvent.model_validate(json.loads(sns.message))
            if not 0 < len(parsed.messageId) <= 128:
                raise ValueError("message id out of bounds")
        except (ValueError, ValidationError):
            metrics.add_metric(name="SmsEventMalformed", unit="Count", value=1)
            logger.warning("SMS event is malformed; dropped", extra={"sns_message_id": sns.message_id})
            results.append({"status": "MALFORMED", "sns_message_id": sns.message_id})
            continue
        result = dedupe().handle(to_receipt(parsed), actor="SmsEvents", context=context)
        logger.info("SMS event handled", extra={"status": result.status, "case_id": result.case_id,
                                                "event_type": parsed.eventType})
        results.append(result.as_dict())
    return {"results": results}
