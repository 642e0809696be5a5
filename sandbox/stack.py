"""A stack as provisioned on the local AWS: its resources by logical id, and what moto skipped.

``sandbox.provision.provision()`` returns a ``Stack``; the sandbox's drivers use it to name the
physical resources (tables, queues, topics, functions, the state machine) and to play the part
of the resources moto does not create (schedules, HTTP API routes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sandbox.lambda_runtime import InProcessLambdaRuntime


@dataclass(frozen=True)
class Resource:
    logical_id: str
    type: str
    physical_id: str


@dataclass(frozen=True)
class Schedule:
    """An EventBridge Scheduler schedule moto skipped: the sandbox fires it on the virtual clock."""

    logical_id: str
    function_logical_id: str
    expression: str
    timezone: str
    input: str | None
    enabled: bool


@dataclass(frozen=True)
class HttpRoute:
    """An HTTP API route moto skipped: the sandbox calls the function with an API Gateway v2 event."""

    function_logical_id: str
    method: str
    path: str
    auth: str  # "NONE" or "AWS_IAM"


@dataclass
class Stack:
    name: str
    region: str
    account_id: str
    parameters: dict[str, str]
    resources: dict[str, Resource]
    outputs: dict[str, str]
    skipped: dict[str, str]  # logical id -> resource type moto did not create
    schedules: list[Schedule]
    http_routes: list[HttpRoute]
    code_dirs: dict[str, Path]  # function logical id -> CodeUri folder
    repaired: dict[str, str] = field(default_factory=dict)  # logical id -> what provision did instead of moto
    state_machine_definitions: dict[str, str] = field(default_factory=dict)  # logical id -> ASL executed
    template: dict[str, Any] = field(default_factory=dict, repr=False)  # the translated CloudFormation

    def physical_id(self, logical_id: str) -> str:
        try:
            return self.resources[logical_id].physical_id
        except KeyError:
            raise KeyError(f"{logical_id} is not a created resource of {self.name}") from None

    def table(self, logical_id: str) -> str:
        return self._of_type(logical_id, "AWS::DynamoDB::Table")

    def queue_url(self, logical_id: str) -> str:
        return self._of_type(logical_id, "AWS::SQS::Queue")

    def topic_arn(self, logical_id: str) -> str:
        return self._of_type(logical_id, "AWS::SNS::Topic")

    def bucket(self, logical_id: str) -> str:
        return self._of_type(logical_id, "AWS::S3::Bucket")

    def event_bus(self, logical_id: str) -> str:
        return self._of_type(logical_id, "AWS::Events::EventBus")

    def function_name(self, logical_id: str) -> str:
        return self._of_type(logical_id, "AWS::Lambda::Function")

    def function_arn(self, logical_id: str) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{self.function_name(logical_id)}"

    def function_logical_id(self, function_name: str) -> str:
        for resource in self.resources.values():
            if resource.type == "AWS::Lambda::Function" and resource.physical_id == function_name:
                return resource.logical_id
        raise KeyError(function_name)

    @property
    def function_logical_ids(self) -> list[str]:
        return sorted(r.logical_id for r in self.resources.values() if r.type == "AWS::Lambda::Function")

    @property
    def state_machine_arn(self) -> str:
        return self.state_machine_arn_of("EscalationStateMachine")

    def state_machine_arn_of(self, logical_id: str) -> str:
        return self._of_type(logical_id, "AWS::StepFunctions::StateMachine")

    def invocation_counts(self, runtime: InProcessLambdaRuntime) -> dict[str, int]:
        """Invocations per function logical id since the runtime started."""
        return {lid: runtime.invocations[self.function_name(lid)] for lid in self.function_logical_ids}

    def _of_type(self, logical_id: str, resource_type: str) -> str:
        resource = self.resources.get(logical_id)
        if resource is None or resource.type != resource_type:
            raise KeyError(f"{logical_id} is not a {resource_type} of {self.name}")
        return resource.physical_id
