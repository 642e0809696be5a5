"""Admin and collector actions: one typed command in, one ADMIN ledger entry (with who did it) out.

Longer than most modules on purpose: every command the admin desk and the agents can give, with
its validation and what it answers, is here, so one file answers "what can a person do to a case".

Commands that change a case are case actions (dunning.services.case_actions), the same ones customer
replies use, so a promise taken on the phone and one sent by text look the same to the planner. An illegal status
change is recorded with the command and reported back (``applied: false``), never half-done.

Agents: ``worklist`` lists the call tasks waiting on cases, with whether each customer's contact
window is open now (a read: nothing is recorded); ``reveal_phone`` shows an agent (only a caller in
the agent role) the full number and records who saw it, when and why; ``show_case`` keeps masking
it. ``record_call_outcome`` takes the standard codes (RIGHT_PARTY, PROMISE, REFUSED, NO_ANSWER,
WRONG_PARTY, CALLBACK; the older ones map onto them) and checks the call against the customer's
window: a call outside it is still recorded, with a VIOLATION entry and the CallOutsideWindow metric.

Special statuses: ``set_special_status`` sets or lifts BANKRUPTCY, DECEASED, CEASE_CONTACT,
LITIGATION_HOLD or VULNERABLE on the customer (all their loans); ``record_skip_trace`` records what
finding the right number gave.

Legal referral: ``show_case`` returns the case summary (contact attempts and outcomes, replies,
arrangements kept and broken, payments, hardship, disputes, days past due, amounts) and its
``summary_digest``; ``approve_legal_referral`` records the approval with the summary it was taken on
(refused if the digest given is not the case's any more) and completes the LegalReview task token
with ``{"approved": true}``; the planner then sends the legal_referral notice, sets
REFERRED_TO_LEGAL and the referral is published. ``reject_legal_referral`` returns the case to OPEN
and completes the token with ``{"approved": false}``; the planner finds the legal step done and
hands the case to a specialist (SpecialistQueue).

Specialist route: a case the ladder cannot send to legal review by itself (declared hardship, no
referral profile, a ladder that ended) waits in SPECIALIST for ``specialist_decision``:
LEGAL_REVIEW lets the legal review go ahead, NO_LEGAL_REVIEW keeps the case with the specialist,
who works it with the other commands (offer_plan, pause_case, record_promise ...).
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from dunning.domain.case_summary import summarise_case
from dunning.domain.compliance import Attempt, AttemptKind, Verdict, check
from dunning.domain.integrity import IntegrityReport
from dunning.domain.models import (
    E164,
    Account,
    BoundedAmount,
    CaseStatus,
    Channel,
    EntryKind,
    SpecialistDecision,
    SpecialStatus,
    UtcDatetime,
    iso_z,
)
from dunning.observability import count, count_recorded, logger, metrics
from dunning.ports import WORKLIST_KEY, CaseRecord, NotFound, Ports, Refused
from dunning.services import case_actions, erasure, integrity
from dunning.services.case_actions import CallOutcome, SkipTraceOutcome

CALL_OUTCOMES = (
    "RIGHT_PARTY",
    "PROMISE",
    "REFUSED",
    "NO_ANSWER",
    "WRONG_PARTY",
    "CALLBACK",
    "LEFT_MESSAGE",
    "HARDSHIP",
    "DISPUTE",
    "WRONG_NUMBER",
    "PAID_CLAIMED",
)
AGENT = "AGENT"  # the role that may see a customer's full phone number


class AdminResult(BaseModel):
    """What a command came to. `applied` is false when the case could not take it (`notes` say why);
    show_case, export_evidence and the task commands add their own fields."""

    model_config = ConfigDict(extra="allow")

    command: str
    account_id: str
    case_id: str
    applied: bool
    case_status: str
    notes: list[str]


class AdminError(Refused):
    title = "Admin command refused"


class CaseNotFound(AdminError):
    status, title = 404, "No such case or account"


class NotConfigured(AdminError):
    status, title = 501, "Not configured"


class Forbidden(AdminError):
    status, title = 403, "Not allowed for this caller"


class CommandRefused(AdminError):
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
    called_at: UtcDatetime | None = None  # when the call was made (default: now, as it is recorded)

    def action(self, ports: Ports, actor: str) -> case_actions.CaseAction:
        account = ports.accounts.find(self.account_id)
        person = ports.collections.customer(account.customer) if account is not None else None
        return case_actions.call_outcome(self.outcome, hash_number=ports.keys.phone_hash,
                                         promised_on=self.promised_on, amount=self.amount,
                                         instalments=self.instalments, note=self.note, called_at=self.called_at,
                                         person=person)


# The `summary_digest` show_case returned: the decision records it, and an approval (or a
# specialist's decision) of a case that has changed since is refused.
SummaryDigest = Annotated[str | None, Field(default=None, pattern=r"^[0-9a-f]{16}$")]


class ApproveLegalReferral(_CaseCommand):
    type: Literal["approve_legal_referral"]
    note: str | None = Field(default=None, max_length=500)
    summary_digest: SummaryDigest = None

    def action(self, ports: Ports, actor: str) -> case_actions.CaseAction:
        return case_actions.legal_decision(True, actor, self.note, self.summary_digest)


class RejectLegalReferral(_CaseCommand):
    type: Literal["reject_legal_referral"]
    reason: str = Field(min_length=1, max_length=500)
    summary_digest: SummaryDigest = None

    def action(self, ports: Ports, actor: str) -> case_actions.CaseAction:
        return case_actions.legal_decision(False, actor, self.reason, self.summary_digest)


class RecordSpecialistDecision(_CaseCommand):
    """A collections specialist decides a case on SpecialistQueue: LEGAL_REVIEW lets the legal
    review go ahead (an admin still approves it), NO_LEGAL_REVIEW keeps the case with the specialist."""

    type: Literal["specialist_decision"]
    decision: SpecialistDecision
    reason: str = Field(min_length=1, max_length=500)
    summary_digest: SummaryDigest = None

    def action(self, ports: Ports, actor: str) -> case_actions.CaseAction:
        return case_actions.specialist_decision(self.decision, actor, self.reason, self.summary_digest)


class _ChannelCommand(_Command):
    channel: Channel
    case_id: str | None = None

    def action(self, ports: Ports, actor: str) -> case_actions.CaseAction:
        return case_actions.change_contact("OPT_OUT" if self.type == "opt_out" else "OPT_IN", self.channel, "ADMIN")


class OptOut(_ChannelCommand):
    type: Literal["opt_out"]


class OptIn(_ChannelCommand):
    type: Literal["opt_in"]


class WaiveFee(_Command):
    type: Literal["waive_fee"]
    amount: BoundedAmount = Field(gt=Decimal(0))
    reason: str = Field(min_length=1, max_length=500)
    case_id: str | None = None

    def action(self, ports: Ports, actor: str) -> case_actions.CaseAction:
        return case_actions.waive_fee(self.amount, self.reason)


class SetSpecialStatus(_Command):
    type: Literal["set_special_status"]
    status: SpecialStatus
    lift: bool = False  # True: the status no longer applies (verified false, stay lifted, contact allowed)
    note: str | None = Field(default=None, max_length=500)
    case_id: str | None = None

    def action(self, ports: Ports, actor: str) -> case_actions.CaseAction:
        return case_actions.special_status(self.status, lift=self.lift, source="ADMIN", by=actor, note=self.note)


class RecordSkipTrace(_CaseCommand):
    type: Literal["record_skip_trace"]
    outcome: SkipTraceOutcome
    new_phone: E164 | None = None

    def action(self, ports: Ports, actor: str) -> case_actions.CaseAction:
        return case_actions.skip_trace_outcome(self.outcome, self.new_phone, hash_number=ports.keys.phone_hash)


class RevealPhone(_CaseCommand):
    type: Literal["reveal_phone"]
    reason: str = Field(min_length=1, max_length=200)  # e.g. "outbound call, task call_7"

    def action(self, ports: Ports, actor: str) -> case_actions.CaseAction:
        def act(ctx: case_actions.ActionContext) -> case_actions.Entries:
            return [(EntryKind.PHONE_REVEALED, {"by": actor, "reason": self.reason,
                                                "number_hash": ports.keys.phone_hash(ctx.account.contact.phone)})]
        return act


class ShowCase(_CaseCommand):
    type: Literal["show_case"]


class ExportEvidence(_CaseCommand):
    type: Literal["export_evidence"]


class Worklist(BaseModel):
    """The agents' worklist: call tasks waiting on cases, oldest first (a read: nothing is recorded)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["worklist"]
    limit: int = Field(default=25, ge=1, le=100)
    due_only: bool = True  # only customers whose contact window is open now
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
    | RecordSpecialistDecision
    | OptOut
    | OptIn
    | WaiveFee
    | ShowCase
    | ExportEvidence
    | SetSpecialStatus
    | RecordSkipTrace
    | RevealPhone
    | Worklist
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


def _erase(ports: Ports, command: EraseCustomer, actor: str) -> AdminResult:
    """Erasure spans every case of the account, so it is not one case action (services.erasure)."""
    try:
        erased = erasure.erase_customer(ports, command.account_id, actor, command.request_id)
    except erasure.ErasureRefused as exc:
        raise CommandRefused(str(exc)) from exc
    cases = [str(c) for c in erased.get("cases") or []]
    return AdminResult(command=command.type, account_id=command.account_id, case_id=cases[-1] if cases else "",
                       applied=True, case_status="ERASED", notes=[], cases=cases,
                       items_changed=erased.get("items_changed"))


def _verdict(ports: Ports, command: VerifyCase) -> IntegrityReport:
    """Taken before the command is recorded: the verdict is about the ledger as it was found."""
    try:
        return integrity.verify_case(ports, command.account_id, command.case_id)
    except NotFound as exc:
        raise CaseNotFound(str(exc)) from exc


def _result_fields(ports: Ports, command: _Command, done: case_actions.Performed,
                   verdict: IntegrityReport | None) -> dict[str, Any]:
    """What a command adds to its result, and what it does once recorded (a waiver, an anchor)."""
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
            violations = [e.data for e in done.written if e.kind is EntryKind.VIOLATION]
            extra = {"task_completed": done.task_completed, "violations": violations}
        case RevealPhone():
            account = ports.accounts.get(command.account_id)
            count("PhoneReveals")
            extra = {"phone": account.contact.phone}
        case ApproveLegalReferral() | RejectLegalReferral():
            if done.effects.token is None and done.applied:
                done.notes.append("no approval task was waiting")
            extra = {"task_completed": done.task_completed}
        case RecordSpecialistDecision():
            extra = {"task_completed": done.task_completed}
    return extra


def execute(ports: Ports, command: _Command | Worklist, actor: str, roles: frozenset[str] = frozenset()
            ) -> AdminResult | WorklistResult:
    """Run one admin command for `actor` (an IAM identity in `roles`): the ADMIN entry (with who did
    it) and the case action it asks for, in one transaction. Returns ids and codes; show_case also
    returns the case, its ledger and notices; export_evidence the archived objects; verify_case the
    verdict; reveal_phone (agents only) the number; worklist the waiting call tasks."""
    if isinstance(command, Worklist):
        return worklist(ports, command)
    if isinstance(command, RevealPhone) and AGENT not in roles:
        count("PhoneRevealsRefused")
        raise Forbidden("only a caller in the agent role may see a customer's phone number")
    if isinstance(command, EraseCustomer):
        return _erase(ports, command, actor)
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
    extra = _result_fields(ports, command, done, verdict)
    return AdminResult(command=command.type, account_id=command.account_id, case_id=done.record.case.case_id,
                       applied=done.applied, case_status=done.record.case.status.value, notes=done.notes, **extra)


# ----------------------------------------------------------------- the agents' worklist


def _worklist_row(ports: Ports, account_id: str, case_id: str, now: datetime) -> dict[str, Any] | None:
    try:
        record = ports.collections.case(account_id, case_id)
        account = ports.accounts.get(account_id)
    except NotFound:
        return None
    case = record.case
    if case.call_task_token is None:
        return None  # completed since the index was read
    person = ports.collections.customer(account.customer).person()
    policy = ports.policy()
    verdict = check(Attempt(channel=Channel.CALL, kind=AttemptKind.COLLECTION), account, case, [], policy, now, person)
    window = {"CONTACT_WINDOW", "HOLIDAY"}
    blocked_by = sorted(r.value for r in verdict.reasons)
    in_window = not window.intersection(blocked_by)
    zone = ZoneInfo(account.time_zones[0])
    since = case.call_task_since or case.opened_at
    return {
        "case_id": case_id, "account_id": account_id, "customer_id": account.customer,
        "step_id": case.steps_done[-1] if case.steps_done else None,
        "waiting_since": iso_z(since), "waiting_hours": round((now - since).total_seconds() / 3600, 1),
        "local_time": f"{now.astimezone(zone):%a %H:%M} {zone.key}",
        "in_window": in_window,
        "window_opens_at": iso_z(verdict.until) if verdict.verdict is Verdict.DEFER and not in_window
        and verdict.until else None,
        "holds": [r for r in blocked_by if r not in window],  # caps, holds, statuses: call with care or not at all
        "phone": support_view(account)["contact"].get("phone"),
    }


class WorklistResult(BaseModel):
    """The worklist: one row per waiting call task, and the same rows as lines for a console."""

    command: Literal["worklist"] = "worklist"
    at: str
    tasks: list[dict[str, Any]]
    lines: list[str]


def worklist(ports: Ports, command: Worklist) -> WorklistResult:
    """Call tasks due now, in each customer's contact window, oldest first; ids and masked numbers
    only (reveal_phone shows an agent the number, and records it)."""
    now = ports.clock.now()
    rows: list[dict[str, Any]] = []
    # Bounded: at most 3 * limit cases are looked at per request.
    for item in ports.collections.lookup(WORKLIST_KEY, limit=command.limit * 3):
        account_id = str(item["pk"]).removeprefix("ACCOUNT#")
        case_id = str(item["sk"]).removeprefix("CASE#")
        row = _worklist_row(ports, account_id, case_id, now)
        if row is None or (command.due_only and not (row["in_window"] and not row["holds"])):
            continue
        rows.append(row)
        if len(rows) >= command.limit:
            break
    lines = [f"{r['waiting_hours']:>6}h  {r['case_id']:<28} {r['step_id'] or '-':<16} {r['local_time']:<30} "
             f"{'in window' if r['in_window'] else 'window ' + str(r['window_opens_at'])}  {r['phone']}"
             for r in rows]
    return WorklistResult(at=iso_z(now), tasks=rows, lines=lines)


# ----------------------------------------------------------------- reading and evidence


_TOKENS = {"call_task_token", "approval_task_token", "specialist_task_token"}

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
    history = ports.collections.case_history(cmd.account_id, cmd.case_id)
    record = history.cases.get(cmd.case_id)
    if record is None:
        raise CaseNotFound(f"case {cmd.case_id}")
    account = ports.accounts.find(cmd.account_id)
    # What a reviewer judges from: the history in counts, with the amounts (never on a queue).
    summary = summarise_case(record.case, history.ledger.get(cmd.case_id, []), ports.clock.now(), account=account,
                             notices=history.notices.get(cmd.case_id, []))
    return {
        "account": support_view(account) if account else None,
        "summary": summary.model_dump(mode="json"),
        "summary_digest": summary.digest(),
        "case": record.case.model_dump(mode="json", exclude=_TOKENS),
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
    history = ports.collections.case_history(account_id, case_id)
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
        "case.json": record.case.model_dump_json(exclude=_TOKENS),
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
