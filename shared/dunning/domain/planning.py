"""PlanNextAction's brain: one decision for a case, now, from the whole picture.

Every call re-reads the world (account, case, history, policy), so a payment, opt-out, dispute,
promise or plan that arrived during a wait takes effect before anything else is sent.

One file on purpose: the person's route, the holds, the ladder with its step conditions, the
re-engagement after a broken arrangement and the gates before a legal review decide together, in
an order that is the policy (a hold before a step, a right-party attempt before a review).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from dunning.domain.arrangements import (
    PlanState,
    PromiseState,
    apply_payments,
    best_offer,
    next_instalment,
    plan_state,
    promise_state,
    reminder_date,
)
from dunning.domain.case_summary import CaseSummary, engagement_class, summarise_case
from dunning.domain.case_tally import CaseTally
from dunning.domain.compliance import Attempt, AttemptKind, ContactRecord, Person, Verdict, check, with_preferred_hours
from dunning.domain.conditions import judge
from dunning.domain.models import (
    Account,
    Action,
    Case,
    CaseStatus,
    Channel,
    Decision,
    InstalmentPlan,
    LedgerEntry,
    Notice,
    NoticeStatus,
    PlanStatus,
    ReasonCode,
    SpecialistDecision,
    SpecialStatus,
    special_status_reason,
)
from dunning.domain.policy import Policy, Reengagement, Step, StepKind, Strategy, holdout_days

# A wait ends at the instant the planner computed (a step's day, a promise's last day, an
# instalment's reminder) or earlier, when a case action wakes the escalation (a reply, a payment, an
# action on the page, an agent's or admin's decision, a status set or lifted on the person). MAX_WAIT
# bounds a computed instant and a wait for such an action (a dispute resolved, a specialist's
# decision, a skip trace, a status lifted); it is also how late a change that wakes nothing (an
# amount changed in the lender's file: the next notice reads it when it is written) takes effect.
MAX_WAIT = timedelta(days=14)
MIN_WAIT = timedelta(minutes=1)
REMINDER_TEMPLATE = "instalment_reminder"
LEGAL_REFERRAL_STEP = "legal_referral"
# Replies to customers' texts are sent by the inbound functions, not by the planner.
SERVICE_STEP_PREFIX = "service_"
LEGAL_REFERRAL_TEMPLATE = "legal_referral"
# Re-engagement steps are run once per broken arrangement: step ids reengage<n>_<policy step id>.
REENGAGE_PREFIX = "reengage"
SPECIALIST_STEP = "specialist_review"  # the review a case gets when its ladder ends without a referral
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
    specialist_queued: bool = False  # a vulnerable customer handed over to a specialist

    @classmethod
    def of(cls, tally: CaseTally) -> Reach:
        """As the case's tally has folded them from its ledger."""
        return cls(tally.right_party_attempted, tally.skip_trace_requested, tally.skip_trace_outcome,
                   tally.specialist_queued)


def reach_from(entries: Sequence[LedgerEntry]) -> Reach:
    """Reach facts from one case's ledger entries."""
    return Reach.of(CaseTally.fold(entries))


@dataclass
class PlanOutcome:
    """The decision, plus what the service must change on the case before acting on it."""

    decision: Decision
    new_status: CaseStatus | None = None
    skipped_steps: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    new_plan: InstalmentPlan | None = None  # a renewed offer to put on the case before its notice goes
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


def reengagement_step(round_number: int, step_id: str) -> str:
    return f"{REENGAGE_PREFIX}{round_number}_{step_id}"


def _after_break(summary: CaseSummary, now: datetime, plan: bool) -> CaseSummary:
    """The summary once the arrangement judged broken in this decision is counted."""
    promises, plans = summary.promises_broken + (not plan), summary.plans_broken + plan
    return summary.model_copy(update={
        "promises_broken": promises, "plans_broken": plans, "last_broken_at": now, "arrangement_active": False,
        "engagement": engagement_class(hardship=summary.hardship_declared_at is not None, broken=promises + plans,
                                       reached=summary.right_party_contacts > 0, paid=summary.payments > 0)})


class _Planner:
    def __init__(self, case: Case, account: Account, history: Sequence[ContactRecord],
                 notices: Sequence[Notice], policy: Policy, strategy: Strategy, now: datetime,
                 person: Person | None, reach: Reach | None, summary: CaseSummary | None) -> None:
        self.case, self.account, self.history = case, account, history
        self.policy, self.strategy, self.now = policy, strategy, now
        self.person, self.reach = person or Person(), reach or Reach()
        self.today = local_today(account, now)
        self.notices = [n for n in notices if n.case_id == case.case_id]
        self.done = set(case.steps_done) | {n.step_id for n in self.notices}
        self.contacted = any(n.status not in (NoticeStatus.FAILED, NoticeStatus.SENDING) for n in self.notices)
        self.summary = summary if summary is not None else summarise_case(case, (), now, account=account,
                                                                          notices=self.notices)
        self.resumed = False  # the case left a hold in this decision (pause ended, arrangement judged)
        self.noted: list[ReasonCode] = []  # why steps were skipped on the way to this decision
        self.shift = timedelta()  # a holdout's window: its ladder counts from the window's end
        self.outcome = PlanOutcome(decision=self._decision(Action.CLOSE))

    # ------------------------------------------------------------------ helpers

    def _decision(self, action: Action, **kw: object) -> Decision:
        return Decision(action=action, case_id=self.case.case_id, policy_version=self.policy.version,
                        variant=self.case.variant, **kw)

    def _finish(self, action: Action, reasons: list[ReasonCode], **kw: object) -> PlanOutcome:
        self.outcome.decision = self._decision(action, reasons=sorted({*self.noted, *reasons}), **kw)
        return self.outcome

    def _skip(self, step_id: str, *reasons: ReasonCode) -> None:
        if step_id not in self.outcome.skipped_steps:
            self.outcome.skipped_steps.append(step_id)
        self.done.add(step_id)
        self.noted.extend(reasons)

    def _wait(self, until: datetime, reasons: list[ReasonCode]) -> PlanOutcome:
        until = max(min(until, self.now + MAX_WAIT), self.now + MIN_WAIT)
        return self._finish(Action.WAIT, reasons, wait_until=until.replace(second=0, microsecond=0)
                            + (timedelta(minutes=1) if until.second or until.microsecond else timedelta()))

    def _check(self, channel: Channel, kind: AttemptKind) -> object:
        attempt = Attempt(channel=channel, kind=kind, first_contact=not self.contacted)
        # A case leaving a hold in this decision is checked as it will be (a broken plan is no
        # longer IN_PLAN: its missed-payment notice is not held back by the plan it follows).
        case = self.case if self.outcome.new_status is None else self.case.model_copy(
            update={"status": self.outcome.new_status})
        return check(attempt, self.account, case, self.history, self.policy, self.now, self.person)

    def _can_use(self, channel: Channel) -> bool:
        return self.account.can_use(channel) and channel not in self.person.opted_out

    # ------------------------------------------------------------------ the person

    def _statuses(self) -> set[SpecialStatus]:
        own = {self.account.special_status} if self.account.special_status else set()
        return set(self.person.special_statuses) | own

    def _stopped(self) -> PlanOutcome | None:
        """A special status that stops automated contact: the case waits (lifting the status wakes
        every open case of the person) and no step is spent or skipped meanwhile."""
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
            # Credited as the stream's cure credits it: the plan or the promise that paid it off.
            self.outcome.new_status = CaseStatus.RESOLVED
            credit = {CaseStatus.IN_PLAN: [ReasonCode.PLAN_COMPLETED],
                      CaseStatus.PROMISED: [ReasonCode.PROMISE_KEPT]}.get(status, [])
            return self._finish(Action.CLOSE, [ReasonCode.PAID, *credit])
        held = self._person_route() or self._held()
        if held is not None:
            return held
        return self._open()

    def _held(self) -> PlanOutcome | None:
        """What the case's status holds it to; None when it goes on to the ladder."""
        status = self.case.status
        if status == CaseStatus.LEGAL_REVIEW:
            return self._legal()
        if status == CaseStatus.DISPUTED:
            return self._wait(self.now + MAX_WAIT, [ReasonCode.DISPUTED])
        if status == CaseStatus.SPECIALIST:
            return self._specialist()
        if status == CaseStatus.PAUSED:
            if self.case.paused_until and self.case.paused_until > self.now:
                return self._wait(self.case.paused_until, [ReasonCode.HARDSHIP_PAUSE])
            self.outcome.new_status = CaseStatus.OPEN
            self.outcome.details.append(ReasonCode.PAUSE_ENDED.value)
            self.resumed = True
        if status == CaseStatus.PROMISED and self.case.promise is not None:
            return self._promise()
        if status == CaseStatus.IN_PLAN and self.case.plan is not None:
            return self._plan()
        return None

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
        self.resumed = True
        if state is PromiseState.BROKEN:
            self.summary = _after_break(self.summary, self.now, plan=False)
        else:
            self.summary = self.summary.model_copy(update={"arrangement_active": False})
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
            self.resumed = True
            self.summary = _after_break(self.summary, self.now, plan=True)
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

    # ------------------------------------------------------------------ the specialist route

    def _specialist(self) -> PlanOutcome:
        if self.case.specialist_decision is None:
            # The review task ended (timed out) without a decision: put it in front of a specialist again.
            return self._finish(Action.SPECIALIST_REVIEW, [ReasonCode.SPECIALIST_REVIEW], step_id=SPECIALIST_STEP)
        return self._wait(self.now + MAX_WAIT, [ReasonCode.SPECIALIST_HOLD])

    def _legal_step(self) -> Step | None:
        return next((s for s in self.strategy.steps if s.kind is StepKind.LEGAL_REVIEW), None)

    def _to_specialist(self, step: Step | None, reasons: Sequence[ReasonCode]) -> PlanOutcome:
        """The ladder cannot go on by itself: a specialist decides (unless one already decided to
        let the legal review go ahead)."""
        legal = self._legal_step()
        if self._vulnerable and self.case.specialist_decision is not None:
            # a vulnerable customer stays with the specialist who decided, whatever they decided
            return self._wait(self.now + MAX_WAIT, [ReasonCode.SPECIALIST_HOLD, *reasons])
        if self.case.specialist_decision is SpecialistDecision.LEGAL_REVIEW and legal is not None \
                and not self.account.time_barred:
            return self._review(legal, [ReasonCode.SPECIALIST_ALLOWED_LEGAL, *reasons])
        return self._finish(Action.SPECIALIST_REVIEW, [ReasonCode.SPECIALIST_REVIEW, *reasons],
                            step_id=step.id if step is not None else SPECIALIST_STEP)

    # ------------------------------------------------------------------ the ladder

    def _open(self) -> PlanOutcome:
        """An open case: nothing in a holdout's window; a re-engagement round after a broken
        arrangement; then the ladder."""
        self.shift, held = self._holdout()
        if held is not None:
            return held
        round_ = self._round()
        if self.resumed or round_ is not None:
            # Steps whose day fell while the case was held (or while re-engagement talks to the
            # customer) are not sent in a burst now: skipped, except the ones sent even late.
            self._skip_passed(including_today=round_ is not None)
        if round_ is not None:
            held = self._reengage(*round_)
            if held is not None:
                return held
        return self._steps()

    def _skip_passed(self, including_today: bool) -> None:
        due_date = self.account.due_date
        assert due_date is not None
        for step in self.strategy.steps:
            if step.pre_due or step.id in self.done or step.send_late or step.kind is StepKind.LEGAL_REVIEW:
                continue
            day = due_date + self.shift + timedelta(days=step.offset_days)
            if day < self.today or (including_today and day == self.today):
                self._skip(step.id, ReasonCode.STEP_PASSED_DURING_HOLD)

    def _conditions_block(self, step: Step, step_id: str) -> PlanOutcome | bool:
        """For a contact step: a WAIT while cooling-off conditions clear, True when the step is
        skipped (its profile does not fit), False when it may go ahead."""
        if step.requires is None and not step.requires_any:
            return False
        verdict = judge(step.requires, step.requires_any, self.summary, self.now,
                        offer_days=self.policy.notice_deadline_days)
        if verdict.met:
            return False
        if verdict.clears_at is not None:
            return self._wait(verdict.clears_at, list(verdict.reasons))
        self._skip(step_id, ReasonCode.STEP_SKIPPED, *verdict.reasons)
        return True

    def _contact(self, step: Step, step_id: str, reasons: list[ReasonCode]) -> PlanOutcome | None:
        """Act on a contact step that is due; None when it is skipped."""
        held = self._conditions_block(step, step_id)
        if held is True:
            return None
        if isinstance(held, PlanOutcome):
            return held
        channel = step.kind.channel
        assert channel is not None
        if not self._can_use(channel):
            self._skip(step_id, ReasonCode.CHANNEL_UNUSABLE)
            return None
        result = self._check(channel, AttemptKind.COLLECTION)
        if result.verdict is Verdict.ALLOW:  # type: ignore[attr-defined]
            action = Action.CALL if channel is Channel.CALL else Action.SEND
            return self._finish(action, [*reasons, ReasonCode.STEP_DUE], step_id=step_id, channel=channel,
                                template_id=step.template)
        if result.verdict is Verdict.DEFER:  # type: ignore[attr-defined]
            return self._wait(result.until, [*reasons, *result.reasons])  # type: ignore[attr-defined]
        self._skip(step_id, *result.reasons)  # type: ignore[attr-defined]
        return None

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

    def _review(self, step: Step, reasons: list[ReasonCode]) -> PlanOutcome:
        """A legal review, once the debtor has been tried (see `_before_legal`)."""
        gated = self._before_legal(step, reasons)
        if gated is not None:
            return gated
        return self._finish(Action.LEGAL_REVIEW, reasons, step_id=step.id)

    def _steps(self) -> PlanOutcome:
        due_date = self.account.due_date
        assert due_date is not None  # owes => due date (model invariant)
        self._wrong_number()
        for step in self.strategy.steps:
            if step.pre_due or step.id in self.done:
                continue
            step_day = due_date + self.shift + timedelta(days=step.offset_days)
            if step_day > self.today:
                return self._wait(day_opens_at(self.account, self.policy, step_day), [ReasonCode.NEXT_STEP_LATER])
            if step.kind is StepKind.LEGAL_REVIEW:
                if self.account.time_barred:  # no legal step on time-barred debt
                    self._skip(step.id)
                    continue
                if self._vulnerable:  # a vulnerable customer stays with specialists
                    self._skip(step.id, ReasonCode.SPECIALIST_ROUTE, ReasonCode.SPECIAL_STATUS_VULNERABLE)
                    continue
                return self._legal_review(step)
            out = self._contact(step, step.id, [])
            if out is not None:
                return out
        return self._to_specialist(None, [ReasonCode.STEPS_EXHAUSTED])

    def _legal_review(self, step: Step) -> PlanOutcome:
        verdict = judge(step.requires, step.requires_any, self.summary, self.now,
                        offer_days=self.policy.notice_deadline_days)
        if verdict.met:
            return self._review(step, [ReasonCode.STEP_DUE])
        if self.case.specialist_decision is SpecialistDecision.LEGAL_REVIEW and verdict.cooling_until is None:
            return self._to_specialist(step, verdict.reasons)
        if verdict.clears_at is not None or verdict.cooling_until is not None:
            until = verdict.clears_at if verdict.clears_at is not None else verdict.cooling_until
            assert until is not None
            return self._wait(until, list(verdict.reasons))
        return self._to_specialist(step, verdict.reasons)

    # ------------------------------------------------------------------ re-engagement

    def _round(self) -> tuple[int, datetime] | None:
        """(round number, when the arrangement broke) while a re-engagement round is under way."""
        policy: Reengagement | None = self.policy.reengagement
        broken, since = self.summary.arrangements_broken, self.summary.last_broken_at
        if policy is None or broken == 0 or since is None:
            return None
        if self.now >= since + timedelta(days=policy.window_days):
            return None  # what could not go in time gives way to the ladder
        if all(reengagement_step(broken, s.id) in self.done for s in policy.steps):
            return None
        return broken, since

    def _reengage(self, number: int, since: datetime) -> PlanOutcome | None:
        policy = self.policy.reengagement
        assert policy is not None
        first_day = local_today(self.account, since)
        for step in policy.steps:
            step_id = reengagement_step(number, step.id)
            if step_id in self.done:
                continue
            day = first_day + timedelta(days=step.offset_days)
            if day > self.today:
                return self._wait(day_opens_at(self.account, self.policy, day),
                                  [ReasonCode.REENGAGING, ReasonCode.NEXT_STEP_LATER])
            reasons = [ReasonCode.REENGAGING]
            if step.renewed_offer:
                if not self._renew_offer(step, step_id, since):
                    continue
                reasons.append(ReasonCode.RENEWED_OFFER)
            out = self._contact(step, step_id, reasons)
            if out is not None:
                if out.decision.action is not Action.SEND:
                    self.outcome.new_plan = None  # the offer goes with its notice, or not at all
                return out
            self.outcome.new_plan = None
        return None

    def _renew_offer(self, step: Step, step_id: str, since: datetime) -> bool:
        """Put a new instalment offer on the case for this step's notice; False when none may be made."""
        policy = self.policy.reengagement
        assert policy is not None
        pattern = re.compile(rf"{REENGAGE_PREFIX}\d+_{re.escape(step.id)}")
        made = sum(1 for n in self.notices if pattern.fullmatch(n.step_id) and n.status is not NoticeStatus.FAILED)
        if made >= policy.max_renewed_offers:
            self._skip(step_id, ReasonCode.RENEWED_OFFER_LIMIT)
            return False
        plan = self.case.plan
        if plan is not None and plan.status is PlanStatus.OFFERED and plan.offered_at >= since:
            return True  # offered by an earlier attempt at this step that could not send yet
        first_due = self.today + timedelta(days=self.policy.hardship.instalment_interval_days)
        offer = best_offer(self.account.amount_due, first_due, self.policy.hardship,
                           f"P{self.now:%Y%m%d%H%M%S}", self.now)
        if offer is None:
            self._skip(step_id, ReasonCode.NO_PLAN_FITS)
            return False
        self.outcome.new_plan = offer
        return True


def plan_next_action(case: Case, account: Account, history: Sequence[ContactRecord], notices: Sequence[Notice],
                     policy: Policy, strategy: Strategy, now: datetime, *, person: Person | None = None,
                     reach: Reach | None = None, summary: CaseSummary | None = None) -> PlanOutcome:
    """Decide SEND, CALL, WAIT, LEGAL_REVIEW, SPECIALIST_REVIEW or CLOSE for a case; pure and
    deterministic.

    ``history`` is the customer's contacts on every loan; ``person`` their opt-outs, zones and
    special statuses; ``reach`` what the case's ledger says about reaching them (`reach_from`);
    ``summary`` the case's history (domain.case_summary) that step conditions and re-engagement
    judge (without it, what the case and its notices show)."""
    return _Planner(case, account, history, notices, policy, strategy, now, person, reach, summary).run()


@dataclass(frozen=True)
class Facts:
    """What a decision is taken on, so it can be asked again at a later instant (``next_move``)."""

    case: Case
    account: Account
    history: Sequence[ContactRecord]
    notices: Sequence[Notice]
    policy: Policy
    strategy: Strategy
    person: Person | None = None
    reach: Reach | None = None
    summary: CaseSummary | None = None

    def decide(self, now: datetime) -> PlanOutcome:
        return plan_next_action(self.case, self.account, self.history, self.notices, self.policy, self.strategy,
                                now, person=self.person, reach=self.reach, summary=self.summary)


def quiet(outcome: PlanOutcome) -> bool:
    """A WAIT that changes nothing on the case: taking it again later only writes the wait."""
    return (outcome.decision.action is Action.WAIT and outcome.decision.wait_until is not None
            and outcome.new_status is None and not outcome.skipped_steps and not outcome.details
            and outcome.new_plan is None and not outcome.tasks)


FOLD_LIMIT = 8  # waits folded into one; a chain longer than this is planned again at its end


def next_move(facts: Facts, now: datetime, start: datetime) -> tuple[datetime, list[ReasonCode]] | None:
    """When the planner, asked again from ``start`` with the same facts, acts (or changes the
    case): the instant, and the reasons of the waits it passes on the way; None when it acts at
    ``start`` itself.

    Time alone moves a case from one such wait to the next (the next step's day, then its contact
    window, then past a holiday or a cap); anything else that changes the case wakes the
    escalation at once. So a case waits once, until its next move, instead of deciding again at
    every instant on the way. Never later than MAX_WAIT from ``now``."""
    at, reasons = start, list[ReasonCode]()
    for _ in range(FOLD_LIMIT):
        outcome = facts.decide(at)
        if not quiet(outcome):
            break
        until = outcome.decision.wait_until
        assert until is not None
        reasons += [r for r in outcome.decision.reasons if r not in reasons]
        at = min(until, now + MAX_WAIT)
        if at >= now + MAX_WAIT:
            break
    return (at, reasons) if at > start else None
