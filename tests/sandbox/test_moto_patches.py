"""The sandbox's faster moto answers exactly as plain moto does: queries, transactions, executions.

Each test runs the same random (seeded) sequence of calls on plain moto and inside
``sandbox.motocompat.faster_moto()`` and compares everything a caller can see.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
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
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )


def _key(rng: random.Random) -> dict[str, Any]:
    return {"pk": {"S": rng.choice(PARTITIONS)}, "sk": {"S": f"CASE#{rng.randrange(4)}"}}


def _item(rng: random.Random) -> dict[str, Any]:
    item = _key(rng) | {"n": {"N": str(rng.randrange(100))}}
    if rng.random() < 0.7:  # sparse: some items are not in the index at all
        item |= {"lookup_pk": {"S": rng.choice(LOOKUPS)}, "lookup_sk": item["pk"]}
    if rng.random() < 0.2:
        item |= {"blob": {"B": bytes([rng.randrange(256) for _ in range(3)])}}
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
        # Newest first, a page at a time, filtered: what a history read does.
        page = db.query(TableName=TABLE, KeyConditionExpression="pk = :p AND begins_with(sk, :c)",
                        FilterExpression="n > :low", ScanIndexForward=False, Limit=2,
                        ExpressionAttributeValues={":p": {"S": pk}, ":c": {"S": "CASE#"}, ":low": {"N": "20"}})
        out.append((page["Items"], page.get("LastEvaluatedKey"), page["Count"], page["ScannedCount"]))
    return out


def _moto(patched: bool) -> AbstractContextManager[Any]:
    return faster_moto() if patched else nullcontext()


def _run(seed: int, patched: bool) -> Iterator[list[Any]]:
    rng = random.Random(seed)
    with mock_aws():
        db = boto3.client("dynamodb", region_name="us-east-1")
        _create(db)
        with _moto(patched):
            _answers(db)  # the index map is built on the first index Query, then kept up to date
            for _ in range(60):
                _write(db, rng)
                yield _answers(db)


@pytest.mark.parametrize("seed", range(4))
def test_index_and_partition_queries_match_plain_moto_after_every_write(seed: int) -> None:
    plain = list(_run(seed, patched=False))
    fast = list(_run(seed, patched=True))
    assert fast == plain
    assert any(any(answer) for answers in plain for answer in answers[: len(LOOKUPS)])  # the index was used


# ---------------------------------------------------------------------------- transactions


def _transaction(rng: random.Random) -> list[dict[str, Any]]:
    """One to four operations of every kind, on random items (sometimes the same one twice)."""
    ops: list[dict[str, Any]] = []
    for _ in range(rng.randint(1, 4)):
        key = _key(rng)
        kind = rng.choice(["put", "put_if_new", "update", "update_if_version", "delete", "delete_if", "check"])
        old = {"ReturnValuesOnConditionCheckFailure": "ALL_OLD"} if rng.random() < 0.5 else {}
        if kind == "put":
            ops.append({"Put": {"TableName": TABLE, "Item": _item(rng) | key}})
        elif kind == "put_if_new":
            ops.append({"Put": {"TableName": TABLE, "Item": _item(rng) | key,
                                "ConditionExpression": "attribute_not_exists(sk)", **old}})
        elif kind == "update":
            ops.append({"Update": {"TableName": TABLE, "Key": key, "UpdateExpression": "SET lookup_pk = :l, n = :n",
                                   "ExpressionAttributeValues": {":l": {"S": rng.choice(LOOKUPS)},
                                                                 ":n": {"N": str(rng.randrange(100))}}}})
        elif kind == "update_if_version":  # optimistic concurrency, as the repositories write
            ops.append({"Update": {"TableName": TABLE, "Key": key, "UpdateExpression": "SET n = n + :one",
                                   "ConditionExpression": "#n = :seen", "ExpressionAttributeNames": {"#n": "n"},
                                   "ExpressionAttributeValues": {":one": {"N": "1"},
                                                                 ":seen": {"N": str(rng.randrange(100))}}, **old}})
        elif kind == "delete":
            ops.append({"Delete": {"TableName": TABLE, "Key": key}})
        elif kind == "delete_if":
            ops.append({"Delete": {"TableName": TABLE, "Key": key, "ConditionExpression": "n < :cap",
                                   "ExpressionAttributeValues": {":cap": {"N": "50"}}, **old}})
        else:
            ops.append({"ConditionCheck": {"TableName": TABLE, "Key": key,
                                           "ConditionExpression": "attribute_exists(sk)", **old}})
    return ops


def _outcome(call: Callable[[], Any]) -> Any:
    try:
        response = call()
    except ClientError as exc:
        return ("error", exc.response["Error"], exc.response.get("CancellationReasons"))
    response.pop("ResponseMetadata", None)
    return ("ok", response)


def _table_state(db: Any) -> list[Any]:
    items = db.scan(TableName=TABLE)["Items"]
    return sorted(items, key=lambda i: (i["pk"]["S"], i["sk"]["S"]))


def _stream(db: Any) -> list[Any]:
    streams = boto3.client("dynamodbstreams", region_name="us-east-1")
    arn = db.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = streams.get_records(ShardIterator=iterator["ShardIterator"], Limit=1000)["Records"]
    return [(r["eventName"], r["dynamodb"].get("Keys"), r["dynamodb"].get("OldImage"), r["dynamodb"].get("NewImage"))
            for r in records]


def _transactions(seed: int, patched: bool) -> tuple[list[Any], list[Any]]:
    rng = random.Random(seed)
    seen: list[Any] = []
    with mock_aws():
        db = boto3.client("dynamodb", region_name="us-east-1")
        _create(db)
        with _moto(patched):
            for _ in range(30):
                ops = _transaction(rng)
                seen.append(_outcome(lambda ops=ops: db.transact_write_items(TransactItems=ops)))
                keys = [_key(rng) for _ in range(3)]
                gets = [{"Get": {"TableName": TABLE, "Key": k} | (
                    {"ProjectionExpression": "sk, n, blob"} if i == 0 else {})} for i, k in enumerate(keys)]
                seen.append(_outcome(lambda gets=gets: db.transact_get_items(TransactItems=gets)))
                seen.append(_table_state(db))
                seen.append(_answers(db))
            stream = _stream(db)
    return seen, stream


@pytest.mark.parametrize("seed", range(3))
def test_transactions_match_plain_moto_outcome_state_and_stream(seed: int) -> None:
    plain, plain_stream = _transactions(seed, patched=False)
    fast, fast_stream = _transactions(seed, patched=True)

    assert fast == plain
    assert fast_stream == plain_stream  # a cancelled transaction leaves no stream record, in both
    outcomes = plain[::4]  # each transaction's own outcome
    assert any(o[0] == "ok" for o in outcomes)
    assert any(o[0] == "error" and o[1]["Code"] == "TransactionCanceledException" for o in outcomes)
    assert any(o[0] == "error" and o[1]["Code"] == "ValidationException" for o in outcomes)  # an item twice


def test_a_cancelled_transaction_says_which_condition_failed_with_the_old_item() -> None:
    for patched in (False, True):
        with mock_aws():
            db = boto3.client("dynamodb", region_name="us-east-1")
            _create(db)
            with _moto(patched):
                db.put_item(TableName=TABLE, Item={"pk": {"S": "ACCOUNT#1"}, "sk": {"S": "CASE#1"}, "n": {"N": "3"}})
                with pytest.raises(ClientError) as raised:
                    db.transact_write_items(TransactItems=[
                        {"Put": {"TableName": TABLE, "Item": {"pk": {"S": "ACCOUNT#1"}, "sk": {"S": "CASE#2"}}}},
                        {"Update": {"TableName": TABLE, "Key": {"pk": {"S": "ACCOUNT#1"}, "sk": {"S": "CASE#1"}},
                                    "UpdateExpression": "SET n = :n", "ConditionExpression": "n = :seen",
                                    "ExpressionAttributeValues": {":n": {"N": "4"}, ":seen": {"N": "2"}},
                                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
                    ])
                reasons = raised.value.response["CancellationReasons"]
                assert [r["Code"] for r in reasons] == ["None", "ConditionalCheckFailed"]
                assert reasons[1]["Item"]["n"] == {"N": "3"}
                assert len(_table_state(db)) == 1  # the Put of the same transaction did not happen


# ---------------------------------------------------------------------------- Step Functions

MACHINE = {
    "StartAt": "Read",
    "States": {
        "Read": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:getItem",
                 "Parameters": {"TableName": "Cases", "Key": {"pk": {"S.$": "$.case_id"}}},
                 "ResultSelector": {"status.$": "$.Item.status.S",
                                    "amount.$": "States.StringToJson($.Item.amount.N)"},
                 "ResultPath": "$.case", "Next": "Route"},
        "Route": {"Type": "Choice", "Default": "Closed",
                  "Choices": [{"Variable": "$.case.status", "StringEquals": "OPEN", "Next": "Steps"}]},
        "Steps": {"Type": "Map", "ItemsPath": "$.steps", "MaxConcurrency": 1,
                  "ItemSelector": {"step.$": "$$.Map.Item.Value", "index.$": "$$.Map.Item.Index",
                                   "amount.$": "$.case.amount"},
                  "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Shape", "States": {
                      "Shape": {"Type": "Pass", "End": True, "Parameters": {
                          "label.$": "States.Format('{}-{}', $.step, $.index)", "amount.$": "$.amount"}}}},
                  "ResultPath": "$.planned", "Next": "Both"},
        "Both": {"Type": "Parallel", "ResultPath": "$.summary", "End": True, "Branches": [
            {"StartAt": "Count", "States": {
                "Count": {"Type": "Pass", "Parameters": {"n.$": "States.ArrayLength($.planned)"}, "End": True}}},
            {"StartAt": "First", "States": {"First": {"Type": "Pass", "InputPath": "$.planned[0]", "End": True}}},
        ]},
        "Closed": {"Type": "Fail", "Error": "CaseClosed", "Cause": "the case is not open"},
    },
}
INPUTS = [("c1", ["email", "sms"]), ("c2", []), ("c1", ["call"]), ("c3", ["sms"])]


def _event(event: dict[str, Any]) -> tuple[str, str]:
    details = {k: v for k, v in event.items() if k.endswith("EventDetails")}
    return event["type"], json.dumps(details, sort_keys=True, default=str)


def _executions(patched: bool) -> list[Any]:
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}), _moto(patched):
        db = boto3.client("dynamodb", region_name="us-east-1")
        db.create_table(TableName="Cases", BillingMode="PAY_PER_REQUEST",
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
        for pk, status, amount in (("c1", "OPEN", "12.5"), ("c2", "CLOSED", "3"), ("c3", "OPEN", "7")):
            db.put_item(TableName="Cases", Item={"pk": {"S": pk}, "status": {"S": status}, "amount": {"N": amount}})
        role = boto3.client("iam", region_name="us-east-1").create_role(
            RoleName="machine", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        machine = sfn.create_state_machine(name="m", definition=json.dumps(MACHINE), roleArn=role)["stateMachineArn"]
        # Started together: the executions evaluate the one cached parse tree at the same time.
        arns = [sfn.start_execution(stateMachineArn=machine, name=f"case-{n}",
                                    input=json.dumps({"case_id": case, "steps": steps}))["executionArn"]
                for n, (case, steps) in enumerate(INPUTS)]
        out = []
        for arn in arns:
            while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
                time.sleep(0.01)
            history = sfn.get_execution_history(executionArn=arn)["events"]
            # Parallel branches interleave differently from run to run, patched or not.
            out.append((described["status"], described.get("output"), described.get("error"),
                        sorted(_event(e) for e in history)))
    return out


def test_state_machine_executions_match_plain_moto() -> None:
    plain = _executions(patched=False)
    fast = _executions(patched=True)

    assert fast == plain
    assert [status for status, *_ in plain] == ["SUCCEEDED", "FAILED", "SUCCEEDED", "SUCCEEDED"]
    assert json.loads(plain[2][1])["planned"] == [{"label": "call-0", "amount": 12.5}]


def test_a_definition_is_parsed_once_and_every_execution_gets_fresh_components() -> None:
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    definition = json.dumps(MACHINE)
    with faster_moto():
        first, tree = AmazonStateLanguageParser.parse(definition)
        second, same_tree = AmazonStateLanguageParser.parse(definition)
    again, fresh_tree = AmazonStateLanguageParser.parse(definition)

    assert same_tree is tree  # parsed once
    assert second is not first
    assert all(second.states.states[name] is not first.states.states[name] for name in MACHINE["States"])
    assert fresh_tree is not tree  # plain moto again once the context is left
