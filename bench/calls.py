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
    from bench.common import item_bytes

    if service != "dynamodb" or operation not in ("GetItem", "Query", "BatchGetItem", "TransactGetItems"):
        return 0.0
    if operation == "GetItem":
        sizes = [item_bytes(response["Item"])] if "Item" in response else [0]
    elif operation == "Query":
        sizes = [sum(item_bytes(i) for i in response.get("Items", []))]
    elif operation == "BatchGetItem":
        # each key asked for is a read, a missing item one unit too
        sizes = [item_bytes(i) for items in response.get("Responses", {}).values() for i in items]
        sizes += [0] * (sum(len(t["Keys"]) for t in params["RequestItems"].values()) - len(sizes))
    else:
        sizes = [item_bytes(r["Item"]) for r in response.get("Responses", []) if "Item" in r]
    units = sum(max(1, math.ceil(size / 4096)) for size in sizes)
    consistent = params.get("ConsistentRead") or operation == "TransactGetItems" or (
        operation == "BatchGetItem" and all(t.get("ConsistentRead") for t in params["RequestItems"].values()))
    return float(units if consistent else units / 2) * (2 if operation == "TransactGetItems" else 1)


def _a_case_lived(case_id: str, account_id: str, entries: int, at: Any) -> tuple[list[Any], list[Any]]:
    """``entries`` ledger entries of one case (a notice every sixth, with its notice and full text,
    the rest decisions and deliveries), and the notices."""
    from dunning.domain.models import Channel, EntryKind, Notice, NoticeStatus

    batch: list[tuple[EntryKind, dict[str, Any]]] = []
    notices: list[Notice] = []
    for k in range(1, entries):
        if k % 6 == 0:
            step = f"step_{k}"
            notices.append(Notice(notice_id=Notice.id_for(case_id, step), case_id=case_id, account_id=account_id,
                                  step_id=step, channel=Channel.EMAIL, template_id="overdue_reminder",
                                  template_version="1", locale="en-US", status=NoticeStatus.SENT,
                                  subject="Your payment is overdue", body=_BODY, html=_HTML,
                                  provider_message_id=f"ses:msg-{case_id}-{k}", created_at=at, sent_at=at,
                                  delivery_events=[]))
            batch.append((EntryKind.NOTICE, {"step_id": step, "channel": "EMAIL", "status": "SENT",
                                             "text": _BODY, "provider_message_id": notices[-1].provider_message_id}))
        elif k % 6 == 1:
            batch.append((EntryKind.DELIVERY, {"status": "DELIVERED", "provider_message_id": f"msg-{k}"}))
        else:
            batch.append((EntryKind.DECISION, {"action": "WAIT", "reasons": ["NEXT_STEP_LATER"],
                                               "wait_until": "2026-01-01T00:00:00Z", "skipped": [],
                                               "details": []}))
    return batch, notices


def _closed_cases(env: dict[str, str], account_id: str, cases: int, entries: int) -> int:
    """``cases`` closed cases of ``entries`` ledger entries each (see `_a_case_lived`), written
    through the repository."""
    from datetime import timedelta

    import boto3

    from dunning.adapters.dynamo import CollectionsRepository, to_item
    from dunning.domain.ledger import GENESIS
    from dunning.domain.models import Case, CaseStatus, EntryKind
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
        lived, notices = _a_case_lived(case_id, account_id, entries, opened)
        for notice in notices:
            db.put_item(TableName=env["COLLECTIONS_TABLE"], Item=to_item(repo.notice_item(notice)))
        batch = [(EntryKind.CASE_OPENED, {"strategy_id": "standard"}), *lived]
        record = CaseRecord(case, -1, GENESIS)
        for start in range(0, len(batch), 50):  # a transaction holds at most 100 items
            repo.commit(record, batch[start:start + 50], at=opened, actor="bench", create=start == 0)
        written += len(batch)
    return written


def _open_case_lived(env: dict[str, str], account_id: str, entries: int) -> int:
    """The open case's own ledger grown to ``entries`` entries, as the functions write it (its
    notices with the header, in the commits that record them)."""
    import boto3

    from dunning.adapters.dynamo import CollectionsRepository
    from tests.functions.conftest import NOW
    from tests.support.aws import REGION

    repo = CollectionsRepository(boto3.client("dynamodb", region_name=REGION), env["COLLECTIONS_TABLE"])
    case_id = f"{account_id}-20261102"
    lived, notices = _a_case_lived(case_id, account_id, entries, NOW)
    by_step = {n.step_id: n for n in notices}
    for start in range(0, len(lived), 30):
        chunk = lived[start:start + 30]
        puts = [(repo.notice_item(by_step[d["step_id"]]), None) for _, d in chunk if d.get("step_id") in by_step]
        repo.commit(repo.case(account_id, case_id), chunk, at=NOW, actor="bench", extra_puts=puts)
    return len(lived)


def plan_read_units(closed_cases: int = 20, entries_per_case: int = 60, open_case_entries: int = 240) -> dict[str, Any]:
    """Read units of one Plan (a first notice decided and sent) for a fresh account, for one with
    ``closed_cases`` closed cases of ``entries_per_case`` entries before the open one, and for an
    open case that has lived long (``open_case_entries`` entries of its own: a year of instalments)."""
    import botocore.client
    import pytest
    import time_machine

    from tests.functions.conftest import NOW, make_account, seed_case
    from tests.support.aws import FakeContext, load_function
    from tests.support.listening import listening_env

    plan_fn, events_fn = load_function("plan_next_action"), load_function("email_events")
    pay_fn = load_function("apply_payment")
    out: dict[str, Any] = {"closed_cases": closed_cases, "entries_per_case": entries_per_case}
    original = botocore.client.BaseClient._make_api_call
    with moto_tables() as env, pytest.MonkeyPatch.context() as patch, time_machine.travel(NOW, tick=False):
        env = listening_env(env, patch)
        plan_fn._ports = events_fn._ports = pay_fn._ports = None
        seed_case(env, make_account(account_id="acc-warm"))
        seed_case(env, make_account(account_id="acc-fresh"))
        seed_case(env, make_account(account_id="acc-long"))
        seed_case(env, make_account(account_id="acc-lived"))
        out["history_entries_written"] = _closed_cases(env, "acc-long", closed_cases, entries_per_case)
        out["open_case_entries_written"] = _open_case_lived(env, "acc-lived", open_case_entries)
        units: list[float] = []

        def counting(client: Any, operation: str, params: Any) -> Any:
            response = original(client, operation, params)
            units.append(_read_units(client.meta.service_model.service_name, operation, params, response))
            return response

        botocore.client.BaseClient._make_api_call = counting  # type: ignore[method-assign]
        try:
            for label in ("warm", "fresh", "long", "lived"):  # the first pays the cold start's reads
                units.clear()
                decision = plan_fn.lambda_handler({"case_id": f"acc-{label}-20261102", "account_id": f"acc-{label}",
                                                   "customer_id": f"acc-{label}"}, FakeContext())
                out[label] = {"read_units": sum(units), "reads": sum(1 for u in units if u),
                              "sent": decision.get("sent", {}).get("status")}
                # SES reports the notice delivered: the event is recorded on the case once
                delivered = _ses_delivery(env, f"acc-{label}")
                units.clear()
                recorded = events_fn.lambda_handler(delivered, FakeContext())
                out[label] |= {"delivery_read_units": sum(units), "delivery_reads": sum(1 for u in units if u),
                               "delivery": recorded["results"][0]["status"]}
                # core banking posts a part payment: applied, recorded on the open case, receipted
                posted = _payment_posted(f"acc-{label}")
                units.clear()
                paid = pay_fn.lambda_handler(posted, FakeContext())
                out[label] |= {"payment_read_units": sum(units), "payment_reads": sum(1 for u in units if u),
                               "payment": paid["status"]}
        finally:
            botocore.client.BaseClient._make_api_call = original  # type: ignore[method-assign]
            plan_fn._ports = events_fn._ports = pay_fn._ports = None
    out["plan_read_units_fresh"] = out["fresh"]["read_units"]
    out["plan_read_units_long_history"] = out["long"]["read_units"]
    out["plan_read_units_long_open_case"] = out["lived"]["read_units"]
    out["delivery_read_units_fresh"] = out["fresh"]["delivery_read_units"]
    out["delivery_read_units_long_history"] = out["long"]["delivery_read_units"]
    out["delivery_read_units_long_open_case"] = out["lived"]["delivery_read_units"]
    out["payment_read_units_fresh"] = out["fresh"]["payment_read_units"]
    out["payment_read_units_long_history"] = out["long"]["payment_read_units"]
    out["payment_read_units_long_open_case"] = out["lived"]["payment_read_units"]
    return out


def _payment_posted(account_id: str) -> dict[str, Any]:
    """Core banking's PaymentPosted for part of what the account owes (the case stays open)."""
    from tests.support.aws import load_event

    event = load_event("apply_payment/payment-posted")
    event["detail"] |= {"payment_id": f"PMT-{account_id}", "account_id": account_id, "amount": "50.00",
                        "received_at": "2026-11-03T14:00:00Z"}
    return event


def _ses_delivery(env: dict[str, str], account_id: str) -> dict[str, Any]:
    """SES's Delivery event (as SNS brings it) for the email notice the account's open case was sent."""
    import json

    import boto3

    from dunning.adapters.dynamo import CollectionsRepository
    from tests.support.aws import REGION, load_event

    repo = CollectionsRepository(boto3.client("dynamodb", region_name=REGION), env["COLLECTIONS_TABLE"])
    sent = [n for n in repo.case_history(account_id, f"{account_id}-20261102").notices[f"{account_id}-20261102"]
            if n.status.value == "SENT" and str(n.provider_message_id).startswith("ses:")]
    event = load_event("email_events/delivery")
    ses = json.loads(event["Records"][0]["Sns"]["Message"])
    ses["mail"]["messageId"] = str(sent[-1].provider_message_id).removeprefix("ses:")
    event["Records"][0]["Sns"]["Message"] = json.dumps(ses)
    return event
