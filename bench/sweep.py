"""Items the daily sweep reads per account due, at 1,000 / 10,000 / 100,000 accounts.

The portfolio is written straight into moto with BatchWriteItem (setup, not the system under
test): due dates spread evenly over 30 days around the swept day, so about 1/30 of the accounts
fall due on the newly overdue date and 1/30 on the pre-due reminder date; 5% are already
delinquent and 5% owe nothing (they carry no DueIndex key at all).
"""

from __future__ import annotations

import copy
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bench.common import moto_tables, spying

SWEEP_DAY = date(2026, 11, 18)  # a Wednesday, not a US holiday, nor is the reminder date
SWEEP_AT = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)  # 10:00 in New York: reminders go out
SPREAD_DAYS = 30


def _template_item() -> dict[str, Any]:
    from dunning.adapters.dynamo import account_item, to_item
    from tests.functions.conftest import make_account

    account = make_account(account_id="TEMPLATE", status="CURRENT", due_date=SWEEP_DAY, version=1)
    return to_item(account_item(account))


def seed(db: Any, table: str, accounts: int) -> dict[str, int]:
    """Write `accounts` accounts in batches of 25; returns how many fall on each interesting date."""
    base = _template_item()
    first = SWEEP_DAY - timedelta(days=SPREAD_DAYS // 2)
    overdue, pre_due = SWEEP_DAY - timedelta(days=1), SWEEP_DAY + timedelta(days=3)
    counts: Counter[str] = Counter()
    batch: list[dict[str, Any]] = []
    for i in range(accounts):
        item = copy.copy(base)
        item["account_id"] = {"S": f"ACC-{i:07d}"}
        due = first + timedelta(days=i % SPREAD_DAYS)
        item["due_date"] = {"S": due.isoformat()}
        if i % 20 == 7:  # owes nothing: no sparse key
            item["principal_due"] = item["interest_due"] = {"S": "0"}
            item.pop("due_date_key", None)
        else:
            item["due_date_key"] = {"S": due.isoformat()}
            if i % 20 == 3 and due < SWEEP_DAY:
                item["status"] = {"S": "DELINQUENT"}
            if due == overdue:
                counts["due_on_overdue_date"] += 1
            elif due == pre_due:
                counts["due_on_pre_due_date"] += 1
        batch.append({"PutRequest": {"Item": item}})
        if len(batch) == 25:
            _flush(db, table, batch)
            batch = []
    if batch:
        _flush(db, table, batch)
    return dict(counts)


def _flush(db: Any, table: str, batch: list[dict[str, Any]]) -> None:
    request = {table: batch}
    while request:
        request = db.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}


def measure(accounts: int, send: bool = True) -> dict[str, Any]:
    """Run DailySweepFunction once over a seeded portfolio. With send=False the pre-due reminders
    stop at the notice path's door (counted as sent, nothing written): the sweep's own reads are
    the same, and moto copies every table on each transaction, which makes thousands of sends on
    a 100,000-item table take hours there (the notice path's cost is measured on its own)."""
    import boto3
    import pytest
    import time_machine

    from dunning.services import sweep
    from tests.support.aws import FakeContext, fresh_function

    with moto_tables() as env:
        db = boto3.client("dynamodb", region_name="us-east-1")
        started = time.perf_counter()
        due = seed(db, env["ACCOUNTS_TABLE"], accounts)
        seeding = time.perf_counter() - started
        app = fresh_function("daily_sweep")
        with (
            pytest.MonkeyPatch.context() as patch,
            spying() as spy,
            time_machine.travel(SWEEP_AT, tick=False),
        ):
            if not send:
                patch.setattr(sweep, "send_pre_due", lambda *a, **kw: "SENT")
            started = time.perf_counter()
            out = app.lambda_handler({"sweep_date": SWEEP_DAY.isoformat()}, FakeContext())
            elapsed = time.perf_counter() - started
        app._ports = None
    ops = Counter(f"{s}:{o}" for s, o in spy.calls)
    by_target = Counter(f"{o}:{t}" for (_, o), t in zip(spy.calls, spy.targets, strict=True))
    # What the sweep reads to find its work (index entries) vs the accounts it then reads to send a
    # pre-due reminder (the notice path reads each of those once more, counted in calls).
    index_items = spy.index_items
    return {
        "accounts": accounts,
        "reminders": "sent" if send else "stopped at the notice path",
        "seed_seconds": round(seeding, 1),
        "sweep_seconds": round(elapsed, 2),
        "accounts_due": out["accounts_due"],
        "items_read": out["items_read"],
        "index_items": index_items,
        "items_per_account_due": round(out["items_read"] / out["accounts_due"], 3)
        if out["accounts_due"]
        else None,
        "index_items_per_account_due": round(index_items / out["accounts_due"], 3)
        if out["accounts_due"]
        else None,
        "marked_delinquent": out["marked_delinquent"],
        "reminders_sent": out["reminders_sent"],
        "reminders_deferred": out["reminders_deferred"],
        "seeded_due": due,
        "scans": ops.get("dynamodb:Scan", 0),
        "calls": dict(sorted(ops.items())),
        "calls_by_table": dict(sorted(by_target.items())),
    }
