"""The customer's profile (dunning.domain.customers): read it, change it under its version.

Every change is a small idempotent function of the profile (it returns False when the profile
already is as wanted, and then nothing is written), applied to a fresh read and written
conditionally on the version read, so concurrent writers (two loans' escalations, a reply, an
admin) never lose each other's changes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from dunning.domain.compliance import ContactRecord
from dunning.domain.customers import CustomerProfile, StatusMark
from dunning.domain.models import Account, AccountStatus, SpecialStatus
from dunning.ports import Conflict, Ports, TransientError

ATTEMPTS = 4

Change = Callable[[CustomerProfile], bool]


def update(ports: Ports, customer_id: str, change: Change) -> CustomerProfile:
    for _ in range(ATTEMPTS):
        profile = ports.collections.customer(customer_id)
        if not change(profile):
            return profile
        try:
            ports.collections.save_customer(profile)
            return profile
        except Conflict:
            continue
    raise TransientError("customer profile kept changing")


def file_status(account: Account, now: datetime) -> Change:
    """What core banking's file says of the person (a special status), added once."""

    def change(profile: CustomerProfile) -> bool:
        if account.special_status is None:
            return False
        return profile.set_status(StatusMark(status=account.special_status, since=now, source="FILE",
                                             account_id=account.account_id))

    return change


def register(ports: Ports, account: Account, now: datetime) -> CustomerProfile:
    """Collections works this loan: the person's profile lists it (and what its file says)."""
    status = file_status(account, now)
    return update(ports, account.customer, lambda p: p.register(account) | status(p))


def record_contact(ports: Ports, customer_id: str, contact: ContactRecord, now: datetime) -> None:
    update(ports, customer_id, lambda p: p.record(contact, now))


def set_status(mark: StatusMark) -> Change:
    return lambda p: p.set_status(mark)


def lift_status(status: SpecialStatus) -> Change:
    return lambda p: p.lift_status(status)


# Notices about what is overdue: the email names the person's other overdue loans too.
OVERDUE_NOTICES = frozenset({"first_notice", "overdue_reminder", "final_notice"})


def other_overdue_loans(ports: Ports, profile: CustomerProfile, account: Account) -> list[dict[str, Any]]:
    """The person's other loans collections works that are overdue too, so one notice covers them
    all: last four digits, amount due and due date. One read per other loan, and only for a
    person with several (a profile lists one loan for everyone else)."""
    out: list[dict[str, Any]] = []
    for account_id in profile.accounts:
        if account_id == account.account_id:
            continue
        other = ports.accounts.find(account_id)
        if other is None or other.status is not AccountStatus.DELINQUENT or not other.owes:
            continue
        out.append({"last4": other.account_last4, "amount": other.amount_due.quantized(), "due_date": other.due_date})
    return out
