"""sandbox.motocompat: a moto other than the pinned one stops the sandbox; patches are put back; the
stand-in providers and the call counter hear what moto's SES, SNS and botocore were given."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from sandbox.motocompat import (
    Accepted,
    dynamodb_queries,
    end_user_messaging,
    faster_moto,
    items_sized_once,
    reporting_calls,
    reporting_sends,
    sms_voice_backend,
    stream_records_numbered_in_order,
    transactions_without_table_copies,
)
from sandbox.motocompat.patching import MotoShapeError, replaced, require_parameters
from sandbox.motocompat.versions import BOTOCORE_SERIES, PINNED_MOTO, MotoVersionError, check_versions

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"


def _pin(name: str) -> str:
    found = re.search(rf'"{re.escape(name)}(\[[^\]]*\])?==([^"]+)"', (ROOT / "pyproject.toml").read_text("utf-8"))
    assert found, f"{name} is not pinned in pyproject.toml"
    return found.group(2)


def test_the_guard_knows_the_versions_pyproject_pins() -> None:
    assert _pin("moto") == PINNED_MOTO
    assert _pin("boto3").startswith(BOTOCORE_SERIES + ".")  # boto3 x.y.* requires botocore x.y.*
    check_versions()  # the installed ones pass


@pytest.mark.parametrize(("moto_version", "botocore_version", "named"), [
    ("5.2.6", "1.44.8", "moto 5.2.6 is installed"),
    ("5.3.0", "1.44.8", "moto 5.3.0 is installed"),
    ("5.2.5", "1.45.0", "botocore 1.45.0 is installed"),
])
def test_another_moto_or_botocore_is_refused_with_what_to_do(moto_version: str, botocore_version: str,
                                                             named: str) -> None:
    with pytest.raises(MotoVersionError) as raised:
        check_versions(moto_version, botocore_version)
    assert named in str(raised.value)
    assert "sandbox/motocompat/README.md" in str(raised.value)
    assert "pip install" in str(raised.value)


def test_importing_the_sandbox_with_another_moto_fails_at_import() -> None:
    probe = (
        "import importlib.metadata as m\n"
        "real = m.version\n"
        "m.version = lambda name: '5.3.0' if name == 'moto' else real(name)\n"
        "import sandbox.aws\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "MotoVersionError: moto 5.3.0 is installed, sandbox.motocompat is written for moto 5.2.5" in done.stderr


def test_a_parameter_or_attribute_a_patch_relies_on_missing_fails_loudly() -> None:
    def query(self: object, hash_key: object) -> None: ...

    with pytest.raises(MotoShapeError, match="index_name"):
        require_parameters(query, "hash_key", "index_name")
    with pytest.raises(MotoShapeError, match="_invoke_lambda"), \
            replaced(type("LambdaFunction", (), {}), "_invoke_lambda", None):
        pass


def test_leaving_faster_moto_puts_back_what_moto_had() -> None:
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import Item
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.responses import DynamoResult
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    before = (Table.__dict__["query"], Table.__dict__["all_items"], DynamoDBBackend.__dict__["put_item"],
              DynamoDBBackend.__dict__["transact_write_items"], Item.__dict__["__init__"],
              AmazonStateLanguageParser.__dict__["parse"])
    with faster_moto():
        assert Table.__dict__["query"] is not before[0]
        assert Item.__dict__["__init__"] is not before[4]
        assert "execute_result" in DynamoResult.__dict__
    after = (Table.__dict__["query"], Table.__dict__["all_items"], DynamoDBBackend.__dict__["put_item"],
             DynamoDBBackend.__dict__["transact_write_items"], Item.__dict__["__init__"],
             AmazonStateLanguageParser.__dict__["parse"])
    assert after == before
    assert isinstance(after[-1], staticmethod)
    assert "execute_result" not in DynamoResult.__dict__  # inherited again, not copied down


def test_leaving_faster_moto_gives_executions_moto_s_threads_again() -> None:
    from moto.stepfunctions.parser.asl.component.program.program import Program
    from moto.stepfunctions.parser.asl.component.state.exec import execute_state
    from moto.stepfunctions.parser.backend import execution_worker

    before = (Program.__dict__["eval"], execute_state.ExecutionState.__dict__["_evaluate_with_timeout"],
              execute_state.Thread, execution_worker.TMP_THREADS)
    with faster_moto():
        assert execute_state.Thread is not before[2]
        assert execution_worker.TMP_THREADS is not before[3]
    assert (Program.__dict__["eval"], execute_state.ExecutionState.__dict__["_evaluate_with_timeout"],
            execute_state.Thread, execution_worker.TMP_THREADS) == before


def test_response_dispatch_knows_the_same_actions_as_plain_moto() -> None:
    from moto.core import responses
    from moto.dynamodb.responses import DynamoHandler
    from moto.sqs.responses import SQSResponse

    plain = responses.method_names_from_class
    expected = {cls: plain(cls) for cls in (DynamoHandler, SQSResponse)}
    with faster_moto():
        cached = responses.method_names_from_class
        assert cached is not plain
        for cls, names in expected.items():
            assert cached(cls) == names and "query" in cached(DynamoHandler)
            assert cached(cls) is cached(cls)  # asked once per class
        with mock_aws():  # a request through moto's dispatch still finds its action
            sqs = boto3.client("sqs", region_name=REGION)
            assert sqs.create_queue(QueueName="q")["QueueUrl"].endswith("/q")
    assert responses.method_names_from_class is plain


def _items_as_moto_keeps_them(patched: bool) -> list[Any]:
    """Puts of items around moto's size bound (one over it by a byte, one just under, nested maps,
    sets and lists, binaries and numbers): what each answered, and every item then stored."""
    from moto.dynamodb.models import dynamo_type
    from moto.dynamodb.models.utilities import bytesize

    outcomes: list[Any] = []
    with mock_aws(), (items_sized_once() if patched else contextlib.nullcontext()):
        db = boto3.client("dynamodb", region_name=REGION)
        db.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
        assert (dynamo_type.Item.__init__.__module__ == "sandbox.motocompat.dynamodb_items") is patched
        base = {"pk": {"S": "k"}, "n": {"N": "12.50"}, "b": {"B": b"\x00\x01"}, "ss": {"SS": ["a", "bb"]},
                "m": {"M": {"l": {"L": [{"S": "é"}, {"BOOL": True}, {"NULL": True}]}}}}
        # as moto sizes an item, with a key one byte longer ("k0") and the 3 bytes of the name "big"
        room = 405_000 - sum(bytesize(k) + dynamo_type.DynamoType(v).size() for k, v in base.items()) - 1 - 3
        for n, pad in enumerate((room + 1, room, 100)):
            item = base | {"pk": {"S": f"k{n}"}, "big": {"S": "x" * pad}}
            try:
                db.put_item(TableName="t", Item=item)
                outcomes.append("kept")
            except ClientError as exc:
                outcomes.append(exc.response["Error"])
        items = sorted(db.scan(TableName="t")["Items"], key=lambda i: i["pk"]["S"])
        outcomes.append([{k: (len(v["S"]) if k == "big" else v) for k, v in i.items()} for i in items])
    return outcomes


def test_items_are_kept_and_refused_by_size_as_plain_moto_does() -> None:
    plain, patched = _items_as_moto_keeps_them(False), _items_as_moto_keeps_them(True)
    assert patched == plain
    assert plain[0]["Code"] == "ValidationException" and plain[1:3] == ["kept", "kept"]  # one byte decides


def test_a_partition_query_shows_its_partition_to_its_own_thread_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Another thread scanning the same table meanwhile sees every item (nothing shared is swapped)."""
    seen: dict[str, int] = {}
    moto_query = dynamodb_queries._table_query

    with mock_aws(), faster_moto():
        db = boto3.client("dynamodb", region_name=REGION)
        db.create_table(TableName="Cases", BillingMode="PAY_PER_REQUEST",
                        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk")],
                        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                   {"AttributeName": "sk", "KeyType": "RANGE"}])
        for pk, count in (("ACCOUNT#1", 3), ("ACCOUNT#2", 2)):
            for n in range(count):
                db.put_item(TableName="Cases", Item={"pk": {"S": pk}, "sk": {"S": f"CASE#{n}"}})

        def query_while_another_thread_scans(table: Any, *args: Any, **kwargs: Any) -> Any:
            def scan() -> None:
                seen["other thread"] = len(boto3.client("dynamodb", region_name=REGION).scan(
                    TableName="Cases")["Items"])

            other = threading.Thread(target=scan)
            other.start()
            other.join()
            seen["querying thread"] = len(table.all_items())
            return moto_query(table, *args, **kwargs)

        monkeypatch.setattr(dynamodb_queries, "_table_query", query_while_another_thread_scans)
        items = db.query(TableName="Cases", KeyConditionExpression="pk = :p",
                         ExpressionAttributeValues={":p": {"S": "ACCOUNT#1"}})["Items"]

    assert len(items) == 3
    assert seen == {"other thread": 5, "querying thread": 3}


def test_two_threads_writing_one_table_get_distinct_stream_numbers_and_a_reader_sees_each_record_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """ImportAccounts writes rows in parallel. In plain moto two writers can number their stream
    records alike, and a reader is then served the same records for ever. Here the first writer is
    held between numbering its record and appending it, as a thread switch would hold it."""
    from moto.dynamodb.models import table as moto_table

    held = threading.Barrier(2)
    original_record = moto_table.StreamRecord

    def record_after_a_thread_switch(*args: Any) -> Any:
        with contextlib.suppress(threading.BrokenBarrierError):
            held.wait(timeout=0.5)  # plain moto: the other writer numbers its record meanwhile
        return original_record(*args)

    with mock_aws(), stream_records_numbered_in_order():
        db = boto3.client("dynamodb", region_name=REGION)
        db.create_table(TableName="Accounts", BillingMode="PAY_PER_REQUEST",
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
        monkeypatch.setattr(moto_table, "StreamRecord", record_after_a_thread_switch)
        writers = [threading.Thread(target=db.put_item, kwargs={"TableName": "Accounts", "Item": {"pk": {"S": pk}}})
                   for pk in ("A-1", "A-2")]
        for writer in writers:
            writer.start()
        for writer in writers:
            writer.join()
        monkeypatch.setattr(moto_table, "StreamRecord", original_record)
        db.put_item(TableName="Accounts", Item={"pk": {"S": "A-3"}})

        streams = boto3.client("dynamodbstreams", region_name=REGION)
        arn = db.describe_table(TableName="Accounts")["Table"]["LatestStreamArn"]
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard,
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        read: list[str] = []
        for _ in range(5):  # a page at a time, as a poller reads
            page = streams.get_records(ShardIterator=iterator, Limit=1)
            iterator = page["NextShardIterator"]
            read += [r["dynamodb"]["Keys"]["pk"]["S"] for r in page["Records"]]

    assert sorted(read) == ["A-1", "A-2", "A-3"]


def test_the_providers_report_each_email_recipient_and_each_sms_but_not_a_topic_publish() -> None:
    accepted: list[Accepted] = []
    with mock_aws(), reporting_sends(accepted.append):
        ses = boto3.client("sesv2", region_name=REGION)
        ses.create_email_identity(EmailIdentity="dunning.example")
        ses.send_email(FromEmailAddress="collections@dunning.example",
                       Destination={"ToAddresses": ["dana@example.com"]},
                       Content={"Simple": {"Subject": {"Data": "Your payment"}, "Body": {"Text": {"Data": "Hello"}}}})
        sns = boto3.client("sns", region_name=REGION)
        sns.publish(PhoneNumber="+12025550143", Message="Your payment is due")
        topic = sns.create_topic(Name="events")["TopicArn"]
        sns.publish(TopicArn=topic, Message="not a message to a customer")

    assert [(a.provider, a.channel, a.destination, a.subject, a.body) for a in accepted] == [
        ("ses", "EMAIL", "dana@example.com", "Your payment", "Hello"),
        ("sns", "SMS", "+12025550143", None, "Your payment is due"),
    ]
    assert all(a.message_id for a in accepted)


def test_every_api_call_is_reported_with_its_service_and_operation() -> None:
    calls: list[tuple[str, str]] = []
    with mock_aws(), reporting_calls(lambda service, operation: calls.append((service, operation))):
        boto3.client("sqs", region_name=REGION).list_queues()
        boto3.client("dynamodb", region_name=REGION).list_tables()
    assert calls == [("sqs", "ListQueues"), ("dynamodb", "ListTables")]


def _sms_voice_with_topic() -> tuple[Any, str]:
    sms = boto3.client("pinpoint-sms-voice-v2", region_name=REGION)
    topic = boto3.client("sns", region_name=REGION).create_topic(Name="sms-events")["TopicArn"]
    sms.create_configuration_set(ConfigurationSetName="dunning-dev")
    sms.create_event_destination(ConfigurationSetName="dunning-dev", EventDestinationName="sms-events",
                                 MatchingEventTypes=["TEXT_ALL"], SnsDestination={"TopicArn": topic})
    return sms, topic


def test_the_end_user_messaging_stand_in_sends_through_a_configuration_set_and_reports_its_receipt() -> None:
    """SendTextMessage as the service answers it; the provider tap hears it; the delivery event the
    configuration set's topic gets carries the same message id and the sender's context."""
    accepted: list[Accepted] = []
    with mock_aws(), end_user_messaging(), reporting_sends(accepted.append):
        sms, topic = _sms_voice_with_topic()
        message_id = sms.send_text_message(DestinationPhoneNumber="+12025550143", MessageBody="Your payment is due",
                                           MessageType="TRANSACTIONAL", ConfigurationSetName="dunning-dev",
                                           Context={"case_id": "c-1"})["MessageId"]
        sets = sms.describe_configuration_sets()["ConfigurationSets"]
        event = sms_voice_backend(REGION).delivery_event(message_id, datetime(2026, 11, 3, 15, tzinfo=UTC))

    assert [(a.provider, a.message_id, a.channel, a.destination, a.body) for a in accepted] == [
        ("sms-voice", message_id, "SMS", "+12025550143", "Your payment is due")]
    assert sets[0]["EventDestinations"][0]["SnsDestination"] == {"TopicArn": topic}
    assert event is not None and event[0] == topic
    body = json.loads(event[1])
    assert (body["eventType"], body["messageStatus"], body["messageId"], body["context"]) == (
        "TEXT_DELIVERED", "DELIVERED", message_id, {"case_id": "c-1"})


def test_the_stand_in_refuses_what_the_service_refuses_and_leaves_other_services_to_moto() -> None:
    with mock_aws(), end_user_messaging():
        sms, _ = _sms_voice_with_topic()
        with pytest.raises(ClientError) as missing:
            sms.send_text_message(DestinationPhoneNumber="+12025550143", MessageBody="x",
                                  ConfigurationSetName="no-such-set")
        with pytest.raises(ClientError) as malformed:
            sms.send_text_message(DestinationPhoneNumber="2025550143", MessageBody="x",
                                  ConfigurationSetName="dunning-dev")
        assert boto3.client("sqs", region_name=REGION).list_queues().get("QueueUrls", []) == []

    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert malformed.value.response["Error"]["Code"] == "ValidationException"


def test_two_transactions_conditional_on_one_version_never_both_commit(monkeypatch: pytest.MonkeyPatch) -> None:
    """A page action and a Plan commit the same case at once, each conditional on the version it
    read. DynamoDB lets one through; the other is cancelled and decides again. Here the first is
    held between its check and its write, as a thread switch would hold it: without the lock the
    second passes its check meanwhile and both commit, the first one's change lost."""
    from sandbox.motocompat import dynamodb_transactions

    held = threading.Barrier(2)
    original_check = dynamodb_transactions._check

    def check_then_a_thread_switch(*args: Any) -> Any:
        checked = original_check(*args)
        with contextlib.suppress(threading.BrokenBarrierError):
            held.wait(timeout=0.5)  # unlocked: the other transaction checks meanwhile
        return checked

    outcomes: dict[str, str] = {}
    with mock_aws(), transactions_without_table_copies():
        db = boto3.client("dynamodb", region_name=REGION)
        db.create_table(TableName="Cases", BillingMode="PAY_PER_REQUEST",
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
        db.put_item(TableName="Cases", Item={"pk": {"S": "CASE#1"}, "version": {"N": "1"}, "by": {"S": "-"}})
        monkeypatch.setattr(dynamodb_transactions, "_check", check_then_a_thread_switch)

        def commit(writer: str) -> None:
            try:
                db.transact_write_items(TransactItems=[{"Put": {
                    "TableName": "Cases", "Item": {"pk": {"S": "CASE#1"}, "version": {"N": "2"}, "by": {"S": writer}},
                    "ConditionExpression": "version = :read", "ExpressionAttributeValues": {":read": {"N": "1"}}}}])
                outcomes[writer] = "committed"
            except db.exceptions.TransactionCanceledException:
                outcomes[writer] = "cancelled"

        writers = [threading.Thread(target=commit, args=(w,)) for w in ("page", "plan")]
        for writer in writers:
            writer.start()
        for writer in writers:
            writer.join()
        stored = db.get_item(TableName="Cases", Key={"pk": {"S": "CASE#1"}})["Item"]["by"]["S"]

    assert sorted(outcomes.values()) == ["cancelled", "committed"]
    assert outcomes[stored] == "committed"


def test_a_table_read_in_one_pass_holds_what_a_paged_scan_returns() -> None:
    """A run's results read every item at the end; moto's Scan pages restart from the first item."""
    from sandbox.motocompat import backends

    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        ddb.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                    {"AttributeName": "sk", "KeyType": "RANGE"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                               {"AttributeName": "sk", "AttributeType": "S"}])
        filler = "x" * 20_000  # 60 items of 20 KB: more than one 1 MB page
        for n in range(60):
            ddb.put_item(TableName="t", Item={
                "pk": {"S": f"ACCOUNT#{n % 7}"}, "sk": {"S": f"ENTRY#{n:03d}"}, "amount": {"N": "12.50"},
                "seal": {"B": bytes([n, 255, 0])}, "tags": {"SS": ["a", "b"]}, "filler": {"S": filler},
                "tally": {"M": {"paid": {"N": "3"}, "key": {"B": b"\x00\x01"},
                                "ids": {"L": [{"S": "p1"}, {"NULL": True}]}}}})
        scanned: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": "t"}
        pages = 0
        while True:
            page = ddb.scan(**kwargs)
            scanned += page["Items"]
            pages += 1
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        read = backends.table_items("123456789012", REGION, "t")

    def key(item: dict[str, Any]) -> tuple[str, str]:
        return item["pk"]["S"], item["sk"]["S"]

    assert pages > 1
    assert sorted(read, key=key) == sorted(scanned, key=key)
