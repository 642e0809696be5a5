"""The real escalation definition on moto's interpreter, driven by the real handlers.

One delinquent account goes through SEND (email), WAIT, SEND (SMS), WAIT and CALL (an agent
completes the task token); an admin's dispute wakes the waiting case at once; a payment cures the
account and the case closes.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import boto3
import pytest

from dunning.adapters.dynamo import AccountsRepository, CollectionsRepository
from dunning.domain.ledger import verify_chain
from dunning.domain.models import Account, AccountStatus, CaseStatus, Contact, EntryKind
from sandbox.aws import local_aws, provision
from sandbox.clock import VirtualClock

pytestmark = pytest.mark.e2e

START = datetime(2026, 11, 3, 5, 0, tzinfo=UTC)  # midnight in New York, the day after the due date


def _account() -> Account:
    return Account(account_id="acc-9", customer_name="Dana Reyes", account_number="4000123412347777",
                   contact=Contact(phone="+12025550143", email="dana@example.com"), locale="en-US",
                   time_zones=["America/New_York"], jurisdiction="US", currency="USD",
                   principal_due=Decimal("400.00"), interest_due=Decimal("12.50"), fees_due=Decimal("25.00"),
                   due_date=START.date() - timedelta(days=1))


def test_one_account_from_delinquency_to_cure_on_the_real_state_machine() -> None:
    with local_aws() as _ports, VirtualClock(START) as clock:
        stack = provision()
        region = stack.region
        secrets = boto3.client("secretsmanager", region_name=region)
        secrets.create_secret(Name=stack.parameters["LinkSecretName"], SecretString="sandbox-link-secret-0123456789")
        boto3.client("sesv2", region_name=region).create_email_identity(EmailIdentity="dunning.example")
        # The policy in force is the published one, as deployed (here: the bundled default document).
        boto3.client("s3", region_name=region).put_object(
            Bucket=stack.bucket("PolicyBucket"), Key=stack.parameters["PolicyKey"],
            Body=(Path(__file__).parents[2] / "shared/dunning/policies/default.yaml").read_bytes())
        db = boto3.client("dynamodb", region_name=region)
        accounts = AccountsRepository(db, stack.table("AccountsTable"))
        collections = CollectionsRepository(db, stack.table("CollectionsTable"))
        sfn = boto3.client("stepfunctions", region_name=region)

        # The sweep's effect: the account turns delinquent; the stream opens the case.
        stored = accounts.put(_account(), None)
        stored = accounts.put(stored.model_copy(update={"status": AccountStatus.DELINQUENT}), stored.version)
        clock.run_until_parked()
        case_id = "acc-9-20261102"
        execution = sfn.describe_execution(
            executionArn=stack.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{case_id}")
        assert execution["status"] == "RUNNING"
        assert json.loads(execution["input"]) == {"case_id": case_id, "account_id": "acc-9",  # ids only
                                                  "customer_id": "acc-9"}  # (no file customer id: the account's)

        # Day 1 to day 7: first notice by email, SMS on day 3, then the agent call task on day 7.
        clock.advance_to(START + timedelta(days=6, hours=16))  # day 7, 11:00 in New York
        history = collections.history("acc-9")
        notices = {n.step_id: n for n in history.notices[case_id]}
        assert set(notices) == {"first_notice", "sms_3"}
        assert notices["first_notice"].sent_at.astimezone(UTC).hour == 13  # 08:00 New York
        case = history.cases[case_id].case
        assert case.call_task_token, "the call task waits on a token held by the case"

        # The agent reaches nobody; completing the token lets the plan go on.
        sfn.send_task_success(taskToken=case.call_task_token, output=json.dumps({"outcome": "NO_ANSWER"}))
        clock.advance_to(START + timedelta(days=8))

        # Waiting for its next step, the case is woken by what changes it: an admin records a
        # dispute and the escalation plans again at once (not when its wait would have ended).
        def plans() -> list[str]:
            events = sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)["events"]
            return [str(e["timestamp"]) for e in events
                    if e.get("stateEnteredEventDetails", {}).get("name") == "Plan"]

        waited = plans()
        assert collections.history("acc-9").cases[case_id].case.wake_token, "the wait's token is on the case"
        boto3.client("lambda", region_name=region).invoke(
            FunctionName=stack.function_name("AdminFunction"),
            Payload=json.dumps({"command": {"type": "record_dispute", "account_id": "acc-9", "case_id": case_id,
                                            "reason": "the fee was charged twice"},
                                "actor": "arn:aws:iam::123456789012:user/collections-admin"}).encode())
        clock.run_until_parked()  # no time passes
        assert len(plans()) == len(waited) + 1 and plans()[-1] == str(clock.now())
        case = collections.history("acc-9").cases[case_id].case
        assert case.status is CaseStatus.DISPUTED and case.wake_token  # planned, and waiting again

        # A payment clears the balance: the stream cures the case and stops the execution.
        current = accounts.get("acc-9")
        accounts.put(current.model_copy(update={"principal_due": Decimal(0), "interest_due": Decimal(0),
                                                "fees_due": Decimal(0), "status": AccountStatus.PAID_OFF}),
                     current.version)
        clock.advance_to(START + timedelta(days=12))
        history = collections.history("acc-9")
        assert history.cases[case_id].case.status is CaseStatus.RESOLVED
        ledger = history.ledger[case_id]
        assert verify_chain(case_id, ledger).ok
        kinds = [e.kind for e in ledger]
        assert kinds[0] is EntryKind.CASE_OPENED and EntryKind.CASE_CLOSED in kinds
        assert kinds.count(EntryKind.NOTICE) == 3  # two steps and the dispute's acknowledgement
        status = sfn.describe_execution(executionArn=execution["executionArn"])["status"]
        assert status in ("ABORTED", "SUCCEEDED")
        # Nothing was sent after the cure.
        assert {n.template_id for n in history.notices[case_id]} == {"first_notice", "overdue_reminder",
                                                                   "dispute_acknowledgement"}

        # Each turn is the Plan task and the Route choice (and what Route chose): no Pass states.
        events = sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)["events"]
        entered = [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]
        assert entered[0] == "Plan" and entered.count("Plan") == entered.count("Route") >= 5
        assert set(entered) <= {"Plan", "Route", "WaitUntil", "AgentCall"}

        # The loop guard counts the turns the Plan function hands back: past 500, the case's failure
        # is recorded and the execution fails instead of planning for ever.
        guarded = sfn.start_execution(stateMachineArn=stack.state_machine_arn, name="turn-guard",
                                      input=json.dumps({"case_id": case_id, "account_id": "acc-9", "turns": 500}))
        clock.run_until_parked()
        ended = sfn.describe_execution(executionArn=guarded["executionArn"])
        assert ended["status"] == "FAILED"
        events = sfn.get_execution_history(executionArn=guarded["executionArn"])["events"]
        assert [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e] == [
            "Plan", "Route", "LoopGuard", "RecordFailure", "Failed"]
