"""A customer's contact history, as the compliance caps count it, rebuilt from stored records."""

from __future__ import annotations

from collections.abc import Iterable

from dunning.domain.compliance import ContactOutcome, ContactRecord
from dunning.domain.models import Channel, EntryKind, LedgerEntry, Notice, NoticeStatus

_NOTICE_OUTCOME = {
    NoticeStatus.SENT: ContactOutcome.SENT,
    NoticeStatus.DELIVERED: ContactOutcome.DELIVERED,
    NoticeStatus.UNCERTAIN: ContactOutcome.UNCERTAIN,
    NoticeStatus.SENDING: ContactOutcome.UNCERTAIN,  # in flight or crashed: assume it went out
    NoticeStatus.BOUNCED: ContactOutcome.FAILED,
    NoticeStatus.FAILED: ContactOutcome.FAILED,
}

# Standard call outcome codes: what an agent records after dialling.
STANDARD_CALL_OUTCOMES = ("RIGHT_PARTY", "PROMISE", "REFUSED", "NO_ANSWER", "WRONG_PARTY", "CALLBACK")
# The older codes, each mapped to the standard one it is a case of.
CALL_OUTCOME_STANDARD = {
    **{code: code for code in STANDARD_CALL_OUTCOMES},
    "LEFT_MESSAGE": "NO_ANSWER",  # a voicemail: nobody was spoken to
    "HARDSHIP": "RIGHT_PARTY",
    "DISPUTE": "RIGHT_PARTY",
    "PAID_CLAIMED": "RIGHT_PARTY",
    "WRONG_NUMBER": "WRONG_PARTY",
}

CALL_OUTCOMES = {
    "NO_ANSWER": ContactOutcome.CALL_NO_ANSWER,
    "LEFT_MESSAGE": ContactOutcome.CALL_LEFT_MESSAGE,
    # no conversation with the debtor happened: as the caps count it, an unanswered attempt
    "WRONG_NUMBER": ContactOutcome.CALL_NO_ANSWER,
    "WRONG_PARTY": ContactOutcome.CALL_NO_ANSWER,
}  # every other outcome (right party, promise, hardship, dispute, refused, callback) was a conversation


def call_contact(outcome: str) -> ContactOutcome:
    return CALL_OUTCOMES.get(outcome, ContactOutcome.CALL_CONVERSATION)


def notice_contact(n: Notice) -> ContactRecord | None:
    """The contact a notice is, as the caps count it; None for answers that count against nothing."""
    outcome = _NOTICE_OUTCOME[n.status]
    if n.step_id.startswith("service_"):
        # Answers to the customer's own messages and written confirmations are not collection
        # contacts: they count against no cap. Only the opt-out confirmation is kept, so a
        # second one is refused.
        if n.template_id != "opt_out_confirmation" or outcome is ContactOutcome.FAILED:
            return None
        outcome = ContactOutcome.CONFIRMATION
    return ContactRecord(at=n.sent_at or n.created_at, channel=n.channel, outcome=outcome, ref=n.notice_id)


def entry_ref(entry: LedgerEntry) -> str:
    return f"{entry.case_id}#{entry.seq}"


def contact_history(notices: Iterable[Notice], entries: Iterable[LedgerEntry]) -> list[ContactRecord]:
    records: list[ContactRecord] = []
    for n in notices:
        record = notice_contact(n)
        if record is not None:
            records.append(record)
    records += [call_record(e) for e in entries if e.kind is EntryKind.CALL_OUTCOME]
    return sorted(records, key=lambda r: r.at)


def call_record(entry: LedgerEntry) -> ContactRecord:
    """The contact a CALL_OUTCOME entry is, as the caps count it."""
    return ContactRecord(at=entry.data.get("called_at") or entry.at, channel=Channel.CALL,
                         outcome=call_contact(str(entry.data.get("outcome"))),
                         number_hash=entry.data.get("number_hash"), ref=entry_ref(entry))
