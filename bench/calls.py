"""AWS calls per notice sent: the PlanNextAction that decided SEND and sent it.

Every botocore call is counted (not only the repositories' counters): secrets, SSM, SQS, the
providers. The first case pays the cold start (the link secret); the rest are warm.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from bench.common import moto_tables, spying
from sandbox.aws import call_kind


def notice_path(cases: int = 20) -> dict[str, Any]:
    import time_machine

    from tests.functions.conftest import NOW, make_account, seed_case
    from tests.support.aws import FakeContext, load_function

    plan_fn = load_function("plan_next_action")
    with moto_tables() as env, spying() as spy, time_machine.travel(NOW, tick=False):
        plan_fn._ports = None
        spy.recording = False
        for i in range(cases):
            seed_case(env, make_account(account_id=f"acc-{2000 + i}"))
        spy.recording = True
        plan_ops: list[Counter[str]] = []
        sent = 0
        for i in range(cases):
            ids = {"case_id": f"acc-{2000 + i}-20261102", "account_id": f"acc-{2000 + i}"}
            spy.take()
            decision = plan_fn.lambda_handler(dict(ids), FakeContext())
            plan_calls = spy.take()
            if decision.get("sent", {}).get("status") != "SENT":
                continue
            sent += 1
            plan_ops.append(Counter(f"{s}:{o}" for s, o in plan_calls))
        plan_fn._ports = None
    warm = plan_ops[1:]

    def per_notice(rows: list[Counter[str]]) -> dict[str, float]:
        total: Counter[str] = Counter()
        for row in rows:
            total.update(row)
        return {op: round(n / len(rows), 2) for op, n in sorted(total.items())}

    def kinds(ops: dict[str, float]) -> dict[str, float]:
        out: dict[str, float] = dict.fromkeys(("reads", "writes", "sends", "other"), 0.0)
        for op, n in ops.items():
            service, operation = op.split(":")
            out[call_kind(service, operation)] += n
        return {k: round(out[k], 2) for k in ("reads", "writes", "sends", "other")}

    warm_ops = per_notice(warm)
    return {
        "notices_sent": sent,
        "cold": dict(plan_ops[0]),
        "warm_ops": warm_ops,
        "notice_path": kinds(warm_ops) | {"total": round(sum(warm_ops.values()), 2)},
    }
