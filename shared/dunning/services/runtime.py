"""Everything a use case needs from the outside world, created once per cold start.

Clients are created lazily so a function only pays for what it uses; tests pass their own.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import cached_property
from typing import Any

from dunning.adapters.dynamo import AccountsRepository, CallCounter, CollectionsRepository
from dunning.adapters.policy_store import PolicyStore
from dunning.domain.policy import Policy
from dunning.settings import BaseFunctionSettings


class Runtime:
    def __init__(self, settings: BaseFunctionSettings, session: Any | None = None,
                 counter: CallCounter | None = None) -> None:
        self.settings = settings
        self._session = session
        self.counter = counter or CallCounter()
        self.sends = 0  # provider calls, for calls-per-notice counts

    def client(self, service: str) -> Any:
        if self._session is None:
            import boto3

            self._session = boto3.session.Session(region_name=self.settings.aws_region)
        return self._session.client(service)

    @cached_property
    def accounts(self) -> AccountsRepository:
        return AccountsRepository(self.client("dynamodb"), self.settings.accounts_table, self.counter)

    @cached_property
    def collections(self) -> CollectionsRepository:
        return CollectionsRepository(self.client("dynamodb"), self.settings.collections_table, self.counter)

    @cached_property
    def policy_store(self) -> PolicyStore:
        return PolicyStore(self.settings.policy_parameter_name, self.settings.policy_max_age_seconds)

    def policy(self) -> Policy:
        return self.policy_store.current()

    def secret(self, name: str) -> bytes:
        from aws_lambda_powertools.utilities.parameters import get_secret

        return str(get_secret(name, max_age=3600)).encode()

    @cached_property
    def link_secret(self) -> bytes:
        return self.secret(getattr(self.settings, "link_secret_name"))  # noqa: B009 - messaging settings only

    def phone_hash(self, phone: str | None) -> str | None:
        """A keyed hash of a phone number: lets replies find their account without storing the number."""
        if phone is None:
            return None
        return hmac.new(self.link_secret, phone.encode(), hashlib.sha256).hexdigest()[:32]
