"""PlanNextAction's brain: one decision for a case, now, from the whole picture.

Every call re-reads the world (account, case, history, policy), so a payment, opt-out, dispute,
promise or plan that arrived during a wait takes effect before anything else is sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from dunning.domain.arrangements import (
    PlanState,
    PromiseState,
    apply_payments,
    next_instalment,
    plan_state,
    promise_state,
    reminder_date,
)
from dunning.domain.compliance import Attempt, AttemptKind, ContactRecord, Person, Verdict, check, with_preferred_hours
from dunning.domain.history import CALL_OUTCOME_STANDARD
from dunning.domain.models import (
    Account,
    Action,
    Case,
    CaseStatus,
    Channel,
    Decision,
    EntryKind,
    LedgerEntry,
    Notice,
    NoticeStatus,
    ReasonCode,
    SpecialStatus,
    special_status_reason,
)
from dunning.domain.policy import Policy, Step, StepKind, Strategy, holdout_days

# Events during a wait only take effect at the next plan; bounding waits bounds that lag. A plan
# accepted mid-wait still gets its first reminder on time: the policy keeps the first instalment's
# reminder at least MAX_WAIT after acceptance (instalment interval minus reminder lead >= 3 days).
MAX_WAIT = timedelta(days=3)
MIN_WAIT = timedelta(minutes=1)
REMINDER_TEMPLATE = "instalment_reminder"
LEGAL_REFERRAL_STEP = "legal_referral"
# Replies to customers' texts are sent by the inbound functions, not by the planner.
SERVICE_STEP_PREFIX = "service_"
LEGAL_REFERRAL_TEMPLATE = "legal_referral"
# Before a legal review, one call to reach the debtor when no attempt has been made yet.
PRE_LEGAL_CALL_STEP = "pre_legal_call"
SKIP_TRACE_TASK = "SKIP_TRACE"
SPECIALIST_TASK = "SPECIALIST"


@dataclass(frozen=True)
class Reach:
    """What the case's ledger says about reaching the right person (see `reach_from`)."""

    right_party_attempted: bool = False  # a call to the debtor (any outcome but wrong party), or their reply
    skip_trace_requested: bool = False
    skip_trace_outcome: str | None = None  # FOUND, NOT_FOUND ... once recorded
    specialist_queued: bool = False


def reach_from(entries: Sequence[LedgerEntry]) -> Reach:
    """Reach facts from one case's ledger entries."""
    attempted = requested = specialist = False
    outcome: str | None = None
    for e in entries:
        if e.kind is EntryKind.CALL_OUTCOME:
            attempted |= CALL_OUTCOME_STANDARD.get(str(e.data.get("outcome")), "RIGHT_PARTY") != "WRONG_PARTY"
        elif e.kind is EntryKind.REPLY:
            attempted |= e.data.get("intent") != "WRONG_NUMBER"
        elif e.kind is EntryKind.SKIP_TRACE:
            requested |= e.data.get("event") == "REQUESTED"
            if e.data.get("event") == "OUTCOME":
                outcome = str(e.data.get("outcome"))
        elif e.kind is EntryKind.SPECIALIST:
            specialist = True
    return Reach(attempted, requested, outcome, specialist)


@dataclass
class PlanOutcome:
    """The decision, plus what the service must change on the case before acting on it."""

    decision: Decision
    new_status: CaseStatus | None = None
    skipped_steps: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)  # work for people to queue with the decision (SKIP_TRACE ...)


def local_today(account: Account, now: datetime) -> date:
    return now.astimezone(ZoneInfo(account.time_zones[0])).date()


def day_opens_at(account: Account, policy: Policy, day: date) -> datetime:
    """The UTC instant the contact window opens on `day` in the customer's first zone."""
    # the customer's preferred hours narrow the window: a wait aims at the hour a notice may go
    window = with_preferred_hours(policy.for_jurisdiction(account.jurisdiction), account).contact_window
    local = datetime.combine(day, window.start, tzinfo=ZoneInfo(account.time_zones[0]))
    return local.astimezone(UTC)


def plan_reminder_step(plan_id: str, number: int) -> str:
    return f"plan_{plan_id}_{number}_reminder".replace("-", "_").lower()


class _Planner:
    def __init__(self, case: Case, account: Account, history: Sequence[ContactRecord],
                 notices: Sequence[Notice], policy: Policy, strategy: Strategy, now: datetime,
                 person: Person | None = None, reach: Reach | None = None) -> None:
        self.case, self.account, self.history = case, account, history
        self.policy, self.strategy, self.now = policy, strategy, now
        self.person, self.reach = person or Person(), reach or Reach()
        self.today = local_today(account, now)
        self.done = set(case.steps_done) | {n.step_id for n in notices if n.case_id == case.case_id}
        self.contacted = any(
            n.case_id == case.case_id and n.status not in (NoticeStatus.FAILED, NoticeStatus.SENDING)
            for n in notices
        )
        self.outcome = PlanOutcome(decision=self._decision(Action.CLOSE))

    # ------------------------------------------------------------------ helpers

    def _decision(self, action: Action, **kw: object) -> Decision:
        return Decision(action=action, case_id=self.case.case_id, policy_version=self.policy.version,
                        variant=self.case.variant, **kw)

    def _finish(self, action: Action, reasons: list[ReasonCode], **kw: object) -> PlanOutcome:
        self.outcome.decision = self._decision(action, reasons=sorted(set(reasons)), **kw)
        return self.outcome

    def _wait(self, until: datetime, reasons: list[ReasonCode]) -> PlanOutcome:
        until = max(min(until, self.now + MAX_WAIT), self.now + MIN_WAIT)
        return self._finish(Action.WAIT, reasons, wait_until=until.replace(second=0, microsecond=0)
                            + (timedelta(minutes=1) if until.second or until.microsecond else timedelta()))

    def _check(self, channel: Channel, kind: AttemptKind) -> object:
        attempt = Attempt(channel=channel, kind=kind, first_contact=not self.contacted)
        return check(attempt, self.account, self.case, self.history, self.policy, self.now, self.person)

    def _can_use(self, channel: Channel) -> bool:
        return self.account.can_use(channel) and channel not in self.person.opted_out

    # ------------------------------------------------------------------ the person

    def _statuses(self) -> set[SpecialStatus]:
        own = {self.account.special_status} if self.account.special_status else set()
        return set(self.person.special_statuses) | own

    def _stopped(self) -> PlanOutcome | None:
        """A special status that stops automated contact: the case waits (re-planned every few
        days, so lifting the status resumes it) and no step is spent or skipped meanwhile."""
        stops = sorted(s for s in self._statuses() if s.stops_contact)
        if not stops:
            return None
        return self._wait(self.now + MAX_WAIT, [ReasonCode.SPECIAL_STATUS, *map(special_status_reason, stops)])

    def _person_route(self) -> PlanOutcome | None:
        stopped = self._stopped()
        if stopped is None and self._vulnerable and not self.reach.specialist_queued:
            self.outcome.tasks.append(SPECIALIST_TASK)  # once per case: a specialist takes the customer over
        return stopped

    @property
    def _vulnerable(self) -> bool:
        return SpecialStatus.VULNERABLE in self._statuses()

    # ------------------------------------------------------------------ by status

    def run(self) -> PlanOutcome:
        status = self.case.status
        if not self.case.is_active and status != CaseStatus.LEGAL_REVIEW:
            return self._finish(Action.CLOSE, [ReasonCode.CASE_ENDED])
        if not self.account.owes:
            self.outcome.new_status = CaseStatus.RESOLVED
            return self._finish(Action.CLOSE, [ReasonCode.PAID])
        stopped = self._person_route()
        if stopped is not None:
            return stopped
        if status == CaseStatus.LEGAL_REVIEW:
            return self._legal()
        if status == CaseStatus.DISPUTED:
            return self._wait(self.now + MAX_WAIT, [ReasonCode.DISPUTED])
        if status == CaseStatus.PAUSED:
            if self.case.paused_until and self.case.paused_until > self.now:
                return self._wait(self.case.paused_until, [ReasonCode.HARDSHIP_PAUSE])
            self.outcome.new_status = CaseStatus.OPEN
            self.outcome.details.append(ReasonCode.PAUSE_ENDED.value)
        if status == CaseStatus.PROMISED and self.case.promise is not None:
            held = self._promise()
            if held is not None:
                return held
        if status == CaseStatus.IN_PLAN and self.case.plan is not None:
            held = self._plan()
            if held is not None:
                return held
        return self._steps()

    def _promise(self) -> PlanOutcome | None:
        promise = self.case.promise
        assert promise is not None
        state = promise_state(promise, self.account.payments, self.today, self.policy.promises.grace_days)
        if state is PromiseState.PENDING:
            last_day = promise.promised_on + timedelta(days=self.policy.promises.grace_days + 1)
            return self._wait(day_opens_at(self.account, self.policy, last_day), [ReasonCode.PROMISE_PENDING])
        self.outcome.new_status = CaseStatus.OPEN
        code = ReasonCode.PROMISE_KEPT if state is PromiseState.KEPT else ReasonCode.PROMISE_BROKEN
        self.outcome.details.append(code.value)
        return None

    def _plan(self) -> PlanOutcome | None:
        plan = apply_payments(self.case.plan, self.account.payments)  # type: ignore[arg-type]
        state = plan_state(plan, self.today, self.policy.hardship.plan_grace_days)
        if state is PlanState.COMPLETED:
            self.outcome.new_status = CaseStatus.RESOLVED
            return self._finish(Action.CLOSE, [ReasonCode.PLAN_COMPLETED])
        if state is PlanState.BROKEN:
            self.outcome.new_status = CaseStatus.OPEN
            self.outcome.details.append(ReasonCode.PLAN_BROKEN.value)
            return None
        inst = next_instalment(plan)
        if inst is None:  # defensive: ON_TRACK always has one
            return self._wait(self.now + MAX_WAIT, [ReasonCode.PLAN_ACTIVE])
        step_id = plan_reminder_step(plan.plan_id, inst.number)
        remind_on = reminder_date(inst, self.policy.hardship)
        check_after = day_opens_at(
            self.account, self.policy, inst.due_on + timedelta(days=self.policy.hardship.plan_grace_days + 1)
        )
        if step_id in self.done or remind_on > self.today:
            nxt = check_after if step_id in self.done else day_opens_at(self.account, self.policy, remind_on)
            return self._wait(nxt, [ReasonCode.PLAN_ACTIVE])
        channel = next((c for c in (Channel.SMS, Channel.EMAIL) if self._can_use(c)), None)
        if channel is None:
            self.outcome.skipped_steps.append(step_id)
            return self._wait(check_after, [ReasonCode.PLAN_ACTIVE, ReasonCode.CHANNEL_UNUSABLE])
        result = self._check(channel, AttemptKind.PLAN_REMINDER)
        if result.verdict is Verdict.ALLOW:  # type: ignore[attr-defined]
            return self._finish(Action.SEND, [ReasonCode.INSTALMENT_DUE], step_id=step_id, channel=channel,
                                template_id=REMINDER_TEMPLATE)
        if result.verdict is Verdict.DEFER:  # type: ignore[attr-defined]
            return self._wait(result.until, list(result.reasons))  # type: ignore[attr-defined]
        self.outcome.skipped_steps.append(step_id)
        return self._wait(check_after, [ReasonCode.PLAN_ACTIVE, *result.reasons])  # type: ignore[attr-defined]

    def _legal(self) -> PlanOutcome:
        if self.case.legal_approved_at is None:
            # Still awaiting an admin: the task token wait holds the execution; nothing to send.
            return self._wait(self.now + MAX_WAIT, [ReasonCode.STEPS_EXHAUSTED])
        if LEGAL_REFERRAL_STEP not in self.done:
            channel = next((c for c in (Channel.EMAIL, Channel.SMS) if self._can_use(c)), None)
            if channel is not None:
                # The referral notice obeys the same window, holidays and caps as any other.
                result = self._check(channel, AttemptKind.COLLECTION)
                if result.verdict is Verdict.ALLOW:  # type: ignore[attr-defined]
                    return self._finish(Action.SEND, [ReasonCode.LEGAL_APPROVED], step_id=LEGAL_REFERRAL_STEP,
                                        channel=channel, template_id=LEGAL_REFERRAL_TEMPLATE)
                if result.verdict is Verdict.DEFER:  # type: ignore[attr-defined]
                    return self._wait(result.until, [ReasonCode.LEGAL_APPROVED, *result.reasons])  # type: ignore[attr-defined]
            self.outcome.skipped_steps.append(LEGAL_REFERRAL_STEP)
        self.outcome.new_status = CaseStatus.REFERRED_TO_LEGAL
        return self._finish(Action.CLOSE, [ReasonCode.LEGAL_APPROVED])

    def _holdout(self) -> tuple[timedelta, PlanOutcome | None]:
        """A holdout case gets nothing in its window, then the strategy counted from the window's end."""
        days = holdout_days(self.policy, self.case.variant)
        if not days:
            return timedelta(), None
        assert self.account.due_date is not None
        ends = self.account.due_date + timedelta(days=days)
        if self.today <= ends:
            return timedelta(days=days), self._wait(day_opens_at(self.account, self.policy, ends + timedelta(days=1)),
                                                    [ReasonCode.HOLDOUT])
        return timedelta(days=days), None

    def _wrong_number(self) -> None:
        """A number known to be wrong: find the right one (once per case) rather than escalate."""
        contact = self.account.contact
        if contact.phone is not None and not contact.phone_usable and not self.reach.skip_trace_requested \
                and SKIP_TRACE_TASK not in self.outcome.tasks:
            self.outcome.tasks.append(SKIP_TRACE_TASK)

    def _before_legal(self, step: Step, reasons: list[ReasonCode]) -> PlanOutcome | None:
        """No legal review without a right-party contact attempt or a skip-trace outcome: call the
        debtor first, and when that cannot be done, trace the right number and wait for its outcome.
        None: the review may go ahead."""
        reach = self.reach
        if reach.right_party_attempted or reach.skip_trace_outcome is not None:
            return None
        why = [*reasons, ReasonCode.NO_RIGHT_PARTY_CONTACT]
        if PRE_LEGAL_CALL_STEP not in self.done and self._can_use(Channel.CALL):
            result = self._check(Channel.CALL, AttemptKind.COLLECTION)
            if result.verdict is Verdict.ALLOW:  # type: ignore[attr-defined]
                return self._finish(Action.CALL, why, step_id=PRE_LEGAL_CALL_STEP, channel=Channel.CALL)
            if result.verdict is Verdict.DEFER:  # type: ignore[attr-defined]
                return self._wait(result.until, [*why, *result.reasons])  # type: ignore[attr-defined]
        if not reach.skip_trace_requested and SKIP_TRACE_TASK not in self.outcome.tasks:
            self.outcome.tasks.append(SKIP_TRACE_TASK)
        return self._wait(self.now + MAX_WAIT, [*why, ReasonCode.SKIP_TRACE])

    def _steps(self) -> PlanOutcome:
        reasons: list[ReasonCode] = []
        due_date = self.account.due_date
        assert due_date is not None  # owes => due date (model invariant)
        shift, held = self._holdout()
        if held is not None:
            return held
        self._wrong_number()
        for step in self.strategy.steps:
            if step.pre_due or step.id in self.done:
                continue
            step_day = due_date + shift + timedelta(days=step.offset_days)
            if step_day > self.today:
                return self._wait(day_opens_at(self.account, self.policy, step_day),
                                  [*reasons, ReasonCode.NEXT_STEP_LATER])
            if step.kind is StepKind.LEGAL_REVIEW:
                if self.account.time_barred or self._vulnerable:
                    # no legal step on time-barred debt; a vulnerable customer stays with specialists
                    self.outcome.skipped_steps.append(step.id)
                    if self._vulnerable:
                        reasons += [ReasonCode.SPECIALIST_ROUTE, ReasonCode.SPECIAL_STATUS_VULNERABLE]
                    continue
                gated = self._before_legal(step, reasons)
                if gated is not None:
                    return gated
                return self._finish(Action.LEGAL_REVIEW, [*reasons, ReasonCode.STEP_DUE], step_id=step.id)
            channel = step.kind.channel
            assert channel is not None
            if not self._can_use(channel):
                self.outcome.skipped_steps.append(step.id)
                reasons.append(ReasonCode.CHANNEL_UNUSABLE)
                continue
            result = self._check(channel, AttemptKind.COLLECTION)
            if result.verdict is Verdict.ALLOW:  # type: ignore[attr-defined]
                action = Action.CALL if channel is Channel.CALL else Action.SEND
                return self._finish(action, [*reasons, ReasonCode.STEP_DUE], step_id=step.id, channel=channel,
                                    template_id=step.template)
            if result.verdict is Verdict.DEFER:  # type: ignore[attr-defined]
                return self._wait(result.until, [*reasons, *result.reasons])  # type: ignore[attr-defined]
            self.outcome.skipped_steps.append(step.id)
            reasons.extend(result.reasons)  # type: ignore[attr-defined]
        return self._finish(Action.CLOSE, [*reasons, ReasonCode.STEPS_EXHAUSTED])


def plan_next_action(case: Case, account: Account, history: Sequence[ContactRecord], notices: Sequence[Notice],
                     policy: Policy, strategy: Strategy, now: datetime, *, person: Person | None = None,
                     reach: Reach | None = None) -> PlanOutcome:
    """Decide SEND, CALL, WAIT, LEGAL_REVIEW or CLOSE for a case; pure and deterministic.

    ``history`` is the customer's contacts on every loan; ``person`` their opt-outs, zones and
    special statuses; ``reach`` what the case's ledger says about reaching them (`reach_from`)."""
    return _Planner(case, account, history, notices, policy, strategy, now, person, reach).run()
