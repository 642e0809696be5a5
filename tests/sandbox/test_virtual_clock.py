"""In-process Lambda + virtual clock: days of Step Functions waiting run in a blink, at the right time."""

from __future__ import annotations

import io
import json
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from sandbox.aws import InProcessLambdaRuntime, local_aws
from sandbox.clock import VirtualClock

FIXTURES = Path(__file__).parent / "fixtures"
START = datetime(2026, 1, 2, 9, 0, tzinfo=UTC)
PROBE = "clock-probe"


@dataclass
class Sandbox:
    runtime: InProcessLambdaRuntime
    clock: VirtualClock
    probe_arn: str
    role_arn: str

    def machine(self, name: str, states: dict[str, Any], start_at: str) -> str:
        definition = json.dumps({"StartAt": start_at, "States": states})
        sfn = boto3.client("stepfunctions")
        return sfn.create_state_machine(name=name, definition=definition, roleArn=self.role_arn)[
            "stateMachineArn"
        ]

    def run(self, machine_arn: str, payload: dict[str, Any], name: str = "case-1") -> str:
        sfn = boto3.client("stepfunctions")
        return sfn.start_execution(stateMachineArn=machine_arn, name=name, input=json.dumps(payload))[
            "executionArn"
        ]


def describe(execution_arn: str) -> dict[str, Any]:
    return boto3.client("stepfunctions").describe_execution(executionArn=execution_arn)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with local_aws() as runtime, VirtualClock(START) as clock:
        role_arn = boto3.client("iam").create_role(
            RoleName="sandbox-test",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )["Role"]["Arn"]
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.write(FIXTURES / "clock_probe.py", "clock_probe.py")
        probe_arn = boto3.client("lambda").create_function(
            FunctionName=PROBE,
            Runtime="python3.13",
            Role=role_arn,
            Handler="clock_probe.lambda_handler",
            Code={"ZipFile": buffer.getvalue()},
            Environment={"Variables": {"PROBE_SETTING": "from-function-config"}},
        )["FunctionArn"]
        runtime.register(PROBE, FIXTURES)
        yield Sandbox(runtime, clock, probe_arn, role_arn)


def probe_task(sandbox: Sandbox, payload: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": sandbox.probe_arn, "Payload": payload},
        "ResultSelector": {"probe.$": "$.Payload"},
        **extra,
    }


def test_a_three_day_wait_is_virtual_and_the_handler_sees_simulated_time(
    sandbox: Sandbox,
) -> None:
    machine = sandbox.machine(
        "wait-then-probe",
        {
            "Sleep": {"Type": "Wait", "Seconds": 3 * 24 * 3600, "Next": "Probe"},
            "Probe": probe_task(sandbox, {"echo.$": "$.case_id"}, End=True),
        },
        "Sleep",
    )
    began = time.monotonic()
    execution = sandbox.run(machine, {"case_id": "case-1"})
    sandbox.clock.run_until_parked()
    assert sandbox.clock.parked_executions() == [execution]  # asleep in the Wait state

    sandbox.clock.advance_to(START + timedelta(days=4))
    elapsed = time.monotonic() - began

    result = describe(execution)
    assert result["status"] == "SUCCEEDED"
    probe = json.loads(result["output"])["probe"]
    assert probe["now"] == "2026-01-05T09:00:00Z"  # exactly three simulated days later
    assert probe["echo"] == "case-1"
    assert probe["setting"] == "from-function-config"  # the function's own environment
    assert probe["function_name"] == PROBE and probe["remaining_ms_positive"]
    assert sandbox.clock.now() == START + timedelta(days=4)
    assert elapsed < 60  # a real three-day wait could not be shorter; the bound leaves room for a loaded machine
    assert sandbox.runtime.invocations[PROBE] == 1


def test_timestamp_wait_wakes_at_the_instant_given(sandbox: Sandbox) -> None:
    machine = sandbox.machine(
        "until-then-probe",
        {
            "Until": {"Type": "Wait", "TimestampPath": "$.wait_until", "Next": "Probe"},
            "Probe": probe_task(sandbox, {}, End=True),
        },
        "Until",
    )
    execution = sandbox.run(machine, {"wait_until": "2026-01-20T14:30:00Z"})

    sandbox.clock.advance_to(START + timedelta(days=30))

    assert json.loads(describe(execution)["output"])["probe"]["now"] == "2026-01-20T14:30:00Z"


def test_clock_stops_at_the_target_while_executions_still_wait(sandbox: Sandbox) -> None:
    machine = sandbox.machine(
        "long-wait",
        {
            "Sleep": {"Type": "Wait", "Seconds": 10 * 24 * 3600, "Next": "Probe"},
            "Probe": probe_task(sandbox, {}, End=True),
        },
        "Sleep",
    )
    execution = sandbox.run(machine, {})

    sandbox.clock.advance_to(START + timedelta(days=2))

    assert describe(execution)["status"] == "RUNNING"
    assert sandbox.clock.next_deadline() == START + timedelta(days=10)
    assert datetime.now(UTC) == START + timedelta(days=2)  # wall clock is the virtual one
    assert sandbox.runtime.invocations[PROBE] == 0


def test_handler_exception_is_retried_then_caught_by_its_class_name(sandbox: Sandbox) -> None:
    machine = sandbox.machine(
        "retry-then-catch",
        {
            "Probe": probe_task(
                sandbox,
                {"fail": True},
                Retry=[
                    {"ErrorEquals": ["ProbeError"], "IntervalSeconds": 60, "MaxAttempts": 2, "BackoffRate": 2}
                ],
                Catch=[{"ErrorEquals": ["ProbeError"], "ResultPath": "$.error", "Next": "Caught"}],
                Next="Done",
            ),
            "Caught": {"Type": "Pass", "End": True},
            "Done": {"Type": "Succeed"},
        },
        "Probe",
    )
    began = time.monotonic()
    execution = sandbox.run(machine, {})

    sandbox.clock.advance_to(START + timedelta(hours=1))

    result = describe(execution)
    assert result["status"] == "SUCCEEDED"
    assert json.loads(result["output"])["error"]["Error"] == "ProbeError"
    assert sandbox.runtime.invocations[PROBE] == 3  # first try + two retries
    assert time.monotonic() - began < 60  # the 60 s and 120 s back-offs were virtual (real: 180 s at least)


def test_a_stall_report_names_the_function_still_running_and_for_how_long(sandbox: Sandbox) -> None:
    machine = sandbox.machine("slow-probe", {"Probe": probe_task(sandbox, {"hold_seconds": 2}, End=True)}, "Probe")
    execution = sandbox.run(machine, {})

    with pytest.raises(TimeoutError) as stalled:
        sandbox.clock.run_until_parked(timeout=0.3)

    report = str(stalled.value)
    assert execution in report and "(1 busy)" in report
    assert f"inside {PROBE} for " in report and "clock_probe.py" in report and "lambda_handler" in report
    sandbox.clock.run_until_parked()  # the slow invocation ends, and the execution with it
    assert describe(execution)["status"] == "SUCCEEDED"


def _task_token(execution_arn: str) -> str:
    history = boto3.client("stepfunctions").get_execution_history(executionArn=execution_arn)["events"]
    scheduled = next(e for e in history if e["type"] == "TaskScheduled")
    parameters = json.loads(scheduled["taskScheduledEventDetails"]["parameters"])
    return str(parameters["Payload"]["token"])


def token_machine(sandbox: Sandbox) -> str:
    return sandbox.machine(
        "agent-task",
        {
            "Agent": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {"FunctionName": sandbox.probe_arn, "Payload": {"token.$": "$$.Task.Token"}},
                "TimeoutSeconds": 3 * 24 * 3600,
                "Catch": [{"ErrorEquals": ["States.Timeout"], "ResultPath": "$.error", "Next": "Unanswered"}],
                "ResultPath": "$.outcome",
                "End": True,
            },
            "Unanswered": {"Type": "Pass", "End": True},
        },
        "Agent",
    )


def test_task_token_wait_parks_until_the_agent_answers(sandbox: Sandbox) -> None:
    execution = sandbox.run(token_machine(sandbox), {})
    sandbox.clock.advance_to(START + timedelta(hours=5))
    assert sandbox.clock.parked_executions() == [execution]

    boto3.client("stepfunctions").send_task_success(
        taskToken=_task_token(execution), output='{"result": "PROMISE"}'
    )
    # Counted as running from the answer on (it may already have ended on a loaded machine), so
    # run_until_parked waits for it instead of returning at once.
    assert sandbox.clock.parked_executions() == []
    sandbox.clock.run_until_parked()

    result = describe(execution)
    assert result["status"] == "SUCCEEDED"
    assert json.loads(result["output"])["outcome"] == {"result": "PROMISE"}


def test_task_token_timeout_is_virtual(sandbox: Sandbox) -> None:
    execution = sandbox.run(token_machine(sandbox), {})

    sandbox.clock.advance_to(START + timedelta(days=3, seconds=1))

    result = describe(execution)
    assert result["status"] == "SUCCEEDED"
    assert json.loads(result["output"])["error"]["Error"] == "States.Timeout"


def test_a_task_stopped_before_its_wait_began_ends_quietly_and_never_parks(sandbox: Sandbox) -> None:
    """StopExecution can land between a task's start and its wait: moto's stopped program then
    skips evaluating the timeout, and the task pops the state's input where the seconds should be."""
    from types import SimpleNamespace

    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (
        StateTaskServiceCallback,
    )
    from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackOutcomeSuccess

    stopped = SimpleNamespace(is_running=lambda: False)
    endpoint = SimpleNamespace(callback_id="token-1")
    outcome = StateTaskServiceCallback._eval_wait_for_task_token(
        None, env=stopped, timeout_seconds={"case_id": "c-1"}, callback_endpoint=endpoint, heartbeat_endpoint=None)
    assert isinstance(outcome, CallbackOutcomeSuccess) and outcome.callback_id == "token-1"
    assert sandbox.clock.parked_executions() == [] and sandbox.clock.next_deadline() is None


def _maps() -> int:
    with open("/proc/self/maps") as maps:
        return sum(1 for _ in maps)


def _settled(count: Callable[[], int], target: int) -> int:
    """``count()`` once it reaches ``target``, or after 10 s: a thread ends just after it reports."""
    limit = time.monotonic() + 10
    while (now := count()) > target and time.monotonic() < limit:
        time.sleep(0.01)
    return now


def test_a_parked_execution_holds_one_thread_and_a_finished_one_holds_none(sandbox: Sandbox) -> None:
    """Thousands of escalations park at once in a 5,000-account shard: moto's three threads per
    agent task (and every finished thread, kept by moto's list) ran the process out of memory maps."""
    import gc

    sleeper = sandbox.machine(
        "sleep-then-probe",
        {"Sleep": {"Type": "Wait", "Seconds": 3600, "Next": "Probe"}, "Probe": probe_task(sandbox, {}, End=True)},
        "Sleep")
    agent = token_machine(sandbox)
    gc.collect()
    threads, maps = threading.active_count(), _maps()
    thread_objects = sum(isinstance(o, threading.Thread) for o in gc.get_objects())

    executions = [sandbox.run(sleeper, {}, name=f"sleeper-{n}") for n in range(20)]
    executions += [sandbox.run(agent, {}, name=f"agent-{n}") for n in range(20)]
    sandbox.clock.run_until_parked()

    assert sandbox.clock.parked_executions() == sorted(executions)
    assert threading.active_count() - threads == 40  # one each, where moto had 2 (Wait) and 3 (agent task)

    sandbox.clock.advance_to(START + timedelta(days=4))  # the sleepers probe and end, the agents time out
    assert {describe(arn)["status"] for arn in executions} == {"SUCCEEDED"}
    assert _settled(threading.active_count, threads) == threads
    gc.collect()
    assert sum(isinstance(o, threading.Thread) for o in gc.get_objects()) <= thread_objects
    assert _maps() - maps < 40  # each kept thread kept its stack mapped: two maps apiece


def test_executions_take_turns_in_the_order_they_became_runnable(sandbox: Sandbox) -> None:
    """Two loans of one person, woken by one reply, must act in the order the reply's handler
    answered them, each to its next wait, never interleaved: otherwise which one reaches the
    person's daily cap first is the threads' luck, and one seed tells two stories."""
    calls: list[str] = []
    invoke = sandbox.runtime.invoke

    def recording(fn: Any, event: Any) -> Any:
        calls.append(str((json.loads(event) if isinstance(event, str | bytes) else event).get("echo")))
        return invoke(fn, event)

    sandbox.runtime.invoke = recording  # type: ignore[method-assign]
    machine = sandbox.machine(
        "agent-then-two-probes",
        {
            "Agent": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {"FunctionName": sandbox.probe_arn,
                               "Payload": {"token.$": "$$.Task.Token", "echo.$": "States.Format('{}:agent', $.name)"}},
                "ResultPath": "$.outcome",
                "Next": "First",
            },
            "First": probe_task(sandbox, {"echo.$": "States.Format('{}:first', $.name)"}, ResultPath="$.first",
                                Next="Second"),
            "Second": probe_task(sandbox, {"echo.$": "States.Format('{}:second', $.name)"}, End=True),
        },
        "Agent",
    )
    names = [f"loan-{n}" for n in range(8)]
    executions = {name: sandbox.run(machine, {"name": name}, name=name) for name in names}
    sandbox.clock.run_until_parked()
    assert calls == [f"{name}:agent" for name in names]  # started one after another, each to its wait

    calls.clear()
    answered = ["loan-5", "loan-2", "loan-7", "loan-0", "loan-3", "loan-6", "loan-1", "loan-4"]
    sfn = boto3.client("stepfunctions")
    for name in answered:  # one caller answers them all before any runs: they run in this order
        sfn.send_task_success(taskToken=_task_token(executions[name]), output="{}")
    sandbox.clock.run_until_parked()

    assert calls == [f"{name}:{step}" for name in answered for step in ("first", "second")]
    assert {describe(arn)["status"] for arn in executions.values()} == {"SUCCEEDED"}
