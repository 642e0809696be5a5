"""The sandbox's faster moto answers every Query exactly as plain moto does, write after write."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from sandbox.motocompat import faster_moto

TABLE = "Collections"
LOOKUPS = ["MSG#a", "MSG#b", "PHONE#c", "PHONE#d"]
PARTITIONS = [f"ACCOUNT#{n}" for n in range(4)]


def _create(db: Any) -> None:
    db.create_table(
        TableName=TABLE, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"}
                              for n in ("pk", "sk", "lookup_pk", "lookup_sk")],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[{
            "IndexName": "Lookup",
            "KeySchema": [{"AttributeName": "lookup_pk", "KeyType": "HASH"},
                          {"AttributeName": "lookup_sk", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "ALL"},
        }],
    )


def _key(rng: random.Random) -> dict[str, Any]:
    return {"pk": {"S": rng.choice(PARTITIONS)}, "sk": {"S": f"CASE#{rng.randrange(4)}"}}


def _item(rng: random.Random) -> dict[str, Any]:
    item = _key(rng) | {"n": {"N": str(rng.randrange(100))}}
    if rng.random() < 0.7:  # sparse: some items are not in the index at all
        item |= {"lookup_pk": {"S": rng.choice(LOOKUPS)}, "lookup_sk": item["pk"]}
    return item


def _write(db: Any, rng: random.Random) -> None:
    """One random write of every kind the system makes, some of them failing their condition."""
    kind = rng.choice(["put", "put_if_new", "update", "unindex", "delete", "transact", "batch"])
    try:
        if kind == "put":
            db.put_item(TableName=TABLE, Item=_item(rng))
        elif kind == "put_if_new":
            db.put_item(TableName=TABLE, Item=_item(rng), ConditionExpression="attribute_not_exists(sk)")
        elif kind == "update":
            key = _key(rng)
            db.update_item(TableName=TABLE, Key=key, UpdateExpression="SET lookup_pk = :l, lookup_sk = :s",
                           ExpressionAttributeValues={":l": {"S": rng.choice(LOOKUPS)}, ":s": key["pk"]})
        elif kind == "unindex":
            db.update_item(TableName=TABLE, Key=_key(rng), UpdateExpression="REMOVE lookup_pk")
        elif kind == "delete":
            db.delete_item(TableName=TABLE, Key=_key(rng))
        elif kind == "transact":
            first, second = _item(rng), _key(rng)
            ops: list[dict[str, Any]] = [{"Put": {"TableName": TABLE, "Item": first}}]
            if (first["pk"], first["sk"]) != (second["pk"], second["sk"]):  # one op per item
                ops.append({"Update": {"TableName": TABLE, "Key": second, "UpdateExpression": "SET lookup_pk = :l",
                                       "ConditionExpression": "attribute_exists(sk)",
                                       "ExpressionAttributeValues": {":l": {"S": rng.choice(LOOKUPS)}}}})
            db.transact_write_items(TransactItems=ops)
        else:
            request = {"PutRequest": {"Item": _item(rng)}} if rng.random() < 0.6 else \
                {"DeleteRequest": {"Key": _key(rng)}}
            db.batch_write_item(RequestItems={TABLE: [request]})
    except (db.exceptions.ConditionalCheckFailedException, db.exceptions.TransactionCanceledException):
        pass  # a failed condition changes nothing, in both


def _answers(db: Any) -> list[Any]:
    out = []
    for value in LOOKUPS:
        out.append(db.query(TableName=TABLE, IndexName="Lookup", KeyConditionExpression="lookup_pk = :v",
                            ExpressionAttributeValues={":v": {"S": value}})["Items"])
    for pk in PARTITIONS:
        out.append(db.query(TableName=TABLE, KeyConditionExpression="pk = :p",
                            ExpressionAttributeValues={":p": {"S": pk}})["Items"])
    return out


def _run(seed: int, patched: bool) -> Iterator[list[Any]]:
    rng = random.Random(seed)
    with mock_aws():
        db = boto3.client("dynamodb", region_name="us-east-1")
        _create(db)
        if patched:
            with faster_moto():
                _answers(db)  # the index map is built on the first index Query, then kept up to date
                for _ in range(60):
                    _write(db, rng)
                    yield _answers(db)
        else:
            _answers(db)
            for _ in range(60):
                _write(db, rng)
                yield _answers(db)


@pytest.mark.parametrize("seed", range(6))
def test_index_and_partition_queries_match_plain_moto_after_every_write(seed: int) -> None:
    plain = list(_run(seed, patched=False))
    fast = list(_run(seed, patched=True))
    assert fast == plain
    assert any(any(answer) for answers in plain for answer in answers[: len(LOOKUPS)])  # the index was used
