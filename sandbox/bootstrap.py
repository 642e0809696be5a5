"""What a provisioned local stack still needs before it can run, shared by the sandbox commands.

moto's CloudFormation skips a few things the functions rely on (verified SES identities, the
secrets, the SES v2 configuration set), and its DynamoDB stream mapping calls the handler inside
``put_item``; the sandbox polls the stream itself, like the Lambda poller on AWS. The portfolio
arrives the way core banking delivers it: a CSV file in IncomingBucket and the S3 event for it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

import boto3

from sandbox.aliyun_sms import ACCESS_KEY_ID as ALIYUN_KEY_ID
from sandbox.aliyun_sms import ACCESS_KEY_SECRET as ALIYUN_KEY_SECRET
from sandbox.motocompat import backends
from sandbox.portfolio import SyntheticAccount, to_csv
from sandbox.stack import Stack

# Sandbox-only secrets, created in the local mock; production reads them from Secrets Manager.
LINK_SECRET = "sandbox-link-signing-key-not-for-production"  # noqa: S105
WEBHOOK_SECRETS = {"generic": "sandbox-generic-webhook-secret", "twilio": "sandbox-twilio-auth-token",
                   "aliyun": "sandbox-aliyun-push-key-6f1c0e2b9d"}
STREAM_BATCH = 100
STREAM_ATTEMPTS = 3


def z(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FunctionError(RuntimeError):
    """A function invocation ended in an error payload (the message names the function only)."""


def invoke(client: Any, stack: Stack, logical_id: str, event: Mapping[str, Any]) -> Any:
    """Invoke a stack function through moto's Lambda API (the handler runs in this process)."""
    resp = client.invoke(FunctionName=stack.function_name(logical_id), Payload=json.dumps(event).encode())
    payload = json.loads(resp["Payload"].read() or b"null")
    if resp.get("FunctionError") or (isinstance(payload, dict) and "errorType" in payload):
        kind = payload.get("errorType") if isinstance(payload, dict) else "FunctionError"
        raise FunctionError(f"{logical_id} failed: {kind}")
    return payload


def complete_mock(stack: Stack, session: boto3.session.Session, link_secret: str,
                  webhook_secrets: Mapping[str, str]) -> None:
    """Identity, secrets and configuration set the functions need, and no stream mapping in moto."""
    params = stack.parameters
    ses = session.client("ses")
    ses.verify_domain_identity(Domain=params["SesFromAddress"].split("@", 1)[1])
    ses.verify_email_identity(EmailAddress=params["SesFromAddress"])
    config_set = f"dunning-{params['Stage']}"
    sesv2 = session.client("sesv2")
    if config_set not in sesv2.list_configuration_sets().get("ConfigurationSets", []):
        sesv2.create_configuration_set(ConfigurationSetName=config_set)
    sm = session.client("secretsmanager")
    existing = {s["Name"] for s in sm.list_secrets().get("SecretList", [])}
    aliyun = json.dumps({"access_key_id": ALIYUN_KEY_ID, "access_key_secret": ALIYUN_KEY_SECRET})
    for name, value in ((params["LinkSecretName"], link_secret),
                        (params["WebhookSecretName"], json.dumps(dict(webhook_secrets))),
                        (params["AliyunSmsSecretName"], aliyun)):
        if name not in existing:
            sm.create_secret(Name=name, SecretString=value)
    # moto's mapping would run the handler inside put_item and then drain the shard; deleting it
    # through the API leaves it attached to the table, so it is detached there too.
    lam = session.client("lambda")
    for mapping in lam.list_event_source_mappings()["EventSourceMappings"]:
        if ":table/" in mapping["EventSourceArn"] and "/stream/" in mapping["EventSourceArn"]:
            lam.delete_event_source_mapping(UUID=mapping["UUID"])
    tables = [r.physical_id for r in stack.resources.values() if r.type == "AWS::DynamoDB::Table"]
    backends.detach_stream_mappings(stack.account_id, stack.region, tables)


class StreamPoller:
    """Reads the AccountsTable stream and hands batches to AccountStreamFunction, retrying from the
    first failed record as the Lambda poller does (ReportBatchItemFailures)."""

    def __init__(self, stack: Stack, session: boto3.session.Session,
                 call: Callable[[str, dict[str, Any]], Any] | None = None) -> None:
        self.stack = stack
        self.lam = session.client("lambda")
        # How to invoke the function: raising FunctionError (the default) or answering with the
        # error payload (a caller that records function errors itself).
        self._call = call or (lambda logical_id, event: invoke(self.lam, stack, logical_id, event))
        self.streams = session.client("dynamodbstreams")
        self.stream_arn = session.client("dynamodb").describe_table(
            TableName=stack.table("AccountsTable"))["Table"]["LatestStreamArn"]
        shard = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"][0]
        self.iterator = self.streams.get_shard_iterator(
            StreamArn=self.stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        self.dropped = 0
        self.last_sequence = -1

    def poll(self) -> int:
        """Deliver every record written so far; returns how many were read."""
        read = 0
        while True:
            resp = self.streams.get_records(ShardIterator=self.iterator, Limit=1000)
            self.iterator = resp["NextShardIterator"]
            records = resp["Records"]
            if not records:
                return read
            first = int(records[0]["dynamodb"]["SequenceNumber"])
            if first <= self.last_sequence:
                # A stream never serves a record twice: reading on would deliver the same ones for ever.
                raise RuntimeError(f"the AccountsTable stream went back from {self.last_sequence} to {first}")
            self.last_sequence = max(int(r["dynamodb"]["SequenceNumber"]) for r in records)
            read += len(records)
            for start in range(0, len(records), STREAM_BATCH):
                batch = records[start:start + STREAM_BATCH]
                self._deliver([stream_record(r, self.stream_arn) for r in batch])

    def _deliver(self, records: list[dict[str, Any]]) -> None:
        pending = records
        for _ in range(STREAM_ATTEMPTS):
            try:
                result = self._call("AccountStreamFunction", {"Records": pending})
            except FunctionError:
                result = {"errorType": "FunctionError"}
            if isinstance(result, dict) and "errorType" in result:
                failed = {r["dynamodb"]["SequenceNumber"] for r in pending}
            else:
                failed = {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])} \
                    if isinstance(result, dict) else set()
            if not failed:
                return
            # AWS retries from the first failed record on; so do we.
            first = next(i for i, r in enumerate(pending) if r["dynamodb"]["SequenceNumber"] in failed)
            pending = pending[first:]
        self.dropped += len(pending)


def stream_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """boto3 parsed the record (datetimes); the Lambda poller hands the handler plain JSON."""
    out = json.loads(json.dumps(record, default=_json_default))
    out["eventSourceARN"] = stream_arn
    return out


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def drop_portfolio(stack: Stack, session: boto3.session.Session, portfolio: Sequence[SyntheticAccount],
                   at: datetime, as_of: date | None = None) -> dict[str, Any]:
    """Drop the portfolio CSV in IncomingBucket; returns the S3 event ImportAccountsFunction gets."""
    bucket = stack.bucket("IncomingBucket")
    key = f"incoming/portfolio-{at:%Y%m%d}.csv"
    body = to_csv(list(portfolio), as_of=as_of)
    session.client("s3").put_object(Bucket=bucket, Key=key, Body=body)
    return {"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": stack.region,
        "eventTime": z(at), "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:core-banking"},
        "requestParameters": {"sourceIPAddress": "10.0.0.1"},
        "responseElements": {"x-amz-request-id": "SANDBOX", "x-amz-id-2": "SANDBOX"},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "AccountFileDropped",
               "bucket": {"name": bucket, "ownerIdentity": {"principalId": "SANDBOX"},
                          "arn": f"arn:aws:s3:::{bucket}"},
               "object": {"key": key, "size": len(body), "eTag": uuid.uuid5(uuid.NAMESPACE_URL, key).hex,
                          "sequencer": "0A1B2C3D4E5F678901"}},
    }]}


def import_portfolio(stack: Stack, session: boto3.session.Session, portfolio: Sequence[SyntheticAccount],
                     at: datetime) -> Any:
    """Drop the portfolio CSV in IncomingBucket and hand ImportAccountsFunction the S3 event."""
    event = drop_portfolio(stack, session, portfolio, at)
    return invoke(session.client("lambda"), stack, "ImportAccountsFunction", event)


def sweep_event(stack: Stack, at: datetime) -> dict[str, Any]:
    """What DailySweepFunction's EventBridge Scheduler schedule sends at ``at``."""
    schedule = next(s for s in stack.schedules if s.function_logical_id == "DailySweepFunction")
    return {
        "version": "0", "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"sweep:{z(at)}")),
        "detail-type": "Scheduled Event", "source": "aws.scheduler", "account": stack.account_id,
        "time": z(at), "region": stack.region,
        "resources": [f"arn:aws:scheduler:{stack.region}:{stack.account_id}:schedule/default/"
                      f"{schedule.logical_id}"],
        "detail": {},
    }


def sweep(stack: Stack, session: boto3.session.Session, at: datetime) -> Any:
    """Fire DailySweepFunction as its EventBridge Scheduler schedule would at ``at``."""
    return invoke(session.client("lambda"), stack, "DailySweepFunction", sweep_event(stack, at))

