"""ApplyPayment: a PaymentPosted event from core banking reduces what the account owes.

Waterfall: fees first, then interest, then principal (the usual order in consumer loan
agreements, and the one that reduces the balance that accrues interest last); whatever is left
is an overpayment and goes to `credit_balance`, recorded and never lost.

A payment applies at most once: the handler's Powertools idempotency record catches replays of
the same event, and the account's own `payments` list catches a payment id that comes back
later (a second event, a replay after the idempotency record expired). When nothing is owed any
more the account becomes PAID_OFF; the account stream sees DELINQUENT -> PAID_OFF and resolves
the case. A partial payment leaves the case open: every Plan re-reads the account.

The payment is also appended to the ledger of the account's collection case, if there is one
(amounts are fine there: the ledger is the encrypted contact record; they never go in logs), and
the customer gets a written receipt (payment_confirmation), once per payment id.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from dunning.domain.models import Account, AccountStatus, EntryKind, Money, Payment
from dunning.observability import logger, metrics
from dunning.ports import AccountHistory, CaseRecord, Conflict, Ports, TransientError
from dunning.services import confirmations
from dunning.services.case_actions import case_for_record, commit_change, wake

ACTOR = "ApplyPayment"
PRE_DUE_CASE_PREFIX = "PRE-"  # pre-due reminder records (see services.sweep), not collection cases
_WRITE_ATTEMPTS = 3


class PaymentRejected(ValueError):
    """A payment that cannot be applied as sent (ids and codes only in the message)."""


def apply_waterfall(account: Account, amount: Decimal) -> tuple[Account, dict[str, str]]:
    """The account after `amount` is applied fees -> interest -> principal -> credit balance."""
    remaining = amount
    applied: dict[str, Decimal] = {}
    update: dict[str, Any] = {}
    for name, key in (("fees_due", "fees"), ("interest_due", "interest"), ("principal_due", "principal")):
        owed: Decimal = getattr(account, name)
        part = min(owed, remaining)
        applied[key] = part
        update[name] = owed - part
        remaining -= part
    applied["credit"] = remaining
    update["credit_balance"] = account.credit_balance + remaining
    return account.model_copy(update=update), {k: format(v, "f") for k, v in applied.items()}


def _paid(account: Account, payment: Payment) -> tuple[Account, dict[str, str]]:
    after, applied = apply_waterfall(account, payment.amount.amount)
    status = after.status
    if not after.owes and status in (AccountStatus.DELINQUENT, AccountStatus.CURRENT):
        status = AccountStatus.PAID_OFF  # a charged-off account keeps its status: legal owns it now
    after = after.model_copy(update={"status": status, "payments": [*account.payments, payment]})
    return after, applied


def collection_case(history: AccountHistory) -> CaseRecord | None:
    """The case a payment belongs to: the latest one not closed (a referred case still counts)."""
    open_ = [r for r in history.cases.values()
             if not r.case.case_id.startswith(PRE_DUE_CASE_PREFIX)
             and not r.case.is_ended]
    return max(open_, key=lambda r: r.case.opened_at, default=None)


def _recorded(ports: Ports, record: CaseRecord, payment_id: str, read: AccountHistory | None = None) -> bool:
    """Whether the case's ledger has the payment: its tally keeps the ids of the payments it
    recorded, so a year of instalments costs no more to check than the first."""
    if record.tally is not None:
        return payment_id in record.tally.payments
    # A header written before it kept a tally: the case's own ledger says (already read when the
    # account was read whole).
    case_id = record.case.case_id
    if read is None or case_id not in read.ledger:
        read = ports.collections.case_history(record.case.account_id, case_id)
    return any(e.kind is EntryKind.PAYMENT and e.data.get("payment_id") == payment_id
               for e in read.ledger.get(case_id, []))


def _record_in_ledger(ports: Ports, record: CaseRecord, data: dict[str, Any], at: datetime) -> None:
    for attempt in range(_WRITE_ATTEMPTS):
        try:
            ports.collections.commit(record, [(EntryKind.PAYMENT, data)], at=at, actor=ACTOR)
            wake(ports, record)  # a promise kept, an instalment paid: planned now
            return
        except Conflict:
            if attempt == _WRITE_ATTEMPTS - 1:
                raise
            record = ports.collections.case(record.case.account_id, record.case.case_id)
            if _recorded(ports, record, str(data["payment_id"])):
                return  # the same payment, delivered twice at once: the other delivery recorded it


def _conflict_case(ports: Ports, history: AccountHistory, account_id: str, at: datetime) -> tuple[CaseRecord, bool]:
    """Where a conflict is recorded: the open collection case, else the newest case of the
    account (a correction often follows the payment that cured it), else a record-only case."""
    record = collection_case(history)
    if record is None:
        record = max(history.cases.values(), key=lambda r: r.case.opened_at, default=None)
    if record is not None:
        return record, False
    return case_for_record(history, account_id, at, "PAYMENT")


def _record_conflict(ports: Ports, history: AccountHistory, account_id: str, first: Payment,
                     again: Payment) -> None:
    """The payment id is already applied with another amount (a correction or a reversal sent as
    a new PaymentPosted): the first amount stands, the conflict goes to the ledger for a person."""
    if not history.whole:  # the conflict may be recorded already on a closed case: read them all (rare)
        history = ports.collections.history(account_id)
    at = ports.clock.now()
    data = {"payment_id": first.payment_id, "amount_applied": format(first.amount.amount, "f"),
            "currency_applied": first.amount.currency, "amount_received": format(again.amount.amount, "f"),
            "currency_received": again.amount.currency,
            "received_at": again.received_at.strftime("%Y-%m-%dT%H:%M:%SZ"), "kept": "FIRST"}
    seen = any(e.kind is EntryKind.PAYMENT_CONFLICT and e.data.get("payment_id") == first.payment_id
               and e.data.get("amount_received") == data["amount_received"]
               and e.data.get("currency_received") == data["currency_received"]
               for entries in history.ledger.values() for e in entries)
    if not seen:
        record, is_new = _conflict_case(ports, history, account_id, at)
        commit_change(ports, record, is_new, lambda rec: [(EntryKind.PAYMENT_CONFLICT, data)], at=at,
                      actor=ACTOR)
    metrics.add_metric(name="PaymentConflicts", unit="Count", value=1)
    logger.warning("payment id reused with a different amount; the first amount is kept",
                   extra={"payment_id": first.payment_id, "account_id": account_id})


def apply_payment(ports: Ports, payment_id: str, account_id: str, amount: Decimal, currency: str,
                  received_at: datetime) -> dict[str, Any]:
    """Apply one payment; returns ids and a status code only (APPLIED, DUPLICATE or CONFLICT)."""
    payment = Payment(payment_id=payment_id, amount=Money.of(amount, currency), received_at=received_at)
    history = ports.collections.live_headers(account_id)  # read first: the stream may cure the case meanwhile
    record = collection_case(history)
    account = ports.accounts.get(account_id)
    status, applied = "APPLIED", None
    for attempt in range(_WRITE_ATTEMPTS):
        first = next((p for p in account.payments if p.payment_id == payment_id), None)
        if first is not None and first.amount != payment.amount:
            _record_conflict(ports, history, account_id, first, payment)
            return {"payment_id": payment_id, "account_id": account_id, "status": "CONFLICT",
                    "account_status": account.status.value}
        if first is not None:
            status = "DUPLICATE"
            break
        if payment.amount.currency != account.currency:
            metrics.add_metric(name="PaymentsRejected", unit="Count", value=1)
            raise PaymentRejected(f"payment {payment_id}: currency does not match account {account_id}")
        after, applied = _paid(account, payment)
        try:
            account_after = ports.accounts.put(after, account.version)
            break
        except Conflict:
            if attempt == _WRITE_ATTEMPTS - 1:
                raise
            account = ports.accounts.get(account_id)  # changed under us: apply to the fresh balance
    else:  # pragma: no cover - the loop always breaks or raises
        raise AssertionError
    if status == "APPLIED":
        metrics.add_metric(name="PaymentsApplied", unit="Count", value=1)
        account = account_after
    # Also on a duplicate: a crash between the account write and the ledger append is healed here.
    if record is not None and not _recorded(ports, record, payment_id, history):
        data = {
            "payment_id": payment_id, "amount": format(payment.amount.amount, "f"), "currency": currency,
            "received_at": payment.received_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "applied": applied, "amount_due_after": format(account.amount_due.amount, "f"),
            "credit_balance_after": format(account.credit_balance, "f"),
            "account_status": account.status.value,
        }
        _record_in_ledger(ports, record, data, ports.clock.now())
    receipt = None
    if record is not None:
        # A receipt in writing, once per payment id (a replay, or a retry after a crash, finds it sent).
        receipt = confirmations.send(ports, record.case.case_id, account_id,
                                     [confirmations.for_payment(payment_id, payment.amount)], prefer=None, actor=ACTOR)
    logger.info("payment", extra={"payment_id": payment_id, "account_id": account_id, "status": status,
                                  "account_status": account.status.value,
                                  "case_id": record.case.case_id if record else None})
    if receipt is not None and receipt.retry:
        raise TransientError("payment applied; its receipt could not be sent yet")  # the retry sends it
    return {"payment_id": payment_id, "account_id": account_id, "status": status,
            "account_status": account.status.value,
            "receipt": next(iter(receipt.sent.values()), None) if receipt is not None else None}
