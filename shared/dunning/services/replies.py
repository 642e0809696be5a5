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
import unicodedata
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
from dunning.services.case_actions import AccountChange, ActionContext, Entries, Entry

WHICH_LOAN = "which_loan"  # the answer that asks which loan a promise is for

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
        entries = _read(text, reaction, ctx, pseudo=pseudo, routing=routing)
        if not routing.primary:
            ctx.effects.callback = False
            reaction.answer_template = None
        return entries

    return act


def _read(text: str, reaction: Reaction, ctx: ActionContext, *, pseudo: bool, routing: Routing) -> Entries:
    claim = status_in_reply(text)
    reaction.claim = claim
    if claim is not None:
        found = classify(text, ctx.now, ctx.account.time_zones[0])
        reaction.intent, reaction.matched, reaction.language = found.intent.value, claim.matched, found.language
        reaction.classification, reaction.answer_template = found, None
        entries = case_actions.special_status(claim.status, lift=False, source="REPLY")(ctx)
        if found.intent is Intent.STOP:  # the opt-out stands too
            entries += case_actions.change_contact("OPT_OUT", Channel.SMS, "REPLY")(ctx)
            ctx.effects.account_change = ("OPT_OUT", Channel.SMS)
            ctx.effects.person_change = _both(ctx.effects.person_change,
                                              case_actions.person_opt("OPT_OUT", Channel.SMS))
        return entries
    if not pseudo and routing.applies and accepts_offer(text, ctx.case):
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
    return _act_on(found, ctx, reaction, pseudo=pseudo, routing=routing)


def _both(first: case_actions.PersonChange | None,
          second: case_actions.PersonChange | None) -> case_actions.PersonChange | None:
    if first is None or second is None:
        return first or second
    return lambda profile: first(profile) | second(profile)


def _act_on(found: Classification, ctx: ActionContext, reaction: Reaction, *, pseudo: bool,
            routing: Routing = Routing()) -> Entries:
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
        return _act_on_loan(found, ctx, reaction, routing)
    elif intent in (Intent.CALL_ME, Intent.OTHER):
        ctx.effects.callback = True
    return entries


def _act_on_loan(found: Classification, ctx: ActionContext, reaction: Reaction, routing: Routing) -> Entries:
    """A promise, a hardship or a dispute, on the loan(s) it is about."""
    intent = found.intent
    entries: Entries = []
    if routing.ask_which and intent is Intent.PROMISE:
        ctx.notes.append("the promise fits none of the customer's loans: asked which loan it is for")
        reaction.answer_template = WHICH_LOAN
        return entries
    if not routing.applies:
        ctx.notes.append("about another of the customer's loans")
        return entries
    if intent is Intent.PROMISE and found.promise_date is not None:
        amount = None if routing.in_full else found.promise_amount
        entries = case_actions.promise(found.promise_date, amount, Channel.SMS)(ctx)
    elif intent is Intent.HARDSHIP:
        entries = case_actions.offer_plan_action(first_due=found.promise_date)(ctx)
    elif intent is Intent.DISPUTE:
        entries = case_actions.dispute(found.matched)(ctx)
    if any(kind in (EntryKind.PROMISE, EntryKind.PLAN) for kind, _ in entries):
        reaction.answer_template = _ANSWERS[intent.value]
    ctx.effects.callback = not entries
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
    found = classify(sms.text, sms.received_at, first.time_zones[0])
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
    stored = entry.data.get("account_change")
    if stored and _latest_opt_change(history, entry):
        case_actions.apply_account_change(ports, account_id, (stored[0], Channel(stored[1]) if stored[1] else None))
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
            "account_change": list(effects.account_change) if effects.account_change else None,
            "callback": effects.callback, "notes": list(ctx.notes),
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
