"""`dunning simulate`: its options, one run's table, and the side-by-side table of ``--compare``."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any


def _write_text(path: Path, text: str) -> None:
    from sandbox.cli import _write_text as write

    write(path, text)


SUMMARY_ROWS = ("cases_opened", "cases_cured", "legal_referrals", "notices", "call_tasks", "replies",
                "actions_by_source", "opt_outs", "promises", "plans", "aws_calls_per_notice", "audit", "wall_seconds")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--accounts", type=int, default=500, help="portfolio size (default 500)")
    parser.add_argument("--days", type=int, default=60, help="simulated days (default 60)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument("--workers", type=int, default=2,
                        help="processes, each living its own share of the accounts on its own local AWS "
                             "(default 2; a fixed number, so the same arguments give the same figures)")
    parser.add_argument("--portfolio", metavar="FILE",
                        help="live the lender's own account file (CSV, or JSON Lines by its suffix: the format "
                             "ImportAccounts takes) instead of the synthetic portfolio; --accounts is ignored, "
                             "rows ImportAccounts would reject are left out, customers' behaviour is drawn "
                             "from --seed")
    parser.add_argument("--start", metavar="YYYY-MM-DD",
                        help="first simulated day (default 2026-09-01; with --portfolio, today in UTC)")
    parser.add_argument("--policy", metavar="FILE",
                        help="collection policy YAML to live under, published as `dunning policy publish` "
                             "would (default: the bundled policy); with --compare, the candidate")
    parser.add_argument("--compare", action="store_true",
                        help="live the same portfolio and seed under the current policy and under --policy, "
                             "and print both side by side with 95%% intervals")
    parser.add_argument("--current", metavar="FILE",
                        help="with --compare: the policy in force today (default: the bundled policy)")
    parser.add_argument("--json", metavar="PATH", help="write the summary (or the comparison) as JSON")
    parser.add_argument("--report", metavar="PATH",
                        help="write a self-contained HTML report (funnel, cure curve, channels, variants)")
    parser.add_argument("--dump", metavar="DIR", help="write messages, ledger, accounts and replies as JSON Lines")


def _refused(path: str) -> list[str]:
    """Why the functions would refuse this policy (and keep the last good one), or nothing."""
    from sandbox.cli import _checked_policy

    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        return [f"cannot read {path} ({exc.__class__.__name__})"]
    return _checked_policy(text)[1]


def _config(args: argparse.Namespace) -> Any:
    from sandbox.portfolio import from_account_file
    from sandbox.simulate import DEFAULT_START, SimulationConfig

    start = date.fromisoformat(args.start) if args.start else None
    if not args.portfolio:
        return SimulationConfig(accounts=args.accounts, days=args.days, seed=args.seed, start=start or DEFAULT_START,
                                policy_file=args.policy)
    loaded = from_account_file(Path(args.portfolio), args.seed)
    print(f"{args.portfolio}: {loaded.rows} rows, {len(loaded.accounts)} accounts owing, "
          f"{loaded.not_owing} owing nothing (not lived), {loaded.rejected} rejected "
          f"(`dunning check-file` says why)", file=sys.stderr)
    if not loaded.accounts:
        raise ValueError("no account in the file owes anything: nothing to collect")
    return SimulationConfig(accounts=len(loaded.accounts), days=args.days, seed=args.seed,
                            start=start or datetime.now(UTC).date(), portfolio_file=args.portfolio,
                            policy_file=args.policy)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    console = Console(stderr=True)
    for path in [p for p in (args.policy, args.current) if p]:
        problems = _refused(path)
        if problems:
            console.print(f"{path}: refused, as every function would refuse it:")
            for line in problems:
                console.print(f"  {line}")
            return 2
    if args.compare and not args.policy:
        console.print("--compare needs --policy CANDIDATE.yaml")
        return 2
    if args.current and not args.compare:
        console.print("--current is the baseline of --compare")
        return 2
    try:
        config = _config(args)
    except (OSError, ValueError) as exc:
        console.print(f"error: {exc}")
        return 2
    if warning := map_count_warning(config.accounts, args.workers, _max_map_count()):
        console.print(warning)
    return _compare(args, config, console) if args.compare else _single(args, config, console)


# Measured (docs/performance.md section 5, "one thread per execution"): a shard maps about 2
# memory regions per account, level from the first week (5,528 at most at 2,500 accounts); 3
# leaves a margin. Past the kernel's vm.max_map_count a new thread dies of MemoryError and moto's
# task waits for it forever, so the run would stop on a stall report.
MAPS_PER_ACCOUNT = 3


def map_count_warning(accounts: int, workers: int, limit: int | None) -> str | None:
    """A warning when the shards may need more memory maps than the machine allows, else None."""
    needed = MAPS_PER_ACCOUNT * accounts // max(workers, 1)
    if limit is None or needed <= limit:
        return None
    return (f"warning: each of the {workers} shards may need about {needed:,} memory maps, more than this "
            f"machine's vm.max_map_count ({limit:,}); a shard that runs out stops on a stall report. "
            f"Raise it first: sudo sysctl -w vm.max_map_count={max(262144, 2 * needed)}")


def _max_map_count() -> int | None:
    try:
        return int(Path("/proc/sys/vm/max_map_count").read_text())
    except (OSError, ValueError):
        return None  # not Linux: nothing to say


def _single(args: argparse.Namespace, config: Any, console: Any) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from sandbox.cli import _progress_lines
    from sandbox.simulate import run_simulation, write_dump

    if console.is_terminal:
        with Progress(TextColumn("simulating"), BarColumn(), MofNCompleteColumn(), TextColumn("days"),
                      TimeElapsedColumn(), console=console) as progress:
            task = progress.add_task("days", total=config.days)
            result = run_simulation(config, lambda done, total: progress.update(task, completed=done),
                                    workers=args.workers)
    else:  # a log file or CI: one plain line per simulated day, no redrawn bar
        result = run_simulation(config, _progress_lines(), workers=args.workers)
    summary = result.summary
    table = Table(title=f"dunning simulate: {config.accounts} accounts, {config.days} days, seed {config.seed}")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key in SUMMARY_ROWS:
        value = summary.get(key)
        table.add_row(key, json.dumps(value) if isinstance(value, dict) else str(value))
    _legal_rows(table, summary)
    for persona, row in summary["persona_outcomes"].items():
        table.add_row(f"persona {persona}", f"{row['achieved']}/{row['expected']}")
    table.add_row("customers", json.dumps(summary.get("customers")))
    for status, row in (summary.get("special_statuses") or {}).items():
        table.add_row(f"status {status}", json.dumps(row))
    for row in summary.get("holdout_uplift") or []:
        table.add_row(f"uplift {row['group']}", str(row["verdict"]))
    from rich.console import Console

    Console().print(table)
    if args.json:
        _write_text(Path(args.json), json.dumps(summary, indent=2, default=str))
    if args.dump:
        write_dump(result, Path(args.dump))
    if args.report:
        from sandbox.report import write_report

        write_report(result, Path(args.report))
        console.print(f"report written to {args.report}")
    return 0


def _split(counts: dict[str, int]) -> str:
    return ", ".join(f"{name.lower().replace('_', ' ')} {n}" for name, n in counts.items())


def _legal_rows(table: Any, summary: dict[str, Any]) -> None:
    """Legal referrals by what the customer had done, and each variant's cure rate beside its
    referrals: fewer referrals of engaged customers must not come at the price of fewer cures."""
    if "legal_referrals_by_engagement" not in summary:
        return
    table.add_row("legal referrals by engagement", _split(summary["legal_referrals_by_engagement"]))
    table.add_row("engaged share of referrals", str(summary["engaged_share_of_referrals"]))
    table.add_row("hardship referred, no specialist", str(summary["hardship_referred_without_specialist_decision"]))
    table.add_row("legal reviews", _split(summary["legal_reviews"]))
    table.add_row("specialist reviews", _split(summary["specialist_reviews"]))
    for variant, row in summary["by_variant"].items():
        table.add_row(f"variant {variant}", f"cure rate {row['cure_rate']} ({row['cured']}/{row['cases']}); "
                                            f"legal: {_split(row['legal_referrals'])}")


def _cell(estimate: Any, signed: bool = False) -> str:
    if estimate.value is None:
        return "-"
    text = f"{estimate.value:+.2f}" if signed else f"{estimate.value:.2f}"
    if estimate.low is None or estimate.high is None:
        return text
    return f"{text} [{estimate.low:.2f}, {estimate.high:.2f}]"


def _compare(args: argparse.Namespace, config: Any, console: Any) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from sandbox.cli import _progress_lines
    from sandbox.whatif import RESAMPLES, policy_versions, run_compare

    if console.is_terminal:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("days"),
                      TimeElapsedColumn(), console=console) as progress:
            tasks = {label: progress.add_task(f"{label} policy", total=config.days)
                     for label in ("current", "candidate")}
            comparison = run_compare(config, args.policy, args.current, workers=args.workers,
                                     progress=lambda label, done, total: progress.update(tasks[label],
                                                                                         completed=done))
    else:  # one plain line per simulated day of each run
        lines = {label: _progress_lines(f"simulating ({label} policy)") for label in ("current", "candidate")}
        comparison = run_compare(config, args.policy, args.current, workers=args.workers,
                                 progress=lambda label, done, total: lines[label](done, total))
    current = Path(args.current).name if args.current else "bundled policy"
    table = Table(title=f"dunning simulate --compare: {config.accounts} accounts, {config.days} days, seed "
                        f"{config.seed}; {comparison.cases[0]} / {comparison.cases[1]} cases",
                  caption=f"value [95% interval], paired bootstrap over accounts ({RESAMPLES} resamples)")
    table.add_column("figure")
    table.add_column("unit")
    table.add_column(f"current ({current})", justify="right")
    table.add_column(f"candidate ({Path(args.policy).name})", justify="right")
    table.add_column("candidate - current", justify="right")
    for row in comparison.rows:
        table.add_row(row.metric, row.unit, _cell(row.current), _cell(row.candidate),
                      _cell(row.difference, signed=True))
    Console().print(table)
    audits = {label: r.summary["audit"] for label, r in (("current", comparison.current),
                                                              ("candidate", comparison.candidate))}
    console.print(f"cases opened under policy: current {policy_versions(comparison.current)}, "
                  f"candidate {policy_versions(comparison.candidate)}")
    console.print(f"audit violations: current {audits['current']['violations']}, "
                  f"candidate {audits['candidate']['violations']}")
    if args.json:
        _write_text(Path(args.json), json.dumps(comparison.as_json(), indent=2, default=str))
    if args.report or args.dump:
        console.print("--report and --dump describe one run: run without --compare for them")
    return 0
