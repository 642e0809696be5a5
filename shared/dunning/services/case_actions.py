"""Case actions: the one service every caller changes a case through.

Longer than most modules on purpose: every action any caller can take on a case is here, so one
file answers "what can happen to a case, and how is it recorded".

SMS replies, admin commands, agents' call outcomes (and the customer's page) are only different
callers of these actions, so a promise taken on the phone and one sent by text look the same to
the planner. An action decides from the case as read and returns its ledger entries; `perform`
commits them with the caller's own record (a REPLY or ADMIN entry) in one transaction, re-deciding
on a concurrent write, and then carries out what lies outside the case (`Effects`): the account's
opt-outs and contact flags, a task token to complete, a call-back to queue. Those are idempotent,
so a redelivered message repeats them harmlessly. Last, every arrangement the action made (a plan, a
promise, a dispute, an opt-out) is confirmed to the customer in writing, once.

An action that cannot apply (an illegal status change, a promise out of the policy's bounds)
writes a note instead of an entry, and the caller reports `applied: false`; nothing is half-done.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from dunning.domain.arrangements import (
    best_offer,
    hardship_pause_until,
    offer_plan,
    plan_data,
    promise_amount,
    validate_promise,
)
from dunning.domain.case_summary import CaseSummary, summarise_case
from dunning.domain.compliance import Attempt, ContactRecord, check
from dunning.domain.customers import CustomerProfile, StatusMark
from dunning.domain.history import CALL_OUTCOME_STANDARD, call_contact, entry_ref
from dunning.domain.intents import local_today
from dunning.domain.ledger import GENESIS
from dunning.domain.models import (
    Account,
    Case,
    CaseStatus,
    Channel,
    Contact,
    ContactHours,
    EntryKind,
    IllegalTransition,
    InstalmentPlan,
    LedgerEntry,
    Money,
    PlanStatus,
    Promise,
    ReasonCode,
    SpecialistDecision,
    SpecialStatus,
    iso_z,
)
from dunning.domain.policy import Policy
from dunning.domain.special_status import ROUTES, reasons_for
from dunning.observability import count, logger, metrics
from dunning.ports import CONTACT_RECORD, AccountHistory, CaseRecord, Conflict, NotFound, Ports, TransientError
from dunning.services import confirmations, customers
from dunning.services.confirmations import Confirmed

COMMIT_ATTEMPTS = 3

Entry = tuple[EntryKind, dict[str, Any]]
Entries = list[Entry]
ContactChange = Literal["OPT_OUT", "OPT_IN", "PHONE_UNUSABLE", "EMAIL_UNUSABLE"]
AccountChange = tuple[ContactChange, Channel | None]
TaskField = Literal["call_task_token", "approval_task_token", "specialist_task_token"]


PersonChange = Callable[[CustomerProfile], bool]
AccountEdit = Callable[[Account], bool]


@dataclass
class Effects:
    """What an action leaves to do once its entries are committed (decided again on a retry)."""

    account_changes: list[AccountChange] = field(default_factory=list)
    token: str | None = None  # a task token taken off the case, completed after the commit
    token_field: TaskField | None = None
    token_output: dict[str, Any] = field(default_factory=dict)
    callback: str | None = None  # a person should follow up, for this reason (a code)
    callback_slot: tuple[datetime, datetime] | None = None  # when the customer asked to be called
    preferences: Preferences | None = None  # language and hours the customer chose
    person_change: PersonChange | None = None  # the customer's profile (opt-outs, statuses), across loans
    frees_person: bool = False  # a status lifted: the person's other loans may be worked again at once
    account_edit: AccountEdit | None = None  # any other change to the account (a traced number ...)

    def reset(self) -> None:
        self.account_changes, self.token, self.token_field, self.token_output = [], None, None, {}
        self.callback, self.callback_slot, self.preferences = None, None, None
        self.person_change, self.account_edit, self.frees_person = None, None, False


@dataclass(frozen=True)
class Preferences:
    """What a customer chose for how we contact them: a language (None: core banking's) and hours
    that narrow the contact window (None: the whole window the law allows)."""

    locale: str | None
    hours: ContactHours | None


@dataclass
class ActionContext:
    """The world an action decides from. `notes` say why an action did not apply."""

    case: Case
    account: Account
    policy: Policy
    now: datetime
    notes: list[str] = field(default_factory=list)
    effects: Effects = field(default_factory=Effects)
    history: AccountHistory | None = None  # what reviewers' actions summarise (domain.case_summary)

    def summary(self) -> CaseSummary:
        """The case's history as a reviewer saw it (show_case shows the same summary)."""
        entries = self.history.ledger.get(self.case.case_id, []) if self.history is not None else []
        notices = self.history.notices.get(self.case.case_id, []) if self.history is not None else None
        return summarise_case(self.case, entries, self.now, account=self.account, notices=notices)


CaseAction = Callable[[ActionContext], Entries]


# --------------------------------------------------------------------------- finding the case


def active_case(history: AccountHistory) -> CaseRecord | None:
    """The account's case that collections is working (the newest, should there be several)."""
    live = [r for r in history.cases.values() if r.case.is_active or r.case.status is CaseStatus.LEGAL_REVIEW]
    return max(live, key=lambda r: r.case.opened_at, default=None)


def pseudo_case_id(prefix: str, account_id: str) -> str:
    return f"{prefix}-{account_id}"


def history_for_record(ports: Ports, account_id: str, case_id: str | None = None) -> AccountHistory:
    """What `case_for_record` needs: the live cases when the case is among them (the usual way, the
    same however many cases the account closed before), else the account whole."""
    history = ports.collections.live(account_id)
    found = history.cases.get(case_id) is not None if case_id is not None else active_case(history) is not None
    return history if found or history.whole else ports.collections.history(account_id)


def case_for_record(
    history: AccountHistory, account_id: str, now: datetime, prefix: str, case_id: str | None = None
) -> tuple[CaseRecord, bool]:
    """The case an event is recorded on: the one named, else the active case, else a closed pseudo
    case ``<prefix>-<account_id>`` that only carries the record. Returns (record, is_new)."""
    if case_id is not None:
        named = history.cases.get(case_id)
        if named is None:
            raise NotFound(f"case {case_id}")
        return named, False
    active = active_case(history)
    if active is not None:
        return active, False
    pid = pseudo_case_id(prefix, account_id)
    if pid in history.cases:
        return history.cases[pid], False
    case = Case(case_id=pid, account_id=account_id, status=CaseStatus.CLOSED, opened_at=now, closed_at=now,
                resolution=CONTACT_RECORD)
    return CaseRecord(case, -1, GENESIS), True


# --------------------------------------------------------------------------- committing


Mutation = Callable[[CaseRecord], Entries]


def commit_change(ports: Ports, record: CaseRecord, is_new: bool, change: Mutation, *, at: datetime,
                  actor: str) -> tuple[CaseRecord, list[LedgerEntry]]:
    """Apply `change` to the case and commit it with its ledger entries; on a concurrent write,
    re-read the case and apply the change again (it must decide from the case it is given)."""
    for attempt in range(COMMIT_ATTEMPTS):
        entries = change(record)
        try:
            return record, ports.collections.commit(record, entries, at=at, actor=actor, create=is_new)
        except Conflict:
            if attempt == COMMIT_ATTEMPTS - 1:
                break
            record, is_new = ports.collections.case(record.case.account_id, record.case.case_id), False
    raise TransientError("case kept changing while recording")


def update_account(ports: Ports, account_id: str, change: Callable[[Account], bool]) -> Account:
    """Change the account under its version (conditional write); `change` returns False when the
    account already is as wanted, so repeating an effect writes nothing."""
    for _ in range(COMMIT_ATTEMPTS):
        account = ports.accounts.get(account_id)
        if not change(account):
            return account
        try:
            return ports.accounts.put(account, account.version)
        except Conflict:
            continue
    raise TransientError("account kept changing")


def _contact_mutation(kind: ContactChange, channel: Channel | None) -> Callable[[Account], bool]:
    def change(account: Account) -> bool:
        if kind == "OPT_OUT" and channel is not None:
            if channel in account.opted_out:
                return False
            account.opted_out = account.opted_out | {channel}
        elif kind == "OPT_IN" and channel is not None:
            if channel not in account.opted_out:
                return False
            account.opted_out = account.opted_out - {channel}
        elif kind == "PHONE_UNUSABLE":
            if not account.contact.phone_usable:
                return False
            account.contact = account.contact.model_copy(update={"phone_usable": False})
        elif kind == "EMAIL_UNUSABLE":
            if not account.contact.email_usable:
                return False
            account.contact = account.contact.model_copy(update={"email_usable": False})
        else:
            return False
        return True

    return change


def apply_account_change(ports: Ports, account_id: str, change: AccountChange | None) -> None:
    """Carry an opt-out or an unusable contact over to the account. An account row that no longer
    exists (deleted, erased) has nothing to change: the ledger keeps the record, nothing retries."""
    if change is None:
        return
    try:
        update_account(ports, account_id, _contact_mutation(*change))
    except NotFound:
        logger.info("account change for an account that no longer exists",
                    extra={"account_id": account_id, "change": change[0]})
        metrics.add_metric(name="AccountChangesOrphaned", unit="Count", value=1)


def person_opt(kind: ContactChange, channel: Channel | None) -> PersonChange | None:
    """An opt-out (or in) is the person's, across all their loans."""
    if kind not in ("OPT_OUT", "OPT_IN") or channel is None:
        return None
    return lambda profile: profile.opt(channel, kind == "OPT_OUT")


def record_call_contacts(ports: Ports, account: Account, written: list[LedgerEntry], now: datetime) -> None:
    """An agent's call counts against the person's caps on every loan (after the commit)."""
    for entry in written:
        if entry.kind is EntryKind.CALL_OUTCOME:
            contact = ContactRecord(at=entry.data.get("called_at") or entry.at, channel=Channel.CALL,
                                    outcome=call_contact(str(entry.data.get("outcome"))),
                                    number_hash=entry.data.get("number_hash"), ref=entry_ref(entry))
            customers.record_contact(ports, account.customer, contact, now)


def queue_callback(ports: Ports, case_id: str, account_id: str, reason: str,
                   slot: tuple[datetime, datetime] | None = None) -> None:
    """A person should look at this (ids and a reason code on the queue; the ledger holds what was said).
    With a slot, the customer asked to be called then (UTC instants inside their contact window)."""
    # queued_at lets the worklist show how long a customer has waited for a person (and CallQueue's
    # oldest-message age alarms when nobody picks these up).
    task: dict[str, Any] = {"case_id": case_id, "account_id": account_id, "reason": reason,
                            "queued_at": iso_z(ports.clock.now())}
    if slot is not None:
        task |= {"call_from": iso_z(slot[0]), "call_until": iso_z(slot[1])}
    ports.tasks.put("CALLBACK", task)
    metrics.add_metric(name="CallbacksQueued", unit="Count", value=1)


def apply_preferences(ports: Ports, account_id: str, chosen: Preferences) -> None:
    def change(account: Account) -> bool:
        if (account.preferred_locale, account.preferred_hours) == (chosen.locale, chosen.hours):
            return False
        account.preferred_locale, account.preferred_hours = chosen.locale, chosen.hours
        return True

    update_account(ports, account_id, change)


@dataclass
class Performed:
    """A committed action: the case as written, its new entries, and whether the action applied."""

    record: CaseRecord
    written: list[LedgerEntry]
    applied: bool
    notes: list[str]
    effects: Effects
    task_completed: bool = False
    confirmed: Confirmed = field(default_factory=Confirmed)  # the written confirmations it called for


RecordEntry = Callable[[CaseRecord, ActionContext, Entries, CaseStatus], Entry]


def perform(ports: Ports, account_id: str, action: CaseAction, record_entry: RecordEntry, *, actor: str,
            case_id: str | None = None, prefix: str = "ADMIN", history: AccountHistory | None = None,
            account: Account | None = None, now: datetime | None = None, channel: Channel | None = None,
            confirm: bool = True) -> Performed:
    """Decide `action` on the case, commit its entries after the caller's record, then carry out
    its effects. `record_entry` builds the caller's entry (REPLY, ADMIN ...) from what was decided.

    Every arrangement the action made is then confirmed to the customer in writing
    (dunning.services.confirmations), on `channel` (the one the customer used) when it is written
    and may be used; the caller's entry lists those confirmations, so a redelivery can finish them."""
    now = now or ports.clock.now()
    history = history or history_for_record(ports, account_id, case_id)
    account = account or ports.accounts.get(account_id)
    record, is_new = case_for_record(history, account_id, now, prefix, case_id)
    policy = ports.policy()
    ctx = ActionContext(record.case, account, policy, now, history=history)
    to_confirm: list[confirmations.Confirmation] = []

    def mutation(rec: CaseRecord) -> Entries:
        ctx.case, ctx.notes = rec.case, []
        ctx.effects.reset()
        before = rec.case.status
        entries = action(ctx)
        _release_specialist_task(rec.case, before, ctx.effects)
        to_confirm[:] = confirmations.for_entries(entries, now) if confirm else []
        kind, data = record_entry(rec, ctx, entries, before)
        if to_confirm:
            data = {**data, "confirmations": [c.as_record() for c in to_confirm]}
        return [(kind, data), *entries]

    record, written = commit_change(ports, record, is_new, mutation, at=now, actor=actor)
    done = Performed(record, written, applied=not ctx.notes or len(written) > 1, notes=ctx.notes,
                     effects=ctx.effects)
    # A change that lets the person be contacted again (a status lifted, an opt-in) concerns each of
    # their loans; one that restricts contact needs no wake (every send is checked against it).
    freed: CustomerProfile | None = None
    for change in ctx.effects.account_changes:
        apply_account_change(ports, account_id, change)
        opt = person_opt(*change)
        if opt is not None:
            profile = customers.update(ports, account.customer, opt)
            freed = profile if change[0] == "OPT_IN" else freed
    if ctx.effects.account_edit is not None:
        update_account(ports, account_id, ctx.effects.account_edit)
    if ctx.effects.person_change is not None:
        profile = customers.update(ports, account.customer, ctx.effects.person_change)
        freed = profile if ctx.effects.frees_person else freed
    record_call_contacts(ports, account, written, now)
    _report_violations(record, written)
    if ctx.effects.preferences is not None:
        apply_preferences(ports, account_id, ctx.effects.preferences)
    if ctx.effects.token is not None and ctx.effects.token_field is not None:
        done.task_completed = _complete(ports, record, ctx.effects.token, ctx.effects.token_output,
                                        ctx.effects.token_field, ctx.notes, actor)
    if ctx.effects.callback:
        queue_callback(ports, record.case.case_id, account_id, ctx.effects.callback, ctx.effects.callback_slot)
    done.confirmed = confirmations.send(ports, record.case.case_id, account_id, to_confirm, prefer=channel,
                                        actor=actor)
    if len(written) > 1 or ctx.effects.callback:  # the action did something beyond being recorded
        wake(ports, record)
    if freed is not None:
        _wake_other_loans(ports, freed, account_id)
    return done


def wake(ports: Ports, record: CaseRecord) -> None:
    """After a commit that changed the case: end the escalation's wait, so the case is planned now.

    The token may be spent already (the timer, another event): that is the usual race and costs
    one call. Any other failure leaves the case to its timer (the commit stands)."""
    token = record.case.wake_token
    if not token:
        return
    try:
        ports.workflow.succeed(token, {"woken": "CASE_CHANGED"})
    except NotFound:
        return
    except Exception:  # noqa: BLE001 - the commit is done; the wait's own timeout still plans the case
        logger.warning("could not wake the escalation", extra={"case_id": record.case.case_id})
        metrics.add_metric(name="WakeFailures", unit="Count", value=1)


def wake_loan(ports: Ports, account_id: str) -> bool:
    """Plan the loan's open case now, if its escalation is waiting (a read of the headers of the
    account's live cases: for rare changes that reach the case from outside it, such as the
    lender's file or another loan's)."""
    record = active_case(ports.collections.live_headers(account_id))
    if record is None or not record.case.wake_token:
        return False
    wake(ports, record)
    return True


def _wake_other_loans(ports: Ports, person: CustomerProfile, account_id: str) -> None:
    """The person may be contacted again: their other open cases are planned again now, not at
    the end of their waits."""
    for other in person.accounts:
        if other != account_id:
            wake_loan(ports, other)


def _report_violations(record: CaseRecord, written: list[LedgerEntry]) -> None:
    for entry in written:
        if entry.kind is EntryKind.VIOLATION:
            # CallOutsideWindowAlarm (template.yaml) watches this: any breach pages the team.
            count("CallOutsideWindow", Reason=str(entry.data.get("rule")))
            logger.warning("call outside the contact window",
                           extra={"case_id": record.case.case_id, "rule": entry.data.get("rule")})


def _release_specialist_task(case: Case, before: CaseStatus, effects: Effects) -> None:
    """A case a specialist took out of SPECIALIST (a plan, a pause, a promise ...) goes back to the
    escalation at once, rather than when the waiting review task times out."""
    if before is CaseStatus.SPECIALIST and case.status is not CaseStatus.SPECIALIST \
            and case.specialist_task_token is not None and effects.token is None:
        effects.token, case.specialist_task_token = case.specialist_task_token, None
        effects.token_field, effects.token_output = "specialist_task_token", {"status": case.status.value}


def _complete(ports: Ports, record: CaseRecord, token: str, output: dict[str, Any], token_field: TaskField,
              notes: list[str], actor: str) -> bool:
    """Complete the waiting task; if Step Functions cannot be reached, put the token back and raise."""
    try:
        ports.workflow.succeed(token, output)
    except NotFound:
        notes.append("the task was no longer waiting (timed out or already completed)")
        return False
    except Exception:
        fresh = ports.collections.case(record.case.account_id, record.case.case_id)
        setattr(fresh.case, token_field, token)
        ports.collections.commit(fresh, [], at=ports.clock.now(), actor=actor)
        raise
    return True


# --------------------------------------------------------------------------- the actions


def move(case: Case, target: CaseStatus, notes: list[str]) -> bool:
    """Transition the case; an illegal move is noted for the ledger, never raised to the caller."""
    try:
        case.transition(target)
    except IllegalTransition as exc:
        notes.append(f"illegal transition {exc.current} -> {exc.target}")
        return False
    return True


def hold_entry(status: str, reason: str, **more: Any) -> Entry:
    return EntryKind.HOLD, {"status": status, "reason": reason, **more}


def opt_out_entry(channel: Channel, action: str, source: str) -> Entry:
    return EntryKind.OPT_OUT, {"channel": channel.value, "action": action, "source": source}


def plan_entry(plan: InstalmentPlan) -> dict[str, Any]:
    return plan_data(plan)


def promise(promised_on: date, amount: Decimal | None, channel: Channel | None) -> CaseAction:
    """Hold the case until the promised date (the planner decides kept or broken from payments)."""

    def act(ctx: ActionContext) -> Entries:
        case, account, notes = ctx.case, ctx.account, ctx.notes
        owed = account.amount_due
        promised = Money.of(amount, account.currency) if amount is not None else owed
        today = local_today(ctx.now, account.time_zones[0])
        problems = validate_promise(promised_on, promised, owed, today, ctx.policy.promises)
        if problems:
            notes.extend(problems)
            return []
        if not case.can_transition(CaseStatus.PROMISED):
            move(case, CaseStatus.PROMISED, notes)
            return []
        recorded = promise_amount(promised, owed)
        held = case.promise
        if case.status is CaseStatus.PROMISED and held is not None and (held.promised_on, held.amount) == (
                promised_on, recorded):
            # The same promise again (a redelivered call task, a repeated text): on record already.
            notes.append("the same promise is already recorded")
            return []
        paid = sum((p.amount.amount for p in account.payments), Decimal(0))
        case.promise = Promise(promised_on=promised_on, amount=recorded, made_at=ctx.now, channel=channel,
                               paid_at_making=paid)
        case.paused_until = None
        move(case, CaseStatus.PROMISED, notes)
        return [(EntryKind.PROMISE, {"promised_on": promised_on.isoformat(), "amount": format(recorded.amount, "f"),
                                     "currency": recorded.currency})]

    return act


def offer_plan_action(count: int | None = None, first_due: date | None = None, *, pause: bool = True) -> CaseAction:
    """Put an instalment plan on offer; with `pause` (hardship), also pause for the policy's days."""

    def act(ctx: ActionContext) -> Entries:
        case, notes, hardship = ctx.case, ctx.notes, ctx.policy.hardship
        if case.plan is not None and case.plan.status is PlanStatus.ACTIVE:
            notes.append("a plan is already active")
            return []
        today = local_today(ctx.now, ctx.account.time_zones[0])
        latest = today + timedelta(days=ctx.policy.promises.max_days_ahead)
        first = first_due if first_due is not None and today < first_due <= latest else (
            today + timedelta(days=hardship.instalment_interval_days))
        plan_id = f"P{ctx.now:%Y%m%d%H%M%S}"
        owed = ctx.account.amount_due
        try:
            plan = (offer_plan(owed, count, first, hardship, plan_id, ctx.now) if count
                    else best_offer(owed, first, hardship, plan_id, ctx.now))
        except ValueError as exc:  # PlanOfferError: the message names the rule only
            notes.append(str(exc))
            plan = None
        entries: Entries = []
        if pause and move(case, CaseStatus.PAUSED, notes):
            case.paused_until = hardship_pause_until(ctx.now, hardship)
            case.pause_reason = "HARDSHIP"
            entries.append(hold_entry("PAUSED", "HARDSHIP", until=iso_z(case.paused_until)))
        if plan is None:
            notes.append("no plan fits the policy")
            return entries
        if pause and case.status is not CaseStatus.PAUSED:
            return entries  # the case could not be paused (disputed, ended): no offer either
        case.plan = plan
        entries.append((EntryKind.PLAN, plan_entry(plan)))
        return entries

    return act


def accept_plan(ctx: ActionContext) -> Entries:
    """Accept the plan on offer."""
    case, notes = ctx.case, ctx.notes
    plan = case.plan
    if plan is None or plan.status is not PlanStatus.OFFERED:
        notes.append("no plan on offer")
        return []
    if not move(case, CaseStatus.IN_PLAN, notes):
        return []
    # An offer accepted on or after its first due date (after a hardship pause, say) would start
    # broken: its schedule moves so the first instalment keeps the lead time it was offered with.
    # An offer accepted in time keeps its dates, a date the customer chose included.
    zone = ctx.account.time_zones[0]
    first_due, today = plan.instalments[0].due_on, local_today(ctx.now, zone)
    instalments = plan.instalments
    if first_due <= today:
        lead = max(first_due - local_today(plan.offered_at, zone), timedelta(days=1))
        shift = today + lead - first_due
        instalments = [i.model_copy(update={"due_on": i.due_on + shift}) for i in instalments]
        notes.append(f"instalment dates moved {shift.days} days: the offer was accepted on or after its first due date")
    case.plan = plan.model_copy(update={"status": PlanStatus.ACTIVE, "accepted_at": ctx.now,
                                        "instalments": instalments})
    case.paused_until, case.pause_reason = None, None
    return [(EntryKind.PLAN, plan_entry(case.plan))]


def agree_plan(count: int | None, plan_id: str | None = None) -> CaseAction:
    """Accept the plan on offer; with a count (and no matching offer), offer that plan and accept it."""

    def act(ctx: ActionContext) -> Entries:
        plan = ctx.case.plan
        if plan is not None and plan.status is PlanStatus.OFFERED and plan_id in (None, plan.plan_id) and not count:
            return accept_plan(ctx)
        if count is None:
            ctx.notes.append("no plan on offer; give a count to offer and accept one")
            return []
        offered = offer_plan_action(count, pause=False)(ctx)
        if not offered:
            return []
        accepted = accept_plan(ctx)
        return [*offered, *accepted] if accepted else []

    return act


def dispute(reason: str) -> CaseAction:
    def act(ctx: ActionContext) -> Entries:
        if not move(ctx.case, CaseStatus.DISPUTED, ctx.notes):
            return []
        ctx.case.dispute_reason = reason
        return [hold_entry("DISPUTED", reason)]

    return act


def resolve_dispute(outcome: Literal["OPEN", "CLOSED"]) -> CaseAction:
    def act(ctx: ActionContext) -> Entries:
        case = ctx.case
        if case.status is not CaseStatus.DISPUTED:
            ctx.notes.append(f"case is {case.status}, not DISPUTED")
            return []
        target = CaseStatus(outcome)
        if not move(case, target, ctx.notes):
            return []
        case.dispute_reason = None
        if target is CaseStatus.CLOSED:
            case.closed_at, case.resolution = ctx.now, "DISPUTE_UPHELD"
            return [hold_entry("CLOSED", "DISPUTE_UPHELD"),
                    (EntryKind.CASE_CLOSED, {"status": "CLOSED", "reasons": ["DISPUTE_UPHELD"]})]
        return [hold_entry("OPEN", "DISPUTE_REJECTED")]

    return act


def pause(until: datetime | None, days: int | None, reason: str) -> CaseAction:
    def act(ctx: ActionContext) -> Entries:
        if not move(ctx.case, CaseStatus.PAUSED, ctx.notes):
            return []
        end = until or ctx.now + timedelta(days=days or ctx.policy.hardship.pause_days)
        ctx.case.paused_until, ctx.case.pause_reason = end, reason
        return [hold_entry("PAUSED", reason, until=iso_z(end))]

    return act


def payment_claimed(ctx: ActionContext) -> Entries:
    """The customer says they paid: hold dunning for the policy's check window while the payment
    feed catches up and a person checks; a payment that arrives cures the case as always."""
    days = ctx.policy.promises.payment_check_days
    entries = pause(None, days, "PAYMENT_CLAIMED")(ctx) if ctx.case.status is CaseStatus.OPEN else []
    ctx.effects.callback = "PAYMENT_CHECK"
    return entries


def resume(ctx: ActionContext) -> Entries:
    case = ctx.case
    if case.status is not CaseStatus.PAUSED:
        ctx.notes.append(f"case is {case.status}, not PAUSED")
        return []
    move(case, CaseStatus.OPEN, ctx.notes)
    case.paused_until, case.pause_reason = None, None
    return [hold_entry("OPEN", "RESUMED")]


def change_contact(kind: ContactChange, channel: Channel | None, source: str) -> CaseAction:
    """Opt a channel out or in, or mark a phone or address unusable (the account changes after the commit)."""

    def act(ctx: ActionContext) -> Entries:
        ctx.effects.account_changes.append((kind, channel))
        if kind in ("OPT_OUT", "OPT_IN") and channel is not None:
            return [opt_out_entry(channel, kind, source)]
        return []

    return act


def request_callback(reason: str, slot: tuple[datetime, datetime] | None = None) -> CaseAction:
    """The customer asks a person to call (in a slot they chose): a CALLBACK task after the commit."""

    def act(ctx: ActionContext) -> Entries:
        ctx.effects.callback, ctx.effects.callback_slot = reason, slot
        return []

    return act


def set_preferences(chosen: Preferences) -> CaseAction:
    """Preferred language and hours: the account changes after the commit (the caller's entry says what)."""

    def act(ctx: ActionContext) -> Entries:
        ctx.effects.preferences = chosen
        return []

    return act


def waive_fee(amount: Decimal, reason: str) -> CaseAction:
    """Record the waiver; `apply_fee_waiver` then takes it off the account."""

    def act(ctx: ActionContext) -> Entries:
        if amount > ctx.account.fees_due:
            ctx.notes.append("waiver exceeds the fees due")
            return []
        return [(EntryKind.ADMIN, {"event": "FEE_WAIVED", "amount": format(amount, "f"),
                                   "currency": ctx.account.currency, "reason": reason})]

    return act


def apply_fee_waiver(ports: Ports, account_id: str, amount: Decimal) -> None:
    def change(account: Account) -> bool:
        if amount > account.fees_due:  # fees changed since: never waive more than is owed
            return False
        account.fees_due = account.fees_due - amount
        return True

    update_account(ports, account_id, change)


# Standard outcome codes (RIGHT_PARTY, PROMISE, REFUSED, NO_ANSWER, WRONG_PARTY, CALLBACK) and the
# older codes, each recorded with the standard one it maps to (dunning.domain.history).
CallOutcome = Literal["RIGHT_PARTY", "PROMISE", "REFUSED", "NO_ANSWER", "WRONG_PARTY", "CALLBACK",
                      "LEFT_MESSAGE", "HARDSHIP", "DISPUTE", "WRONG_NUMBER", "PAID_CLAIMED"]


def call_window_violation(ctx: ActionContext, called_at: datetime, person: CustomerProfile | None) -> Entry | None:
    """A call outside the customer's contact window (or on a holiday) in any of their zones: the
    outcome still stands (the call happened), and the breach is recorded with the local times."""
    result = check(Attempt(channel=Channel.CALL), ctx.account, None, [], ctx.policy, called_at,
                   person.person() if person is not None else None)
    broken = [r for r in result.reasons if r in (ReasonCode.CONTACT_WINDOW, ReasonCode.HOLIDAY)]
    if not broken:
        return None
    details = [d for d in result.details if d.split(":")[0] in {r.value for r in broken}]
    return EntryKind.VIOLATION, {"rule": broken[0].value, "reasons": [r.value for r in broken],
                                 "channel": Channel.CALL.value, "at": iso_z(called_at), "details": details}


def call_outcome(outcome: CallOutcome, *, hash_number: Callable[[str | None], str | None],
                 promised_on: date | None = None, amount: Decimal | None = None, instalments: int | None = None,
                 note: str | None = None, called_at: datetime | None = None,
                 person: CustomerProfile | None = None) -> CaseAction:
    """An agent's call: recorded (with its standard code), checked against the contact window,
    its effect on the case applied, the waiting call task completed."""

    def act(ctx: ActionContext) -> Entries:
        case, notes = ctx.case, ctx.notes
        if case.call_task_token is not None:
            ctx.effects.token, case.call_task_token = case.call_task_token, None
            ctx.effects.token_field, ctx.effects.token_output = "call_task_token", {"outcome": outcome}
            case.call_task_since = None
        at = called_at or ctx.now
        entry = {"outcome": outcome, "standard": CALL_OUTCOME_STANDARD[outcome],
                 "number_hash": hash_number(ctx.account.contact.phone), "note": note,
                 "called_at": iso_z(at) if called_at is not None else None}
        effects: Entries = []
        violation = call_window_violation(ctx, at, person)
        if violation is not None:
            effects.append(violation)
        if outcome == "PROMISE":
            if promised_on is None:
                notes.append("a promise needs promised_on")
            else:
                effects += promise(promised_on, amount, Channel.CALL)(ctx)
        elif outcome == "HARDSHIP":
            effects += agree_plan(instalments or max(ctx.policy.hardship.instalment_counts))(ctx)
        elif outcome == "DISPUTE":
            effects += dispute(note or "CALL")(ctx)
        elif outcome in ("WRONG_NUMBER", "WRONG_PARTY"):
            # The planner then asks for the right number (skip trace) instead of escalating.
            ctx.effects.account_changes.append(("PHONE_UNUSABLE", None))
        elif outcome == "CALLBACK":
            ctx.effects.callback = "CALL_ME"  # they asked to be called at another time
        elif outcome == "PAID_CLAIMED":
            notes.append("payment claimed; only the payment feed confirms it")
        return [(EntryKind.CALL_OUTCOME, {k: v for k, v in entry.items() if v is not None}), *effects]

    return act


def special_status(status: SpecialStatus, *, lift: bool, source: str, by: str | None = None,
                   note: str | None = None) -> CaseAction:
    """Set (or lift) a special status on the customer: recorded on the case with its reason codes
    and route; the person's profile changes after the commit, so it holds for all their loans.

    A status read in a reply is a claim a person must verify: it also queues a call-back."""

    def act(ctx: ActionContext) -> Entries:
        account = ctx.account
        if lift:
            ctx.effects.person_change, ctx.effects.frees_person = customers.lift_status(status), True
            if account.special_status is status:
                def clear(acc: Account) -> bool:
                    if acc.special_status is not status:
                        return False
                    acc.special_status = None
                    return True
                ctx.effects.account_edit = clear
        else:
            ctx.effects.person_change = customers.set_status(StatusMark(
                status=status, since=ctx.now, source=source, account_id=account.account_id, by=by))
            if source == "REPLY":
                ctx.effects.callback = f"VERIFY_{status.value}"
        return [(EntryKind.SPECIAL_STATUS, {
            "event": "LIFTED" if lift else "SET", "status": status.value, "source": source, "route": ROUTES[status],
            "reasons": [r.value for r in reasons_for(status)], "by": by, "note": note})]

    return act


SkipTraceOutcome = Literal["FOUND", "NOT_FOUND", "CONFIRMED_SAME"]


def skip_trace_outcome(outcome: SkipTraceOutcome, new_phone: str | None, *,
                       hash_number: Callable[[str | None], str | None]) -> CaseAction:
    """What finding the right number gave: a new number (usable from now on), none, or the same
    one confirmed. Recorded (the number as a keyed hash only); the planner may then go on."""

    def act(ctx: ActionContext) -> Entries:
        if outcome == "FOUND" and new_phone is None:
            ctx.notes.append("FOUND needs new_phone")
            return []
        if outcome in ("FOUND", "CONFIRMED_SAME"):
            def edit(acc: Account) -> bool:
                phone = new_phone or acc.contact.phone
                if acc.contact.phone == phone and acc.contact.phone_usable:
                    return False
                acc.contact = Contact.model_validate(acc.contact.model_dump() | {"phone": phone, "phone_usable": True})
                return True
            ctx.effects.account_edit = edit
        return [(EntryKind.SKIP_TRACE, {"event": "OUTCOME", "outcome": outcome,
                                        "number_hash": hash_number(new_phone) if new_phone else None})]

    return act


CHANGED_SINCE_SEEN = "the case changed since that summary was shown: show_case again, then decide"


def _seen(ctx: ActionContext, seen_digest: str | None,
          enforce: bool = True) -> tuple[CaseSummary, dict[str, Any]] | None:
    """The summary now, and what the decision records of it; None (with a note) when the reviewer
    decided from a summary the case has since moved on from (`enforce`)."""
    summary = ctx.summary()
    if enforce and seen_digest is not None and seen_digest != summary.digest():
        ctx.notes.append(CHANGED_SINCE_SEEN)
        return None
    return summary, {"summary": summary.counts(), "seen_digest": seen_digest}


def legal_decision(approve: bool, by: str, text: str | None, seen_digest: str | None = None) -> CaseAction:
    """An admin's decision on a legal review; the waiting approval task is completed with it. The
    decision records the case summary it was taken on (its counts and digest); given the digest of
    the summary the admin saw, an approval of a case that has changed since is refused."""

    def act(ctx: ActionContext) -> Entries:
        case = ctx.case
        if case.status is not CaseStatus.LEGAL_REVIEW:
            ctx.notes.append(f"case is {case.status}, not LEGAL_REVIEW")
            return []
        seen = _seen(ctx, seen_digest, enforce=approve)  # a rejection stands whatever changed
        if seen is None:
            return []
        token, case.approval_task_token = case.approval_task_token, None
        if token is not None:
            ctx.effects.token, ctx.effects.token_field = token, "approval_task_token"
            ctx.effects.token_output = {"approved": approve}
        if approve:
            case.legal_approved_at, case.legal_approved_by = ctx.now, by
            return [(EntryKind.LEGAL, {"event": "APPROVED", "by": by, "note": text, **seen[1]})]
        if not move(case, CaseStatus.OPEN, ctx.notes):
            return []
        return [(EntryKind.LEGAL, {"event": "REJECTED", "by": by, "reason": text, **seen[1]})]

    return act


def specialist_decision(decision: SpecialistDecision, by: str, reason: str,
                        seen_digest: str | None = None) -> CaseAction:
    """A specialist's decision on a case with them: LEGAL_REVIEW lets the legal review go ahead
    (the case returns to the escalation, which asks an admin to approve it); NO_LEGAL_REVIEW keeps
    the case with the specialist, out of the legal route. Recorded with the summary it was taken on."""

    def act(ctx: ActionContext) -> Entries:
        case = ctx.case
        if case.status is not CaseStatus.SPECIALIST:
            ctx.notes.append(f"case is {case.status}, not SPECIALIST")
            return []
        if decision is SpecialistDecision.LEGAL_REVIEW and ctx.account.time_barred:
            ctx.notes.append("time-barred debt never goes to legal review")
            return []
        seen = _seen(ctx, seen_digest)
        if seen is None:
            return []
        token, case.specialist_task_token = case.specialist_task_token, None
        if token is not None:
            ctx.effects.token, ctx.effects.token_field = token, "specialist_task_token"
            ctx.effects.token_output = {"decision": decision.value}
        case.specialist_decision, case.specialist_decided_at, case.specialist_decided_by = decision, ctx.now, by
        if decision is SpecialistDecision.LEGAL_REVIEW and not move(case, CaseStatus.OPEN, ctx.notes):
            return []
        return [(EntryKind.SPECIALIST, {"event": "DECIDED", "decision": decision.value, "by": by,
                                        "reason": reason, **seen[1]})]

    return act


def nothing(ctx: ActionContext) -> Entries:
    """Only the caller's record (a view, an export)."""
    return []
