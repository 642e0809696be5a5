"""The weekly report: read the portfolio, compute, render, and archive it.

Writes ``reports/weekly/<yyyy-mm-dd>/report.html`` and one CSV per table to the archive bucket
(the date is the report instant's UTC date). Aggregates only: no customer, account or amount
appears in any file, so the report can be shared beyond the collections team.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from dunning.domain.models import Account, LedgerEntry
from dunning.domain.policy import Policy
from dunning.domain.reporting.render import render_files
from dunning.domain.reporting.report import Report, build_report
from dunning.observability import logger, metrics
from dunning.ports import Ports

_CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".csv": "text/csv; charset=utf-8"}


def variant_roles(policy: Policy) -> tuple[str | None, str | None]:
    """(holdout, champion): the policy's holdout variant, and its first other variant."""
    holdout = next((v.id for v in policy.variants if v.holdout), None)
    champion = next((v.id for v in policy.variants if not v.holdout), None)
    return holdout, champion


def build(entries: Iterable[LedgerEntry], accounts: Iterable[Account], as_of: datetime,
          policy: Policy | None = None) -> Report:
    holdout, champion = variant_roles(policy) if policy is not None else ("holdout", "champion")
    window = next((v.holdout_days for v in policy.variants if v.holdout), None) if policy is not None else None
    return build_report(entries, accounts, as_of, holdout=holdout, champion=champion,
                        **({"uplift_day": window} if window else {}))


def report_prefix(as_of: datetime) -> str:
    return f"reports/weekly/{as_of:%Y-%m-%d}/"


def archive(ports: Ports, bucket: str, prefix: str, files: dict[str, str]) -> list[str]:
    keys = []
    for name, body in sorted(files.items()):
        key = prefix + name
        content_type = next((t for ext, t in _CONTENT_TYPES.items() if name.endswith(ext)), "text/plain")
        ports.files.put(bucket, key, body.encode("utf-8"), content_type)
        keys.append(key)
    return keys


def weekly_report(ports: Ports, as_of: datetime | None = None) -> dict[str, Any]:
    """Build the report from the tables (see adapters.report_source for why a Scan) and archive it."""
    bucket = ports.archive_bucket
    if not bucket:
        raise RuntimeError("ARCHIVE_BUCKET is not configured")
    as_of = as_of or ports.clock.now()
    source = ports.report_source
    report = build(list(source.ledger_entries()), list(source.accounts()), as_of, ports.policy())
    keys = archive(ports, bucket, report_prefix(as_of), render_files(report))
    metrics.add_metric(name="ReportsWritten", unit="Count", value=1)
    logger.info("weekly report written", extra={"prefix": report_prefix(as_of), "files": len(keys),
                                                "cases": report.counts["cases_opened"],
                                                "skipped_items": source.skipped})
    return {"bucket": bucket, "keys": keys, "cases": report.counts["cases_opened"], "skipped": source.skipped}
