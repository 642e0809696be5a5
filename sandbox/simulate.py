"""`dunning simulate`: the whole stack on moto, a synthetic portfolio, simulated days.

The run provisions template.yaml (sandbox.aws), imports the portfolio as a CSV file dropped in
the IncomingBucket, and then lives each simulated day: the 06:00 UTC sweep schedule fires, the
AccountsTable stream is polled and handed to AccountStreamFunction in batches, the escalations
run on moto's Step Functions interpreter under the VirtualClock, which advances hour by hour
(only once every execution is parked). After each step the customers answer what the providers
delivered to them: payments are posted to the PaymentsBus, replies and agent outcomes go through
the functions that own them. The providers' own records (what SES and SNS received, stamped
with the virtual time) feed an independent audit (sandbox.audit).

A little longer than most modules: the driver of a run (the days, the customers, the agents' and
admins' desks) is one loop and reads best in one file; how customers decide is in
sandbox.personas, what a run leaves behind in sandbox.results.
"""

from __future__ import annotations

import contextlib
import faulthandler
import io
import json
import logging
import time
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

import boto3

from sandbox import events
from sandbox.audit import tally_drift
from sandbox.aws import local_aws, provision
from sandbox.bootstrap import LINK_SECRET, WEBHOOK_SECRETS, StreamPoller, complete_mock, drop_portfolio, sweep_event, z
from sandbox.channels import CustomerChannels
from sandbox.clock import VirtualClock
from sandbox.motocompat import backends
from sandbox.page_visits import CustomerPageVisits
from sandbox.personas import REPLY_DELAY_MINUTES, PersonaState
from sandbox.portfolio import SPECIAL_STATUS, SyntheticAccount, build_portfolio, from_account_file, in_shard
from sandbox.providers import ProviderMessage, ProviderTap
from sandbox.results import ShardOutput, SimulationResult, summarise, write_dump
from sandbox.reviewers import approver_decision, specialist_decision

__all__ = ["LINK_SECRET", "WEBHOOK_SECRETS", "ProviderMessage", "ShardOutput", "Simulation", "SimulationConfig",
           "SimulationResult", "run_simulation", "summarise", "write_dump"]

DEFAULT_START = date(2026, 9, 1)
SWEEP_HOUR = 6
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class SimulationConfig:
    accounts: int = 500
    days: int = 60
    seed: int = 7
    start: date = DEFAULT_START
    # Customers never interact, so the portfolio can be lived as independent shards, each on its
    # own local AWS in its own process: customer i (all their loans) belongs to shard i % shards.
    shards: int = 1
    shard: int = 0
    # A lender's account file to live instead of the synthetic portfolio (sandbox.portfolio.from_account_file).
    portfolio_file: str | None = None
    # A policy YAML published to PolicyBucket before anything runs (the bundled default otherwise).
    policy_file: str | None = None
    # Step Functions state transitions per case, read from the executions' histories at the end
    # (the cost model's largest infrastructure line; off by default, it reads every history).
    count_transitions: bool = False
    # Real seconds a shard may spend on one day before it counts as hung (None: see stall_seconds).
    stall_after: float | None = None


class Simulation(CustomerChannels, CustomerPageVisits):
    """One run: provisioned stack, virtual clock, portfolio, customers."""

    def __init__(self, config: SimulationConfig, progress: Progress | None = None,
                 function_log: TextIO | None = None) -> None:
        self.function_log = function_log
        self.config = config
        self.progress = progress
        self.portfolio = in_shard(portfolio_of(config), config.shard, config.shards)
        self.by_id = {a.account_id: a for a in self.portfolio}
        self.loans = loans_by_customer(self.portfolio)
        # A person's loans share their phone and email: a message reaches the person.
        self.by_phone = {a.phone: self.loans[a.customer] for a in self.portfolio if a.phone}
        self.by_email = {a.email: self.loans[a.customer] for a in self.portfolio if a.email}
        self.people = _persona_states(self.portfolio, self.loans)
        self.statuses: list[dict[str, Any]] = []  # special statuses the legal team set by admin command
        self.replies: list[dict[str, Any]] = []
        self.events: Counter[str] = Counter()
        self.absent: set[str] = set()
        self.errors: list[dict[str, Any]] = []
        self.daily: list[dict[str, Any]] = []
        self.tally_drift: list[str] = []  # read with the tables at the end (sandbox.audit.tally_drift)
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
            self._publish_policy()
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
                transitions = self._transitions() if self.config.count_transitions else {}
            invocations = self.stack.invocation_counts(runtime)
        return ShardOutput(self.portfolio, tap.messages, items, accounts, self.replies, self.daily, self.events,
                           self.errors, self.absent, invocations, runtime.aws_calls, self.import_result,
                           statuses=self.statuses, transitions=transitions, tally_drift=self.tally_drift)

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
        # What the invocation set off (an escalation woken by a reply, a payment, an agent's call)
        # runs to its next wait before the driver acts again: otherwise the woken execution and the
        # driver's next invocation race for the runtime, and one seed could tell two stories.
        self.clock.run_until_parked()
        return payload

    # ------------------------------------------------------------------ setup

    def _complete_mock(self) -> None:
        """What CloudFormation skipped on moto and the functions need; the stream is polled here."""
        complete_mock(self.stack, self.session, LINK_SECRET, WEBHOOK_SECRETS)

    def _publish_policy(self) -> None:
        """The policy to live under, published as `dunning policy publish` would (read by every function)."""
        if not self.config.policy_file:
            return
        from dunning.adapters.policy_store import PolicyBucket
        from dunning.domain.policy import parse_policy

        text = Path(self.config.policy_file).read_text(encoding="utf-8")
        PolicyBucket(self.client("s3"), self.stack.bucket("PolicyBucket"), self.stack.parameters["PolicyKey"]) \
            .publish(text, parse_policy(text).version, note="dunning simulate")

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
            synthetic = _loan_in(message, loans, self.people)
            message.account_id = synthetic.account_id
            self._react(self.people[synthetic.account_id], message, now)
        self._call_tasks(now)
        self._legal_reviews(now)
        self._specialist_reviews(now)
        for person in self.people.values():
            for amount in person.payments_due(now):
                self._pay(person, amount, now)

    def _react(self, person: PersonaState, message: ProviderMessage, now: datetime) -> None:
        if message.channel == "EMAIL":
            self._email_delivered(message)
        elif message.provider == "sms-voice":
            self._sms_delivered(message)
        elif message.provider == "aliyun":
            self._aliyun_delivered(message)
        deciding = person.pay_at is None
        answers = person.reads(message, now)
        if self._visits_page(person, message, now):
            pass  # answered on their own page (sandbox.page_visits), not by text
        elif answers:
            # A person answers a few minutes after the text arrives, never at the same instant.
            self.clock.advance_by(timedelta(minutes=REPLY_DELAY_MINUTES))
            now = self.clock.now()
            if message.channel == "EMAIL":
                self._reply_email(person, person.writes_reply(now), message, now)
            else:
                self._reply_sms(person, person.writes_reply(now), now)
        if deciding and person.pay_at is not None:
            self._pay_every_overdue_loan(person, now)
        elif message.sent_at.date() > person.account.due_date and (status := person.status_by_admin()):
            self.clock.advance_by(timedelta(minutes=REPLY_DELAY_MINUTES))
            now = self.clock.now()
            self._admin({"type": "set_special_status", "account_id": person.account.account_id, "status": status,
                         "note": "legal team: suit filed"}, now)
            self.statuses.append({"account_id": person.account.account_id, "customer": person.account.customer,
                                  "status": status, "at": z(now)})
            self.events["special_statuses_set_by_admin"] += 1

    def _pay_every_overdue_loan(self, person: PersonaState, now: datetime) -> None:
        """A person who decides to pay (or promises, naming no amount) pays every loan of theirs that
        is overdue, at the same time: whichever loan's notice reached them first."""
        for account in self.loans[person.account.customer]:
            state = self.people[account.account_id]
            if state is not person and state.pay_at is None and account.due_date < now.date() \
                    and state.paid < account.amount_due:
                state.pay_at, state.pay_amount = person.pay_at, account.amount_due - state.paid

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
            self.clock.run_until_parked()
        if self.runtime.invocations[self.stack.function_name("ApplyPaymentFunction")] == before:
            # moto did not route the bus to its target: deliver the same event as EventBridge would.
            self.invoke("ApplyPaymentFunction",
                        events.payment_posted(detail, self.stack.account_id, self.stack.region, now))
        person.paid += amount
        self.events["payments"] += 1

    # ------------------------------------------------------------------ agents and admins

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
            # The tracing desk looks for the right number and, in this portfolio, finds none.
            self._admin({"type": "record_skip_trace", "account_id": task["account_id"], "case_id": task["case_id"],
                         "outcome": "NOT_FOUND"}, now)
            self.events["skip_traces"] += 1
            return
        if person is None or task.get("kind") != "CALL" or not self.has_function("AdminFunction"):
            return  # nobody records an outcome: the task times out and the escalation plans again
        command = person.call_outcome(task)
        self._admin(command, now)
        self.events["call_outcomes"] += 1
        if command["outcome"] == "HARDSHIP":
            self._follow_plan(person, task)

    def _follow_plan(self, person: PersonaState, task: dict[str, Any]) -> None:
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
        person.follows_plan(instalments)

    def _legal_reviews(self, now: datetime) -> None:
        self._drain("LegalReviewQueue", "legal_reviews", lambda task: self._approve(task, now))

    def _approve(self, task: dict[str, Any], now: datetime) -> None:
        """The approver reads the case summary (show_case) and decides from it (sandbox.reviewers)."""
        if not self.has_function("AdminFunction"):
            return
        ids = {"account_id": task["account_id"], "case_id": task["case_id"]}
        view = self._admin({"type": "show_case", **ids}, now)
        approve, why = approver_decision(view.get("summary") or {}, now)
        seen = {"summary_digest": view["summary_digest"]} if view.get("summary_digest") else {}
        command = ({"type": "approve_legal_referral", **ids, "note": why} if approve
                   else {"type": "reject_legal_referral", **ids, "reason": why})
        self._admin(command | seen, now)
        self.events["legal_approvals" if approve else "legal_rejections"] += 1

    def _specialist_reviews(self, now: datetime) -> None:
        self._drain("SpecialistQueue", "specialist_reviews", lambda task: self._specialist(task, now))

    def _specialist(self, task: dict[str, Any], now: datetime) -> None:
        """The specialist reads the case summary and decides whether legal review may go ahead. (A
        vulnerable customer handed over carries no task token: the specialist simply takes them on.)"""
        if not self.has_function("AdminFunction") or not task.get("task_token"):
            return
        ids = {"account_id": task["account_id"], "case_id": task["case_id"]}
        view = self._admin({"type": "show_case", **ids}, now)
        decision, why = specialist_decision(view.get("summary") or {}, now)
        seen = {"summary_digest": view["summary_digest"]} if view.get("summary_digest") else {}
        self._admin({"type": "specialist_decision", **ids, "decision": decision, "reason": why} | seen, now)
        self.events[f"specialist_{decision.lower()}"] += 1

    def _admin(self, command: dict[str, Any], now: datetime) -> dict[str, Any]:
        result = self.invoke("AdminFunction", events.admin_event(command, now))
        status = int(result.get("statusCode", 500)) if isinstance(result, dict) else 500
        if status >= 300:
            self.errors.append({"function": "AdminFunction", "at": z(now), "error": str(result)[:300]})
            return {}
        return json.loads(result.get("body") or "{}")

    # ------------------------------------------------------------------ results

    def _transitions(self) -> dict[str, int]:
        return _transitions_of(self.client("stepfunctions"), self.stack.state_machine_arn)

    def _read_tables(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        from dunning.adapters.dynamo import from_item

        def every_item(table: str) -> list[dict[str, Any]]:  # what a whole Scan returns (motocompat)
            return [from_item(i) for i in backends.table_items(self.stack.account_id, self.stack.region, table)]

        everything = every_item(self.stack.table("CollectionsTable"))
        self.tally_drift = tally_drift(everything)
        collections = [i for i in everything if i.get("type") == "LEDGER" or i.get("type") == "CASE"]
        accounts = sorted(every_item(self.stack.table("AccountsTable")), key=lambda a: a["account_id"])
        return sorted(collections, key=lambda i: (str(i.get("pk")), str(i.get("sk")))), accounts


def _transitions_of(sfn: Any, state_machine_arn: str) -> dict[str, int]:
    """States entered per execution (execution name = case id): what Step Functions Standard bills."""
    out: dict[str, int] = {}
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=state_machine_arn):
        for execution in page["executions"]:
            entered = 0
            for hist in sfn.get_paginator("get_execution_history").paginate(executionArn=execution["executionArn"]):
                entered += sum(1 for e in hist["events"] if e["type"].endswith("StateEntered"))
            out[execution["name"]] = entered
    return out


def portfolio_of(config: SimulationConfig) -> list[SyntheticAccount]:
    """The whole portfolio a run lives (every shard takes its share of the same list)."""
    if config.portfolio_file:
        return from_account_file(Path(config.portfolio_file), config.seed).accounts
    return build_portfolio(config.accounts, config.seed, config.start)


def loans_by_customer(portfolio: list[SyntheticAccount]) -> dict[str, list[SyntheticAccount]]:
    loans: dict[str, list[SyntheticAccount]] = defaultdict(list)
    for account in portfolio:
        loans[account.customer].append(account)
    return dict(loans)


def _persona_states(portfolio: list[SyntheticAccount],
                    loans: dict[str, list[SyntheticAccount]]) -> dict[str, PersonaState]:
    """One state per loan. A special status is the person's: they tell it once, for all their
    loans; anything else (a promise, a dispute) they answer for each loan a notice is about."""
    states = {a.account_id: PersonaState(a) for a in portfolio}
    for held in loans.values():
        for account in held:  # a person pays late counting from their first loan's due date, whichever notice
            states[account.account_id].first_due = min(a.due_date for a in held)
        if held[0].persona not in SPECIAL_STATUS:
            continue
        shared = states[held[0].account_id].replied
        for account in held[1:]:
            states[account.account_id].replied = shared
    return states


def _loan_in(message: ProviderMessage, loans: list[SyntheticAccount],
             people: dict[str, PersonaState]) -> SyntheticAccount:
    """Which of a person's loans a message is about, as they would tell: one whose last four digits
    it names (one they have not answered about yet, when it names several)."""
    text = f"{message.subject or ''} {message.body}"
    named = [a for a in loans if a.account_number[-4:] in text] or loans[:1]
    return next((a for a in named if not people[a.account_id].replied), named[0])


def stall_seconds(config: SimulationConfig) -> float:
    """Real seconds a shard may spend on one day (or on its set-up) before it counts as hung: far
    above a day's work (about 0.06 s per account here), so only a deadlock reaches it."""
    if config.stall_after is not None:
        return config.stall_after
    return max(600.0, 0.5 * config.accounts / max(config.shards, 1))


def _run_shard(config: SimulationConfig, days_done: Any) -> ShardOutput:
    """A worker process: one shard on its own local AWS; progress goes back through a queue.

    A shard that stops moving dumps every thread's stack to stderr and exits, so the run fails
    loudly (the pool is broken) instead of waiting for it forever."""
    stall = stall_seconds(config)
    faulthandler.dump_traceback_later(stall, exit=True)

    def progress(done: int, total: int) -> None:
        days_done.put((config.shard, done))
        faulthandler.dump_traceback_later(stall, exit=True)  # a new day: the watch starts again

    try:
        return Simulation(config, progress).run_shard()
    finally:
        # Disarmed on the way out: the pool keeps this process for the next task, and a shard that
        # finished must not kill itself (breaking the pool) while another still lives its days.
        faulthandler.cancel_dump_traceback_later()


def _gathered(pool: Any, futures: list[Future[ShardOutput]], days_done: Any, days: int,
              progress: Progress | None) -> list[ShardOutput]:
    """The shards' outputs, passing on their progress (the slowest shard's day). A shard that
    fails ends the run at once with its own error: the other shards' processes are ended, not
    waited for through all their days."""
    import queue

    done = [0] * len(futures)
    while not all(f.done() for f in futures):
        if failed := next((f for f in futures if f.done() and f.exception() is not None), None):
            for process in list(getattr(pool, "_processes", {}).values()):
                process.terminate()
            failed.result()  # raises the shard's own error
        try:
            shard, day = days_done.get(timeout=0.5)
        except queue.Empty:
            continue
        done[shard] = day
        if progress:
            progress(min(done), days)
    return [f.result() for f in futures]


def run_simulation(config: SimulationConfig, progress: Progress | None = None,
                   function_log: TextIO | None = None, workers: int = 1) -> SimulationResult:
    """Live the portfolio in `workers` processes, one shard each (1: in this process).

    What happens to each account does not depend on the number of shards; what every shard does
    once (its import, its daily sweep invocation, its stream batches) does, so the summary is the
    same for the same arguments, workers included."""
    workers = max(1, min(workers, config.accounts or 1))
    if function_log is not None and workers > 1:
        raise ValueError("function logs are kept in one process: run with workers=1 to capture them")
    if workers == 1:
        result = Simulation(config, progress, function_log).run()
        result.summary["workers"] = 1
        return result
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool
    from dataclasses import replace

    started = time.perf_counter()
    context = multiprocessing.get_context("spawn")  # a clean interpreter: no mock or thread state inherited
    with context.Manager() as manager, ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        days_done = manager.Queue()
        futures = [pool.submit(_run_shard, replace(config, shards=workers, shard=n), days_done)
                   for n in range(workers)]
        try:
            shards = _gathered(pool, futures, days_done, config.days, progress)
        except BrokenProcessPool as exc:
            stall = stall_seconds(replace(config, shards=workers))
            raise RuntimeError(f"a shard ended abruptly (one that stalls for {stall:.0f} s prints every "
                               "thread's stack on stderr first)") from exc
    result = summarise(config, shards)
    result.summary["workers"] = workers
    result.summary["wall_seconds"] = round(time.perf_counter() - started, 2)
    return result
