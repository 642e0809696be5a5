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
from dunning.domain.compliance import Attempt, AttemptKind, ContactRecord, Verdict, check, with_preferred_hours
from dunning.domain.models import (
    Account,
    Action,
    Case,
    CaseStatus,
    Channel,
    Decision,
    Notice,
    NoticeStatus,
    ReasonCode,
)
from dunning.domain.policy import Policy, StepKind, Strategy

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


@dataclass
class PlanOutcome:
    """The decision, plus what the service must change on the case before acting on it."""

    decision: Decision
    new_status: CaseStatus | None = None
    skipped_steps: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)


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
                 notices: Sequence[Notice], policy: Policy, strategy: Strategy, now: datetime) -> None:
        self.case, self.account, self.history = case, account, history
        self.policy, self.strategy, self.now = policy, strategy, now
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
        return check(attempt, self.account, self.case, self.history, self.policy, self.now)

    # ------------------------------------------------------------------ by status

    def run(self) -> PlanOutcome:
        status = self.case.status
        if not self.case.is_active and status != CaseStatus.LEGAL_REVIEW:
            return self._finish(Action.CLOSE, [ReasonCode.CASE_ENDED])
        if not self.account.owes:
            self.outcome.new_status = CaseStatus.RESOLVED
            return self._finish(Action.CLOSE, [ReasonCode.PAID])
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
        channel = next((c for c in (Channel.SMS, Channel.EMAIL) if self.account.can_use(c)), None)
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
            channel = next((c for c in (Channel.EMAIL, Channel.SMS) if self.account.can_use(c)), None)
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

    def _steps(self) -> PlanOutcome:
        reasons: list[ReasonCode] = []
        due_date = self.account.due_date
        assert due_date is not None  # owes => due date (model invariant)
        for step in self.strategy.steps:
            if step.pre_due or step.id in self.done:
                continue
            step_day = due_date + timedelta(days=step.offset_days)
            if step_day > self.today:
                return self._wait(day_opens_at(self.account, self.policy, step_day),
                                  [*reasons, ReasonCode.NEXT_STEP_LATER])
            if step.kind is StepKind.LEGAL_REVIEW:
                if self.account.time_barred:  # no legal step on time-barred debt
                    self.outcome.skipped_steps.append(step.id)
                    continue
                return self._finish(Action.LEGAL_REVIEW, [*reasons, ReasonCode.STEP_DUE], step_id=step.id)
            channel = step.kind.channel
            assert channel is not None
            if not self.account.can_use(channel):
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
                     policy: Policy, strategy: Strategy, now: datetime) -> PlanOutcome:
    """Decide SEND, CALL, WAIT, LEGAL_REVIEW or CLOSE for a case; pure and deterministic."""
    return _Planner(case, account, history, notices, policy, strategy, now).run()
