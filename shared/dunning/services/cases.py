"""Opening a case when an account becomes delinquent, and ending it when the account is cured."""

from __future__ import annotations

from typing import Any

from dunning.domain.ledger import GENESIS
from dunning.domain.models import Account, AccountStatus, Case, CaseStatus, EntryKind, ReasonCode, SpecialStatus
from dunning.domain.policy import assign_variant, strategy_for
from dunning.domain.special_status import ROUTES, reasons_for
from dunning.observability import count, logger
from dunning.ports import CaseRecord, Conflict, Ports
from dunning.services import customers
from dunning.services.case_actions import active_case, commit_change, wake, wake_loan
from dunning.services.integrity import anchor_at_close


def case_id_for(account: Account) -> str:
    """One case per delinquency episode: the same due date always maps to the same case id,
    so a replayed stream record finds the case (and execution) it already opened."""
    assert account.due_date is not None
    return f"{account.account_id}-{account.due_date:%Y%m%d}"


def open_case(ports: Ports, account: Account) -> str:
    policy, now = ports.policy(), ports.clock.now()
    case_id = case_id_for(account)
    # The cases live before this one: listed with it, the account's list of live cases is complete.
    live = [cid for cid, r in ports.collections.live_headers(account.account_id).cases.items()
            if not r.case.is_ended]
    variant = assign_variant(policy, account.account_id)
    strategy_id, _ = strategy_for(policy, account, variant)
    case = Case(case_id=case_id, account_id=account.account_id, opened_at=now, strategy_id=strategy_id,
                variant=variant.id, policy_version=policy.version, jurisdiction=account.jurisdiction.value,
                execution_arn=ports.workflow.execution_arn(case_id))
    record = CaseRecord(case, -1, GENESIS)
    entries = [(EntryKind.CASE_OPENED, {
        "strategy_id": strategy_id, "variant": variant.id, "policy_version": policy.version,
        "due_date": account.due_date.isoformat() if account.due_date else None,
        "days_past_due_at_open": account.days_past_due(now.date()),
        "customer_id": account.customer,
    })]
    if account.special_status is not None:
        entries.append(_status_entry(account.special_status))
    try:
        ports.collections.commit(record, entries, at=now, actor="AccountStream", create=True, live=live)
        count("CasesOpened", Variant=variant.id, Strategy=strategy_id)
    except Conflict:
        logger.info("case already open; ensuring its escalation runs", extra={"case_id": case_id})
    # The person's profile lists the loan before anything is sent on it: its contacts then count
    # for every other loan of theirs (idempotent, so a replay repeats it harmlessly).
    customers.register(ports, account, now)
    # After the case, on a replay too: a retry after a failure here must still index the phone and
    # the address (idempotent puts), or the customer's replies would never find the case.
    ports.collections.put_contact(account.account_id, ports.keys.phone_hash(account.contact.phone),
                                  ports.keys.email_hash(account.contact.email))
    ports.workflow.start(case_id, account.account_id, account.customer)
    return case_id


def cure(ports: Ports, account: Account) -> list[str]:
    """The account no longer owes: resolve its active cases and stop their escalations."""
    history = ports.collections.live_headers(account.account_id)
    now, ended = ports.clock.now(), []
    for record in history.cases.values():
        case = record.case
        if not case.is_active and case.status is not CaseStatus.LEGAL_REVIEW:
            continue
        # Say how it was cured: the report credits plans and promises with what they achieved.
        reasons = [ReasonCode.PAID.value]
        if case.status is CaseStatus.IN_PLAN:
            reasons.append(ReasonCode.PLAN_COMPLETED.value)
        elif case.status is CaseStatus.PROMISED:
            reasons.append(ReasonCode.PROMISE_KEPT.value)
        case.transition(CaseStatus.RESOLVED)
        case.closed_at, case.resolution = now, reasons[-1]
        try:
            ports.collections.commit(record, [(EntryKind.CASE_CLOSED, {"status": "RESOLVED", "reasons": reasons})],
                                  at=now, actor="AccountStream")
        except Conflict:
            raise  # the batch item fails and is retried with fresh state
        if case.execution_arn:
            ports.workflow.stop(case.execution_arn, cause="account cured")
        anchor_at_close(ports, record)
        count("CasesCured", Variant=case.variant)
        ended.append(case.case_id)
    return ended


def _status_entry(status: SpecialStatus, source: str = "FILE", event: str = "SET") -> tuple[EntryKind, dict[str, Any]]:
    return EntryKind.SPECIAL_STATUS, {"event": event, "status": status.value, "source": source,
                                      "route": ROUTES[status], "reasons": [r.value for r in reasons_for(status)]}


def file_status_changed(ports: Ports, account: Account) -> None:
    """Core banking's file reports a special status on a loan collections already works: the
    person's profile takes it, and the loan's case records it."""
    status = account.special_status
    if status is None:
        return
    now = ports.clock.now()
    customers.update(ports, account.customer, customers.file_status(account, now))
    record = active_case(ports.collections.live_headers(account.account_id))
    if record is not None:
        record, _ = commit_change(ports, record, False, lambda rec: [_status_entry(status)], at=now,
                                  actor="AccountStream")
        wake(ports, record)
    count("SpecialStatuses", Reason=status.value, Source="FILE")


def removed(ports: Ports, account_id: str) -> list[str]:
    """The account row was deleted (REMOVE): nothing can be collected without it, so its active
    cases are closed (ACCOUNT_REMOVED) and their escalations stopped; the ledgers stay."""
    history = ports.collections.live_headers(account_id)
    now, ended = ports.clock.now(), []
    for record in history.cases.values():
        case = record.case
        if not case.is_active and case.status is not CaseStatus.LEGAL_REVIEW:
            continue
        case.transition(CaseStatus.CLOSED)
        case.closed_at, case.resolution = now, "ACCOUNT_REMOVED"
        case.call_task_token = case.approval_task_token = None
        ports.collections.commit(record, [(EntryKind.CASE_CLOSED, {"status": "CLOSED",
                                                                   "reasons": ["ACCOUNT_REMOVED"]})],
                                 at=now, actor="AccountStream")
        if case.execution_arn:
            ports.workflow.stop(case.execution_arn, cause="account removed")
        anchor_at_close(ports, record)
        ended.append(case.case_id)
    return ended


def on_account_change(ports: Ports, old: dict[str, Any] | None,
                      new: dict[str, Any] | None) -> str:
    """React to one AccountsTable stream record; returns what happened (for logs and tests).

    An empty image is a missing one (Powertools gives ``{}`` for the NewImage of a REMOVE)."""
    if not new:
        account_id = (old or {}).get("account_id")
        if not isinstance(account_id, str) or not account_id:
            return "ignored"
        ended = removed(ports, account_id)
        count("AccountsRemoved")
        return "closed" if ended else "ignored"
    account = Account.model_validate({k: v for k, v in new.items() if k != "due_date_key"})
    was = (old or {}).get("status")
    if account.status is AccountStatus.DELINQUENT and was != AccountStatus.DELINQUENT.value:
        open_case(ports, account)
        return "opened"
    if was == AccountStatus.DELINQUENT.value and account.status in (AccountStatus.CURRENT, AccountStatus.PAID_OFF):
        cure(ports, account)
        return "cured"
    reported = account.special_status
    if reported is not None and was == AccountStatus.DELINQUENT.value \
            and (old or {}).get("special_status") != reported.value:
        # A loan not in collection yet carries its status into the case when one opens.
        file_status_changed(ports, account)
        return "special_status"
    if account.status is AccountStatus.DELINQUENT and was == AccountStatus.DELINQUENT.value \
            and _moves_the_case(old or {}, new):
        return "woken" if wake_loan(ports, account.account_id) else "ignored"
    return "ignored"


# Fields of the lender's file that can bring a waiting case's next move forward: a new phone or
# address (the caps on a number, a bounce or a wrong number were the old one's), a consent given, the due date (the
# steps' days), the time zone or jurisdiction (the contact window), the person who holds the loan
# (whose caps apply). Not the amounts: they change with every day's interest and fees, and the next
# notice reads them when it is written. Not what only restricts contact (an opt-out, a time bar):
# every send is checked against it. Not what collections writes itself (payments, the customer's
# preferences, a channel marked unusable): the case action that wrote it woke the case already.
_FILE_FIELDS = ("due_date", "time_zones", "jurisdiction", "customer_id")


def _moves_the_case(old: dict[str, Any], new: dict[str, Any]) -> bool:
    before, after = old.get("contact") or {}, new.get("contact") or {}
    if any(before.get(k) != after.get(k) for k in ("phone", "email")):
        return True
    if set(new.get("consented") or ()) - set(old.get("consented") or ()):  # a set, as a list in any order
        return True
    return any(old.get(k) != new.get(k) for k in _FILE_FIELDS)
