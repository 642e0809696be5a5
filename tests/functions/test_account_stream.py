"""AccountStream: delinquency opens one case and one escalation; a cure resolves and stops it."""

from __future__ import annotations

import json
from typing import Any

import boto3

from dunning.adapters.dynamo import CollectionsRepository
from dunning.domain.models import CaseStatus, EntryKind
from tests.support.aws import REGION, FakeContext, load_event


def _history(env: dict[str, str]) -> Any:
    db = boto3.client("dynamodb", region_name=REGION)
    return CollectionsRepository(db, env["COLLECTIONS_TABLE"]).history("acc-1001")


def test_delinquency_opens_one_case_and_one_execution_even_when_replayed(aws, clock, stream) -> None:
    event = load_event("account_stream/delinquent")
    assert stream.lambda_handler(event, FakeContext()) == {"batchItemFailures": []}
    assert stream.lambda_handler(event, FakeContext()) == {"batchItemFailures": []}  # a replayed record
    cases = _history(aws).cases
    assert list(cases) == ["acc-1001-20261102"]
    assert [e.kind for e in _history(aws).ledger["acc-1001-20261102"]] == [EntryKind.CASE_OPENED]
    sfn = boto3.client("stepfunctions", region_name=REGION)
    executions = sfn.list_executions(stateMachineArn=stream.ports().settings.state_machine_arn)["executions"]
    assert [e["name"] for e in executions] == ["acc-1001-20261102"]


def test_cure_resolves_the_case_and_stops_the_escalation(aws, clock, stream) -> None:
    stream.lambda_handler(load_event("account_stream/delinquent"), FakeContext())
    stream.lambda_handler(load_event("account_stream/cured"), FakeContext())
    case = _history(aws).cases["acc-1001-20261102"].case
    assert case.status is CaseStatus.RESOLVED
    sfn = boto3.client("stepfunctions", region_name=REGION)
    execution = sfn.list_executions(stateMachineArn=stream.ports().settings.state_machine_arn)["executions"][0]
    assert execution["status"] == "ABORTED"


def test_a_bad_record_fails_alone_and_the_rest_of_the_batch_lands(aws, clock, stream) -> None:
    good = load_event("account_stream/delinquent")["Records"][0]
    bad = json.loads(json.dumps(good))
    bad["eventID"] = "broken"
    bad["dynamodb"]["SequenceNumber"] = "000000000000000000999"
    bad["dynamodb"]["NewImage"]["time_zones"] = {"L": [{"S": "Not/AZone"}]}
    out = stream.lambda_handler({"Records": [bad, good]}, FakeContext())
    assert out == {"batchItemFailures": [{"itemIdentifier": "000000000000000000999"}]}
    assert list(_history(aws).cases) == ["acc-1001-20261102"]


def _removed(event: dict[str, Any]) -> dict[str, Any]:
    """The REMOVE record DynamoDB streams for a deleted row: an OldImage and no NewImage."""
    record = json.loads(json.dumps(event["Records"][0]))
    record["eventName"], record["eventID"] = "REMOVE", "e-removed"
    record["dynamodb"]["OldImage"] = record["dynamodb"].pop("NewImage")
    record["dynamodb"]["SequenceNumber"] = "000000000000000000777"
    return {"Records": [record]}


def test_a_removed_account_closes_its_case_and_is_not_retried(aws, clock, stream) -> None:
    delinquent = load_event("account_stream/delinquent")
    stream.lambda_handler(delinquent, FakeContext())
    # Powertools hands a REMOVE record's missing NewImage over as {}: it must not fail the batch.
    assert stream.lambda_handler(_removed(delinquent), FakeContext()) == {"batchItemFailures": []}
    record = _history(aws).cases["acc-1001-20261102"]
    assert record.case.status is CaseStatus.CLOSED and record.case.resolution == "ACCOUNT_REMOVED"
    assert _history(aws).ledger["acc-1001-20261102"][-1].kind is EntryKind.CASE_CLOSED
    sfn = boto3.client("stepfunctions", region_name=REGION)
    execution = sfn.list_executions(stateMachineArn=stream.ports().settings.state_machine_arn)["executions"][0]
    assert execution["status"] == "ABORTED"
    # A second REMOVE (a replay, or an account that never had a case) changes nothing.
    assert stream.lambda_handler(_removed(delinquent), FakeContext()) == {"batchItemFailures": []}
    assert len(_history(aws).ledger["acc-1001-20261102"]) == 2


def test_a_new_number_in_the_lenders_file_wakes_the_waiting_escalation(aws, clock, stream, tasks) -> None:
    """A MODIFY of a delinquent row whose phone changed: the case's wait ends now (the stream's own
    record shape, images in DynamoDB JSON); the day's interest alone would not."""
    stream.lambda_handler(load_event("account_stream/delinquent"), FakeContext())
    db = boto3.client("dynamodb", region_name=REGION)
    repo = CollectionsRepository(db, aws["COLLECTIONS_TABLE"])
    record = repo.case("acc-1001", "acc-1001-20261102")
    record.case.wake_token = "wait-token"
    repo.commit(record, [], at=record.case.opened_at, actor="PlanNextAction")
    interest = load_event("account_stream/new_phone")
    image = interest["Records"][0]["dynamodb"]
    image["NewImage"] = json.loads(json.dumps(image["OldImage"])) | {"interest_due": {"S": "12.61"}}
    assert stream.lambda_handler(interest, FakeContext()) == {"batchItemFailures": []}
    assert tasks.calls == []
    assert stream.lambda_handler(load_event("account_stream/new_phone"), FakeContext()) == {"batchItemFailures": []}
    assert tasks.calls == [("wait-token", {"woken": "CASE_CHANGED"})]
