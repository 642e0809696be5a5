"""Every Lambda invoke on moto runs the function's handler in this process.

Every path that ends in a Lambda invoke on moto (direct Invoke, Step Functions Lambda tasks,
SNS subscriptions, EventBridge targets, event source mappings) lands in
``moto.awslambda.models.LambdaFunction._invoke_lambda``, which would start a Docker container.
There is no Docker here, and moto's ``use_docker: False`` only echoes payloads; replacing that
one method with a call into the handler (sandbox.lambda_runtime) makes all of them run our code.
Its contract: return ``(payload_json, is_error, log_text)``; an error payload names the
exception class (``errorType``) so that Step Functions Retry/Catch match on it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from moto.awslambda.models import LambdaFunction

from sandbox.motocompat.patching import replaced, require_parameters

require_parameters(LambdaFunction._invoke_lambda, "self", "event")


@dataclass(frozen=True)
class FunctionConfig:
    """What the function's configuration says, as the Lambda runtime sees it."""

    function_name: str
    function_arn: str
    handler: str
    runtime: str
    region: str
    version: str
    memory_size: str  # as configured (CloudFormation may hand moto a string)
    timeout: str
    environment: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, fn: LambdaFunction) -> FunctionConfig:
        return cls(
            function_name=fn.function_name, function_arn=fn.function_arn, handler=str(fn.handler),
            runtime=str(fn.run_time), region=fn.region, version=str(fn.version),
            memory_size=str(fn.memory_size), timeout=str(fn.timeout),
            environment={key: str(value) for key, value in (fn.environment_vars or {}).items()},
        )


Invoke = Callable[[FunctionConfig, Any], tuple[str, bool, str]]


@contextmanager
def redirect_invokes(invoke: Invoke) -> Iterator[None]:
    """moto's Lambda invokes call ``invoke(config, event)`` instead of starting a container."""

    def _invoke_lambda(fn: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
        return invoke(FunctionConfig.of(fn), event)

    with replaced(LambdaFunction, "_invoke_lambda", _invoke_lambda):
        yield
