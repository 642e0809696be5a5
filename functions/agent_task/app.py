"""AgentTask: the escalation waits on a task token while an agent calls or an admin reviews,
or until its next instant unless something changes the case first.

The token is kept on the case header, so agents, admins and every case action act by case id;
the task itself (ids, counts and the token) goes to CallQueue, LegalReviewQueue or
SpecialistQueue. A WAIT queues nothing: the task's timeout is its timer.
"""

from __future__ import annotations

from typing import Any, Literal

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from dunning.composition import AwsPorts, cold_start
from dunning.observability import entry_point
from dunning.services import escalation
from dunning.settings import AgentTaskSettings, load_settings


class TaskRequest(BaseModel):
    case_id: str
    account_id: str
    step_id: str = ""  # CALL, LEGAL_REVIEW, SPECIALIST: the step the task is for
    kind: Literal["CALL", "LEGAL_REVIEW", "SPECIALIST", "WAIT"]
    task_token: str
    reasons: list[str] = []  # the planner's reason codes (why a specialist must decide)
    case_version: int = -1  # WAIT: the case's version when the wait was decided (unknown: the wait ends at once)


# Settings and ports: built on first use, once per cold start.
ports = cold_start(globals(), "_ports", lambda: AwsPorts(load_settings(AgentTaskSettings)))


@entry_point(correlation_id_path="case_id")
@event_parser(model=TaskRequest)
def lambda_handler(event: TaskRequest, context: LambdaContext) -> dict[str, Any]:
    if event.kind == "WAIT":
        return escalation.wait_for_events(ports(), event.case_id, event.account_id, event.task_token,
                                          event.case_version)
    return escalation.open_task(ports(), event.case_id, event.account_id, event.step_id, event.kind,
                                event.task_token, reasons=event.reasons)
