"""The case ledger is tamper-evident: any edit, deletion or reordering is found and named."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dunning.domain.ledger import (
    GENESIS,
    ChainReport,
    canonical_json,
    entry_hash,
    ledger_sort_key,
    new_entry,
    verify_chain,
)
from dunning.domain.models import Channel, EntryKind, LedgerEntry, Money, ReasonCode

CASE = "C-2026-000123"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def build_chain(payloads: list[tuple[EntryKind, dict[str, Any]]], case_id: str = CASE) -> list[LedgerEntry]:
    entries: list[LedgerEntry] = []
    prev: LedgerEntry | None = None
    for i, (kind, data) in enumerate(payloads):
        prev = new_entry(case_id, prev, T0 + timedelta(hours=6 * i), kind, data, actor=f"fn-{i % 3}")
        entries.append(prev)
    return entries


def a_case_history() -> list[LedgerEntry]:
    """Ten entries of a plausible case: opened, decided, noticed, delivered, replied, promised, paid."""
    return build_chain(
        [
            (EntryKind.CASE_OPENED, {"account_id": "A-1", "days_past_due": 1}),
            (
                EntryKind.DECISION,
                {"action": "SEND", "reasons": [ReasonCode.STEP_DUE], "channel": Channel.SMS},
            ),
            (EntryKind.NOTICE, {"notice_id": f"{CASE}:sms-1", "segments": 1}),
            (EntryKind.DELIVERY, {"provider_message_id": "SM123", "status": "DELIVERED"}),
            (EntryKind.DECISION, {"action": "WAIT", "reasons": [ReasonCode.CONTACT_WINDOW]}),
            (EntryKind.REPLY, {"intent": "PROMISE", "message_id": "SM456"}),
            (EntryKind.PROMISE, {"promised_on": "2026-03-10", "amount": Money.of("120.50", "USD")}),
            (EntryKind.DECISION, {"action": "WAIT", "reasons": [ReasonCode.PROMISE_PENDING]}),
            (EntryKind.PAYMENT, {"payment_id": "P-9", "amount": Decimal("120.50"), "currency": "USD"}),
            (EntryKind.CASE_CLOSED, {"resolution": "PAID"}),
        ]
    )


def named(report: ChainReport, problem: str) -> set[int | None]:
    return {p.seq for p in report.problems if p.problem == problem}


# --------------------------------------------------------------------------- building


def test_a_new_chain_starts_at_genesis_and_links_each_entry_to_the_previous() -> None:
    chain = a_case_history()
    assert [e.seq for e in chain] == list(range(10))
    assert chain[0].prev_hash == GENESIS
    assert all(later.prev_hash == earlier.hash for earlier, later in zip(chain, chain[1:], strict=False))
    report = verify_chain(CASE, chain, expected_head_hash=chain[-1].hash)
    assert report.ok and report.problems == [] and report.entries == 10
    assert report.head_hash == chain[-1].hash


def test_the_hash_covers_every_field_but_itself() -> None:
    e = a_case_history()[3]
    assert e.hash == entry_hash(e.case_id, e.seq, e.at, e.kind, e.actor, e.data, e.prev_hash)
    assert e.hash != entry_hash(e.case_id, e.seq, e.at, e.kind, "someone-else", e.data, e.prev_hash)
    assert len(e.hash) == 64


def test_a_clock_that_steps_back_cannot_put_an_entry_before_its_predecessor() -> None:
    first = new_entry(CASE, None, T0, EntryKind.CASE_OPENED, {})
    second = new_entry(CASE, first, T0 - timedelta(seconds=3), EntryKind.DECISION, {})
    assert second.at == first.at
    assert ledger_sort_key(first) < ledger_sort_key(second)


def test_an_entry_cannot_follow_an_entry_of_another_case() -> None:
    first = new_entry("C-OTHER", None, T0, EntryKind.CASE_OPENED, {})
    with pytest.raises(ValueError, match="C-OTHER"):
        new_entry(CASE, first, T0, EntryKind.DECISION, {})


def test_the_sort_key_orders_by_time_then_seq() -> None:
    chain = a_case_history()
    assert ledger_sort_key(chain[0]) == "LEDGER#2026-03-02T09:00:00.000000Z#000000"
    same_second = new_entry(CASE, chain[-1], chain[-1].at, EntryKind.ADMIN, {})
    keys = [ledger_sort_key(e) for e in [*chain, same_second]]
    assert keys == sorted(keys)


def test_entries_survive_a_json_round_trip_and_dynamodb_number_handling() -> None:
    chain = a_case_history()
    via_json = [LedgerEntry.model_validate_json(e.model_dump_json()) for e in chain]
    assert verify_chain(CASE, via_json).ok

    def as_dynamodb(value: Any) -> Any:  # DynamoDB returns every number as a trimmed Decimal
        if isinstance(value, dict):
            return {k: as_dynamodb(v) for k, v in value.items()}
        if isinstance(value, list):
            return [as_dynamodb(v) for v in value]
        if isinstance(value, int | Decimal) and not isinstance(value, bool):
            return Decimal(value).normalize()
        return value

    via_dynamodb = [e.model_copy(update={"data": as_dynamodb(e.data)}) for e in chain]
    assert verify_chain(CASE, via_dynamodb).ok


# --------------------------------------------------------------------------- canonical form


def test_canonical_json_is_deterministic_and_compact() -> None:
    a = {"b": {Channel.SMS, Channel.EMAIL}, "a": Decimal("10.50"), "t": datetime(2026, 1, 1, 8, tzinfo=UTC)}
    shanghai = timezone(timedelta(hours=8))
    b = {"t": datetime(2026, 1, 1, 16, tzinfo=shanghai), "a": Decimal("10.5"), "b": {"SMS", "EMAIL"}}
    assert (
        canonical_json(a)
        == canonical_json(b)
        == '{"a":"10.5","b":["EMAIL","SMS"],"t":"2026-01-01T08:00:00Z"}'
    )
    assert json.loads(canonical_json({"n": 3, "z": None, "ok": True})) == {"n": "3", "z": None, "ok": True}


def test_canonical_json_refuses_what_it_cannot_spell_deterministically() -> None:
    with pytest.raises(TypeError):
        canonical_json({1: "int key"})
    with pytest.raises(TypeError):
        canonical_json({"blob": b"\x00"})
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")})


# --------------------------------------------------------------------------- tampering, by example


@pytest.mark.parametrize(
    "field,value",
    [
        ("data", {"payment_id": "P-9", "amount": Decimal("1.00"), "currency": "USD"}),
        ("kind", EntryKind.ADMIN),
        ("at", T0 + timedelta(days=30)),
        ("actor", "arn:aws:iam::123456789012:user/mallory"),
    ],
)
def test_editing_an_entry_is_reported_as_altered_with_its_seq(field: str, value: Any) -> None:
    chain = a_case_history()
    chain[8] = chain[8].model_copy(update={field: value})
    report = verify_chain(CASE, chain)
    assert not report.ok
    assert [(p.seq, p.problem) for p in report.problems] == [(8, "ALTERED")]


def test_rewriting_an_entry_with_a_fresh_hash_breaks_the_next_link() -> None:
    chain = a_case_history()
    e = chain[4]
    forged_data = {"action": "SEND"}
    chain[4] = e.model_copy(
        update={
            "data": forged_data,
            "hash": entry_hash(e.case_id, e.seq, e.at, e.kind, e.actor, forged_data, e.prev_hash),
        }
    )
    report = verify_chain(CASE, chain)
    assert [(p.seq, p.problem) for p in report.problems] == [(5, "BROKEN_LINK")]


def test_removing_an_entry_names_the_missing_seq() -> None:
    chain = a_case_history()
    del chain[6]
    report = verify_chain(CASE, chain)
    assert [(p.seq, p.problem, p.position) for p in report.problems] == [(6, "MISSING", 6)]


def test_removing_the_first_entry_is_missing_seq_zero() -> None:
    report = verify_chain(CASE, a_case_history()[1:])
    assert [(p.seq, p.problem) for p in report.problems] == [(0, "MISSING")]


def test_a_cut_off_tail_is_only_visible_against_the_head_recorded_on_the_case() -> None:
    chain = a_case_history()
    head = chain[-1].hash
    truncated = chain[:-2]
    assert verify_chain(CASE, truncated).ok  # the chain alone looks whole
    report = verify_chain(CASE, truncated, expected_head_hash=head)
    assert [(p.seq, p.problem) for p in report.problems] == [(8, "MISSING")]


def test_swapping_two_entries_names_both() -> None:
    chain = a_case_history()
    chain[2], chain[7] = chain[7], chain[2]
    report = verify_chain(CASE, chain)
    assert {(p.seq, p.problem, p.position) for p in report.problems} == {
        (2, "REORDERED", 7),
        (7, "REORDERED", 2),
    }


def test_an_entry_of_another_case_is_foreign() -> None:
    chain = a_case_history()
    other = build_chain([(EntryKind.CASE_OPENED, {}), (EntryKind.DECISION, {})], case_id="C-OTHER")
    report = verify_chain(CASE, [*chain, other[1]])
    assert [(p.seq, p.problem, p.position) for p in report.problems] == [(1, "FOREIGN_CASE", 10)]
    assert "C-OTHER" in report.problems[0].detail


def test_a_forked_append_is_a_duplicate_and_the_continued_branch_is_kept() -> None:
    chain = a_case_history()
    # two writers both appended after seq 4; the chain went on from the first one
    fork = new_entry(CASE, chain[4], chain[4].at + timedelta(minutes=1), EntryKind.NOTICE, {"notice_id": "x"})
    report = verify_chain(CASE, [*chain[:6], fork, *chain[6:]])
    assert [(p.seq, p.problem, p.position) for p in report.problems] == [(5, "DUPLICATE", 6)]


def test_problem_details_never_carry_entry_data() -> None:
    chain = build_chain([(EntryKind.CASE_OPENED, {}), (EntryKind.REPLY, {"body": "call me on +14155550123"})])
    chain[1] = chain[1].model_copy(update={"data": {"body": "jane@example.com"}})
    report = verify_chain(CASE, chain)
    assert not report.ok
    assert all("@" not in p.detail and "+1415" not in p.detail for p in report.problems)


def test_an_empty_ledger_is_ok_unless_a_head_was_recorded() -> None:
    assert verify_chain(CASE, []).ok
    assert verify_chain(CASE, []).head_hash is None
    report = verify_chain(CASE, [], expected_head_hash="ab" * 32)
    assert [(p.seq, p.problem) for p in report.problems] == [(0, "MISSING")]


# --------------------------------------------------------------------------- tampering, any chain

scalars = st.one_of(
    st.text(max_size=12),
    st.integers(-(10**9), 10**9),
    st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-(10**6), max_value=10**6),
    st.booleans(),
    st.none(),
)
payloads = st.dictionaries(st.text(min_size=1, max_size=8), scalars, max_size=4)


@st.composite
def chains(draw: st.DrawFn) -> list[LedgerEntry]:
    n = draw(st.integers(min_value=2, max_value=12))
    kinds = draw(st.lists(st.sampled_from(list(EntryKind)), min_size=n, max_size=n))
    gaps = draw(st.lists(st.integers(min_value=0, max_value=3 * 86400), min_size=n, max_size=n))
    entries: list[LedgerEntry] = []
    prev: LedgerEntry | None = None
    at = T0
    for kind, gap in zip(kinds, gaps, strict=True):
        at = at + timedelta(seconds=gap)
        prev = new_entry(
            CASE, prev, at, kind, draw(payloads), actor=draw(st.sampled_from(["plan", "send", "admin"]))
        )
        entries.append(prev)
    return entries


def _altered(entry: LedgerEntry, field: str) -> LedgerEntry:
    if field == "data":
        return entry.model_copy(update={"data": {**entry.data, "tampered": True}})
    if field == "kind":
        other = EntryKind.ADMIN if entry.kind != EntryKind.ADMIN else EntryKind.PAYMENT
        return entry.model_copy(update={"kind": other})
    if field == "at":
        return entry.model_copy(update={"at": entry.at + timedelta(microseconds=1)})
    return entry.model_copy(update={"actor": entry.actor + "!"})


@settings(max_examples=100, deadline=None)
@given(chain=chains())
def test_an_untouched_chain_of_any_shape_verifies(chain: list[LedgerEntry]) -> None:
    report = verify_chain(CASE, chain, expected_head_hash=chain[-1].hash)
    assert report.ok, report.problems


@settings(max_examples=120, deadline=None)
@given(chain=chains(), data=st.data())
def test_any_single_edit_is_named(chain: list[LedgerEntry], data: st.DataObject) -> None:
    k = data.draw(st.integers(0, len(chain) - 1))
    field = data.draw(st.sampled_from(["data", "kind", "at", "actor"]))
    head = chain[-1].hash
    chain[k] = _altered(chain[k], field)
    report = verify_chain(CASE, chain, expected_head_hash=head)
    assert not report.ok
    assert named(report, "ALTERED") == {k}


@settings(max_examples=120, deadline=None)
@given(chain=chains(), data=st.data())
def test_any_single_removal_is_named(chain: list[LedgerEntry], data: st.DataObject) -> None:
    k = data.draw(st.integers(0, len(chain) - 1))
    head = chain[-1].hash
    del chain[k]
    report = verify_chain(CASE, chain, expected_head_hash=head)
    assert not report.ok
    assert [(p.seq, p.problem) for p in report.problems] == [(k, "MISSING")]


@settings(max_examples=120, deadline=None)
@given(chain=chains(), data=st.data())
def test_any_single_swap_is_named(chain: list[LedgerEntry], data: st.DataObject) -> None:
    i, j = sorted(data.draw(st.lists(st.integers(0, len(chain) - 1), min_size=2, max_size=2, unique=True)))
    head = chain[-1].hash
    chain[i], chain[j] = chain[j], chain[i]
    report = verify_chain(CASE, chain, expected_head_hash=head)
    assert not report.ok
    assert {(p.seq, p.problem) for p in report.problems} == {(i, "REORDERED"), (j, "REORDERED")}
