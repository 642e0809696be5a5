"""How each simulated customer behaves: what they do when a notice or an agent's call reaches them.

The persona (sandbox.portfolio.Persona) decides; the simulator (sandbox.simulate) carries the
decision out through the system's own entry points (a payment on the bus, a text to the SMS
webhook, an email reply through SES receiving, an agent's call outcome through AdminFunction).
Nothing here touches AWS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sandbox.portfolio import SPECIAL_STATUS, Persona, SyntheticAccount
from sandbox.providers import ProviderMessage

REPLY_DELAY_MINUTES = 3  # a person answers a few minutes after the text arrives
PROMISE_DAYS = 5  # a promising customer names a day this far ahead
PAYMENT_HOUR_UTC = 15  # a promised payment or an instalment is paid at this hour of its day
CALL_PLAN_INSTALMENTS = 3  # what a customer in hardship agrees to on the phone


def _promise_text(days: int) -> Callable[[datetime], str]:
    def text(now: datetime) -> str:
        return f"I will pay on {(now + timedelta(days=days)).date().isoformat()}"
    return text


REPLY_TEXT: dict[Persona, Callable[[datetime], str]] = {
    Persona.REPLIES_STOP: lambda now: "STOP",
    Persona.PROMISE_KEPT: _promise_text(PROMISE_DAYS),
    Persona.PROMISE_BROKEN: _promise_text(PROMISE_DAYS),
    Persona.DISPUTES: lambda now: "I dispute this debt, it is not mine",
    Persona.WRONG_NUMBER: lambda now: "Wrong number, I don't know this person",
    # A special status the customer (or their family) tells collections of, in their own words.
    Persona.DECEASED: lambda now: "This is her son. My mother passed away last month.",
    Persona.CEASE_CONTACT: lambda now: "Cease all communication with me about this account.",
    Persona.VULNERABLE: lambda now: "I am in chemotherapy and cannot deal with this right now.",
}
# These answer the email (the US first notice invites disputes by email), quoting it below their
# text as mail clients do; the others text back.
ANSWERS_BY_EMAIL = frozenset({Persona.DISPUTES, Persona.PROMISE_BROKEN})


def at_payment_hour(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, PAYMENT_HOUR_UTC, tzinfo=UTC)


@dataclass
class PersonaState:
    """One customer: what reached them, what they paid, and what they have decided to do."""

    account: SyntheticAccount
    messages: list[ProviderMessage] = field(default_factory=list)
    paid: Decimal = Decimal("0")
    pay_at: datetime | None = None  # a payment the customer has decided to make
    pay_amount: Decimal = Decimal("0")
    replied: set[str] = field(default_factory=set)
    calls_answered: int = 0
    plan: list[tuple[datetime, Decimal]] = field(default_factory=list)  # instalments the customer will pay
    first_due: date | None = None  # the earliest due date of all the person's loans (default: this loan's)

    @property
    def persona(self) -> Persona:
        return self.account.persona

    def reads(self, message: ProviderMessage, now: datetime) -> bool:
        """The customer reads ``message`` at ``now`` and may decide to pay; True: they will answer it
        (by text, or by email for those who write emails)."""
        self.messages.append(message)
        if self.pay_at is not None or self.paid >= self.account.amount_due:
            return False
        if message.sent_at.date() <= self.account.due_date:
            return False  # a pre-due reminder: nothing to answer yet
        if self.persona is Persona.PAYS_FIRST_REMINDER:
            self.pay_at, self.pay_amount = now + timedelta(hours=5), self.account.amount_due
        elif self.persona is Persona.PAYS_LATE and (now.date() - (self.first_due or self.account.due_date)).days >= 18:
            self.pay_at, self.pay_amount = now + timedelta(hours=30), self.account.amount_due
        elif self.persona in REPLY_TEXT and self.persona.value not in self.replied \
                and message.channel == ("EMAIL" if self.persona in ANSWERS_BY_EMAIL else "SMS"):
            return True
        return False

    def status_by_admin(self) -> str | None:
        """The special status the legal team sets on this customer by an admin command, once."""
        status = SPECIAL_STATUS.get(self.persona)
        if status is None or status[1] != "ADMIN" or self.persona.value in self.replied:
            return None
        self.replied.add(self.persona.value)
        return status[0]

    def writes_reply(self, now: datetime) -> str:
        """The one reply this customer sends, written at ``now``; a promise they keep is a payment planned."""
        self.replied.add(self.persona.value)
        if self.persona is Persona.PROMISE_KEPT:
            self.pay_at = at_payment_hour((now + timedelta(days=PROMISE_DAYS)).date())
            self.pay_amount = self.account.amount_due
        return REPLY_TEXT[self.persona](now)

    def payments_due(self, now: datetime) -> list[Decimal]:
        """What the customer pays at ``now``: a decided payment first, then instalments that fell due."""
        due: list[Decimal] = []
        if self.pay_at is not None and self.pay_at <= now:
            due.append(self.pay_amount)
            self.pay_at = None
        while self.plan and self.plan[0][0] <= now:
            due.append(self.plan.pop(0)[1])
        return due

    def agrees_to_plan(self) -> bool:
        """On the phone: a customer in hardship agrees to instalments, once, before paying anything."""
        return self.persona in (Persona.PLAN_KEPT, Persona.PLAN_BROKEN) and self.paid == 0 and not self.plan

    def call_outcome(self, task: dict[str, Any]) -> dict[str, Any]:
        """The admin command an agent records after calling this customer for ``task``."""
        command: dict[str, Any] = {"type": "record_call_outcome", "account_id": task["account_id"],
                                   "case_id": task["case_id"], "outcome": "NO_ANSWER"}
        if self.agrees_to_plan():
            command |= {"outcome": "HARDSHIP", "instalments": CALL_PLAN_INSTALMENTS,
                        "note": "agreed instalments by phone"}
        return command

    def follows_plan(self, instalments: list[dict[str, Any]]) -> None:
        """The instalments of the agreed plan this customer will pay on their due dates (all, or the first)."""
        keep = instalments if self.persona is Persona.PLAN_KEPT else instalments[:1]
        for inst in keep:
            amount = Decimal(str((inst.get("amount") or {}).get("amount", "0")))
            self.plan.append((at_payment_hour(date.fromisoformat(str(inst["due_on"]))), amount))
