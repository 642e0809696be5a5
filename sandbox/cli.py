"""`dunning`: the developer's command line (dev tooling, never deployed).

Each subcommand is one function decorated with ``@command``: it adds its parser and points
``handler`` at the function that runs it. ``main(argv)`` returns the exit code.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from dunning.domain.models import Account, Channel, Jurisdiction, parse_instant, utc_now
from dunning.domain.policy import Policy, PolicyError, default_policy, parse_policy

Subparsers = Any  # argparse's _SubParsersAction is private; only add_parser is used
Register = Callable[[Subparsers], None]

_COMMANDS: list[Register] = []


def command(register: Register) -> Register:
    """Register a subcommand: ``register(subparsers)`` adds a parser with ``handler`` set."""
    _COMMANDS.append(register)
    return register


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dunning", description="dunning developer tools")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in _COMMANDS:
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)


# ---------------------------------------------------------------------------- policy check


def _problem_lines(problems: list[str]) -> list[str]:
    # Cross-reference problems arrive joined in one validation message; print one per line.
    lines: list[str] = []
    for problem in problems:
        where, _, message = problem.partition(": ")
        if not message.startswith("Value error, "):
            lines.append(problem)
            continue
        parts = [p.strip() for p in message.removeprefix("Value error, ").split("; ") if p.strip()]
        # Whole-document problems already name their segment, strategy or rule.
        lines += parts if where == "policy" else [f"{where}: {p}" for p in parts]
    return lines


def _load_policy(path: str) -> tuple[Policy | None, list[str]]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        return None, [f"policy: cannot read {path} ({exc.__class__.__name__})"]
    try:
        return parse_policy(text), []
    except PolicyError as exc:
        return None, _problem_lines(exc.problems)


def run_policy_check(args: argparse.Namespace) -> int:
    from dunning.domain.templates import policy_problems

    policy, problems = _load_policy(args.file)
    if policy is not None:
        problems = policy_problems(policy)
    if problems:
        for line in problems:
            print(line)
        return 1
    assert policy is not None
    print(f"ok: policy {policy.version}")
    return 0


def _checked_policy(text: str) -> tuple[Policy | None, list[str]]:
    """The same validation and lint the functions apply before a policy goes into force."""
    from dunning.domain.templates import policy_problems

    try:
        policy = parse_policy(text)
    except PolicyError as exc:
        return None, _problem_lines(exc.problems)
    problems = policy_problems(policy)
    return (None, problems) if problems else (policy, [])


def _policy_bucket(args: argparse.Namespace) -> Any:
    """The stage's policy object: PolicyBucket is named dunning-<stage>-policy-<account>-<region>."""
    import boto3

    from dunning.adapters.policy_store import PolicyBucket

    session = boto3.session.Session(region_name=args.region) if args.region else boto3.session.Session()
    sts = session.client("sts")
    bucket = args.bucket or (
        f"dunning-{args.stage}-policy-{sts.get_caller_identity()['Account']}-{session.region_name}")
    return PolicyBucket(session.client("s3"), bucket, args.key, sts=sts)


def _print_published(action: str, published: Any, location: str) -> None:
    at = published.at.strftime("%Y-%m-%dT%H:%M:%SZ")
    print(f"{action} policy {published.policy_version} as version {published.version_id} "
          f"by {published.published_by} at {at} ({location})")


def run_policy_publish(args: argparse.Namespace) -> int:
    try:
        text = Path(args.file).read_text(encoding="utf-8")
    except OSError as exc:
        print(f"policy: cannot read {args.file} ({exc.__class__.__name__})")
        return 1
    policy, problems = _checked_policy(text)
    if policy is None:
        for line in problems:
            print(line)
        print("refused: nothing was published")
        return 1
    from dunning.adapters.policy_store import PolicyNotFound

    store = _policy_bucket(args)
    try:
        unchanged = store.read() == text
    except PolicyNotFound:
        unchanged = False
    if unchanged:
        print(f"unchanged: policy {policy.version} is already the published version ({store.location})")
        return 0
    _print_published("published", store.publish(text, policy.version, note=args.note), store.location)
    return 0


def run_policy_history(args: argparse.Namespace) -> int:
    import json

    store = _policy_bucket(args)
    versions = store.history()
    if args.json:
        print(json.dumps([{**vars(v), "at": v.at.strftime("%Y-%m-%dT%H:%M:%SZ")} for v in versions], indent=2))
        return 0
    if not versions:
        print(f"nothing published at {store.location}: the bundled default policy is in force")
        return 0
    for v in versions:
        extra = (f" restores {v.restores}" if v.restores else "") + (f" - {v.note}" if v.note else "")
        print(f"{'*' if v.current else ' '} {v.at:%Y-%m-%dT%H:%M:%SZ}  {v.action:<8} {v.policy_version:<16} "
              f"{v.version_id}  {v.published_by}{extra}")
    return 0


def run_policy_rollback(args: argparse.Namespace) -> int:
    store = _policy_bucket(args)
    versions = [v for v in store.history() if v.action != "REMOVED"]
    current = next((v for v in store.history() if v.current), None)
    if args.to:
        target = next((v for v in versions if v.version_id == args.to), None)
        if target is None:
            print(f"no published version {args.to} at {store.location}")
            return 1
    else:
        # The newest version with different content from what is in force now.
        target = next((v for v in versions if not v.current and (current is None or v.sha256 != current.sha256)),
                      None)
        if target is None:
            print(f"no earlier version to roll back to at {store.location}")
            return 1
    text = store.read(target.version_id)
    policy, problems = _checked_policy(text)
    if policy is None:  # valid when published, but the rules it must pass have moved on since
        for line in problems:
            print(line)
        print(f"refused: version {target.version_id} no longer passes the check; nothing was changed")
        return 1
    published = store.publish(text, policy.version, action="ROLLBACK", restores=target.version_id, note=args.note)
    _print_published("rolled back to", published, store.location)
    return 0


def _store_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stage", required=True, help="deployment stage (the template's Stage parameter)")
    parser.add_argument("--region", help="AWS region (default: the AWS CLI's configured region)")
    parser.add_argument("--bucket", help="PolicyBucket name (default: dunning-<stage>-policy-<account>-<region>)")
    parser.add_argument("--key", default="policy.yaml", help="policy object key (the template's PolicyKey; "
                        "default policy.yaml)")


@command
def _policy(sub: Subparsers) -> None:
    policy = sub.add_parser("policy", help="work with collection policies")
    actions = policy.add_subparsers(dest="policy_command", required=True, metavar="ACTION")
    check = actions.add_parser(
        "check",
        help="validate a policy and lint its templates",
        description="Validate a policy YAML file and run the compliance lint (templates exist, "
        "render and lint clean; contact windows are lawful). Exit 0 when it may go into force.",
    )
    check.add_argument("file", metavar="FILE", help="policy YAML")
    check.set_defaults(handler=run_policy_check)
    publish = actions.add_parser(
        "publish",
        help="check a policy, then make it the one in force for a stage",
        description="Run `policy check` on FILE and, only when it passes, write it as the new version of the "
        "stage's published policy, recording who (the caller identity STS reports) and when. Functions pick "
        "it up within PolicyCacheSeconds.",
    )
    publish.add_argument("file", metavar="FILE", help="policy YAML")
    publish.add_argument("--note", help="why (kept with the version, ASCII)")
    _store_arguments(publish)
    publish.set_defaults(handler=run_policy_publish)
    history = actions.add_parser("history", help="every published version of a stage's policy, newest first",
                                 description="List every version of the stage's published policy: when, "
                                 "who, what (PUBLISH, ROLLBACK, REMOVED) and the policy version; * marks the "
                                 "one in force.")
    history.add_argument("--json", action="store_true", help="print JSON instead of lines")
    _store_arguments(history)
    history.set_defaults(handler=run_policy_history)
    rollback = actions.add_parser(
        "rollback",
        help="put an earlier published version back in force",
        description="Publish an earlier version again (the newest one that differs from the current, or "
        "--to VERSION_ID) after checking it still passes `policy check`. The rollback is itself a new "
        "version with who and when; nothing is erased.",
    )
    rollback.add_argument("--to", metavar="VERSION_ID", help="the version to restore (from `policy history`)")
    rollback.add_argument("--note", help="why (kept with the version, ASCII)")
    _store_arguments(rollback)
    rollback.set_defaults(handler=run_policy_rollback)


# ---------------------------------------------------------------------------- render

_SAMPLE_JURISDICTION = {"en-US": Jurisdiction.US, "zh-CN": Jurisdiction.CN}


def _segments_line(body: str) -> str:
    from dunning.domain.sms import sms_size

    size = sms_size(body)
    noun = "segment" if size.segments == 1 else "segments"
    return f"[{size.segments} {noun}, {size.encoding}, {size.units} units]"


def _account_for(args: argparse.Namespace, now: datetime) -> Account:
    from dunning.domain.templates import sample_account

    if args.account:
        account = Account.model_validate_json(Path(args.account).read_text(encoding="utf-8"))
        return (
            account if account.locale == args.locale else account.model_copy(update={"locale": args.locale})
        )
    return sample_account(_SAMPLE_JURISDICTION[args.locale], args.locale, now)


def run_render(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from dunning.domain.templates import (
        SAMPLE_LINK_SECRET,
        MissingFacts,
        UnknownTemplate,
        build_facts,
        lint_rendered,
        render,
        sample_extra,
    )

    now = parse_instant(args.now) if args.now else utc_now()
    channel = Channel(args.channel.upper())
    try:
        policy = (
            default_policy() if args.policy is None else parse_policy(Path(args.policy).read_text("utf-8"))
        )
        account = _account_for(args, now)
        facts = build_facts(
            account, policy, now, link_secret=SAMPLE_LINK_SECRET, extra=sample_extra(account, now)
        )
        notice = render(args.template, channel, facts, args.locale)
    except (UnknownTemplate, MissingFacts, PolicyError, ValidationError, OSError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if channel is Channel.SMS:
        print(notice.body)
        print(_segments_line(notice.body))
    else:
        out = Path(args.out or f"{args.template}.{args.locale}.html")
        out.write_text(notice.html or "", encoding="utf-8")
        print(f"Subject: {notice.subject}")
        print()
        print(notice.body)
        print()
        print(f"HTML written to {out}")
    first = (
        args.template == "first_notice"
        and policy.for_jurisdiction(account.jurisdiction).first_contact_disclosure
    )
    findings = lint_rendered(notice, first_contact=first, time_barred=account.time_barred)
    for finding in findings:
        print(f"lint: {finding.code} {finding.detail}")
    print(
        f"template {notice.template_id} version {notice.template_version}: "
        f"{'lint clean' if not findings else f'{len(findings)} lint finding(s)'}"
    )
    return 0


@command
def _render(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "render",
        help="preview a notice",
        description="Render a notice template for a sample (or given) account. The self-service "
        "links are signed with a fixed development secret, so they only work against a local "
        "sandbox, never in production.",
    )
    parser.add_argument("--template", required=True, metavar="ID", help="template id, e.g. first_notice")
    parser.add_argument(
        "--locale", required=True, choices=sorted(_SAMPLE_JURISDICTION), help="customer locale"
    )
    parser.add_argument("--channel", required=True, choices=["sms", "email"], type=str.lower)
    parser.add_argument(
        "--account",
        metavar="FILE",
        help="JSON of an Account (default: a built-in sample, US for en-US, CN for zh-CN, 12 days past due)",
    )
    parser.add_argument("--now", metavar="ISO", help="the instant to render at, e.g. 2026-11-10T15:00:00Z")
    parser.add_argument("--policy", metavar="FILE", help="policy YAML (default: the bundled policy)")
    parser.add_argument(
        "--out", metavar="PATH", help="where to write the email HTML (default ./<template>.<locale>.html)"
    )
    parser.set_defaults(handler=run_render)


# ---------------------------------------------------------------------------- report


def _read_jsonl(path: Path, parse: Callable[[str], Any]) -> list[Any]:
    if not path.exists():
        return []
    return [parse(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def run_report(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from dunning.domain.models import LedgerEntry
    from dunning.domain.report_render import render_files
    from dunning.services.reports import build

    dump = Path(args.dump)
    ledger_path = dump / "ledger.jsonl"
    if not ledger_path.exists():
        print(f"error: {ledger_path} not found (run the sandbox with --dump first)", file=sys.stderr)
        return 1
    try:
        entries = _read_jsonl(ledger_path, LedgerEntry.model_validate_json)
        accounts = _read_jsonl(dump / "accounts.jsonl", Account.model_validate_json)
        policy = (default_policy() if args.policy is None
                  else parse_policy(Path(args.policy).read_text("utf-8")))
    except (ValidationError, PolicyError, OSError) as exc:
        print(f"error: {exc.__class__.__name__}: {exc}", file=sys.stderr)
        return 1
    # Default: just after the last entry, so a finished sandbox run reports on all of it.
    as_of = parse_instant(args.as_of) if args.as_of else max((e.at for e in entries), default=utc_now())
    report = build(entries, accounts, as_of, policy)
    out = Path(args.out) if args.out else dump / "report.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    files = render_files(report)
    out.write_text(files.pop("report.html"), encoding="utf-8")
    if args.csv:
        for name, body in files.items():
            (out.parent / name).write_text(body, encoding="utf-8")
    cure = report.summary["cure_rate"]
    print(f"{report.counts['cases_opened']} cases, cure rate {cure}")
    for comparison in report.comparisons:
        print(f"{comparison.group} vs {comparison.baseline}: {comparison.verdict}")
    print(f"report written to {out}")
    return 0


@command
def _report(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "report",
        help="build the weekly report from a sandbox dump",
        description="Build the weekly collections report (cure, roll, contact and response rates, "
        "promises, plans, champion/challenger verdicts) from a sandbox dump directory holding "
        "ledger.jsonl (one ledger entry per line) and accounts.jsonl (one account per line).",
    )
    parser.add_argument("--dump", required=True, metavar="DIR", help="sandbox dump directory")
    parser.add_argument("--out", metavar="PATH", help="where to write the HTML (default DIR/report.html)")
    parser.add_argument("--as-of", dest="as_of", metavar="ISO",
                        help="report instant (default: the last ledger entry)")
    parser.add_argument("--policy", metavar="FILE", help="policy YAML naming the holdout (default: bundled)")
    parser.add_argument("--csv", action="store_true", help="also write one CSV per table beside the HTML")
    parser.set_defaults(handler=run_report)


# ---------------------------------------------------------------------------- simulate


def run_simulate(args: argparse.Namespace) -> int:
    import json

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from sandbox.simulate import SimulationConfig, run_simulation, write_dump

    console = Console(stderr=True)
    config = SimulationConfig(accounts=args.accounts, days=args.days, seed=args.seed)
    with Progress(TextColumn("simulating"), BarColumn(), MofNCompleteColumn(), TextColumn("days"),
                  TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task("days", total=config.days)
        result = run_simulation(config, lambda done, total: progress.update(task, completed=done),
                                workers=args.workers)
    summary = result.summary
    table = Table(title=f"dunning simulate: {config.accounts} accounts, {config.days} days, seed {config.seed}")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key in ("cases_opened", "cases_cured", "legal_referrals", "notices", "call_tasks", "replies", "opt_outs",
                "promises", "plans", "aws_calls_per_notice", "audit", "wall_seconds"):
        value = summary.get(key)
        table.add_row(key, json.dumps(value) if isinstance(value, dict) else str(value))
    for persona, row in summary["persona_outcomes"].items():
        table.add_row(f"persona {persona}", f"{row['achieved']}/{row['expected']}")
    Console().print(table)
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
    if args.dump:
        write_dump(result, Path(args.dump))
    if args.report:
        from sandbox.report import write_report

        write_report(result, Path(args.report))
        console.print(f"report written to {args.report}")
    return 0


@command
def _simulate(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "simulate",
        help="run the whole system on a local AWS with a simulated portfolio",
        description="Provision template.yaml on moto, import a synthetic portfolio and live simulated days: "
        "sweeps, escalations, customers paying and replying, agents and admins; then audit what was sent.",
    )
    parser.add_argument("--accounts", type=int, default=500, help="portfolio size (default 500)")
    parser.add_argument("--days", type=int, default=60, help="simulated days (default 60)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument("--workers", type=int, default=2,
                        help="processes, each living its own share of the accounts on its own local AWS "
                             "(default 2; a fixed number, so the same arguments give the same figures)")
    parser.add_argument("--json", metavar="PATH", help="write the summary as JSON")
    parser.add_argument("--report", metavar="PATH",
                        help="write a self-contained HTML report (funnel, cure curve, channels, variants)")
    parser.add_argument("--dump", metavar="DIR", help="write messages, ledger, accounts and replies as JSON Lines")
    parser.set_defaults(handler=run_simulate)


# ---------------------------------------------------------------------------- serve


def run_serve(args: argparse.Namespace) -> int:
    from sandbox.serve import serve

    return serve(args.port, args.accounts, args.seed)


@command
def _serve(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "serve",
        help="serve the HTTP API (SMS webhooks, /admin) on 127.0.0.1 over a local AWS",
        description="Provision template.yaml on moto, seed a synthetic portfolio and serve the template's "
        "HTTP API routes on 127.0.0.1 in real time. Prints BASE_URL, the webhook secrets providers sign "
        "with, and an example request. Ctrl-C stops it.",
    )
    parser.add_argument("--port", type=int, default=8787,
                        help="port on 127.0.0.1 (default 8787; 0 picks a free one)")
    parser.add_argument("--accounts", type=int, default=50, help="portfolio size (default 50)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.set_defaults(handler=run_serve)


if __name__ == "__main__":
    sys.exit(main())
