"""`dunning simulate --report`: the weekly report's page for a whole simulated run.

The numbers come from what the run left in the tables (the ledger and the accounts, exactly what
the WeeklyReport function would scan), so the page is the report the lender would have received
at the end of the run; a short table of what the providers received (counted by channel, from
their own records) is added at the end. Aggregates only: no name, number, address or amount.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from dunning.domain.models import Account, LedgerEntry
from dunning.domain.policy import Policy, default_policy
from dunning.domain.reporting.render import render_html
from dunning.domain.reporting.report import Report, Table
from dunning.services.reports import build
from sandbox.results import SimulationResult

# Table keys the CollectionsTable and AccountsTable add around the stored models.
_LEDGER_KEYS = ("pk", "sk", "type", "lookup_pk", "lookup_sk")
_ACCOUNT_KEYS = ("due_date_key",)


def ledger_entries(items: Iterable[dict[str, Any]]) -> list[LedgerEntry]:
    """CollectionsTable LEDGER items as ledger entries (items that do not validate are left out)."""
    entries = []
    for item in items:
        fields = {k: v for k, v in item.items() if k not in _LEDGER_KEYS}
        try:
            entries.append(LedgerEntry.model_validate(fields))
        except ValidationError:
            continue
    return entries


def accounts_of(items: Iterable[dict[str, Any]]) -> list[Account]:
    accounts = []
    for item in items:
        fields = {k: v for k, v in item.items() if k not in _ACCOUNT_KEYS}
        try:
            accounts.append(Account.model_validate(fields))
        except ValidationError:
            continue
    return accounts


def report_instant(result: SimulationResult, entries: list[LedgerEntry]) -> datetime:
    """The end of the simulated period (or the last entry, if the run wrote past it)."""
    last = max((e.at for e in entries), default=None)
    start, days = result.summary.get("start"), result.summary.get("days")
    if start is None or days is None:
        return last or datetime.now(UTC)
    first_day = date.fromisoformat(str(start))
    end = datetime(first_day.year, first_day.month, first_day.day, tzinfo=UTC) + timedelta(days=int(days))
    return max(end, last) if last else end


def provider_table(result: SimulationResult) -> Table:
    """What the providers received per channel, and the customers' answers on it (counts only)."""
    sent = Counter(m.channel for m in result.messages)
    reached = {ch: len({m.account_id or m.destination for m in result.messages if m.channel == ch})
               for ch in sent}
    answered = Counter(str(r.get("channel", "SMS")) for r in result.replies)
    rows = tuple((ch, sent[ch], reached.get(ch, 0), answered[ch]) for ch in sorted(set(sent) | set(answered)))
    return Table("provider_messages", "What the providers received (their own records), and the customers' replies",
                 ("channel", "messages", "recipients", "replies"), rows)


def simulation_report(result: SimulationResult, policy: Policy | None = None) -> Report:
    entries = ledger_entries(result.ledger)
    return build(entries, accounts_of(result.accounts), report_instant(result, entries),
                 policy or default_policy())


def write_report(result: SimulationResult, path: Path) -> None:
    """One self-contained HTML page (inline CSS and SVG, no script, nothing fetched) at ``path``."""
    report = simulation_report(result)
    summary = result.summary
    title = "Collections report, simulated run"
    if summary.get("accounts") is not None:
        title += (f": {summary['accounts']} accounts, {summary.get('days')} days "
                  f"from {summary.get('start')}, seed {summary.get('seed')}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(report, title=title, extra=(provider_table(result),)), encoding="utf-8")
