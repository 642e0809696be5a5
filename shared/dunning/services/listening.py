"""Listening: customer replies, delivery receipts and email events, recorded first, then acted on.

Every inbound message becomes a REPLY ledger entry (intent, rule, language, the text itself and the
provider's message id: the ledger is the contact record) in the same transaction as any change to
the case, so nothing is acted on that was not recorded. Effects outside the case (the account's
opt-outs and contact flags, a call-back task, a reply to the customer) follow the commit and are
idempotent, so a redelivered message re-runs them harmlessly: a duplicate finds its REPLY entry,
writes nothing new, and only completes what a crash may have cut short.

Replies we send are SERVICE notices with step id ``service_<intent>_<message id>``, so each inbound
message is answered at most once; compliance still allows only one opt-out confirmation.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import phonenumbers

from dunning.adapters.dynamo import AccountHistory, CaseRecord
from dunning.adapters.errors import Conflict, NotFound, TransientError
from dunning.adapters.webhooks import DeliveryReceipt, InboundSms
from dunning.domain.arrangements import (
    best_offer,
    hardship_pause_until,
    offer_plan,
    promise_amount,
    validate_promise,
)
from dunning.domain.compliance import AttemptKind
from dunning.domain.intents import Classification, Intent, classify, local_today
from dunning.domain.ledger import GENESIS
from dunning.domain.models import (
    Account,
    Case,
    CaseStatus,
    Channel,
    EntryKind,
    IllegalTransition,
    InstalmentPlan,
    LedgerEntry,
    Money,
    NoticeStatus,
    PlanStatus,
    Promise,
    iso_z,
    utc_now,
)
from dunning.domain.planning import SERVICE_STEP_PREFIX
from dunning.domain.policy import Policy
from dunning.observability import count_recorded, logger, metrics
from dunning.services import escalation
from dunning.services.runtime import Runtime

COMMIT_ATTEMPTS = 3
ACCEPT_PLAN = "ACCEPT_PLAN"  # a listening-level intent: only meaningful while a plan is on offer
# Whole-message answers that accept an offered plan. Deliberately not in the classifier: "YES"
# means START there, and only the case (a plan OFFERED) gives it this meaning.
ACCEPT_WORDS = frozenset(
    {
        "yes",
        "y",
        "accept",
        "accepted",
        "agree",
        "iagree",
        "ok",
        "okay",
        "yesplease",
        "同意",
        "接受",
        "好",
        "好的",
        "可以",
        "确认",
        "同意分期",
        "接受分期",
    }
)

_REPLIES: dict[str, str] = {
    Intent.STOP.value: "opt_out_confirmation",
    Intent.HELP.value: "help_reply",
    Intent.PROMISE.value: "promise_confirmation",
    Intent.HARDSHIP.value: "plan_offer",
    ACCEPT_PLAN: "plan_confirmation",
}


# --------------------------------------------------------------------------- finding the customer


def e164(number: str) -> str:
    """Providers differ in how they write a number; the phone hash needs one form."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return number.strip()
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _account_id_from_key(value: str) -> str:
    return value.removeprefix("ACCOUNT#")


def accounts_for_phone(rt: Runtime, phone: str) -> list[str]:
    """Accounts whose contact phone hashes to this number (LookupIndex PHONE#<hash>)."""
    phone_hash = rt.phone_hash(e164(phone))
    if phone_hash is None:
        return []
    items = rt.collections.lookup(f"PHONE#{phone_hash}")
    return sorted({_account_id_from_key(str(i.get("lookup_sk") or i["pk"])) for i in items})


def active_case(history: AccountHistory) -> CaseRecord | None:
    """The account's case that collections is working (the newest, should there be several)."""
    live = [r for r in history.cases.values() if r.case.is_active or r.case.status is CaseStatus.LEGAL_REVIEW]
    return max(live, key=lambda r: r.case.opened_at, default=None)


def pseudo_case_id(prefix: str, account_id: str) -> str:
    return f"{prefix}-{account_id}"


def case_for_record(
    history: AccountHistory, account_id: str, now: datetime, prefix: str, case_id: str | None = None
) -> tuple[CaseRecord, bool]:
    """The case an event is recorded on: the one named, else the active case, else a closed pseudo
    case ``<prefix>-<account_id>`` that only carries the record. Returns (record, is_new)."""
    if case_id is not None:
        named = history.cases.get(case_id)
        if named is None:
            raise NotFound(f"case {case_id}")
        return named, False
    active = active_case(history)
    if active is not None:
        return active, False
    pid = pseudo_case_id(prefix, account_id)
    if pid in history.cases:
        return history.cases[pid], False
    case = Case(
        case_id=pid,
        account_id=account_id,
        status=CaseStatus.CLOSED,
        opened_at=now,
        closed_at=now,
        resolution="CONTACT_RECORD",
    )
    return CaseRecord(case, -1, GENESIS), True


Mutation = Callable[[CaseRecord], list[tuple[EntryKind, dict[str, Any]]]]


def commit_change(
    rt: Runtime, record: CaseRecord, is_new: bool, change: Mutation, *, at: datetime, actor: str
) -> tuple[CaseRecord, list[LedgerEntry]]:
    """Apply `change` to the case and commit it with its ledger entries; on a concurrent write,
    re-read the case and apply the change again (it must decide from the case it is given)."""
    for attempt in range(COMMIT_ATTEMPTS):
        entries = change(record)
        try:
            return record, rt.collections.commit(record, entries, at=at, actor=actor, create=is_new)
        except Conflict:
            if attempt == COMMIT_ATTEMPTS - 1:
                break
            record, is_new = rt.collections.case(record.case.account_id, record.case.case_id), False
    raise TransientError("case kept changing while recording")


def update_account(rt: Runtime, account_id: str, change: Callable[[Account], bool]) -> Account:
    """Change the account under its version (conditional write); `change` returns False when the
    account already is as wanted, so repeating an effect writes nothing."""
    for _ in range(COMMIT_ATTEMPTS):
        account = rt.accounts.get(account_id)
        if not change(account):
            return account
        try:
            return rt.accounts.put(account, account.version)
        except Conflict:
            continue
    raise TransientError("account kept changing")


AccountChange = tuple[str, Channel | None]  # (OPT_OUT | OPT_IN | PHONE_UNUSABLE | EMAIL_UNUSABLE, channel)


def _account_mutation(kind: str, channel: Channel | None) -> Callable[[Account], bool]:
    def change(account: Account) -> bool:
        if kind == "OPT_OUT" and channel is not None:
            if channel in account.opted_out:
                return False
            account.opted_out = account.opted_out | {channel}
        elif kind == "OPT_IN" and channel is not None:
            if channel not in account.opted_out:
                return False
            account.opted_out = account.opted_out - {channel}
        elif kind == "PHONE_UNUSABLE":
            if not account.contact.phone_usable:
                return False
            account.contact = account.contact.model_copy(update={"phone_usable": False})
        elif kind == "EMAIL_UNUSABLE":
            if not account.contact.email_usable:
                return False
            account.contact = account.contact.model_copy(update={"email_usable": False})
        else:
            return False
        return True

    return change


def apply_account_change(rt: Runtime, account_id: str, change: AccountChange | None) -> None:
    if change is not None:
        update_account(rt, account_id, _account_mutation(*change))


def opt_out_entry(channel: Channel, action: str, source: str) -> tuple[EntryKind, dict[str, Any]]:
    return EntryKind.OPT_OUT, {"channel": channel.value, "action": action, "source": source}


def queue_callback(rt: Runtime, case_id: str, account_id: str) -> None:
    """A person should look at this (ids only on the queue; the ledger holds what was said)."""
    queue = getattr(rt.settings, "call_queue_url", None)
    if not queue:
        raise RuntimeError("CALL_QUEUE_URL is not configured")
    rt.client("sqs").send_message(
        QueueUrl=queue,
        MessageBody=json.dumps({"case_id": case_id, "account_id": account_id, "kind": "CALLBACK"}),
    )
    metrics.add_metric(name="CallbacksQueued", unit="Count", value=1)


# --------------------------------------------------------------------------- case effects


def move(case: Case, target: CaseStatus, notes: list[str]) -> bool:
    """Transition the case; an illegal move is noted for the ledger, never raised to the caller."""
    try:
        case.transition(target)
    except IllegalTransition as exc:
        notes.append(f"illegal transition {exc.current} -> {exc.target}")
        return False
    return True


def plan_entry(plan: InstalmentPlan) -> dict[str, Any]:
    return {
        "plan_id": plan.plan_id,
        "status": plan.status.value,
        "total": format(plan.total.amount, "f"),
        "currency": plan.total.currency,
        "instalments": [
            {"number": i.number, "due_on": i.due_on.isoformat(), "amount": format(i.amount.amount, "f")}
            for i in plan.instalments
        ],
    }


def record_promise(
    case: Case,
    account: Account,
    policy: Policy,
    now: datetime,
    promised_on: Any,
    amount: Decimal | None,
    channel: Channel | None,
    notes: list[str],
) -> list[tuple[EntryKind, dict[str, Any]]]:
    """Hold the case until the promised date (the planner decides kept or broken from payments)."""
    owed = account.amount_due
    promised = Money.of(amount, account.currency) if amount is not None else owed
    today = local_today(now, account.time_zones[0])
    problems = validate_promise(promised_on, promised, owed, today, policy.promises)
    if problems:
        notes.extend(problems)
        return []
    if not case.can_transition(CaseStatus.PROMISED):
        move(case, CaseStatus.PROMISED, notes)
        return []
    recorded = promise_amount(promised, owed)
    held = case.promise
    if case.status is CaseStatus.PROMISED and held is not None and (held.promised_on, held.amount) == (
            promised_on, recorded):
        # The same promise again (a redelivered call task, a repeated text): on record already.
        notes.append("the same promise is already recorded")
        return []
    paid = sum((p.amount.amount for p in account.payments), Decimal(0))
    case.promise = Promise(
        promised_on=promised_on, amount=recorded, made_at=now, channel=channel, paid_at_making=paid
    )
    case.paused_until = None
    move(case, CaseStatus.PROMISED, notes)
    return [
        (
            EntryKind.PROMISE,
            {
                "promised_on": promised_on.isoformat(),
                "amount": format(recorded.amount, "f"),
                "currency": recorded.currency,
            },
        )
    ]


def offer_hardship_plan(
    case: Case,
    account: Account,
    policy: Policy,
    now: datetime,
    notes: list[str],
    *,
    first_due: Any = None,
    count: int | None = None,
    pause: bool = True,
) -> list[tuple[EntryKind, dict[str, Any]]]:
    """Pause the case for the policy's hardship days and put an instalment plan on offer."""
    if case.plan is not None and case.plan.status is PlanStatus.ACTIVE:
        notes.append("a plan is already active")
        return []
    hardship = policy.hardship
    today = local_today(now, account.time_zones[0])
    latest = today + timedelta(days=policy.promises.max_days_ahead)
    if first_due is None or not today < first_due <= latest:
        first_due = today + timedelta(days=hardship.instalment_interval_days)
    plan_id = f"P{now:%Y%m%d%H%M%S}"
    try:
        plan = (
            offer_plan(account.amount_due, count, first_due, hardship, plan_id, now)
            if count
            else best_offer(account.amount_due, first_due, hardship, plan_id, now)
        )
    except ValueError as exc:  # PlanOfferError: the message names the rule only
        notes.append(str(exc))
        plan = None
    entries: list[tuple[EntryKind, dict[str, Any]]] = []
    if pause and move(case, CaseStatus.PAUSED, notes):
        case.paused_until = hardship_pause_until(now, hardship)
        case.pause_reason = "HARDSHIP"
        entries.append(
            (EntryKind.HOLD, {"status": "PAUSED", "reason": "HARDSHIP", "until": iso_z(case.paused_until)})
        )
    if plan is None:
        notes.append("no plan fits the policy")
        return entries
    if pause and case.status is not CaseStatus.PAUSED:
        return entries  # the case could not be paused (disputed, ended): no offer either
    case.plan = plan
    entries.append((EntryKind.PLAN, plan_entry(plan)))
    return entries


def accept_plan(case: Case, account: Account, now: datetime,
                notes: list[str]) -> list[tuple[EntryKind, dict[str, Any]]]:
    plan = case.plan
    if plan is None or plan.status is not PlanStatus.OFFERED:
        notes.append("no plan on offer")
        return []
    if not move(case, CaseStatus.IN_PLAN, notes):
        return []
    # An offer accepted on or after its first due date (after a hardship pause, say) would start
    # broken: its schedule moves so the first instalment keeps the lead time it was offered with.
    # An offer accepted in time keeps its dates, a date the customer chose included.
    zone = account.time_zones[0]
    first_due, today = plan.instalments[0].due_on, local_today(now, zone)
    instalments = plan.instalments
    if first_due <= today:
        lead = max(first_due - local_today(plan.offered_at, zone), timedelta(days=1))
        shift = today + lead - first_due
        instalments = [i.model_copy(update={"due_on": i.due_on + shift}) for i in instalments]
        notes.append(f"instalment dates moved {shift.days} days: the offer was accepted on or after its first due date")
    case.plan = plan.model_copy(update={"status": PlanStatus.ACTIVE, "accepted_at": now,
                                        "instalments": instalments})
    case.paused_until, case.pause_reason = None, None
    return [(EntryKind.PLAN, plan_entry(case.plan))]


def record_dispute(case: Case, reason: str, notes: list[str]) -> list[tuple[EntryKind, dict[str, Any]]]:
    if not move(case, CaseStatus.DISPUTED, notes):
        return []
    case.dispute_reason = reason
    return [(EntryKind.HOLD, {"status": "DISPUTED", "reason": reason})]


# --------------------------------------------------------------------------- replies


def _keyword(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] not in "PSZC")


def accepts_offer(text: str, case: Case) -> bool:
    """A whole-message yes while a plan is on offer (the offer asked them to reply YES)."""
    return case.plan is not None and case.plan.status is PlanStatus.OFFERED and _keyword(text) in ACCEPT_WORDS


@dataclass
class Reaction:
    """What one reply means for the case, decided from the case as read (re-decided on a retry)."""

    intent: str
    matched: str
    language: str
    classification: Classification | None = None
    entries: list[tuple[EntryKind, dict[str, Any]]] = field(default_factory=list)
    reply_template: str | None = None
    account_change: AccountChange | None = None
    callback: bool = False
    notes: list[str] = field(default_factory=list)


_ACCOUNT_INTENTS: dict[Intent, tuple[AccountChange | None, str | None]] = {
    Intent.STOP: (("OPT_OUT", Channel.SMS), "OPT_OUT"),
    Intent.START: (("OPT_IN", Channel.SMS), "OPT_IN"),
    Intent.WRONG_NUMBER: (("PHONE_UNUSABLE", None), None),
}


def _case_effects(
    reaction: Reaction, case: Case, account: Account, policy: Policy, now: datetime, found: Classification
) -> None:
    """PROMISE, HARDSHIP and DISPUTE change the case; when they cannot, a person follows up."""
    notes = reaction.notes
    if found.intent is Intent.PROMISE and found.promise_date is not None:
        reaction.entries = record_promise(
            case, account, policy, now, found.promise_date, found.promise_amount, Channel.SMS, notes
        )
    elif found.intent is Intent.HARDSHIP:
        reaction.entries = offer_hardship_plan(
            case, account, policy, now, notes, first_due=found.promise_date
        )
    elif found.intent is Intent.DISPUTE:
        reaction.entries = record_dispute(case, found.matched, notes)
    acted = any(kind in (EntryKind.PROMISE, EntryKind.PLAN) for kind, _ in reaction.entries)
    if acted:
        reaction.reply_template = _REPLIES[found.intent.value]
    reaction.callback = not reaction.entries


def react(
    case: Case, account: Account, text: str, policy: Policy, now: datetime, *, pseudo: bool
) -> Reaction:
    """What the reply means for this case; mutates `case` (the caller commits it with the record)."""
    if not pseudo and accepts_offer(text, case):
        language = "zh" if re.search(r"[\u4e00-\u9fff]", text) else "en"
        reaction = Reaction(ACCEPT_PLAN, "listening:accept-offer", language)
        reaction.entries = accept_plan(case, account, now, reaction.notes)
        reaction.reply_template = _REPLIES[ACCEPT_PLAN] if reaction.entries else None
        reaction.callback = not reaction.entries
        return reaction
    found = classify(text, now, account.time_zones[0])
    reaction = Reaction(found.intent.value, found.matched, found.language, found)
    intent = found.intent
    if intent in _ACCOUNT_INTENTS:
        reaction.account_change, action = _ACCOUNT_INTENTS[intent]
        if action is not None:
            reaction.entries = [opt_out_entry(Channel.SMS, action, "REPLY")]
    if intent in (Intent.STOP, Intent.HELP):
        reaction.reply_template = _REPLIES[intent.value]
    elif intent is Intent.PAID:
        reaction.notes.append("payment claimed; only the payment feed confirms it")
    elif intent in (Intent.PROMISE, Intent.HARDSHIP, Intent.DISPUTE):
        if pseudo:
            reaction.callback = True  # no case to hold: a person follows up
        else:
            _case_effects(reaction, case, account, policy, now, found)
    elif intent in (Intent.CALL_ME, Intent.OTHER):
        reaction.callback = True
    return reaction


def reply_step_id(intent: str, message_id: str) -> str:
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


def send_reply(rt: Runtime, case_id: str, account_id: str, template_id: str, step_id: str, actor: str) -> str:
    result = escalation.send(
        rt,
        rt.sender(Channel.SMS),
        case_id,
        account_id,
        step_id,
        Channel.SMS,
        template_id,
        actor=actor,
        kind=AttemptKind.SERVICE,
        opt_out_confirmation=template_id == "opt_out_confirmation",
    )
    return result.status


def _after(
    rt: Runtime,
    case_id: str,
    account_id: str,
    data: dict[str, Any],
    step_id: str,
    actor: str,
    *,
    change: AccountChange | None,
    callback: bool,
) -> str | None:
    apply_account_change(rt, account_id, change)
    if callback:
        queue_callback(rt, case_id, account_id)
    template = data.get("reply_template")
    return send_reply(rt, case_id, account_id, template, step_id, actor) if template else None


def handle_inbound(rt: Runtime, sms: InboundSms, actor: str = "SmsWebhook") -> dict[str, Any]:
    """Record and act on one customer text. Returns ids and codes only (for logs and the provider)."""
    account_ids = accounts_for_phone(rt, sms.from_number)
    if not account_ids:
        logger.info("reply from a number no account uses", extra={"message_key": sms.key})
        metrics.add_metric(name="RepliesUnmatched", unit="Count", value=1)
        return {"status": "UNKNOWN_SENDER", "message_key": sms.key}
    results = [_handle_for_account(rt, sms, account_id, actor) for account_id in account_ids]
    return results[0] if len(results) == 1 else {"status": "RECORDED", "results": results}


def _handle_for_account(rt: Runtime, sms: InboundSms, account_id: str, actor: str) -> dict[str, Any]:
    now = utc_now()
    history = rt.collections.history(account_id)
    prior = _reply_entry(history, sms.key)
    if prior is not None:
        case_id, entry = prior
        stored = entry.data.get("account_change")
        redo: AccountChange | None = None
        if stored and _latest_opt_change(history, entry):
            redo = (str(stored[0]), Channel(stored[1]) if stored[1] else None)
        reply = _after(
            rt,
            case_id,
            account_id,
            entry.data,
            reply_step_id(entry.data["intent"], sms.message_id),
            actor,
            change=redo,
            callback=False,
        )
        return {"status": "DUPLICATE", "case_id": case_id, "intent": entry.data["intent"], "reply": reply}
    account = rt.accounts.get(account_id)
    policy = rt.policy()
    record, is_new = case_for_record(history, account_id, now, "INBOUND")
    pseudo = record.case.case_id == pseudo_case_id("INBOUND", account_id)
    holder: dict[str, Reaction] = {}

    def change(rec: CaseRecord) -> list[tuple[EntryKind, dict[str, Any]]]:
        reaction = react(rec.case, account, sms.text, policy, now, pseudo=pseudo)
        holder["r"] = reaction
        found = reaction.classification
        data: dict[str, Any] = {
            "intent": reaction.intent,
            "matched": reaction.matched,
            "language": reaction.language,
            "text": sms.text,
            "channel": Channel.SMS.value,
            "provider": sms.provider,
            "provider_message_id": sms.message_id,
            "message_key": sms.key,
            "number_hash": rt.phone_hash(e164(sms.from_number)),
            "received_at": iso_z(sms.received_at),
            "reply_template": reaction.reply_template,
            "account_change": list(reaction.account_change) if reaction.account_change else None,
            "callback": reaction.callback,
            "notes": reaction.notes,
        }
        if found is not None and found.promise_date is not None:
            data["promise_date"] = found.promise_date.isoformat()
        if found is not None and found.promise_amount is not None:
            data["promise_amount"] = format(found.promise_amount, "f")
        return [(EntryKind.REPLY, data), *reaction.entries]

    record, written = commit_change(rt, record, is_new, change, at=now, actor=actor)
    reaction = holder["r"]
    metrics.add_metric(name=f"Reply{reaction.intent.title().replace('_', '')}", unit="Count", value=1)
    count_recorded(written, record.case.variant)
    logger.info(
        "reply recorded",
        extra={
            "case_id": record.case.case_id,
            "intent": reaction.intent,
            "matched": reaction.matched,
            "status": record.case.status.value,
        },
    )
    data = written[0].data
    reply = _after(
        rt,
        record.case.case_id,
        account_id,
        data,
        reply_step_id(reaction.intent, sms.message_id),
        actor,
        change=reaction.account_change,
        callback=reaction.callback,
    )
    return {
        "status": "RECORDED",
        "case_id": record.case.case_id,
        "intent": reaction.intent,
        "case_status": record.case.status.value,
        "reply": reply,
        "callback": reaction.callback,
    }


# --------------------------------------------------------------------------- delivery events


def _notice_key(item: dict[str, Any]) -> tuple[str, str, str] | None:
    sk = str(item.get("sk", ""))
    if "#NOTICE#" not in sk:
        return None
    case_part, step_id = sk.split("#NOTICE#", 1)
    return _account_id_from_key(str(item["pk"])), case_part.removeprefix("CASE#"), step_id


def find_notice(rt: Runtime, provider_message_id: str) -> tuple[str, str, str] | None:
    """(account id, case id, step id) of the notice a provider message id belongs to."""
    for item in rt.collections.lookup(f"MSG#{provider_message_id}"):
        key = _notice_key(item)
        if key is not None:
            return key
    return None


_UPGRADABLE = {NoticeStatus.SENDING, NoticeStatus.SENT, NoticeStatus.UNCERTAIN}


def record_delivery(
    rt: Runtime,
    account_id: str,
    case_id: str,
    step_id: str,
    *,
    event_id: str,
    notice_status: NoticeStatus | None,
    data: dict[str, Any],
    actor: str,
    extra_entries: Iterable[tuple[EntryKind, dict[str, Any]]] = (),
) -> bool:
    """Append a DELIVERY entry (and move the notice on) once per event id; False for a duplicate."""
    now = utc_now()
    extra = list(extra_entries)
    for _ in range(COMMIT_ATTEMPTS):
        history = rt.collections.history(account_id)
        record = history.cases.get(case_id)
        if record is None:
            raise NotFound(f"case {case_id}")
        if any(
            e.kind is EntryKind.DELIVERY and e.data.get("event_id") == event_id
            for e in history.ledger.get(case_id, [])
        ):
            return False
        notice = next((n for n in history.notices.get(case_id, []) if n.step_id == step_id), None)
        puts: list[tuple[dict[str, Any], str | None]] = []
        entry = data | {
            "event_id": event_id,
            "step_id": step_id,
            "notice_id": notice.notice_id if notice else None,
        }
        if notice is not None and notice_status is not None and notice.status in _UPGRADABLE:
            puts.append(
                (rt.collections.notice_item(notice.model_copy(update={"status": notice_status})), None)
            )
            entry["notice_status"] = notice_status.value
        try:
            rt.collections.commit(
                record, [(EntryKind.DELIVERY, entry), *extra], at=now, actor=actor, extra_puts=puts
            )
            return True
        except Conflict:
            continue
    raise TransientError("case kept changing while recording a delivery event")


def handle_receipt(rt: Runtime, receipt: DeliveryReceipt, actor: str = "SmsWebhook") -> dict[str, Any]:
    if receipt.status is None:
        return {"status": "IGNORED", "message_key": receipt.key}
    found = find_notice(rt, f"{receipt.provider}:{receipt.message_id}")
    if found is None:
        logger.info("receipt for a message we do not know", extra={"message_key": receipt.key})
        return {"status": "UNKNOWN_MESSAGE", "message_key": receipt.key}
    account_id, case_id, step_id = found
    status = NoticeStatus.DELIVERED if receipt.status == "DELIVERED" else NoticeStatus.FAILED
    new = record_delivery(
        rt,
        account_id,
        case_id,
        step_id,
        event_id=receipt.key,
        notice_status=status,
        actor=actor,
        data={
            "provider": receipt.provider,
            "provider_message_id": receipt.message_id,
            "provider_status": receipt.provider_status,
            "channel": Channel.SMS.value,
            "at": iso_z(receipt.at),
        },
    )
    metrics.add_metric(name=f"Receipt{status.value.title()}", unit="Count", value=1)
    return {
        "status": "RECORDED" if new else "DUPLICATE",
        "case_id": case_id,
        "step_id": step_id,
        "notice_status": status.value,
    }


def handle_email_event(rt: Runtime, event: dict[str, Any], actor: str = "EmailEvents") -> dict[str, Any]:
    """One SES event-publishing record (eventType, mail, bounce/complaint/...)."""
    event_type = event.get("eventType") or event.get("notificationType") or ""
    mail = event.get("mail") or {}
    message_id = mail.get("messageId") if isinstance(mail, dict) else None
    # Shapes SES never sends are dropped as malformed (ValueError), never crash the batch; the id
    # is bounded because it becomes a DynamoDB key.
    if not isinstance(event_type, str) or not event_type or len(event_type) > 64:
        raise ValueError("SES event without a valid eventType")
    if not isinstance(message_id, str) or not message_id or len(message_id) > 256:
        raise ValueError("SES event without a valid mail.messageId")
    found = find_notice(rt, f"ses:{message_id}")
    if found is None:
        logger.info("email event for a message we do not know", extra={"ses_message_id": message_id})
        return {"status": "UNKNOWN_MESSAGE", "event_type": event_type}
    account_id, case_id, step_id = found
    detail = event.get(event_type[:1].lower() + event_type[1:]) or {}
    if not isinstance(detail, dict):
        raise ValueError(f"SES {event_type} event with a malformed detail")
    data: dict[str, Any] = {
        "provider": "ses",
        "provider_message_id": message_id,
        "event_type": event_type,
        "channel": Channel.EMAIL.value,
        "timestamp": detail.get("timestamp") or mail.get("timestamp"),
    }
    status: NoticeStatus | None = None
    change: AccountChange | None = None
    extra: list[tuple[EntryKind, dict[str, Any]]] = []
    event_id = f"ses:{message_id}:{event_type}"
    if event_type == "Delivery":
        status = NoticeStatus.DELIVERED
    elif event_type == "Bounce":
        data |= {"bounce_type": detail.get("bounceType"), "bounce_sub_type": detail.get("bounceSubType")}
        event_id += f":{detail.get('feedbackId', '')}"
        if detail.get("bounceType") == "Permanent":
            status, change = NoticeStatus.BOUNCED, ("EMAIL_UNUSABLE", None)
    elif event_type == "Complaint":
        data["complaint_type"] = detail.get("complaintFeedbackType")
        event_id += f":{detail.get('feedbackId', '')}"
        change = ("OPT_OUT", Channel.EMAIL)
        extra.append(opt_out_entry(Channel.EMAIL, "OPT_OUT", "COMPLAINT"))
    elif event_type == "Reject":
        status = NoticeStatus.FAILED
    else:  # Open, Click, Send, DeliveryDelay ...: each occurrence is its own event
        event_id += f":{detail.get('timestamp', '')}"
    new = record_delivery(
        rt,
        account_id,
        case_id,
        step_id,
        event_id=event_id,
        notice_status=status,
        data=data,
        actor=actor,
        extra_entries=extra,
    )
    # After the record; a redelivered event repeats it harmlessly (it writes only if needed).
    apply_account_change(rt, account_id, change)
    if new:
        count_recorded(extra)
    metrics.add_metric(name=f"EmailEvent{event_type.replace(' ', '')}", unit="Count", value=1)
    return {
        "status": "RECORDED" if new else "DUPLICATE",
        "case_id": case_id,
        "step_id": step_id,
        "event_type": event_type,
    }


# --------------------------------------------------------------------------- once per provider message


class _NotYetKnown(Exception):
    """A receipt for a message id no notice carries (yet): the idempotency store must not keep it."""

    def __init__(self, result: dict[str, Any]) -> None:
        super().__init__("receipt for an unknown message")
        self.result = result


class Deduplicated:
    """Powertools Idempotency in front of the ledger check: a redelivered message (same provider
    and message id; a receipt also by status) returns the first answer without touching anything."""

    def __init__(self, rt: Runtime, table: str, expires_after_seconds: int = 7 * 24 * 3600) -> None:
        from aws_lambda_powertools.utilities.idempotency import (
            DynamoDBPersistenceLayer,
            IdempotencyConfig,
            idempotent_function,
        )

        self.config = IdempotencyConfig(event_key_jmespath="key", expires_after_seconds=expires_after_seconds)
        persistence = DynamoDBPersistenceLayer(table_name=table, boto3_client=rt.client("dynamodb"))
        self._rt = rt

        @idempotent_function(
            data_keyword_argument="delivery", persistence_store=persistence, config=self.config
        )
        def once(delivery: dict[str, Any]) -> dict[str, Any]:
            message = delivery["message"]
            if isinstance(message, InboundSms):
                return handle_inbound(self._rt, message, delivery["actor"])
            result = handle_receipt(self._rt, message, delivery["actor"])
            if result.get("status") == "UNKNOWN_MESSAGE":
                raise _NotYetKnown(result)  # not remembered: see handle()
            return result

        self._once = once

    def handle(
        self, message: InboundSms | DeliveryReceipt, actor: str, context: Any | None = None
    ) -> dict[str, Any]:
        if context is not None:
            self.config.register_lambda_context(context)
        if isinstance(message, DeliveryReceipt) and message.status is None:
            return {"status": "IGNORED", "message_key": message.key}  # progress only: nothing to remember
        try:
            return dict(self._once(delivery={"key": message.key, "message": message, "actor": actor}))
        except _NotYetKnown as early:
            # A receipt can outrun the record of its send (the provider calls back before the sender
            # has stored the message id). It is acknowledged but not remembered, so a redelivery
            # after the send is recorded is applied; until then the notice stays SENT, which the
            # caps already count: an early receipt can never cause a resend.
            return early.result
