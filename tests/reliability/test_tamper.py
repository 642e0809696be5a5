"""Tamper evidence of the stored ledger: an entry altered, removed or moved in DynamoDB (by someone
with table access, outside the application) is named by the chain verification, and the evidence
export carries that verdict."""

from __future__ import annotations

import json
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
    assert named <= {p["seq"] for p in exported["problems"]}


def test_cutting_off_the_newest_entries_is_caught_by_the_head_hash(env) -> None:
    last = _ledger_items(env)[-1]
    _remove(env, last)
    history = collections(env).history("acc-1001")
    assert verify_chain(CASE, history.ledger[CASE]).ok  # the chain alone cannot see a cut tail
    report = verify_chain(CASE, history.ledger[CASE], expected_head_hash=history.cases[CASE].ledger_head)
    assert not report.ok


# --------------------------------------------------------------------------- someone who can rewrite the table


def _ports() -> AwsPorts[ListeningSettings]:
    return AwsPorts(ListeningSettings())  # type: ignore[call-arg]


def _anchor(clock: Any, minutes: int = 10) -> dict[str, Any]:
    """The hourly run, `minutes` after the newest entry (past the verifier's grace)."""
    from dunning.services import integrity

    clock.shift(minutes * 60)
    return integrity.anchor_run(_ports())


def _verify() -> Any:
    from dunning.services import integrity

    return integrity.verify_case(_ports(), "acc-1001", CASE)


def _header(env: dict[str, str]) -> dict[str, Any]:
    return boto3.client("dynamodb", region_name=REGION).get_item(
        TableName=env["COLLECTIONS_TABLE"], Key={"pk": {"S": "ACCOUNT#acc-1001"}, "sk": {"S": f"CASE#{CASE}"}})["Item"]


def _put(env: dict[str, str], item: dict[str, Any]) -> None:
    boto3.client("dynamodb", region_name=REGION).put_item(TableName=env["COLLECTIONS_TABLE"], Item=item)


@pytest.fixture
def sealed(aws: dict[str, str], monkeypatch: pytest.MonkeyPatch, clock: Any) -> dict[str, str]:
    """The same case written through the functions' own ports: every commit sealed, then anchored."""
    out = listening_env(aws, monkeypatch)
    seed_case(out)
    repo = _ports().collections
    for n in range(4):
        clock.shift(60)
        record = repo.case("acc-1001", CASE)
        repo.commit(record, [(EntryKind.HOLD, {"status": "PAUSED", "reason": f"R{n}"})], at=utc_now(), actor="test")
    assert _anchor(clock)["cases"] == 1
    assert _verify().ok
    return out


def test_deleting_the_newest_entry_and_moving_the_head_back_is_named(sealed, clock) -> None:
    items = _ledger_items(sealed)
    newest, previous = items[-1], items[-2]
    _remove(sealed, newest)
    header = _header(sealed) | {"ledger_seq": previous["seq"], "ledger_head": previous["hash"],
                                "ledger_at": previous["at"]}
    _put(sealed, header)
    report = _verify()
    assert not report.ok and {p.problem for p in report.problems} >= {"HEADER_SEAL", "ANCHOR_AHEAD"}
    assert report.first is not None and report.first.seq == 3  # the newest entry left: its seal is not the header's
    # Done carefully (the older seal copied to the header too), the table is consistent again;
    # the anchor still records seq 4.
    _put(sealed, header | {"ledger_seal": previous["seal"]})
    report = _verify()
    assert [p.problem for p in report.problems] == ["ANCHOR_AHEAD"]
    assert report.first is not None and report.first.seq == 4 and "removed" in report.first.detail


def test_rewriting_an_entry_and_recomputing_every_later_hash_is_named_at_the_rewritten_entry(sealed) -> None:
    from boto3.dynamodb.types import TypeSerializer

    from dunning.adapters.dynamo import from_item
    from dunning.domain.ledger import entry_hash
    from dunning.domain.models import LedgerEntry

    items = _ledger_items(sealed)
    prev_hash = items[1]["hash"]["S"]
    rewritten: list[dict[str, Any]] = []
    for item in items[2:]:  # seq 2 rewritten, 3 and 4 re-chained onto it
        doc = from_item(item)
        entry = LedgerEntry.model_validate({k: v for k, v in doc.items() if k not in ("pk", "sk", "type")})
        data = entry.data | ({"reason": "NOTHING_TO_SEE"} if entry.seq == 2 else {})
        new_hash = entry_hash(entry.case_id, entry.seq, entry.at, entry.kind, entry.actor, data, prev_hash,
                              entry.state)
        new = dict(item) | {"data": TypeSerializer().serialize(data), "prev_hash": {"S": prev_hash},
                            "hash": {"S": new_hash}}
        rewritten.append(new)
        prev_hash = new_hash
    for item in rewritten:
        _put(sealed, item)
    _put(sealed, _header(sealed) | {"ledger_head": {"S": prev_hash}})
    report = _verify()
    assert report.chain.ok  # the hash chain alone is consistent again
    assert not report.ok and report.first is not None
    assert (report.first.seq, report.first.problem) == (2, "SEAL_MISMATCH")
    assert "ANCHOR_MISMATCH" in {p.problem for p in report.problems}
    assert report.sealed_through == 1


@pytest.mark.parametrize(("field", "value", "named"), [
    ("status", {"S": "RESOLVED"}, "status"),
    ("legal_approved_by", {"S": "arn:aws:iam::123456789012:user/mallory"}, "legal_approved_by"),
])
def test_changing_only_the_header_is_named(sealed, field: str, value: dict[str, str], named: str) -> None:
    _put(sealed, _header(sealed) | {field: value})
    report = _verify()
    assert not report.ok
    state = next(p for p in report.problems if p.problem == "HEADER_STATE")
    assert named in state.detail
    assert any(p.problem == "NOT_RECORDED" for p in report.problems)  # and no entry records it


def test_a_deleted_anchor_is_named(sealed, clock) -> None:
    from dunning.services import integrity

    first = integrity.latest_run_key(_ports().archive, utc_now())
    assert first is not None
    _anchor(clock, 60)  # the next hourly run, chained to the first
    boto3.client("s3", region_name=REGION).delete_object(Bucket=sealed["ARCHIVE_BUCKET"], Key=first)
    report = _verify()
    missing = [p for p in report.problems if p.problem == "ANCHOR_MISSING"]
    assert missing and first in missing[0].detail


def test_deleting_the_only_anchor_shows_once_anchors_are_overdue(sealed, clock) -> None:
    from dunning.services import integrity

    only = integrity.latest_run_key(_ports().archive, utc_now())
    boto3.client("s3", region_name=REGION).delete_object(Bucket=sealed["ARCHIVE_BUCKET"], Key=only)
    clock.shift(3 * 3600)  # hourly runs would have anchored the case by now
    assert "ANCHORS_MISSING" in {p.problem for p in _verify().problems}


def test_an_anchor_edited_in_the_archive_fails_its_mac(sealed, clock) -> None:
    from dunning.services import integrity

    key = integrity.latest_run_key(_ports().archive, utc_now())
    s3 = boto3.client("s3", region_name=REGION)
    body = json.loads(s3.get_object(Bucket=sealed["ARCHIVE_BUCKET"], Key=key)["Body"].read())
    body["anchor"]["cases"][CASE]["seq"] = 3
    s3.put_object(Bucket=sealed["ARCHIVE_BUCKET"], Key=key, Body=json.dumps(body).encode())
    assert "ANCHOR_MAC" in {p.problem for p in _verify().problems}


def test_verify_case_names_the_first_disagreement_and_raises_the_metric(sealed, capsys) -> None:
    from tests.support.aws import FakeContext, fresh_function

    _put(sealed, _header(sealed) | {"status": {"S": "RESOLVED"}})
    admin = fresh_function("admin")
    capsys.readouterr()
    out = admin.lambda_handler({"actor": "ops@example.com", "command": {
        "type": "verify_case", "account_id": "acc-1001", "case_id": CASE}}, FakeContext())
    assert out["verified"] is False and out["first"]["problem"] in ("HEADER_STATE", "NOT_RECORDED")
    assert out["summary"].startswith(f"case {CASE}: ")
    assert '"LedgerChainBroken"' in capsys.readouterr().out
