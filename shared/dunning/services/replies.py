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

The conversation is the person's. A text (or an email that answers no one notice of ours) reaches
every open case of the customer who wrote (their loans that share the number or address, and every
other loan collections works for them): each case's ledger records it; an answer and any call-back
go out once, from the first case. What it asks is applied where it belongs: an opt-out, a special
status or a wrong number to the person; a promise, a hardship or a dispute to the loans it is about
(`dunning.domain.customers.loans_meant`): those it names by their last four digits, the one loan
whose amount it names, or all of them. Only a promise whose amount fits no loan is not applied: the
customer is asked which loan it is for (the ``which_loan`` answer). An email that answers one of our
notices is about that notice's loan, unless the notice was an overdue email, which names every
overdue loan of the person (`customers.OVERDUE_NOTICES`): a reply to it is the person's, as a text
is, and the loan of the notice it answers comes first.

A special status in the message (a bankruptcy filing, a death, a request that all contact cease, a
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
from dunning.ports import AccountHistory, CaseRecord, InboundEmail, InboundReply, InboundSms, Ports, TransientError
from dunning.services import case_actions, confirmations, escalation
from dunning.services.case_actions import ActionContext, Entries, Entry
from dunning.services.customers import OVERDUE_NOTICES
from dunning.services.deliveries import find_notice

WHICH_LOAN = "which_loan"  # the answer that asks which loan a promise is for
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
    claim: StatusClaim | None = None


@dataclass(frozen=True)
class Routing:
    """Where one message goes among a person's cases."""

    primary: bool = True  # the answer and any call-back go out once per person, from this case
    applies: bool = True  # what it asks of a loan (promise, plan, dispute) is for this case
    ask_which: bool = False  # a promise that fits no one loan: nothing applied, the customer is asked
    in_full: bool = False  # a promise of the total of all their loans: each loan is promised in full


def reading(text: str, reaction: Reaction, *, pseudo: bool, channel: Channel = Channel.SMS,
            routing: Routing = Routing(), trusted: bool = True) -> case_actions.CaseAction:
    """The case action a reply asks for. Fills `reaction` with what was understood; `channel` is the
    one the customer wrote on (a STOP that names none opts out of it)."""

    def act(ctx: ActionContext) -> Entries:
        found = classify(text, ctx.now, ctx.account.time_zones[0], locale=ctx.account.locale)
        reaction.intent, reaction.matched, reaction.language = found.intent.value, found.matched, found.language
        reaction.classification, reaction.answer_template = found, None
        reaction.claim = status_in_reply(text)
        if reaction.claim is not None:
            entries = _status_claimed(reaction.claim, found, ctx, reaction, channel)
        elif not trusted and found.intent not in (Intent.STOP, Intent.HELP):
            entries, ctx.effects.callback = [], "UNVERIFIED_REPLY"  # a person confirms before anything changes
        else:
            entries = _act_on(found, ctx, reaction, pseudo=pseudo, channel=channel, routing=routing)
            if found.confidence != "high" and not ctx.effects.callback:
                ctx.effects.callback = "UNSURE"  # acted on, and a person looks at it too
        if not routing.primary:  # the person's first case answers and queues the call-back
            ctx.effects.callback, reaction.answer_template = None, None
        return entries

    return act


def _status_claimed(claim: StatusClaim, found: Classification, ctx: ActionContext, reaction: Reaction,
                    channel: Channel) -> Entries:
    """A special status told in the message: recorded on the person (a person verifies it); an
    opt-out in the same message stands too."""
    reaction.matched = claim.matched
    entries = case_actions.special_status(claim.status, lift=False, source="REPLY")(ctx)
    if found.intent is Intent.STOP:
        entries += _contact_change(found, ctx, channel)
    if found.intent in _FOR_A_PERSON:  # the reader's own reason (a bereavement, a complaint) tells the caller more
        ctx.effects.callback = _FOR_A_PERSON[found.intent]
    return entries


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
            channel: Channel, routing: Routing) -> Entries:
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
        reaction.answer_template = _ANSWERS[intent.value] if _can_answer(ctx, _ANSWERS[intent.value], channel) else None
        if reaction.answer_template is None:
            ctx.effects.callback = "CALL_ME"  # no written help on this channel: a person answers
        return []
    if intent in (Intent.PROMISE, Intent.HARDSHIP, Intent.DISPUTE, Intent.PAID, Intent.BEREAVEMENT) and pseudo:
        ctx.effects.callback = _FOR_A_PERSON.get(intent, intent.value)  # no case to hold: a person follows up
        return []
    if _not_this_loan(intent, ctx, reaction, routing):
        if reaction.answer_template is not None and not _can_answer(ctx, reaction.answer_template, channel):
            reaction.answer_template, ctx.effects.callback = None, "CALL_ME"  # a person asks which loan
        return []
    entries = _case_change(found, ctx, channel, in_full=routing.in_full)
    if intent in _FOR_A_PERSON:
        ctx.effects.callback = _FOR_A_PERSON[intent]
    elif not entries:
        ctx.effects.callback = "UNREAD" if intent is Intent.ACCEPT else intent.value
    return entries


def _can_answer(ctx: ActionContext, template_id: str, channel: Channel) -> bool:
    from dunning.domain.notices.render import available_templates

    return (ctx.account.locale, channel) in available_templates().get(template_id, set())


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


def _case_change(found: Classification, ctx: ActionContext, channel: Channel, *, in_full: bool = False) -> Entries:
    match found.intent:
        case Intent.PROMISE if found.promise_date is not None:
            # a promise of the total of several loans promises each of them in full
            amount = None if in_full else found.promise_amount
            return case_actions.promise(found.promise_date, amount, channel)(ctx)
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
                channel: Channel = Channel.SMS, loans: list[str] | None = None) -> str:
    result = escalation.send(ports, ports.sender(channel), case_id, account_id, step_id, channel,
                             template_id, actor=actor, kind=AttemptKind.SERVICE,
                             opt_out_confirmation=template_id == "opt_out_confirmation",
                             extra={"loans": loans} if loans else None)
    return result.status


# --------------------------------------------------------------------------- who wrote, and may we act


@dataclass(frozen=True)
class _Addressee:
    """One account a message is recorded on, and whether what it says may be acted on."""

    account_id: str
    disposition: str | None = None  # None: read and acted on; else why it is only recorded
    answers: tuple[str, str] | None = None  # (case id, step id) of our notice it replies to
    every_loan: bool = False  # the notice it answers named every overdue loan of the person


def _names_every_loan(ports: Ports, thread: tuple[str, str, str]) -> bool:
    """Whether the notice a reply answers was an overdue email: it named the person's other overdue
    loans too (escalation._with_other_loans), so "I dispute this" or "I will pay Friday" may mean them."""
    _, notice = ports.collections.case_and_notice(*thread)
    return notice is not None and notice.channel is Channel.EMAIL and notice.template_id in OVERDUE_NOTICES


def _addressees(ports: Ports, message: InboundReply) -> list[_Addressee]:
    if isinstance(message, InboundSms):
        return [_Addressee(a) for a in accounts_for_phone(ports, message.from_number)]
    known = accounts_for_email(ports, message.from_address)
    thread = answered_notice(ports, message)
    gate = REJECTED if message.verdict_problems else AUTO_REPLY if message.auto_reply else None
    if thread is not None and thread[0] in known:
        # The notice it answers says which of the customer's loans the reply is about: its own, or
        # every loan it named.
        return [_Addressee(thread[0], gate, (thread[1], thread[2]), gate is None and _names_every_loan(ports, thread))]
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
    people: dict[str, list[Account]] = {}
    if addressees and (addressees[0].answers is None or addressees[0].every_loan) \
            and not any(a.disposition for a in addressees):
        for addressee in addressees:
            account = ports.accounts.find(addressee.account_id)
            if account is not None:
                people.setdefault(account.customer, []).append(account)
        if not people:  # the sender's index outlived every account behind it (deleted or erased)
            logger.info("reply for accounts that no longer exist", extra={"message_key": message.key})
            metrics.add_metric(name="RepliesUnmatched", unit="Count", value=1)
            return {"status": "UNMATCHED", "message_key": message.key}
    if not addressees:
        logger.info("reply from a sender no account uses", extra={"message_key": message.key,
                                                                  "channel": message.channel.value})
        metrics.add_metric(name="RepliesUnmatched", unit="Count", value=1)
        return {"status": "UNKNOWN_SENDER", "message_key": message.key}
    if people:
        # A shared number (a family phone) reaches each person who gave it; each conversation is theirs.
        results = [_handle_for_customer(ports, message, customer_id, accounts, actor, addressees[0])
                   for customer_id, accounts in sorted(people.items())]
    else:  # about one notice's loan, or only recorded: no routing among the person's loans
        results = [_handle_for_account(ports, message, addressee, actor) for addressee in addressees]
    if any(r.pop("retry", False) for r in results):
        # Recorded and acted on; a provider refused a confirmation for now: the redelivery finishes it.
        raise TransientError("a written confirmation could not be sent yet")
    return results[0] if len(results) == 1 else {"status": "RECORDED", "results": results}


def _handle_for_customer(ports: Ports, message: InboundReply, customer_id: str, written: list[Account],
                         actor: str, came_in: _Addressee) -> dict[str, Any]:
    """One message from one person: every open case of theirs records it (see the module docstring).
    An email in the thread of an overdue notice (``came_in.answers``) is recorded as answering it on
    the notice's loan, which comes first."""
    profile = ports.collections.customer(customer_id)
    known = {a.account_id: a for a in written}
    ids = sorted(set(known) | set(profile.accounts))
    histories = {account_id: ports.collections.history(account_id) for account_id in ids}
    open_ids = [i for i in ids if case_actions.active_case(histories[i]) is not None]
    if came_in.answers is not None and came_in.account_id in open_ids:
        open_ids.remove(came_in.account_id)
        open_ids.insert(0, came_in.account_id)

    def addressee(account_id: str) -> _Addressee:
        return came_in if account_id == came_in.account_id else _Addressee(account_id)

    if len(open_ids) <= 1:
        target = open_ids[0] if open_ids else came_in.account_id if came_in.answers else written[0].account_id
        return _handle_for_account(ports, message, addressee(target), actor, history=histories.get(target))
    accounts = {i: known.get(i) or ports.accounts.get(i) for i in open_ids}
    first = accounts[open_ids[0]]
    found = classify(message.text, message.received_at, first.time_zones[0], locale=first.locale)
    loans = [Loan(i, a.account_last4, a.amount_due.amount) for i, a in accounts.items()]
    amount = found.promise_amount if found.intent is Intent.PROMISE else None
    meant = loans_meant(message.text, amount, loans)
    ask = meant is None
    chosen = set(meant or [])
    in_full = amount is not None and len(chosen) > 1
    targets = [i for i in open_ids if i in chosen] + [i for i in open_ids if i not in chosen]
    results = []
    for n, account_id in enumerate(targets):
        routing = Routing(primary=n == 0, applies=ask or account_id in chosen, ask_which=ask, in_full=in_full)
        results.append(_handle_for_account(ports, message, addressee(account_id), actor,
                                           history=histories[account_id], account=accounts[account_id],
                                           routing=routing, loans=[loan.last4 for loan in loans]))
    primary = results[0]
    combined: dict[str, Any] = {
        "status": "RECORDED", "customer_id": customer_id, "case_id": primary.get("case_id"),
        "intent": primary.get("intent"), "reply": primary.get("reply"), "callback": primary.get("callback"),
        "cases": [{"case_id": r.get("case_id"), "case_status": r.get("case_status")} for r in results],
        "asked_which_loan": ask,
    }
    if any(r.pop("retry", False) for r in results):
        combined["retry"] = True
    return combined


def _redo_duplicate(ports: Ports, message: InboundReply, account_id: str, history: AccountHistory,
                    case_id: str, entry: LedgerEntry, actor: str, loans: list[str] | None = None) -> dict[str, Any]:
    """The message was recorded before: only finish what a crash may have cut short."""
    if _latest_opt_change(history, entry):
        for kind, channel in entry.data.get("account_changes") or []:
            case_actions.apply_account_change(ports, account_id, (kind, Channel(channel) if channel else None))
    template, intent = entry.data.get("reply_template"), entry.data.get("intent")
    answer = (send_answer(ports, case_id, account_id, template, answer_step_id(str(intent), message.message_id),
                          actor, message.channel, loans=loans) if template and intent else None)
    recorded = [confirmations.Confirmation.from_record(c) for c in entry.data.get("confirmations") or []]
    confirmed = confirmations.send(ports, case_id, account_id, recorded, prefer=message.channel, actor=actor)
    return {"status": "DUPLICATE", "case_id": case_id, "intent": intent, "reply": answer, "retry": confirmed.retry}


def _handle_for_account(ports: Ports, message: InboundReply, addressee: _Addressee, actor: str, *,
                        history: AccountHistory | None = None, account: Account | None = None,
                        routing: Routing = Routing(), loans: list[str] | None = None) -> dict[str, Any]:
    account_id = addressee.account_id
    account = account or ports.accounts.find(account_id)
    if account is None:
        # The index outlived its account row (deleted or erased): nothing to act on, and a retry
        # would never find it. Counted and acknowledged; the text is not kept for nobody.
        logger.info("reply for an account that no longer exists",
                    extra={"message_key": message.key, "account_id": account_id})
        metrics.add_metric(name="RepliesUnmatched", unit="Count", value=1)
        return {"status": "UNMATCHED", "message_key": message.key, "account_id": account_id}
    history = history or ports.collections.history(account_id)
    prior = _reply_entry(history, message.key)
    if prior is not None:
        return _redo_duplicate(ports, message, account_id, history, *prior, actor, loans=loans)
    # An unsigned push (authenticated False) acts like a message with no case: only an opt-out acts.
    trusted = not isinstance(message, InboundSms) or message.authenticated
    pseudo = case_actions.active_case(history) is None or not trusted
    reaction = Reaction()
    channel = message.channel
    disposition = addressee.disposition
    if disposition is not None:
        reaction.intent = None
        action = _only_recorded(disposition)
    elif not message.text.strip():
        action = _unread  # nothing to read (an attachment, an empty body): a person opens it
    else:
        action = reading(message.text, reaction, pseudo=pseudo, channel=channel, routing=routing, trusted=trusted)

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
            "special_status": reaction.claim.status.value if reaction.claim else None,
        }
        data |= _sender_fields(ports, message, addressee)
        if found is not None and found.promise_date is not None:
            data["promise_date"] = found.promise_date.isoformat()
        if found is not None and found.promise_amount is not None:
            data["promise_amount"] = format(found.promise_amount, "f")
        return EntryKind.REPLY, data

    # One message, one set of written confirmations: the person's first case sends them.
    done = case_actions.perform(ports, account_id, action, reply_entry, actor=actor, prefix="INBOUND",
                                history=history, account=account, channel=channel,
                                confirm=disposition is None and routing.primary)
    record = done.record
    if disposition is None:
        metrics.add_metric(name=f"Reply{(reaction.intent or 'OTHER').title().replace('_', '')}", unit="Count",
                           value=1)
    count_recorded(done.written, record.case.variant)
    if reaction.claim is not None and routing.primary:
        count("SpecialStatuses", Reason=reaction.claim.status.value, Source="REPLY")
    logger.info("reply recorded", extra={"case_id": record.case.case_id, "intent": reaction.intent,
                                         "channel": channel.value, "disposition": disposition,
                                         "matched": reaction.matched, "status": record.case.status.value})
    answer = (send_answer(ports, record.case.case_id, account_id, reaction.answer_template,
                          answer_step_id(str(reaction.intent), message.message_id), actor, channel, loans=loans)
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
