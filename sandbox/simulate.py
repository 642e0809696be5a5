"""`dunning simulate`: the whole stack on moto, a synthetic portfolio, simulated days.

The run provisions template.yaml (sandbox.aws), imports the portfolio as a CSV file dropped in
the IncomingBucket, and then lives each simulated day: the 06:00 UTC sweep schedule fires, the
AccountsTable stream is polled and handed to AccountStreamFunction in batches, the escalations
run on moto's Step Functions interpreter under the VirtualClock, which advances hour by hour
(only once every execution is parked). After each step the customers answer what the providers
delivered to them: payments are posted to the PaymentsBus, replies and agent outcomes go through
the functions that own them. The providers' own records (what SES and SNS received, stamped
with the virtual time) feed an independent audit (sandbox.audit).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import time
import uuid
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

import boto3

from sandbox.aws import call_kind, local_aws, provision
from sandbox.bootstrap import StreamPoller, complete_mock, drop_portfolio, sweep_event, z
from sandbox.clock import VirtualClock
from sandbox.portfolio import SPECIAL_STATUS, Persona, SyntheticAccount, build_portfolio, in_shard

DEFAULT_START = date(2026, 9, 1)
# Sandbox-only secrets, created in the local mock; production reads them from Secrets Manager.
LINK_SECRET = "sandbox-link-signing-key-not-for-production"  # noqa: S105
WEBHOOK_SECRETS = {"generic": "sandbox-generic-webhook-secret", "twilio": "sandbox-twilio-auth-token"}
SWEEP_HOUR = 6
REPLY_DELAY_MINUTES = 3
PROMISE_DAYS = 5  # a promising customer names a day this far ahead
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class SimulationConfig:
    accounts: int = 500
    days: int = 60
    seed: int = 7
    start: date = DEFAULT_START
    # Customers never interact, so the portfolio can be lived as independent shards, each on its
    # own local AWS in its own process: account i belongs to shard i % shards.
    shards: int = 1
    shard: int = 0


@dataclass
class ProviderMessage:
    """One message as a provider received it (not as the engine meant it)."""

    provider: str  # "ses" | "sns"
    message_id: str
    channel: str  # "EMAIL" | "SMS"
    destination: str
    sent_at: datetime
    subject: str | None
    body: str
    account_id: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"channel": self.channel, "account_id": self.account_id, "destination": self.destination,
                "sent_at": z(self.sent_at), "subject": self.subject, "body": self.body,
                "provider_message_id": f"{self.provider}:{self.message_id}"}


class ProviderTap:
    """Stamps every SES send and SNS SMS publish with the (virtual) time the provider got it."""

    def __init__(self) -> None:
        self.messages: list[ProviderMessage] = []
        self._undo: list[Callable[[], None]] = []

    def __enter__(self) -> ProviderTap:
        from moto.ses.models import SESBackend
        from moto.sns.models import SNSBackend

        tap = self
        original_email = SESBackend.send_email
        original_publish = SNSBackend.publish

        def send_email(backend: Any, source: str, subject: str, body: str, destinations: Any, *a: Any,
                       **kw: Any) -> Any:
            message = original_email(backend, source, subject, body, destinations, *a, **kw)
            for address in destinations.get("ToAddresses", []):
                tap.messages.append(ProviderMessage("ses", message.id, "EMAIL", address, datetime.now(UTC),
                                                    subject, body))
            return message

        def publish(backend: Any, message: str, *a: Any, **kw: Any) -> Any:
            message_id = original_publish(backend, message, *a, **kw)
            phone = kw.get("phone_number")
            if phone:
                tap.messages.append(ProviderMessage("sns", str(message_id), "SMS", phone, datetime.now(UTC),
                                                    None, message))
            return message_id

        SESBackend.send_email = send_email  # type: ignore[method-assign]
        SNSBackend.publish = publish  # type: ignore[method-assign]
        self._undo = [lambda: setattr(SESBackend, "send_email", original_email),
                      lambda: setattr(SNSBackend, "publish", original_publish)]
        return self

    def __exit__(self, *exc: object) -> None:
        for undo in self._undo:
            undo()


@dataclass
class PersonaState:
    account: SyntheticAccount
    messages: list[ProviderMessage] = field(default_factory=list)
    paid: Decimal = Decimal("0")
    pay_at: datetime | None = None  # a payment the customer has decided to make
    pay_amount: Decimal = Decimal("0")
    replied: set[str] = field(default_factory=set)
    calls_answered: int = 0
    plan: list[tuple[datetime, Decimal]] = field(default_factory=list)  # instalments the customer will pay


@dataclass
class ShardOutput:
    """What one shard's run leaves behind; shards merge into one before anything is counted."""

    portfolio: list[SyntheticAccount]
    messages: list[ProviderMessage]
    items: list[dict[str, Any]]  # CollectionsTable cases and ledger entries, by (pk, sk)
    accounts: list[dict[str, Any]]
    replies: list[dict[str, Any]]
    daily: list[dict[str, Any]]
    events: Counter[str]
    errors: list[dict[str, Any]]
    absent: set[str]
    invocations: dict[str, int]
    aws_calls: Counter[str]
    import_result: Any
    statuses: list[dict[str, Any]] = field(default_factory=list)  # special statuses set by the admin desk


@dataclass
class SimulationResult:
    summary: dict[str, Any]
    messages: list[ProviderMessage]
    ledger: list[dict[str, Any]]
    cases: list[dict[str, Any]]
    accounts: list[dict[str, Any]]
    replies: list[dict[str, Any]]
    daily: list[dict[str, Any]]


class Simulation:
    """One run: provisioned stack, virtual clock, portfolio, customers."""

    def __init__(self, config: SimulationConfig, progress: Progress | None = None,
                 function_log: TextIO | None = None) -> None:
        self.function_log = function_log
        self.config = config
        self.progress = progress
        self.portfolio = in_shard(build_portfolio(config.accounts, config.seed, config.start), config.shard,
                                  config.shards)
        self.by_id = {a.account_id: a for a in self.portfolio}
        self.loans = _loans_by_customer(self.portfolio)
        self.by_phone = {a.phone: self.loans[a.customer] for a in self.portfolio}
        self.by_email = {a.email: self.loans[a.customer] for a in self.portfolio}
        self.people = _persona_states(self.portfolio, self.loans)
        self.statuses: list[dict[str, Any]] = []
        self.replies: list[dict[str, Any]] = []
        self.events: Counter[str] = Counter()
        self.absent: set[str] = set()
        self.errors: list[dict[str, Any]] = []
        self.daily: list[dict[str, Any]] = []
        self._seen_messages = 0
        self._seen_call_tasks: set[str] = set()
        self._payment_seq = 0

    # ------------------------------------------------------------------ run

    def run(self) -> SimulationResult:
        started = time.perf_counter()
        result = summarise(self.config, [self.run_shard()])
        result.summary["wall_seconds"] = round(time.perf_counter() - started, 2)
        return result

    def run_shard(self) -> ShardOutput:
        begin = datetime(self.config.start.year, self.config.start.month, self.config.start.day, tzinfo=UTC)
        log = self.function_log if self.function_log is not None else io.StringIO()
        # Function logs and EMF metrics go where CloudWatch would have them, not to the terminal.
        # Powertools caches parameters and secrets per process: a second run must start cold too.
        from aws_lambda_powertools.utilities import parameters

        parameters.clear_caches()
        with local_aws() as runtime, ProviderTap() as tap, warnings.catch_warnings(), \
                contextlib.redirect_stdout(log):
            # moto names every template resource type it does not model; the stack lists them.
            warnings.simplefilter("ignore", UserWarning)
            logging.getLogger("moto").setLevel(logging.ERROR)
            self.runtime, self.tap = runtime, tap
            # The policy never changes during a run, and simulated hours pass between a function's
            # invocations: with the production 5-minute cache nearly every one would read SSM again.
            self.stack = provision(parameters={"LogLevel": "WARNING", "PolicyCacheSeconds": "86400"})
            self.session = boto3.session.Session(region_name=self.stack.region)
            self._clients: dict[str, Any] = {}
            self._complete_mock()
            with VirtualClock(begin) as clock:
                self.clock = clock
                self._open_stream()
                self._import_portfolio()
                self._poll_stream()
                for day in range(self.config.days):
                    self._live_day(begin + timedelta(days=day))
                    if self.progress:
                        self.progress(day + 1, self.config.days)
                self.clock.run_until_parked()
                items, accounts = self._read_tables()
            invocations = self.stack.invocation_counts(runtime)
        return ShardOutput(self.portfolio, tap.messages, items, accounts, self.replies, self.daily, self.events,
                           self.errors, self.absent, invocations, runtime.aws_calls, self.import_result,
                           self.statuses)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.session.client(service)
        return self._clients[service]

    def has_function(self, logical_id: str) -> bool:
        code = self.stack.code_dirs.get(logical_id)
        present = code is not None and (code / "app.py").is_file() and logical_id in self.stack.resources
        if not present:
            self.absent.add(logical_id)
        return present

    def invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        resp = self.client("lambda").invoke(FunctionName=self.stack.function_name(logical_id),
                                            Payload=json.dumps(event).encode())
        payload = json.loads(resp["Payload"].read() or b"null")
        if resp.get("FunctionError") or (isinstance(payload, dict) and "errorType" in payload):
            self.events[f"function_error:{logical_id}"] += 1
            self.errors.append({"function": logical_id, "at": z(self.clock.now()),
                                "error": str(payload)[:300]})
        return payload

    # ------------------------------------------------------------------ setup

    def _complete_mock(self) -> None:
        """What CloudFormation skipped on moto and the functions need; the stream is polled here."""
        complete_mock(self.stack, self.session, LINK_SECRET, WEBHOOK_SECRETS)

    def _open_stream(self) -> None:
        self.poller = StreamPoller(self.stack, self.session, self.invoke)

    def _import_portfolio(self) -> None:
        if not self.has_function("ImportAccountsFunction"):
            raise RuntimeError("ImportAccountsFunction has no handler: the portfolio cannot be imported")
        event = drop_portfolio(self.stack, self.session, self.portfolio, self.clock.now(), as_of=self.config.start)
        result = self.invoke("ImportAccountsFunction", event)
        self.import_result = result
        bucket = self.stack.bucket("IncomingBucket")
        rejects = self.client("s3").list_objects_v2(Bucket=bucket, Prefix="rejects/").get("Contents", [])
        for obj in rejects:
            text = self.client("s3").get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().decode()
            self.errors.append({"function": "ImportAccountsFunction", "at": z(self.clock.now()),
                                "error": "rejected rows: " + text[:500]})

    # ------------------------------------------------------------------ a day

    def _live_day(self, midnight: datetime) -> None:
        sweep_at = midnight + timedelta(hours=SWEEP_HOUR)
        self._step_to(sweep_at)
        self._sweep(sweep_at)
        for hour in range(SWEEP_HOUR + 1, 24 + 1):
            self._step_to(midnight + timedelta(hours=hour))
        self.daily.append({"day": midnight.date().isoformat(), "messages": len(self.tap.messages)})

    def _step_to(self, instant: datetime) -> None:
        if instant > self.clock.now():
            self.clock.advance_to(instant)
        # Stream and customers until nothing new happens at this instant.
        for _ in range(5):
            before = (len(self.tap.messages), self.events.total())
            self._poll_stream()
            self._customers()
            self.clock.run_until_parked()
            if (len(self.tap.messages), self.events.total()) == before:
                break

    def _sweep(self, at: datetime) -> None:
        """The Scheduler fires DailySweepFunction; its shape is what EventBridge Scheduler sends."""
        if self.has_function("DailySweepFunction"):
            event = sweep_event(self.stack, at)
            self.invoke("DailySweepFunction", event)
        self._poll_stream()
        self.clock.run_until_parked()

    # ------------------------------------------------------------------ stream

    def _poll_stream(self) -> None:
        self.poller.poll()
        if self.poller.dropped:
            self.events["stream_records_dropped"] = self.poller.dropped

    # ------------------------------------------------------------------ customers

    def _customers(self) -> None:
        now = self.clock.now()
        new = self.tap.messages[self._seen_messages:]
        self._seen_messages = len(self.tap.messages)
        for message in new:
            loans = self.by_phone.get(message.destination) if message.channel == "SMS" \
                else self.by_email.get(message.destination)
            if not loans:
                continue
            synthetic = _loan_in(message, loans)
            message.account_id = synthetic.account_id
            person = self.people[synthetic.account_id]
            person.messages.append(message)
            self._react(person, message, now)
        self._call_tasks(now)
        self._legal_reviews(now)
        for person in self.people.values():
            if person.pay_at is not None and person.pay_at <= now:
                self._pay(person, person.pay_amount, now)
                person.pay_at = None
            while person.plan and person.plan[0][0] <= now:
                _, amount = person.plan.pop(0)
                self._pay(person, amount, now)

    def _react(self, person: PersonaState, message: ProviderMessage, now: datetime) -> None:
        persona = person.account.persona
        if message.channel == "EMAIL":
            self._email_delivered(message)
        if person.pay_at is not None or person.paid >= person.account.amount_due:
            return
        if message.sent_at.date() <= person.account.due_date:
            return  # a pre-due reminder: nothing to answer yet
        if persona in SPECIAL_STATUS:
            self._special(person, message)
            return
        if persona is Persona.PAYS_FIRST_REMINDER:
            person.pay_at, person.pay_amount = now + timedelta(hours=5), person.account.amount_due
        elif persona is Persona.PAYS_LATE and (now.date() - person.account.due_date).days >= 18:
            person.pay_at, person.pay_amount = now + timedelta(hours=30), person.account.amount_due
        elif message.channel == "SMS" and persona in _REPLY_TEXT and persona.value not in person.replied:
            person.replied.add(persona.value)
            # A person answers a few minutes after the text arrives, never at the same instant.
            self.clock.advance_by(timedelta(minutes=REPLY_DELAY_MINUTES))
            now = self.clock.now()
            self._reply_sms(person, _REPLY_TEXT[persona](now), now)
            if persona is Persona.PROMISE_KEPT:
                day = (now + timedelta(days=PROMISE_DAYS)).date()
                # the promise (no amount named) is for every loan of theirs: each is paid that day
                for state in self._loans_of(person):
                    if state.paid < state.account.amount_due:
                        state.pay_at = datetime(day.year, day.month, day.day, 15, tzinfo=UTC)
                        state.pay_amount = state.account.amount_due - state.paid

    def _loans_of(self, person: PersonaState) -> list[PersonaState]:
        return [self.people[a.account_id] for a in self.loans[person.account.customer]]

    def _special(self, person: PersonaState, message: ProviderMessage) -> None:
        """A special status reaches collections the way it would: the customer's (or a relative's)
        text, or the legal team through an admin command. Once per person."""
        status, source = SPECIAL_STATUS[person.account.persona]
        if status in person.replied or source == "FILE":
            return
        person.replied.add(status)
        self.clock.advance_by(timedelta(minutes=REPLY_DELAY_MINUTES))
        now = self.clock.now()
        if source == "REPLY":
            self._reply_sms(person, _STATUS_TEXT[person.account.persona], now)
            return
        self._admin({"type": "set_special_status", "account_id": person.account.account_id, "status": status,
                     "note": "legal team: suit filed"}, now)
        self.statuses.append({"account_id": person.account.account_id, "customer": person.account.customer,
                              "status": status, "source": source, "at": z(now)})
        self.events["special_statuses_set_by_admin"] += 1

    def _email_delivered(self, message: ProviderMessage) -> None:
        if not self.has_function("EmailEventsFunction"):
            return
        ses_event = {"eventType": "Delivery", "mail": {
            "timestamp": message.sent_at.strftime("%Y-%m-%dT%H:%M:%S.000Z"), "messageId": message.message_id,
            "source": self.stack.parameters["SesFromAddress"], "destination": [message.destination],
            "tags": {"ses:configuration-set": [f"dunning-{self.stack.parameters['Stage']}"]}},
            "delivery": {"timestamp": z(message.sent_at), "recipients": [message.destination],
                         "processingTimeMillis": 500, "smtpResponse": "250 2.6.0 Message received"}}
        self.client("sns").publish(TopicArn=self.stack.topic_arn("EmailEventsTopic"), Message=json.dumps(ses_event))
        self.events["email_delivery_events"] += 1

    def _reply_sms(self, person: PersonaState, text: str, now: datetime) -> None:
        record = {"account_id": person.account.account_id, "persona": person.account.persona.value,
                  "from": person.account.phone, "text": text, "at": z(now), "delivered": False}
        self.replies.append(record)
        if not self.has_function("SmsWebhookFunction"):
            return
        from dunning.adapters.webhooks import generic_signature_header

        self._payment_seq += 1
        body = json.dumps({"type": "inbound", "message_id": f"in-{self._payment_seq:06d}",
                           "from": person.account.phone, "text": text, "timestamp": z(now)}).encode()
        stamp = int(now.timestamp())
        path = "/webhooks/sms/generic"
        event = {
            "version": "2.0", "routeKey": f"POST {path.replace('generic', '{provider}')}", "rawPath": path,
            "rawQueryString": "", "headers": {"content-type": "application/json",
                                              "x-dunning-signature": generic_signature_header(
                                                  WEBHOOK_SECRETS["generic"], stamp, body)},
            "requestContext": {"http": {"method": "POST", "path": path, "protocol": "HTTP/1.1",
                                        "sourceIp": "198.51.100.10", "userAgent": "sms-provider"},
                               "domainName": "hooks.dunning.example", "requestId": f"req-{self._payment_seq}",
                               "routeKey": "POST /webhooks/sms/{provider}", "stage": "$default",
                               "timeEpoch": stamp * 1000},
            "pathParameters": {"provider": "generic"}, "body": body.decode(), "isBase64Encoded": False,
        }
        result = self.invoke("SmsWebhookFunction", event)
        record["delivered"] = isinstance(result, dict) and int(result.get("statusCode", 500)) < 300
        self.events["replies_sent"] += 1

    def _pay(self, person: PersonaState, amount: Decimal, now: datetime) -> None:
        if amount <= 0:
            return
        self._payment_seq += 1
        payment_id = f"PAY-{person.account.account_id}-{self._payment_seq:06d}"
        detail = {"payment_id": payment_id, "account_id": person.account.account_id, "amount": format(amount, "f"),
                  "currency": person.account.currency, "received_at": z(now)}
        before = self.runtime.invocations[self.stack.function_name("ApplyPaymentFunction")]
        # moto 5.2 routes rules to SQS, SNS, logs and buses, not to Lambda targets.
        with contextlib.suppress(NotImplementedError):
            self.client("events").put_events(Entries=[{
                "Source": "core-banking", "DetailType": "PaymentPosted", "Detail": json.dumps(detail),
                "EventBusName": self.stack.event_bus("PaymentsBus")}])
        if self.runtime.invocations[self.stack.function_name("ApplyPaymentFunction")] == before:
            # moto did not route the bus to its target: deliver the same event as EventBridge would.
            self.invoke("ApplyPaymentFunction", {
                "version": "0", "id": str(uuid.uuid5(uuid.NAMESPACE_URL, payment_id)),
                "detail-type": "PaymentPosted", "source": "core-banking", "account": self.stack.account_id,
                "time": z(now), "region": self.stack.region, "resources": [], "detail": detail})
        person.paid += amount
        self.events["payments"] += 1

    def _call_tasks(self, now: datetime) -> None:
        self._drain("CallQueue", "call_tasks", lambda task: self._agent_call(task, now))

    def _drain(self, queue: str, counter: str, handle: Callable[[dict[str, Any]], None]) -> None:
        """Work a task queue the way an agent's or an admin's desk would: take, act, delete."""
        sqs = self.client("sqs")
        url = self.stack.queue_url(queue)
        while True:
            msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            if not msgs:
                return
            for m in msgs:
                self.events[counter] += 1
                handle(json.loads(m["Body"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])

    def _agent_call(self, task: dict[str, Any], now: datetime) -> None:
        person = self.people.get(task["account_id"])
        if person is not None and task.get("kind") == "SKIP_TRACE" and self.has_function("AdminFunction"):
            self._skip_trace(task, now)
            return
        if person is None or task.get("kind") != "CALL" or not self.has_function("AdminFunction"):
            return  # nobody records an outcome: the task times out and the escalation plans again
        persona = person.account.persona
        command: dict[str, Any] = {"type": "record_call_outcome", "account_id": task["account_id"],
                                   "case_id": task["case_id"], "outcome": "NO_ANSWER"}
        agrees = persona in (Persona.PLAN_KEPT, Persona.PLAN_BROKEN) and person.paid == 0 and not person.plan
        if agrees:
            command |= {"outcome": "HARDSHIP", "instalments": 3, "note": "agreed instalments by phone"}
        self._admin(command, now)
        self.events["call_outcomes"] += 1
        if agrees:
            self._follow_plan(person, task, now)

    def _skip_trace(self, task: dict[str, Any], now: datetime) -> None:
        """The tracing desk looks for the right number and, in this portfolio, finds none."""
        self._admin({"type": "record_skip_trace", "account_id": task["account_id"], "case_id": task["case_id"],
                     "outcome": "NOT_FOUND"}, now)
        self.events["skip_traces"] += 1

    def _follow_plan(self, person: PersonaState, task: dict[str, Any], now: datetime) -> None:
        """The customer pays the instalments agreed on the phone on their due dates (or only the first)."""
        from dunning.adapters.dynamo import from_item

        item = self.client("dynamodb").get_item(
            TableName=self.stack.table("CollectionsTable"),
            Key={"pk": {"S": f"ACCOUNT#{task['account_id']}"}, "sk": {"S": f"CASE#{task['case_id']}"}})
        case = from_item(item.get("Item", {}))
        plan = case.get("plan") or {}
        instalments = plan.get("instalments") or []
        if plan.get("status") != "ACTIVE" or not instalments:
            return
        keep = instalments if person.account.persona is Persona.PLAN_KEPT else instalments[:1]
        for inst in keep:
            due = date.fromisoformat(str(inst["due_on"]))
            amount = Decimal(str((inst.get("amount") or {}).get("amount", "0")))
            person.plan.append((datetime(due.year, due.month, due.day, 15, tzinfo=UTC), amount))

    def _legal_reviews(self, now: datetime) -> None:
        self._drain("LegalReviewQueue", "legal_reviews", lambda task: self._approve(task, now))

    def _approve(self, task: dict[str, Any], now: datetime) -> None:
        if self.has_function("AdminFunction"):
            self._admin({"type": "approve_legal_referral", "account_id": task["account_id"],
                         "case_id": task["case_id"], "note": "evidence reviewed"}, now)
            self.events["legal_approvals"] += 1

    def _admin(self, command: dict[str, Any], now: datetime) -> dict[str, Any]:
        result = self.invoke("AdminFunction", _admin_event(command, now))
        status = int(result.get("statusCode", 500)) if isinstance(result, dict) else 500
        if status >= 300:
            self.errors.append({"function": "AdminFunction", "at": z(now), "error": str(result)[:300]})
            return {}
        return json.loads(result.get("body") or "{}")

    # ------------------------------------------------------------------ results

    def _read_tables(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        from dunning.adapters.dynamo import from_item

        ddb = self.client("dynamodb")

        def scan(table: str) -> list[dict[str, Any]]:
            items: list[dict[str, Any]] = []
            kwargs: dict[str, Any] = {"TableName": table}
            while True:
                page = ddb.scan(**kwargs)
                items += [from_item(i) for i in page["Items"]]
                if "LastEvaluatedKey" not in page:
                    return items
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

        collections = [i for i in scan(self.stack.table("CollectionsTable")) if i.get("type") == "LEDGER"
                       or i.get("type") == "CASE"]
        accounts = sorted(scan(self.stack.table("AccountsTable")), key=lambda a: a["account_id"])
        return sorted(collections, key=lambda i: (str(i.get("pk")), str(i.get("sk")))), accounts


def _summary(config: SimulationConfig, run: ShardOutput) -> dict[str, Any]:
    from sandbox.audit import audit

    items, accounts = run.items, run.accounts

    ledger = [i for i in items if i.get("type") == "LEDGER"]
    cases = [i for i in items if i.get("type") == "CASE"]
    notices = Counter(m.channel for m in run.messages)
    kinds = Counter(str(e.get("kind")) for e in ledger)
    reasons = Counter()
    for e in ledger:
        data = e.get("data") or {}
        if isinstance(data, dict):
            reasons.update(str(r) for r in data.get("reasons", []) or [])
            reasons.update(str(d) for d in data.get("details", []) or [] if isinstance(d, str))
    statuses = Counter(str(_case_field(c, "status")) for c in cases)
    findings = audit(run.messages, ledger, accounts, run.replies, run.statuses)
    outcomes = _persona_outcomes(run.portfolio, cases, accounts, ledger)
    sent = sum(notices.values())
    return {
        "accounts": config.accounts, "days": config.days, "seed": config.seed,
        "start": config.start.isoformat(),
        # Pre-due reminder records open no collection case.
        "cases_opened": sum(1 for e in ledger if e.get("kind") == "CASE_OPENED"
                            and not (e.get("data") or {}).get("pre_due")),
        "cases_cured": statuses["RESOLVED"],
        "case_statuses": dict(sorted(statuses.items())),
        "legal_referrals": statuses["REFERRED_TO_LEGAL"],
        "notices": dict(sorted(notices.items())),
        "call_tasks": kinds["CALL_TASK"],
        "replies": dict(sorted(Counter(r["persona"] for r in run.replies).items())),
        "opt_outs": kinds["OPT_OUT"],
        "payments": run.events["payments"],
        "promises": {"made": kinds["PROMISE"], "kept": reasons["PROMISE_KEPT"],
                     "broken": reasons["PROMISE_BROKEN"]},
        "plans": {"offered": len(_plan_ids(ledger)), "accepted": len(_plan_ids(ledger, "ACTIVE")),
                  "completed": reasons["PLAN_COMPLETED"], "broken": reasons["PLAN_BROKEN"]},
        "lambda_invocations": dict(sorted(run.invocations.items())),
        "aws_calls_per_notice": round(sum(run.aws_calls.values()) / sent, 2) if sent else None,
        "aws_calls_by_kind": _calls_by_kind(run.aws_calls, sent),
        "audit": findings.counts(),
        "audit_findings": [f.as_json() for f in findings.findings[:50]],
        "persona_outcomes": outcomes,
        "customers": _customer_summary(run.portfolio, run.messages),
        "special_statuses": _status_summary(run.portfolio, ledger, run.messages, run.replies, run.statuses),
        "import": run.import_result,
        "functions_absent": sorted(run.absent),
        "driver_events": dict(sorted(run.events.items())),
        "function_errors": run.errors[:20],
    }

def _persona_outcomes(portfolio: list[SyntheticAccount], cases: list[dict[str, Any]],
                      accounts: list[dict[str, Any]], ledger: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    by_account_status: dict[str, set[str]] = defaultdict(set)
    for c in cases:
        by_account_status[str(_case_field(c, "account_id"))].add(str(_case_field(c, "status")))
    reasons_by_account: dict[str, set[str]] = defaultdict(set)
    kinds_by_account: dict[str, set[str]] = defaultdict(set)
    for e in ledger:
        data = e.get("data") or {}
        acc = str(e.get("account_id") or str(e.get("pk", "")).removeprefix("ACCOUNT#"))
        kinds_by_account[acc].add(str(e.get("kind")))
        if isinstance(data, dict):
            reasons_by_account[acc].update(str(r) for r in data.get("reasons", []) or [])
            reasons_by_account[acc].update(str(d) for d in data.get("details", []) or [] if isinstance(d, str))
    stored = {a["account_id"]: a for a in accounts}
    out: dict[str, dict[str, int]] = {}
    for synthetic in portfolio:
        row = out.setdefault(synthetic.persona.value, {"expected": 0, "achieved": 0})
        row["expected"] += 1
        acc = stored.get(synthetic.account_id, {})
        statuses = by_account_status[synthetic.account_id]
        reasons = reasons_by_account[synthetic.account_id]
        achieved = {
            "cured": "RESOLVED" in statuses or acc.get("status") == "PAID_OFF",
            "sms_opted_out": "SMS" in (acc.get("opted_out") or []),
            "plan_completed": "PLAN_COMPLETED" in reasons,
            "plan_broken": "PLAN_BROKEN" in reasons,
            "promise_kept": "PROMISE_KEPT" in reasons,
            "promise_broken": "PROMISE_BROKEN" in reasons,
            "disputed": "DISPUTED" in statuses or "DISPUTED" in reasons,
            "phone_unusable": not (acc.get("contact") or {}).get("phone_usable", True),
            "legal_referral": "REFERRED_TO_LEGAL" in statuses,
            "contact_stopped": "SPECIAL_STATUS" in kinds_by_account[synthetic.account_id],
            "specialist": "SPECIALIST" in kinds_by_account[synthetic.account_id],
        }[synthetic.expected]
        row["achieved"] += int(achieved)
    return dict(sorted(out.items()))


def _customer_summary(portfolio: list[SyntheticAccount], messages: list[ProviderMessage]) -> dict[str, Any]:
    """People and their loans, and the most messages any one person received in a day."""
    loans = _loans_by_customer(portfolio)
    owner = {a.account_id: a.customer for a in portfolio}
    per_day: Counter[tuple[str, str, str]] = Counter(
        (owner.get(m.account_id or "", "?"), m.channel, m.sent_at.date().isoformat()) for m in messages)
    two = [c for c, held in loans.items() if len(held) > 1]
    return {
        "people": len(loans), "loans": len(portfolio), "with_two_loans": len(two),
        "two_loan_messages": sum(1 for m in messages if owner.get(m.account_id or "") in set(two)),
        "most_sms_to_one_person_in_a_day": max((n for (_, ch, _), n in per_day.items() if ch == "SMS"), default=0),
    }


def _status_summary(portfolio: list[SyntheticAccount], ledger: list[dict[str, Any]],
                    messages: list[ProviderMessage], replies: list[dict[str, Any]],
                    statuses: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per special status: the people who have it, how many got it recorded on their cases, and how
    many messages reached them after it reached collections (for the statuses that stop contact,
    there must be none; a vulnerable customer still hears from the specialists' strategy)."""
    owner = {a.account_id: a.customer for a in portfolio}
    recorded = {owner.get(str(e.get("pk", "")).removeprefix("ACCOUNT#")) for e in ledger
                if e.get("kind") == "SPECIAL_STATUS"}
    special = {p.value for p in SPECIAL_STATUS}
    known: dict[str, datetime] = {}  # person -> when their status reached collections
    for r in sorted(replies, key=lambda r: r["at"]):
        if r.get("delivered") and r.get("persona") in special:
            known.setdefault(owner[r["account_id"]], _instant(r["at"]))
    for st in statuses:
        known.setdefault(st["customer"], _instant(st["at"]))
    out: dict[str, dict[str, Any]] = {}
    for persona, (status, source) in SPECIAL_STATUS.items():
        people = {a.customer for a in portfolio if a.persona is persona}
        since = {c: datetime.min.replace(tzinfo=UTC) if source == "FILE" else known.get(c) for c in people}
        after = 0
        for m in messages:
            person = owner.get(m.account_id or "")
            start = since.get(person) if person is not None else None
            after += start is not None and m.sent_at > start
        out[status] = {"customers": len(people), "source": source, "recorded": len(people & recorded),
                       "messages_after": after}
    return out


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _loans_by_customer(portfolio: list[SyntheticAccount]) -> dict[str, list[SyntheticAccount]]:
    loans: dict[str, list[SyntheticAccount]] = defaultdict(list)
    for account in portfolio:
        loans[account.customer].append(account)
    return dict(loans)


def _persona_states(portfolio: list[SyntheticAccount],
                    loans: dict[str, list[SyntheticAccount]]) -> dict[str, PersonaState]:
    """One state per loan; a person's loans share what they have answered (they answer once)."""
    states = {a.account_id: PersonaState(a) for a in portfolio}
    for held in loans.values():
        shared = states[held[0].account_id].replied
        for account in held[1:]:
            states[account.account_id].replied = shared
    return states


def _loan_in(message: ProviderMessage, loans: list[SyntheticAccount]) -> SyntheticAccount:
    """Which of a person's loans a message is about, as they would tell: the last four digits it names."""
    text = f"{message.subject or ''} {message.body}"
    return next((a for a in loans if a.account_number[-4:] in text), loans[0])


def _case_field(item: dict[str, Any], name: str) -> Any:
    if name in item:
        return item[name]
    case = item.get("case")
    if isinstance(case, dict):
        return case.get(name)
    if isinstance(case, str):
        try:
            return json.loads(case).get(name)
        except ValueError:
            return None
    return None


def _admin_event(command: dict[str, Any], now: datetime) -> dict[str, Any]:
    """POST /admin as API Gateway (HTTP API, IAM authoriser) hands it to the function."""
    body = json.dumps({"command": command})
    stamp = int(now.timestamp())
    return {
        "version": "2.0", "routeKey": "POST /admin", "rawPath": "/admin", "rawQueryString": "",
        "headers": {"content-type": "application/json"},
        "requestContext": {"http": {"method": "POST", "path": "/admin", "protocol": "HTTP/1.1",
                                    "sourceIp": "10.0.0.2", "userAgent": "sandbox-admin"},
                           "authorizer": {"iam": {"userArn": "arn:aws:iam::123456789012:user/sandbox-admin",
                                                  "userId": "SANDBOXADMIN", "accountId": "123456789012",
                                                  "accessKey": "AKIASANDBOX", "callerId": "SANDBOXADMIN",
                                                  "principalOrgId": None, "cognitoIdentity": None}},
                           "accountId": "123456789012", "apiId": "sandbox", "domainName": "api.dunning.example",
                           "domainPrefix": "api", "requestId": f"admin-{stamp}", "routeKey": "POST /admin",
                           "stage": "$default", "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                           "timeEpoch": stamp * 1000},
        "body": body, "isBase64Encoded": False,
    }


def _promise_text(days: int) -> Callable[[datetime], str]:
    def text(now: datetime) -> str:
        return f"I will pay on {(now + timedelta(days=days)).date().isoformat()}"
    return text


_STATUS_TEXT: dict[Persona, str] = {
    Persona.DECEASED: "This is her son. My mother passed away last month.",
    Persona.CEASE_CONTACT: "Cease all communication with me about this account.",
    Persona.VULNERABLE: "I am in chemotherapy and cannot deal with this right now.",
}

_REPLY_TEXT: dict[Persona, Callable[[datetime], str]] = {
    Persona.REPLIES_STOP: lambda now: "STOP",
    Persona.PROMISE_KEPT: _promise_text(PROMISE_DAYS),
    Persona.PROMISE_BROKEN: _promise_text(PROMISE_DAYS),
    Persona.DISPUTES: lambda now: "I dispute this debt, it is not mine",
    Persona.WRONG_NUMBER: lambda now: "Wrong number, I don't know this person",
}


def _plan_ids(ledger: list[dict[str, Any]], status: str | None = None) -> set[tuple[str, str]]:
    """Plans seen in PLAN ledger entries (an accepted plan is also an offered one). A plan id is
    unique within its case only (it is the instant it was offered), so the case is part of the key."""
    return {(str(e.get("sk", "")).split("#LEDGER#")[0], str(e["data"].get("plan_id"))) for e in ledger
            if e.get("kind") == "PLAN" and isinstance(e.get("data"), dict)
            and (status is None or e["data"].get("status") == status)}


def _calls_by_kind(calls: Counter[str], sent: int) -> dict[str, float]:
    """The system's AWS calls per notice sent, as reads, writes, sends and the rest."""
    kinds: Counter[str] = Counter()
    for key, n in calls.items():
        kinds[call_kind(*key.split(":", 1))] += n
    return {k: round(kinds[k] / sent, 2) if sent else 0.0 for k in ("reads", "writes", "sends", "other")}


def summarise(config: SimulationConfig, shards: list[ShardOutput]) -> SimulationResult:
    """One result from the shards' outputs: merged first, then counted and audited once."""
    run = _merge(shards) if len(shards) > 1 else shards[0]
    summary = _summary(config, run)
    ledger = [i for i in run.items if i.get("type") == "LEDGER"]
    cases = [i for i in run.items if i.get("type") == "CASE"]
    return SimulationResult(summary, run.messages, ledger, cases, run.accounts, run.replies, run.daily)


def _merge(shards: list[ShardOutput]) -> ShardOutput:
    def joined(name: str) -> list[Any]:
        return [x for shard in shards for x in getattr(shard, name)]

    events: Counter[str] = Counter()
    calls: Counter[str] = Counter()
    invocations: Counter[str] = Counter()
    for shard in shards:
        events.update(shard.events)
        calls.update(shard.aws_calls)
        invocations.update(shard.invocations)
    daily = [{"day": row["day"], "messages": sum(shard.daily[n]["messages"] for shard in shards)}
             for n, row in enumerate(shards[0].daily)]
    return ShardOutput(
        portfolio=joined("portfolio"),
        messages=sorted(joined("messages"), key=lambda m: m.sent_at),  # stable: shard order within an instant
        items=sorted(joined("items"), key=lambda i: (str(i.get("pk")), str(i.get("sk")))),
        accounts=sorted(joined("accounts"), key=lambda a: a["account_id"]),
        replies=sorted(joined("replies"), key=lambda r: r["at"]),
        daily=daily, events=events, errors=joined("errors"), absent=set(joined("absent")),
        invocations=dict(invocations), aws_calls=calls, statuses=joined("statuses"),
        # Each shard imports its own file; a failed import is already among the errors.
        import_result={"files": [f for shard in shards if isinstance(shard.import_result, dict)
                                 for f in shard.import_result.get("files", [])]},
    )


def _run_shard(config: SimulationConfig, days_done: Any) -> ShardOutput:
    """A worker process: one shard on its own local AWS; progress goes back through a queue."""
    def progress(done: int, total: int) -> None:
        days_done.put((config.shard, done))

    return Simulation(config, progress).run_shard()


def run_simulation(config: SimulationConfig, progress: Progress | None = None,
                   function_log: TextIO | None = None, workers: int = 1) -> SimulationResult:
    """Live the portfolio in `workers` processes, one shard each (1: in this process).

    What happens to each account does not depend on the number of shards; what every shard does
    once (its import, its daily sweep invocation, its stream batches) does, so the summary is the
    same for the same arguments, workers included."""
    workers = max(1, min(workers, config.accounts))
    if function_log is not None and workers > 1:
        raise ValueError("function logs are kept in one process: run with workers=1 to capture them")
    if workers == 1:
        result = Simulation(config, progress, function_log).run()
        result.summary["workers"] = 1
        return result
    import multiprocessing
    import queue
    from concurrent.futures import ProcessPoolExecutor
    from dataclasses import replace

    started = time.perf_counter()
    context = multiprocessing.get_context("spawn")  # a clean interpreter: no mock or thread state inherited
    with context.Manager() as manager, ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        days_done = manager.Queue()
        futures = [pool.submit(_run_shard, replace(config, shards=workers, shard=n), days_done)
                   for n in range(workers)]
        done = [0] * workers
        while not all(f.done() for f in futures):
            try:
                shard, day = days_done.get(timeout=0.5)
            except queue.Empty:
                continue
            done[shard] = day
            if progress:
                progress(min(done), config.days)
        shards = [f.result() for f in futures]
    result = summarise(config, shards)
    result.summary["workers"] = workers
    result.summary["wall_seconds"] = round(time.perf_counter() - started, 2)
    return result


def write_dump(result: SimulationResult, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)

    def lines(name: str, rows: list[dict[str, Any]]) -> None:
        with (folder / name).open("w", encoding="utf-8") as out:
            for row in rows:
                out.write(json.dumps(row, default=str, ensure_ascii=False, sort_keys=True) + "\n")

    lines("messages.jsonl", [m.as_json() for m in result.messages])
    lines("ledger.jsonl", result.ledger)
    lines("accounts.jsonl", result.accounts)
    lines("replies.jsonl", result.replies)
