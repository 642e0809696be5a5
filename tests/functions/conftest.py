"""Shared fixtures for function tests on moto: tables from template.yaml and a seeded account."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import boto3
import botocore.client
import pytest
import time_machine

from dunning.adapters.dynamo import AccountsRepository, CollectionsRepository
from dunning.domain.ledger import GENESIS
from dunning.domain.models import Account, Case, Contact, EntryKind
from dunning.ports import CaseRecord
from tests.support.aws import REGION, load_function, moto_env

# Tuesday 10:00 in New York: inside the contact window, not a holiday.
NOW = datetime(2026, 11, 3, 15, 0, tzinfo=UTC)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    with moto_env(monkeypatch) as env:
        yield env


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Every AWS call made from here on, as (service, operation), counted at botocore (not by the
    repositories' own counters)."""
    made: list[tuple[str, str]] = []
    original = botocore.client.BaseClient._make_api_call

    def spy(client: Any, operation: str, params: Any) -> Any:
        made.append((client.meta.service_model.service_name, operation))
        return original(client, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", spy)
    return made


@pytest.fixture
def clock() -> Iterator[Any]:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def make_account(**kw: Any) -> Account:
    base: dict[str, Any] = dict(
        account_id="acc-1001", customer_name="Dana Reyes", account_number="4000123412341234",
        contact=Contact(phone="+12025550143", email="dana@example.com"), locale="en-US",
        time_zones=["America/New_York"], jurisdiction="US", currency="USD",
        principal_due=Decimal("400.00"), interest_due=Decimal("12.50"), fees_due=Decimal("25.00"),
        due_date="2026-11-02", status="DELINQUENT",
    )
    base.update(kw)
    return Account.model_validate(base)


def seed_case(env: dict[str, str], account: Account | None = None, **case_kw: Any) -> tuple[Account, Case]:
    db = boto3.client("dynamodb", region_name=REGION)
    account = account or make_account()
    AccountsRepository(db, env["ACCOUNTS_TABLE"]).put(account, None)
    case = Case(case_id=f"{account.account_id}-20261102", account_id=account.account_id, opened_at=NOW,
                **({"strategy_id": "standard", "variant": "champion"} | case_kw))
    CollectionsRepository(db, env["COLLECTIONS_TABLE"]).commit(
        CaseRecord(case, -1, GENESIS), [(EntryKind.CASE_OPENED, {"strategy_id": case.strategy_id})],
        at=NOW, actor="test", create=True, live=[])  # opened as open_case does: the first live case
    return account, case


class FakeTasks:
    """Step Functions' SendTaskSuccess, recorded: which task token was completed with what."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def succeed(self, token: str, output: dict[str, Any]) -> None:
        self.calls.append((token, output))


@pytest.fixture
def tasks(monkeypatch: pytest.MonkeyPatch) -> FakeTasks:
    from dunning.adapters.workflow import Escalations

    fake = FakeTasks()
    monkeypatch.setattr(Escalations, "succeed", lambda self, token, output: fake.succeed(token, output))
    return fake


# An escalation that only waits: the account stream's tests look at the case, not the ladder.
WAIT_FOREVER = {"StartAt": "Hold", "States": {"Hold": {"Type": "Wait", "Seconds": 86400, "End": True}}}


@pytest.fixture
def stream(aws: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """AccountStream's module, its escalation a state machine that only waits."""
    sfn = boto3.client("stepfunctions", region_name=REGION)
    arn = sfn.create_state_machine(name="Escalation", definition=json.dumps(WAIT_FOREVER),
                                   roleArn="arn:aws:iam::123456789012:role/sfn")["stateMachineArn"]
    monkeypatch.setenv("STATE_MACHINE_ARN", arn)
    mod = load_function("account_stream")
    mod._ports = None
    return mod
