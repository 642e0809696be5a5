"""`dunning`: the developer's command line (dev tooling, never deployed).

Longer than most modules: one short, independent section per subcommand; a new command adds a section.

Each subcommand is one function decorated with ``@command``: it adds its parser and points
``handler`` at the function that runs it. ``main(argv)`` returns the exit code.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

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
    from dunning.domain.policy_lint import policy_problems

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
    from dunning.domain.policy_lint import policy_problems

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


# ---------------------------------------------------------------------------- verify, erase


class _Answer(NamedTuple):
    result: dict[str, Any] | None  # the command's result, or None with `problem` saying why
    problem: str | None = None
    refused: bool = False  # the function said no (CommandRefused), rather than could not be asked


def _ask_admin(args: argparse.Namespace, command: dict[str, Any]) -> _Answer:
    """Run one admin command on the deployed AdminFunction (found from the stack's outputs) as the
    caller STS names. The function does the work with its own rights; this only finds it and
    names the caller."""
    import json

    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        session = boto3.session.Session(region_name=args.region) if args.region else boto3.session.Session()
        stacks = session.client("cloudformation").describe_stacks(StackName=args.stack_name)["Stacks"]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
        function = outputs.get("AdminFunctionName")
        if not function:
            return _Answer(None, f"stack {args.stack_name} has no AdminFunctionName output")
        actor = session.client("sts").get_caller_identity()["Arn"]
        request = {"command": command, "actor": actor}
        response = session.client("lambda").invoke(FunctionName=function, Payload=json.dumps(request).encode())
        result = json.loads(response["Payload"].read() or b"null")
    except (BotoCoreError, ClientError) as exc:
        return _Answer(None, f"{exc.__class__.__name__}: {exc}")
    if response.get("FunctionError") or not isinstance(result, dict):
        error = result if isinstance(result, dict) else {}
        return _Answer(None, f"{command['type']} was refused: {error.get('errorMessage') or 'no answer returned'}",
                       refused=error.get("errorType") == "CommandRefused")
    return _Answer(result)


def run_verify(args: argparse.Namespace) -> int:
    """Ask the deployed AdminFunction for `verify_case`: the verdict is the function's, taken with
    its own KMS and archive rights."""
    import json

    answer = _ask_admin(args, {"type": "verify_case", "account_id": args.account_id, "case_id": args.case_id})
    result = answer.result
    if result is None or "verified" not in result:
        print(f"error: {answer.problem or 'verify_case was refused: no verdict returned'}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        print(("OK " if result["verified"] else "TAMPERED ") + str(result.get("summary", "")))
        for problem in result.get("problems") or []:
            print(f"  seq {problem.get('seq')}: {problem.get('where')} {problem.get('problem')}: "
                  f"{problem.get('detail')}")
    return 0 if result["verified"] else 1


def _stack_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack-name", default="dunning-dev", help="CloudFormation stack (default dunning-dev)")
    parser.add_argument("--region", help="AWS region (default: the AWS CLI's configured region)")
    parser.add_argument("--json", action="store_true", help="print the function's answer as JSON")


@command
def _verify(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "verify",
        help="verify a case's ledger on a deployed stack (chain, seals, header, anchors)",
        description="Run verify_case through the stack's AdminFunction (found from the stack's outputs) as the "
        "caller STS reports, and print the verdict: OK, or the first entry that disagrees and why. Exit 0 when "
        "the case verifies, 1 when it does not, 2 when the question could not be asked.",
    )
    parser.add_argument("account_id", metavar="ACCOUNT_ID")
    parser.add_argument("case_id", metavar="CASE_ID")
    _stack_arguments(parser)
    parser.set_defaults(handler=run_verify)


def run_erase(args: argparse.Namespace) -> int:
    """Ask the deployed AdminFunction to `erase_customer`: refused (exit 1) while a case of the
    account is open or with legal; the function records who asked and the request's reference."""
    import json

    answer = _ask_admin(args, {"type": "erase_customer", "account_id": args.account_id, "request_id": args.request})
    result = answer.result
    if result is None or not result.get("applied"):
        print(f"error: {answer.problem or 'erase_customer was not applied'}", file=sys.stderr)
        return 1 if answer.refused else 2
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        cases = ", ".join(result.get("cases") or []) or "no cases"
        print(f"ERASED account {args.account_id} (request {args.request}): {cases}; "
              f"{result.get('items_changed', 0)} stored items changed")
    return 0


@command
def _erase(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "erase",
        help="erase a customer's personal data on request (PIPL/CCPA) on a deployed stack",
        description="Run erase_customer through the stack's AdminFunction as the caller STS reports. The "
        "account's name, number and contacts go, the free text in its cases' ledgers becomes unreadable "
        "(its key is destroyed), and the record the law asks for stays until its retention ends, still "
        "verifiable. Exit 0 when erased, 1 when refused (a case is open or with legal), 2 when the "
        "request could not be made.",
    )
    parser.add_argument("account_id", metavar="ACCOUNT_ID")
    parser.add_argument("--request", required=True, metavar="REF",
                        help="the erasure request's reference (recorded with who asked)")
    _stack_arguments(parser)
    parser.set_defaults(handler=run_erase)


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
    from dunning.domain.notices.samples import sample_account

    if args.account:
        account = Account.model_validate_json(Path(args.account).read_text(encoding="utf-8"))
        return (
            account if account.locale == args.locale else account.model_copy(update={"locale": args.locale})
        )
    return sample_account(_SAMPLE_JURISDICTION[args.locale], args.locale, now)


def run_render(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from dunning.domain.notices.facts import build_facts
    from dunning.domain.notices.lint import lint_rendered
    from dunning.domain.notices.render import MissingFacts, UnknownTemplate, render
    from dunning.domain.notices.samples import SAMPLE_LINK_SECRET, sample_extra

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
        if channel is Channel.SMS and policy.for_jurisdiction(account.jurisdiction).sms_short_links:
            # As sent: a short link, its code issued when the text goes (this one is an example).
            from dunning.domain.links import sample_short_link

            host = policy.for_jurisdiction(account.jurisdiction).collector.short_link_host
            facts = facts.model_copy(update={"sms_pay_link": sample_short_link(host, facts.pay_link)})
        notice = render(args.template, channel, facts, args.locale)
    except (UnknownTemplate, MissingFacts, PolicyError, ValidationError, OSError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if channel is Channel.SMS:
        print(notice.body)
        print(_segments_line(notice.body))
    else:
        out = Path(args.out or f"{args.template}.{args.locale}.html")
        _write_text(out, notice.html or "")
        print(f"Subject: {notice.subject}")
        print()
        print(notice.body)
        print()
        print(f"HTML written to {out}")
    first = (
        args.template == "first_notice"
        and policy.for_jurisdiction(account.jurisdiction).validation_notice
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


# ---------------------------------------------------------------------------- check-text

USAGE_ERROR = 2  # as argparse exits on a bad command line


def run_check_text(args: argparse.Namespace) -> int:
    """Check TEXT against the TONE rules every notice must pass (no threat of arrest, no telling an
    employer, family or contacts, no home visit, shaming, blacklist, lawsuit threat, insult or false
    authority), in English and Chinese. Exit 0 when it passes, 1 with the reason codes and rule names
    when it does not, 2 on a usage error. The text itself is never printed."""
    import json

    from dunning.domain.notices.lint import lint_text

    text = sys.stdin.read() if args.text == "-" else args.text
    if not text.strip():
        print("error: TEXT is empty", file=sys.stderr)
        return USAGE_ERROR
    collector = None
    if args.notice:
        try:
            policy = (default_policy() if args.policy is None
                      else parse_policy(Path(args.policy).read_text("utf-8")))
        except (PolicyError, OSError) as exc:
            print(f"error: --policy: {exc.__class__.__name__}", file=sys.stderr)
            return USAGE_ERROR
        collector = policy.for_jurisdiction(_SAMPLE_JURISDICTION[args.locale]).collector
    findings = lint_text(text, notice=args.notice, collector=collector, time_barred=args.time_barred)
    if args.json:
        reasons = [{"code": str(f.code), "rule": f.rule, "detail": f.detail} for f in findings]
        print(json.dumps({"ok": not findings, "locale": args.locale, "reasons": reasons}, ensure_ascii=False))
    else:
        for finding in findings:
            print(f"{finding.code} {finding.rule}")
        if not findings:
            print("ok")
    return 1 if findings else 0


@command
def _check_text(sub: Subparsers) -> None:
    what = "check a text's tone (and, with --notice, its content) before a customer reads it"
    parser = sub.add_parser("check-text", help=what, description=" ".join((run_check_text.__doc__ or "").split()))
    parser.add_argument("text", metavar="TEXT", help="the text, or - to read it from standard input")
    parser.add_argument("--locale", required=True, choices=sorted(_SAMPLE_JURISDICTION), help="customer locale")
    parser.add_argument("--json", action="store_true", help='print {"ok": ..., "reasons": [...]} as JSON')
    parser.add_argument(
        "--notice",
        action="store_true",
        help="also check CONTENT as for a notice: amount, days overdue, deadline, pay link, the collector's "
        "name and phone for the locale's home jurisdiction, and how to opt out",
    )
    parser.add_argument(
        "--time-barred", action="store_true", help="the debt is time-barred: any mention of legal action breaks TONE"
    )
    parser.add_argument("--policy", metavar="FILE", help="policy YAML naming the collector (default: bundled)")
    parser.set_defaults(handler=run_check_text)


# ---------------------------------------------------------------------------- report


def _read_jsonl(path: Path, parse: Callable[[str], Any]) -> list[Any]:
    if not path.exists():
        return []
    return [parse(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def run_report(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from dunning.domain.models import LedgerEntry
    from dunning.domain.reporting.render import render_files
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


def _write_text(path: Path, text: str) -> None:
    """Write an output file, creating its folder: `--json out/run1/summary.json` on a fresh clone works."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _progress_lines(what: str = "simulating") -> Callable[[int, int], None]:
    """Progress for a stderr that is not a terminal: a line per day that moved, flushed at once."""
    last = -1

    def report(done: int, total: int) -> None:
        nonlocal last
        if done != last:
            last = done
            print(f"{what}: day {done}/{total}", file=sys.stderr, flush=True)
    return report


def run_simulate(args: argparse.Namespace) -> int:
    from sandbox.simulate_cli import run

    return run(args)


@command
def _simulate(sub: Subparsers) -> None:
    from sandbox.simulate_cli import add_arguments

    parser = sub.add_parser(
        "simulate",
        help="run the whole system on a local AWS with a simulated portfolio",
        description="Provision template.yaml on moto, import a synthetic portfolio (or --portfolio FILE) and live "
        "simulated days: sweeps, escalations, customers paying and replying, agents and admins; then audit what "
        "was sent. With --policy CANDIDATE.yaml --compare: the same portfolio and seed lived under the current and "
        "the candidate policy, side by side with 95% intervals.",
    )
    add_arguments(parser)
    parser.set_defaults(handler=run_simulate)


# ---------------------------------------------------------------------------- classify


def run_classify(args: argparse.Namespace) -> int:
    import json

    from dunning.domain.intents import classify

    try:
        now = parse_instant(args.now) if args.now else utc_now()
        found = classify(args.text, now, args.zone, locale=args.locale)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    reading = {
        "intent": found.intent.value,
        "promise_date": found.promise_date.isoformat() if found.promise_date else None,
        "amount": str(found.promise_amount) if found.promise_amount is not None else None,
        "matched": found.matched,
        "secondary": [intent.value for intent in found.secondary],
        "confidence": found.confidence,
        "language": found.language,
    }
    if args.json:
        print(json.dumps(reading, ensure_ascii=False))
    else:
        extras = [f"on {reading['promise_date']}" if reading["promise_date"] else "",
                  f"amount {reading['amount']}" if reading["amount"] else "",
                  f"also {', '.join(reading['secondary'])}" if reading["secondary"] else ""]
        print(" ".join(part for part in (found.intent.value, *extras) if part)
              + f"  [{found.matched}, {found.confidence} confidence]")
    return 0


@command
def _classify(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "classify",
        help="read a customer's reply as the engine would",
        description="Classify one SMS or email reply (English or Chinese): its intent, the date and amount "
        "it promises (in the customer's time zone), and the rule that fired. Dates such as 'tomorrow' or "
        "'15号' are resolved against --now in --zone.",
    )
    parser.add_argument("text", metavar="TEXT", help="the reply, e.g. \"I'll pay $150 on the 15th\"")
    parser.add_argument("--zone", required=True, metavar="ZONE", help="the customer's IANA time zone")
    parser.add_argument("--now", metavar="ISO-INSTANT", help="when the reply arrived (default: now), e.g. "
                        "2026-11-25T15:00:00Z")
    parser.add_argument("--locale", metavar="LOCALE",
                        help="the customer's locale (decides whether 12/10 is 10 December or 12 October)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run_classify)


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


# ---------------------------------------------------------------------------- check-file


def _file_chunks(path: Path, size: int = 64 * 1024) -> Iterator[bytes]:
    with path.open("rb") as handle:
        yield from iter(lambda: handle.read(size), b"")


def run_check_file(args: argparse.Namespace) -> int:
    import json

    from dunning.domain.account_file import check_file

    path = Path(args.file)
    try:
        result = check_file(path.name, _file_chunks(path))
    except OSError as exc:
        print(f"error: cannot read {path} ({exc.__class__.__name__})", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.as_dict(), ensure_ascii=False))
    else:
        for reject in result.rejects:
            print(f"row {reject['row']}: {reject['reason']}")
        print(f"{result.rows} rows: {result.accepted} would be imported, {result.rejected} rejected")
    return 1 if result.rejects else 0


@command
def _check_file(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "check-file",
        help="what ImportAccounts would do with an account file (no AWS)",
        description="Read an account file (CSV, or JSON Lines when named .jsonl/.ndjson) with the same "
        "reader and validation as ImportAccounts, and list each row it would reject with the reason "
        "(row n is line n+1 of a CSV, line n of JSON Lines; row 0 is the whole file). 'imported' counts "
        "the rows it would accept; whether they change a stored account is not checked. "
        "Exit 0 when nothing is rejected, 1 otherwise.",
    )
    parser.add_argument("file", metavar="FILE", help="the account file")
    parser.add_argument("--json", action="store_true",
                        help='print {"rows", "imported", "rejected", "rejects": [{"row", "reason"}]}')
    parser.set_defaults(handler=run_check_file)


if __name__ == "__main__":
    sys.exit(main())
