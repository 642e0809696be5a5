"""DailySweep: mark overdue accounts delinquent (catching up on anything missed), and send
pre-due reminders.

Never a Scan: two sparse indexes of AccountsTable. PendingIndex holds exactly the accounts that
owe money and are still CURRENT (keys ``pending_shard``, 8 shards, and ``pending_due``, the due
date); DueIndex holds every account that owes money, by due date, projecting its status.

Overdue, and catch-up. An account due on D is overdue on D + grace_days + 1. Each run marks every
PendingIndex entry with ``pending_due <= sweep_date - grace_days - 1``: whichever day it fell due,
whichever sweep days were missed, however it arrived (a file that brings it CURRENT with a due date
long past, a late file, a re-import). Each goes CURRENT -> DELINQUENT with an update conditional on
still being CURRENT and still owing for that due date, which also removes its PendingIndex keys, so
it is read once and marked once; the accounts stream then opens its case (one per due date). The
reads are the work: one Query per shard plus one index item per account to mark. The sweep keeps
its watermark (CollectionsTable pk SWEEP, sk STATE: the last due date it has caught up through,
advanced conditionally so two runs cannot interleave); `dates_swept` says how many due dates a run
moved it by (more than one: sweep days were missed), and `caught_up` counts accounts marked whose
due date was at or before the previous watermark (they arrived, or turned CURRENT, after their day).

Pre-due reminders. For each pre-due step of the policy's strategies (offset_days < 0) the sweep
queries the accounts due on sweep_date - offset and, for those still CURRENT whose own strategy
has that step, sends the reminder through the notice path used by the escalation (at most once
per step, compliance engine first). A reminder has no collection case, so it is recorded under a
pre-due record `PRE-<account_id>-<due yyyymmdd>` (a Case that is CLOSED once the reminder has an
outcome). If the compliance engine DEFERs it (the sweep's hour is outside the customer's contact
window, a holiday, a cap), the record stays OPEN and any later run for the same sweep date tries
again; a reminder still deferred when the day is over is not sent: it is a courtesy, not a
collection step. Schedule a second run later in the day to reach customers in other time zones.
Anything reading an account's collection cases should skip ids starting with `PRE-`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dunning.domain.compliance import AttemptKind, Verdict
from dunning.domain.ledger import GENESIS
from dunning.domain.models import Account, AccountStatus, Case, CaseStatus, EntryKind, NoticeStatus
from dunning.domain.policy import Policy, Step, assign_variant, strategy_for
from dunning.observability import logger, metrics
from dunning.ports import BulkAccounts, CaseRecord, Conflict, NotFound, Ports
from dunning.services import escalation
from dunning.services.payments import PRE_DUE_CASE_PREFIX

ACTOR = "DailySweep"
_FINAL = {NoticeStatus.SENT.value, NoticeStatus.DELIVERED.value, NoticeStatus.FAILED.value,
          NoticeStatus.UNCERTAIN.value, NoticeStatus.BOUNCED.value, Verdict.BLOCK.value}


def pre_due_case_id(account_id: str, due_date: date) -> str:
    return f"{PRE_DUE_CASE_PREFIX}{account_id}-{due_date:%Y%m%d}"


def sweep_today(zone: str, now: datetime) -> date:
    return now.astimezone(ZoneInfo(zone)).date()


@dataclass
class SweepResult:
    """What one run did, for its log line and the metrics (counts only)."""

    dates_swept: int = 0  # due dates newly past their grace days, each marked once
    accounts_due: int = 0  # index entries read for those dates and the reminder dates
    marked_delinquent: int = 0  # accounts this run turned DELINQUENT (their case opens on the stream)
    caught_up: int = 0  # of those, accounts whose due date an earlier run should have seen (late or missed)
    reminders_sent: int = 0  # pre-due reminders handed to a provider
    reminders_deferred: int = 0  # pre-due reminders the compliance engine held for a later run
    items_read: int = 0  # items DynamoDB read for the run

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


# --------------------------------------------------------------------------- newly overdue


def _overdue_dates(last: date | None, through: date) -> list[date]:
    start = through if last is None else last + timedelta(days=1)
    return [start + timedelta(days=n) for n in range((through - start).days + 1)]


def mark_overdue(ports: Ports, bulk: BulkAccounts, sweep_date: date, policy: Policy,
                 result: SweepResult) -> None:
    state = ports.sweep_log
    last = state.last_due_date()
    through = sweep_date - timedelta(days=policy.grace_days + 1)
    result.dates_swept = len(_overdue_dates(last, through)) if last is None or through > last else 0
    for item in bulk.overdue_items(through):
        result.accounts_due += 1
        due = item.due_date or through
        if bulk.mark_delinquent(item.account_id, due):
            result.marked_delinquent += 1
            if last is not None and due <= last:
                result.caught_up += 1
    if last is None or through > last:
        try:
            state.advance(last, through, sweep_date)
        except Conflict:
            # Another run moved the watermark meanwhile; the marks above stand (each was conditional).
            logger.info("sweep watermark moved by another run", extra={"through": through.isoformat()})


# --------------------------------------------------------------------------- pre-due reminders


def _pre_due_record(ports: Ports, account: Account, policy: Policy, strategy_id: str, variant: str,
                    case_id: str, step: Step) -> CaseRecord | None:
    """The pre-due record for this reminder, created on first use; None once it is finished."""
    try:
        record = ports.collections.case(account.account_id, case_id)
    except NotFound:
        now = ports.clock.now()
        case = Case(case_id=case_id, account_id=account.account_id, opened_at=now, strategy_id=strategy_id,
                    variant=variant, policy_version=policy.version)
        record = CaseRecord(case, -1, GENESIS)
        try:
            ports.collections.commit(record, [(EntryKind.CASE_OPENED, {
                "pre_due": True, "step_id": step.id, "strategy_id": strategy_id, "variant": variant,
                "policy_version": policy.version,
                "due_date": account.due_date.isoformat() if account.due_date else None,
            })], at=now, actor=ACTOR, create=True)
        except Conflict:
            record = ports.collections.case(account.account_id, case_id)  # another run created it
    return record if record.case.is_active else None


def _close(ports: Ports, account_id: str, case_id: str, outcome: str) -> None:
    for attempt in range(3):
        record = ports.collections.case(account_id, case_id)
        if not record.case.is_active:
            return
        now = ports.clock.now()
        record.case.transition(CaseStatus.CLOSED)
        record.case.closed_at, record.case.resolution = now, f"PRE_DUE_{outcome}"
        try:
            entry = (EntryKind.CASE_CLOSED, {"status": "CLOSED", "reasons": [outcome]})
            ports.collections.commit(record, [entry], at=now, actor=ACTOR)
            return
        except Conflict:
            if attempt == 2:
                raise


def send_pre_due(ports: Ports, account: Account, step: Step, policy: Policy, strategy_id: str,
                 variant: str) -> str:
    """Send one pre-due reminder at most once; returns the outcome (SENT, DEFER, BLOCK, DONE ...)."""
    assert account.due_date is not None and step.kind.channel is not None and step.template is not None
    case_id = pre_due_case_id(account.account_id, account.due_date)
    if _pre_due_record(ports, account, policy, strategy_id, variant, case_id, step) is None:
        return "DONE"
    channel = step.kind.channel
    # The account was read (consistently) a moment ago to choose the strategy: no second read.
    result = escalation.send(ports, ports.sender(channel), case_id, account.account_id, step.id, channel,
                             step.template, actor=ACTOR, kind=AttemptKind.COLLECTION, account=account)
    if result.status in _FINAL:
        _close(ports, account.account_id, case_id, result.status)
    return result.status


def send_reminders(ports: Ports, bulk: BulkAccounts, sweep_date: date, policy: Policy,
                   result: SweepResult) -> None:
    offsets = sorted({s.offset_days for st in policy.strategies.values() for s in st.steps if s.pre_due})
    for offset in offsets:
        due = sweep_date - timedelta(days=offset)
        for item in bulk.due_items(due):
            result.accounts_due += 1
            if item.status not in (None, AccountStatus.CURRENT.value):
                continue
            account = ports.accounts.find(item.account_id)
            bulk.items_read += 1
            if account is None or account.status is not AccountStatus.CURRENT or not account.owes \
                    or account.due_date != due:
                continue  # changed since the index was read
            variant = assign_variant(policy, account.account_id)
            if variant.holdout:
                continue  # the no-contact control group gets no reminder either
            strategy_id, strategy = strategy_for(policy, account, variant)
            for step in strategy.steps:
                if step.offset_days != offset or step.kind.channel is None or step.template is None:
                    continue
                outcome = send_pre_due(ports, account, step, policy, strategy_id, variant.id)
                if outcome == NoticeStatus.SENT.value:
                    result.reminders_sent += 1
                elif outcome == Verdict.DEFER.value:
                    result.reminders_deferred += 1


# --------------------------------------------------------------------------- entry point


def run(ports: Ports, sweep_date: date | None = None, zone: str = "UTC") -> dict[str, Any]:
    """Sweep `sweep_date` (default: today in `zone`, the lender's own time zone)."""
    day = sweep_date or sweep_today(zone, ports.clock.now())
    policy = ports.policy()
    bulk = ports.bulk
    result = SweepResult()
    read_before = bulk.items_read
    mark_overdue(ports, bulk, day, policy, result)
    send_reminders(ports, bulk, day, policy, result)
    result.items_read = bulk.items_read - read_before
    out: dict[str, Any] = result.as_dict() | {"sweep_date": day.isoformat()}
    counts = result.as_dict()
    for name in ("marked_delinquent", "caught_up", "reminders_sent", "reminders_deferred"):
        metrics.add_metric(name=f"Sweep{name.title().replace('_', '')}", unit="Count", value=counts[name])
    logger.info("daily sweep", extra=out)
    return out
