"""InboundSms: two-way SMS replies from AWS End User Messaging, delivered through an SNS topic.

SNS invokes with one record; each is handled like a webhook reply (recorded, then acted on). A
message that cannot be parsed is logged by id and dropped: retrying it would never succeed.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.data_classes import SNSEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, ValidationError

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

    originationNumber: str  # noqa: N815 - AWS field names
    destinationNumber: str | None = None  # noqa: N815
    messageKeyword: str | None = None  # noqa: N815
    messageBody: str  # noqa: N815
    inboundMessageId: str  # noqa: N815
    previousPublishedMessageId: str | None = None  # noqa: N815


# Settings, clients and the idempotency store: built on first use, once per cold start.
ports = cold_start(globals(), "_ports", lambda: AwsPorts(load_settings(ListeningSettings)))
dedupe = cold_start(globals(), "_dedupe", lambda: Deduplicated(
    ports(), ports().idempotency_store(ports().settings.idempotency_table)))


def to_inbound(message: TwoWayMessage, published_at: str | None) -> InboundSms:
    return InboundSms(
        provider=PROVIDER,
        message_id=message.inboundMessageId,
        from_number=message.originationNumber,
        to_number=message.destinationNumber,
        text=message.messageBody,
        received_at=parse_instant(published_at) if published_at else utc_now(),
    )


@entry_point()
@event_source(data_class=SNSEvent)
def lambda_handler(event: SNSEvent, context: LambdaContext) -> dict[str, Any]:
    results = []
    for record in event.records:
        sns = record.sns
        try:
            message = TwoWayMessage.model_validate(json.loads(sns.message))
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
