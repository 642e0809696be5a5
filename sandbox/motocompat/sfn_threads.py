"""One thread per execution where moto starts three.

moto's interpreter gives every execution a worker thread (``ExecutionWorker.start``), which starts
a second thread for the program and joins it (``Program.eval``, to bound the execution by its
``TimeoutSeconds``), and every Task state starts a third and waits on it
(``ExecutionState._evaluate_with_timeout``, to bound the task by its ``TimeoutSeconds``). Under
the virtual clock an escalation spends its weeks parked: thousands per shard at 5,000 accounts,
each holding its threads, each thread's stack two memory maps. Past ``vm.max_map_count`` a new
thread dies of MemoryError in its bootstrap and ``Thread.start`` waits for ever (CPython
gh-140746): that is what stopped the first 5,000-account runs.

``one_thread_per_execution()`` runs in the caller's thread what would only be waited for:
- a program with no ``TimeoutSeconds`` (moto joins its thread with no timeout);
- a task with no ``TimeoutSeconds`` (moto's default is 99,999,999 s: no bound either), and a
  ``.waitForTaskToken`` task without heartbeats, whose timeout the virtual clock keeps instead
  (``sfn_waits``).
A program or a task with a real-time bound keeps moto's threads. moto also keeps every thread it
ever started in a module list it never reads (``TMP_THREADS``); here the list keeps none.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from types import ModuleType
from typing import Any

from moto.stepfunctions.parser import utils as parser_utils
from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds
from moto.stepfunctions.parser.asl.component.program import program as program_module
from moto.stepfunctions.parser.asl.component.program.program import Program
from moto.stepfunctions.parser.asl.component.state.exec import execute_state
from moto.stepfunctions.parser.asl.component.state.exec.execute_state import ExecutionState
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import inline_iteration_component
from moto.stepfunctions.parser.asl.component.state.exec.state_parallel import branch_worker
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_callback
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import ResourceCondition
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.backend import execution_worker

from sandbox.motocompat.patching import replaced, require_parameters

require_parameters(Program.eval, "self", "env")
require_parameters(ExecutionState._evaluate_with_timeout, "self", "env")

# Every module that imported moto's list of started threads by name.
_THREAD_LISTS: tuple[ModuleType, ...] = (parser_utils, program_module, execute_state, inline_iteration_component,
                                         branch_worker, state_task_service_callback, execution_worker)


class _KeepsNone(list[threading.Thread]):
    """moto appends every thread it starts and never reads the list: keep none of them."""

    def append(self, thread: threading.Thread) -> None:
        pass


class _InCaller:
    """What ``_evaluate_with_timeout`` gets for a Thread (it only starts it, then waits on an
    event the target sets): the target runs in the caller's thread and has finished by then."""

    __slots__ = ("_target",)

    def __init__(self, target: Callable[[], None]) -> None:
        self._target = target

    def start(self) -> None:
        _in_caller.on = False  # the target's own tasks decide for themselves
        self._target()


_in_caller = threading.local()


def _thread(*args: Any, **kwargs: Any) -> Any:
    """What ``execute_state`` calls as ``Thread``: the caller's thread when the task asked for it."""
    if getattr(_in_caller, "on", False):
        return _InCaller(kwargs["target"])
    return threading.Thread(*args, **kwargs)


def _unbounded_in_real_time(state: ExecutionState) -> bool:
    if isinstance(state.timeout, TimeoutSeconds) and state.timeout.is_default_value():
        return True
    resource = getattr(state, "resource", None)
    return (isinstance(state, state_task_service_callback.StateTaskServiceCallback)
            and getattr(resource, "condition", None) == ResourceCondition.WaitForTaskToken
            and state.heartbeat is None)


@contextmanager
def one_thread_per_execution() -> Iterator[None]:
    """An execution's program and its tasks run in the execution's own thread where moto would
    only wait for theirs (see the module's docstring for when)."""

    def program_eval(self: Program, env: Environment) -> None:
        if self.timeout_seconds is not None:
            original_program_eval(self, env)  # a real-time bound on the whole execution: moto's thread
            return
        env.next_state_name = self.start_at.start_at_name
        super(Program, self).eval(env)

    def evaluate_with_timeout(self: ExecutionState, env: Environment) -> None:
        if not _unbounded_in_real_time(self):
            original_evaluate(self, env)
            return
        _in_caller.on = True
        try:
            original_evaluate(self, env)
        finally:
            _in_caller.on = False

    with ExitStack() as stack:
        for module in _THREAD_LISTS:
            stack.enter_context(replaced(module, "TMP_THREADS", _KeepsNone()))
        original_program_eval = stack.enter_context(replaced(Program, "eval", program_eval))
        original_evaluate = stack.enter_context(
            replaced(ExecutionState, "_evaluate_with_timeout", evaluate_with_timeout))
        stack.enter_context(replaced(execute_state, "Thread", _thread))
        yield
