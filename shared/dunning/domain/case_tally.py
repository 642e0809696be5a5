"""What a decision needs from a case's past, folded as the case is written.

A `CaseTally` is the fold of one case's ledger entries and notices: the counts a summary reports
(calls by outcome, replies, right-party contacts, payments, arrangements made, kept and broken,
hardship, disputes, specialist reviews), what the ledger says about reaching the right person,
the calls as the caps count them, and each notice's step, channel and status (no text).

It is kept on the case's header and advanced by the same transaction that appends to the case,
so it never disagrees with a committed ledger, and a decision reads the header instead of the
case's whole ledger. Its size is bounded by what a case can hold (one mark per step sent, one
record per call), not by the text of what was said. It is derived data: `CaseTally.fold` rebuilds
it from the ledger and the notices, and `fold` of everything equals advancing it one commit at a
time (tests/unit/test_case_tally.py).

Pure: no I/O here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from dunning.domain.compliance import ContactRecord
from dunning.domain.history import CALL_OUTCOME_STANDARD, call_record, notice_contact
from dunning.domain.models import (
    CaseStatus,
    Channel,
    EntryKind,
    LedgerEntry,
    Notice,
    NoticeStatus,
    PlanStatus,
    UtcDatetime,
    parse_instant,
)

UNANSWERED_CALLS = frozenset({"NO_ANSWER", "LEFT_MESSAGE", "WRONG_NUMBER"})
# Reply intents that say nothing about the debt, or come from someone who is not the customer.
NOT_ABOUT_THE_DEBT = frozenset({"STOP", "START", "HELP", "WRONG_NUMBER"})
HARDSHIP = "HARDSHIP"
BROKEN = frozenset({"PROMISE_BROKEN", "PLAN_BROKEN"})
KEPT = frozenset({"PROMISE_KEPT", "PLAN_COMPLETED"})


class PaymentSeen(BaseModel):
    model_config = ConfigDict(frozen=True)

    received_at: UtcDatetime
    amount: Decimal
    currency: str


class NoticeMark(BaseModel):
    """A notice as a decision sees it, kept under its step id: by which channel and template, how
    it went and when (sent, or gated when it never was). No text, no ids that the step gives."""

    model_config = ConfigDict(frozen=True)

    channel: Channel
    template_id: str
    status: NoticeStatus
    at: UtcDatetime

    def notice(self, step_id: str, case_id: str, account_id: str) -> Notice:
        """The notice without its text (what the planner and the caps read; never written back)."""
        return Notice.model_construct(
            notice_id=Notice.id_for(case_id, step_id), case_id=case_id, account_id=account_id, step_id=step_id,
            channel=self.channel, template_id=self.template_id, template_version="", locale="",
            status=self.status, subject=None, body="", html=None, segments=None, provider_message_id=None,
            created_at=self.at, sent_at=None, error=None)


class CaseTally(BaseModel):
    """One case's past, folded (see the module docstring)."""

    calls: dict[str, int] = Field(default_factory=dict)  # by outcome code
    replies: int = 0
    last_reply_at: UtcDatetime | None = None
    right_party_contacts: int = 0
    last_right_party_contact_at: UtcDatetime | None = None
    payments: dict[str, PaymentSeen] = Field(default_factory=dict)  # by payment id: counted once
    promises_made: int = 0
    kept: dict[str, int] = Field(default_factory=dict)  # PROMISE_KEPT, PLAN_COMPLETED
    broken: dict[str, int] = Field(default_factory=dict)  # PROMISE_BROKEN, PLAN_BROKEN
    broken_at: UtcDatetime | None = None
    plans_offered: list[str] = Field(default_factory=list)
    plans_agreed: list[str] = Field(default_factory=list)
    hardship_at: UtcDatetime | None = None
    disputes: int = 0
    specialist_reviews: int = 0
    specialist_decision: str | None = None  # the latest since the case last went to a specialist
    # reaching the right person (planning.Reach)
    right_party_attempted: bool = False  # a call to the debtor (any outcome but wrong party), or their reply
    skip_trace_requested: bool = False
    skip_trace_outcome: str | None = None
    specialist_queued: bool = False
    # the contacts the caps count: the calls here, the notices below
    call_contacts: list[ContactRecord] = Field(default_factory=list)
    notices: dict[str, NoticeMark] = Field(default_factory=dict)  # by step id

    @classmethod
    def fold(cls, entries: Iterable[LedgerEntry], notices: Iterable[Notice | Mapping[str, Any]] = ()) -> CaseTally:
        """The tally of a case from its stored ledger entries and notices."""
        return cls().advanced(sorted(entries, key=lambda e: e.seq), notices)

    def advanced(self, entries: Sequence[LedgerEntry], notices: Iterable[Notice | Mapping[str, Any]]) -> CaseTally:
        """A copy with one commit's entries (their readable data) and notice writes added."""
        out = self.model_copy(deep=True)
        for entry in entries:
            out.add(entry)
        for notice in notices:
            out.see(notice)
        return out

    # ----------------------------------------------------------------- folding

    def add(self, entry: LedgerEntry) -> None:
        handler = _HANDLERS.get(entry.kind)
        if handler is not None:
            handler(self, entry)

    def see(self, notice: Notice | Mapping[str, Any]) -> None:
        """A notice written (the gate's SENDING, its outcome, a delivery's new status)."""
        if isinstance(notice, Notice):  # as read: its text is not copied to be dropped
            self.notices[notice.step_id] = NoticeMark(channel=notice.channel, template_id=notice.template_id,
                                                      status=notice.status, at=notice.sent_at or notice.created_at)
            return
        self.notices[str(notice["step_id"])] = NoticeMark(
            channel=notice["channel"], template_id=notice["template_id"], status=notice["status"],
            at=notice.get("sent_at") or notice["created_at"])

    def _contact(self, at: datetime) -> None:
        self.right_party_contacts += 1
        self.last_right_party_contact_at = _later(self.last_right_party_contact_at, at)

    def _hardship(self, at: datetime) -> None:
        if self.hardship_at is None:
            self.hardship_at = at

    def _call(self, e: LedgerEntry) -> None:
        outcome = str(e.data.get("outcome"))
        self.calls[outcome] = self.calls.get(outcome, 0) + 1
        if outcome not in UNANSWERED_CALLS:
            self._contact(e.at)
        if outcome == HARDSHIP:
            self._hardship(e.at)
        self.right_party_attempted |= CALL_OUTCOME_STANDARD.get(outcome, "RIGHT_PARTY") != "WRONG_PARTY"
        self.call_contacts.append(call_record(e))

    def _reply(self, e: LedgerEntry) -> None:
        intent = str(e.data.get("intent"))
        self.replies += 1
        self.last_reply_at = _later(self.last_reply_at, e.at)
        if intent not in NOT_ABOUT_THE_DEBT:
            self._contact(e.at)
        if intent == HARDSHIP:
            self._hardship(e.at)
        self.right_party_attempted |= intent != "WRONG_NUMBER"

    def _promise(self, e: LedgerEntry) -> None:
        self.promises_made += 1
        self._contact(e.at)

    def _plan(self, e: LedgerEntry) -> None:
        plan_id = str(e.data.get("plan_id"))
        if plan_id not in self.plans_offered:
            self.plans_offered.append(plan_id)
        if e.data.get("status") == PlanStatus.ACTIVE.value and plan_id not in self.plans_agreed:
            self.plans_agreed.append(plan_id)
            self._contact(e.at)

    def _hold(self, e: LedgerEntry) -> None:
        if e.data.get("reason") == HARDSHIP:
            self._hardship(e.at)
        if e.data.get("status") == CaseStatus.DISPUTED.value:
            self.disputes += 1

    def _decision(self, e: LedgerEntry) -> None:
        codes = {str(c) for c in [*(e.data.get("reasons") or []), *(e.data.get("details") or [])]}
        for code in sorted(codes & BROKEN):
            self.broken[code] = self.broken.get(code, 0) + 1
            self.broken_at = e.at
        for code in sorted(codes & KEPT):
            self.kept[code] = self.kept.get(code, 0) + 1

    def _specialist(self, e: LedgerEntry) -> None:
        event = e.data.get("event")
        if event == "REVIEW_REQUESTED":
            self.specialist_reviews += 1
            self.specialist_decision = None
        elif event == "DECIDED":
            self.specialist_decision = str(e.data.get("decision"))
        self.specialist_queued |= event == "QUEUED"  # the hand-over, not a review

    def _skip_trace(self, e: LedgerEntry) -> None:
        event = e.data.get("event")
        self.skip_trace_requested |= event == "REQUESTED"
        if event == "OUTCOME":
            self.skip_trace_outcome = str(e.data.get("outcome"))

    def _payment(self, e: LedgerEntry) -> None:
        data = e.data
        try:
            amount = Decimal(str(data.get("amount")))
            received = parse_instant(str(data.get("received_at") or "")) if data.get("received_at") else e.at
        except (ArithmeticError, ValueError):
            return
        if not amount.is_finite():
            return
        self.payments[str(data.get("payment_id"))] = PaymentSeen(received_at=received, amount=amount,
                                                                 currency=str(data.get("currency") or ""))

    # ----------------------------------------------------------------- reading

    def sending(self) -> bool:
        """A notice gated but not recorded: in flight, interrupted, or refused and withdrawn."""
        return any(m.status is NoticeStatus.SENDING for m in self.notices.values())

    def case_notices(self, case_id: str, account_id: str) -> list[Notice]:
        return [m.notice(step_id, case_id, account_id) for step_id, m in self.notices.items()]

    def contacts(self, case_id: str) -> list[ContactRecord]:
        """The case's contacts as the caps count them: its notices and its calls."""
        notices = self.case_notices(case_id, "")
        records = [c for c in (notice_contact(n) for n in notices) if c is not None]
        return sorted([*records, *self.call_contacts], key=lambda r: r.at)


def _later(held: datetime | None, at: datetime) -> datetime:
    return at if held is None or at > held else held


_HANDLERS: dict[EntryKind, Callable[[CaseTally, LedgerEntry], None]] = {
    EntryKind.CALL_OUTCOME: CaseTally._call, EntryKind.REPLY: CaseTally._reply, EntryKind.PROMISE: CaseTally._promise,
    EntryKind.PLAN: CaseTally._plan, EntryKind.HOLD: CaseTally._hold, EntryKind.PAYMENT: CaseTally._payment,
    EntryKind.DECISION: CaseTally._decision, EntryKind.SPECIALIST: CaseTally._specialist,
    EntryKind.SKIP_TRACE: CaseTally._skip_trace,
}


def advance_tally(tally: CaseTally | None, entries: Sequence[tuple[EntryKind, dict[str, Any]]],
                  chained: Sequence[LedgerEntry], written: Iterable[Mapping[str, Any]], *,
                  new_case: bool) -> CaseTally | None:
    """The header's tally after one commit: its entries, as written before any field was encrypted
    (`chained` gives their seq and time), and the notices it writes. A header kept without a
    tally stays without one until a decision folds the whole ledger (`CaseTally.fold`)."""
    if tally is None and not new_case:
        return None
    readable = [entry.model_copy(update={"data": data}) for (_, data), entry in zip(entries, chained, strict=True)]
    notices = [doc for doc in written if doc.get("notice_id") and doc.get("step_id")]
    return (tally or CaseTally()).advanced(readable, notices)
