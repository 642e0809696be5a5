"""Domain CPU per notice (plan + compliance + render, pure code, no I/O) and peak memory of the
functions against the MemorySize the template gives them."""

from __future__ import annotations

import json
import os
import subprocess
import timeit
from typing import Any

from bench.common import PYTHON, QUIET_ENV, ROOT, median


def domain_cpu(repeat: int = 7, number: int = 200) -> dict[str, Any]:
    """Microseconds per call, median of `repeat` timeit runs of `number` calls each."""
    from dunning.domain.compliance import Attempt, AttemptKind, check
    from dunning.domain.history import contact_history
    from dunning.domain.models import Case, Channel
    from dunning.domain.notices.facts import build_facts
    from dunning.domain.notices.render import render
    from dunning.domain.planning import plan_next_action
    from dunning.domain.policy import default_policy
    from tests.functions.conftest import NOW, make_account

    policy = default_policy()
    account = make_account()
    case = Case(
        case_id="acc-1001-20261102",
        account_id="acc-1001",
        opened_at=NOW,
        strategy_id="standard",
        variant="champion",
    )
    strategy = policy.strategies["standard"]
    secret = b"bench-link-secret-0123456789abcdef"

    def plan() -> Any:
        contacts = contact_history([], [])
        return plan_next_action(case, account, contacts, [], policy, strategy, NOW)

    decision = plan().decision
    channel = Channel(decision.channel)
    template = str(decision.template_id)

    def render_notice() -> Any:
        return render(
            template, channel, build_facts(account, policy, NOW, link_secret=secret), account.locale
        )

    rendered = render_notice()

    def comply() -> Any:
        attempt = Attempt(channel=channel, kind=AttemptKind.COLLECTION, first_contact=True, content=rendered)
        return check(attempt, account, case, contact_history([], []), policy, NOW)

    assert comply().verdict.value == "ALLOW"
    out: dict[str, Any] = {}
    for name, fn in (("plan", plan), ("compliance", comply), ("render", render_notice)):
        runs = timeit.repeat(fn, repeat=repeat, number=number)
        out[f"{name}_us"] = round(median(runs) / number * 1e6)
    out["total_us"] = out["plan_us"] + out["compliance_us"] + out["render_us"]
    out["notice"] = {"step": decision.step_id, "channel": channel.value, "template": template}
    return out


_MEMORY_PROBE = r"""
import json, sys, tracemalloc, io, contextlib
sys.path.insert(0, ".")

def hwm_kib():
    # VmHWM, not ru_maxrss: on Linux ru_maxrss survives exec and reports the parent's peak.
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

name, invoke = sys.argv[1], sys.argv[2] == "1"
import pytest, time_machine
from tests.functions.conftest import NOW, seed_case
from tests.support.aws import FakeContext, load_event, load_function, moto_env
EVENTS = {"plan_next_action": "plan_next_action/plan",
          "record_failure": "record_failure/failure", "daily_sweep": "daily_sweep/scheduled"}
with pytest.MonkeyPatch.context() as mp, moto_env(mp) as env, time_machine.travel(NOW, tick=False):
    seed_case(env)
    if name == "daily_sweep":
        import boto3
        from bench.sweep import seed
        seed(boto3.client("dynamodb", region_name="us-east-1"), env["ACCOUNTS_TABLE"], 1000)
    before = hwm_kib()
    peak = 0
    if invoke:
        tracemalloc.start()
        with contextlib.redirect_stdout(io.StringIO()):
            fn = load_function(name)
            fn.lambda_handler(load_event(EVENTS[name]), FakeContext())
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    after = hwm_kib()
print(json.dumps({"rss_before_kib": before, "rss_after_kib": after, "traced_peak_bytes": peak}))
"""


def _memory_sizes() -> dict[str, int]:
    from tests.support.aws import load_template

    template = load_template()
    default = int(template.get("Globals", {}).get("Function", {}).get("MemorySize", 128))
    sizes = {}
    for resource in template["Resources"].values():
        if resource.get("Type") == "AWS::Serverless::Function":
            code = str(resource["Properties"].get("CodeUri", "")).strip("/").rsplit("/", 1)[-1]
            sizes[code] = int(resource["Properties"].get("MemorySize", default))
    return sizes


def memory(
    functions: tuple[str, ...] = ("plan_next_action", "record_failure", "daily_sweep"),
) -> dict[str, Any]:
    """Peak RSS of a fresh interpreter that invokes the handler on moto, minus the same process
    without the function (moto, boto3 and the seed data are not the function's), plus the bare
    interpreter; and the Python heap peak of the invocation itself (tracemalloc)."""
    env = {**os.environ, **QUIET_ENV}
    sizes = _memory_sizes()
    bare = int(
        subprocess.run(
            [
                PYTHON,
                "-c",
                "print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM:')))",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    rows = {}
    for name in functions:

        def probe(invoke: bool, name: str = name) -> dict[str, Any]:
            out = subprocess.run(
                [PYTHON, "-c", _MEMORY_PROBE, name, "1" if invoke else "0"],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            return json.loads(out.stdout.strip().splitlines()[-1])

        control, measured = probe(False), probe(True)
        own_mib = (measured["rss_after_kib"] - control["rss_after_kib"] + bare) / 1024
        rows[name] = {
            "memory_size_mb": sizes.get(name),
            "estimated_rss_mib": round(own_mib, 1),
            "heap_peak_mib": round(measured["traced_peak_bytes"] / 2**20, 1),
            "process_rss_with_moto_mib": round(measured["rss_after_kib"] / 1024, 1),
            "share_of_memory_size": round(own_mib / sizes[name], 2) if sizes.get(name) else None,
        }
    return {"bare_interpreter_mib": round(bare / 1024, 1), "functions": rows}
