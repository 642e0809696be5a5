"""Step Functions: start and stop a case's escalation, complete the agent and approval tasks it waits on."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from dunning.ports import Conflict, NotFound


class Escalations:
    def __init__(self, client: Any, state_machine_arn: str | None) -> None:
        self._sfn, self._arn = client, state_machine_arn

    def _machine(self) -> str:
        if not self._arn:
            raise LookupError("STATE_MACHINE_ARN is not set for this function")
        return self._arn

    def execution_arn(self, case_id: str) -> str:
        return self._machine().replace(":stateMachine:", ":execution:") + f":{case_id}"

    def start(self, case_id: str, account_id: str, customer_id: str) -> str:
        """Start the case's escalation, named by the case id: a replayed event cannot start a second."""
        ids = {"case_id": case_id, "account_id": account_id, "customer_id": customer_id}
        try:
            resp = self._sfn.start_execution(stateMachineArn=self._machine(), name=case_id, input=json.dumps(ids))
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

    def succeed(self, token: str, output: dict[str, Any]) -> None:
        """Complete a waiting agent-call or legal-approval task."""
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
