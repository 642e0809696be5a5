"""Fixtures shared by the listening function tests: queues, bucket, webhook secret, a seeded case."""

from __future__ import annotations

import json
from typing import Any

import boto3

from dunning.adapters.dynamo import CollectionsRepository
from dunning.composition import AwsPorts
from dunning.domain.models import Account, Case
from dunning.settings import ListeningSettings
from tests.support.aws import REGION
from tests.support.webhooks import ALIYUN_PUSH_KEY, GENERIC_SECRET, PUBLIC_BASE, SECRET_NAME, TWILIO_TOKEN

ARCHIVE = "dunning-test-archive"


def listening_env(env: dict[str, str], monkeypatch: Any) -> dict[str, str]:
    sqs = boto3.client("sqs", region_name=REGION)
    extra = {
        "CALL_QUEUE_URL": sqs.create_queue(QueueName="CallQueue")["QueueUrl"],
        "WEBHOOK_SECRET_NAME": SECRET_NAME,
        "PUBLIC_WEBHOOK_BASE_URL": PUBLIC_BASE,
        "ARCHIVE_BUCKET": ARCHIVE,
        "ARCHIVE_LOCK_MODE": "GOVERNANCE",
    }
    boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name=SECRET_NAME, SecretString=json.dumps({"twilio": TWILIO_TOKEN, "generic": GENERIC_SECRET,
                                                   "aliyun": ALIYUN_PUSH_KEY})
    )
    # Versioned with Object Lock, as ArchiveBucket is: objects carry their own retain-until date.
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=ARCHIVE, ObjectLockEnabledForBucket=True)
    for key, value in extra.items():
        monkeypatch.setenv(key, value)
    return env | extra


def index_phone(env: dict[str, str], account: Account) -> None:
    """What opening a case does: index the customer's phone (hashed) for inbound replies."""
    rt = AwsPorts(ListeningSettings())  # type: ignore[call-arg]
    CollectionsRepository(boto3.client("dynamodb", region_name=REGION), env["COLLECTIONS_TABLE"]).put_contact(
        account.account_id, rt.keys.phone_hash(account.contact.phone)
    )


def seed_reachable_case(env: dict[str, str], account: Account | None = None, **case_kw: Any) -> tuple[Account, Case]:
    """A case whose customer can text back: the case seeded, the phone indexed."""
    from tests.functions.conftest import seed_case

    account, case = seed_case(env, account, **case_kw)
    index_phone(env, account)
    return account, case


def item_counts(env: dict[str, str]) -> dict[str, int]:
    db = boto3.client("dynamodb", region_name=REGION)
    return {
        name: db.scan(TableName=env[name], Select="COUNT")["Count"]
        for name in ("ACCOUNTS_TABLE", "COLLECTIONS_TABLE", "IDEMPOTENCY_TABLE")
    }


def callbacks(env: dict[str, str]) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name=REGION)
    resp = sqs.receive_message(QueueUrl=env["CALL_QUEUE_URL"], MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in resp.get("Messages", [])]


def collections(env: dict[str, str]) -> CollectionsRepository:
    return CollectionsRepository(boto3.client("dynamodb", region_name=REGION), env["COLLECTIONS_TABLE"])


def case_of(env: dict[str, str], case: Case) -> Case:
    return collections(env).history(case.account_id).cases[case.case_id].case
