"""A virtual clock for moto's Step Functions interpreter.

Escalations wait for days (Wait states, agent tasks with task tokens, retry back-offs). Here the
wall clock (``datetime.now``, ``time.time``) is frozen with time-machine and only moves when the
driver says so, and only once every RUNNING execution is *parked*: sleeping in a Wait state or a
retry back-off, or waiting for a task token. Then the clock jumps to the earliest deadline, wakes
the executions due at that instant, lets them run until they park again, and so on. Timestamps
written by handlers are therefore exactly what they would be on AWS, and weeks run in a blink.

Executions also take turns: one runs at a time, from the moment it becomes runnable (started,
woken at its deadline, its task token answered, stopped) until it parks or ends, in the order they
became runnable. That order is decided in one thread (the one that starts, wakes, answers or
stops), so it is the same on every run: two loans of one person woken by one reply act in the
order the reply's handler answered them, not in the order the threads happened to be scheduled,
and one seed tells one story. Little is lost: invocations run one at a time anyway.

Limits: Task ``TimeoutSeconds`` of a ``.waitForTaskToken`` task is virtual; heartbeats and the
timeout of plain Lambda tasks are real time (short anyway). An execution counts as parked when any
of its branches is parked, so Parallel/Map branches are not tracked one by one.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import time_machine

from sandbox.motocompat.sfn_waits import NO_TIMEOUT_SECONDS, ExecutionHandle, Outcome, Run, TokenWait, redirect_waits

# How long (real seconds) the driver waits for executions to park before giving up: a handler
# that blocks this long is a bug worth a loud error, not a silent hang.
DEFAULT_SETTLE_TIMEOUT = 30.0
# The default patience grows by this much per busy execution (real seconds; see run_until_parked).
_PER_BUSY_SECONDS = 0.5
# Parked threads re-check their execution's state this often (real seconds) as a safety net: every
# wake-up (a deadline, a callback, a stop) is signalled, so the re-check only costs when thousands
# park at once (1,700 executions per shard at 5,000 accounts woke 340 times a second at 5 s).
_RECHECK_SECONDS = 60.0


def _require_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime: the virtual clock works in aware UTC instants")
    return value.astimezone(UTC)


def _where_threads_are(top: int = 8) -> str:
    """The innermost frames of the sandbox's and moto's code in every thread, counted, and for a
    thread inside a function, which function, for how long, and its path through our code: what a
    stall report needs to say whether executions wait on a lock, on AWS, on each other, or on one
    slow invocation."""
    import sys
    import traceback
    from collections import Counter

    from sandbox.lambda_runtime import active_runtime

    runtime = active_runtime()
    serving = runtime.serving() if runtime is not None else {}
    places: Counter[str] = Counter()
    inside: list[str] = []
    for thread_id, frame in sys._current_frames().items():
        stack = traceback.extract_stack(frame)
        ours = [f for f in stack if "/sandbox/" in f.filename or "/dunning/" in f.filename or "/moto/" in f.filename]
        inner = (ours or stack)[-1]
        places[f"{_place(inner)} > {stack[-1].name}"] += 1
        if thread_id in serving:
            function, since = serving[thread_id]
            path = [f for f in stack if "/functions/" in f.filename or "/dunning/" in f.filename]
            inside.append(f"{function} for {time.monotonic() - since:.1f} s: "
                          + " > ".join(_place(f) for f in [*path[-6:], inner] if f is not None))
    # The crowd (parked executions, all alike), then every rarer place: a stall is in those.
    ranked = places.most_common()
    shown = ranked[:top] + [(p, n) for p, n in ranked[top:] if n < 10][:3 * top]
    where = "; ".join(f"{n} x {place}" for place, n in shown)
    return where + "".join(f"; inside {line}" for line in inside)


def _place(frame: Any) -> str:
    return f"{frame.filename.rsplit('/', 2)[-2]}/{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno} {frame.name}"


@dataclass(eq=False)
class _Parking:
    """One parked thread of one execution: a Wait state, a retry back-off or a task-token wait."""

    execution_arn: str
    kind: str  # "wait" | "retry" | "task_token"
    deadline: datetime | None  # None: only a callback (send_task_*) wakes it
    token: TokenWait | None = None
    woken: threading.Event = field(default_factory=threading.Event)
    seq: int = 0
    counted: bool = False  # counted as parked by the clock (until woken, answered or gone)

    @property
    def parked(self) -> bool:
        if self.woken.is_set():
            return False
        # A callback may already have arrived (send_task_success runs in the caller's thread):
        # count the execution as running from that very moment, not when its thread wakes.
        return not (self.token is not None and self.token.answered())


class VirtualClock:
    """Frozen, driver-advanced time for moto's Step Functions executions.

    Use as a context manager (or ``install``/``uninstall``) inside an active ``moto.mock_aws``.
    The process must run with ``TZ=UTC``: moto compares timestamp waits with naive local time.
    """

    def __init__(self, start: datetime, settle_timeout: float = DEFAULT_SETTLE_TIMEOUT) -> None:
        self._now = _require_utc(start)
        self._settle_timeout = settle_timeout
        self._lock = threading.Condition()
        # Kept as things happen, not recomputed: the driver asks "anyone busy?" after every step,
        # and a 5,000-account shard has thousands of parked executions to ask about.
        self._parkings: dict[str, set[_Parking]] = {}  # execution ARN -> its waits
        self._by_token: dict[str, _Parking] = {}  # task token -> its wait
        self._deadlines: list[tuple[datetime, int, _Parking]] = []  # a heap; woken waits left in it
        self._executions: dict[str, ExecutionHandle] = {}  # running, until moto reports the end
        self._parked_in: Counter[str] = Counter()  # execution ARN -> its waits counted as parked
        self._busy_arns: set[str] = set()  # running and not parked
        self._changes = 0  # bumped whenever an execution starts, parks, wakes or ends
        self._seq = itertools.count()
        # Whose turn it is, and who is next, in the order they became runnable (a dict keeps it).
        self._turn: str | None = None
        self._next: dict[str, threading.Event] = {}
        self._closed = False
        self._traveller: time_machine.travel | None = None
        self._coordinates: Any = None
        self._redirect = ExitStack()

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
        self._redirect.enter_context(redirect_waits(self))

    def uninstall(self) -> None:
        # Executions still waiting are stopped (not woken): woken, they would carry on and call
        # AWS after the mock is gone. Their threads then see a stopped program and end.
        with self._lock:
            leftovers = list(self._executions.values())
            # Nobody waits for a turn any more: stopped executions end on their own threads at once.
            self._closed = True
            for ready in self._next.values():
                ready.set()
        for execution in leftovers:
            execution.stop(self._now, error="SandboxClosed", cause="virtual clock uninstalled")
        with self._lock:
            for parking in [p for waits in self._parkings.values() for p in waits]:
                self._wake(parking, timed_out=False)
        self._redirect.close()
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
            return sorted(arn for arn in self._executions if self._parked_in[arn])

    def busy_executions(self) -> list[str]:
        """ARNs of RUNNING executions that are doing work right now (not parked)."""
        with self._lock:
            return self._busy()

    def next_deadline(self) -> datetime | None:
        with self._lock:
            while self._deadlines and not self._deadlines[0][2].counted:
                heapq.heappop(self._deadlines)  # woken, answered or gone since it parked
            return self._deadlines[0][0] if self._deadlines else None

    # ------------------------------------------------------------------ driving

    def run_until_parked(self, timeout: float | None = None) -> None:
        """Block (real time) until every RUNNING execution is parked or finished. `timeout` bounds a
        wait in which no execution parks or finishes: on a loaded machine many busy executions may
        take long in all, and only a stall means something is wrong."""
        patience = self._settle_timeout if timeout is None else timeout
        limit, seen = time.monotonic() + patience, -1
        with self._lock:
            while self._busy_arns:
                if self._changes != seen:  # progress (or new work): the stall clock starts again
                    # Invocations run one at a time (InProcessLambdaRuntime): with hundreds busy,
                    # none may park for a while although every one is being served in turn.
                    busy = len(self._busy_arns)
                    allowed = patience if timeout is not None else max(patience, _PER_BUSY_SECONDS * busy)
                    limit, seen = time.monotonic() + allowed, self._changes
                remaining = limit - time.monotonic()
                if remaining <= 0:
                    stuck = self._busy()
                    raise TimeoutError(f"executions did not park: {stuck[:5]} ({len(stuck)} busy); "
                                       f"their waits: {self._waits_of(stuck[:5])}; "
                                       f"where the process's threads are: {_where_threads_are()}")
                # Every start, park, wake-up and end notifies; the timeout only re-checks the stall.
                self._lock.wait(min(remaining, 1.0))

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
            # Executions due at one instant run one after another, in the order they parked, each
            # until it parks again: two loans of one person due at 14:00 race for the person's caps,
            # and which wins must not be the threads' luck (a rerun is the same story). Invocations
            # are one at a time anyway, so little overlap is lost.
            with self._lock:
                due_now = []
                while self._deadlines and self._deadlines[0][0] <= self._now:
                    due_now.append(heapq.heappop(self._deadlines)[2])
            for parking in sorted(due_now, key=lambda p: p.seq):
                with self._lock:
                    if not parking.counted:
                        continue  # answered or stopped meanwhile by an execution woken before it
                    self._wake(parking, timed_out=parking.kind == "task_token")
                self.run_until_parked()
        self._move(target)
        self.run_until_parked()

    def advance_by(self, delta: timedelta) -> None:
        self.advance_to(self._now + delta)

    # ------------------------------------------------------------------ internals

    def _move(self, instant: datetime) -> None:
        self._now = instant
        self._coordinates.move_to(instant, tick=False)

    def _waits_of(self, arns: list[str]) -> dict[str, list[str]]:
        """Each execution's waits the clock still holds: a wait woken or answered whose thread has
        not come back for it is a thread that has not run since (starved, or blocked elsewhere)."""
        def state(p: _Parking) -> str:
            answered = p.token is not None and p.token.answered()
            return "woken" if p.woken.is_set() else "answered" if answered else "parked"

        return {arn.rsplit(":", 1)[-1]: [f"{p.kind} {state(p)}" for p in self._parkings.get(arn, ())]
                for arn in arns}

    def _busy(self) -> list[str]:
        return sorted(self._busy_arns)

    def _count(self, parking: _Parking) -> None:
        arn = parking.execution_arn
        parking.counted = True
        self._parked_in[arn] += 1
        self._busy_arns.discard(arn)
        self._changes += 1

    def _uncount(self, parking: _Parking) -> None:
        """``parking`` no longer holds its execution (woken, answered or gone): once, whichever first."""
        if not parking.counted:
            return
        arn = parking.execution_arn
        parking.counted = False
        self._parked_in[arn] -= 1
        if not self._parked_in[arn]:
            del self._parked_in[arn]
            if arn in self._executions:
                self._busy_arns.add(arn)
        self._changes += 1

    def _wake(self, parking: _Parking, *, timed_out: bool) -> None:
        parking.woken.set()
        self._uncount(parking)
        if parking.token is not None:
            if timed_out:
                parking.token.time_out()
            else:
                parking.token.interrupt()
        self._runnable(parking.execution_arn)
        self._lock.notify_all()

    def _park(self, parking: _Parking) -> None:
        with self._lock:
            parking.seq = next(self._seq)
            self._parkings.setdefault(parking.execution_arn, set()).add(parking)
            if parking.token is not None:
                self._by_token[parking.token.callback_id] = parking
            if parking.parked:  # a token answered before its wait began keeps its execution busy
                self._count(parking)
                if parking.deadline is not None:
                    heapq.heappush(self._deadlines, (parking.deadline, parking.seq, parking))
                self._end_turn(parking.execution_arn)
            self._lock.notify_all()

    def _unpark(self, parking: _Parking) -> None:
        with self._lock:
            self._uncount(parking)
            waits = self._parkings.get(parking.execution_arn, set())
            waits.discard(parking)
            if not waits:
                self._parkings.pop(parking.execution_arn, None)
            if parking.token is not None and self._by_token.get(parking.token.callback_id) is parking:
                del self._by_token[parking.token.callback_id]
            self._lock.notify_all()
        self._take_turn(parking.execution_arn)

    # ------------------------------------------------------------------ turns (under self._lock)

    def _runnable(self, execution_arn: str) -> None:
        """``execution_arn`` may run as soon as those runnable before it have parked or ended."""
        if execution_arn != self._turn and execution_arn not in self._next and not self._closed:
            self._next[execution_arn] = threading.Event()
            self._pass_turn()

    def _pass_turn(self) -> None:
        if self._turn is None and self._next:
            self._turn = next(iter(self._next))
            self._next.pop(self._turn).set()

    def _end_turn(self, execution_arn: str) -> None:
        if self._turn == execution_arn:
            self._turn = None
            self._pass_turn()

    def _take_turn(self, execution_arn: str) -> None:
        """Block the execution's thread until it is its turn (its own thread, not under the lock)."""
        with self._lock:
            # A wake-up no hook announced (there should be none) queues here, behind the rest.
            self._runnable(execution_arn)
            ready = self._next.get(execution_arn)
        if ready is not None:
            ready.wait()

    # ------------------------------------------------------------------ the interpreter's waits
    # (sandbox.motocompat.sfn_waits.WaitTarget: called from the executions' own threads)

    def sleep(self, run: Run, seconds: float, kind: str) -> None:
        if seconds <= 0 or not run.is_running():
            return
        parking = _Parking(run.execution_arn, kind, self._now + timedelta(seconds=seconds))
        self._park(parking)
        try:
            while not parking.woken.wait(_RECHECK_SECONDS):
                if not run.is_running():
                    return
        finally:
            self._unpark(parking)

    def await_token(self, run: Run, timeout_seconds: int, token: TokenWait) -> Outcome | None:
        # moto's "no TimeoutSeconds" is 99999999 s: treat it as no deadline at all.
        bounded = 0 < timeout_seconds < NO_TIMEOUT_SECONDS
        deadline = self._now + timedelta(seconds=timeout_seconds) if bounded else None
        parking = _Parking(run.execution_arn, "task_token", deadline, token)
        self._park(parking)
        try:
            while not token.wait(_RECHECK_SECONDS) and not parking.woken.is_set():
                if not run.is_running():
                    break
            return token.outcome()
        finally:
            self._unpark(parking)

    @contextmanager
    def parked_while(self, run: Run, token: TokenWait) -> Iterator[None]:
        # Heartbeats are real time; still count the execution as parked meanwhile.
        parking = _Parking(run.execution_arn, "task_token", None, token)
        self._park(parking)
        try:
            yield
        finally:
            self._unpark(parking)

    def started(self, execution: ExecutionHandle) -> None:
        with self._lock:
            self._executions[execution.arn] = execution
            self._busy_arns.add(execution.arn)  # nothing of a new execution is parked yet
            self._changes += 1
            if not execution.in_caller:
                self._runnable(execution.arn)
            self._lock.notify_all()

    @contextmanager
    def running(self, execution_arn: str) -> Iterator[None]:
        self._take_turn(execution_arn)
        try:
            yield
        finally:
            with self._lock:
                self._end_turn(execution_arn)

    def answered(self, callback_id: str) -> None:
        with self._lock:
            parking = self._by_token.get(callback_id)
            if parking is not None and parking.counted:
                self._uncount(parking)
                self._runnable(parking.execution_arn)
            self._lock.notify_all()

    def stopped(self, execution_arn: str) -> None:
        with self._lock:
            for parking in list(self._parkings.get(execution_arn, ())):
                self._wake(parking, timed_out=False)

    def terminated(self, execution_arn: str) -> None:
        with self._lock:
            # The end as moto's worker reports it, not the status: moto sets SUCCEEDED a moment
            # before it stores the execution's output.
            self._executions.pop(execution_arn, None)
            self._busy_arns.discard(execution_arn)
            self._changes += 1
            self._lock.notify_all()
