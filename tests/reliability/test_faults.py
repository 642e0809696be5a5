"""Fault injection on moto: throttled and failing providers, crashes between the provider and the
record, duplicated and out-of-order deliveries, a payment during a wait, a broken policy reload.

Every test runs the real handlers (and, where the fault is about the workflow, the real state
machine on moto's interpreter with a virtual clock) and asserts that no notice was duplicated and
no record was lost; the counts add up to the session's summary line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from dunning.adapters.dynamo import AccountsRepository, CollectionsRepository
from dunning.domain.ledger import verify_chain
from dunning.domain.models import (
    AccountStatus,
    CaseStatus,
    Channel,
    EntryKind,
    NoticeStatus,
)
from dunning.ports import OutboundMessage, TransientError
from dunning.services import escalation
from tests.functions.conftest import NOW, make_account, seed_case
from tests.reliability.conftest import Tally
from tests.reliability.faults import Fault, duplicates, provider_faults, sent_emails, sent_sms
from tests.support.aws import REGION, FakeContext, fresh_function, load_event, load_function
from tests.support.listening import collections, item_counts, listening_env, seed_reachable_case
from tests.support.webhooks import GENERIC_SECRET, generic_event, twilio_inbound

ROOT = Path(__file__).resolve().parents[2]
CASE = "acc-1001-20261102"


@pytest.fixture
def env(aws: dict[str, str], monkeypatch: pytest.MonkeyPatch, clock: Any) -> dict[str, str]:
    return listening_env(aws, monkeypatch)


@pytest.fixture
def plan_fn() -> Any:
    mod = fresh_function("plan_next_action")
    return mod


def _plan(plan_fn: Any) -> str | None:
    """One Plan state: the status of the notice it sent, or None when it sent nothing."""
    out = plan_fn.lambda_handler(load_event("plan_next_action/plan"), FakeContext())
    return out["sent"]["status"] if "sent" in out else None


def _seed(env: dict[str, str], channel: Channel) -> None:
    # The champion strategy opens with an email, the challenger with an SMS.
    if channel is Channel.EMAIL:
        seed_case(env)
    else:
        seed_case(env, strategy_id="sms_first", variant="challenger")


def _history(account_id: str = "acc-1001") -> Any:
    return collections({"COLLECTIONS_TABLE": "CollectionsTable"}).history(account_id)


def _lost(case_id: str, account_id: str = "acc-1001") -> int:
    """A record is lost when the case's chain no longer verifies or a notice has no ledger entry."""
    history = _history(account_id)
    ledger = history.ledger.get(case_id, [])
    lost = 0 if verify_chain(case_id, ledger, expected_head_hash=history.cases[case_id].ledger_head).ok else 1
    recorded = {e.data.get("step_id") for e in ledger if e.kind is EntryKind.NOTICE}
    lost += sum(
        1
        for n in history.notices.get(case_id, [])
        if n.status is not NoticeStatus.SENDING and n.step_id not in recorded
    )
    return lost


def _provider_count(channel: Channel) -> list[Any]:
    if channel is Channel.EMAIL:
        return [(tuple(m.destinations.get("ToAddresses", [])), m.subject) for m in sent_emails()]
    return sent_sms()


# =========================================================================== provider faults

PROVIDER = {
    Channel.EMAIL: ("sesv2", "SendEmail", "TooManyRequestsException"),
    Channel.SMS: ("sns", "Publish", "Throttled"),
}


@pytest.mark.parametrize("channel", [Channel.EMAIL, Channel.SMS])
def test_throttled_provider_releases_the_gate_and_the_retry_sends_exactly_once(
    env, plan_fn, tally: Tally, channel: Channel
) -> None:
    _seed(env, channel)
    service, operation, code = PROVIDER[channel]
    with provider_faults() as faults:
        faults.add(Fault(service, operation, code, 400 if channel is Channel.SMS else 429))
        with pytest.raises(TransientError):  # Step Functions retries the Plan state on this error
            _plan(plan_fn)
        assert _history().notices.get(CASE, []) == []  # the gate is released: nothing went out
        assert _plan(plan_fn) == "SENT"
        assert _plan(plan_fn) is None  # a late replay plans again and sends nothing
    tally.faults_injected += faults.injected
    sent = _provider_count(channel)
    tally.notices_duplicated += max(0, len(sent) - 1)
    tally.records_lost += _lost(CASE) + (0 if len(sent) == 1 else 1)
    assert faults.calls[f"{service}.{operation}"] == 2  # one refused, one accepted: botocore retried nothing
    tally.assert_clean()


@pytest.mark.parametrize("channel", [Channel.EMAIL, Channel.SMS])
def test_provider_5xx_after_accepting_is_uncertain_never_resent_and_counts_against_the_caps(
    env, plan_fn, tally: Tally, channel: Channel
) -> None:
    _seed(env, channel)
    service, operation, _ = PROVIDER[channel]
    with provider_faults() as faults:
        faults.add(Fault(service, operation, "InternalFailure", 500, accepted=True, times=5))
        assert _plan(plan_fn) == "UNCERTAIN"
        assert _plan(plan_fn) is None  # a retry sends nothing
    tally.faults_injected += faults.injected
    sent = _provider_count(channel)
    assert len(sent) == 1  # the provider has it once; no client-side retry sent it again
    tally.notices_duplicated += duplicates(sent)
    notice = _history().notices[CASE][0]
    assert notice.status is NoticeStatus.UNCERTAIN
    # The planner never plans the step again, and the uncertain message counts against the daily cap.
    assert (
        plan_fn.lambda_handler(load_event("plan_next_action/plan"), FakeContext()).get("step_id")
        != notice.step_id
    )
    rt = plan_fn.ports()
    other = escalation.send(
        rt, rt.sender(channel), CASE, "acc-1001", "extra_same_day", channel, "overdue_reminder", actor="test"
    )
    assert other.status == "DEFER" and "DAILY_CAP" in other.reasons
    tally.notices_duplicated += max(0, len(_provider_count(channel)) - 1)
    tally.records_lost += _lost(CASE)
    tally.assert_clean()


def test_crash_between_the_provider_and_the_record_is_uncertain_on_retry(
    env, plan_fn, tally: Tally, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_case(env)
    original = CollectionsRepository.commit
    crashes = {"left": 1}

    def commit_that_fails_once(self: CollectionsRepository, record: Any, entries: Any, **kw: Any) -> Any:
        if crashes["left"] and any(
            kind is EntryKind.NOTICE and data.get("status") == "SENT" for kind, data in entries
        ):
            crashes["left"] -= 1
            raise TransientError("InternalServerError")  # DynamoDB 5xx on the final commit
        return original(self, record, entries, **kw)

    monkeypatch.setattr(CollectionsRepository, "commit", commit_that_fails_once)
    with pytest.raises(TransientError):
        _plan(plan_fn)
    tally.faults_injected += 1
    assert _history().notices[CASE][0].status is NoticeStatus.SENDING  # the gate stays shut
    assert _plan(plan_fn) is None  # Step Functions' retry: recorded UNCERTAIN, nothing sent
    assert _plan(plan_fn) is None
    assert _history().notices[CASE][0].status is NoticeStatus.UNCERTAIN
    sent = sent_emails()
    tally.notices_duplicated += max(0, len(sent) - 1)
    tally.records_lost += _lost(CASE) + (0 if len(sent) == 1 else 1)
    ledger = _history().ledger[CASE]
    assert [e.data["status"] for e in ledger if e.kind is EntryKind.NOTICE] == ["UNCERTAIN"]
    tally.assert_clean()


# =========================================================================== duplicated deliveries


def _stream_batch(stream_arn: str) -> dict[str, Any]:
    streams = boto3.client("dynamodbstreams", region_name=REGION)
    shards = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
    records: list[dict[str, Any]] = []
    for shard in shards:
        iterator = streams.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        for record in streams.get_records(ShardIterator=iterator)["Records"]:
            record["dynamodb"].pop("ApproximateCreationDateTime", None)
            records.append(record | {"eventSourceARN": stream_arn})
    return {"Records": records}


def test_a_redelivered_stream_batch_opens_one_case_and_one_execution(
    env, tally: Tally, monkeypatch: pytest.MonkeyPatch
) -> None:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machine = sfn.create_state_machine(
        name="Escalation",
        roleArn="arn:aws:iam::123456789012:role/escalation",
        definition=json.dumps({"StartAt": "Hold", "States": {"Hold": {"Type": "Pass", "End": True}}}),
    )["stateMachineArn"]
    monkeypatch.setenv("STATE_MACHINE_ARN", machine)
    db = boto3.client("dynamodb", region_name=REGION)
    accounts = AccountsRepository(db, env["ACCOUNTS_TABLE"])
    stored = accounts.put(make_account(status="CURRENT"), None)
    accounts.put(stored.model_copy(update={"status": AccountStatus.DELINQUENT}), stored.version)
    stream_arn = db.describe_table(TableName=env["ACCOUNTS_TABLE"])["Table"]["LatestStreamArn"]
    batch = _stream_batch(stream_arn)
    assert len(batch["Records"]) == 2
    fn = load_function("account_stream")
    fn._ports = None
    for _ in range(3):  # the first delivery, a retry of the whole batch, a replay
        assert fn.lambda_handler(batch, FakeContext()) == {"batchItemFailures": []}
    tally.faults_injected += 2
    history = _history()
    assert list(history.cases) == [CASE]
    opened = [e for e in history.ledger[CASE] if e.kind is EntryKind.CASE_OPENED]
    executions = sfn.list_executions(stateMachineArn=machine)["executions"]
    assert len(opened) == 1 and [e["name"] for e in executions] == [CASE]
    assert history.phone_hash  # the phone is indexed for replies, on the first delivery or a replay
    tally.records_lost += _lost(CASE)
    tally.assert_clean()


class FakeTasks:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def succeed(self, token: str, output: dict[str, Any]) -> None:
        self.calls.append((token, output))


def test_a_duplicated_call_task_completes_the_workflow_once(env, tally: Tally, monkeypatch) -> None:
    """CallQueue is at-least-once: two agents (or one, twice) may record the same task's outcome."""
    seed_case(env, call_task_token="call-token-1")
    tasks = FakeTasks()
    from dunning.adapters.workflow import Escalations

    monkeypatch.setattr(Escalations, "succeed", lambda self, token, output: tasks.succeed(token, output))
    fn = fresh_function("admin")
    event = load_event("admin/record_call_outcome")
    first = fn.lambda_handler(event, FakeContext())
    second = fn.lambda_handler(event, FakeContext())
    tally.faults_injected += 1
    assert first["task_completed"] is True and second["task_completed"] is False
    assert tasks.calls == [("call-token-1", {"outcome": "PROMISE"})]
    ledger = _history().ledger[CASE]
    assert len([e for e in ledger if e.kind is EntryKind.PROMISE]) == 1  # one promise, not two
    assert len([e for e in ledger if e.kind is EntryKind.ADMIN]) == 2  # both statements are on record
    tally.records_lost += _lost(CASE)
    tally.assert_clean()


@pytest.fixture
def hook() -> Any:
    mod = fresh_function("sms_webhook")
    return mod


def test_a_duplicated_stop_is_recorded_once_and_confirmed_once(env, hook, tally: Tally) -> None:
    account, case = seed_reachable_case(env)
    event = twilio_inbound("STOP")
    inbound = fresh_function("inbound_sms")
    sns_event = load_event("inbound_sms/stop")
    for _ in range(3):  # provider redelivery (HTTP), then SNS at-least-once delivery twice
        assert hook.lambda_handler(event, FakeContext())["statusCode"] == 200
    for _ in range(2):
        inbound.lambda_handler(sns_event, FakeContext())
    tally.faults_injected += 3
    history = _history()
    keys = [e.data["message_key"] for e in history.ledger[case.case_id] if e.kind is EntryKind.REPLY]
    assert len(keys) == len(set(keys)) == 2  # one per provider message (Twilio, two-way SMS)
    assert len(sent_sms()) == 1  # the opt-out confirmation goes out once, whatever the channels repeat
    tally.notices_duplicated += max(0, len(sent_sms()) - 1)
    tally.records_lost += _lost(case.case_id)
    tally.assert_clean()


# =========================================================================== out of order


def _generic(payload: dict[str, Any]) -> dict[str, Any]:
    return generic_event(payload, secret=GENERIC_SECRET, signed_at=NOW)


def test_a_receipt_that_outruns_its_send_record_is_applied_when_redelivered(env, hook, tally: Tally) -> None:
    """Decision: a receipt for a message id no notice carries yet is acknowledged (200), writes
    nothing and is not remembered by the idempotency store, so the provider's redelivery (or its
    next status) is applied once the send is recorded. Meanwhile the notice is SENT, which the caps
    already count: an early receipt can never cause a resend."""
    seed_case(env)
    rt = hook.ports()
    receipt = _generic(
        {
            "type": "receipt",
            "message_id": "gen-out-1",
            "status": "delivered",
            "timestamp": "2026-11-03T15:00:00Z",
        }
    )
    answers: list[dict[str, Any]] = []
    counts: list[dict[str, int]] = []

    class FastProvider:
        """Calls back with the delivery receipt before the send call has even returned."""

        provider = "generic"

        def send(self, message: OutboundMessage) -> str:
            counts.append(item_counts(env))
            answers.append(hook.lambda_handler(receipt, FakeContext()))
            counts.append(item_counts(env))
            return "gen-out-1"

    result = escalation.send(rt, FastProvider(), CASE, "acc-1001", "sms_3", Channel.SMS, "overdue_reminder",
                             actor="test")
    tally.faults_injected += 1
    assert result.status == "SENT"
    assert answers[0]["statusCode"] == 200 and json.loads(answers[0]["body"])["status"] == "UNKNOWN_MESSAGE"
    assert counts[0] == counts[1]  # nothing written, not even an idempotency record
    again = hook.lambda_handler(receipt, FakeContext())  # the provider's redelivery
    assert json.loads(again["body"])["status"] == "RECORDED"
    hook.lambda_handler(receipt, FakeContext())  # and once more: a no-op
    history = _history()
    assert history.notices[CASE][0].status is NoticeStatus.DELIVERED
    assert len([e for e in history.ledger[CASE] if e.kind is EntryKind.DELIVERY]) == 1
    tally.records_lost += _lost(CASE)
    tally.assert_clean()


def test_stop_and_start_delivered_in_reverse_order_leave_the_customer_opted_out(
    env, hook, tally: Tally
) -> None:
    """Decision: replies are applied in the order they arrive, and a STOP is never undone by a
    START that arrived before it, whatever the provider's timestamps say. Texting a customer who
    said STOP is unlawful; missing one who said START costs a reminder, and they can text START
    again. Both replies stay on the ledger with their own timestamps."""
    account, case = seed_reachable_case(env)
    stop = {
        "type": "inbound",
        "message_id": "gen-stop",
        "from": "+12025550143",
        "text": "STOP",
        "timestamp": "2026-11-03T14:58:00Z",
    }
    start = {
        "type": "inbound",
        "message_id": "gen-start",
        "from": "+12025550143",
        "text": "START",
        "timestamp": "2026-11-03T14:59:00Z",
    }
    for payload in (start, stop):  # the later text arrives first
        assert hook.lambda_handler(_generic(payload), FakeContext())["statusCode"] == 200
    tally.faults_injected += 1
    stored = AccountsRepository(boto3.client("dynamodb", region_name=REGION), env["ACCOUNTS_TABLE"]).get(
        "acc-1001"
    )
    assert Channel.SMS in stored.opted_out
    replies = [e for e in _history().ledger[case.case_id] if e.kind is EntryKind.REPLY]
    assert [(r.data["intent"], r.data["received_at"]) for r in replies] == [
        ("START", "2026-11-03T14:59:00Z"),
        ("STOP", "2026-11-03T14:58:00Z"),
    ]
    assert len(sent_sms()) == 1  # the one opt-out confirmation
    plan = fresh_function("plan_next_action")
    decision = plan.lambda_handler(load_event("plan_next_action/plan"), FakeContext())
    assert decision.get("channel") != "SMS"
    tally.records_lost += _lost(case.case_id)
    tally.assert_clean()


# =========================================================================== policy reload


def test_a_broken_policy_reload_keeps_the_last_good_one(env, tally: Tally, monkeypatch) -> None:
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()
    monkeypatch.setenv("POLICY_BUCKET", "dunning-test-policy")
    monkeypatch.setenv("POLICY_MAX_AGE_SECONDS", "0")
    good = (
        (ROOT / "shared/dunning/policies/default.yaml")
        .read_text("utf-8")
        .replace('version: "2026-12-05.1"', 'version: "2026-11-20.7"')
    )
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="dunning-test-policy")
    s3.put_object(Bucket="dunning-test-policy", Key="policy.yaml", Body=good.encode())
    seed_case(env)
    plan = fresh_function("plan_next_action")
    event = load_event("plan_next_action/plan")
    assert plan.lambda_handler(event, FakeContext())["policy_version"] == "2026-11-20.7"
    broken = [
        "version: [unclosed\n",  # not YAML
        good.replace("grace_days: 0", "grace_days: -3"),  # YAML, fails validation
        "just a string\n",  # the wrong shape
    ]
    for text in broken:
        s3.put_object(Bucket="dunning-test-policy", Key="policy.yaml", Body=text.encode())
        parameters.clear_caches()
        decision = plan.lambda_handler(event, FakeContext())
        assert decision["policy_version"] == "2026-11-20.7"  # decisions carry the last good version
        tally.faults_injected += 1
    assert plan.ports().policy_store.refusals == len(broken)
    decisions = [e for e in _history().ledger[CASE] if e.kind is EntryKind.DECISION]
    assert {d.data["policy_version"] for d in decisions} == {"2026-11-20.7"}
    tally.records_lost += _lost(CASE)
    tally.assert_clean()
    parameters.clear_caches()


# =========================================================================== on the real state machine

START = datetime(2026, 11, 3, 5, 0, tzinfo=UTC)  # midnight in New York, the day after the due date


@dataclass
class Workflow:
    stack: Any
    clock: Any
    accounts: AccountsRepository
    collections: CollectionsRepository
    sfn: Any

    def delinquent(self, account_id: str) -> str:
        account = make_account(account_id=account_id, account_number="4000123412347777", status="CURRENT",
                               due_date=START.date() - timedelta(days=1))
        stored = self.accounts.put(account, None)
        self.accounts.put(stored.model_copy(update={"status": AccountStatus.DELINQUENT}), stored.version)
        self.clock.run_until_parked()
        return f"{account_id}-20261102"

    def execution(self, case_id: str) -> dict[str, Any]:
        arn = self.stack.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{case_id}"
        return self.sfn.describe_execution(executionArn=arn)


@contextmanager
def workflow() -> Iterator[Workflow]:
    from sandbox.aws import local_aws, provision
    from sandbox.clock import VirtualClock

    with local_aws(), VirtualClock(START) as clock:
        stack = provision()
        region = stack.region
        boto3.client("secretsmanager", region_name=region).create_secret(
            Name=stack.parameters["LinkSecretName"], SecretString="sandbox-link-secret-0123456789"
        )
        boto3.client("sesv2", region_name=region).create_email_identity(EmailIdentity="dunning.example")
        boto3.client("s3", region_name=region).put_object(
            Bucket=stack.bucket("PolicyBucket"),
            Key=stack.parameters["PolicyKey"],
            Body=(ROOT / "shared/dunning/policies/default.yaml").read_bytes(),
        )
        db = boto3.client("dynamodb", region_name=region)
        yield Workflow(
            stack,
            clock,
            AccountsRepository(db, stack.table("AccountsTable")),
            CollectionsRepository(db, stack.table("CollectionsTable")),
            boto3.client("stepfunctions", region_name=region),
        )


# A Lambda killed by its timeout reaches Step Functions as this error name.
LambdaTimeout = type("Sandbox.Timedout", (Exception,), {})


@pytest.mark.e2e
def test_on_the_state_machine_throttles_are_retried_and_a_crash_is_never_resent(
    tally: Tally, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = CollectionsRepository.commit
    crashes = {"left": 1}

    def crash_after_the_sms_went_out(
        self: CollectionsRepository, record: Any, entries: Any, **kw: Any
    ) -> Any:
        if crashes["left"] and any(
            kind is EntryKind.NOTICE and data.get("step_id") == "sms_3" and data.get("status") == "SENT"
            for kind, data in entries
        ):
            crashes["left"] -= 1
            raise LambdaTimeout("Task timed out")
        return original(self, record, entries, **kw)

    monkeypatch.setattr(CollectionsRepository, "commit", crash_after_the_sms_went_out)
    with workflow() as wf, provider_faults() as faults:
        faults.add(Fault("sesv2", "SendEmail", "TooManyRequestsException", 429, times=2))
        case_id = wf.delinquent("acc-9")
        wf.clock.advance_to(START + timedelta(days=6, hours=16))  # day 7: email, SMS, then the call task
        tally.faults_injected += faults.injected + (1 - crashes["left"])
        assert faults.injected == 2 and crashes["left"] == 0
        history = wf.collections.history("acc-9")
        notices = {n.step_id: n.status for n in history.notices[case_id]}
        assert notices == {"first_notice": NoticeStatus.SENT, "sms_3": NoticeStatus.UNCERTAIN}
        assert history.cases[case_id].case.call_task_token  # the workflow went on to the call
        assert wf.execution(case_id)["status"] == "RUNNING"
        emails, sms = sent_emails(), sent_sms()
        assert len(emails) == 1 and len(sms) == 1
        tally.notices_duplicated += (len(emails) - 1) + (len(sms) - 1)
        ledger = history.ledger[case_id]
        tally.records_lost += 0 if verify_chain(case_id, ledger).ok else 1
        assert [e.data["status"] for e in ledger if e.kind is EntryKind.NOTICE] == ["SENT", "UNCERTAIN"]
    tally.assert_clean()


@pytest.mark.e2e
def test_a_payment_during_a_wait_means_nothing_is_sent_afterwards(
    tally: Tally, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dunning.adapters.workflow import Escalations

    # The stream's stop_execution is lost too: the next Plan must see the payment on its own.
    monkeypatch.setattr(Escalations, "stop", lambda self, arn, cause: None)
    with workflow() as wf:
        case_id = wf.delinquent("acc-7")
        wf.clock.advance_to(START + timedelta(days=1))  # the first notice is out; parked on a Wait
        before = [n.step_id for n in wf.collections.history("acc-7").notices[case_id]]
        assert len(before) == 1 and wf.execution(case_id)["status"] == "RUNNING"
        payment = load_event("apply_payment/payment-posted")
        payment["detail"] |= {
            "payment_id": "PMT-7",
            "account_id": "acc-7",
            "amount": "437.50",
            "received_at": "2026-11-04T06:00:00Z",
        }
        payments = wf.stack.function_name("ApplyPaymentFunction")
        boto3.client("lambda", region_name=wf.stack.region).invoke(
            FunctionName=payments, Payload=json.dumps(payment).encode()
        )
        tally.faults_injected += 1
        wf.clock.advance_to(START + timedelta(days=40))
        history = wf.collections.history("acc-7")
        assert history.cases[case_id].case.status is CaseStatus.RESOLVED
        # Nothing after the cure but the payment's receipt, once.
        assert sorted(n.step_id for n in history.notices[case_id]) == sorted([*before,
                                                                              "service_confirm_payment_PMT-7"])
        assert wf.execution(case_id)["status"] == "SUCCEEDED"  # the Plan after the Wait closed it
        sent = len(sent_emails()) + len(sent_sms())
        assert sent == 2
        tally.notices_duplicated += sent - 2
        ledger = history.ledger[case_id]
        tally.records_lost += 0 if verify_chain(case_id, ledger).ok else 1
        assert any(e.kind is EntryKind.CASE_CLOSED for e in ledger)
    tally.assert_clean()
