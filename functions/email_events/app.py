"""EmailEvents: SES configuration-set events (delivery, bounce, complaint, reject, open, click).

Each event is recorded as a DELIVERY entry on the notice's case first (found through the provider
message id), then acted on: a hard bounce makes the address unusable, a complaint opts the customer
out of email, a delivery marks the notice DELIVERED. Redelivered events are recorded once.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes import SNSEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from dunning.adapters import json_limits
from dunning.composition import AwsPorts, cold_start
from dunning.observability import entry_point, logger, metrics
from dunning.services.deliveries import handle_email_event
from dunning.services.inbound_once import Handled
from dunning.settings import ListeningSettings, load_settings

# Settings and ports: built on first use, once per cold start.
ports = cold_start(globals(), "_ports", lambda: AwsPorts(load_settings(ListeningSettings)))


@entry_point()
@event_source(data_class=SNSEvent)
def lambda_handler(event: SNSEvent, context: LambdaContext) -> dict[str, Any]:
    results = []
    for record in event.records:
        try:
            ses_event = json_limits.loads(record.sns.message)
            if not isinstance(ses_event, dict):
                raise ValueError("not an object")
            result = Handled.model_validate(handle_email_event(ports(), ses_event))
        except ValueError:
            metrics.add_metric(name="EmailEventMalformed", unit="Count", value=1)
            logger.warning("SES event is malformed; dropped", extra={"sns_message_id": record.sns.message_id})
            results.append({"status": "MALFORMED", "sns_message_id": record.sns.message_id})
            continue
        logger.info("email event handled",
                    extra={"status": result.status, "case_id": result.case_id, "event_type": result.event_type})
        results.append(result.as_dict())
    return {"results": results}
