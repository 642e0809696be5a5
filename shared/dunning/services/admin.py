"""Admin and collector actions: one typed command in, one ADMIN ledger entry (with who did it) out.

Commands that change a case are case actions (dunning.services.case_actions), the same ones customer
replies use, so a promise taken on the phone and one sent by text look the same to the planner. An illegal status
change is recorded with the command and reported back (``applied: false``), never half-done.

Legal referral: ``approve_legal_referral`` records the approval and completes the LegalReview task
token with ``{"approved": true}``; the planner then sends the legal_referral notice, sets
REFERRED_TO_LEGAL and the referral is published. ``reject_legal_referral`` returns the case to OPEN
and completes the token with ``{"approved": false}``; the planner finds the legal step done and
closes the execution with STEPS_EXHAUSTED, leaving the case OPEN for manual handling.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from dunning.domain.models import Account, BoundedAmount, CaseStatus, Channel, EntryKind, UtcDatetime
from dunning.observability import count_recorded, logger, metrics
from dunning.ports import CaseRecord, NotFound, Ports
from dunning.services import case_actions, erasure, integrity
from dunning.services.case_actions import CallOutcome

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


class Refused(AdminError):
    status, title = 409, "Command refused in the case's present state"


# --------------------------------------------------------------------------- commands


class _Command(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str
    account_id: str = Field(min_length=1, max_length=64)

    def action(self, ports: Ports, actor: str) -> case_actions.CaseAction:
        """The case action this command asks for; a view or an export only records the command."""
        return case_actions.nothing


class _CaseCommand(_Command):
    case_id: str = Field(min_length=1, max_length=128)


class PauseCase(_CaseCommand):
    type: Literal["pause_case"]
    until: UtcDatetime | None = None
    days: int | None = Field(default=None, ge=1, le=90)  # default: the policy's hardship pause
    reason: str = Field(default="ADMIN", max_length=200)

    def action(self, ports: Ports, actor: str) -> case_actions.CaseAction:
        return case_actions.pause(self.until, self.days, self.reason)


class ResumeCase(_CaseCommand):
    type: Literal["resume_case"]

    def action(self, ports: Ports, actor: str) -> case_actions.CaseAction:
        return case_actions.resume


class RecordPromise(_CaseCommand):
    type: Literal["record_promise"]
    promised_on: date
    amount: BoundedAmount | None = None  # default: everything owed

    def action(self, ports: Ports, actor: str) -> case_actions.CaseAction:
        return case_actions.promise(self.promised_on, self.amount, None)


class OfferPlan(_CaseCommand):
    type: Literal["offer_plan"]
    count: int | None = Field(default=None, ge=1, le=24)  # default: the most instalments the policy allows
    first_due: date | None = None

    def action(self, ports: Ports, actor: str) -> case_actions.CaseAction:
        return case_actions.offer_plan_action(self.count, self.first_due)


class AcceptPlan(_CaseCommand):
    type: Literal["accept_plan"]
    plan_id: str | None = None
    count: int | None = Field(
        default=None, ge=1, le=24
    )  # with no plan on offer: offer this one and accept it

    def action(self, ports: Ports, actor: str) -> case_actions.CaseAction:
        return case_actions.agree_plan(self.count, self.plan_id)


class RecordDispute(_CaseCommand):
    type: Literal["record_dispute"]
    reason: str = Field(min_length=1, max_length=500)

    def action(self, ports: Ports, actor: str) -> case_actions.CaseAction:
        return case_actions.dispute(self.reason)


class ResolveDispute(_CaseCommand):
    type: Literal["resolve_dispute"]
    outcome: Literal["OPEN", "CLOSED"]
    note: str | None = Field(default=None, max_length=500)

    def action(self, ports: Ports, actor: str) -> case_actions.CaseAction:
        return case_actions.resolve_dispute(self.outcome)


class RecordCallOutcome(_CaseCommand):
    type: Literal["record_call_outcome"]
    outcome: CallOutcome
    promised_on: date | None = None
    amount: BoundedAmount | None = None
    instalments: int | None = Field(default=None, ge=1, le=24)
    note: str | None = Field(default=None, max_length=500)

    def action(self, ports: Ports, actor: str) -> case_actions.CaseAction:
        return case_actions.call_outcome(self.outcome, hash_number=ports.keys.phone_hash,
                                         promised_on=self.promised_on, amount=self.amount,
                                         instalments=self.instalments, note=self.note)


class ApproveLegalReferral(_CaseCommand):
    type: Literal["approve_legal_referral"]
    note: str | None = Field(default=None, max_length=500)

    def action(self, ports: Ports, actor: str) -> case_actions.CaseAction:
        return case_actions.legal_decision(True, actor, self.note)


class RejectLegalReferral(_CaseCommand):
    type: Literal["reject_legal_referral"]
    reason: str = Field(min_length=1, max_length=500)

    def action(self, ports: Ports, actor: str) -> case_actions.CaseAction:
        return case_actions.legal_decision(False, actor, self.reason)


class OptOut(_Command):
    type: Literal["opt_out"]
    channel: Channel
    case_id: str | None = None

    def action(self, ports: Ports, actor: str) -> case_actions.CaseAction:
        return case_actions.change_contact("OPT_OUT", self.channel, "ADMIN")


class OptIn(_Command):
    type: Literal["opt_in"]
    channel: Channel
    case_id: str | None = None

    def action(self, ports: Ports, actor: str) -> case_actions.CaseAction:
        return case_actions.change_contact("OPT_IN", self.channel, "ADMIN")


class WaiveFee(_Command):
    type: Literal["waive_fee"]
    amount: BoundedAmount = Field(gt=Decimal(0))
    reason: str = Field(min_length=1, max_length=500)
    case_id: str | None = None

    def action(self, ports: Ports, actor: str) -> case_actions.CaseAction:
        return case_actions.waive_fee(self.amount, self.reason)


class ShowCase(_CaseCommand):
    type: Literal["show_case"]


class ExportEvidence(_CaseCommand):
    type: Literal["export_evidence"]


class VerifyCase(_CaseCommand):
    """Check the case's chain, seals, header and anchors; the answer names the first entry that
    disagrees and why."""

    type: Literal["verify_case"]


class EraseCustomer(_Command):
    """Erase the customer's personal data (PIPL/CCPA request), keeping the record (services.erasure)."""

    type: Literal["erase_customer"]
    request_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")  # the request's reference


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
    | ExportEvidence
    | VerifyCase
    | EraseCustomer,
    Field(discriminator="type"),
]


class AdminRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    command: AdminCommand
    actor: str | None = Field(default=None, max_length=300)


# --------------------------------------------------------------------------- running a command


def _admin_entry(command: _Command, actor: str) -> case_actions.RecordEntry:
    def entry(rec: CaseRecord, ctx: case_actions.ActionContext, entries: case_actions.Entries,
              before: CaseStatus) -> case_actions.Entry:
        return EntryKind.ADMIN, {
            "command": command.type,
            "params": command.model_dump(mode="json", exclude={"type"}, exclude_none=True),
            "by": actor,
            "applied": not ctx.notes or bool(entries),
            "notes": list(ctx.notes),
            "status_before": before.value,
            "status_after": rec.case.status.value,
        }

    return entry


def _verdict(ports: Ports, command: VerifyCase) -> integrity.IntegrityReport:
    """Taken before the command is recorded: the verdict is about the ledger as it was found."""
    try:
        return integrity.verify_case(ports, command.account_id, command.case_id)
    except NotFound as exc:
        raise CaseNotFound(str(exc)) from exc


def execute(ports: Ports, command: _Command, actor: str) -> dict[str, Any]:
    """Run one admin command for `actor` (an IAM identity): the ADMIN entry (with who did it) and the
    case action it asks for, in one transaction. Returns ids and codes; show_case also returns the
    case, its ledger and notices; export_evidence the archived objects; verify_case the verdict."""
    if isinstance(command, EraseCustomer):
        try:
            return erasure.erase_customer(ports, command.account_id, actor, command.request_id)
        except erasure.ErasureRefused as exc:
            raise Refused(str(exc)) from exc
    verdict = _verdict(ports, command) if isinstance(command, VerifyCase) else None
    try:
        done = case_actions.perform(ports, command.account_id, command.action(ports, actor),
                                    _admin_entry(command, actor), actor=actor,
                                    case_id=getattr(command, "case_id", None))
    except NotFound as exc:
        raise CaseNotFound(str(exc)) from exc
    metrics.add_metric(name="AdminCommands", unit="Count", value=1)
    count_recorded(done.written, done.record.case.variant)
    logger.info("admin command recorded", extra={"case_id": done.record.case.case_id, "command": command.type,
                                                  "applied": done.applied})
    extra: dict[str, Any] = {}
    match command:
        case ShowCase():
            extra = _case_view(ports, command)
        case ExportEvidence():
            extra = export_evidence(ports, command.account_id, command.case_id)
        case VerifyCase() if verdict is not None:
            extra = {"verified": verdict.ok, "summary": verdict.summary(),
                     "first": verdict.first.model_dump(mode="json") if verdict.first else None,
                     "problems": [p.model_dump(mode="json") for p in verdict.problems],
                     "sealed_through": verdict.sealed_through, "anchored_through": verdict.anchored_through}
        case WaiveFee() if done.applied:
            case_actions.apply_fee_waiver(ports, command.account_id, command.amount)
        case ResolveDispute() if done.applied:
            integrity.anchor_at_close(ports, done.record)
        case RecordCallOutcome():
            extra = {"task_completed": done.task_completed}
        case ApproveLegalReferral() | RejectLegalReferral():
            if done.effects.token is None and done.applied:
                done.notes.append("no approval task was waiting")
            extra = {"task_completed": done.task_completed}
    return {
        "command": command.type,
        "account_id": command.account_id,
        "case_id": done.record.case.case_id,
        "applied": done.applied,
        "case_status": done.record.case.status.value,
        "notes": done.notes,
        **extra,
    }


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


def _case_view(ports: Ports, cmd: _CaseCommand) -> dict[str, Any]:
    history = ports.collections.history(cmd.account_id)
    record = history.cases.get(cmd.case_id)
    if record is None:
        raise CaseNotFound(f"case {cmd.case_id}")
    account = ports.accounts.find(cmd.account_id)
    return {
        "account": support_view(account) if account else None,
        "case": record.case.model_dump(mode="json", exclude={"call_task_token", "approval_task_token"}),
        "ledger": [e.model_dump(mode="json")
                   for e in ports.collections.reveal(record, history.ledger.get(cmd.case_id, []))],
        "notices": [n.model_dump(mode="json") for n in history.notices.get(cmd.case_id, [])],
    }


def export_evidence(ports: Ports, account_id: str, case_id: str) -> dict[str, Any]:
    """Ledger (JSONL, storage order, personal fields as stored), notices and the verdict on chain,
    seals, header and anchors to the archive bucket, retained as long as the case's jurisdiction
    requires (Object Lock, per object)."""
    bucket = ports.archive_bucket
    if not bucket:
        raise NotConfigured("ARCHIVE_BUCKET is not set")
    history = ports.collections.history(account_id)
    record = history.cases.get(case_id)
    if record is None:
        raise CaseNotFound(f"case {case_id}")
    entries = history.ledger.get(case_id, [])
    report = integrity.verify_case(ports, account_id, case_id)
    now = ports.clock.now()
    retain_until = integrity.years_after(now, integrity.retention_years(ports.policy(), record.case.jurisdiction))
    prefix = f"evidence/{account_id}/{case_id}/{ports.clock.now():%Y%m%dT%H%M%SZ}/"
    objects = {
        "ledger.jsonl": "".join(e.model_dump_json() + "\n" for e in entries),
        "notices.json": json.dumps(
            [n.model_dump(mode="json") for n in history.notices.get(case_id, [])],
            ensure_ascii=False,
            indent=1,
        ),
        "chain.json": report.model_dump_json(indent=1),  # chain, seals, header and anchors
        "case.json": record.case.model_dump_json(exclude={"call_task_token", "approval_task_token"}),
    }
    keys = []
    archive = ports.archive
    for name, body in objects.items():
        key = prefix + name
        content_type = "application/x-ndjson" if name.endswith(".jsonl") else "application/json"
        if archive is not None:
            archive.put(key, body.encode("utf-8"), content_type, retain_until)
        else:
            ports.files.put(bucket, key, body.encode("utf-8"), content_type)
        keys.append(key)
    if not report.ok:
        logger.error(
            "ledger chain does not verify",
            extra={"case_id": case_id, "seqs": [p.seq for p in report.problems]},
        )
    return {
        "bucket": bucket,
        "keys": keys,
        "chain_ok": report.ok,
        "retain_until": retain_until.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "entries": report.entries,
        "problems": [p.model_dump(mode="json") for p in report.problems],
    }
