"""Replies: a customer's text, recorded first, then acted on through the case actions.

Every inbound message becomes a REPLY ledger entry (intent, rule, language, the text itself and the
provider's message id: the ledger is the contact record) in the same transaction as any change to
the case, so nothing is acted on that was not recorded. Effects outside the case (opt-outs, a
call-back, an answer to the customer) follow the commit and are idempotent, so a redelivered
message re-runs them harmlessly: a duplicate finds its REPLY entry, writes nothing new, and only
completes what a crash may have cut short.

Answers we send are SERVICE notices with step id ``service_<intent>_<message id>``, so each inbound
message is answered at most once; compliance still allows only one opt-out confirmation.

The conversation is the person's. A text reaches every open case of the customer who holds the
number (their loans that share it, and every other loan collections works for them): each case's
ledger records it; the answer and any call-back go out once, from the first case. What it asks is
applied where it belongs: an opt-out, a special status or a wrong number to the person; a promise,
a hardship or a dispute to the loans it is about (`dunning.domain.customers.loans_meant`): those it
names by their last four digits, the one loan whose amount it names, or all of them. Only a
promise whose amount fits no loan is not applied: the customer is asked which loan it is for
(the ``which_loan`` answer).

A special status in the text (a bankruptcy filing, a death, a request that all contact cease, a
lawyer, a vulnerability: `dunning.domain.special_status`) is recorded on the person at once, which
stops automated contact (a vulnerable customer goes to specialists), and a person is asked to
verify it (a call-back).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import phonenumbers

from dunning.domain.compliance import AttemptKind
from dunning.domain.customers import Loan, loans_meant
from dunning.domain.intents import Classification, Intent, classify
from dunning.domain.models import Account, Case, CaseStatus, Channel, EntryKind, LedgerEntry, PlanStatus, iso_z
from dunning.domain.planning import SERVICE_STEP_PREFIX
from dunning.domain.special_status import StatusClaim, status_in_reply
from dunning.observability import count, count_recorded, logger, metrics
from dunning.ports import AccountHistory, CaseRecord, InboundSms, Ports
from dunning.services import case_actions, escalation
from dunning.services.case_actions import ActionContext, Entries, Entry

WHICH_LOAN = "which_loan"  # the answer that asks which loan a promise is for
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
    claim: StatusClaim | None = None


@dataclass(frozen=True)
class Routing:
    """Where one text goes among a person's cases."""

    primary: bool = True  # the answer and any call-back go out once per person, from this case
    applies: bool = True  # what it asks of a loan (promise, plan, dispute) is for this case
    ask_which: bool = False  # a promise that fits no one loan: nothing applied, the customer is asked
    in_full: bool = False  # a promise of the total of all their loans: each loan is promised in full


def reading(text: str, reaction: Reaction, *, pseudo: bool, routing: Routing = Routing()) -> case_actions.CaseAction:
    """The case action a reply asks for. Fills `reaction` with what was understood."""

    def act(ctx: ActionContext) -> Entries:
        found = classify(text, ctx.now, ctx.account.time_zones[0], locale=ctx.account.locale)
        reaction.intent, reaction.matched, reaction.language = found.intent.value, found.matched, found.language
        reaction.classification, reaction.answer_template = found, None
        reaction.claim = status_in_reply(text)
        if reaction.claim is not None:
            entries = _status_claimed(reaction.claim, found, ctx, reaction)
        else:
            entries = _act_on(found, ctx, reaction, pseudo=pseudo, routing=routing)
            if found.confidence != "high" and not ctx.effects.callback:
                ctx.effects.callback = "UNSURE"  # acted on, and a person looks at it too
        if not routing.primary:  # the person's first case answers and queues the call-back
            ctx.effects.callback, reaction.answer_template = None, None
        return entries

    return act


def _status_claimed(claim: StatusClaim, found: Classification, ctx: ActionContext, reaction: Reaction) -> Entries:
    """A special status told in the text: recorded on the person (a person verifies it); an opt-out
    in the same text stands too."""
    reaction.matched = claim.matched
    entries = case_actions.special_status(claim.status, lift=False, source="REPLY")(ctx)
    if found.intent is Intent.STOP:
        entries += _contact_change(found, ctx)
    if found.intent in _FOR_A_PERSON:  # the reader's own reason (a bereavement, a complaint) tells the caller more
        ctx.effects.callback = _FOR_A_PERSON[found.intent]
    return entries


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


def _act_on(found: Classification, ctx: ActionContext, reaction: Reaction, *, pseudo: bool,
            routing: Routing) -> Entries:
    intent = found.intent
    if intent is Intent.ACCEPT and not pseudo and routing.applies and plan_on_offer(ctx.case):
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
    if _not_this_loan(intent, ctx, reaction, routing):
        return []
    entries = _case_change(found, ctx, in_full=routing.in_full)
    if any(kind in (EntryKind.PROMISE, EntryKind.PLAN) for kind, _ in entries):
        reaction.answer_template = _ANSWERS[intent.value]
    if intent in _FOR_A_PERSON:
        ctx.effects.callback = _FOR_A_PERSON[intent]
    elif not entries:
        ctx.effects.callback = "UNREAD" if intent is Intent.ACCEPT else intent.value
    return entries


def _not_this_loan(intent: Intent, ctx: ActionContext, reaction: Reaction, routing: Routing) -> bool:
    """True for a promise, plan or dispute that is not (or not surely) for this loan, with a note
    why nothing applied; a promise that fits no one loan asks the customer which it is for."""
    if routing.ask_which and intent is Intent.PROMISE:
        ctx.notes.append("the promise fits none of the customer's loans: asked which loan it is for")
        reaction.answer_template = WHICH_LOAN
        return True
    if intent in (Intent.PROMISE, Intent.HARDSHIP, Intent.DISPUTE) and not routing.applies:
        ctx.notes.append("about another of the customer's loans")
        return True
    return False


def _case_change(found: Classification, ctx: ActionContext, *, in_full: bool = False) -> Entries:
    match found.intent:
        case Intent.PROMISE if found.promise_date is not None:
            # a promise of the total of several loans promises each of them in full
            amount = None if in_full else found.promise_amount
            return case_actions.promise(found.promise_date, amount, Channel.SMS)(ctx)
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
                loans: list[str] | None = None) -> str:
    result = escalation.send(ports, ports.sender(Channel.SMS), case_id, account_id, step_id, Channel.SMS,
                             template_id, actor=actor, kind=AttemptKind.SERVICE,
                             opt_out_confirmation=template_id == "opt_out_confirmation",
                             extra={"loans": loans} if loans else None)
    return result.status


def handle_inbound(ports: Ports, sms: InboundSms, actor: str = "SmsWebhook") -> dict[str, Any]:
    """Record and act on one customer text. Returns ids and codes only (for logs and the provider)."""
    account_ids = accounts_for_phone(ports, sms.from_number)
    people: dict[str, list[Account]] = {}
    for account_id in account_ids:
        account = ports.accounts.find(account_id)
        if account is not None:
            people.setdefault(account.customer, []).append(account)
    if not people:
        logger.info("reply from a number no account uses", extra={"message_key": sms.key})
        metrics.add_metric(name="RepliesUnmatched", unit="Count", value=1)
        return {"status": "UNKNOWN_SENDER", "message_key": sms.key}
    # A shared number (a family phone) reaches each person who gave it; each conversation is theirs.
    results = [_handle_for_customer(ports, sms, customer_id, accounts, actor)
               for customer_id, accounts in sorted(people.items())]
    return results[0] if len(results) == 1 else {"status": "RECORDED", "results": results}


def _handle_for_customer(ports: Ports, sms: InboundSms, customer_id: str, texted: list[Account],
                         actor: str) -> dict[str, Any]:
    """One text from one person: every open case of theirs records it (see the module docstring)."""
    profile = ports.collections.customer(customer_id)
    known = {a.account_id: a for a in texted}
    ids = sorted(set(known) | set(profile.accounts))
    histories = {account_id: ports.collections.history(account_id) for account_id in ids}
    open_ids = [i for i in ids if case_actions.active_case(histories[i]) is not None]
    if len(open_ids) <= 1:
        target = open_ids[0] if open_ids else texted[0].account_id
        return _handle_for_account(ports, sms, target, actor, history=histories.get(target))
    accounts = {i: known.get(i) or ports.accounts.get(i) for i in open_ids}
    first = accounts[open_ids[0]]
    found = classify(sms.text, sms.received_at, first.time_zones[0], locale=first.locale)
    loans = [Loan(i, a.account_last4, a.amount_due.amount) for i, a in accounts.items()]
    amount = found.promise_amount if found.intent is Intent.PROMISE else None
    meant = loans_meant(sms.text, amount, loans)
    ask = meant is None
    chosen = set(meant or [])
    in_full = amount is not None and len(chosen) > 1
    targets = [i for i in open_ids if i in chosen] + [i for i in open_ids if i not in chosen]
    results = []
    for n, account_id in enumerate(targets):
        routing = Routing(primary=n == 0, applies=ask or account_id in chosen, ask_which=ask, in_full=in_full)
        results.append(_handle_for_account(ports, sms, account_id, actor, history=histories[account_id],
                                           account=accounts[account_id], routing=routing,
                                           loans=[loan.last4 for loan in loans]))
    primary = results[0]
    return {"status": "RECORDED", "customer_id": customer_id, "case_id": primary.get("case_id"),
            "intent": primary.get("intent"), "reply": primary.get("reply"), "callback": primary.get("callback"),
            "cases": [{"case_id": r.get("case_id"), "case_status": r.get("case_status")} for r in results],
            "asked_which_loan": ask}


def _redo_duplicate(ports: Ports, sms: InboundSms, account_id: str, history: AccountHistory,
                    case_id: str, entry: LedgerEntry, actor: str, loans: list[str] | None = None) -> dict[str, Any]:
    """The message was recorded before: only finish what a crash may have cut short."""
    if _latest_opt_change(history, entry):
        for kind, channel in entry.data.get("account_changes") or []:
            case_actions.apply_account_change(ports, account_id, (kind, Channel(channel) if channel else None))
    template = entry.data.get("reply_template")
    answer = (send_answer(ports, case_id, account_id, template, answer_step_id(entry.data["intent"], sms.message_id),
                          actor, loans=loans) if template else None)
    return {"status": "DUPLICATE", "case_id": case_id, "intent": entry.data["intent"], "reply": answer}


def _handle_for_account(ports: Ports, sms: InboundSms, account_id: str, actor: str, *,
                        history: AccountHistory | None = None, account: Account | None = None,
                        routing: Routing = Routing(), loans: list[str] | None = None) -> dict[str, Any]:
    history = history or ports.collections.history(account_id)
    prior = _reply_entry(history, sms.key)
    if prior is not None:
        return _redo_duplicate(ports, sms, account_id, history, *prior, actor, loans=loans)
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
            "special_status": reaction.claim.status.value if reaction.claim else None,
        }
        if found is not None and found.promise_date is not None:
            data["promise_date"] = found.promise_date.isoformat()
        if found is not None and found.promise_amount is not None:
            data["promise_amount"] = format(found.promise_amount, "f")
        return EntryKind.REPLY, data

    done = case_actions.perform(ports, account_id, reading(sms.text, reaction, pseudo=pseudo, routing=routing),
                                reply_entry, actor=actor, prefix="INBOUND", history=history, account=account)
    record = done.record
    metrics.add_metric(name=f"Reply{reaction.intent.title().replace('_', '')}", unit="Count", value=1)
    count_recorded(done.written, record.case.variant)
    if reaction.claim is not None and routing.primary:
        count("SpecialStatuses", Reason=reaction.claim.status.value, Source="REPLY")
    logger.info("reply recorded", extra={"case_id": record.case.case_id, "intent": reaction.intent,
                                         "matched": reaction.matched, "status": record.case.status.value})
    answer = (send_answer(ports, record.case.case_id, account_id, reaction.answer_template,
                          answer_step_id(reaction.intent, sms.message_id), actor, loans=loans)
              if reaction.answer_template else None)
    return {"status": "RECORDED", "case_id": record.case.case_id, "intent": reaction.intent,
            "case_status": record.case.status.value, "reply": answer, "callback": done.effects.callback}
