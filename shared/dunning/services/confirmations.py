"""Written confirmations: every arrangement a customer makes, from any channel, confirmed in writing.

Whoever records it (a text, an email, the customer's page, an agent after a call, an admin), an
arrangement reaches the customer in writing: an instalment plan agreed (its schedule), a plan
offered (its schedule, to accept by replying), a promise (its date and amount), a dispute (an
acknowledgement), an opt-out (the one confirmation the law allows, on that channel), and a payment
(a receipt). `for_entries` reads them off the ledger entries an action has just committed, so
every caller of `case_actions.perform` gets them the same way; `for_payment` is ApplyPayment's.

At most once each: the step id is derived from the arrangement (``service_confirm_plan_<plan id>``,
``service_confirm_promise_<instant>``, ``service_confirm_payment_<payment id>`` ...) and goes through
the notice's at-most-once gate (escalation.send), so a redelivered message, a retried command or
a replayed payment finds the confirmation already sent. They are SERVICE messages (answers to what
the customer did): compliance still refuses an opted-out channel (but for the one opt-out
confirmation), a contact detail we may not use, and a bad tone. They go in the customer's locale,
on the channel the customer used when it is a written one and may be used, else by email, else
by SMS.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dunning.domain.compliance import AttemptKind
from dunning.domain.models import Account, Channel, EntryKind, Money, PlanStatus
from dunning.domain.planning import SERVICE_STEP_PREFIX
from dunning.observability import count, logger
from dunning.ports import Ports, TransientError
from dunning.services import escalation

PREFIX = f"{SERVICE_STEP_PREFIX}confirm_"
WRITTEN = (Channel.EMAIL, Channel.SMS)  # a confirmation is in writing: the order when the customer used neither


@dataclass(frozen=True)
class Confirmation:
    """One written confirmation to send: its step (the at-most-once key) and its template."""

    step_id: str
    template_id: str
    channel: Channel | None = None  # fixed (an opt-out is confirmed on the channel opted out of)
    facts: Mapping[str, Any] = field(default_factory=dict)  # extra notice facts (a payment's amount)

    def as_record(self) -> dict[str, Any]:
        """What the caller's ledger entry keeps, so a redelivery can finish an interrupted send."""
        return {"step_id": self.step_id, "template_id": self.template_id,
                "channel": self.channel.value if self.channel else None}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Confirmation:
        channel = record.get("channel")
        return cls(str(record["step_id"]), str(record["template_id"]), Channel(channel) if channel else None)


def _part(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", value)


def step_id(kind: str, key: str) -> str:
    return f"{PREFIX}{kind}_{_part(key)}"


def for_entries(entries: Iterable[tuple[EntryKind, Mapping[str, Any]]], now: datetime) -> list[Confirmation]:
    """The confirmations an action's committed entries call for (in the order they were made)."""
    entries = list(entries)
    stamp = now.strftime("%Y%m%dT%H%M%S")
    accepted = {str(d.get("plan_id")) for k, d in entries if k is EntryKind.PLAN
                and d.get("status") == PlanStatus.ACTIVE.value}
    out: list[Confirmation] = []
    for kind, data in entries:
        if kind is EntryKind.PLAN and data.get("status") == PlanStatus.ACTIVE.value:
            out.append(Confirmation(step_id("plan", str(data.get("plan_id"))), "plan_confirmation"))
        elif kind is EntryKind.PLAN and data.get("status") == PlanStatus.OFFERED.value \
                and str(data.get("plan_id")) not in accepted:  # offered and agreed at once: one confirmation
            out.append(Confirmation(step_id("plan_offer", str(data.get("plan_id"))), "plan_offer"))
        elif kind is EntryKind.PROMISE:
            out.append(Confirmation(step_id("promise", stamp), "promise_confirmation"))
        elif kind is EntryKind.HOLD and data.get("status") == "DISPUTED":
            out.append(Confirmation(step_id("dispute", stamp), "dispute_acknowledgement"))
        elif kind is EntryKind.OPT_OUT and data.get("action") == "OPT_OUT" \
                and data.get("channel") in (Channel.SMS.value, Channel.EMAIL.value):
            channel = Channel(str(data["channel"]))
            out.append(Confirmation(step_id(f"opt_out_{channel.value.lower()}", stamp), "opt_out_confirmation",
                                    channel))
    return out


def for_payment(payment_id: str, amount: Money) -> Confirmation:
    """A receipt for one payment (once per payment id, however often the payment is replayed)."""
    return Confirmation(step_id("payment", payment_id), "payment_confirmation", facts={"payment_amount": amount})


def channel_for(account: Account, confirmation: Confirmation, prefer: Channel | None) -> Channel | None:
    """The written channel to confirm on: fixed for an opt-out; else the customer's own channel when
    written and usable, else email, else SMS. None when no channel may be used."""
    from dunning.domain.notices.render import available_templates

    can_render = available_templates().get(confirmation.template_id, set())
    if confirmation.channel is not None:
        fixed = confirmation.channel
        return fixed if account.contact.reachable(fixed) and (account.locale, fixed) in can_render else None
    order = [prefer] if prefer in WRITTEN else []
    for channel in [*order, *WRITTEN]:
        if channel is not None and account.can_use(channel) and (account.locale, channel) in can_render:
            return channel
    return None


@dataclass
class Confirmed:
    """What became of each confirmation: its send status, or why it was not sent."""

    sent: dict[str, str] = field(default_factory=dict)  # step id -> SENT, FAILED, BLOCK, DUPLICATE ...
    unsent: dict[str, str] = field(default_factory=dict)  # step id -> NO_CHANNEL or the error's type

    @property
    def retry(self) -> bool:
        """A provider refused for now (throttled): a redelivery of the same event finishes the job."""
        return "TransientError" in self.unsent.values()


def send(ports: Ports, case_id: str, account_id: str, confirmations: Sequence[Confirmation], *,
         prefer: Channel | None, actor: str) -> Confirmed:
    """Send each confirmation at most once. A failure of one never undoes the arrangement (it is
    already committed): it is reported in the result, counted and logged by id."""
    done = Confirmed()
    if not confirmations:
        return done
    account = ports.accounts.get(account_id)  # fresh: opt-outs the action just applied count
    for confirmation in confirmations:
        channel = channel_for(account, confirmation, prefer)
        if channel is None:
            done.unsent[confirmation.step_id] = "NO_CHANNEL"
            count("ConfirmationsUnsent", Template=confirmation.template_id, Reason="NO_CHANNEL")
            continue
        try:
            result = escalation.send(
                ports, ports.sender(channel), case_id, account_id, confirmation.step_id, channel,
                confirmation.template_id, actor=actor, kind=AttemptKind.SERVICE,
                opt_out_confirmation=confirmation.template_id == "opt_out_confirmation", account=account,
                extra=dict(confirmation.facts))
        except TransientError:
            done.unsent[confirmation.step_id] = "TransientError"
            count("ConfirmationsUnsent", Template=confirmation.template_id, Reason="THROTTLED")
            continue
        except Exception as exc:  # noqa: BLE001 - the arrangement stands; the missing confirmation is reported
            done.unsent[confirmation.step_id] = type(exc).__name__
            count("ConfirmationsUnsent", Template=confirmation.template_id, Reason="ERROR")
            logger.exception("written confirmation failed", extra={"case_id": case_id,
                                                                    "step_id": confirmation.step_id})
            continue
        done.sent[confirmation.step_id] = result.status
        count("Confirmations", Template=confirmation.template_id, Channel=channel.value, Status=result.status)
    return done
