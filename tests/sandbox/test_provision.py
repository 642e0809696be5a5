"""template.yaml provisioned on moto: the resources the handlers and the sandbox rely on exist."""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from sandbox.aws import REPO_ROOT, Stack, local_aws, provision

ASL_PATH = REPO_ROOT / "statemachine" / "escalation.asl.json"


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # moto warns about every resource type it skips
        with local_aws():
            yield provision()


def test_accounts_table_streams_changes_and_has_the_sparse_due_and_pending_indexes(stack: Stack) -> None:
    table = boto3.client("dynamodb").describe_table(TableName=stack.table("AccountsTable"))["Table"]

    assert table["KeySchema"] == [{"AttributeName": "account_id", "KeyType": "HASH"}]
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    indexes = {index["IndexName"]: index["KeySchema"] for index in table["GlobalSecondaryIndexes"]}
    assert indexes == {
        "DueIndex": [{"AttributeName": "due_date_key", "KeyType": "HASH"},
                     {"AttributeName": "account_id", "KeyType": "RANGE"}],
        # the catch-up: accounts still CURRENT that owe, by shard and due date
        "PendingIndex": [{"AttributeName": "pending_shard", "KeyType": "HASH"},
                         {"AttributeName": "pending_due", "KeyType": "RANGE"}],
    }


def test_collections_and_idempotency_tables_exist_with_their_keys(stack: Stack) -> None:
    ddb = boto3.client("dynamodb")
    collections = ddb.describe_table(TableName=stack.table("CollectionsTable"))["Table"]
    assert [k["AttributeName"] for k in collections["KeySchema"]] == ["pk", "sk"]
    assert [i["IndexName"] for i in collections["GlobalSecondaryIndexes"]] == ["LookupIndex"]
    idempotency = ddb.describe_table(TableName=stack.table("IdempotencyTable"))["Table"]
    assert [k["AttributeName"] for k in idempotency["KeySchema"]] == ["id"]


def test_queues_topics_buckets_and_bus_exist(stack: Stack) -> None:
    sqs, sns, s3 = boto3.client("sqs"), boto3.client("sns"), boto3.client("s3")
    for queue in ("CallQueue", "LegalReviewQueue", "SpecialistQueue", "AccountStreamDLQ", "FunctionsDLQ"):
        assert sqs.get_queue_attributes(QueueUrl=stack.queue_url(queue), AttributeNames=["QueueArn"])
    for topic in ("EmailEventsTopic", "InboundSmsTopic", "LegalReferralsTopic", "AlarmTopic"):
        assert sns.get_topic_attributes(TopicArn=stack.topic_arn(topic))["Attributes"]["TopicArn"]
    for bucket in ("ArchiveBucket", "IncomingBucket"):
        s3.head_bucket(Bucket=stack.bucket(bucket))
    assert stack.event_bus("PaymentsBus") == stack.outputs["PaymentsBusName"]


def test_every_function_is_created_from_its_own_folder(stack: Stack) -> None:
    expected = {
        "ImportAccountsFunction": "import_accounts",
        "ApplyPaymentFunction": "apply_payment",
        "DailySweepFunction": "daily_sweep",
        "AccountStreamFunction": "account_stream",
        "PlanNextActionFunction": "plan_next_action",
        "AgentTaskFunction": "agent_task",
        "RecordFailureFunction": "record_failure",
        "SmsWebhookFunction": "sms_webhook",
        "CustomerPageFunction": "customer_page",
        "InboundSmsFunction": "inbound_sms",
        "EmailEventsFunction": "email_events",
        "InboundEmailFunction": "inbound_email",
        "SmsEventsFunction": "sms_events",
        "AdminFunction": "admin",
        "ReportFunction": "report",
        "AnchorLedgerFunction": "anchor_ledger",
    }
    assert stack.function_logical_ids == sorted(expected)
    assert {lid: path.name for lid, path in stack.code_dirs.items()} == expected
    assert all(path.parent == REPO_ROOT / "functions" for path in stack.code_dirs.values())


def test_only_the_stream_and_admin_functions_know_the_state_machine(stack: Stack) -> None:
    lam = boto3.client("lambda")
    knows = {
        lid
        for lid in stack.function_logical_ids
        if "STATE_MACHINE_ARN"
        in lam.get_function_configuration(FunctionName=stack.function_name(lid))["Environment"]["Variables"]
    }
    assert knows == {"AccountStreamFunction", "AdminFunction"}
    env = lam.get_function_configuration(FunctionName=stack.function_name("AdminFunction"))["Environment"]
    assert env["Variables"]["STATE_MACHINE_ARN"] == stack.state_machine_arn
    assert env["Variables"]["SES_CONFIGURATION_SET"] == "dunning-local"
    assert env["Variables"]["ACCOUNTS_TABLE"] == stack.table("AccountsTable")


def test_executed_definition_is_the_repo_asl_with_function_arns(stack: Stack) -> None:
    described = boto3.client("stepfunctions").describe_state_machine(stateMachineArn=stack.state_machine_arn)
    definition = described["definition"]

    placeholders = set(re.findall(r"\$\{(\w+)\}", ASL_PATH.read_text()))
    assert placeholders == {
        "PlanNextActionFunctionArn",
        "AgentTaskFunctionArn",
        "RecordFailureFunctionArn",
    }
    expected = ASL_PATH.read_text()
    for name in placeholders:
        expected = expected.replace("${" + name + "}", stack.function_arn(name.removesuffix("Arn")))
    assert json.loads(definition) == json.loads(expected)
    assert "$$.Task.Token" in definition  # the context-object path survives substitution


def test_resources_moto_skips_are_listed_for_the_sandbox_to_drive(stack: Stack) -> None:
    assert stack.skipped["HttpApi"] == "AWS::ApiGatewayV2::Api"
    assert stack.skipped["SesConfigurationSet"] == "AWS::SES::ConfigurationSet"
    assert stack.skipped["DailySweepFunctionDaily"] == "AWS::Scheduler::Schedule"
    sweeps = sorted((s.expression, s.timezone, s.enabled) for s in stack.schedules
                    if s.function_logical_id == "DailySweepFunction")
    assert sweeps == [("cron(0 15 * * ? *)", "UTC", True), ("cron(0 6 * * ? *)", "UTC", True)]
    weekly = next(s for s in stack.schedules if s.function_logical_id == "ReportFunction")
    assert weekly.expression.startswith("cron(")
    routes = {(r.method, r.path): (r.function_logical_id, r.auth) for r in stack.http_routes}
    assert routes == {
        ("POST", "/webhooks/sms/{provider}"): ("SmsWebhookFunction", "NONE"),
        ("POST", "/admin"): ("AdminFunction", "AWS_IAM"),
        # the customer's page: the signed link is the capability, verification comes first
        ("GET", "/p/{token}"): ("CustomerPageFunction", "NONE"),
        ("POST", "/p/{token}"): ("CustomerPageFunction", "NONE"),
        ("GET", "/p/assets/{asset}"): ("CustomerPageFunction", "NONE"),
    }


def test_the_ledger_key_is_an_hmac_key_that_seals(stack: Stack) -> None:
    # moto's CloudFormation would have made it a symmetric key that GenerateMac refuses.
    kms = boto3.client("kms")
    key_id = stack.physical_id("LedgerKey")
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyUsage"] == "GENERATE_VERIFY_MAC"
    mac = kms.generate_mac(KeyId=key_id, MacAlgorithm="HMAC_SHA_256", Message=b"m")["Mac"]
    assert kms.verify_mac(KeyId=key_id, MacAlgorithm="HMAC_SHA_256", Message=b"m", Mac=mac)["MacValid"]
    assert "LedgerKey" in stack.repaired


def test_sns_subscriptions_moto_skips_are_made(stack: Stack) -> None:
    subscriptions = boto3.client("sns").list_subscriptions()["Subscriptions"]
    endpoints = {(s["TopicArn"], s["Endpoint"]) for s in subscriptions}
    assert (stack.topic_arn("InboundSmsTopic"), stack.function_arn("InboundSmsFunction")) in endpoints
    assert (stack.topic_arn("EmailEventsTopic"), stack.function_arn("EmailEventsFunction")) in endpoints
    assert (stack.topic_arn("SmsEventsTopic"), stack.function_arn("SmsEventsFunction")) in endpoints


def test_invoking_a_function_whose_code_is_missing_reports_an_import_error(
    stack: Stack, tmp_path: Path
) -> None:
    from sandbox.aws import active_runtime

    runtime = active_runtime()
    assert runtime is not None
    runtime.register(stack.function_name("ReportFunction"), tmp_path)  # an empty folder
    response = boto3.client("lambda").invoke(
        FunctionName=stack.function_name("ReportFunction"), Payload=b"{}"
    )
    assert response["FunctionError"] == "Handled"
    assert json.loads(response["Payload"].read())["errorType"] == "Runtime.ImportModuleError"


def test_once_the_mock_is_completed_a_table_write_runs_no_handler_and_the_stream_keeps_it(stack: Stack) -> None:
    from sandbox.aws import active_runtime
    from sandbox.bootstrap import LINK_SECRET, WEBHOOK_SECRETS, StreamPoller, complete_mock

    session = boto3.session.Session(region_name=stack.region)
    complete_mock(stack, session, LINK_SECRET, WEBHOOK_SECRETS)
    runtime = active_runtime()
    assert runtime is not None
    stream_function = stack.function_name("AccountStreamFunction")
    before = runtime.invocations[stream_function]
    delivered: list[dict] = []
    poller = StreamPoller(stack, session, lambda logical_id, event: delivered.append(event) or {})

    boto3.client("dynamodb").put_item(TableName=stack.table("AccountsTable"),
                                       Item={"account_id": {"S": "acc-stream-probe"}})

    assert runtime.invocations[stream_function] == before  # moto's mapping would have run it in put_item
    assert poller.poll() >= 1
    keys = [r["dynamodb"]["Keys"] for event in delivered for r in event["Records"]]
    assert {"account_id": {"S": "acc-stream-probe"}} in keys


def test_functions_read_the_policy_from_the_bucket_the_cli_publishes_to(stack: Stack) -> None:
    # Versioning and Object Lock (not applied by moto's CloudFormation) are checked on the
    # translated template in tests/unit/test_template.py.
    lam = boto3.client("lambda")
    bucket = stack.bucket("PolicyBucket")
    assert bucket == f"dunning-local-policy-{stack.account_id}-{stack.region}"  # what the CLI derives
    env = lam.get_function_configuration(FunctionName=stack.function_name("PlanNextActionFunction"))["Environment"]
    assert env["Variables"]["POLICY_BUCKET"] == bucket
    assert env["Variables"]["POLICY_KEY"] == stack.parameters["PolicyKey"] == "policy.yaml"


def test_undeliverable_payments_and_schedules_have_their_queues(stack: Stack) -> None:
    sqs = boto3.client("sqs")
    for queue in ("PaymentPostedDLQ", "SchedulesDLQ"):
        assert sqs.get_queue_attributes(QueueUrl=stack.queue_url(queue), AttributeNames=["QueueArn"])


def test_the_sms_configuration_set_moto_skips_is_made_on_the_stand_in_with_its_topic(stack: Stack) -> None:
    sets = boto3.client("pinpoint-sms-voice-v2").describe_configuration_sets()["ConfigurationSets"]

    assert [s["ConfigurationSetName"] for s in sets] == [f"dunning-{stack.parameters['Stage']}"]
    assert sets[0]["EventDestinations"][0]["SnsDestination"]["TopicArn"] == stack.topic_arn("SmsEventsTopic")
