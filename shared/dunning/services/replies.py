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
import unicodedata
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
from dunning.services.case_actions import AccountChange, ActionContext, Entries, Entry

ACCEPT_PLAN = "ACCEPT_PLAN"  # a reply-level intent: only meaningful while a plan is on offer
# Whole-message answers that accept an offered plan. Deliberately not in the classifier: "YES"
# means START there, and only the case (a plan OFFERED) gives it this meaning.
ACCEPT_WORDS = frozenset({"yes", "y", "accept", "accepted", "agree", "iagree", "ok", "okay", "yesplease",
                          "同意", "接受", "好", "好的", "可以", "确认", "同意分期", "接受分期"})

_ANSWERS: dict[str, str] = {
    Intent.STOP.value: "opt_out_confirmation",
    Intent.HELP.value: "help_reply",
    Intent.PROMISE.value: "promise_confirmation",
    Intent.HARDSHIP.value: "plan_offer",
    ACCEPT_PLAN: "plan_confirmation",
}

_CONTACT_INTENTS: dict[Intent, tuple[AccountChange, bool]] = {  # change, and whether the ledger says so
    Intent.STOP: (("OPT_OUT", Channel.SMS), True),
    Intent.START: (("OPT_IN", Channel.SMS), True),
    Intent.WRONG_NUMBER: (("PHONE_UNUSABLE", None), False),
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


def _keyword(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] not in "PSZC")


def accepts_offer(text: str, case: Case) -> bool:
    """A whole-message yes while a plan is on offer (the offer asked them to reply YES)."""
    return case.plan is not None and case.plan.status is PlanStatus.OFFERED and _keyword(text) in ACCEPT_WORDS


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
        if not pseudo and accepts_offer(text, ctx.case):
            reaction.intent, reaction.matched = ACCEPT_PLAN, "listening:accept-offer"
            reaction.language = "zh" if re.search(r"[\u4e00-\u9fff]", text) else "en"
            reaction.classification = None
            entries = case_actions.accept_plan(ctx)
            reaction.answer_template = _ANSWERS[ACCEPT_PLAN] if entries else None
            ctx.effects.callback = not entries
            return entries
        found = classify(text, ctx.now, ctx.account.time_zones[0])
        reaction.intent, reaction.matched, reaction.language = found.intent.value, found.matched, found.language
        reaction.classification, reaction.answer_template = found, None
        return _act_on(found, ctx, reaction, pseudo=pseudo)

    return act


def _act_on(found: Classification, ctx: ActionContext, reaction: Reaction, *, pseudo: bool) -> Entries:
    intent = found.intent
    entries: Entries = []
    if intent in _CONTACT_INTENTS:
        (kind, channel), recorded = _CONTACT_INTENTS[intent]
        entries = case_actions.change_contact(kind, channel, "REPLY")(ctx) if recorded else []
        ctx.effects.account_change = (kind, channel)
    if intent in (Intent.STOP, Intent.HELP):
        reaction.answer_template = _ANSWERS[intent.value]
    elif intent is Intent.PAID:
        ctx.notes.append("payment claimed; only the payment feed confirms it")
    elif intent in (Intent.PROMISE, Intent.HARDSHIP, Intent.DISPUTE):
        if pseudo:
            ctx.effects.callback = True  # no case to hold: a person follows up
            return entries
        if intent is Intent.PROMISE and found.promise_date is not None:
            entries = case_actions.promise(found.promise_date, found.promise_amount, Channel.SMS)(ctx)
        elif intent is Intent.HARDSHIP:
            entries = case_actions.offer_plan_action(first_due=found.promise_date)(ctx)
        elif intent is Intent.DISPUTE:
            entries = case_actions.dispute(found.matched)(ctx)
        if any(kind in (EntryKind.PROMISE, EntryKind.PLAN) for kind, _ in entries):
            reaction.answer_template = _ANSWERS[intent.value]
        ctx.effects.callback = not entries
    elif intent in (Intent.CALL_ME, Intent.OTHER):
        ctx.effects.callback = True
    return entries


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
    recorded = [r for r in results if r["status"] != "UNMATCHED"]
    if not recorded:  # the phone is indexed, but every account behind it is gone
        return {"status": "UNMATCHED", "message_key": sms.key}
    return recorded[0] if len(recorded) == 1 else {"status": "RECORDED", "results": recorded}


def _redo_duplicate(ports: Ports, sms: InboundSms, account_id: str, history: AccountHistory,
                    case_id: str, entry: LedgerEntry, actor: str) -> dict[str, Any]:
    """The message was recorded before: only finish what a crash may have cut short."""
    stored = entry.data.get("account_change")
    if stored and _latest_opt_change(history, entry):
        case_actions.apply_account_change(ports, account_id, (stored[0], Channel(stored[1]) if stored[1] else None))
    template = entry.data.get("reply_template")
    answer = (send_answer(ports, case_id, account_id, template, answer_step_id(entry.data["intent"], sms.message_id),
                          actor) if template else None)
    return {"status": "DUPLICATE", "case_id": case_id, "intent": entry.data["intent"], "reply": answer}


def _handle_for_account(ports: Ports, sms: InboundSms, account_id: str, actor: str) -> dict[str, Any]:
    account = ports.accounts.find(account_id)
    if account is None:
        # The phone index outlived its account row (deleted or erased): nothing to act on, and a
        # retry would never find it. Counted and acknowledged; the text is not kept for nobody.
        logger.info("reply for an account that no longer exists",
                    extra={"message_key": sms.key, "account_id": account_id})
        metrics.add_metric(name="RepliesUnmatched", unit="Count", value=1)
        return {"status": "UNMATCHED", "message_key": sms.key, "account_id": account_id}
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
            "account_change": list(effects.account_change) if effects.account_change else None,
            "callback": effects.callback, "notes": list(ctx.notes),
        }
        if found is not None and found.promise_date is not None:
            data["promise_date"] = found.promise_date.isoformat()
        if found is not None and found.promise_amount is not None:
            data["promise_amount"] = format(found.promise_amount, "f")
        return EntryKind.REPLY, data

    done = case_actions.perform(ports, account_id, reading(sms.text, reaction, pseudo=pseudo), reply_entry,
                                actor=actor, prefix="INBOUND", history=history, account=account)
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
