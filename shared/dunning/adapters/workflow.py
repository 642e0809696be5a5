"""Step Functions: start and stop escalations, complete agent and approval tasks."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from dunning.adapters.errors import Conflict, NotFound


class Escalations:
    def __init__(self, client: Any, state_machine_arn: str) -> None:
        self._sfn, self._arn = client, state_machine_arn

    def execution_arn(self, case_id: str) -> str:
        return self._arn.replace(":stateMachine:", ":execution:") + f":{case_id}"

    def start(self, case_id: str, account_id: str) -> str:
        """Start the case's escalation, named by the case id: a replayed event cannot start a second."""
        try:
            resp = self._sfn.start_execution(
                stateMachineArn=self._arn,
                name=case_id,
                input=json.dumps({"case_id": case_id, "account_id": account_id}),
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ExecutionAlreadyExists":
                return self.execution_arn(case_id)
            raise
        return str(resp["executionArn"])

    def stop(self, execution_arn: str, cause: str) -> None:
        try:
            self._sfn.stop_execution(executionArn=execution_arn, error="CaseEnded", cause=cause)
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ("ExecutionDoesNotExist",):
                raise


class TaskTokens:
    """Completes a waiting agent-call or legal-approval task."""

    def __init__(self, client: Any) -> None:
        self._sfn = client

    def succeed(self, token: str, output: dict[str, Any]) -> None:
        try:
            self._sfn.send_task_success(taskToken=token, output=json.dumps(output))
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            if code in ("TaskTimedOut", "InvalidToken", "TaskDoesNotExist"):
                raise NotFound(code) from exc
            raise

    def fail(self, token: str, error: str, cause: str) -> None:
        try:
            self._sfn.send_task_failure(taskToken=token, error=error, cause=cause)
        except ClientError as exc:
            raise Conflict(exc.response["Error"]["Code"]) from exc
