"""PlanNextAction: the escalation's Plan state. Ids in, one decision out (ids and codes only).

A SEND decision is sent here, at most once per case step (see dunning.services.escalation). The
answer is also the loop's next state: the ids and the turn count the state machine's guard reads
travel with the decision, so no Pass state runs before or after this task.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field

import dunning.domain.notices.lint  # noqa: F401 - load Jinja2 and Babel at init, not on the first notice
from dunning.composition import AwsPorts, cold_start
from dunning.observability import entry_point
from dunning.services import escalation
from dunning.settings import PlanSettings, load_settings


class PlanRequest(BaseModel):
    """The escalation's state (or just the ids, as an execution starts); anything else is ignored."""

    case_id: str
    account_id: str
    customer_id: str | None = None  # the person's id: account and profile are then read in one call
    turns: int = Field(default=0, ge=0)


# Settings and ports: built on first use, once per cold start.
ports = cold_start(globals(), "_ports", lambda: AwsPorts(load_settings(PlanSettings)))


@entry_point(correlation_id_path="case_id")
@event_parser(model=PlanRequest)
def lambda_handler(event: PlanRequest, context: LambdaContext) -> dict[str, Any]:
    decision = escalation.plan(ports(), event.case_id, event.account_id, customer_id=event.customer_id)
    return decision | {"account_id": event.account_id, "turns": event.turns + 1}
