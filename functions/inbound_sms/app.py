"""InboundSms: two-way SMS replies from AWS End User Messaging, delivered through an SNS topic.

SNS invokes with one record; each is handled like a webhook reply (recorded, then acted on). A
message that cannot be parsed is logged by id and dropped: retrying it would never succeed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aws_lambda_powertools.utilities.data_classes import SNSEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dunning.adapters import json_limits
from dunning.composition import AwsPorts, cold_start
from dunning.domain.models import parse_instant, utc_now
from dunning.observability import entry_point, logger, metrics
from dunning.ports import InboundSms
from dunning.services.inbound_once import Deduplicated
from dunning.settings import ListeningSettings, load_settings

PROVIDER = "aws-sms"


class TwoWayMessage(BaseModel):
    """The JSON End User Messaging publishes for an inbound SMS."""

    model_config = ConfigDict(extra="ignore")

    # Bounded: the id becomes part of DynamoDB and idempotency keys, the text a ledger entry.
    originationNumber: str = Field(max_length=32)  # noqa: N815 - AWS field names
    destinationNumber: str | None = Field(default=None, max_length=32)  # noqa: N815
    messageKeyword: str | None = Field(default=None, max_length=64)  # noqa: N815
    messageBody: str = Field(max_length=10_000)  # noqa: N815
    inboundMessageId: str = Field(min_length=1, max_length=128)  # noqa: N815
    previousPublishedMessageId: str | None = None  # noqa: N815


# Settings, clients and the idempotency store: built on first use, once per cold start.
ports = cold_start(globals(), "_ports", lambda: AwsPorts(load_settings(ListeningSettings)))
dedupe = cold_start(globals(), "_dedupe", lambda: Deduplicated(
    ports(), ports().idempotency_store(ports().settings.idempotency_table)))


def _published(at: str | None) -> datetime:
    """SNS's timestamp; the time of handling if it is missing or not an instant."""
    try:
        return parse_instant(at) if at else utc_now()
    except ValueError:
        return utc_now()


def to_inbound(message: TwoWayMessage, published_at: str | None) -> InboundSms:
    return InboundSms(
        provider=PROVIDER,
        message_id=message.inboundMessageId,
        from_number=message.originationNumber,
        to_number=message.destinationNumber,
        text=message.messageBody,
        received_at=_published(published_at),
    )


@entry_point()
@event_source(data_class=SNSEvent)
def lambda_handler(event: SNSEvent, context: LambdaContext) -> dict[str, Any]:
    results = []
    for record in event.records:
        sns = record.sns
        try:
            message = TwoWayMessage.model_validate(json_limits.loads(sns.message))
        except (ValueError, ValidationError):
            metrics.add_metric(name="InboundSmsMalformed", unit="Count", value=1)
            logger.warning(
                "two-way SMS message is malformed; dropped", extra={"sns_message_id": sns.message_id}
            )
            results.append({"status": "MALFORMED", "sns_message_id": sns.message_id})
            continue
        result = dedupe().handle(to_inbound(message, sns.timestamp), actor="InboundSms", context=context)
        logger.info("two-way SMS handled", extra={"status": result.status, "case_id": result.case_id})
        results.append(result.as_dict())
    return {"results": results}
