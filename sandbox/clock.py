"""A virtual clock for moto's Step Functions interpreter.

Escalations wait for days (Wait states, agent tasks with task tokens, retry back-offs). Here the
wall clock (``datetime.now``, ``time.time``) is frozen with time-machine and only moves when the
driver says so, and only once every RUNNING execution is *parked*: sleeping in a Wait state or a
retry back-off, or waiting for a task token. Then the clock jumps to the earliest deadline, wakes
the executions due at that instant, lets them run until they park again, and so on. Timestamps
written by handlers are therefore exactly what they would be on AWS, and weeks run in a blink.

Limits: Task ``TimeoutSeconds`` of a ``.waitForTaskToken`` task is virtual; heartbeats and the
timeout of plain Lambda tasks are real time (short anyway). An execution counts as parked when any
of its branches is parked, so Parallel/Map branches are not tracked one by one.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import time_machine
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
    CallbackOutcomeTimedOut,
    HeartbeatEndpoint,
)
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication, Execution

TaskTokenState = state_task_service_callback.StateTaskServiceCallback

# How long (real seconds) the driver waits for executions to park before giving up: a handler
# that blocks this long is a bug worth a loud error, not a silent hang.
DEFAULT_SETTLE_TIMEOUT = 30.0
# Parked threads re-check their execution's state this often (real seconds) as a safety net.
_RECHECK_SECONDS = 5.0


def _require_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime: the virtual clock works in aware UTC instants")
    return value.astimezone(UTC)


def _execution_arn(env: Environment) -> str:
    return str(env.states.context_object.context_object_data["Execution"]["Id"])


@dataclass(eq=False)
class _Parking:
    """One parked thread of one execution: a Wait state, a retry back-off or a task-token wait."""

    execution_arn: str
    kind: str  # "wait" | "retry" | "task_token"
    deadline: datetime | None  # None: only a callback (send_task_*) wakes it
    env: Environment
    endpoint: CallbackEndpoint | None = None
    woken: threading.Event = field(default_factory=threading.Event)
    seq: int = 0

    @property
    def parked(self) -> bool:
        if self.woken.is_set():
            return False
        # A callback may already have arrived (send_task_success runs in the caller's thread):
        # count the execution as running from that very moment, not when its thread wakes.
        return not (self.endpoint is not None and self.endpoint._notify_event.is_set())


class VirtualClock:
    """Frozen, driver-advanced time for moto's Step Functions executions.

    Use as a context manager (or ``install``/``uninstall``) inside an active ``moto.mock_aws``.
    The process must run with ``TZ=UTC``: moto compares timestamp waits with naive local time.
    """

    def __init__(self, start: datetime, settle_timeout: float = DEFAULT_SETTLE_TIMEOUT) -> None:
        self._now = _require_utc(start)
        self._settle_timeout = settle_timeout
        self._lock = threading.Condition()
        self._parkings: set[_Parking] = set()
        self._executions: dict[str, Execution] = {}
        self._terminated: set[str] = set()
        self._seq = itertools.count()
        self._traveller: time_machine.travel | None = None
        self._coordinates: Any = None
        self._restore: list[Callable[[], None]] = []

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> VirtualClock:
        self.install()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.uninstall()

    def install(self) -> None:
        if self._traveller is not None:
            raise RuntimeError("virtual clock already installed")
        if time.localtime(0).tm_gmtoff != 0:
            raise RuntimeError("run the sandbox with TZ=UTC: Step Functions waits compare naive local time")
        self._traveller = time_machine.travel(self._now, tick=False)
        self._coordinates = self._traveller.start()
        self._patch()

    def uninstall(self) -> None:
        # Executions still waiting are stopped (not woken): woken, they would carry on and call
        # AWS after the mock is gone. Their threads then see a stopped program and end.
        with self._lock:
            self._forget_finished()
            leftovers = list(self._executions.values())
        for execution in leftovers:
            if execution.exec_worker is None or execution.exec_worker.env is None:
                continue
            execution.stop(stop_date=self._now, error="SandboxClosed", cause="virtual clock uninstalled")
        with self._lock:
            for parking in list(self._parkings):
                self._wake(parking, timed_out=False)
        for undo in reversed(self._restore):
            undo()
        self._restore.clear()
        if self._traveller is not None:
            self._traveller.stop()
            self._traveller = None
            self._coordinates = None

    # ------------------------------------------------------------------ reading

    def now(self) -> datetime:
        return self._now

    def parked_executions(self) -> list[str]:
        """ARNs of RUNNING executions that are waiting (Wait, retry back-off or task token)."""
        with self._lock:
            self._forget_finished()
            parked = {p.execution_arn for p in self._parkings if p.parked}
            return sorted(arn for arn in self._executions if arn in parked)

    def busy_executions(self) -> list[str]:
        """ARNs of RUNNING executions that are doing work right now (not parked)."""
        with self._lock:
            return self._busy()

    def next_deadline(self) -> datetime | None:
        with self._lock:
            deadlines = [p.deadline for p in self._parkings if p.parked and p.deadline is not None]
            return min(deadlines) if deadlines else None

    # ------------------------------------------------------------------ driving

    def run_until_parked(self, timeout: float | None = None) -> None:
        """Block (real time) until every RUNNING execution is parked or finished."""
        limit = time.monotonic() + (self._settle_timeout if timeout is None else timeout)
        with self._lock:
            while busy := self._busy():
                remaining = limit - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"executions did not park: {busy[:5]} ({len(busy)} busy)")
                # Parking and wake-ups notify; status changes at the end of a run notify too,
                # the short timeout only covers the gap before a new worker thread registers.
                self._lock.wait(min(remaining, 0.01))

    def advance_to(self, instant: datetime) -> None:
        """Move time to ``instant``, waking parked executions at their deadlines on the way."""
        target = _require_utc(instant)
        if target < self._now:
            raise ValueError("the virtual clock never goes backwards")
        while True:
            self.run_until_parked()
            due = self.next_deadline()
            if due is None or due > target:
                break
            self._move(max(due, self._now))
            with self._lock:
                for parking in sorted(self._parkings, key=lambda p: p.seq):
                    if parking.parked and parking.deadline is not None and parking.deadline <= self._now:
                        self._wake(parking, timed_out=parking.kind == "task_token")
        self._move(target)
        self.run_until_parked()

    def advance_by(self, delta: timedelta) -> None:
        self.advance_to(self._now + delta)

    # ------------------------------------------------------------------ internals

    def _move(self, instant: datetime) -> None:
        self._now = instant
        self._coordinates.move_to(instant, tick=False)

    def _forget_finished(self) -> None:
        # Finished means moto's worker has reported termination, not just a status change:
        # moto sets SUCCEEDED a moment before it stores the execution's output.
        for arn in list(self._executions):
            if arn in self._terminated:
                del self._executions[arn]

    def _busy(self) -> list[str]:
        self._forget_finished()
        parked = {p.execution_arn for p in self._parkings if p.parked}
        return sorted(arn for arn in self._executions if arn not in parked)

    def _wake(self, parking: _Parking, *, timed_out: bool) -> None:
        parking.woken.set()
        if parking.endpoint is not None:
            if timed_out:
                parking.endpoint.notify(CallbackOutcomeTimedOut(callback_id=parking.endpoint.callback_id))
            else:
                parking.endpoint.interrupt_all()
        self._lock.notify_all()

    def _park(self, parking: _Parking) -> None:
        with self._lock:
            parking.seq = next(self._seq)
            self._parkings.add(parking)
            self._lock.notify_all()

    def _unpark(self, parking: _Parking) -> None:
        with self._lock:
            self._parkings.discard(parking)
            self._lock.notify_all()

    def _sleep(self, env: Environment, seconds: float, kind: str) -> None:
        if seconds <= 0 or not env.is_running():
            return
        parking = _Parking(_execution_arn(env), kind, self._now + timedelta(seconds=seconds), env)
        self._park(parking)
        try:
            while not parking.woken.wait(_RECHECK_SECONDS):
                if not env.is_running():
                    return
        finally:
            self._unpark(parking)

    def _await_token(
        self, env: Environment, timeout_seconds: int, endpoint: CallbackEndpoint
    ) -> CallbackOutcome | None:
        # moto's "no TimeoutSeconds" is 99999999 s: treat it as no deadline at all.
        bounded = 0 < timeout_seconds < TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS
        deadline = self._now + timedelta(seconds=timeout_seconds) if bounded else None
        parking = _Parking(_execution_arn(env), "task_token", deadline, env, endpoint)
        self._park(parking)
        try:
            while endpoint.wait(_RECHECK_SECONDS) is None and not parking.woken.is_set():
                if not env.is_running():
                    break
            return endpoint.get_outcome()
        finally:
            self._unpark(parking)

    def _track(self, execution: Execution) -> None:
        with self._lock:
            self._executions[execution.exec_arn] = execution
            self._lock.notify_all()

    def _release_execution(self, execution_arn: str) -> None:
        with self._lock:
            for parking in list(self._parkings):
                if parking.execution_arn == execution_arn:
                    self._wake(parking, timed_out=False)

    def _patch(self) -> None:
        clock = self

        def wait_interval(self: WaitFunction, env: Environment, wait_seconds: int) -> None:
            clock._sleep(env, wait_seconds, "wait")

        original_retrier_eval = RetrierDecl._eval_body
        current = threading.local()

        def retrier_eval(self: RetrierDecl, env: Environment) -> None:
            current.env = env
            try:
                original_retrier_eval(self, env)
            finally:
                current.env = None

        def retry_sleep(seconds: float) -> None:
            env = getattr(current, "env", None)
            if env is not None:
                clock._sleep(env, seconds, "retry")

        original_token = TaskTokenState._eval_wait_for_task_token

        def eval_wait_for_task_token(
            self: TaskTokenState,
            env: Environment,
            timeout_seconds: int,
            callback_endpoint: CallbackEndpoint,
            heartbeat_endpoint: HeartbeatEndpoint | None,
        ) -> CallbackOutcome:
            if heartbeat_endpoint is not None:
                # Heartbeats are real time; still count the execution as parked meanwhile.
                parking = _Parking(_execution_arn(env), "task_token", None, env, callback_endpoint)
                clock._park(parking)
                try:
                    return original_token(self, env, timeout_seconds, callback_endpoint, heartbeat_endpoint)
                finally:
                    clock._unpark(parking)
            outcome = clock._await_token(env, timeout_seconds, callback_endpoint)
            return outcome if outcome is not None else CallbackOutcomeTimedOut(callback_endpoint.callback_id)

        original_start = Execution.start

        def start(self: Execution) -> None:
            clock._track(self)
            original_start(self)

        original_stop = Execution.stop

        def stop(self: Execution, stop_date: datetime, error: str | None, cause: str | None) -> None:
            original_stop(self, stop_date, error, cause)
            clock._release_execution(self.exec_arn)

        original_terminated = BaseExecutionWorkerCommunication.terminated

        def terminated(self: BaseExecutionWorkerCommunication) -> None:
            original_terminated(self)
            with clock._lock:
                clock._terminated.add(self.execution.exec_arn)
                clock._lock.notify_all()

        self._set(WaitFunction, "_wait_interval", wait_interval)
        self._set(RetrierDecl, "_eval_body", retrier_eval)
        self._set(retrier_decl, "time", SimpleNamespace(sleep=retry_sleep, time=time.time))
        self._set(
            TaskTokenState,
            "_eval_wait_for_task_token",
            eval_wait_for_task_token,
        )
        self._set(Execution, "start", start)
        self._set(Execution, "stop", stop)
        self._set(BaseExecutionWorkerCommunication, "terminated", terminated)

    def _set(self, owner: Any, name: str, value: Any) -> None:
        original = owner.__dict__[name]
        setattr(owner, name, value)
        self._restore.append(lambda: setattr(owner, name, original))
