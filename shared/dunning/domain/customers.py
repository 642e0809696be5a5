"""The customer: one person, however many loans. Caps, spacing, the contact window, opt-outs,
special statuses and the conversation are theirs, across all their loans (DESIGN section 3).

A `CustomerProfile` is what collections keeps about the person, on one item of its own (see the
DynamoDB adapter): which of their accounts collections works, the time zones those accounts give,
the channels the person opted out of, their special statuses, and a bounded summary of recent
contacts on any of their loans. The decision path reads it with one consistent read (its size does
not grow with history: contacts older than `CONTACT_RETENTION` are dropped, and at most
`MAX_CONTACTS` are kept), and a notice's at-most-once gate writes it in the same transaction,
conditional on its version: two loans of one person planning at the same instant cannot both send.

Pure: no I/O here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from dunning.domain.compliance import ContactOutcome, ContactRecord, Person
from dunning.domain.models import Account, Channel, SpecialStatus, UtcDatetime

# Longest look-back of any rule (7-day caps, the quiet days after a conversation) with room to
# spare; a policy asking for more still counts the loan's own history, which is never trimmed.
CONTACT_RETENTION = timedelta(days=31)
MAX_CONTACTS = 200


class StatusMark(BaseModel):
    """A special status on the customer: since when, from where, and who set it."""

    model_config = ConfigDict(frozen=True)

    status: SpecialStatus
    since: UtcDatetime
    source: str  # FILE, ADMIN or REPLY
    account_id: str  # the loan it was reported on
    by: str | None = None  # the admin's identity, for ADMIN


class CustomerProfile(BaseModel):
    customer_id: str
    accounts: list[str] = Field(default_factory=list)
    time_zones: list[str] = Field(default_factory=list)
    opted_out: set[Channel] = Field(default_factory=set)
    special: dict[SpecialStatus, StatusMark] = Field(default_factory=dict)
    contacts: list[ContactRecord] = Field(default_factory=list)
    version: int = 0  # 0: not stored yet

    # ----------------------------------------------------------------- what the rules see

    def person(self) -> Person:
        return Person(opted_out=frozenset(self.opted_out), time_zones=tuple(self.time_zones),
                      special_statuses=frozenset(self.special))

    @property
    def stopped(self) -> list[SpecialStatus]:
        """The statuses that stop every automated contact, in a stable order."""
        return sorted(s for s in self.special if s.stops_contact)

    @property
    def vulnerable(self) -> bool:
        return SpecialStatus.VULNERABLE in self.special

    # ----------------------------------------------------------------- changes (each returns True if it changed)

    def register(self, account: Account) -> bool:
        """Collections works this loan of the person: remember it and its time zones."""
        changed = False
        if account.account_id not in self.accounts:
            self.accounts = sorted({*self.accounts, account.account_id})
            changed = True
        zones = list(dict.fromkeys([*self.time_zones, *account.time_zones]))
        if zones != self.time_zones:
            self.time_zones, changed = zones, True
        return changed

    def record(self, contact: ContactRecord, now: datetime) -> bool:
        """Add one contact (once: a record with the same ref replaces the older one) and trim."""
        kept = [c for c in self.contacts if contact.ref is None or c.ref != contact.ref]
        kept.append(contact)
        horizon = now - CONTACT_RETENTION
        kept = sorted((c for c in kept if c.at >= horizon), key=lambda c: c.at)[-MAX_CONTACTS:]
        if kept == self.contacts:
            return False
        self.contacts = kept
        return True

    def set_status(self, mark: StatusMark) -> bool:
        if mark.status in self.special:
            return False
        self.special = {**self.special, mark.status: mark}
        return True

    def lift_status(self, status: SpecialStatus) -> bool:
        if status not in self.special:
            return False
        self.special = {k: v for k, v in self.special.items() if k is not status}
        return True

    def opt(self, channel: Channel, out: bool) -> bool:
        if (channel in self.opted_out) == out:
            return False
        self.opted_out = self.opted_out | {channel} if out else self.opted_out - {channel}
        return True


def combined_history(own: Iterable[ContactRecord], profile: CustomerProfile | None) -> list[ContactRecord]:
    """The loan's own contacts and the person's recent contacts on any loan, each counted once.

    The loan's history is complete; the profile adds the other loans' contacts (and this loan's,
    which are dropped as duplicates by their ref). A record without a ref is always kept: counting
    a contact twice can only make the caps stricter, never looser."""
    merged: dict[str, ContactRecord] = {}
    loose: list[ContactRecord] = []
    for record in [*own, *(profile.contacts if profile is not None else [])]:
        if record.ref is None:
            loose.append(record)
            continue
        held = merged.get(record.ref)
        # the later word on the same contact wins (SENDING -> SENT -> FAILED ...)
        if held is None or _rank(record) >= _rank(held):
            merged[record.ref] = record
    return sorted([*merged.values(), *loose], key=lambda r: r.at)


def _rank(record: ContactRecord) -> int:
    # An outcome known for good beats an assumed one: a FAILED send stops counting once it is known.
    return 0 if record.outcome is ContactOutcome.UNCERTAIN else 1


# --------------------------------------------------------------------------- which loan a reply is about


@dataclass(frozen=True)
class Loan:
    """One of a person's open loans, as a reply may name it."""

    account_id: str
    last4: str
    amount_due: Decimal


def loans_meant(text: str, amount: Decimal | None, loans: Sequence[Loan]) -> list[str] | None:
    """Which of a person's open loans a message is about; None when we must ask.

    - loans it names by their last four digits ("1234 will pay Friday");
    - else, for an amount: the one loan owing exactly that, or all of them for the total;
      an amount that fits no single loan (or two alike) cannot be placed: ask;
    - else all of them (hardship, a dispute, a promise of everything: the person means every loan).
    """
    everything = [loan.account_id for loan in loans]
    named = [loan.account_id for loan in loans if re.search(rf"(?<!\d){re.escape(loan.last4)}(?!\d)", text)]
    if named:
        return named
    if amount is None:
        return everything
    exact = [loan.account_id for loan in loans if loan.amount_due == amount]
    if len(exact) == 1:
        return exact
    if amount == sum((loan.amount_due for loan in loans), Decimal(0)):
        return everything
    return None
