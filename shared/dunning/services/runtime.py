"""Everything a use case needs from the outside world, created once per cold start.

Clients are created lazily so a function only pays for what it uses; tests pass their own.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from functools import cached_property
from typing import Any

from dunning.adapters.dynamo import AccountsRepository, CallCounter, CollectionsRepository
from dunning.adapters.policy_store import PolicyStore
from dunning.adapters.senders import Sender
from dunning.domain.models import Channel
from dunning.domain.policy import Policy
from dunning.settings import BaseFunctionSettings


class Runtime:
    def __init__(self, settings: BaseFunctionSettings, session: Any | None = None,
                 counter: CallCounter | None = None) -> None:
        self.settings = settings
        self._session = session
        self._clients: dict[str, Any] = {}
        self.counter = counter or CallCounter()
        self.sends = 0  # provider calls, for calls-per-notice counts

    def client(self, service: str) -> Any:
        if self._session is None:
            import boto3

            self._session = boto3.session.Session(region_name=self.settings.aws_region)
        if service not in self._clients:
            self._clients[service] = self._session.client(service)
        return self._clients[service]

    @cached_property
    def accounts(self) -> AccountsRepository:
        return AccountsRepository(self.client("dynamodb"), self.settings.accounts_table, self.counter)

    @cached_property
    def collections(self) -> CollectionsRepository:
        return CollectionsRepository(self.client("dynamodb"), self.settings.collections_table, self.counter)

    @cached_property
    def policy_store(self) -> PolicyStore:
        return PolicyStore(self.settings.policy_location, self.settings.policy_max_age_seconds)

    def policy(self) -> Policy:
        return self.policy_store.current()

    def secret(self, name: str) -> bytes:
        from aws_lambda_powertools.utilities.parameters import get_secret

        return str(get_secret(name, max_age=3600)).encode()

    @cached_property
    def link_secret(self) -> bytes:
        return self.secret(getattr(self.settings, "link_secret_name"))  # noqa: B009 - messaging settings only

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

    def sender(self, channel: Channel) -> Sender:
        from dunning.adapters.senders import SesEmailSender, SnsSmsSender

        if channel is Channel.EMAIL:
            return SesEmailSender(self.provider_client("sesv2"),
                                  getattr(self.settings, "ses_from_address"),  # noqa: B009
                                  getattr(self.settings, "ses_configuration_set"))  # noqa: B009
        return SnsSmsSender(self.provider_client("sns"))

    def queue_task(self, queue_url: str, task: dict[str, Any]) -> None:
        """Put an agent-call or legal-review task on its queue (ids and the task token only)."""
        import json

        self.client("sqs").send_message(QueueUrl=queue_url, MessageBody=json.dumps(task))

    def legal_referred(self, case_id: str, account_id: str) -> None:
        """Tell the legal team's systems (ids only; they read the evidence export for the rest)."""
        import json

        topic = self.settings.legal_referrals_topic_arn
        if topic:
            self.client("sns").publish(TopicArn=topic, Message=json.dumps(
                {"case_id": case_id, "account_id": account_id, "event": "REFERRED_TO_LEGAL"}))

    def phone_hash(self, phone: str | None) -> str | None:
        """A keyed hash of a phone number: lets replies find their account without storing the number."""
        if phone is None:
            return None
        return hmac.new(self.link_secret, phone.encode(), hashlib.sha256).hexdigest()[:32]


def cold_start[T](namespace: dict[str, Any], name: str, build: Callable[[], T]) -> Callable[[], T]:
    """A getter for what a handler builds once per cold start (settings, clients), on first use
    and never at import time. The value lives in the handler module's global ``name``, so a test
    that needs a fresh cold start sets that global back to None."""
    namespace.setdefault(name, None)

    def get() -> T:
        value = namespace[name]
        if value is None:
            value = namespace[name] = build()
        return value

    return get
