"""The case's tally on its header: advanced one commit at a time, it is always what folding the
whole stored case gives, so a decision that reads the header alone decides as one that reads the
ledger would (the summary, the reach facts, the contacts the caps count, the notices per step)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from dunning.domain.case_summary import summarise, summarise_case
from dunning.domain.case_tally import CaseTally
from dunning.domain.ledger import GENESIS
from dunning.domain.models import Case, Channel, EntryKind, Notice, NoticeStatus
from dunning.domain.planning import Reach, reach_from
from dunning.ports import CaseRecord
from sandbox.audit import tally_drift
from tests.support.fakes import InMemoryCases

T0 = datetime(2026, 11, 2, 14, tzinfo=UTC)
CASE = "acc-1-20261102"

_codes = st.sampled_from(["PROMISE_BROKEN", "PLAN_BROKEN", "PROMISE_KEPT", "PLAN_COMPLETED", "STEP_DUE", "HOLD"])
_ENTRY = st.one_of(
    st.tuples(st.just(EntryKind.CALL_OUTCOME), st.fixed_dictionaries({
        "outcome": st.sampled_from(["NO_ANSWER", "LEFT_MESSAGE", "RIGHT_PARTY", "PROMISE", "HARDSHIP",
                                    "WRONG_NUMBER", "WRONG_PARTY", "REFUSED", "DISPUTE"]),
        "number_hash": st.sampled_from([None, "h1", "h2"])})),
    st.tuples(st.just(EntryKind.REPLY), st.fixed_dictionaries({
        "intent": st.sampled_from(["STOP", "START", "HELP", "WRONG_NUMBER", "HARDSHIP", "PROMISE", "OTHER"]),
        "text": st.text(max_size=20)})),
    st.tuples(st.just(EntryKind.PROMISE), st.just({"promised_for": "2026-11-20"})),
    st.tuples(st.just(EntryKind.PLAN), st.fixed_dictionaries({
        "plan_id": st.sampled_from(["p1", "p2"]), "status": st.sampled_from(["OFFERED", "ACTIVE", "BROKEN"])})),
    st.tuples(st.just(EntryKind.HOLD), st.fixed_dictionaries({
        "reason": st.sampled_from(["HARDSHIP", "DISPUTE", "a note"]),
        "status": st.sampled_from(["DISPUTED", "PAUSED", "OPEN"])})),
    st.tuples(st.just(EntryKind.PAYMENT), st.fixed_dictionaries({
        "payment_id": st.sampled_from(["pay-1", "pay-2", "pay-3"]),
        "amount": st.sampled_from(["25.00", "100", "0.01", "not a number"]), "currency": st.just("USD")})),
    st.tuples(st.just(EntryKind.DECISION), st.fixed_dictionaries({
        "action": st.sampled_from(["SEND", "WAIT"]), "reasons": st.lists(_codes, max_size=2),
        "details": st.lists(_codes, max_size=2)})),
    st.tuples(st.just(EntryKind.SPECIALIST), st.fixed_dictionaries({
        "event": st.sampled_from(["QUEUED", "REVIEW_REQUESTED", "DECIDED"]),
        "decision": st.sampled_from(["PROCEED", "PAUSE"])})),
    st.tuples(st.just(EntryKind.SKIP_TRACE), st.fixed_dictionaries({
        "event": st.sampled_from(["REQUESTED", "OUTCOME"]), "outcome": st.sampled_from(["FOUND", "NOT_FOUND"])})),
    st.tuples(st.just(EntryKind.DELIVERY), st.just({"event": "Delivery"})),
)
_NOTICE = st.tuples(st.sampled_from(["first_notice", "sms_3", "call_7", "service_help_1"]),
                    st.sampled_from(list(NoticeStatus)), st.sampled_from([Channel.EMAIL, Channel.SMS]))
_COMMITS = st.lists(st.tuples(st.lists(_ENTRY, max_size=4), st.lists(_NOTICE, max_size=2)), min_size=1, max_size=12)


def _notice(step_id: str, status: NoticeStatus, channel: Channel, at: datetime) -> Notice:
    return Notice(notice_id=Notice.id_for(CASE, step_id), case_id=CASE, account_id="acc-1", step_id=step_id,
                  channel=channel, template_id=step_id, template_version="1", locale="en-US", status=status,
                  body="(text)", created_at=at, sent_at=at if status is NoticeStatus.SENT else None)


def _lived(commits: list[tuple[list[tuple[EntryKind, dict[str, Any]]], list[tuple[str, NoticeStatus, Channel]]]],
           ) -> tuple[InMemoryCases, CaseRecord]:
    store = InMemoryCases()
    case = Case(case_id=CASE, account_id="acc-1", opened_at=T0)
    store.commit(CaseRecord(case, -1, GENESIS), [(EntryKind.CASE_OPENED, {})], at=T0, actor="test", create=True)
    for n, (entries, notices) in enumerate(commits):
        at = T0 + timedelta(hours=n + 1)
        record = store.case("acc-1", CASE)
        puts = [(store.notice_item(_notice(step, status, channel, at)), None) for step, status, channel in notices]
        store.commit(record, entries, at=at, actor="test", extra_puts=puts)
    return store, store.case("acc-1", CASE)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(_COMMITS)
def test_a_tally_advanced_commit_by_commit_is_the_fold_of_the_whole_case(commits) -> None:  # type: ignore[no-untyped-def]
    store, record = _lived(commits)
    history = store.case_history("acc-1", CASE)
    entries, notices = history.ledger[CASE], history.notices.get(CASE, [])
    assert record.tally == CaseTally.fold(entries, notices)
    # ... so what a decision reads from it is what it would read from the ledger
    now = T0 + timedelta(days=2)
    assert summarise(record.case, record.tally, now) == summarise_case(record.case, entries, now, notices=notices)
    assert Reach.of(record.tally) == reach_from(entries)
    assert {(n.step_id, n.status, n.channel) for n in record.tally.case_notices(CASE, "acc-1")} == \
        {(n.step_id, n.status, n.channel) for n in notices}


def test_the_contacts_on_the_tally_are_the_calls_and_notices_the_caps_count() -> None:
    _, record = _lived([
        ([(EntryKind.CALL_OUTCOME, {"outcome": "NO_ANSWER", "number_hash": "h1"})],
         [("first_notice", NoticeStatus.SENT, Channel.EMAIL)]),
        ([], [("service_help_1", NoticeStatus.SENT, Channel.SMS)]),  # an answer: counts against nothing
        ([(EntryKind.CALL_OUTCOME, {"outcome": "RIGHT_PARTY"})], [("sms_3", NoticeStatus.FAILED, Channel.SMS)]),
    ])
    assert record.tally is not None
    contacts = record.tally.contacts(CASE)
    assert sorted((c.at, c.channel, c.outcome.value) for c in contacts) == [
        (T0 + timedelta(hours=1), Channel.CALL, "CALL_NO_ANSWER"), (T0 + timedelta(hours=1), Channel.EMAIL, "SENT"),
        (T0 + timedelta(hours=3), Channel.CALL, "CALL_CONVERSATION"), (T0 + timedelta(hours=3), Channel.SMS, "FAILED")]
    call = next(c for c in contacts if c.channel is Channel.CALL)
    assert call.number_hash == "h1" and call.ref == f"{CASE}#1"


def test_what_a_case_says_most_often_does_not_grow_its_tally() -> None:
    # Decisions, deliveries and notices' texts are most of a case's ledger; the header's tally (read
    # and rewritten by every decision) stays the same size however many there are.
    quiet = [(EntryKind.DECISION, {"action": "WAIT", "reasons": ["STEP_DUE"]}), (EntryKind.DELIVERY, {"event": "x"})]
    _, short = _lived([(quiet, [])])
    _, long = _lived([(quiet, []) for _ in range(60)])
    assert len(json.dumps(long.tally.model_dump(mode="json"))) == len(json.dumps(short.tally.model_dump(mode="json")))


def test_a_sending_notice_on_the_tally_says_the_case_must_be_read_whole() -> None:
    _, record = _lived([([], [("first_notice", NoticeStatus.SENDING, Channel.EMAIL)])])
    assert record.tally is not None and record.tally.sending()
    _, after = _lived([([], [("first_notice", NoticeStatus.SENDING, Channel.EMAIL)]),
                       ([], [("first_notice", NoticeStatus.SENT, Channel.EMAIL)])])
    assert after.tally is not None and not after.tally.sending()


def test_the_sandbox_finds_a_header_whose_tally_drifted_from_its_items() -> None:
    store, record = _lived([([(EntryKind.REPLY, {"intent": "HARDSHIP"})], [])])
    assert record.tally is not None

    def items(tally: CaseTally) -> list[dict[str, Any]]:
        header = {"type": "CASE", "case_id": CASE, "tally": tally.model_dump_json()}
        ledger = [{"type": "LEDGER"} | e.model_dump(mode="json") for e in store.ledger[("acc-1", CASE)]]
        return [header, *ledger]

    assert tally_drift(items(record.tally)) == []
    assert tally_drift(items(record.tally.model_copy(update={"hardship_at": None}))) == [CASE]
