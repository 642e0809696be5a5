"""Replies: a customer's text or email, recorded first, then acted on through the case actions.

Every inbound message becomes a REPLY ledger entry (channel, intent, rule, language, the text itself
and the provider's message id: the ledger is the contact record) in the same transaction as any
change to the case, so nothing is acted on that was not recorded. Effects outside the case
(opt-outs, a call-back, written confirmations, an answer) follow the commit and are idempotent, so
a redelivered message re-runs them harmlessly: a duplicate finds its REPLY entry, writes nothing
new, and only completes what a crash may have cut short.

SMS and email differ only in how the sender is found and in what is never acted on:

- an SMS finds its account by the hashed number (LookupIndex ``PHONE#<hash>``);
- an email by the hashed address (``EMAIL#<hash>``) and by the notice it answers (its In-Reply-To /
  References name our SES message id, ``MSG#ses:<id>``), which also picks the loan among several;
  a reply in our thread from an address we do not know is recorded and handed to a person;
- an email whose SES verdicts fail (spam, virus, DMARC, SPF and DKIM), or that a machine wrote (an
  auto-reply, out of office), is recorded with its reason and not acted on, and is no response.

What the customer asked for is then read by the same reader and carried out by the same case
actions whatever the channel; a STOP that names no channel opts out of the one they wrote on, and
confirmations go back on it. Answers that are not confirmations (HELP) are SERVICE notices with
step id ``service_<intent>_<message id>``, so each inbound message is answered at most once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import phonenumbers

from dunning.domain.compliance import AttemptKind
from dunning.domain.intents import Classification, Intent, classify
from dunning.domain.models import Case, CaseStatus, Channel, EntryKind, LedgerEntry, PlanStatus, iso_z
from dunning.domain.planning import SERVICE_STEP_PREFIX
from dunning.observability import count_recorded, logger, metrics
from dunning.ports import AccountHistory, CaseRecord, InboundEmail, InboundReply, InboundSms, Ports, TransientError
from dunning.services import case_actions, confirmations, escalation
from dunning.services.case_actions import ActionContext, Entries, Entry
from dunning.services.deliveries import find_notice

ACCEPT_PLAN = "ACCEPT_PLAN"  # an ACCEPT while a plan is on offer: only the case gives "yes" this meaning

# Answers that are not written confirmations (those follow from what the action recorded).
_ANSWERS: dict[str, str] = {Intent.HELP.value: "help_reply"}

# Replies a person must take up, with what the call-back task says about why (a code, never the text).
_FOR_A_PERSON: dict[Intent, str] = {
    Intent.CALL_ME: "CALL_ME",
    Intent.OTHER: "UNREAD",
    Intent.COMPLAINT: "COMPLAINT",
    Intent.BEREAVEMENT: "BEREAVEMENT",
    Intent.PAID: "PAYMENT_CHECK",
}

# Why a message was recorded but not acted on (the REPLY entry's disposition; never a response).
AUTO_REPLY, REJECTED, UNVERIFIED_SENDER = "AUTO_REPLY", "REJECTED", "UNVERIFIED_SENDER"


def e164(number: str) -> str:
    """Providers differ in how they write a number; the phone hash needs one form."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return number.strip()
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _accounts_behind(ports: Ports, lookup_pk: str) -> list[str]:
    items = ports.collections.lookup(lookup_pk)
    return sorted({str(i.get("lookup_sk") or i["pk"]).removeprefix("ACCOUNT#") for i in items})


def accounts_for_phone(ports: Ports, phone: str) -> list[str]:
    """Accounts whose contact phone hashes to this number (LookupIndex PHONE#<hash>)."""
    phone_hash = ports.keys.phone_hash(e164(phone))
    return _accounts_behind(ports, f"PHONE#{phone_hash}") if phone_hash else []


def accounts_for_email(ports: Ports, address: str | None) -> list[str]:
    """Accounts whose contact email hashes to this address (LookupIndex EMAIL#<hash>)."""
    address_hash = ports.keys.email_hash(address) if address else None
    return _accounts_behind(ports, f"EMAIL#{address_hash}") if address_hash else []


def answered_notice(ports: Ports, email: InboundEmail) -> tuple[str, str, str] | None:
    """(account, case, step) of our notice the email replies to, from the SES ids it references."""
    for ses_id in email.answers_ses_ids[:10]:
        found = find_notice(ports, f"ses:{ses_id}")
        if found is not None:
            return found
    return None


def plan_on_offer(case: Case) -> bool:
    return case.plan is not None and case.plan.status is PlanStatus.OFFERED


@dataclass
class Reaction:
    """What one reply means for the case, decided from the case as read (re-decided on a retry)."""

    intent: str | None = Intent.OTHER.value
    matched: str = ""
    language: str = "en"
    classification: Classification | None = None
    answer_template: str | None = None
    notes: list[str] = field(default_factory=list)


def reading(text: str, reaction: Reaction, *, pseudo: bool, channel: Channel = Channel.SMS) -> case_actions.CaseAction:
    """The case action a reply asks for. Fills `reaction` with what was understood; `channel` is the
    one the customer wrote on (a STOP that names none opts out of it)."""

    def act(ctx: ActionContext) -> Entries:
        found = classify(text, ctx.now, ctx.account.time_zones[0], locale=ctx.account.locale)
        reaction.intent, reaction.matched, reaction.language = found.intent.value, found.matched, found.language
        reaction.classification, reaction.answer_template = found, None
        entries = _act_on(found, ctx, reaction, pseudo=pseudo, channel=channel)
        if found.confidence != "high" and not ctx.effects.callback:
            ctx.effects.callback = "UNSURE"  # acted on, and a person looks at it too
        return entries

    return act


def _contact_change(found: Classification, ctx: ActionContext, channel: Channel) -> Entries:
    """STOP opts out of what the customer named (the channel they wrote on when they name nothing);
    START opts that channel back in; a wrong number or address stops us using it."""
    if found.intent is Intent.WRONG_NUMBER:
        unusable: case_actions.ContactChange = "EMAIL_UNUSABLE" if channel is Channel.EMAIL else "PHONE_UNUSABLE"
        return case_actions.change_contact(unusable, None, "REPLY")(ctx)
    if found.intent is Intent.START:
        return case_actions.change_contact("OPT_IN", channel, "REPLY")(ctx)
    entries: Entries = []
    for named in found.stop_channels or (channel,):
        entries += case_actions.change_contact("OPT_OUT", named, "REPLY")(ctx)
    return entries


def _act_on(found: Classification, ctx: ActionContext, reaction: Reaction, *, pseudo: bool,
            channel: Channel) -> Entries:
    intent = found.intent
    if intent is Intent.ACCEPT and not pseudo and plan_on_offer(ctx.case):
        reaction.intent = ACCEPT_PLAN
        entries = case_actions.accept_plan(ctx)
        ctx.effects.callback = None if entries else "UNREAD"
        return entries
    if intent is Intent.ACCEPT and Intent.START in found.secondary and channel in ctx.account.opted_out:
        intent = Intent.START  # "yes" to re-subscribing, with no offer to accept
    if intent in (Intent.STOP, Intent.START, Intent.WRONG_NUMBER):
        entries = _contact_change(found.model_copy(update={"intent": intent}), ctx, channel)
        if intent is Intent.STOP and Intent.COMPLAINT in found.secondary:
            ctx.effects.callback = "COMPLAINT"  # stopped at once, and a person takes the complaint up
        return entries
    if intent is Intent.HELP:
        reaction.answer_template = _ANSWERS[intent.value] if _can_answer(ctx, intent.value, channel) else None
        if reaction.answer_template is None:
            ctx.effects.callback = "CALL_ME"  # no written help on this channel: a person answers
        return []
    if intent in (Intent.PROMISE, Intent.HARDSHIP, Intent.DISPUTE, Intent.PAID, Intent.BEREAVEMENT) and pseudo:
        ctx.effects.callback = _FOR_A_PERSON.get(intent, intent.value)  # no case to hold: a person follows up
        return []
    entries = _case_change(found, ctx, channel)
    if intent in _FOR_A_PERSON:
        ctx.effects.callback = _FOR_A_PERSON[intent]
    elif not entries:
        ctx.effects.callback = "UNREAD" if intent is Intent.ACCEPT else intent.value
    return entries


def _can_answer(ctx: ActionContext, intent: str, channel: Channel) -> bool:
    from dunning.domain.notices.render import available_templates

    return (ctx.account.locale, channel) in available_templates().get(_ANSWERS[intent], set())


def _case_change(found: Classification, ctx: ActionContext, channel: Channel) -> Entries:
    match found.intent:
        case Intent.PROMISE if found.promise_date is not None:
            return case_actions.promise(found.promise_date, found.promise_amount, channel)(ctx)
        case Intent.HARDSHIP:
            return case_actions.offer_plan_action(first_due=found.promise_date)(ctx)
        case Intent.DISPUTE:
            return case_actions.dispute(found.matched)(ctx)
        case Intent.PAID:
            return case_actions.payment_claimed(ctx)
        case Intent.BEREAVEMENT:
            # No more automated contact while a specialist takes the case up.
            return case_actions.pause(None, ctx.policy.hardship.pause_days, "BEREAVEMENT")(ctx) \
                if ctx.case.status is CaseStatus.OPEN else []
    return []


def answer_step_id(intent: str, message_id: str) -> str:
    return f"{SERVICE_STEP_PREFIX}{intent.lower()}_{re.sub(r'[^A-Za-z0-9_-]', '_', message_id)}"


def _reply_entry(history: AccountHistory, key: str) -> tuple[str, LedgerEntry] | None:
    for case_id, entries in history.ledger.items():
        for entry in entries:
            if entry.kind is EntryKind.REPLY and entry.data.get("message_key") == key:
                return case_id, entry
    return None


def _latest_opt_change(history: AccountHistory, entry: LedgerEntry) -> bool:
    """No later opt-out/opt-in on the account: re-applying this one cannot undo a newer wish."""
    return not any(e.kind is EntryKind.OPT_OUT and e.at > entry.at for e in history.all_entries())


def send_answer(ports: Ports, case_id: str, account_id: str, template_id: str, step_id: str, actor: str,
                channel: Channel = Channel.SMS) -> str:
    result = escalation.send(ports, ports.sender(channel), case_id, account_id, step_id, channel,
                             template_id, actor=actor, kind=AttemptKind.SERVICE,
                             opt_out_confirmation=template_id == "opt_out_confirmation")
    return result.status


# --------------------------------------------------------------------------- who wrote, and may we act


@dataclass(frozen=True)
class _Addressee:
    """One account a message is recorded on, and whether what it says may be acted on."""

    account_id: str
    disposition: str | None = None  # None: read and acted on; else why it is only recorded
    answers: tuple[str, str] | None = None  # (case id, step id) of our notice it replies to


def _addressees(ports: Ports, message: InboundReply) -> list[_Addressee]:
    if isinstance(message, InboundSms):
        return [_Addressee(a) for a in accounts_for_phone(ports, message.from_number)]
    known = accounts_for_email(ports, message.from_address)
    thread = answered_notice(ports, message)
    gate = REJECTED if message.verdict_problems else AUTO_REPLY if message.auto_reply else None
    if thread is not None and thread[0] in known:
        # The notice it answers says which of the customer's loans the reply is about.
        return [_Addressee(thread[0], gate, (thread[1], thread[2]))]
    if known:
        return [_Addressee(a, gate) for a in known]
    if thread is not None:
        # Our mail, answered from an address we do not know (a forward, a second mailbox): a person
        # checks who wrote before anything changes.
        return [_Addressee(thread[0], gate or UNVERIFIED_SENDER, (thread[1], thread[2]))]
    return []


def handle_inbound(ports: Ports, message: InboundReply, actor: str = "SmsWebhook") -> dict[str, Any]:
    """Record and act on one customer message. Returns ids and codes only (for logs and the provider)."""
    addressees = _addressees(ports, message)
    if not addressees:
        logger.info("reply from a sender no account uses", extra={"message_key": message.key,
                                                                  "channel": message.channel.value})
        metrics.add_metric(name="RepliesUnmatched", unit="Count", value=1)
        return {"status": "UNKNOWN_SENDER", "message_key": message.key}
    results = [_handle_for_account(ports, message, addressee, actor) for addressee in addressees]
    if any(r.pop("retry", False) for r in results):
        # Recorded and acted on; a provider refused a confirmation for now: the redelivery finishes it.
        raise TransientError("a written confirmation could not be sent yet")
    return results[0] if len(results) == 1 else {"status": "RECORDED", "results": results}


def _redo_duplicate(ports: Ports, message: InboundReply, account_id: str, history: AccountHistory,
                    case_id: str, entry: LedgerEntry, actor: str) -> dict[str, Any]:
    """The message was recorded before: only finish what a crash may have cut short."""
    if _latest_opt_change(history, entry):
        for kind, channel in entry.data.get("account_changes") or []:
            case_actions.apply_account_change(ports, account_id, (kind, Channel(channel) if channel else None))
    template, intent = entry.data.get("reply_template"), entry.data.get("intent")
    answer = (send_answer(ports, case_id, account_id, template, answer_step_id(str(intent), message.message_id),
                          actor, message.channel) if template and intent else None)
    recorded = [confirmations.Confirmation.from_record(c) for c in entry.data.get("confirmations") or []]
    confirmed = confirmations.send(ports, case_id, account_id, recorded, prefer=message.channel, actor=actor)
    return {"status": "DUPLICATE", "case_id": case_id, "intent": intent, "reply": answer, "retry": confirmed.retry}


def _handle_for_account(ports: Ports, message: InboundReply, addressee: _Addressee, actor: str) -> dict[str, Any]:
    account_id = addressee.account_id
    history = ports.collections.history(account_id)
    prior = _reply_entry(history, message.key)
    if prior is not None:
        return _redo_duplicate(ports, message, account_id, history, *prior, actor)
    pseudo = case_actions.active_case(history) is None
    reaction = Reaction()
    channel = message.channel
    disposition = addressee.disposition
    if disposition is not None:
        reaction.intent = None
        action = _only_recorded(disposition)
    elif not message.text.strip():
        action = _unread  # nothing to read (an attachment, an empty body): a person opens it
    else:
        action = reading(message.text, reaction, pseudo=pseudo, channel=channel)

    def reply_entry(rec: CaseRecord, ctx: ActionContext, entries: Entries, before: CaseStatus) -> Entry:
        found, effects = reaction.classification, ctx.effects
        data: dict[str, Any] = {
            "intent": reaction.intent, "matched": reaction.matched, "language": reaction.language,
            # A message that failed SES's checks keeps no text here (its raw copy is at stored_at).
            "text": message.text if disposition != REJECTED else None, "channel": channel.value,
            "provider": message.provider,
            "provider_message_id": message.message_id, "message_key": message.key,
            "received_at": iso_z(message.received_at),
            "reply_template": reaction.answer_template,
            "account_changes": [list(change) for change in effects.account_changes],
            "callback": effects.callback, "notes": list(ctx.notes),
            "confidence": found.confidence if found is not None else None,
            "disposition": disposition or "READ", "response": disposition is None,
        }
        data |= _sender_fields(ports, message, addressee)
        if found is not None and found.promise_date is not None:
            data["promise_date"] = found.promise_date.isoformat()
        if found is not None and found.promise_amount is not None:
            data["promise_amount"] = format(found.promise_amount, "f")
        return EntryKind.REPLY, data

    done = case_actions.perform(ports, account_id, action, reply_entry, actor=actor, prefix="INBOUND",
                                history=history, channel=channel, confirm=disposition is None)
    record = done.record
    if disposition is None:
        metrics.add_metric(name=f"Reply{(reaction.intent or 'OTHER').title().replace('_', '')}", unit="Count",
                           value=1)
    count_recorded(done.written, record.case.variant)
    logger.info("reply recorded", extra={"case_id": record.case.case_id, "intent": reaction.intent,
                                         "channel": channel.value, "disposition": disposition,
                                         "matched": reaction.matched, "status": record.case.status.value})
    answer = (send_answer(ports, record.case.case_id, account_id, reaction.answer_template,
                          answer_step_id(str(reaction.intent), message.message_id), actor, channel)
              if reaction.answer_template else None)
    result: dict[str, Any] = {
        "status": "RECORDED" if disposition is None else disposition, "case_id": record.case.case_id,
        "intent": reaction.intent, "case_status": record.case.status.value, "reply": answer,
        "callback": done.effects.callback, "confirmations": done.confirmed.sent,
    }
    if done.confirmed.retry:
        result["retry"] = True
    return result


def _sender_fields(ports: Ports, message: InboundReply, addressee: _Addressee) -> dict[str, Any]:
    """Who wrote (as a keyed hash) and, for email, what it answers and how SES judged it."""
    if isinstance(message, InboundSms):
        return {"number_hash": ports.keys.phone_hash(e164(message.from_number))}
    fields: dict[str, Any] = {
        "address_hash": ports.keys.email_hash(message.from_address), "subject": message.subject,
        "auto_reply": message.auto_reply, "verdict_problems": list(message.verdict_problems),
        "stored_at": message.stored_at,
    }
    if addressee.answers is not None:
        fields["answers"] = {"case_id": addressee.answers[0], "step_id": addressee.answers[1]}
    return fields


def _only_recorded(disposition: str) -> case_actions.CaseAction:
    """Recorded, never acted on; a reply in our thread from an unknown address goes to a person."""

    def act(ctx: ActionContext) -> Entries:
        if disposition == UNVERIFIED_SENDER:
            ctx.effects.callback = UNVERIFIED_SENDER
        return []

    return act


def _unread(ctx: ActionContext) -> Entries:
    ctx.effects.callback = "UNREAD"
    return []
