"""Replies: a customer's text, recorded first, then acted on through the case actions.

Every inbound message becomes a REPLY ledger entry (intent, rule, language, the text itself and the
provider's message id: the ledger is the contact record) in the same transaction as any change to
the case, so nothing is acted on that was not recorded. Effects outside the case (opt-outs, a
call-back, an answer to the customer) follow the commit and are idempotent, so a redelivered
message re-runs them harmlessly: a duplicate finds its REPLY entry, writes nothing new, and only
completes what a crash may have cut short.

Answers we send are SERVICE notices with step id ``service_<intent>_<message id>``, so each inbound
message is answered at most once; compliance still allows only one opt-out confirmation.
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
from dunning.ports import AccountHistory, CaseRecord, InboundSms, Ports
from dunning.services import case_actions, escalation
from dunning.services.case_actions import ActionContext, Entries, Entry

ACCEPT_PLAN = "ACCEPT_PLAN"  # an ACCEPT while a plan is on offer: only the case gives "yes" this meaning

_ANSWERS: dict[str, str] = {
    Intent.STOP.value: "opt_out_confirmation",
    Intent.HELP.value: "help_reply",
    Intent.PROMISE.value: "promise_confirmation",
    Intent.HARDSHIP.value: "plan_offer",
    ACCEPT_PLAN: "plan_confirmation",
}

# Replies a person must take up, with what the call-back task says about why (a code, never the text).
_FOR_A_PERSON: dict[Intent, str] = {
    Intent.CALL_ME: "CALL_ME",
    Intent.OTHER: "UNREAD",
    Intent.COMPLAINT: "COMPLAINT",
    Intent.BEREAVEMENT: "BEREAVEMENT",
    Intent.PAID: "PAYMENT_CHECK",
}


def e164(number: str) -> str:
    """Providers differ in how they write a number; the phone hash needs one form."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return number.strip()
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def accounts_for_phone(ports: Ports, phone: str) -> list[str]:
    """Accounts whose contact phone hashes to this number (LookupIndex PHONE#<hash>)."""
    phone_hash = ports.keys.phone_hash(e164(phone))
    if phone_hash is None:
        return []
    items = ports.collections.lookup(f"PHONE#{phone_hash}")
    return sorted({str(i.get("lookup_sk") or i["pk"]).removeprefix("ACCOUNT#") for i in items})


def plan_on_offer(case: Case) -> bool:
    return case.plan is not None and case.plan.status is PlanStatus.OFFERED


@dataclass
class Reaction:
    """What one reply means for the case, decided from the case as read (re-decided on a retry)."""

    intent: str = Intent.OTHER.value
    matched: str = ""
    language: str = "en"
    classification: Classification | None = None
    answer_template: str | None = None
    notes: list[str] = field(default_factory=list)


def reading(text: str, reaction: Reaction, *, pseudo: bool) -> case_actions.CaseAction:
    """The case action a reply asks for. Fills `reaction` with what was understood."""

    def act(ctx: ActionContext) -> Entries:
        found = classify(text, ctx.now, ctx.account.time_zones[0], locale=ctx.account.locale)
        reaction.intent, reaction.matched, reaction.language = found.intent.value, found.matched, found.language
        reaction.classification, reaction.answer_template = found, None
        entries = _act_on(found, ctx, reaction, pseudo=pseudo)
        if found.confidence != "high" and not ctx.effects.callback:
            ctx.effects.callback = "UNSURE"  # acted on, and a person looks at it too
        return entries

    return act


def _contact_change(found: Classification, ctx: ActionContext) -> Entries:
    """STOP opts out of what the customer named (SMS when they name nothing: they wrote by SMS);
    START opts SMS back in; a wrong number stops us using the phone."""
    if found.intent is Intent.WRONG_NUMBER:
        return case_actions.change_contact("PHONE_UNUSABLE", None, "REPLY")(ctx)
    if found.intent is Intent.START:
        return case_actions.change_contact("OPT_IN", Channel.SMS, "REPLY")(ctx)
    entries: Entries = []
    for channel in found.stop_channels or (Channel.SMS,):
        entries += case_actions.change_contact("OPT_OUT", channel, "REPLY")(ctx)
    return entries


def _act_on(found: Classification, ctx: ActionContext, reaction: Reaction, *, pseudo: bool) -> Entries:
    intent = found.intent
    if intent is Intent.ACCEPT and not pseudo and plan_on_offer(ctx.case):
        reaction.intent = ACCEPT_PLAN
        entries = case_actions.accept_plan(ctx)
        reaction.answer_template = _ANSWERS[ACCEPT_PLAN] if entries else None
        ctx.effects.callback = None if entries else "UNREAD"
        return entries
    if intent is Intent.ACCEPT and Intent.START in found.secondary and Channel.SMS in ctx.account.opted_out:
        intent = Intent.START  # "yes" to re-subscribing, with no offer to accept
    if intent in (Intent.STOP, Intent.START, Intent.WRONG_NUMBER):
        entries = _contact_change(found.model_copy(update={"intent": intent}), ctx)
        if intent is Intent.STOP:
            reaction.answer_template = _ANSWERS[intent.value]
            if Intent.COMPLAINT in found.secondary:
                ctx.effects.callback = "COMPLAINT"  # stopped at once, and a person takes the complaint up
        return entries
    if intent is Intent.HELP:
        reaction.answer_template = _ANSWERS[intent.value]
        return []
    if intent in (Intent.PROMISE, Intent.HARDSHIP, Intent.DISPUTE, Intent.PAID, Intent.BEREAVEMENT) and pseudo:
        ctx.effects.callback = _FOR_A_PERSON.get(intent, intent.value)  # no case to hold: a person follows up
        return []
    entries = _case_change(found, ctx)
    if any(kind in (EntryKind.PROMISE, EntryKind.PLAN) for kind, _ in entries):
        reaction.answer_template = _ANSWERS[intent.value]
    if intent in _FOR_A_PERSON:
        ctx.effects.callback = _FOR_A_PERSON[intent]
    elif not entries:
        ctx.effects.callback = "UNREAD" if intent is Intent.ACCEPT else intent.value
    return entries


def _case_change(found: Classification, ctx: ActionContext) -> Entries:
    match found.intent:
        case Intent.PROMISE if found.promise_date is not None:
            return case_actions.promise(found.promise_date, found.promise_amount, Channel.SMS)(ctx)
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


def send_answer(ports: Ports, case_id: str, account_id: str, template_id: str, step_id: str, actor: str) -> str:
    result = escalation.send(ports, ports.sender(Channel.SMS), case_id, account_id, step_id, Channel.SMS,
                             template_id, actor=actor, kind=AttemptKind.SERVICE,
                             opt_out_confirmation=template_id == "opt_out_confirmation")
    return result.status


def handle_inbound(ports: Ports, sms: InboundSms, actor: str = "SmsWebhook") -> dict[str, Any]:
    """Record and act on one customer text. Returns ids and codes only (for logs and the provider)."""
    account_ids = accounts_for_phone(ports, sms.from_number)
    if not account_ids:
        logger.info("reply from a number no account uses", extra={"message_key": sms.key})
        metrics.add_metric(name="RepliesUnmatched", unit="Count", value=1)
        return {"status": "UNKNOWN_SENDER", "message_key": sms.key}
    results = [_handle_for_account(ports, sms, account_id, actor) for account_id in account_ids]
    return results[0] if len(results) == 1 else {"status": "RECORDED", "results": results}


def _redo_duplicate(ports: Ports, sms: InboundSms, account_id: str, history: AccountHistory,
                    case_id: str, entry: LedgerEntry, actor: str) -> dict[str, Any]:
    """The message was recorded before: only finish what a crash may have cut short."""
    if _latest_opt_change(history, entry):
        for kind, channel in entry.data.get("account_changes") or []:
            case_actions.apply_account_change(ports, account_id, (kind, Channel(channel) if channel else None))
    template = entry.data.get("reply_template")
    answer = (send_answer(ports, case_id, account_id, template, answer_step_id(entry.data["intent"], sms.message_id),
                          actor) if template else None)
    return {"status": "DUPLICATE", "case_id": case_id, "intent": entry.data["intent"], "reply": answer}


def _handle_for_account(ports: Ports, sms: InboundSms, account_id: str, actor: str) -> dict[str, Any]:
    history = ports.collections.history(account_id)
    prior = _reply_entry(history, sms.key)
    if prior is not None:
        return _redo_duplicate(ports, sms, account_id, history, *prior, actor)
    pseudo = case_actions.active_case(history) is None
    reaction = Reaction()

    def reply_entry(rec: CaseRecord, ctx: ActionContext, entries: Entries, before: CaseStatus) -> Entry:
        found, effects = reaction.classification, ctx.effects
        data: dict[str, Any] = {
            "intent": reaction.intent, "matched": reaction.matched, "language": reaction.language,
            "text": sms.text, "channel": Channel.SMS.value, "provider": sms.provider,
            "provider_message_id": sms.message_id, "message_key": sms.key,
            "number_hash": ports.keys.phone_hash(e164(sms.from_number)), "received_at": iso_z(sms.received_at),
            "reply_template": reaction.answer_template,
            "account_changes": [list(change) for change in effects.account_changes],
            "callback": effects.callback, "notes": list(ctx.notes),
            "confidence": found.confidence if found is not None else None,
        }
        if found is not None and found.promise_date is not None:
            data["promise_date"] = found.promise_date.isoformat()
        if found is not None and found.promise_amount is not None:
            data["promise_amount"] = format(found.promise_amount, "f")
        return EntryKind.REPLY, data

    done = case_actions.perform(ports, account_id, reading(sms.text, reaction, pseudo=pseudo), reply_entry,
                                actor=actor, prefix="INBOUND", history=history)
    record = done.record
    metrics.add_metric(name=f"Reply{reaction.intent.title().replace('_', '')}", unit="Count", value=1)
    count_recorded(done.written, record.case.variant)
    logger.info("reply recorded", extra={"case_id": record.case.case_id, "intent": reaction.intent,
                                         "matched": reaction.matched, "status": record.case.status.value})
    answer = (send_answer(ports, record.case.case_id, account_id, reaction.answer_template,
                          answer_step_id(reaction.intent, sms.message_id), actor)
              if reaction.answer_template else None)
    return {"status": "RECORDED", "case_id": record.case.case_id, "intent": reaction.intent,
            "case_status": record.case.status.value, "reply": answer, "callback": done.effects.callback}
