"""What a simulated run leaves behind, and the summary counted from it.

Shards (sandbox.simulate) each return a ``ShardOutput``; ``summarise`` merges them first and
then counts once (cases, notices, replies, payments, promises, plans, calls per notice, persona
outcomes, customers and their loans, special statuses, the uplift over the no-contact holdout) and
runs the independent audit (sandbox.audit) over what the providers received, caps and spacing per
person.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sandbox.lambda_runtime import call_kind
from sandbox.portfolio import SPECIAL_STATUS, SyntheticAccount
from sandbox.providers import ProviderMessage
from sandbox.reviewers import legal_figures

if TYPE_CHECKING:
    from sandbox.simulate import SimulationConfig


@dataclass
class ShardOutput:
    """What one shard's run leaves behind; shards merge into one before anything is counted."""

    portfolio: list[SyntheticAccount]
    messages: list[ProviderMessage]
    items: list[dict[str, Any]]  # CollectionsTable cases and ledger entries, by (pk, sk)
    accounts: list[dict[str, Any]]
    replies: list[dict[str, Any]]
    daily: list[dict[str, Any]]
    events: Counter[str]
    errors: list[dict[str, Any]]
    absent: set[str]
    invocations: dict[str, int]
    aws_calls: Counter[str]
    import_result: Any
    statuses: list[dict[str, Any]] = field(default_factory=list)  # special statuses set by admin command
    transitions: dict[str, int] = field(default_factory=dict)  # per case id, when counted
    tally_drift: list[str] = field(default_factory=list)  # cases whose header's tally is not their items' fold


@dataclass
class SimulationResult:
    summary: dict[str, Any]
    messages: list[ProviderMessage]
    ledger: list[dict[str, Any]]
    cases: list[dict[str, Any]]
    accounts: list[dict[str, Any]]
    replies: list[dict[str, Any]]
    daily: list[dict[str, Any]]
    transitions: dict[str, int] = field(default_factory=dict)
    portfolio: list[SyntheticAccount] = field(default_factory=list)


def _summary(config: SimulationConfig, run: ShardOutput) -> dict[str, Any]:
    from sandbox.audit import audit

    items, accounts = run.items, run.accounts

    ledger = [i for i in items if i.get("type") == "LEDGER"]
    cases = [i for i in items if i.get("type") == "CASE"]
    notices = Counter(m.channel for m in run.messages)
    kinds = Counter(str(e.get("kind")) for e in ledger)
    reasons: Counter[str] = Counter()
    for e in ledger:
        data = e.get("data") or {}
        if isinstance(data, dict):
            if e.get("kind") == "CASE_CLOSED" and data.get("by_decision"):
                continue  # the closing decision's own reasons, already counted with it
            reasons.update(str(r) for r in data.get("reasons", []) or [])
            reasons.update(str(r) for r in data.get("then", []) or [])  # waits taken straight after a send
            reasons.update(str(d) for d in data.get("details", []) or [] if isinstance(d, str))
    statuses = Counter(str(_case_field(c, "status")) for c in cases)
    owners = {a.account_id: a.customer for a in run.portfolio}
    findings = audit(run.messages, ledger, accounts, run.replies, owners, _stopped(run))
    outcomes = _persona_outcomes(run.portfolio, cases, accounts, ledger)
    sent = sum(notices.values())
    return {
        "accounts": config.accounts, "days": config.days, "seed": config.seed,
        "start": config.start.isoformat(),
        # Pre-due reminder records open no collection case.
        "cases_opened": sum(1 for e in ledger if e.get("kind") == "CASE_OPENED"
                            and not (e.get("data") or {}).get("pre_due")),
        "cases_cured": statuses["RESOLVED"],
        "case_statuses": dict(sorted(statuses.items())),
        "legal_referrals": statuses["REFERRED_TO_LEGAL"],
        **legal_figures(ledger),
        "notices": dict(sorted(notices.items())),
        # Which provider took each message (texts to mainland numbers: aliyun; other texts: sms-voice).
        "messages_by_provider": dict(sorted(Counter(m.provider for m in run.messages).items())),
        "call_tasks": kinds["CALL_TASK"],
        # What the engine heard, by the channel the customer used: each message once, though every
        # open loan of the person who wrote records it (a REPLY entry on each case).
        "replies": dict(sorted(Counter(channel for channel, _ in {
            (str((e.get("data") or {}).get("channel", "SMS")), (e.get("data") or {}).get("message_key") or id(e))
            for e in ledger if e.get("kind") == "REPLY"}).items())),
        "replies_by_persona": dict(sorted(Counter(r["persona"] for r in run.replies).items())),
        "actions_by_source": actions_by_source(ledger),
        "opt_outs": kinds["OPT_OUT"],
        "payments": run.events["payments"],
        "promises": {"made": kinds["PROMISE"], "kept": reasons["PROMISE_KEPT"],
                     "broken": reasons["PROMISE_BROKEN"]},
        "plans": {"offered": len(_plan_ids(ledger)), "accepted": len(_plan_ids(ledger, "ACTIVE")),
                  "completed": reasons["PLAN_COMPLETED"], "broken": reasons["PLAN_BROKEN"]},
        "lambda_invocations": dict(sorted(run.invocations.items())),
        "aws_calls_per_notice": round(sum(run.aws_calls.values()) / sent, 2) if sent else None,
        "aws_calls_by_kind": _calls_by_kind(run.aws_calls, sent),
        "audit": findings.counts(),
        # Headers whose tally (what decisions read of the case's past) differs from their items' fold.
        "tally_drift": run.tally_drift,
        "audit_findings": [f.as_json() for f in findings.findings[:50]],
        "persona_outcomes": outcomes,
        "customers": _customer_summary(run.portfolio, run.messages),
        "special_statuses": _status_summary(run, ledger),
        "import": run.import_result,
        "functions_absent": sorted(run.absent),
        "driver_events": dict(sorted(run.events.items())),
        "function_errors": run.errors[:20],
    }


# What a person only looks at, or a call nobody answered: no action taken on the case.
_READS = frozenset({"show_case", "export_evidence", "verify_case", "worklist", "reveal_phone"})
_NOT_REACHED = frozenset({"NO_ANSWER", "WRONG_PARTY"})


def actions_by_source(ledger: list[dict[str, Any]]) -> dict[str, int]:
    """Case actions by where they came from, read from the callers' own ledger records: a text or
    an email the reply reader acted on, a form on the customer's page, an agent's call outcome
    that reached someone, an admin's command that changed a case."""
    found: Counter[str] = Counter({"sms_reply": 0, "email_reply": 0, "page": 0, "agent": 0, "admin": 0})
    for e in ledger:
        data, kind = e.get("data") or {}, e.get("kind")
        if kind == "REPLY" and data.get("disposition") == "READ" and data.get("intent") != "OTHER" \
                and data.get("callback") != "UNVERIFIED_REPLY":  # an unsigned push's reply waits for a person
            found["email_reply" if data.get("channel") == "EMAIL" else "sms_reply"] += 1
        elif kind == "PAGE" and data.get("applied") and data.get("action") not in ("verify", "fresh_link"):
            found["page"] += 1
        elif kind == "ADMIN" and data.get("applied") and data.get("command") not in _READS:
            if data.get("command") == "record_call_outcome":
                found["agent"] += (data.get("params") or {}).get("outcome") not in _NOT_REACHED
            else:
                found["admin"] += 1
    return dict(found)


def _persona_outcomes(portfolio: list[SyntheticAccount], cases: list[dict[str, Any]],
                      accounts: list[dict[str, Any]], ledger: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    by_account_status: dict[str, set[str]] = defaultdict(set)
    for c in cases:
        by_account_status[str(_case_field(c, "account_id"))].add(str(_case_field(c, "status")))
    reasons_by_account: dict[str, set[str]] = defaultdict(set)
    kinds_by_account: dict[str, set[str]] = defaultdict(set)
    for e in ledger:
        data = e.get("data") or {}
        account_id = str(e.get("account_id") or str(e.get("pk", "")).removeprefix("ACCOUNT#"))
        kinds_by_account[account_id].add(str(e.get("kind")))
        if isinstance(data, dict):
            reasons_by_account[account_id].update(str(r) for r in data.get("reasons", []) or [])
            reasons_by_account[account_id].update(str(d) for d in data.get("details", []) or [] if isinstance(d, str))
    stored = {a["account_id"]: a for a in accounts}
    out: dict[str, dict[str, int]] = {}
    for synthetic in portfolio:
        row = out.setdefault(synthetic.persona.value, {"expected": 0, "achieved": 0})
        row["expected"] += 1
        acc = stored.get(synthetic.account_id, {})
        statuses = by_account_status[synthetic.account_id]
        reasons = reasons_by_account[synthetic.account_id]
        achieved = {
            "cured": "RESOLVED" in statuses or acc.get("status") == "PAID_OFF",
            "sms_opted_out": "SMS" in (acc.get("opted_out") or []),
            "plan_completed": "PLAN_COMPLETED" in reasons,
            "plan_broken": "PLAN_BROKEN" in reasons,
            "promise_kept": "PROMISE_KEPT" in reasons,
            "promise_broken": "PROMISE_BROKEN" in reasons,
            "disputed": "DISPUTED" in statuses or "DISPUTED" in reasons,
            "phone_unusable": not (acc.get("contact") or {}).get("phone_usable", True),
            "legal_referral": "REFERRED_TO_LEGAL" in statuses,
            "contact_stopped": "SPECIAL_STATUS" in kinds_by_account[synthetic.account_id]
            and "REFERRED_TO_LEGAL" not in statuses,
            "specialist": "SPECIALIST" in kinds_by_account[synthetic.account_id]
            and "REFERRED_TO_LEGAL" not in statuses,
        }[synthetic.expected]
        row["achieved"] += int(achieved)
    return dict(sorted(out.items()))


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _stopped(run: ShardOutput) -> dict[str, datetime]:
    """When each person's status that stops all contact reached collections, as the portfolio
    knows it (not as the engine recorded it): from the start for a status in the file, at the
    delivered text for one told by reply, at the admin command for one set by the legal team."""
    owner = {a.account_id: a.customer for a in run.portfolio}
    start = datetime.min.replace(tzinfo=UTC)
    out: dict[str, datetime] = {}
    stops = {persona for persona, (status, _) in SPECIAL_STATUS.items() if status != "VULNERABLE"}
    for account in run.portfolio:
        if account.persona in stops and SPECIAL_STATUS[account.persona][1] == "FILE":
            out[account.customer] = start
    by_persona = {persona.value for persona in stops}
    for r in sorted(run.replies, key=lambda r: r["at"]):
        if r.get("delivered") and r.get("persona") in by_persona:
            out.setdefault(owner[r["account_id"]], _instant(r["at"]))
    for st in run.statuses:
        out.setdefault(st["customer"], _instant(st["at"]))
    return out


def _customer_summary(portfolio: list[SyntheticAccount], messages: list[ProviderMessage]) -> dict[str, Any]:
    """People and their loans, and the most messages any one person received on a UTC day per
    channel (answers to their own messages included: the audit holds the caps, per local day)."""
    owner = {a.account_id: a.customer for a in portfolio}
    loans = Counter(owner.values())
    two = {c for c, n in loans.items() if n > 1}
    per_day: Counter[tuple[str, str, str]] = Counter(
        (owner.get(m.account_id or "", "?"), m.channel, m.sent_at.date().isoformat()) for m in messages)
    return {
        "people": len(loans), "loans": len(portfolio), "with_two_loans": len(two),
        "messages_to_people_with_two_loans": sum(1 for m in messages if owner.get(m.account_id or "") in two),
        "most_sms_to_one_person_in_a_utc_day": max((n for (_, ch, _), n in per_day.items() if ch == "SMS"), default=0),
        "most_emails_to_one_person_in_a_utc_day": max((n for (_, ch, _), n in per_day.items() if ch == "EMAIL"),
                                                  default=0),
    }


def _status_summary(run: ShardOutput, ledger: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per special status: the people who have it, where it came from, how many got it recorded on
    their cases, how many messages reached them after it reached collections (none, for the
    statuses that stop contact) and how many were referred to legal (none)."""
    owner = {a.account_id: a.customer for a in run.portfolio}
    recorded = {owner.get(str(e.get("pk", "")).removeprefix("ACCOUNT#")) for e in ledger
                if e.get("kind") == "SPECIAL_STATUS"}
    specialist = {owner.get(str(e.get("pk", "")).removeprefix("ACCOUNT#")) for e in ledger
                  if e.get("kind") == "SPECIALIST"}
    referred = {owner.get(str(e.get("pk", "")).removeprefix("ACCOUNT#")) for e in ledger
                if e.get("kind") == "LEGAL" and (e.get("data") or {}).get("event") == "REVIEW_REQUESTED"}
    stopped = _stopped(run)
    out: dict[str, dict[str, Any]] = {}
    for persona, (status, source) in SPECIAL_STATUS.items():
        people = {a.customer for a in run.portfolio if a.persona is persona}
        after = sum(1 for m in run.messages if (p := owner.get(m.account_id or "")) in people
                    and p in stopped and m.sent_at > stopped[p])
        row = {"customers": len(people), "source": source, "recorded": len(people & recorded),
               "messages_after": after, "legal_reviews": len(people & referred)}
        if status == "VULNERABLE":
            row["specialist_handovers"] = len(people & specialist)
        out[status] = row
    return out


def _uplift(report: Any) -> list[dict[str, Any]]:
    """The report's uplift table (each variant against the no-contact holdout), as rows."""
    table = next((t for t in report.tables if t.name == "uplift"), None)
    if table is None:
        return []
    keep = ("group", "day", "group_cured", "group_cases", "holdout_cured", "holdout_cases", "uplift", "low_95",
            "high_95", "incremental_cures", "incremental_low_95", "incremental_high_95", "verdict")
    return [{k: v for k, v in zip(table.columns, row, strict=True) if k in keep} for row in table.rows]


def _case_field(item: dict[str, Any], name: str) -> Any:
    if name in item:
        return item[name]
    case = item.get("case")
    if isinstance(case, dict):
        return case.get(name)
    if isinstance(case, str):
        try:
            return json.loads(case).get(name)
        except ValueError:
            return None
    return None


def _plan_ids(ledger: list[dict[str, Any]], status: str | None = None) -> set[tuple[str, str]]:
    """Plans seen in PLAN ledger entries (an accepted plan is also an offered one). A plan id is
    unique within its case only (it is the instant it was offered), so the case is part of the key."""
    return {(str(e.get("sk", "")).split("#LEDGER#")[0], str(e["data"].get("plan_id"))) for e in ledger
            if e.get("kind") == "PLAN" and isinstance(e.get("data"), dict)
            and (status is None or e["data"].get("status") == status)}


def _calls_by_kind(calls: Counter[str], sent: int) -> dict[str, float]:
    """The system's AWS calls per notice sent, as reads, writes, sends and the rest."""
    kinds: Counter[str] = Counter()
    for key, n in calls.items():
        kinds[call_kind(*key.split(":", 1))] += n
    return {k: round(kinds[k] / sent, 2) if sent else 0.0 for k in ("reads", "writes", "sends", "other")}


def summarise(config: SimulationConfig, shards: list[ShardOutput]) -> SimulationResult:
    """One result from the shards' outputs: merged first, then counted and audited once."""
    run = _merge(shards) if len(shards) > 1 else shards[0]
    summary = _summary(config, run)
    ledger = [i for i in run.items if i.get("type") == "LEDGER"]
    cases = [i for i in run.items if i.get("type") == "CASE"]
    result = SimulationResult(summary, run.messages, ledger, cases, run.accounts, run.replies, run.daily,
                              run.transitions, run.portfolio)
    from sandbox.report import simulation_report

    summary["holdout_uplift"] = _uplift(simulation_report(result))
    return result


def _merge(shards: list[ShardOutput]) -> ShardOutput:
    def joined(name: str) -> list[Any]:
        return [x for shard in shards for x in getattr(shard, name)]

    events: Counter[str] = Counter()
    calls: Counter[str] = Counter()
    invocations: Counter[str] = Counter()
    for shard in shards:
        events.update(shard.events)
        calls.update(shard.aws_calls)
        invocations.update(shard.invocations)
    daily = [{"day": row["day"], "messages": sum(shard.daily[n]["messages"] for shard in shards)}
             for n, row in enumerate(shards[0].daily)]
    return ShardOutput(
        portfolio=joined("portfolio"),
        messages=sorted(joined("messages"), key=lambda m: m.sent_at),  # stable: shard order within an instant
        items=sorted(joined("items"), key=lambda i: (str(i.get("pk")), str(i.get("sk")))),
        accounts=sorted(joined("accounts"), key=lambda a: a["account_id"]),
        replies=sorted(joined("replies"), key=lambda r: r["at"]),
        daily=daily, events=events, errors=joined("errors"), absent=set(joined("absent")),
        invocations=dict(invocations), aws_calls=calls, statuses=joined("statuses"),
        transitions={k: v for shard in shards for k, v in shard.transitions.items()},
        tally_drift=joined("tally_drift"),
        # Each shard imports its own file; a failed import is already among the errors.
        import_result={"files": [f for shard in shards if isinstance(shard.import_result, dict)
                                 for f in shard.import_result.get("files", [])]},
    )


def write_dump(result: SimulationResult, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)

    def lines(name: str, rows: list[dict[str, Any]]) -> None:
        with (folder / name).open("w", encoding="utf-8") as out:
            for row in rows:
                out.write(json.dumps(row, default=str, ensure_ascii=False, sort_keys=True) + "\n")

    lines("messages.jsonl", [m.as_json() for m in result.messages])
    lines("ledger.jsonl", result.ledger)
    lines("accounts.jsonl", result.accounts)
    lines("replies.jsonl", result.replies)
