"""RecordFailure: the state machine's Catch target. Keeps the failure on the case's ledger."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from dunning.composition import AwsPorts, cold_start
from dunning.observability import entry_point
from dunning.services import escalation
from dunning.settings import BaseFunctionSettings, load_settings


class FailureRequest(BaseModel):
    case_id: str
    account_id: str
    error: str = "Unknown"
    cause: str = ""


# Settings and ports: built on first use, once per cold start.
ports = cold_start(globals(), "_ports", lambda: AwsPorts(load_settings(BaseFunctionSettings)))


@entry_point(correlation_id_path="case_id")
@event_parser(model=FailureRequest)
def lambda_handler(event: FailureRequest, context: LambdaContext) -> dict[str, Any]:
    return escalation.record_failure(ports(), event.case_id, event.account_id, event.error, event.cause)
