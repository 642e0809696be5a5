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

CALL_OUTCOMES = {
    "NO_ANSWER": ContactOutcome.CALL_NO_ANSWER,
    "LEFT_MESSAGE": ContactOutcome.CALL_LEFT_MESSAGE,
}  # every other outcome (promise, hardship, dispute, refused, wrong number) was a conversation


def contact_history(notices: Iterable[Notice], entries: Iterable[LedgerEntry]) -> list[ContactRecord]:
    records: list[ContactRecord] = []
    for n in notices:
        outcome = _NOTICE_OUTCOME[n.status]
        if n.step_id.startswith("service_"):
            # Answers to the customer's own messages and written confirmations are not collection
            # contacts: they count against no cap. Only the opt-out confirmation is kept, so a
            # second one is refused.
            if n.template_id != "opt_out_confirmation" or outcome is ContactOutcome.FAILED:
                continue
            outcome = ContactOutcome.CONFIRMATION
        records.append(ContactRecord(at=n.sent_at or n.created_at, channel=n.channel, outcome=outcome))
    for e in entries:
        if e.kind is EntryKind.CALL_OUTCOME:
            outcome = CALL_OUTCOMES.get(str(e.data.get("outcome")), ContactOutcome.CALL_CONVERSATION)
            if e.data.get("outcome") == "WRONG_NUMBER":
                outcome = ContactOutcome.CALL_NO_ANSWER  # no conversation with the debtor happened
            records.append(ContactRecord(at=e.at, channel=Channel.CALL, outcome=outcome,
                                         number_hash=e.data.get("number_hash")))
    return sorted(records, key=lambda r: r.at)
