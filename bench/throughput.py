"""Sandbox throughput (simulated account-days per second), AWS calls attributed to the function
that made them, and Step Functions state transitions per case, from one `dunning simulate` run.

The run is sandbox.simulate's Simulation, unchanged, with three taps: a botocore spy tagged with the
function being invoked, the executions' histories read before the mock is torn down, and (for the
scaling check) extra current accounts whose due date lies beyond the simulated days.
"""

from __future__ import annotations

import dataclasses
import io
import json
import threading
import time
from collections import Counter, defaultdict
from contextlib import redirect_stdout
from datetime import timedelta
from typing import Any

from bench.common import CallSpy, item_bytes, spying
from sandbox.aws import call_kind


def _current_accounts(portfolio: list[Any], extra: int, days: int) -> list[Any]:
    """Accounts that stay current for the whole run: same shape, due after the last simulated day."""
    from sandbox.portfolio import Persona

    template = portfolio[0]
    codes = ["202", "212", "312", "415", "303", "617", "713", "206", "404", "305"]
    out = []
    for n in range(extra):
        out.append(
            dataclasses.replace(
                template,
                account_id=f"CUR{n + 1:06d}",
                persona=Persona.PAYS_FIRST_REMINDER,
                phone=f"+1{codes[n % 10]}5553{n // 10 % 1000:03d}",
                email=f"current{n + 1:06d}@mail.example.com",
                account_number=f"40009999{n + 1:08d}",
                locale="en-US",
                time_zones=("America/New_York",),
                jurisdiction="US",
                currency="USD",
                due_date=template.due_date + timedelta(days=days + 15 + n % 15),
            )
        )
    return out


def run(accounts: int, days: int, seed: int = 7, current: int = 0) -> dict[str, Any]:
    from sandbox import aws as sandbox_aws
    from sandbox.simulate import Simulation, SimulationConfig

    local = threading.local()
    per_function: dict[str, Counter[str]] = defaultdict(Counter)
    outputs: list[tuple[str, Any, Counter[str], str | None]] = []
    transitions: list[int] = []
    by_state: Counter[str] = Counter()
    sizes: dict[str, list[int]] = defaultdict(list)
    partitions: Counter[str] = Counter()

    class Measured(Simulation):
        def __init__(self, config: SimulationConfig) -> None:
            super().__init__(config)
            if current:
                extra = _current_accounts(self.portfolio, current, config.days)
                self.portfolio += extra
                for a in extra:
                    self.by_id[a.account_id], self.by_phone[a.phone], self.by_email[a.email] = a, [a], [a]
                self.people.update({a.account_id: type(next(iter(self.people.values())))(a) for a in extra})

        def _read_tables(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
            spy.recording = False
            _collect(self, transitions, sizes, partitions, by_state)
            return super()._read_tables()

    original_invoke = sandbox_aws.InProcessLambdaRuntime.invoke

    def invoke(runtime: Any, fn: Any, event: Any) -> Any:
        # Calls are attributed per thread: executions and the driver run in other threads meanwhile.
        outer = getattr(local, "made", None)
        made: Counter[str] = Counter()
        local.made = made
        began = time.perf_counter()
        try:
            result = original_invoke(runtime, fn, event)
        finally:
            local.made = outer
        made["_ms"] = round((time.perf_counter() - began) * 1000)
        payload = json.loads(event) if isinstance(event, str | bytes) and event else event
        case_id = payload.get("case_id") if isinstance(payload, dict) else None
        outputs.append((fn.function_name, result[0], made, case_id))
        return result

    def on_call(service: str, operation: str) -> None:
        made = getattr(local, "made", None)
        if made is not None:
            made[f"{service}:{operation}"] += 1

    with spying() as spy:
        spy.on_call = on_call
        sandbox_aws.InProcessLambdaRuntime.invoke = invoke  # type: ignore[method-assign,assignment]
        started = time.perf_counter()
        try:
            with redirect_stdout(io.StringIO()):
                result = Measured(SimulationConfig(accounts=accounts, days=days, seed=seed)).run()
        finally:
            sandbox_aws.InProcessLambdaRuntime.invoke = original_invoke  # type: ignore[method-assign]
        wall = time.perf_counter() - started
    summary = result.summary
    figures = _figures(summary, outputs, transitions, accounts + current, days, wall, per_function)
    figures["transitions_per_case_by_state"] = (
        {k: round(v / len(transitions), 2) for k, v in by_state.most_common()} if transitions else {}
    )
    figures["item_bytes"] = {k: round(sum(v) / len(v)) for k, v in sorted(sizes.items())}
    cases = figures.get("cases") or 1
    figures["write_units_per_case"] = round(spy.write_units / cases, 1)
    figures["header_write_units_per_case"] = round(spy.header_write_units / cases, 1)
    headers = sorted(sizes.get("CASE", []))
    # Every commit rewrites its case's header (transactional writes bill 2 units per KB started).
    figures["case_header_bytes"] = (
        {"mean": round(sum(headers) / len(headers)), "p95": headers[int(0.95 * (len(headers) - 1))],
         "max": headers[-1]} if headers else {}
    )
    account_partitions = [v for k, v in partitions.items() if k.startswith("ACCOUNT#")]
    figures["history_query_bytes"] = (
        round(sum(account_partitions) / len(account_partitions)) if account_partitions else 0
    )
    return figures


def _collect(sim: Any, transitions: list[int], sizes: dict[str, list[int]], partitions: Counter[str],
             by_state: Counter[str]) -> None:
    """Before the mock goes: state transitions per execution, and item sizes per item type."""
    sfn = sim.client("stepfunctions")
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=sim.stack.state_machine_arn):
        for execution in page["executions"]:
            events = []
            for hist in sfn.get_paginator("get_execution_history").paginate(
                executionArn=execution["executionArn"]
            ):
                events += hist["events"]
            entered = [e for e in events if e["type"].endswith("StateEntered")]
            transitions.append(len(entered))
            by_state.update(str(e.get("stateEnteredEventDetails", {}).get("name")) for e in entered)
    ddb = sim.client("dynamodb")
    for logical_id in ("AccountsTable", "CollectionsTable"):
        for page in ddb.get_paginator("scan").paginate(TableName=sim.stack.table(logical_id)):
            for item in page["Items"]:
                size = item_bytes(item)
                sizes[item.get("type", {}).get("S", "ACCOUNT")].append(size)
                if "pk" in item:
                    partitions[item["pk"]["S"]] += size


def _figures(
    summary: dict[str, Any],
    outputs: list[tuple[str, Any, Counter[str], str | None]],
    transitions: list[int],
    accounts: int,
    days: int,
    wall: float,
    _: Any,
) -> dict[str, Any]:
    # Calls made while a handler ran, by the function's short name (the stack's physical name ends
    # in the logical id's stem); nested invokes are attributed to the inner function only once
    # because each invoke records the calls made during its own span.
    by_function: dict[str, Counter[str]] = defaultdict(Counter)
    invocations: Counter[str] = Counter()
    notice_path: Counter[str] = Counter()
    ops: dict[str, Counter[str]] = defaultdict(Counter)
    sent = 0
    duration_ms: Counter[str] = Counter()
    for name, payload, made, _case_id in outputs:
        short = _short(name)
        duration_ms[short] += made.pop("_ms", 0)
        by_function[short].update(made)
        ops[short].update(made)
        invocations[short] += 1
        try:
            body = json.loads(payload)
        except ValueError:
            body = None
        if short == "PlanNextAction" and isinstance(body, dict) and body.get("sent", {}).get("status") == "SENT":
            sent += 1
            notice_path.update(made)

    def kinds(ops: Counter[str]) -> dict[str, int]:
        out: Counter[str] = Counter()
        for op, n in ops.items():
            service, operation = op.split(":")
            out[call_kind(service, operation)] += n
        return dict(out)

    notices = sum(summary.get("notices", {}).values())
    cases = summary.get("cases_opened", 0) or len(transitions)
    return {
        "accounts": accounts,
        "days": days,
        "wall_seconds": round(wall, 1),
        "account_days_per_second": round(accounts * days / wall, 1),
        "cases": cases,
        "notices": summary.get("notices"),
        "call_tasks": summary.get("call_tasks"),
        "invocations": dict(sorted(invocations.items())),
        "in_process_ms_per_invocation": {
            f: round(duration_ms[f] / n) for f, n in sorted(invocations.items())
        },
        "calls_by_function": {
            f: kinds(c) | {"total": sum(c.values())} for f, c in sorted(by_function.items())
        },
        "ops_per_invocation": {
            f: {op: round(n / invocations[f], 2) for op, n in sorted(ops[f].items())}
            for f in ("PlanNextAction",)
            if invocations[f]
        },
        "notice_path_per_sent": (
            {k: round(v / sent, 2) for k, v in kinds(notice_path).items()}
            | {"total": round(sum(notice_path.values()) / sent, 2), "sent": sent}
        )
        if sent
        else None,
        "all_function_calls_per_notice": round(
            sum(sum(c.values()) for c in by_function.values()) / notices, 2
        )
        if notices
        else None,
        "executions": len(transitions),
        "transitions_per_case": round(sum(transitions) / len(transitions), 1) if transitions else None,
        "transitions_total": sum(transitions),
        "audit": summary.get("audit"),
    }


def _short(function_name: str) -> str:
    for stem in (
        "PlanNextAction",
        "AgentTask",
        "RecordFailure",
        "DailySweep",
        "AccountStream",
        "ApplyPayment",
        "ImportAccounts",
        "EmailEvents",
        "SmsWebhook",
        "InboundSms",
        "Admin",
        "Report",
    ):
        if stem in function_name:
            return stem
    return function_name


__all__ = ["run", "CallSpy"]
