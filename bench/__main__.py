"""`make bench` (python -m bench): every figure in docs/performance.md.

    python -m bench                 # about 10 minutes on 2 cores
    python -m bench --full          # adds 100,000 accounts to the sweep and larger simulations
    python -m bench --only calls,sweep --out out/bench.json

Results are printed as JSON and written to --out (default out/bench.json); its first key,
"record", holds the figures docs/performance.md opens with.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import sys
import time
import warnings
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

from bench.common import ROOT, machine, quiet_environment

SECTIONS = ("calls", "sweep", "coldstart", "cpu", "memory", "throughput", "cost")
# Runs small enough for a shared 2-core machine: a case's whole life, and a plain `dunning simulate`.
LIFETIME = (60, 50)
PLAIN = (300, 10)


def _log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--full", action="store_true", help="also 100,000 accounts and the bigger simulations"
    )
    parser.add_argument("--runs", type=int, default=5, help="runs per cold-start median (default 5)")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated subset of {SECTIONS}")
    parser.add_argument("--days", type=int, default=5, help="simulated days per throughput run (default 5)")
    parser.add_argument("--out", default=str(ROOT / "out" / "bench.json"), help="where to write the JSON")
    args = parser.parse_args(argv)
    quiet_environment()
    warnings.simplefilter("ignore")  # moto names every template resource type it does not model
    wanted = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(wanted) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}")
    results: dict[str, Any] = {"machine": machine(), "full": args.full}
    started = time.perf_counter()
    for section in wanted:
        began = time.perf_counter()
        _log(f"{section} ...")
        with redirect_stdout(io.StringIO()):  # handlers print EMF metrics and logs to stdout
            results[section] = _run(section, args, results)
        _log(f"{section} done in {time.perf_counter() - began:.0f}s")
    results["bench_seconds"] = round(time.perf_counter() - started)
    results = {"record": record(results), **results}
    text = json.dumps(results, indent=1, default=str)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n", encoding="utf-8")
    print(text)
    _log(f"written to {out}")
    return 0


def _run(section: str, args: argparse.Namespace, results: dict[str, Any]) -> Any:
    if section == "calls":
        from bench.calls import notice_path, plan_read_units

        return notice_path() | {"read_units": plan_read_units()}
    if section == "sweep":
        from bench.sweep import measure

        runs: list[dict[str, Any]] = [measure(1_000), measure(10_000, send=False)]
        if args.full:
            runs += [measure(10_000), measure(100_000, send=False)]
        return runs
    if section == "coldstart":
        from bench.coldstart import breakdown, templates_before_after, waterfall
        from bench.coldstart import measure as cold

        return {
            "functions": cold(args.runs),
            "waterfall": waterfall(args.runs),
            "lazy_templates": templates_before_after(args.runs),
            "by_function": breakdown(min(args.runs, 3)),
        }
    if section == "cpu":
        from bench.cpu import domain_cpu

        return domain_cpu()
    if section == "memory":
        from bench.cpu import memory

        return memory()
    if section == "throughput":
        from bench.throughput import run

        sizes = (500, 2_000) if args.full else (500,)
        days = args.days
        out: dict[str, Any] = {"runs": [run(n, days) for n in sizes]}
        # The same delinquent portfolio, alone and with five times as many current accounts beside it.
        small = 500 if args.full else 100
        out["delinquent_only"] = out["runs"][0] if small == sizes[0] else run(small, days)
        out["with_5x_current"] = run(small, days, current=5 * small)
        # A case's whole life (every account becomes a case and runs to its end or past day 50).
        out["lifetime"] = run(*LIFETIME)
        out["plain"] = _plain_throughput(*PLAIN)
        return out
    if section == "cost":
        return _cost(results)
    raise ValueError(section)


def _plain_throughput(accounts: int, days: int, workers: int = 2) -> dict[str, Any]:
    """`dunning simulate` as a user runs it (no taps): simulated account-days per second."""
    from sandbox.simulate import SimulationConfig, run_simulation

    started = time.perf_counter()
    summary = run_simulation(SimulationConfig(accounts=accounts, days=days), workers=workers).summary
    wall = time.perf_counter() - started
    return {"accounts": accounts, "days": days, "workers": workers, "wall_seconds": round(wall, 1),
            "account_days_per_second": round(accounts * days / wall, 1), "cases": summary["cases_opened"],
            "audit_violations": summary["audit"]["violations"]}


def _cost(results: dict[str, Any]) -> dict[str, Any]:
    out = {"first_days": _cost_of(results, results.get("throughput", {}).get("runs", [None])[0])}
    lifetime = results.get("throughput", {}).get("lifetime")
    if lifetime:
        out["lifetime"] = _cost_of(results, lifetime)
    return out


def record(results: dict[str, Any]) -> dict[str, Any]:
    """The figures the performance issue asks for, each as measured in this run (None: not measured)."""
    calls = results.get("calls") or {}
    cold = (results.get("coldstart") or {}).get("functions", {}).get("functions", {})
    tp = results.get("throughput") or {}
    cost = (results.get("cost") or {}).get("lifetime") or (results.get("cost") or {}).get("first_days") or {}
    infra = cost.get("infrastructure_usd_per_1000_cases", {}).get("total")
    fees = cost.get("message_fees_usd_per_1000_cases", {}).get("total")
    layer = ROOT / ".aws-sam" / "build" / "SharedLayer"
    plain = tp.get("plain") or {}
    return {
        "calls_per_notice": (calls.get("notice_path") or {}).get("total"),
        "plan_read_units_fresh": (calls.get("read_units") or {}).get("plan_read_units_fresh"),
        "plan_read_units_long_history": (calls.get("read_units") or {}).get("plan_read_units_long_history"),
        "plan_read_units_long_open_case": (calls.get("read_units") or {}).get("plan_read_units_long_open_case"),
        "delivery_read_units_fresh": (calls.get("read_units") or {}).get("delivery_read_units_fresh"),
        "delivery_read_units_long_history": (calls.get("read_units") or {}).get("delivery_read_units_long_history"),
        "delivery_read_units_long_open_case": (calls.get("read_units") or {}).get("delivery_read_units_long_open_case"),
        "payment_read_units_fresh": (calls.get("read_units") or {}).get("payment_read_units_fresh"),
        "payment_read_units_long_history": (calls.get("read_units") or {}).get("payment_read_units_long_history"),
        "payment_read_units_long_open_case": (calls.get("read_units") or {}).get("payment_read_units_long_open_case"),
        "transitions_per_case": (tp.get("lifetime") or {}).get("transitions_per_case"),
        "transitions_per_case_run": f"{LIFETIME[0]} accounts x {LIFETIME[1]} days" if tp.get("lifetime") else None,
        "coldstart_ratio_max": max((row["import_ratio"] for row in cold.values()), default=None),
        "layer_unzipped_mb": round(sum(f.stat().st_size for f in layer.rglob("*") if f.is_file()) / 1e6, 1)
        if layer.is_dir() else None,  # after `make sam-build`
        "sandbox_account_days_per_s": plain.get("account_days_per_second"),
        "sandbox_run": f"{plain['accounts']} accounts x {plain['days']} days, {plain['workers']} workers"
        if plain else None,
        "infra_share_of_message_cost_per_case": round(infra / fees, 3) if infra is not None and fees else None,
    }


def _cost_of(results: dict[str, Any], tp: dict[str, Any] | None) -> dict[str, Any]:
    from bench.cost import per_thousand_cases

    if not tp:
        return {"pending": "needs the throughput section in the same run"}
    cases = max(tp["executions"], 1)
    sizes = tp["item_bytes"]
    kib = lambda n: max(1, math.ceil(n / 1024))  # noqa: E731 - write units are per KB
    # Reads: point reads are one 4 KB unit (strongly consistent); a history Query reads the
    # account's whole partition. Writes: 1 unit per KB, doubled inside a transaction.
    history_rru = max(1, math.ceil(tp["history_query_bytes"] / 4096))
    header, ledger, notice = (
        kib(sizes.get("CASE", 1024)),
        kib(sizes.get("LEDGER", 1024)),
        kib(sizes.get("NOTICE", 1024)),
    )
    account = kib(sizes.get("ACCOUNT", 1024))
    calls = tp["calls_by_function"]
    invocations = sum(tp["invocations"].values())
    reads = sum(c.get("reads", 0) for c in calls.values())
    writes = sum(c.get("writes", 0) for c in calls.values())
    # A read is a history Query about half the time on the notice path (Query + GetItem pairs).
    rru = reads / 2 * history_rru + reads / 2 * 1
    wru = writes * 2 * (header + ledger) * 0.8 + writes * 0.2 * account  # mostly transactional case commits
    # Lambda duration on AWS: domain CPU plus ~8 ms per AWS call (in-region SDK round trip), 256 MB
    # for the escalation functions; in-process times on moto are reported beside it (an upper bound).
    cpu_ms = results.get("cpu", {}).get("total_us", 5000) / 1000
    aws_calls = reads + writes + sum(c.get("sends", 0) + c.get("other", 0) for c in calls.values())
    est_ms = invocations * 10 + cpu_ms * sum((tp.get("notices") or {}).values()) + aws_calls * 8
    gb_seconds = est_ms / 1000 * 0.25
    notices = tp["notices"] or {}
    sms = notices.get("SMS", 0)
    counts = {
        "invocations": invocations / cases,
        "gb_seconds": gb_seconds / cases,
        "transitions": tp["transitions_per_case"] or 0,
        "rru": rru / cases,
        "wru": wru / cases,
        "sqs": 3 * tp.get("call_tasks", 0) / cases,  # send, receive, delete per agent task
        "sns": notices.get("EMAIL", 0) / cases,  # one SES event per email through the events topic
        "emails": notices.get("EMAIL", 0) / cases,
        # Segments: the sandbox's SMS are one part (en-US) or one to two (zh-CN); count 1.3 per SMS.
        "sms_us": sms * 0.7 * 1.3 / cases,
        "sms_cn": sms * 0.3 * 1.3 / cases,
    }
    return {
        "per_case_inputs": {k: round(v, 3) for k, v in counts.items()},
        "assumptions": {
            "history_query_rru": history_rru,
            "item_kib": {"case": header, "ledger": ledger, "notice": notice, "account": account},
            "lambda_ms_estimated_total": round(est_ms),
            "memory_gb": 0.25,
        },
        **per_thousand_cases(counts),
    }


if __name__ == "__main__":
    sys.exit(main())
