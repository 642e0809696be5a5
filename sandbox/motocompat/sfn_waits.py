"""Step Functions waits handed to a virtual clock instead of sleeping in real time.

moto's interpreter really sleeps: a Wait state waits on a threading event
(``WaitFunction._wait_interval``), a Retry back-off calls ``time.sleep`` in ``retrier_decl``, and
a ``.waitForTaskToken`` task blocks on its callback endpoint
(``StateTaskServiceCallback._eval_wait_for_task_token``). ``redirect_waits(target)`` sends each
of them to ``target`` (sandbox.clock.VirtualClock), and tells it when an execution starts, is
stopped and has finished (``Execution.start``/``stop``, ``BaseExecutionWorkerCommunication.
terminated``), and when a task token is answered (``CallbackEndpoint.notify``, in the answering
caller's thread), so it knows which executions are running and which are parked. The thread an
execution runs on (``ExecutionWorker._execution_logic``) begins and ends inside ``target.
running(...)``, so the target can let executions take turns.

The target sees moto's objects only through ``Run``, ``TokenWait`` and ``ExecutionHandle`` below.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from datetime import datetime
from types import SimpleNamespace
from typing import Protocol

from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.common.retry.retrier_decl import RetrierDecl
from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_callback,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
from moto.stepfunctions.parser.asl.eval.callback.callback import (
    CallbackEndpoint,
    CallbackOutcome,
    CallbackOutcomeSuccess,
    CallbackOutcomeTimedOut,
    HeartbeatEndpoint,
)
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication, Execution, SyncExecution
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker, SyncExecutionWorker

from sandbox.motocompat.patching import replaced, require_parameters

TaskTokenState = state_task_service_callback.StateTaskServiceCallback
require_parameters(WaitFunction._wait_interval, "self", "env", "wait_seconds")
require_parameters(RetrierDecl._eval_body, "self", "env")
require_parameters(TaskTokenState._eval_wait_for_task_token, "self", "env", "timeout_seconds",
                   "callback_endpoint", "heartbeat_endpoint")
require_parameters(Execution.stop, "self", "stop_date", "error", "cause")
require_parameters(ExecutionWorker._execution_logic, "self")
require_parameters(CallbackEndpoint.notify, "self", "outcome")

# What a task token wait ends with (success, failure, timeout), handed back to moto as it came.
Outcome = CallbackOutcome
# moto's "no TimeoutSeconds" on a task is this many seconds: no deadline at all.
NO_TIMEOUT_SECONDS = TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS


class Run:
    """One execution's thread, as the interpreter hands it to a wait."""

    __slots__ = ("_env",)

    def __init__(self, env: Environment) -> None:
        self._env = env

    @property
    def execution_arn(self) -> str:
        return str(self._env.states.context_object.context_object_data["Execution"]["Id"])

    def is_running(self) -> bool:
        return bool(self._env.is_running())


class TokenWait:
    """A task waiting for SendTaskSuccess/SendTaskFailure (moto's callback endpoint)."""

    __slots__ = ("_endpoint",)

    def __init__(self, endpoint: CallbackEndpoint) -> None:
        self._endpoint = endpoint

    @property
    def callback_id(self) -> str:
        return str(self._endpoint.callback_id)

    def answered(self) -> bool:
        # send_task_* runs in the caller's thread: the answer is there before the task's thread wakes.
        return self._endpoint._notify_event.is_set()

    def wait(self, seconds: float) -> bool:
        """Block up to ``seconds`` (real time); True once an outcome has arrived."""
        return self._endpoint.wait(seconds) is not None

    def outcome(self) -> Outcome | None:
        return self._endpoint.get_outcome()

    def time_out(self) -> None:
        self._endpoint.notify(CallbackOutcomeTimedOut(callback_id=self._endpoint.callback_id))

    def interrupt(self) -> None:
        self._endpoint.interrupt_all()


class ExecutionHandle:
    """A started execution: its ARN, and a way to stop it if its worker still runs."""

    __slots__ = ("_execution",)

    def __init__(self, execution: Execution) -> None:
        self._execution = execution

    @property
    def arn(self) -> str:
        return str(self._execution.exec_arn)

    @property
    def in_caller(self) -> bool:
        """A synchronous (Express) execution runs in the thread that started it, not its own."""
        return isinstance(self._execution, SyncExecution)

    def stop(self, at: datetime, error: str, cause: str) -> None:
        worker = self._execution.exec_worker
        if worker is None or worker.env is None:
            return  # never got going: nothing to stop
        self._execution.stop(stop_date=at, error=error, cause=cause)


class WaitTarget(Protocol):
    """What takes over the interpreter's waits (sandbox.clock.VirtualClock)."""

    def sleep(self, run: Run, seconds: float, kind: str) -> None:
        """A Wait state ("wait") or a Retry back-off ("retry") of ``seconds``."""

    def await_token(self, run: Run, timeout_seconds: int, token: TokenWait) -> Outcome | None:
        """A task token wait with moto's TimeoutSeconds; the outcome, or None when it timed out."""

    def parked_while(self, run: Run, token: TokenWait) -> AbstractContextManager[None]:
        """A task token wait with heartbeats, which stays in real time: count it as parked meanwhile."""

    def started(self, execution: ExecutionHandle) -> None:
        """Called in the thread that starts it, before its own thread exists."""

    def running(self, execution_arn: str) -> AbstractContextManager[None]:
        """An execution's own thread, from its first state to its end."""

    def answered(self, callback_id: str) -> None:
        """A task token got its outcome (called in the answering thread)."""

    def stopped(self, execution_arn: str) -> None: ...

    def terminated(self, execution_arn: str) -> None:
        """moto's worker has reported the end (it sets SUCCEEDED a moment before storing the output)."""


@contextmanager
def redirect_waits(target: WaitTarget) -> Iterator[None]:
    """The interpreter's Wait states, retry back-offs and task token waits go to ``target``."""
    current = threading.local()  # the execution whose Retry is being evaluated on this thread

    def wait_interval(self: WaitFunction, env: Environment, wait_seconds: int) -> None:
        target.sleep(Run(env), wait_seconds, "wait")

    def retry_sleep(seconds: float) -> None:
        env = getattr(current, "env", None)
        if env is not None:
            target.sleep(Run(env), seconds, "retry")

    def eval_wait_for_task_token(
        self: TaskTokenState,
        env: Environment,
        timeout_seconds: int,
        callback_endpoint: CallbackEndpoint,
        heartbeat_endpoint: HeartbeatEndpoint | None,
    ) -> CallbackOutcome:
        if heartbeat_endpoint is not None:
            with target.parked_while(Run(env), TokenWait(callback_endpoint)):
                return original_token(self, env, timeout_seconds, callback_endpoint, heartbeat_endpoint)
        run = Run(env)
        if not run.is_running():
            # Stopped before its wait began: moto's stopped program evaluates nothing, so the
            # task's timeout was never pushed and what it popped instead is the state's input.
            return CallbackOutcomeSuccess(callback_endpoint.callback_id, "{}")
        outcome = target.await_token(run, timeout_seconds, TokenWait(callback_endpoint))
        if outcome is None and not run.is_running():
            # StopExecution while the task waited: AWS ends the execution ABORTED there and then.
            # moto would time the task out and fail the stopped execution with States.Timeout.
            return CallbackOutcomeSuccess(callback_endpoint.callback_id, "{}")
        return outcome if outcome is not None else CallbackOutcomeTimedOut(callback_endpoint.callback_id)

    def retrier_eval(self: RetrierDecl, env: Environment) -> None:
        current.env = env
        try:
            original_retrier_eval(self, env)
        finally:
            current.env = None

    with ExitStack() as stack:
        stack.enter_context(replaced(WaitFunction, "_wait_interval", wait_interval))
        original_retrier_eval = stack.enter_context(replaced(RetrierDecl, "_eval_body", retrier_eval))
        stack.enter_context(replaced(retrier_decl, "time", SimpleNamespace(sleep=retry_sleep, time=time.time)))
        original_token = stack.enter_context(
            replaced(TaskTokenState, "_eval_wait_for_task_token", eval_wait_for_task_token))
        stack.enter_context(_lifecycle_to(target))
        yield


@contextmanager
def _lifecycle_to(target: WaitTarget) -> Iterator[None]:
    """An execution's start, its own thread, its stop and its end, and every task token answered."""

    def start(self: Execution) -> None:
        target.started(ExecutionHandle(self))
        original_start(self)

    def stop(self: Execution, stop_date: datetime, error: str | None, cause: str | None) -> None:
        original_stop(self, stop_date, error, cause)
        target.stopped(self.exec_arn)

    def terminated(self: BaseExecutionWorkerCommunication) -> None:
        original_terminated(self)
        target.terminated(self.execution.exec_arn)

    def execution_logic(self: ExecutionWorker) -> None:
        if isinstance(self, SyncExecutionWorker):
            original_logic(self)  # the starter's own thread
            return
        communication: BaseExecutionWorkerCommunication = self._execution_communication  # type: ignore[assignment]
        with target.running(communication.execution.exec_arn):
            original_logic(self)

    def notify(self: CallbackEndpoint, outcome: CallbackOutcome) -> None:
        original_notify(self, outcome)
        target.answered(str(self.callback_id))

    with ExitStack() as stack:
        original_start = stack.enter_context(replaced(Execution, "start", start))
        original_stop = stack.enter_context(replaced(Execution, "stop", stop))
        original_terminated = stack.enter_context(replaced(BaseExecutionWorkerCommunication, "terminated", terminated))
        original_logic = stack.enter_context(replaced(ExecutionWorker, "_execution_logic", execution_logic))
        original_notify = stack.enter_context(replaced(CallbackEndpoint, "notify", notify))
        yield
