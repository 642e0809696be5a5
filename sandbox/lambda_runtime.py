"""The in-process Lambda runtime: moto's Lambda invokes run the repository's handlers here.

``InProcessLambdaRuntime`` takes over moto's Lambda invoke (sandbox.motocompat.lambda_invoke),
loads each function's handler module once per function (a warm sandbox), sets the function's
environment variables for the invocation, hands the handler a Lambda context, and turns an
exception into the error payload Step Functions Retry/Catch match on. It also counts the AWS
calls the functions make (not the driver's) for the simulation's calls-per-notice figure.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from sandbox.motocompat import FunctionConfig, redirect_invokes, reporting_calls

# What the process gives every handler on top of its function's environment. Handlers run in this
# process: X-Ray would try to reach a daemon over UDP, so tracing is off.
_IN_PROCESS_ENV: dict[str, str] = {
    "POWERTOOLS_TRACE_DISABLED": "true",
    "AWS_XRAY_SDK_ENABLED": "false",
    "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
    # Parallel puts hide AWS latency, which moto does not have; their order would make the
    # AccountsTable stream's order, so which loan of a person opens (and writes) first would be
    # the threads' luck and one seed two stories. In file order, one at a time.
    "IMPORT_WRITE_WORKERS": "1",
}

_ENV_LOCK = threading.Lock()


@dataclass(frozen=True)
class LambdaContext:
    """What the Lambda runtime hands a handler (the attributes Powertools reads)."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    deadline_monotonic: float
    identity: Any = None
    client_context: Any = None

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline_monotonic - time.monotonic()) * 1000))


_READ_OPS = frozenset({"GetItem", "Query", "BatchGetItem", "TransactGetItems", "Scan"})
_WRITE_OPS = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})
_SEND_OPS = frozenset({("sesv2", "SendEmail"), ("ses", "SendEmail"), ("sns", "Publish")})


def call_kind(service: str, operation: str) -> str:
    """reads / writes (DynamoDB), sends (SES, SNS to a phone), other (secrets, SSM, SQS, ...)."""
    if service == "dynamodb" and operation in _READ_OPS:
        return "reads"
    if service == "dynamodb" and operation in _WRITE_OPS:
        return "writes"
    if (service, operation) in _SEND_OPS:
        return "sends"
    return "other"


class InProcessLambdaRuntime:
    """Runs moto Lambda invocations as calls into ``<code dir>/<module>.py`` in this process.

    Invocations are serialised (one at a time, re-entrant for nested invokes on the same thread)
    because each one sets the function's environment variables on the process, just as a Lambda
    sandbox would. That also means the functions' own AWS calls never run two at a time.
    """

    def __init__(self) -> None:
        self._code_dirs: dict[str, Path] = {}
        self._modules: dict[tuple[str, Path, str], ModuleType] = {}
        self._lock = threading.RLock()
        self._patches: ExitStack | None = None
        self._inside = threading.local()
        self.invocations: Counter[str] = Counter()
        # AWS API calls the system's own functions made ("service:Operation"), not the driver's.
        self.aws_calls: Counter[str] = Counter()
        # thread id -> (function name, monotonic start) of the outermost invocation it is serving
        self._serving: dict[int, tuple[str, float]] = {}

    def serving(self) -> dict[int, tuple[str, float]]:
        """Which function each thread is running now, and since when (``time.monotonic()``)."""
        return dict(self._serving)

    # ------------------------------------------------------------------ setup

    def register(self, function_name: str, code_dir: str | Path) -> None:
        """Run ``function_name``'s handler from ``code_dir`` (its CodeUri folder)."""
        self._code_dirs[function_name] = Path(code_dir).resolve()

    def install(self) -> None:
        if self._patches is not None:
            raise RuntimeError("in-process Lambda runtime already installed")
        with ExitStack() as patches:
            # Looked up at each invoke, so a measurement may wrap InProcessLambdaRuntime.invoke.
            patches.enter_context(redirect_invokes(lambda fn, event: self.invoke(fn, event)))
            patches.enter_context(reporting_calls(self._count_call))
            self._patches = patches.pop_all()

    def uninstall(self) -> None:
        if self._patches is not None:
            self._patches.close()
            self._patches = None

    def __enter__(self) -> InProcessLambdaRuntime:
        self.install()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.uninstall()

    def _count_call(self, service: str, operation: str) -> None:
        if getattr(self._inside, "depth", 0):
            self.aws_calls[f"{service}:{operation}"] += 1

    # ------------------------------------------------------------------ invoke

    def invoke(self, fn: FunctionConfig, event: Any) -> tuple[str, bool, str]:
        """moto's contract: ``(payload_json, is_error, log_text)``; errors name the exception class."""
        if isinstance(event, str | bytes):
            event = json.loads(event or "{}")
        if event is None:
            event = {}
        with self._lock:
            self.invocations[fn.function_name] += 1
            count = self.invocations[fn.function_name]
            code_dir = self._code_dirs.get(fn.function_name)
            if code_dir is None:
                return _error("Runtime.ImportModuleError", f"no code registered for {fn.function_name}")
            module_name, _, attr = fn.handler.rpartition(".")
            source = code_dir / (module_name.replace(".", "/") + ".py")
            if not module_name or not source.is_file():
                return _error("Runtime.ImportModuleError", f"handler module not found: {fn.handler}")
            self._inside.depth = getattr(self._inside, "depth", 0) + 1
            outermost = threading.get_ident() not in self._serving
            if outermost:
                self._serving[threading.get_ident()] = (fn.function_name, time.monotonic())
            with process_env(self._environment(fn, code_dir)):
                try:
                    module = self._module(fn.function_name, code_dir, module_name, source)
                    handler = getattr(module, attr, None)
                    if handler is None:
                        return _error("Runtime.HandlerNotFound", f"{fn.handler} is undefined")
                    result = handler(event, self._context(fn, count))
                # The Lambda runtime boundary: any exception becomes an error payload that
                # Step Functions Retry/Catch match by class name, exactly as on AWS.
                except Exception as exc:  # noqa: BLE001
                    return _error(type(exc).__name__, str(exc))
                finally:
                    self._inside.depth -= 1
                    if outermost:
                        del self._serving[threading.get_ident()]
            try:
                return json.dumps(result), False, ""
            except (TypeError, ValueError) as exc:
                return _error("Runtime.MarshalError", str(exc))

    def _module(self, function_name: str, code_dir: Path, module_name: str, source: Path) -> ModuleType:
        # One module per function, like one warm Lambda sandbox: module state survives between
        # invocations of the same function and never leaks into another one's `app`.
        key = (function_name, code_dir, module_name)
        module = self._modules.get(key)
        if module is None:
            unique = "_dunning_lambda_" + re.sub(r"\W", "_", f"{function_name}__{module_name}")
            spec = importlib.util.spec_from_file_location(unique, source)
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot load {source}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[unique] = module  # pydantic and dataclasses look their module up here
            try:
                spec.loader.exec_module(module)
            except BaseException:
                sys.modules.pop(unique, None)
                raise
            self._modules[key] = module
        return module

    @staticmethod
    def _environment(fn: FunctionConfig, code_dir: Path) -> dict[str, str]:
        env = {
            "_HANDLER": fn.handler,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.runtime}",
            "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": fn.memory_size,
            "AWS_LAMBDA_FUNCTION_VERSION": fn.version,
            "AWS_LAMBDA_FUNCTION_TIMEOUT": fn.timeout,
            "AWS_REGION": fn.region,
            "AWS_DEFAULT_REGION": fn.region,
            "LAMBDA_TASK_ROOT": str(code_dir),
        }
        env.update(fn.environment)
        env.update(_IN_PROCESS_ENV)
        return env

    @staticmethod
    def _context(fn: FunctionConfig, count: int) -> LambdaContext:
        # Deterministic request ids: reruns of a scenario produce the same logs and ledgers.
        request_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"lambda:{fn.function_arn}:{count}"))
        return LambdaContext(
            function_name=fn.function_name,
            function_version=fn.version,
            invoked_function_arn=fn.function_arn,
            memory_limit_in_mb=int(fn.memory_size),
            aws_request_id=request_id,
            log_group_name=f"/aws/lambda/{fn.function_name}",
            log_stream_name=f"local/{request_id}",
            deadline_monotonic=time.monotonic() + float(fn.timeout),
        )


def _error(error_type: str, message: str) -> tuple[str, bool, str]:
    return json.dumps({"errorType": error_type, "errorMessage": message}), True, ""


@contextmanager
def process_env(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the duration, then put back what was there."""
    with _ENV_LOCK:
        saved = {key: os.environ.get(key) for key in values}
        os.environ.update(values)
    try:
        yield
    finally:
        with _ENV_LOCK:
            for key, previous in saved.items():
                if previous is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = previous


_ACTIVE: list[InProcessLambdaRuntime] = []


def active_runtime() -> InProcessLambdaRuntime | None:
    """The runtime of the innermost ``activated()`` (``sandbox.aws.local_aws()``), if any."""
    return _ACTIVE[-1] if _ACTIVE else None


@contextmanager
def activated(runtime: InProcessLambdaRuntime) -> Iterator[InProcessLambdaRuntime]:
    """Make ``runtime`` the one ``provision()`` registers functions with, for the duration."""
    _ACTIVE.append(runtime)
    try:
        yield runtime
    finally:
        _ACTIVE.remove(runtime)
