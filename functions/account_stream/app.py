"""AccountStream: opens a case when an account turns delinquent, ends it when the account is cured.

Partial batch failure: one bad record is reported alone and retried (then sent to the
on-failure destination), never stalling the shard.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from dunning.composition import AwsPorts, cold_start
from dunning.observability import entry_point, logger, tracer
from dunning.services.cases import on_account_change
from dunning.settings import WorkflowSettings, load_settings

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
# Settings and ports: built on first use, once per cold start.
ports = cold_start(globals(), "_ports", lambda: AwsPorts(load_settings(WorkflowSettings)))


@tracer.capture_method
def record_handler(record: DynamoDBRecord) -> str:
    change = record.dynamodb
    # Powertools gives {} (not None) for an image the record does not carry (REMOVE has no NewImage).
    old = (change.old_image or None) if change else None
    new = (change.new_image or None) if change else None
    outcome = on_account_change(ports(), _plain(old), _plain(new))
    account_id = (new or old or {}).get("account_id")
    logger.info("account change", extra={"account_id": account_id, "event": record.event_name,
                                          "outcome": outcome})
    return outcome


def _plain(image: dict[str, Any] | None) -> dict[str, Any] | None:
    from dunning.adapters.dynamo import _plain as plain

    return None if image is None else plain(image)


@entry_point()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                    context=context)
