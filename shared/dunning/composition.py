"""The composition root: the AWS implementation of every port, built once per cold start.

A handler builds one `AwsPorts` from its settings (`cold_start`) and hands it to the services; it
is the only place that knows which adapter answers which port. Each part is created on first use,
so a function only pays (imports, clients) for what it touches.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from functools import cached_property
from typing import Any

from dunning.adapters.archive import S3Archive
from dunning.adapters.bulk import AccountFiles, AccountsBulk, SweepState
from dunning.adapters.dynamo import AccountsRepository, CollectionsRepository, read_for_decision
from dunning.adapters.ledger_keys import KmsLedgerKeys
from dunning.adapters.policy_store import PolicyStore
from dunning.adapters.report_source import TableReportSource
from dunning.adapters.workflow import Escalations
from dunning.domain.customers import CustomerProfile
from dunning.domain.models import Account, Channel, utc_now
from dunning.domain.policy import Policy
from dunning.ports import CaseRecord, Sender, TaskKind
from dunning.settings import BaseFunctionSettings


class NotConfigured(RuntimeError):
    """A port was used that this function's settings do not configure (a wiring mistake, not input)."""


class SystemClock:
    def now(self) -> Any:
        return utc_now()


class SqsTaskQueues:
    """Agent calls, call-backs and skip traces go to CallQueue, legal reviews to LegalReviewQueue,
    specialist work (a vulnerable customer handed over; a review of declared hardship or of a ladder
    that ended without a referral) to SpecialistQueue."""

    def __init__(self, client: Any, queues: dict[str, str | None]) -> None:
        self._sqs, self._queues = client, queues

    def put(self, kind: TaskKind, task: dict[str, Any]) -> None:
        queue = self._queues.get(kind if kind in ("LEGAL_REVIEW", "SPECIALIST") else "CALL")
        if not queue:
            raise NotConfigured(f"no queue is configured for {kind} tasks")
        self._sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(task | {"kind": kind}))


class SnsNotifications:
    def __init__(self, client: Callable[[], Any], topic_arn: str | None) -> None:
        self._client, self._topic = client, topic_arn

    def legal_referred(self, case_id: str, account_id: str) -> None:
        if self._topic:
            self._client().publish(TopicArn=self._topic, Message=json.dumps(
                {"case_id": case_id, "account_id": account_id, "event": "REFERRED_TO_LEGAL"}))


class SecretKeys:
    """The link-signing key (Secrets Manager, cached an hour) and the phone and address hashes keyed by it."""

    def __init__(self, secret_name: str | None) -> None:
        self._name = secret_name

    @cached_property
    def link_secret(self) -> bytes:
        if not self._name:
            raise NotConfigured("LINK_SECRET_NAME is not set")
        from aws_lambda_powertools.utilities.parameters import get_secret

        return str(get_secret(self._name, max_age=3600)).encode()

    def phone_hash(self, phone: str | None) -> str | None:
        if phone is None:
            return None
        return hmac.new(self.link_secret, phone.encode(), hashlib.sha256).hexdigest()[:32]

    def email_hash(self, address: str | None) -> str | None:
        if not address:
            return None
        # A prefix of its own: an address and a number never share a hash space.
        normal = "email:" + address.strip().lower()
        return hmac.new(self.link_secret, normal.encode(), hashlib.sha256).hexdigest()[:32]


class AwsPorts[S: BaseFunctionSettings]:
    """Every port on AWS, for one function's settings `S` (typed: handlers read their own settings)."""

    def __init__(self, settings: S, session: Any | None = None) -> None:
        self.settings: S = settings
        self._session = session
        self._clients: dict[str, Any] = {}

    def _setting(self, name: str) -> Any:
        return getattr(self.settings, name, None)

    def client(self, service: str) -> Any:
        if self._session is None:
            import boto3

            self._session = boto3.session.Session(region_name=self.settings.aws_region)
        if service not in self._clients:
            self._clients[service] = self._session.client(service)
        return self._clients[service]

    def provider_client(self, service: str) -> Any:
        """A client that calls the provider exactly once per send. botocore's own retries would
        resend after a 5xx or a read timeout, when the first request may already have gone out;
        throttling is retried by Step Functions instead, after the at-most-once gate is released."""
        key = f"{service}:once"
        if key not in self._clients:
            from botocore.config import Config

            self.client(service)  # creates the session
            session: Any = self._session
            # Timeouts well inside the function's 30 s: a hung provider call ends here, recorded
            # UNCERTAIN in this invocation, rather than as a Lambda timeout that spends a retry.
            self._clients[key] = session.client(service, config=Config(
                retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=10))
        return self._clients[key]

    # ----------------------------------------------------------------- stores

    @cached_property
    def accounts(self) -> AccountsRepository:
        return AccountsRepository(self.client("dynamodb"), self.settings.accounts_table)

    @cached_property
    def collections(self) -> CollectionsRepository:
        return CollectionsRepository(self.client("dynamodb"), self.settings.collections_table, self.ledger_keys,
                                     live_epoch=self.settings.live_cases_epoch)

    def read_for_decision(self, account_id: str, customer_id: str,
                          case_id: str) -> tuple[Account | None, CustomerProfile, CaseRecord | None]:
        return read_for_decision(self.client("dynamodb"), self.settings.accounts_table,
                                 self.settings.collections_table, account_id, customer_id, case_id)

    @cached_property
    def ledger_keys(self) -> KmsLedgerKeys | None:
        key_id = self.settings.ledger_key_id
        return KmsLedgerKeys(lambda: self.client("kms"), key_id, utc_now) if key_id else None

    @cached_property
    def archive(self) -> S3Archive | None:
        bucket = self.archive_bucket
        return S3Archive(self.client("s3"), bucket, self.settings.archive_lock_mode) if bucket else None

    @cached_property
    def bulk(self) -> AccountsBulk:  # the import's batched reads and the sweep's due-date index
        return AccountsBulk(self.client("dynamodb"), self.settings.accounts_table)

    @cached_property
    def sweep_log(self) -> SweepState:  # the sweep's watermark, an item of CollectionsTable
        return SweepState(self.client("dynamodb"), self.settings.collections_table)

    @cached_property
    def files(self) -> AccountFiles:
        return AccountFiles(self.client("s3"))

    @cached_property
    def report_source(self) -> TableReportSource:
        return TableReportSource(self.client("dynamodb"), self.settings.accounts_table,
                                 self.settings.collections_table)

    @property
    def archive_bucket(self) -> str | None:
        bucket = self._setting("archive_bucket")
        return str(bucket) if bucket else None

    @property
    def page_base_url(self) -> str | None:
        base = self._setting("page_base_url")
        return str(base) if base else None

    @cached_property
    def policy_store(self) -> PolicyStore:
        return PolicyStore(self.settings.policy_location, self.settings.policy_max_age_seconds)

    def policy(self) -> Policy:
        return self.policy_store.current()

    # ----------------------------------------------------------------- messages and work

    def sender(self, channel: Channel) -> Sender:
        from dunning.adapters.senders import EndUserMessagingSmsSender, SesEmailSender, SnsSmsSender

        if channel is Channel.EMAIL:
            source, config_set = self._setting("ses_from_address"), self._setting("ses_configuration_set")
            if not source or not config_set:
                raise NotConfigured("SES_FROM_ADDRESS and SES_CONFIGURATION_SET are not set")
            return SesEmailSender(self.provider_client("sesv2"), source, config_set,
                                  self._setting("ses_reply_to_address") or None)
        sms_config_set = self._setting("sms_configuration_set")
        if sms_config_set:  # End User Messaging: its configuration set sends delivery receipts back
            return EndUserMessagingSmsSender(self.provider_client("pinpoint-sms-voice-v2"), sms_config_set,
                                             self._setting("sms_origination_identity") or None)
        return SnsSmsSender(self.provider_client("sns"))

    def sms_provider(self, name: str) -> Sender:
        if name != "aliyun":
            raise NotConfigured(f"no SMS provider {name!r}")
        return self._aliyun

    @cached_property
    def _aliyun(self) -> Sender:
        from aws_lambda_powertools.utilities.parameters import get_secret

        from dunning.adapters.aliyun_sms import AliyunSmsSender

        secret_name = self._setting("aliyun_sms_secret_name")
        if not secret_name:
            raise NotConfigured("ALIYUN_SMS_SECRET_NAME is not set: mainland numbers need Alibaba Cloud SMS")
        keys = get_secret(str(secret_name), transform="json", max_age=3600)
        return AliyunSmsSender(str(keys["access_key_id"]), str(keys["access_key_secret"]),
                               str(self._setting("aliyun_sms_endpoint") or "https://dysmsapi.aliyuncs.com/"))

    @cached_property
    def tasks(self) -> SqsTaskQueues:
        return SqsTaskQueues(self.client("sqs"), {"CALL": self._setting("call_queue_url"),
                                                  "LEGAL_REVIEW": self._setting("legal_review_queue_url"),
                                                  "SPECIALIST": self._setting("specialist_queue_url")})

    @cached_property
    def workflow(self) -> Escalations:
        return Escalations(self.client("stepfunctions"), self._setting("state_machine_arn"))

    @cached_property
    def notifications(self) -> SnsNotifications:
        return SnsNotifications(lambda: self.client("sns"), self.settings.legal_referrals_topic_arn)

    @cached_property
    def keys(self) -> SecretKeys:
        return SecretKeys(self._setting("link_secret_name"))

    @cached_property
    def clock(self) -> SystemClock:
        return SystemClock()

    def idempotency_store(self, table: str) -> Any:
        """Powertools idempotency records in `table` (IdempotencyTable), on this function's client."""
        from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

        return DynamoDBPersistenceLayer(table_name=table, boto3_client=self.client("dynamodb"))


def cold_start[T](namespace: dict[str, Any], name: str, build: Callable[[], T]) -> Callable[[], T]:
    """A getter for what a handler builds once per cold start (settings, ports), on first use
    and never at import time. The value lives in the handler module's global ``name`` (listed in
    ``COLD_START_GLOBALS``), so a test or the sandbox that needs a fresh cold start sets those back
    to None."""
    namespace.setdefault(name, None)
    namespace.setdefault("COLD_START_GLOBALS", []).append(name)

    def get() -> T:
        value: T | None = namespace[name]
        if value is None:
            value = namespace[name] = build()
        return value

    return get
