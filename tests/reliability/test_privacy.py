"""No customer data where operators look: logs, metrics and Step Functions execution history.

Three accounts go through the real state machine on moto: notices by email and SMS, a reply
(hardship: a plan is offered by SMS), agent calls, a payment that cures one case, and a legal
referral approved by an admin. Every log line and EMF blob the handlers printed, and the execution
history of every execution, is searched for the customers' names, phone numbers, emails, account
numbers and amounts, and for anything shaped like an E.164 number or an email address.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest

from dunning.adapters.dynamo import AccountsRepository, CollectionsRepository
from dunning.adapters.webhooks import generic_signature_header
from dunning.domain.models import Account, AccountStatus, CaseStatus, Contact
from dunning.services.admin import support_view
from tests.support.aws import load_event
from tests.support.webhooks import GENERIC_SECRET, TWILIO_TOKEN, http_event

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 11, 3, 5, 0, tzinfo=UTC)  # midnight in New York, the day after the due date
E164 = re.compile(r"\+\d{8,15}\b")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
# Addresses that are ours, not a customer's (the sender identity may appear in configuration).
OURS = {"collections@dunning.example"}

CUSTOMERS = [
    dict(
        account_id="acc-p1",
        customer_name="Dana Reyes",
        account_number="4000123412347771",
        phone="+12025550143",
        email="dana.reyes@example.com",
        principal="1234.56",
        interest="78.90",
        fees="25.00",
    ),
    dict(
        account_id="acc-p2",
        customer_name="Marcus Oyelaran",
        account_number="4000123412347772",
        phone="+13125550178",
        email="m.oyelaran@example.org",
        principal="2345.67",
        interest="89.01",
        fees="35.00",
    ),
    dict(
        account_id="acc-p3",
        customer_name="Priya Natarajan",
        account_number="4000123412347773",
        phone="+16175550199",
        email="priya.n@example.net",
        principal="987.65",
        interest="43.21",
        fees="15.00",
    ),
]


def _account(c: dict[str, str]) -> Account:
    return Account(
        account_id=c["account_id"],
        customer_name=c["customer_name"],
        account_number=c["account_number"],
        contact=Contact(phone=c["phone"], email=c["email"]),
        locale="en-US",
        time_zones=["America/New_York"],
        jurisdiction="US",
        currency="USD",
        principal_due=Decimal(c["principal"]),
        interest_due=Decimal(c["interest"]),
        fees_due=Decimal(c["fees"]),
        due_date=START.date() - timedelta(days=1),
    )


def _secrets(c: dict[str, str]) -> list[str]:
    """Every way a customer's data could be written out."""
    total = Decimal(c["principal"]) + Decimal(c["interest"]) + Decimal(c["fees"])
    first, last = c["customer_name"].split()
    return [
        c["customer_name"],
        first,
        last,
        c["phone"],
        c["phone"].lstrip("+"),
        c["email"],
        c["account_number"],
        c["principal"],
        c["interest"],
        f"{total:.2f}",
        f"{total:,.2f}",
        c["principal"].rstrip("0"),
    ]


def _leaks(text: str, where: str) -> list[str]:
    found = [f"{where}: {s!r}" for c in CUSTOMERS for s in _secrets(c) if s in text]
    found += [f"{where}: E.164 {m.group(0)!r}" for m in E164.finditer(text)]
    found += [f"{where}: email {m.group(0)!r}" for m in EMAIL.finditer(text) if m.group(0) not in OURS]
    return found


class Stack:
    def __init__(self, stack: Any, clock: Any) -> None:
        self.stack, self.clock = stack, clock
        region = stack.region
        self.lam = boto3.client("lambda", region_name=region)
        self.sfn = boto3.client("stepfunctions", region_name=region)
        db = boto3.client("dynamodb", region_name=region)
        self.accounts = AccountsRepository(db, stack.table("AccountsTable"))
        self.collections = CollectionsRepository(db, stack.table("CollectionsTable"))

    def invoke(self, logical_id: str, event: dict[str, Any]) -> dict[str, Any]:
        resp = self.lam.invoke(
            FunctionName=self.stack.function_name(logical_id), Payload=json.dumps(event).encode()
        )
        out = json.loads(resp["Payload"].read() or b"null")
        assert "FunctionError" not in resp, out
        return out

    def admin(self, command: dict[str, Any]) -> dict[str, Any]:
        return self.invoke(
            "AdminFunction", {"command": command, "actor": "arn:aws:iam::123456789012:user/agent-7"}
        )

    def reply(self, c: dict[str, str], text: str, message_id: str) -> None:
        body = json.dumps(
            {
                "type": "inbound",
                "message_id": message_id,
                "from": c["phone"],
                "text": text,
                "timestamp": self.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        ).encode()
        header = generic_signature_header(GENERIC_SECRET, int(self.clock.now().timestamp()), body)
        resp = self.invoke("SmsWebhookFunction", http_event("generic", body, {"X-Dunning-Signature": header}))
        assert resp["statusCode"] == 200, resp

    def pay(self, c: dict[str, str]) -> None:
        event = load_event("apply_payment/payment-posted")
        total = Decimal(c["principal"]) + Decimal(c["interest"]) + Decimal(c["fees"])
        event["detail"] |= {
            "payment_id": f"PMT-{c['account_id']}",
            "account_id": c["account_id"],
            "amount": f"{total:.2f}",
            "received_at": self.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        self.invoke("ApplyPaymentFunction", event)

    def histories(self) -> list[dict[str, Any]]:
        out = []
        for execution in self.sfn.list_executions(stateMachineArn=self.stack.state_machine_arn)["executions"]:
            kwargs: dict[str, Any] = {"executionArn": execution["executionArn"], "maxResults": 1000}
            while True:
                page = self.sfn.get_execution_history(**kwargs)
                out.extend(page["events"])
                if "nextToken" not in page:
                    break
                kwargs["nextToken"] = page["nextToken"]
        return out


@pytest.mark.e2e
def test_logs_metrics_and_execution_history_carry_no_customer_data(capfd: pytest.CaptureFixture[str]) -> None:
    from sandbox.aws import local_aws, provision
    from sandbox.clock import VirtualClock

    with local_aws(), VirtualClock(START) as clock:
        stack = provision()
        region = stack.region
        secrets = boto3.client("secretsmanager", region_name=region)
        secrets.create_secret(
            Name=stack.parameters["LinkSecretName"], SecretString="sandbox-link-secret-0123456789"
        )
        secrets.create_secret(
            Name=stack.parameters["WebhookSecretName"],
            SecretString=json.dumps({"generic": GENERIC_SECRET, "twilio": TWILIO_TOKEN}),
        )
        boto3.client("sesv2", region_name=region).create_email_identity(EmailIdentity="dunning.example")
        boto3.client("s3", region_name=region).put_object(
            Bucket=stack.bucket("PolicyBucket"),
            Key=stack.parameters["PolicyKey"],
            Body=(ROOT / "shared/dunning/policies/default.yaml").read_bytes(),
        )
        run = Stack(stack, clock)
        for c in CUSTOMERS:
            stored = run.accounts.put(_account(c), None)
            run.accounts.put(stored.model_copy(update={"status": AccountStatus.DELINQUENT}), stored.version)
        clock.run_until_parked()
        p1, p2, p3 = CUSTOMERS
        cases = {c["account_id"]: f"{c['account_id']}-20261102" for c in CUSTOMERS}
        calls = approvals = 0
        # The days something is due for one of the strategies (calls wait on their tokens meanwhile).
        for day in (1, 2, 3, 4, 5, 7, 10, 12, 14, 18, 21, 30, 40, 41, 43):
            clock.advance_to(START + timedelta(days=day, hours=16))  # 11:00 in New York
            if day == 2:
                run.reply(p1, "I lost my job, can I pay in instalments?", "gen-p1-1")
            if day == 5:
                run.pay(p3)
            for c in (p1, p2):
                record = run.collections.case(c["account_id"], cases[c["account_id"]])
                if record.case.call_task_token:
                    calls += 1
                    run.admin(
                        {
                            "type": "record_call_outcome",
                            "account_id": c["account_id"],
                            "case_id": cases[c["account_id"]],
                            "outcome": "NO_ANSWER",
                        }
                    )
                if record.case.approval_task_token:
                    approvals += 1
                    run.admin(
                        {
                            "type": "approve_legal_referral",
                            "account_id": c["account_id"],
                            "case_id": cases[c["account_id"]],
                            "note": "no contact after final notice",
                        }
                    )
        clock.advance_to(START + timedelta(days=47))
        # The run covered what the test claims to cover.
        states = {
            c["account_id"]: run.collections.history(c["account_id"])
            .cases[cases[c["account_id"]]]
            .case.status
            for c in CUSTOMERS
        }
        assert states["acc-p3"] is CaseStatus.RESOLVED
        assert states["acc-p2"] is CaseStatus.REFERRED_TO_LEGAL and approvals >= 1 and calls >= 1
        history = run.histories()
        notices = [
            n
            for c in CUSTOMERS
            for n in run.collections.history(c["account_id"]).notices.get(cases[c["account_id"]], [])
        ]
        assert {n.channel.value for n in notices} >= {"EMAIL", "SMS"}

    captured = capfd.readouterr()
    printed = captured.out + captured.err
    log_lines = [line for line in printed.splitlines() if line.startswith("{")]
    emf = [line for line in log_lines if '"_aws"' in line]
    assert len(log_lines) > 50 and emf, "the run printed its logs and metrics"
    leaks = _leaks(printed, "stdout/stderr")
    leaks += _leaks(json.dumps(history, default=str), "execution history")
    assert leaks == [], "\n".join(sorted(set(leaks))[:40])


def test_support_view_masks_contact_details_to_the_last_four() -> None:
    c = CUSTOMERS[0]
    view = support_view(_account(c))
    assert view["contact"]["phone"].endswith("0143") and c["phone"] not in json.dumps(view)
    assert view["contact"]["email"].endswith(".com") and c["email"] not in json.dumps(view)
    assert view["account_number"].endswith("7771") and c["account_number"] not in json.dumps(view)
    assert view["account_id"] == c["account_id"]
    no_email = _account(c).model_copy(update={"contact": Contact(phone=c["phone"])})
    assert support_view(no_email)["contact"]["email"] is None
