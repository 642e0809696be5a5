"""`dunning simulate --policy CANDIDATE.yaml --compare`: one portfolio, one seed, two policies.

The same portfolio (synthetic, or the lender's own file) is lived twice with the same seed: under
the current policy (the bundled default, or ``--current FILE``) and under the candidate, each
published to PolicyBucket before anything runs, so every function reads it as it would in AWS.
Customers answer by the same personas in both runs; what differs is only what the policy made the
engine do, and how the personas answered that.

Each figure is given for both runs and for their difference, with a 95% interval from a paired
bootstrap over accounts (the same resampled accounts in both runs, percentile method). The
interval says how much the figure depends on which accounts happen to be in a portfolio of this
size; it does not say how real customers differ from the personas.

Cost per cure is the cost model's (sandbox.costs): message fees per message actually sent (SMS
parts counted from the text the provider received; US or China by the number), Step Functions
transitions per case read from the executions, and Lambda, DynamoDB, SQS and SNS requests from
the run's call counts, shared evenly over its cases (one request unit per DynamoDB call: a lower
bound). Agents' time is not priced.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sandbox.costs import PRICES
from sandbox.results import SimulationResult
from sandbox.simulate import Progress, SimulationConfig, run_simulation

RESAMPLES = 1000
# Planner waits that held a due notice back for a compliance rule (services.escalation's list).
COMPLIANCE_DEFERRALS = frozenset({"CONTACT_WINDOW", "HOLIDAY", "CALL_CAP", "DAILY_CAP"})
# Lambda duration on AWS as the cost model estimates it: 10 ms an invocation, 8 ms an AWS call, 256 MB.
_LAMBDA_MS, _CALL_MS, _MEMORY_GB = 10, 8, 0.25


@dataclass(frozen=True)
class AccountOutcome:
    """What happened to one account in one run (only accounts that had a collection case count)."""

    account_id: str
    cured: bool
    days_to_cure: float | None
    messages: int
    cost_usd: float
    opt_outs: int
    complaints_disputes: int
    legal_referrals: int
    deferrals: int


@dataclass(frozen=True)
class Estimate:
    value: float | None
    low: float | None
    high: float | None

    def as_json(self) -> dict[str, float | None]:
        return {"value": self.value, "low": self.low, "high": self.high}


@dataclass(frozen=True)
class Row:
    metric: str
    unit: str
    current: Estimate
    candidate: Estimate
    difference: Estimate

    def as_json(self) -> dict[str, Any]:
        return {"metric": self.metric, "unit": self.unit, "current": self.current.as_json(),
                "candidate": self.candidate.as_json(), "difference": self.difference.as_json()}


# A figure of a sample of accounts, or None when it has no meaning there (e.g. days to cure, no cure).
Statistic = Callable[[Sequence[AccountOutcome]], float | None]


def _ratio(top: float, bottom: float, scale: float = 1.0) -> float | None:
    return scale * top / bottom if bottom else None


def _per_100_cases(field: str) -> Statistic:
    return lambda sample: _ratio(sum(getattr(o, field) for o in sample), len(sample), 100)


STATISTICS: tuple[tuple[str, str, Statistic], ...] = (
    ("cure rate", "% of cases", lambda s: _ratio(sum(o.cured for o in s), len(s), 100)),
    ("days to cure", "days (mean of cured cases)",
     lambda s: _ratio(sum(o.days_to_cure or 0.0 for o in s), sum(o.cured for o in s))),
    ("messages per cure", "SMS + email", lambda s: _ratio(sum(o.messages for o in s), sum(o.cured for o in s))),
    ("cost per cure", "USD", lambda s: _ratio(sum(o.cost_usd for o in s), sum(o.cured for o in s))),
    ("opt-outs", "per 100 cases", _per_100_cases("opt_outs")),
    ("complaints and disputes", "per 100 cases", _per_100_cases("complaints_disputes")),
    ("legal referrals", "per 100 cases", _per_100_cases("legal_referrals")),
    ("compliance deferrals", "per 100 cases", _per_100_cases("deferrals")),
)


# ---------------------------------------------------------------------------- one run's outcomes


def _message_cost(channel: str, destination: str, body: str) -> float:
    if channel == "EMAIL":
        return PRICES["ses_email"]
    from dunning.domain.sms import sms_size

    parts = sms_size(body).segments
    if destination.startswith("+86"):
        return parts * PRICES["sms_cn_part"]
    return parts * (PRICES["sns_sms_us_part"] + PRICES["us_carrier_fee_part"])


def _shared_infra_usd(result: SimulationResult) -> float:
    """Everything but transitions, for the whole run, from its invocation and call counts."""
    summary = result.summary
    invocations = sum((summary.get("lambda_invocations") or {}).values())
    sent = sum((summary.get("notices") or {}).values())
    per_notice = summary.get("aws_calls_by_kind") or {}
    reads, writes, other = (per_notice.get(k, 0.0) * sent for k in ("reads", "writes", "other"))
    seconds = (invocations * _LAMBDA_MS + (reads + writes + other) * _CALL_MS) / 1000
    return (invocations * PRICES["lambda_request"] + seconds * _MEMORY_GB * PRICES["lambda_arm_gb_second"]
            + reads * PRICES["ddb_read_request_unit"] + writes * PRICES["ddb_write_request_unit"]
            + other * PRICES["sqs_request"])


def outcomes(result: SimulationResult) -> dict[str, AccountOutcome]:
    """Per account with a collection case: cure, days to cure, messages, cost and what went wrong."""
    from dunning.domain.models import LedgerEntry
    from dunning.domain.reporting.facts import cases_from_ledger

    entries = [LedgerEntry.model_validate(item) for item in result.ledger]
    cases = cases_from_ledger(entries)
    by_account: dict[str, list[Any]] = defaultdict(list)
    for case in cases:
        by_account[case.account_id].append(case)
    events: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for entry in entries:
        account_id = _account_of(entry.case_id, by_account)
        if account_id is None:
            continue
        tally = events[account_id]
        data = entry.data
        kind = entry.kind.value
        if kind == "OPT_OUT" and data.get("action") == "OPT_OUT":
            tally["opt_outs"] += 1
            tally["complaints_disputes"] += data.get("source") == "COMPLAINT"
        elif _complaint_or_dispute(kind, data):
            tally["complaints_disputes"] += 1
        elif kind == "DECISION" and data.get("action") == "WAIT" \
                and COMPLIANCE_DEFERRALS.intersection(data.get("reasons") or []):
            tally["deferrals"] += 1
        elif kind == "NOTICE" and COMPLIANCE_DEFERRALS.intersection(data.get("then") or []):
            tally["deferrals"] += 1  # the next step, held back: the escalation waited for it straight after the send
    contacts = {a.phone: a.account_id for a in result.portfolio if a.phone} | \
        {a.email: a.account_id for a in result.portfolio if a.email}
    messages: dict[str, int] = defaultdict(int)
    fees: dict[str, float] = defaultdict(float)
    for m in result.messages:
        account_id = contacts.get(m.destination)
        if account_id is not None:
            messages[account_id] += 1
            fees[account_id] += _message_cost(m.channel, m.destination, m.body)
    shared = _shared_infra_usd(result) / max(1, len(cases))
    transition = PRICES["sfn_standard_transition"]
    out: dict[str, AccountOutcome] = {}
    for account_id, account_cases in sorted(by_account.items()):
        cured = next((c for c in account_cases if c.cured_at is not None), None)
        tally = events[account_id]
        infra = sum(shared + transition * result.transitions.get(c.case_id, 0) for c in account_cases)
        out[account_id] = AccountOutcome(
            account_id=account_id,
            cured=cured is not None,
            days_to_cure=(cured.cured_at - cured.opened_at).total_seconds() / 86400
            if cured is not None and cured.cured_at is not None else None,
            messages=messages[account_id],
            cost_usd=fees[account_id] + infra,
            opt_outs=tally["opt_outs"],
            complaints_disputes=tally["complaints_disputes"],
            legal_referrals=sum(c.end_status == "REFERRED_TO_LEGAL" for c in account_cases),
            deferrals=tally["deferrals"],
        )
    return out


def _complaint_or_dispute(kind: str, data: dict[str, Any]) -> bool:
    """A complaint read in a reply (also one that came with another intent), or a dispute on hold."""
    if kind == "REPLY":
        return data.get("intent") == "COMPLAINT" or data.get("callback") == "COMPLAINT"
    return kind == "HOLD" and data.get("status") == "DISPUTED"


def _account_of(case_id: str, by_account: dict[str, list[Any]]) -> str | None:
    from dunning.domain.reporting.facts import account_id_of

    account_id = account_id_of(case_id)
    return account_id if account_id in by_account else None


# ---------------------------------------------------------------------------- the comparison


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    low = int(k)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def _estimate(point: float | None, draws: list[float]) -> Estimate:
    if point is None or len(draws) < 2:
        return Estimate(point, None, None)
    return Estimate(round(point, 4), round(_percentile(draws, 0.025), 4), round(_percentile(draws, 0.975), 4))


def compare_outcomes(current: dict[str, AccountOutcome], candidate: dict[str, AccountOutcome],
                     resamples: int = RESAMPLES, seed: int = 7) -> list[Row]:
    """Each statistic under both policies and their difference, with paired bootstrap intervals.

    Accounts with a case in either run are the sample; an account with no case in one run (the
    candidate kept it out of collections) counts there as not cured, with nothing sent or spent."""
    ids = sorted(set(current) | set(candidate))
    empty = AccountOutcome("", False, None, 0, 0.0, 0, 0, 0, 0)
    pairs = [(current.get(i, empty), candidate.get(i, empty)) for i in ids]
    rng = random.Random(seed)
    draws: dict[str, tuple[list[float], list[float], list[float]]] = {name: ([], [], []) for name, _, _ in
                                                                      STATISTICS}
    for _ in range(resamples if pairs else 0):
        sample = rng.choices(pairs, k=len(pairs))
        now = [p[0] for p in sample]
        then = [p[1] for p in sample]
        for name, _, stat in STATISTICS:
            a, b = stat(now), stat(then)
            cur, cand, diff = draws[name]
            if a is not None:
                cur.append(a)
            if b is not None:
                cand.append(b)
            if a is not None and b is not None:
                diff.append(b - a)
    rows = []
    for name, unit, stat in STATISTICS:
        a, b = stat([p[0] for p in pairs]), stat([p[1] for p in pairs])
        cur, cand, diff = draws[name]
        rows.append(Row(name, unit, _estimate(a, cur), _estimate(b, cand),
                        _estimate(b - a if a is not None and b is not None else None, diff)))
    return rows


@dataclass(frozen=True)
class Comparison:
    rows: list[Row]
    cases: tuple[int, int]
    current: SimulationResult
    candidate: SimulationResult

    def as_json(self) -> dict[str, Any]:
        keys = ("accounts", "days", "seed", "start", "cases_opened", "cases_cured", "legal_referrals", "notices",
                "audit", "wall_seconds")
        return {
            "method": f"paired bootstrap over accounts, {RESAMPLES} resamples, 95% percentile intervals",
            "prices": PRICES,
            "cases": {"current": self.cases[0], "candidate": self.cases[1]},
            "policy_versions": {"current": policy_versions(self.current),
                                "candidate": policy_versions(self.candidate)},
            "rows": [r.as_json() for r in self.rows],
            "current": {k: self.current.summary.get(k) for k in keys},
            "candidate": {k: self.candidate.summary.get(k) for k in keys},
        }


def policy_versions(result: SimulationResult) -> list[str]:
    """The policy versions cases opened under (the proof the published policy was in force)."""
    return sorted({str((e.get("data") or {}).get("policy_version")) for e in result.ledger
                   if e.get("kind") == "CASE_OPENED" and not (e.get("data") or {}).get("pre_due")})


def run_compare(config: SimulationConfig, candidate_policy: str, current_policy: str | None = None,
                workers: int = 2, progress: Callable[[str, int, int], None] | None = None) -> Comparison:
    """Live ``config``'s portfolio under the current and the candidate policy; compare them."""
    results = []
    for label, policy in (("current", current_policy), ("candidate", candidate_policy)):
        step: Progress | None = None
        if progress is not None:
            step = (lambda name: lambda done, total: progress(name, done, total))(label)
        run = replace(config, policy_file=policy, count_transitions=True)
        results.append(run_simulation(run, step, workers=workers))
    now, then = outcomes(results[0]), outcomes(results[1])
    return Comparison(compare_outcomes(now, then), (len(now), len(then)), results[0], results[1])
