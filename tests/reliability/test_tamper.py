"""Tamper evidence of the stored ledger: an entry altered, removed or moved in DynamoDB (by someone
with table access, outside the application) is named by the chain verification, and the evidence
export carries that verdict."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest

from dunning.composition import AwsPorts
from dunning.domain.ledger import verify_chain
from dunning.domain.models import EntryKind, utc_now
from dunning.services import admin
from dunning.settings import ListeningSettings
from tests.functions.conftest import seed_case
from tests.support.aws import REGION
from tests.support.listening import collections, listening_env

CASE = "acc-1001-20261102"


@pytest.fixture
def env(aws: dict[str, str], monkeypatch: pytest.MonkeyPatch, clock: Any) -> dict[str, str]:
    out = listening_env(aws, monkeypatch)
    seed_case(out)
    repo = collections(out)
    for n in range(4):  # seq 1..4 after CASE_OPENED (seq 0), one clock tick apart
        clock.shift(60)
        record = repo.case("acc-1001", CASE)
        repo.commit(
            record, [(EntryKind.HOLD, {"status": "PAUSED", "reason": f"R{n}"})], at=utc_now(), actor="test"
        )
    return out


def _ledger_items(env: dict[str, str]) -> list[dict[str, Any]]:
    db = boto3.client("dynamodb", region_name=REGION)
    items = db.query(
        TableName=env["COLLECTIONS_TABLE"],
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "ACCOUNT#acc-1001"}},
    )["Items"]
    return sorted((i for i in items if i.get("type", {}).get("S") == "LEDGER"), key=lambda i: i["sk"]["S"])


def _alter(env: dict[str, str], item: dict[str, Any]) -> None:
    boto3.client("dynamodb", region_name=REGION).update_item(
        TableName=env["COLLECTIONS_TABLE"],
        Key={"pk": item["pk"], "sk": item["sk"]},
        UpdateExpression="SET #d.#r = :r",
        ExpressionAttributeNames={"#d": "data", "#r": "reason"},
        ExpressionAttributeValues={":r": {"S": "NOTHING_TO_SEE"}},
    )


def _remove(env: dict[str, str], item: dict[str, Any]) -> None:
    boto3.client("dynamodb", region_name=REGION).delete_item(
        TableName=env["COLLECTIONS_TABLE"], Key={"pk": item["pk"], "sk": item["sk"]}
    )


def _move_first(env: dict[str, str], item: dict[str, Any]) -> None:
    """Re-file the entry under an earlier sort key: storage now returns it before its predecessor."""
    _remove(env, item)
    sk = item["sk"]["S"]
    prefix, _, rest = sk.partition("#LEDGER#")
    moved = dict(item) | {"sk": {"S": f"{prefix}#LEDGER#2000-01-01T00:00:00.000000Z#{rest[-6:]}"}}
    boto3.client("dynamodb", region_name=REGION).put_item(TableName=env["COLLECTIONS_TABLE"], Item=moved)


TAMPERING: dict[str, Callable[[dict[str, str], dict[str, Any]], None]] = {
    "altered": _alter,
    "removed": _remove,
    "moved": _move_first,
}


@pytest.mark.parametrize("how", sorted(TAMPERING))
def test_a_tampered_entry_is_named_by_the_verification_and_the_export(env, how: str) -> None:
    history = collections(env).history("acc-1001")
    assert verify_chain(CASE, history.ledger[CASE], expected_head_hash=history.cases[CASE].ledger_head).ok
    target = _ledger_items(env)[2]  # seq 2, in the middle of the chain
    assert int(target["seq"]["N"]) == 2
    TAMPERING[how](env, target)
    history = collections(env).history("acc-1001")
    report = verify_chain(CASE, history.ledger[CASE], expected_head_hash=history.cases[CASE].ledger_head)
    assert not report.ok
    named = {p.seq for p in report.problems}
    # the damaged entry itself, or for a removal the gap where it was (its successor's link)
    assert 2 in named or (how == "removed" and 3 in named), report.problems
    rt = AwsPorts(ListeningSettings())  # type: ignore[call-arg]
    exported = admin.export_evidence(rt, "acc-1001", CASE)
    assert exported["chain_ok"] is False
    assert {p["seq"] for p in exported["problems"]} == named


def test_cutting_off_the_newest_entries_is_caught_by_the_head_hash(env) -> None:
    last = _ledger_items(env)[-1]
    _remove(env, last)
    history = collections(env).history("acc-1001")
    assert verify_chain(CASE, history.ledger[CASE]).ok  # the chain alone cannot see a cut tail
    report = verify_chain(CASE, history.ledger[CASE], expected_head_hash=history.cases[CASE].ledger_head)
    assert not report.ok
