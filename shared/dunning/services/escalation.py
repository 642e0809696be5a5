"""The escalation's steps: plan the next action (and send the notice it decides on), open an
agent/approval task, record a failure. Each is called by one Lambda from the state machine with
ids only.

A SEND decision is carried out by the planner itself, in the same invocation: it already holds the
account, the history and the policy, so the decision and the at-most-once gate (the notice
SENDING) go in one transaction, then the provider call, then the outcome. That is 1 read (the
account, the profile and the case's header with its tally), 2 writes and 1 send per notice, and
one state and one invocation fewer than a separate send step.

A little longer than most modules: the send path (gate, provider, outcome, recovery of a send cut
short) is one story and reads best in one file.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from dunning.domain.arrangements import plan_data
from dunning.domain.case_summary import CaseSummary, summarise
from dunning.domain.case_tally import CaseTally
from dunning.domain.compliance import Attempt, AttemptKind, ContactOutcome, ContactRecord, Person, Verdict, check
from dunning.domain.customers import CustomerProfile, combined_history
from dunning.domain.history import notice_contact
from dunning.domain.links import list_unsubscribe_headers
from dunning.domain.models import (
    Account,
    Action,
    CaseStatus,
    Channel,
    Decision,
    EntryKind,
    Notice,
    NoticeStatus,
    ReasonCode,
    SpecialStatus,
    iso_z,
)
from dunning.domain.planning import (
    REMINDER_TEMPLATE,
    SERVICE_STEP_PREFIX,
    SKIP_TRACE_TASK,
    Facts,
    PlanOutcome,
    Reach,
    next_move,
    quiet,
)
from dunning.domain.policy import Policy, SmsRoute, Strategy, assign_variant, strategy_for
from dunning.observability import count, logger, metrics, step_dimension
from dunning.ports import (
    AccountHistory,
    CaseRecord,
    Conflict,
    NotFound,
    OutboundMessage,
    Ports,
    ProviderRejected,
    Sender,
    TemplateCall,
    TransientError,
)
from dunning.services import customers
from dunning.services.integrity import anchor_at_close

if TYPE_CHECKING:
    from dunning.domain.notices.render import RenderedNotice

# Planner waits that held back a due notice (rather than waiting for the next step or a promise).
COMPLIANCE_DEFERRALS = frozenset({ReasonCode.CONTACT_WINDOW, ReasonCode.PREFERENCE, ReasonCode.HOLIDAY,
                                  ReasonCode.CALL_CAP, ReasonCode.DAILY_CAP, ReasonCode.SPACING})

# Templates sent as a reminder of something the customer agreed to, not as dunning.
_PLAN_TEMPLATES = {REMINDER_TEMPLATE}


def _strategy(policy: Policy, record: CaseRecord, account: Account) -> Strategy:
    """The case keeps the strategy it opened with, unless a new policy no longer has it."""
    sid = record.case.strategy_id
    if sid and sid in policy.strategies:
        return policy.strategies[sid]
    return strategy_for(policy, account, assign_variant(policy, account.account_id))[1]


def case_summary(record: CaseRecord, account: Account | None, now: datetime) -> CaseSummary:
    """The case's history as its step conditions, notices and reviewers see it (from its tally,
    which `_load` and `with_tally` make sure of)."""
    assert record.tally is not None, "the case was read without its tally"
    return summarise(record.case, record.tally, now, account=account)


def with_tally(history: AccountHistory, record: CaseRecord) -> CaseRecord:
    """The case's tally folded from its ledger and notices as read: a header kept without one gets
    one, and a header's own gives way to the items' word (the case's next commit writes it)."""
    case_id = record.case.case_id
    record.tally = CaseTally.fold(history.ledger.get(case_id, []), history.notices.get(case_id, []))
    return record


def _person_strategy(policy: Policy, record: CaseRecord, account: Account, person: Person) -> Strategy:
    """A vulnerable customer follows the policy's softer strategy (the case records the switch)."""
    vulnerable = SpecialStatus.VULNERABLE in person.special_statuses or \
        account.special_status is SpecialStatus.VULNERABLE
    sid = policy.vulnerable_strategy
    if vulnerable and sid and sid in policy.strategies:
        if record.case.strategy_id != sid:
            record.case.strategy_id = sid
        return policy.strategies[sid]
    return _strategy(policy, record, account)


def _task_entries(ports: Ports, outcome: PlanOutcome, case_id: str, account_id: str,
                  now: datetime) -> list[tuple[EntryKind, dict[str, Any]]]:
    """Queue the work for people the plan asks for (before its record is committed: a retried plan
    may queue a task twice, which a person sees at once, but never loses one), and its entries."""
    entries: list[tuple[EntryKind, dict[str, Any]]] = []
    for kind in outcome.tasks:
        task = {"case_id": case_id, "account_id": account_id, "created_at": iso_z(now),
                "reasons": [r.value for r in outcome.decision.reasons]}
        if kind == SKIP_TRACE_TASK:
            ports.tasks.put("SKIP_TRACE", task)
            entries.append((EntryKind.SKIP_TRACE, {"event": "REQUESTED"}))
            metrics.add_metric(name="SkipTraces", unit="Count", value=1)
        else:
            ports.tasks.put("SPECIALIST", task | {"reason": SpecialStatus.VULNERABLE.value})
            entries.append((EntryKind.SPECIALIST, {"event": "QUEUED", "reason": SpecialStatus.VULNERABLE.value}))
            metrics.add_metric(name="SpecialistHandovers", unit="Count", value=1)
    return entries


def _load(ports: Ports, case_id: str, account_id: str, account: Account | None = None,
          header: CaseRecord | None = None) -> tuple[AccountHistory, CaseRecord, Account]:
    """The case as a decision reads it (its notices without their text, and its tally).

    A header read with its tally is enough: the tally is the case's past as the decision needs it.
    Without one (a header kept before tallies were), or with a notice SENDING on it (in flight, cut
    short or withdrawn: only its item says which), the case is read whole and its tally folded.
    Never the account's closed cases: the person's recent contacts on every loan (this one's
    earlier cases included) come from their profile, so a decision reads the same however long the
    past."""
    if header is not None and header.tally is not None and not header.tally.sending():
        notices = header.tally.case_notices(case_id, account_id)
        return (AccountHistory(cases={case_id: header}, notices={case_id: notices}), header,
                account or ports.accounts.get(account_id))
    history = ports.collections.case_history(account_id, case_id)
    record = history.cases.get(case_id)
    if record is None:
        raise NotFound(f"case {case_id}")
    return history, with_tally(history, record), account or ports.accounts.get(account_id)


def plan(ports: Ports, case_id: str, account_id: str, actor: str = "PlanNextAction",
         customer_id: str | None = None) -> dict[str, Any]:
    """Decide the next action; record the decision in the ledger; send the notice it decides on;
    return it (ids only, with the customer's, which the escalation carries to the next plan).

    Given the customer id, the account, the person's profile (their caps, opt-outs and statuses,
    bounded) and the case's header (with its tally) are one read; without it, or if the account
    has moved to another person since, the profile is read after the account and the case."""
    profile: CustomerProfile | None = None
    account: Account | None = None
    header: CaseRecord | None = None
    if customer_id:
        account, profile, header = ports.read_for_decision(account_id, customer_id, case_id)
        if account is None:
            raise NotFound(f"account {account_id}")
    history, record, account = _load(ports, case_id, account_id, account, header)
    policy, now = ports.policy(), ports.clock.now()
    if _recover_interrupted_sends(ports, history, record, now, actor):
        history, record, account = _load(ports, case_id, account_id, account)  # the case changed, not the account
    if profile is None or profile.customer_id != account.customer:
        profile = ports.collections.customer(account.customer)
    person = profile.person()
    tally = record.tally
    assert tally is not None  # _load's
    contacts = combined_history(tally.contacts(case_id), profile)
    strategy = _person_strategy(policy, record, account, person)
    summary = case_summary(record, account, now)
    facts = Facts(record.case, account, contacts, history.notices.get(case_id, []), policy, strategy, person,
                  Reach.of(tally), summary)
    outcome = facts.decide(now)
    decision = outcome.decision
    if quiet(outcome):
        _wait_for_next_move(facts, decision, now)
    until = decision.wait_until if decision.action is Action.WAIT else None
    record.case.wake_token = None  # the wait it belonged to is over: this Plan runs
    entries = _apply(outcome, record, now)
    entries[1:1] = _task_entries(ports, outcome, case_id, account_id, now)
    data = entries[0][1]
    output = decision.model_dump(mode="json", exclude_none=True) | {"customer_id": account.customer}
    if decision.action is Action.SEND and decision.step_id and decision.channel and decision.template_id:
        # Sent, and the case as read plus this notice (no status or plan change that the summary read
        # before would not show): the next move is known now (usually the next step's day), so the
        # escalation waits for it rather than planning again at once.
        knows_next = outcome.new_status is None and outcome.new_plan is None and not outcome.tasks
        sent = _send_step(ports, ports.sender(decision.channel), history, record, account, policy, now,
                          decision.step_id, decision.channel, decision.template_id, actor=actor, decided=entries,
                          contacts=contacts, profile=profile, summary=summary,
                          then=(lambda notice: _next_move_after(facts, notice, now)) if knows_next else None)
        output["sent"] = sent.as_output()
        if sent.until is not None:
            # The rendered notice may not go yet (the send-time check saw what the plan could not):
            # the escalation waits for that instant instead of planning the same send again at once.
            output["action"], until = Action.WAIT.value, sent.until
        elif sent.move is not None:
            until = sent.move[0]
            output["then"] = [r.value for r in sent.move[1]]
            _count_deferrals(record, sent.move[1])
    else:
        try:
            ports.collections.commit(record, entries, at=now, actor=actor)
        except Conflict as exc:
            raise TransientError("case changed while planning") from exc  # Step Functions retries the plan
    _decided(ports, record, decision, data["reasons"])
    # The loop's Route reads wait_seconds: > 0 waits, 0 goes on at once. The wait is a task whose
    # timeout is the timer (whole seconds); the case's version lets it see whether anything
    # changed the case since this decision.
    output["wait_seconds"] = 0
    if until is not None:
        output |= {"wait_until": iso_z(until), "wait_seconds": max(1, math.ceil((until - now).total_seconds())),
                   "case_version": record.case.version}
    logger.info("decision", extra={"case_id": case_id, "action": decision.action.value,
                                   "reasons": data["reasons"], "step_id": decision.step_id})
    return output


def _wait_for_next_move(facts: Facts, decision: Decision, now: datetime) -> None:
    """A wait lasts until the case's next move, past the waits that time alone would end on the
    way (the next step's day, then its contact window or a holiday): one wait, its reasons all
    recorded, instead of a decision at each of them."""
    assert decision.wait_until is not None  # a quiet outcome's
    move = next_move(facts, now, decision.wait_until)
    if move is not None:
        decision.wait_until = move[0]
        decision.reasons = [*decision.reasons, *(r for r in move[1] if r not in decision.reasons)]


Move = tuple[datetime, list[ReasonCode]]  # when the case moves next, and the waits passed on the way


def _next_move_after(facts: Facts, notice: Notice, now: datetime) -> Move | None:
    """After a notice went: when the case moves next, given the case as read and this notice."""
    contact = notice_contact(notice)
    after = replace(facts, notices=[*facts.notices, notice],
                    history=[*facts.history, contact] if contact is not None else facts.history)
    return next_move(after, now, now)


def _decided(ports: Ports, record: CaseRecord, decision: Decision, reasons: list[str]) -> None:
    """After the decision is recorded: its metrics, a referral's notification, a close's anchor."""
    case = record.case
    count("Decisions", Action=decision.action.value, Variant=case.variant, reasons=reasons)
    if decision.action is Action.WAIT:
        _count_deferrals(record, decision.reasons)
    if decision.action is Action.CLOSE and case.status in (CaseStatus.RESOLVED, CaseStatus.REFERRED_TO_LEGAL):
        count("CasesCured" if case.status is CaseStatus.RESOLVED else "LegalReferrals", Variant=case.variant)
    if decision.action is Action.CLOSE and case.status is CaseStatus.REFERRED_TO_LEGAL:
        ports.notifications.legal_referred(case.case_id, case.account_id)
    if decision.action is Action.CLOSE:
        anchor_at_close(ports, record)


def _count_deferrals(record: CaseRecord, reasons: Sequence[ReasonCode]) -> None:
    """A wait that held a due notice back for a compliance rule (its own, or one passed after a send)."""
    held = COMPLIANCE_DEFERRALS.intersection(reasons)
    if held:
        count("NoticesDeferred", Variant=record.case.variant, reasons=held)


def _apply(outcome: PlanOutcome, record: CaseRecord, now: datetime) -> list[tuple[EntryKind, dict[str, Any]]]:
    """What the decision changes on the case, and the ledger entries that say so (the DECISION first)."""
    decision, case = outcome.decision, record.case
    if outcome.new_status is not None and outcome.new_status != case.status:
        case.transition(outcome.new_status)
        if outcome.new_status in (CaseStatus.RESOLVED, CaseStatus.CLOSED, CaseStatus.REFERRED_TO_LEGAL):
            case.closed_at = now
            case.resolution = decision.reasons[0].value if decision.reasons else None
    if outcome.skipped_steps:
        case.steps_done = [*case.steps_done, *[s for s in outcome.skipped_steps if s not in case.steps_done]]
    data = decision.model_dump(mode="json", exclude_none=True) | {"skipped": outcome.skipped_steps,
                                                                  "details": outcome.details}
    entries: list[tuple[EntryKind, dict[str, Any]]] = [(EntryKind.DECISION, data)]
    if outcome.new_plan is not None:  # a renewed offer: on the case with the notice that makes it
        case.plan = outcome.new_plan
        entries.append((EntryKind.PLAN, plan_data(outcome.new_plan) | {"renewed": True}))
    if decision.action is Action.CLOSE and case.status in (CaseStatus.RESOLVED, CaseStatus.REFERRED_TO_LEGAL):
        entries.append((EntryKind.CASE_CLOSED, {"status": case.status.value, "reasons": data["reasons"],
                                                "by_decision": True}))
    return entries


def _recover_interrupted_sends(ports: Ports, history: AccountHistory, record: CaseRecord, now: datetime,
                               actor: str) -> bool:
    """A plan that died between the gate and the outcome left its notice SENDING: the provider may
    have it, so it is recorded UNCERTAIN (it counts against the caps) and never sent again.

    Every notice of the case is the planner's (steps of any strategy or policy version, plan
    reminders, the legal referral notice) except the replies to customers' texts, which the
    inbound functions send and may have in flight right now; one gated longer ago than any Lambda
    invocation can run was cut short too (else it would keep its case reading the ledger whole)."""
    stuck = [n for n in history.notices.get(record.case.case_id, [])
             if n.status is NoticeStatus.SENDING
             and (not n.step_id.startswith(SERVICE_STEP_PREFIX) or n.created_at < now - LONGEST_INVOCATION)]
    for notice in stuck:
        _record_interrupted(ports, record, notice, now, actor)
    return bool(stuck)


def _record_interrupted(ports: Ports, record: CaseRecord, notice: Notice, now: datetime, actor: str,
                        before: Entries = ()) -> SendResult:
    """A notice left SENDING by a crash after the gate: the provider may have it, so UNCERTAIN."""
    _finish(ports, record, notice, NoticeStatus.UNCERTAIN, None, "recovered after interruption", now, actor, before)
    count("UncertainSends", Channel=notice.channel.value, Step=step_dimension(notice.step_id))
    return SendResult(NoticeStatus.UNCERTAIN.value, notice.step_id, [ReasonCode.UNCERTAIN_SEND.value])


@dataclass
class SendResult:
    status: str
    step_id: str
    reasons: list[str]
    until: datetime | None = None  # a DEFER: the earliest instant the notice is allowed
    # SENT on the case as it was read (nothing came between): the case's next move after it, as
    # recorded with the notice (None: plan again at once)
    move: Move | None = None

    def as_output(self) -> dict[str, Any]:
        return {"status": self.status, "step_id": self.step_id, "reasons": self.reasons}


def _extra_facts(record: CaseRecord, summary: CaseSummary | None = None) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if record.case.plan is not None:
        extra["plan"] = record.case.plan
    if record.case.promise is not None:
        extra["promise"] = record.case.promise
    if summary is not None:  # the final and referral notices say what happened, truthfully
        extra["history"] = summary.engagement
    return extra


def _destination(account: Account, channel: Channel) -> str:
    dest = account.contact.phone if channel is Channel.SMS else account.contact.email
    if dest is None:
        raise ProviderRejected("NoDestination")
    return str(dest)


def render_for(ports: Ports, account: Account, policy: Policy, record: CaseRecord | None, template_id: str,
               channel: Channel, extra: dict[str, Any] | None = None,
               summary: CaseSummary | None = None) -> RenderedNotice:
    # Imported here: agent tasks and failures share this module and never render; Jinja2 and Babel's
    # date formats are a noticeable part of their cold start. (PlanNextAction, which sends, loads
    # them at init instead, so its first notice does not pay for them.)
    from dunning.domain.notices.facts import build_facts
    from dunning.domain.notices.render import render

    # Every link opens the customer's page, at the deployment's address for it.
    now = ports.clock.now()
    facts = build_facts(account, policy, now, link_secret=ports.keys.link_secret,
                        extra=(_extra_facts(record, summary) if record else {}) | (extra or {}),
                        link_base=ports.page_base_url)
    jp = policy.for_jurisdiction(account.jurisdiction)
    if channel is Channel.SMS and jp.sms_short_links:
        short = _shortened(ports, policy, facts.pay_link, now, jp.collector.short_link_host)
        facts = facts.model_copy(update={"sms_pay_link": short})  # what a text shows (render picks it)
    return render(template_id, channel, facts, account.notice_locale)


def _shortened(ports: Ports, policy: Policy, link: str, now: datetime, host: str | None = None) -> str:
    """The same link as a short code (kept a month past the link's expiry, so an expired short
    link still opens the page that offers a fresh one)."""
    from dunning.domain.links import short_link, token_of

    base = host or link[: link.index("/p/")]
    keep_until = now + timedelta(days=policy.link_valid_days + 30)
    return short_link(base, ports.collections.shorten_link(token_of(link), keep_until))


Entries = Sequence[tuple[EntryKind, dict[str, Any]]]


def send(ports: Ports, sender: Sender, case_id: str, account_id: str, step_id: str, channel: Channel,
         template_id: str, *, actor: str, kind: AttemptKind | None = None,
         opt_out_confirmation: bool = False, account: Account | None = None,
         extra: dict[str, Any] | None = None) -> SendResult:
    """Send one notice outside the escalation (a pre-due reminder, a written confirmation, the
    legal referral notice), at most once for (case, step). A caller that has just read the account
    with a consistent read may hand it over instead of having it read again; `extra` are notice
    facts (a payment's amount) beyond the case's own plan and promise, or a booked call-back."""
    for _ in range(GATE_ATTEMPTS):
        # the header first: with its tally it is all a send reads of the case (as a Plan's)
        header = ports.collections.case(account_id, case_id)
        history, record, account = _load(ports, case_id, account_id, account, header)
        try:
            return _send_step(ports, sender, history, record, account, ports.policy(), ports.clock.now(), step_id,
                              channel, template_id, actor=actor, kind=kind,
                              opt_out_confirmation=opt_out_confirmation, extra=extra)
        except _ReadIsStale:
            account = None  # the case or the person changed meanwhile: decide again from a fresh read
    raise TransientError("the case or the customer's contacts kept changing while sending")


GATE_ATTEMPTS = 3
# Lambda's hard limit on one invocation: a send gated longer ago than this is no longer in flight.
LONGEST_INVOCATION = timedelta(minutes=15)


class _ReadIsStale(Exception):
    """The gate lost a race on the case's header (a reply, a payment) or the customer's profile
    (another loan sent first), not on the step."""


def _send_step(ports: Ports, sender: Sender, history: AccountHistory, record: CaseRecord, account: Account,
               policy: Policy, now: datetime, step_id: str, channel: Channel, template_id: str, *, actor: str,
               kind: AttemptKind | None = None, opt_out_confirmation: bool = False,
               decided: Entries = (), contacts: list[ContactRecord] | None = None,
               profile: CustomerProfile | None = None, extra: dict[str, Any] | None = None,
               summary: CaseSummary | None = None, then: Callable[[Notice], Move | None] | None = None) -> SendResult:
    """SENDING -> provider -> SENT/FAILED/UNCERTAIN, at most once for (case, step).

    `decided` are the planner's ledger entries: they are written in the same transaction as the
    gate (or as the outcome, when nothing is sent), so a decision to send and the send agree;
    `then` gives the case's next move once the notice is recorded (see `_finish`).
    The customer's profile rides in the gate's transaction with the new contact, conditional on
    its version: of two loans of one person sending at once, one wins and the other decides again.
    """
    case_id, account_id = record.case.case_id, account.account_id
    decided = list(decided)
    existing = next((n for n in history.notices.get(case_id, []) if n.step_id == step_id), None)
    if existing is not None:
        return _step_has_its_notice(ports, record, existing, decided, now, actor)
    if profile is None:
        profile = ports.collections.customer(account.customer)
    rendered = render_for(ports, account, policy, record, template_id, channel,
                          _with_other_loans(ports, profile, account, template_id, channel, extra),
                          summary or case_summary(record, account, now))
    attempt_kind = kind or (AttemptKind.PLAN_REMINDER if template_id in _PLAN_TEMPLATES else AttemptKind.COLLECTION)
    # Only jurisdictions that require first-contact disclosures (US validation notice) ask for them.
    # (An answer or a written confirmation is no collection contact: the validation notice still is the first.)
    first = policy.for_jurisdiction(account.jurisdiction).validation_notice and not any(
        n.status is not NoticeStatus.FAILED and not n.step_id.startswith(SERVICE_STEP_PREFIX)
        for n in history.notices.get(case_id, []))
    if contacts is None:  # the planner hands over the history it has just built from the same read
        assert record.tally is not None  # _load's
        contacts = combined_history(record.tally.contacts(case_id), profile)
    verdict = check(Attempt(channel=channel, kind=attempt_kind, first_contact=first, content=rendered,
                            is_opt_out_confirmation=opt_out_confirmation),
                    account, record.case, contacts, policy, now, profile.person())
    if verdict.verdict is not Verdict.ALLOW:
        # The rendered text failed its lint, or (outside the escalation) the world changed since
        # the caller decided: record, don't send.
        if verdict.verdict is Verdict.BLOCK:
            # The step is spent, whatever blocked it: a notice that fails its own lint must raise
            # an alarm (NoticesBlocked by reason CONTENT/TONE), not loop Plan -> Send forever.
            record.case.steps_done = [*record.case.steps_done, step_id]
        data = {"step_id": step_id, "verdict": verdict.verdict.value,
                "reasons": [r.value for r in verdict.reasons], "details": verdict.details}
        _commit_or_retry(ports, record, [*decided, (EntryKind.DECISION, data)], now, actor)
        count("NoticesDeferred" if verdict.verdict is Verdict.DEFER else "NoticesBlocked",
              Channel=channel.value, Step=step_dimension(step_id), reasons=data["reasons"])
        return SendResult(verdict.verdict.value, step_id, list(data["reasons"]), verdict.until)
    sender, route = _provider(ports, sender, policy, account, channel)
    notice = Notice(notice_id=Notice.id_for(case_id, step_id), case_id=case_id, account_id=account_id,
                    step_id=step_id, channel=channel, template_id=template_id,
                    template_version=rendered.template_version, locale=rendered.locale,
                    status=NoticeStatus.SENDING, subject=rendered.subject, body=rendered.body,
                    html=rendered.html, segments=rendered.segments, created_at=now, delivery_events=[])
    gated = notice_contact(notice)
    if not _gate(ports, record, notice, gated, profile, decided, now, actor):
        return SendResult("ALREADY_SENDING", step_id, [])
    message = _outbound(account, channel, rendered, route, case_id, step_id)
    try:
        message_id = sender.send(message)
    except TransientError:
        ports.collections.delete_sending_notice(notice)  # the provider refused to take it: safe to retry
        if gated is not None:  # and it never reached them: the retry counts once, under the same ref
            _uncount(ports, account.customer, gated, now)
        raise
    except ProviderRejected as exc:
        _finish(ports, record, notice, NoticeStatus.FAILED, None, str(exc), now, actor)
        if gated is not None:  # nothing reached them: it stops counting against the person's caps
            _uncount(ports, account.customer, gated, now)
        count("NoticesFailed", Channel=channel.value)
        return SendResult(NoticeStatus.FAILED.value, step_id, [])
    except Exception as exc:  # noqa: BLE001 - unknown outcome: UNCERTAIN, never resent
        _finish(ports, record, notice, NoticeStatus.UNCERTAIN, None, type(exc).__name__, now, actor)
        count("UncertainSends", Channel=channel.value, Step=step_dimension(step_id))
        return SendResult(NoticeStatus.UNCERTAIN.value, step_id, [ReasonCode.UNCERTAIN_SEND.value])
    move = _finish(ports, record, notice, NoticeStatus.SENT, f"{sender.provider}:{message_id}", None, now, actor,
                   then=then)
    count("NoticesSent", Channel=channel.value, Step=step_dimension(step_id), Template=template_id,
          Variant=record.case.variant)
    return SendResult(NoticeStatus.SENT.value, step_id, [], move=move)


def _provider(ports: Ports, sender: Sender, policy: Policy, account: Account,
              channel: Channel) -> tuple[Sender, SmsRoute | None]:
    """Who takes this notice: a mainland number's text goes through the domestic provider its
    route names (resolved before the gate, so a provider that is not configured fails loudly
    without leaving a notice SENDING)."""
    route = policy.sms_route_for(_destination(account, channel)) if channel is Channel.SMS else None
    return (ports.sms_provider(route.provider) if route is not None else sender), route


def _outbound(account: Account, channel: Channel, rendered: RenderedNotice, route: SmsRoute | None,
              case_id: str, step_id: str) -> OutboundMessage:
    """What the provider is given."""
    # Every email can be unsubscribed from in one click (RFC 8058): the link opens the page's opt-out.
    headers = list_unsubscribe_headers(rendered.unsubscribe_link) if rendered.unsubscribe_link else None
    return OutboundMessage(destination=_destination(account, channel), body=rendered.body,
                           subject=rendered.subject, html=rendered.html,
                           tags={"case_id": case_id, "step_id": step_id}, headers=headers,
                           template=_template_call(route, rendered) if route is not None else None)


def _template_call(route: SmsRoute, rendered: RenderedNotice) -> TemplateCall | None:
    """The registered template this text is sent in, with its variables; None when it has none
    (the provider then refuses it: no free text to a mainland number)."""
    from dunning.domain.notices.render import provider_params

    registered = route.templates.get(rendered.template_id)
    if registered is None or rendered.locale != route.locale:
        return None
    values = provider_params(rendered)
    return TemplateCall(route.sign_name, registered.code, {name: values.get(name, "") for name in registered.params})


def _with_other_loans(ports: Ports, profile: CustomerProfile, account: Account, template_id: str, channel: Channel,
                      extra: dict[str, Any] | None) -> dict[str, Any] | None:
    """An overdue email covers every overdue loan of the person: it names the others too."""
    if template_id not in customers.OVERDUE_NOTICES or channel is not Channel.EMAIL or len(profile.accounts) < 2:
        return extra
    others = customers.other_overdue_loans(ports, profile, account)
    return (extra or {}) | {"other_loans": others} if others else extra


def _gate(ports: Ports, record: CaseRecord, notice: Notice, gated: ContactRecord | None, profile: CustomerProfile,
          decided: Entries, now: datetime, actor: str) -> bool:
    """The at-most-once gate: the notice SENDING, the case's header marking it (with the planner's
    entries, if any) and the person's profile counting it, in one transaction, conditional on the
    case and the person as read. False: the step is already being sent."""
    person = profile.model_copy(deep=True)
    if gated is not None:
        person.record(gated, now)
    try:
        # The header's tally marks the step SENDING, so the next decision that reads the header
        # alone knows a send is in flight or was cut short.
        ports.collections.commit(record, decided, at=now, actor=actor,
                                 extra_puts=[(ports.collections.notice_item(notice), "attribute_not_exists(sk)")],
                                 customer=person)
    except Conflict as exc:
        if decided:  # the case or the person changed since they were read: plan again (Step Functions retries)
            raise TransientError("case changed while planning") from exc
        fresh = ports.collections.case_history(notice.account_id, notice.case_id)
        if any(n.step_id == notice.step_id for n in fresh.notices.get(notice.case_id, [])):
            return False
        raise _ReadIsStale from exc
    return True


def _uncount(ports: Ports, customer_id: str, gated: ContactRecord, now: datetime) -> None:
    """Best effort: the person's profile learns the send failed. Left counted if that cannot be
    written (the loan's own history has the truth, and counting too much only delays a notice)."""
    try:
        customers.record_contact(ports, customer_id, gated.model_copy(update={"outcome": ContactOutcome.FAILED}), now)
    except TransientError:
        logger.warning("failed send still counted for the customer", extra={"notice_ref": gated.ref})


def _step_has_its_notice(ports: Ports, record: CaseRecord, existing: Notice, decided: Entries, now: datetime,
                         actor: str) -> SendResult:
    """The step was sent before: a notice left SENDING by a crash after the gate is recorded
    UNCERTAIN (never resent); any other is the step's outcome, and the step is spent."""
    step_id = existing.step_id
    if existing.status is NoticeStatus.SENDING:
        return _record_interrupted(ports, record, existing, now, actor, decided)
    if decided:  # record the planner's decision and mark the step spent
        record.case.steps_done = sorted({*record.case.steps_done, step_id})
        _commit_or_retry(ports, record, decided, now, actor)
    return SendResult(existing.status.value, step_id, [])


def _commit_or_retry(ports: Ports, record: CaseRecord, entries: Entries, now: datetime, actor: str) -> None:
    try:
        ports.collections.commit(record, entries, at=now, actor=actor)
    except Conflict as exc:
        raise TransientError("case changed while sending") from exc  # nothing was sent: retry is safe


def _finish(ports: Ports, record: CaseRecord, notice: Notice, status: NoticeStatus, message_id: str | None,
            error: str | None, now: Any, actor: str, before: Entries = (),
            then: Callable[[Notice], Move | None] | None = None) -> Move | None:
    """Mark the notice and append its full content to the ledger, in one transaction.

    `then` gives the case's next move once the notice is on it. Its waits' reasons are recorded
    with the notice, since no decision of their own will record them (the escalation waits straight
    to the move). The move is returned only when the notice went onto the case as it was read:
    None when something else changed the case first, and the loop plans again at once."""
    done = notice.model_copy(update={"status": status, "provider_message_id": message_id, "error": error,
                                     "sent_at": now if status is NoticeStatus.SENT else None})
    move = then(done) if then is not None else None
    if notice.step_id not in record.case.steps_done:
        record.case.steps_done = [*record.case.steps_done, notice.step_id]
    record.case.last_step_id = notice.step_id
    data = {
        "notice_id": done.notice_id, "step_id": done.step_id, "channel": done.channel.value,
        "template_id": done.template_id, "template_version": done.template_version, "locale": done.locale,
        "status": status.value, "provider_message_id": message_id, "error": error,
        "subject": done.subject, "body": done.body, "segments": done.segments,
    } | ({"then": [r.value for r in move[1]]} if move is not None else {})
    for attempt in range(3):
        try:
            ports.collections.commit(record, [*before, (EntryKind.NOTICE, data)], at=now, actor=actor,
                                  extra_puts=[(ports.collections.notice_item(done), None)])
            return move if attempt == 0 else None
        except Conflict as exc:
            data.pop("then", None)  # the case changed: the loop plans again at once, waiting for nothing
            if before:  # the planner's entries describe the case it read: plan again (nothing was sent here)
                raise TransientError("case changed while recording a recovered send") from exc
            # Someone else touched the case (a reply arrived): re-read the header (its ledger head,
            # tally and keys with it), never lose the record.
            fresh = ports.collections.case(notice.account_id, notice.case_id)
            fresh.case.steps_done = sorted({*fresh.case.steps_done, notice.step_id})
            fresh.case.last_step_id = notice.step_id
            for name in (f.name for f in fields(CaseRecord)):
                setattr(record, name, getattr(fresh, name))
            if attempt == 2:
                raise
    return None  # not reached: the last attempt returns or raises


TaskKindName = Literal["CALL", "LEGAL_REVIEW", "SPECIALIST"]
_TASK_METRIC = {"CALL": "CallTasks", "LEGAL_REVIEW": "LegalReviews", "SPECIALIST": "SpecialistReviews"}


def open_task(ports: Ports, case_id: str, account_id: str, step_id: str, kind: TaskKindName,
              token: str, actor: str = "AgentTask", reasons: Sequence[str] = ()) -> dict[str, Any]:
    """Hold the task token on the case (agents and admins act by case id) and queue the task.

    A legal review or a specialist review carries the case's history in counts (domain.case_summary:
    contact attempts and outcomes, replies, arrangements kept and broken, payments, hardship,
    disputes, days past due; no amount), in the task and in the ledger entry that requests it."""
    now = ports.clock.now()
    task: dict[str, Any] = {"case_id": case_id, "account_id": account_id, "step_id": step_id, "kind": kind,
                            "task_token": token, "created_at": now.strftime("%Y-%m-%dT%H:%M:%SZ")}
    entry: tuple[EntryKind, dict[str, Any]]
    if kind == "CALL":
        record = ports.collections.case(account_id, case_id)
        case = record.case
        case.call_task_token, case.call_task_since = token, now  # on the agents' worklist from now
        entry = (EntryKind.CALL_TASK, {"step_id": step_id, "kind": kind})
    else:
        history = ports.collections.case_history(account_id, case_id)
        found = history.cases.get(case_id)
        if found is None:
            raise NotFound(f"case {case_id}")
        record, case = found, found.case
        counts = case_summary(with_tally(history, record), ports.accounts.get(account_id), now).counts()
        task |= {"reasons": list(reasons), "summary": counts}
        if kind == "LEGAL_REVIEW":
            basis = case.specialist_decision.value if case.specialist_decision else None
            case.transition(CaseStatus.LEGAL_REVIEW)
            case.approval_task_token = token
            # A specialist's go-ahead is spent on the review it allowed.
            case.specialist_decision, case.specialist_decided_at, case.specialist_decided_by = None, None, None
            entry = (EntryKind.LEGAL, {"step_id": step_id, "event": "REVIEW_REQUESTED", "reasons": list(reasons),
                                       "specialist_decision": basis, "summary": counts})
        else:
            case.transition(CaseStatus.SPECIALIST)
            case.specialist_task_token = token
            case.specialist_decision, case.specialist_decided_at, case.specialist_decided_by = None, None, None
            entry = (EntryKind.SPECIALIST, {"step_id": step_id, "event": "REVIEW_REQUESTED",
                                            "reasons": list(reasons), "summary": counts})
    if kind != "SPECIALIST" and step_id not in case.steps_done:
        # At most one task per step, even on replay. A specialist review spends no step: the
        # legal review it stands in for may still go ahead if the specialist allows it.
        case.steps_done = [*case.steps_done, step_id]
    try:
        ports.collections.commit(record, [entry], at=now, actor=actor)
    except Conflict as exc:
        raise TransientError("case changed while opening the task") from exc
    ports.tasks.put(kind, task)
    metrics.add_metric(name=_TASK_METRIC[kind], unit="Count", value=1)
    return {"case_id": case_id, "step_id": step_id, "kind": kind}


def wait_for_events(ports: Ports, case_id: str, account_id: str, token: str, decided_version: int,
                    actor: str = "AgentTask") -> dict[str, Any]:
    """The escalation waits until the planner's instant (the task's timeout) or until a case action
    completes the token kept here, whichever comes first.

    Kept only on the case the decision saw: if anything changed it since (a reply, a payment, an
    action on the page committed between the Plan and this), the wait ends at once, so no event
    that came in meanwhile waits for the timer."""
    record = ports.collections.case(account_id, case_id)
    if record.case.version == decided_version:
        record.case.wake_token = token
        try:
            ports.collections.commit(record, [], at=ports.clock.now(), actor=actor)
            return {"case_id": case_id, "waiting": True}
        except Conflict:
            pass  # changed under us: plan again now
    ports.workflow.succeed(token, {"woken": "CASE_CHANGED"})
    return {"case_id": case_id, "waiting": False}


def record_failure(ports: Ports, case_id: str, account_id: str, error: str, cause: str,
                   actor: str = "RecordFailure") -> dict[str, Any]:
    """The escalation failed for good: keep the record so an admin can see and restart it."""
    record = ports.collections.case(account_id, case_id)
    # Causes come from our own exceptions, which never carry PII; still, keep only a bounded prefix.
    data = {"error": error[:200], "cause": cause[:500]}
    for _ in range(3):
        try:
            ports.collections.commit(record, [(EntryKind.FAILURE, data)], at=ports.clock.now(), actor=actor)
            break
        except Conflict:
            record = ports.collections.case(account_id, case_id)
    metrics.add_metric(name="EscalationFailures", unit="Count", value=1)
    logger.error("escalation failed", extra={"case_id": case_id, "error": error[:200]})
    return {"case_id": case_id, "recorded": True}
