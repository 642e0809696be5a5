"""AWS calls per notice sent: the PlanNextAction that decided SEND and sent it.

Every botocore call is counted (not only the repositories' counters): secrets, SSM, SQS, the
providers. The first case pays the cold start (the link secret); the rest are warm.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from bench.common import moto_tables, spying
from sandbox.aws import call_kind


def notice_path(cases: int = 20) -> dict[str, Any]:
    import time_machine

    from tests.functions.conftest import NOW, make_account, seed_case
    from tests.support.aws import FakeContext, load_function

    plan_fn = load_function("plan_next_action")
    with moto_tables() as env, spying() as spy, time_machine.travel(NOW, tick=False):
        plan_fn._ports = None
        spy.recording = False
        for i in range(cases):
            seed_case(env, make_account(account_id=f"acc-{2000 + i}"))
        spy.recording = True
        plan_ops: list[Counter[str]] = []
        sent = 0
        for i in range(cases):
            # the escalation's state: the ids, the person's among them
            ids = {"case_id": f"acc-{2000 + i}-20261102", "account_id": f"acc-{2000 + i}",
                   "customer_id": f"acc-{2000 + i}"}
            spy.take()
            decision = plan_fn.lambda_handler(dict(ids), FakeContext())
            plan_calls = spy.take()
            if decision.get("sent", {}).get("status") != "SENT":
                continue
            sent += 1
            plan_ops.append(Counter(f"{s}:{o}" for s, o in plan_calls))
        plan_fn._ports = None
    warm = plan_ops[1:]

    def per_notice(rows: list[Counter[str]]) -> dict[str, float]:
        total: Counter[str] = Counter()
        for row in rows:
            total.update(row)
        return {op: round(n / len(rows), 2) for op, n in sorted(total.items())}

    def kinds(ops: dict[str, float]) -> dict[str, float]:
        out: dict[str, float] = dict.fromkeys(("reads", "writes", "sends", "other"), 0.0)
        for op, n in ops.items():
            service, operation = op.split(":")
            out[call_kind(service, operation)] += n
        return {k: round(out[k], 2) for k in ("reads", "writes", "sends", "other")}

    warm_ops = per_notice(warm)
    return {
        "notices_sent": sent,
        "cold": dict(plan_ops[0]),
        "warm_ops": warm_ops,
        "notice_path": kinds(warm_ops) | {"total": round(sum(warm_ops.values()), 2)},
    }


# ---------------------------------------------------------------------------- read units per decision

_BODY = ("Harbor Consumer Finance: your payment of $437.50 on the loan ending 1234 is 12 days overdue. "
         "Please pay by 2026-11-20 at https://pay.example/p/token or call +1 800-555-0134 (Mon-Fri 8am-8pm ET). "
         "This is an attempt to collect a debt. Reply STOP to opt out. ") * 3
_HTML = "<html><body><p>" + _BODY.replace(". ", ".</p><p>") * 2 + "</p></body></html>"


def _read_units(service: str, operation: str, params: Any, response: Any) -> float:
    """Read request units DynamoDB bills for one read: 4 KB units (per item for GetItem, per page
    for Query), half for an eventually consistent read."""
    from bench.throughput import _item_bytes

    if service != "dynamodb" or operation not in ("GetItem", "Query", "BatchGetItem", "TransactGetItems"):
        return 0.0
    if operation == "GetItem":
        sizes = [_item_bytes(response["Item"])] if "Item" in response else [0]
    elif operation == "Query":
        sizes = [sum(_item_bytes(i) for i in response.get("Items", []))]
    elif operation == "BatchGetItem":
        # each key asked for is a read, a missing item one unit too
        sizes = [_item_bytes(i) for items in response.get("Responses", {}).values() for i in items]
        sizes += [0] * (sum(len(t["Keys"]) for t in params["RequestItems"].values()) - len(sizes))
    else:
        sizes = [_item_bytes(r["Item"]) for r in response.get("Responses", []) if "Item" in r]
    units = sum(max(1, math.ceil(size / 4096)) for size in sizes)
    consistent = params.get("ConsistentRead") or operation == "TransactGetItems" or (
        operation == "BatchGetItem" and all(t.get("ConsistentRead") for t in params["RequestItems"].values()))
    return float(units if consistent else units / 2) * (2 if operation == "TransactGetItems" else 1)


def _closed_cases(env: dict[str, str], account_id: str, cases: int, entries: int) -> int:
    """``cases`` closed cases of ``entries`` ledger entries each (a notice every sixth, with its notice
    item and full text, the rest decisions and deliveries), written through the repository."""
    from datetime import timedelta

    import boto3

    from dunning.adapters.dynamo import CollectionsRepository, to_item
    from dunning.domain.ledger import GENESIS
    from dunning.domain.models import Case, CaseStatus, Channel, EntryKind, Notice, NoticeStatus
    from dunning.ports import CaseRecord
    from tests.functions.conftest import NOW
    from tests.support.aws import REGION

    db = boto3.client("dynamodb", region_name=REGION)
    repo = CollectionsRepository(db, env["COLLECTIONS_TABLE"])
    written = 0
    for n in range(cases):
        opened = NOW - timedelta(days=90 * (cases - n))
        case_id = f"{account_id}-{opened:%Y%m%d}"
        case = Case(case_id=case_id, account_id=account_id, opened_at=opened, strategy_id="standard",
                    variant="champion", status=CaseStatus.RESOLVED, closed_at=opened + timedelta(days=40))
        batch: list[tuple[EntryKind, dict[str, Any]]] = [(EntryKind.CASE_OPENED, {"strategy_id": "standard"})]
        for k in range(1, entries):
            if k % 6 == 0:
                step = f"step_{k}"
                notice = Notice(notice_id=Notice.id_for(case_id, step), case_id=case_id, account_id=account_id,
                                step_id=step, channel=Channel.EMAIL, template_id="overdue_reminder",
                                template_version="1", locale="en-US", status=NoticeStatus.SENT,
                                subject="Your payment is overdue", body=_BODY, html=_HTML,
                                provider_message_id=f"msg-{case_id}-{k}", created_at=opened, sent_at=opened)
                db.put_item(TableName=env["COLLECTIONS_TABLE"], Item=to_item(repo.notice_item(notice)))
                batch.append((EntryKind.NOTICE, {"step_id": step, "channel": "EMAIL", "status": "SENT",
                                                 "text": _BODY, "provider_message_id": notice.provider_message_id}))
            elif k % 6 == 1:
                batch.append((EntryKind.DELIVERY, {"status": "DELIVERED", "provider_message_id": f"msg-{k}"}))
            else:
                batch.append((EntryKind.DECISION, {"action": "WAIT", "reasons": ["NEXT_STEP_LATER"],
                                                   "wait_until": "2026-01-01T00:00:00Z", "skipped": [],
                                                   "details": []}))
        record = CaseRecord(case, -1, GENESIS)
        for start in range(0, len(batch), 50):  # a transaction holds at most 100 items
            repo.commit(record, batch[start:start + 50], at=opened, actor="bench", create=start == 0)
        written += len(batch)
    return written


def plan_read_units(closed_cases: int = 20, entries_per_case: int = 60) -> dict[str, Any]:
    """Read units of one Plan (a first notice decided and sent) for a fresh account, and for one
    with ``closed_cases`` closed cases of ``entries_per_case`` entries before the open one."""
    import botocore.client
    import time_machine

    from tests.functions.conftest import NOW, make_account, seed_case
    from tests.support.aws import FakeContext, load_function

    plan_fn = load_function("plan_next_action")
    out: dict[str, Any] = {"closed_cases": closed_cases, "entries_per_case": entries_per_case}
    original = botocore.client.BaseClient._make_api_call
    with moto_tables() as env, time_machine.travel(NOW, tick=False):
        plan_fn._ports = None
        seed_case(env, make_account(account_id="acc-warm"))
        seed_case(env, make_account(account_id="acc-fresh"))
        seed_case(env, make_account(account_id="acc-long"))
        out["history_entries_written"] = _closed_cases(env, "acc-long", closed_cases, entries_per_case)
        units: list[float] = []

        def counting(client: Any, operation: str, params: Any) -> Any:
            response = original(client, operation, params)
            units.append(_read_units(client.meta.service_model.service_name, operation, params, response))
            return response

        botocore.client.BaseClient._make_api_call = counting  # type: ignore[method-assign]
        try:
            for label in ("warm", "fresh", "long"):  # the first pays the cold start's reads
                units.clear()
                decision = plan_fn.lambda_handler({"case_id": f"acc-{label}-20261102", "account_id": f"acc-{label}",
                                                   "customer_id": f"acc-{label}"}, FakeContext())
                out[label] = {"read_units": sum(units), "reads": sum(1 for u in units if u),
                              "sent": decision.get("sent", {}).get("status")}
        finally:
            botocore.client.BaseClient._make_api_call = original  # type: ignore[method-assign]
            plan_fn._ports = None
    out["plan_read_units_fresh"] = out["fresh"]["read_units"]
    out["plan_read_units_long_history"] = out["long"]["read_units"]
    return out
