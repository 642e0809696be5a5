"""Admin and collector actions: one typed command in, one ADMIN ledger entry (with who did it) out.

Commands that change a case go through the same effects as customer replies (listening), so a
promise taken on the phone and one sent by text look the same to the planner. An illegal status
change is recorded with the command and reported back (``applied: false``), never half-done.

Legal referral: ``approve_legal_referral`` records the approval and completes the LegalReview task
token with ``{"approved": true}``; the planner then sends the legal_referral notice, sets
REFERRED_TO_LEGAL and the referral is published. ``reject_legal_referral`` returns the case to OPEN
and completes the token with ``{"approved": false}``; the planner finds the legal step done and
closes the execution with STEPS_EXHAUSTED, leaving the case OPEN for manual handling.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from dunning.adapters.dynamo import CaseRecord
from dunning.adapters.errors import NotFound
from dunning.domain.ledger import verify_chain
from dunning.domain.models import (
    Account,
    Case,
    CaseStatus,
    Channel,
    DecimalStr,
    EntryKind,
    PlanStatus,
    UtcDatetime,
    iso_z,
    utc_now,
)
from dunning.domain.policy import Policy
from dunning.observability import count_recorded, logger, metrics
from dunning.services import listening
from dunning.services.listening import AccountChange
from dunning.services.runtime import Runtime

CALL_OUTCOMES = (
    "NO_ANSWER",
    "LEFT_MESSAGE",
    "PROMISE",
    "HARDSHIP",
    "DISPUTE",
    "WRONG_NUMBER",
    "REFUSED",
    "PAID_CLAIMED",
)
CallOutcome = Literal[
    "NO_ANSWER", "LEFT_MESSAGE", "PROMISE", "HARDSHIP", "DISPUTE", "WRONG_NUMBER", "REFUSED", "PAID_CLAIMED"
]


class AdminError(Exception):
    status = 400
    title = "Admin command refused"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class CaseNotFound(AdminError):
    status, title = 404, "No such case or account"


class NotConfigured(AdminError):
    status, title = 501, "Not configured"


class TaskCompleter(Protocol):
    def succeed(self, token: str, output: dict[str, Any]) -> None: ...


# --------------------------------------------------------------------------- commands


class _Command(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str
    account_id: str = Field(min_length=1, max_length=64)


class _CaseCommand(_Command):
    case_id: str = Field(min_length=1, max_length=128)


class PauseCase(_CaseCommand):
    type: Literal["pause_case"]
    until: UtcDatetime | None = None
    days: int | None = Field(default=None, ge=1, le=90)  # default: the policy's hardship pause
    reason: str = Field(default="ADMIN", max_length=200)


class ResumeCase(_CaseCommand):
    type: Literal["resume_case"]


class RecordPromise(_CaseCommand):
    type: Literal["record_promise"]
    promised_on: date
    amount: DecimalStr | None = None  # default: everything owed


class OfferPlan(_CaseCommand):
    type: Literal["offer_plan"]
    count: int | None = Field(default=None, ge=1, le=24)  # default: the most instalments the policy allows
    first_due: date | None = None


class AcceptPlan(_CaseCommand):
    type: Literal["accept_plan"]
    plan_id: str | None = None
    count: int | None = Field(
        default=None, ge=1, le=24
    )  # with no plan on offer: offer this one and accept it


class RecordDispute(_CaseCommand):
    type: Literal["record_dispute"]
    reason: str = Field(min_length=1, max_length=500)


class ResolveDispute(_CaseCommand):
    type: Literal["resolve_dispute"]
    outcome: Literal["OPEN", "CLOSED"]
    note: str | None = Field(default=None, max_length=500)


class RecordCallOutcome(_CaseCommand):
    type: Literal["record_call_outcome"]
    outcome: CallOutcome
    promised_on: date | None = None
    amount: DecimalStr | None = None
    instalments: int | None = Field(default=None, ge=1, le=24)
    note: str | None = Field(default=None, max_length=500)


class ApproveLegalReferral(_CaseCommand):
    type: Literal["approve_legal_referral"]
    note: str | None = Field(default=None, max_length=500)


class RejectLegalReferral(_CaseCommand):
    type: Literal["reject_legal_referral"]
    reason: str = Field(min_length=1, max_length=500)


class OptOut(_Command):
    type: Literal["opt_out"]
    channel: Channel
    case_id: str | None = None


class OptIn(_Command):
    type: Literal["opt_in"]
    channel: Channel
    case_id: str | None = None


class WaiveFee(_Command):
    type: Literal["waive_fee"]
    amount: DecimalStr = Field(gt=Decimal(0))
    reason: str = Field(min_length=1, max_length=500)
    case_id: str | None = None


class ShowCase(_CaseCommand):
    type: Literal["show_case"]


class ExportEvidence(_CaseCommand):
    type: Literal["export_evidence"]


AdminCommand = Annotated[
    PauseCase
    | ResumeCase
    | RecordPromise
    | OfferPlan
    | AcceptPlan
    | RecordDispute
    | ResolveDispute
    | RecordCallOutcome
    | ApproveLegalReferral
    | RejectLegalReferral
    | OptOut
    | OptIn
    | WaiveFee
    | ShowCase
    | ExportEvidence,
    Field(discriminator="type"),
]


class AdminRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    command: AdminCommand
    actor: str | None = Field(default=None, max_length=300)


# --------------------------------------------------------------------------- running a command

Entries = list[tuple[EntryKind, dict[str, Any]]]
CaseChange = Callable[[Case, Account, Policy, datetime, list[str]], Entries]


class _Outcome:
    def __init__(self) -> None:
        self.entries: Entries = []
        self.account_change: AccountChange | None = None
        self.token: str | None = None
        self.applied = True


def _params(command: _Command) -> dict[str, Any]:
    return command.model_dump(mode="json", exclude={"type"}, exclude_none=True)


def _run(
    rt: Runtime, command: _Command, actor: str, change: CaseChange | None, outcome: _Outcome | None = None
) -> tuple[CaseRecord, _Outcome, list[str]]:
    """Record the command (ADMIN entry with the caller) plus its case change, in one transaction."""
    now = utc_now()
    outcome = outcome or _Outcome()
    try:
        history = rt.collections.history(command.account_id)
        account = rt.accounts.get(command.account_id)
        record, is_new = listening.case_for_record(
            history, command.account_id, now, "ADMIN", getattr(command, "case_id", None)
        )
    except NotFound as exc:
        raise CaseNotFound(str(exc)) from exc
    policy = rt.policy()
    notes: list[str] = []

    def mutation(rec: CaseRecord) -> Entries:
        notes.clear()
        before = rec.case.status
        entries = change(rec.case, account, policy, now, notes) if change else []
        outcome.applied = not notes or bool(entries)
        admin = {
            "command": command.type,
            "params": _params(command),
            "by": actor,
            "applied": outcome.applied,
            "notes": list(notes),
            "status_before": before.value,
            "status_after": rec.case.status.value,
        }
        return [(EntryKind.ADMIN, admin), *entries]

    record, written = listening.commit_change(rt, record, is_new, mutation, at=now, actor=actor)
    metrics.add_metric(name="AdminCommands", unit="Count", value=1)
    count_recorded(written, record.case.variant)
    logger.info(
        "admin command recorded",
        extra={
            "case_id": record.case.case_id,
            "command": command.type,
            "applied": outcome.applied,
        },
    )
    return record, outcome, notes


def _result(
    command: _Command, record: CaseRecord, outcome: _Outcome, notes: list[str], **extra: Any
) -> dict[str, Any]:
    return {
        "command": command.type,
        "account_id": command.account_id,
        "case_id": record.case.case_id,
        "applied": outcome.applied,
        "case_status": record.case.status.value,
        "notes": notes,
        **extra,
    }


def _hold(status: str, reason: str, **more: Any) -> tuple[EntryKind, dict[str, Any]]:
    return EntryKind.HOLD, {"status": status, "reason": reason, **more}


# ----------------------------------------------------------------- case commands


def _pause(cmd: PauseCase) -> CaseChange:
    def change(case: Case, account: Account, policy: Policy, now: datetime, notes: list[str]) -> Entries:
        if not listening.move(case, CaseStatus.PAUSED, notes):
            return []
        until = cmd.until or now + timedelta(days=cmd.days or policy.hardship.pause_days)
        case.paused_until, case.pause_reason = until, cmd.reason
        return [_hold("PAUSED", cmd.reason, until=iso_z(until))]

    return change


def _resume(case: Case, account: Account, policy: Policy, now: datetime, notes: list[str]) -> Entries:
    if case.status is not CaseStatus.PAUSED:
        notes.append(f"case is {case.status}, not PAUSED")
        return []
    listening.move(case, CaseStatus.OPEN, notes)
    case.paused_until, case.pause_reason = None, None
    return [_hold("OPEN", "RESUMED")]


def _promise(cmd: RecordPromise) -> CaseChange:
    def change(case: Case, account: Account, policy: Policy, now: datetime, notes: list[str]) -> Entries:
        return listening.record_promise(case, account, policy, now, cmd.promised_on, cmd.amount, None, notes)

    return change


def _offer(cmd: OfferPlan) -> CaseChange:
    def change(case: Case, account: Account, policy: Policy, now: datetime, notes: list[str]) -> Entries:
        return listening.offer_hardship_plan(
            case, account, policy, now, notes, first_due=cmd.first_due, count=cmd.count
        )

    return change


def _accept_or_offer(
    case: Case,
    account: Account,
    policy: Policy,
    now: datetime,
    notes: list[str],
    count: int | None,
    plan_id: str | None = None,
) -> Entries:
    plan = case.plan
    if (
        plan is not None
        and plan.status is PlanStatus.OFFERED
        and plan_id in (None, plan.plan_id)
        and not count
    ):
        return listening.accept_plan(case, account, now, notes)
    if count is None:
        notes.append("no plan on offer; give a count to offer and accept one")
        return []
    entries = listening.offer_hardship_plan(case, account, policy, now, notes, count=count, pause=False)
    if not entries:
        return []
    accepted = listening.accept_plan(case, account, now, notes)
    return [*entries, *accepted] if accepted else []


def _accept(cmd: AcceptPlan) -> CaseChange:
    def change(case: Case, account: Account, policy: Policy, now: datetime, notes: list[str]) -> Entries:
        return _accept_or_offer(case, account, policy, now, notes, cmd.count, cmd.plan_id)

    return change


def _dispute(cmd: RecordDispute) -> CaseChange:
    def change(case: Case, account: Account, policy: Policy, now: datetime, notes: list[str]) -> Entries:
        return listening.record_dispute(case, cmd.reason, notes)

    return change


def _resolve(cmd: ResolveDispute) -> CaseChange:
    def change(case: Case, account: Account, policy: Policy, now: datetime, notes: list[str]) -> Entries:
        if case.status is not CaseStatus.DISPUTED:
            notes.append(f"case is {case.status}, not DISPUTED")
            return []
        target = CaseStatus(cmd.outcome)
        if not listening.move(case, target, notes):
            return []
        case.dispute_reason = None
        if target is CaseStatus.CLOSED:
            case.closed_at, case.resolution = now, "DISPUTE_UPHELD"
            return [
                _hold("CLOSED", "DISPUTE_UPHELD"),
                (EntryKind.CASE_CLOSED, {"status": "CLOSED", "reasons": ["DISPUTE_UPHELD"]}),
            ]
        return [_hold("OPEN", "DISPUTE_REJECTED")]

    return change


def _call_outcome(rt: Runtime, cmd: RecordCallOutcome, outcome: _Outcome) -> CaseChange:
    def change(case: Case, account: Account, policy: Policy, now: datetime, notes: list[str]) -> Entries:
        outcome.token, case.call_task_token = case.call_task_token, None
        outcome.account_change = None
        entry = {
            "outcome": cmd.outcome,
            "number_hash": rt.phone_hash(account.contact.phone),
            "note": cmd.note,
        }
        effects: Entries = []
        if cmd.outcome == "PROMISE":
            if cmd.promised_on is None:
                notes.append("a promise needs promised_on")
            else:
                effects = listening.record_promise(
                    case, account, policy, now, cmd.promised_on, cmd.amount, Channel.CALL, notes
                )
        elif cmd.outcome == "HARDSHIP":
            effects = _accept_or_offer(
                case, account, policy, now, notes, cmd.instalments or max(policy.hardship.instalment_counts)
            )
        elif cmd.outcome == "DISPUTE":
            effects = listening.record_dispute(case, cmd.note or "CALL", notes)
        elif cmd.outcome == "WRONG_NUMBER":
            outcome.account_change = ("PHONE_UNUSABLE", None)
        elif cmd.outcome == "PAID_CLAIMED":
            notes.append("payment claimed; only the payment feed confirms it")
        return [(EntryKind.CALL_OUTCOME, {k: v for k, v in entry.items() if v is not None}), *effects]

    return change


def _complete(
    rt: Runtime,
    tasks: TaskCompleter,
    record: CaseRecord,
    token: str | None,
    output: dict[str, Any],
    field: str,
    notes: list[str],
) -> bool:
    """Complete the waiting task; if Step Functions cannot be reached, put the token back and raise."""
    if token is None:
        notes.append("no task was waiting")
        return False
    try:
        tasks.succeed(token, output)
    except NotFound:
        notes.append("the task was no longer waiting (timed out or already completed)")
        return False
    except Exception:
        fresh = rt.collections.case(record.case.account_id, record.case.case_id)
        setattr(fresh.case, field, token)
        rt.collections.commit(fresh, [], at=utc_now(), actor="Admin")
        raise
    return True


def _legal(cmd: ApproveLegalReferral | RejectLegalReferral, actor: str, outcome: _Outcome) -> CaseChange:
    approve = isinstance(cmd, ApproveLegalReferral)

    def change(case: Case, account: Account, policy: Policy, now: datetime, notes: list[str]) -> Entries:
        outcome.token = None
        if case.status is not CaseStatus.LEGAL_REVIEW:
            notes.append(f"case is {case.status}, not LEGAL_REVIEW")
            return []
        outcome.token, case.approval_task_token = case.approval_task_token, None
        if approve:
            case.legal_approved_at, case.legal_approved_by = now, actor
            return [(EntryKind.LEGAL, {"event": "APPROVED", "by": actor, "note": cmd.note})]  # type: ignore[union-attr]
        if not listening.move(case, CaseStatus.OPEN, notes):
            return []
        return [(EntryKind.LEGAL, {"event": "REJECTED", "by": actor, "reason": cmd.reason})]  # type: ignore[union-attr]

    return change


# ----------------------------------------------------------------- account commands


def _opt(cmd: OptOut | OptIn, outcome: _Outcome) -> CaseChange:
    action = "OPT_OUT" if isinstance(cmd, OptOut) else "OPT_IN"

    def change(case: Case, account: Account, policy: Policy, now: datetime, notes: list[str]) -> Entries:
        outcome.account_change = (action, cmd.channel)
        return [listening.opt_out_entry(cmd.channel, action, "ADMIN")]

    return change


def _waive(cmd: WaiveFee, outcome: _Outcome) -> CaseChange:
    def change(case: Case, account: Account, policy: Policy, now: datetime, notes: list[str]) -> Entries:
        if cmd.amount > account.fees_due:
            notes.append("waiver exceeds the fees due")
            return []
        return [
            (
                EntryKind.ADMIN,
                {
                    "event": "FEE_WAIVED",
                    "amount": format(cmd.amount, "f"),
                    "currency": account.currency,
                    "reason": cmd.reason,
                },
            )
        ]

    return change


def _apply_waiver(rt: Runtime, cmd: WaiveFee) -> None:
    def change(account: Account) -> bool:
        if cmd.amount > account.fees_due:  # fees changed since: never waive more than is owed
            return False
        account.fees_due = account.fees_due - cmd.amount
        return True

    listening.update_account(rt, cmd.account_id, change)


# ----------------------------------------------------------------- reading and evidence


# What support staff see of the customer's contact details: enough to confirm who they speak to.
_LAST_FOUR = {"regex_pattern": r".(?=.{4})", "mask_format": "*"}
_SUPPORT_MASK = {"contact.phone": _LAST_FOUR, "contact.email": _LAST_FOUR, "account_number": _LAST_FOUR}


def support_view(account: Account) -> dict[str, Any]:
    """The account as support may see it: phone, email and account number erased but for the last
    four characters (Powertools Data Masking), everything else as stored."""
    from aws_lambda_powertools.utilities.data_masking import DataMasking

    doc = account.model_dump(mode="json")
    present = {"contact.phone": doc["contact"].get("phone"), "contact.email": doc["contact"].get("email"),
               "account_number": doc.get("account_number")}
    rules = {path: _SUPPORT_MASK[path] for path, value in present.items() if value}
    return dict(DataMasking().erase(doc, masking_rules=rules)) if rules else doc


def _case_view(rt: Runtime, cmd: _CaseCommand) -> dict[str, Any]:
    history = rt.collections.history(cmd.account_id)
    record = history.cases.get(cmd.case_id)
    if record is None:
        raise CaseNotFound(f"case {cmd.case_id}")
    account = rt.accounts.find(cmd.account_id)
    return {
        "account": support_view(account) if account else None,
        "case": record.case.model_dump(mode="json", exclude={"call_task_token", "approval_task_token"}),
        "ledger": [e.model_dump(mode="json") for e in history.ledger.get(cmd.case_id, [])],
        "notices": [n.model_dump(mode="json") for n in history.notices.get(cmd.case_id, [])],
    }


def export_evidence(rt: Runtime, account_id: str, case_id: str, s3: Any | None = None) -> dict[str, Any]:
    """Ledger (JSONL, storage order), notices and the chain verdict to the archive bucket."""
    bucket = getattr(rt.settings, "archive_bucket", None)
    if not bucket:
        raise NotConfigured("ARCHIVE_BUCKET is not set")
    history = rt.collections.history(account_id)
    record = history.cases.get(case_id)
    if record is None:
        raise CaseNotFound(f"case {case_id}")
    entries = history.ledger.get(case_id, [])
    report = verify_chain(case_id, entries, expected_head_hash=record.ledger_head)
    prefix = f"evidence/{account_id}/{case_id}/{utc_now():%Y%m%dT%H%M%SZ}/"
    objects = {
        "ledger.jsonl": "".join(e.model_dump_json() + "\n" for e in entries),
        "notices.json": json.dumps(
            [n.model_dump(mode="json") for n in history.notices.get(case_id, [])],
            ensure_ascii=False,
            indent=1,
        ),
        "chain.json": report.model_dump_json(indent=1),
        "case.json": record.case.model_dump_json(exclude={"call_task_token", "approval_task_token"}),
    }
    client = s3 or rt.client("s3")
    keys = []
    for name, body in objects.items():
        key = prefix + name
        client.put_object(
            Bucket=bucket,
            Key=key,
            Body=body.encode("utf-8"),
            ContentType="application/x-ndjson" if name.endswith(".jsonl") else "application/json",
        )
        keys.append(key)
    if not report.ok:
        metrics.add_metric(name="LedgerChainBroken", unit="Count", value=1)
        logger.error(
            "ledger chain does not verify",
            extra={"case_id": case_id, "seqs": [p.seq for p in report.problems]},
        )
    return {
        "bucket": bucket,
        "keys": keys,
        "chain_ok": report.ok,
        "entries": report.entries,
        "problems": [p.model_dump(mode="json") for p in report.problems],
    }


# ----------------------------------------------------------------- dispatch


def execute(
    rt: Runtime, command: _Command, actor: str, tasks: TaskCompleter | None = None, s3: Any | None = None
) -> dict[str, Any]:
    """Run one admin command for `actor` (an IAM identity).

    Returns ids and codes; show_case also returns the case, its ledger and notices.
    """
    outcome = _Outcome()
    match command:
        case ShowCase():
            record, outcome, notes = _run(rt, command, actor, None)
            return _result(command, record, outcome, notes, **_case_view(rt, command))
        case ExportEvidence():
            record, outcome, notes = _run(rt, command, actor, None)
            return _result(
                command,
                record,
                outcome,
                notes,
                **export_evidence(rt, command.account_id, command.case_id, s3),
            )
        case RecordCallOutcome():
            record, outcome, notes = _run(rt, command, actor, _call_outcome(rt, command, outcome), outcome)
            listening.apply_account_change(rt, command.account_id, outcome.account_change)
            completed = (
                _complete(
                    rt,
                    _tasks(rt, tasks),
                    record,
                    outcome.token,
                    {"outcome": command.outcome},
                    "call_task_token",
                    notes,
                )
                if outcome.token
                else False
            )
            return _result(command, record, outcome, notes, task_completed=completed)
        case ApproveLegalReferral() | RejectLegalReferral():
            record, outcome, notes = _run(rt, command, actor, _legal(command, actor, outcome), outcome)
            completed = False
            if outcome.token is not None:
                completed = _complete(
                    rt,
                    _tasks(rt, tasks),
                    record,
                    outcome.token,
                    {"approved": isinstance(command, ApproveLegalReferral)},
                    "approval_task_token",
                    notes,
                )
            elif outcome.applied:
                notes.append("no approval task was waiting")
            return _result(command, record, outcome, notes, task_completed=completed)
        case OptOut() | OptIn():
            record, outcome, notes = _run(rt, command, actor, _opt(command, outcome), outcome)
            listening.apply_account_change(rt, command.account_id, outcome.account_change)
            return _result(command, record, outcome, notes)
        case WaiveFee():
            record, outcome, notes = _run(rt, command, actor, _waive(command, outcome), outcome)
            if outcome.applied:
                _apply_waiver(rt, command)
            return _result(command, record, outcome, notes)
    changes: dict[type, Callable[[Any], CaseChange]] = {
        PauseCase: _pause,
        RecordPromise: _promise,
        OfferPlan: _offer,
        AcceptPlan: _accept,
        RecordDispute: _dispute,
        ResolveDispute: _resolve,
    }
    if isinstance(command, ResumeCase):
        record, outcome, notes = _run(rt, command, actor, _resume, outcome)
    else:
        record, outcome, notes = _run(rt, command, actor, changes[type(command)](command), outcome)  # type: ignore[arg-type]
    return _result(command, record, outcome, notes)


def _tasks(rt: Runtime, tasks: TaskCompleter | None) -> TaskCompleter:
    if tasks is not None:
        return tasks
    from dunning.adapters.workflow import TaskTokens

    return TaskTokens(rt.client("stepfunctions"))
