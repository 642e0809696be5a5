"""The case ledger: append-only entries, hash-chained per case, so tampering is evident.

Each entry carries the hash of its predecessor (``GENESIS`` for seq 0) and its own hash over every
other field. ``verify_chain`` re-derives all of it from what storage returns and names the entry
that is altered, missing, out of order, duplicated or from another case.

Hashes are computed over a canonical JSON form chosen to survive the trips an entry makes: numbers
are hashed as plain decimal strings because DynamoDB hands every number back as ``Decimal`` (and
trims trailing zeros), and ledger instants are whole seconds because every boundary serialises
instants with ``iso_z``. An entry written by ``new_entry`` therefore verifies after a JSON or a
DynamoDB round trip.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel

from dunning.domain.models import EntryKind, LedgerEntry, to_utc

GENESIS = "0" * 64  # prev_hash of seq 0
SEQ_DIGITS = 6  # zero-padding in the sort key; beyond it lexical order would break

Problem = Literal["ALTERED", "MISSING", "REORDERED", "BROKEN_LINK", "FOREIGN_CASE", "DUPLICATE"]


# --------------------------------------------------------------------------- canonical form


def _instant_text(value: datetime) -> str:
    """UTC with a trailing Z; microseconds only when present, so it equals what ``iso_z`` wrote."""
    utc = to_utc(value)
    if utc.microsecond:
        return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ")


def _number_text(value: int | float | Decimal) -> str:
    """One spelling per number: 3, 3.0, Decimal('3.00') and DynamoDB's Decimal('3') all hash alike."""
    number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if not number.is_finite():
        raise ValueError("ledger data cannot hold NaN or infinity")
    if number == 0:
        return "0"
    text = format(number, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _key_text(key: Any) -> str:
    if isinstance(key, Enum):
        return str(key.value)
    if isinstance(key, str):
        return key
    raise TypeError(f"ledger data keys must be strings, not {type(key).__name__}")


def _plain_scalar(value: Any, *, numbers_as_text: bool) -> Any:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | float | Decimal):
        text = _number_text(value)
        if numbers_as_text:
            return text
        if isinstance(value, int):
            return value
        # stored as DynamoDB and JSON will hand it back: trailing zeros trimmed, never a float
        return Decimal(text)
    if isinstance(value, datetime):
        return _instant_text(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    raise TypeError(f"ledger data cannot hold a {type(value).__name__}")


def _plain(value: Any, *, numbers_as_text: bool) -> Any:
    """Reduce a value to JSON types (numbers kept or spelled out) in one deterministic shape."""
    if isinstance(value, Enum):
        return _plain(value.value, numbers_as_text=numbers_as_text)
    if isinstance(value, BaseModel):
        return _plain(value.model_dump(), numbers_as_text=numbers_as_text)
    if isinstance(value, Mapping):
        return {_key_text(k): _plain(v, numbers_as_text=numbers_as_text) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        items = [_plain(v, numbers_as_text=numbers_as_text) for v in value]
        return sorted(items, key=lambda item: json.dumps(item, sort_keys=True, default=str))
    if isinstance(value, list | tuple):
        return [_plain(v, numbers_as_text=numbers_as_text) for v in value]
    return _plain_scalar(value, numbers_as_text=numbers_as_text)


def canonical_json(value: Any) -> str:
    """Deterministic JSON: sorted keys, no whitespace, numbers as decimal strings, UTC Z instants,
    enums by value, sets sorted. Equal content always gives equal text."""
    return json.dumps(
        _plain(value, numbers_as_text=True), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


def entry_hash(
    case_id: str,
    seq: int,
    at: datetime,
    kind: EntryKind | str,
    actor: str,
    data: Mapping[str, Any],
    prev_hash: str,
    state: Mapping[str, Any] | None = None,
) -> str:
    """sha256 (hex) of the canonical JSON of every field of an entry except its own hash and its
    seal (the seal is a MAC over the hash). ``state`` counts only when present, so entries written
    before headers were recorded keep their hashes."""
    body: dict[str, Any] = {
        "case_id": case_id,
        "seq": seq,
        "at": at,
        "kind": kind,
        "actor": actor,
        "data": data,
        "prev_hash": prev_hash,
    }
    if state is not None:
        body["state"] = state
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


def _recomputed(entry: LedgerEntry) -> str:
    return entry_hash(
        entry.case_id, entry.seq, entry.at, entry.kind, entry.actor, entry.data, entry.prev_hash, entry.state
    )


# --------------------------------------------------------------------------- appending


def new_entry(
    case_id: str,
    prev: LedgerEntry | None,
    at: datetime,
    kind: EntryKind,
    data: Mapping[str, Any],
    actor: str = "system",
    state: Mapping[str, Any] | None = None,
) -> LedgerEntry:
    """The next entry of a case's ledger, chained to ``prev`` (None for the first entry).

    ``at`` is cut to whole seconds and never earlier than ``prev.at``: the storage sort key starts
    with the time, so a clock that steps back between two Lambdas must not reorder the chain.
    ``data`` is stored in the shape storage gives back (enums by value, instants as UTC Z text,
    decimals with trailing zeros trimmed, sets as sorted lists), so reading it back changes nothing.
    """
    if prev is not None and prev.case_id != case_id:
        raise ValueError(f"ledger entry for case {case_id} cannot follow an entry of case {prev.case_id}")
    instant = to_utc(at).replace(microsecond=0)
    if prev is not None and instant < prev.at:
        instant = prev.at
    seq = 0 if prev is None else prev.seq + 1
    prev_hash = GENESIS if prev is None else prev.hash
    plain_data = _plain(dict(data), numbers_as_text=False)
    plain_state = None if state is None else _plain(dict(state), numbers_as_text=False)
    return LedgerEntry(
        case_id=case_id,
        seq=seq,
        at=instant,
        kind=kind,
        actor=actor,
        data=plain_data,
        prev_hash=prev_hash,
        hash=entry_hash(case_id, seq, instant, kind, actor, plain_data, prev_hash, plain_state),
        state=plain_state,
    )


def ledger_sort_key(entry: LedgerEntry) -> str:
    """``LEDGER#<utc with microseconds>Z#<seq, 6 digits>``: lexical order is time then seq order."""
    if entry.seq >= 10**SEQ_DIGITS:
        raise ValueError(f"case {entry.case_id}: ledger seq {entry.seq} exceeds the sort key width")
    at = entry.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return f"LEDGER#{at}#{entry.seq:0{SEQ_DIGITS}d}"


# --------------------------------------------------------------------------- verification


class ChainProblem(BaseModel):
    seq: int | None  # the entry concerned; for MISSING, the seq that should be there
    position: int  # index in the entries as given (storage order); for MISSING, where it belongs
    problem: Problem
    detail: str  # ids and seqs only, never entry data


class ChainReport(BaseModel):
    case_id: str
    entries: int
    ok: bool
    problems: list[ChainProblem]
    head_hash: str | None  # stored hash of the highest seq found


class _Seen:
    """An entry with its storage position and the hash its content really has."""

    __slots__ = ("entry", "position", "actual")

    def __init__(self, entry: LedgerEntry, position: int) -> None:
        self.entry = entry
        self.position = position
        self.actual = _recomputed(entry)

    @property
    def seq(self) -> int:
        return self.entry.seq

    @property
    def intact(self) -> bool:
        return self.actual == self.entry.hash

    def vouches_for(self, prev_hash: str) -> bool:
        # a successor pointing at our real hash means only our hash field was edited: ALTERED covers it
        return prev_hash in (self.entry.hash, self.actual)


def _problem(seen: _Seen, problem: Problem, detail: str) -> ChainProblem:
    return ChainProblem(seq=seen.seq, position=seen.position, problem=problem, detail=detail)


def _order_problems(own: list[_Seen]) -> list[ChainProblem]:
    """Entries whose storage place differs from their place in seq order (a swap names both)."""
    ranked = sorted(own, key=lambda s: s.seq)
    return [
        _problem(s, "REORDERED", f"seq {s.seq} is stored where seq {ranked[i].seq} belongs")
        for i, (s, r) in enumerate(zip(own, ranked, strict=True))
        if s is not r
    ]


def _pick_duplicates(own: list[_Seen]) -> tuple[list[_Seen], list[ChainProblem]]:
    """One entry per seq, preferring the copy the chain continues from; the others are reported."""
    by_seq: dict[int, list[_Seen]] = {}
    for s in own:
        by_seq.setdefault(s.seq, []).append(s)
    chain: list[_Seen] = []
    problems: list[ChainProblem] = []
    for seq in sorted(by_seq):
        copies = by_seq[seq]
        successors = by_seq.get(seq + 1, [])

        def preference(s: _Seen, successors: list[_Seen] = successors) -> tuple[bool, bool]:
            continued = any(s.vouches_for(n.entry.prev_hash) for n in successors)
            return (not continued, not s.intact)

        kept = min(copies, key=preference)  # min is stable: first stored wins a tie
        chain.append(kept)
        problems += [
            _problem(
                s,
                "DUPLICATE",
                f"seq {seq} is stored more than once (positions {kept.position}, {s.position})",
            )
            for s in copies
            if s is not kept
        ]
    return chain, problems


def _chain_problems(chain: list[_Seen]) -> list[ChainProblem]:
    problems: list[ChainProblem] = []
    prev: _Seen | None = None
    for s in chain:
        expected = 0 if prev is None else prev.seq + 1
        if s.seq > expected:
            problems += [
                ChainProblem(
                    seq=missing,
                    position=s.position,
                    problem="MISSING",
                    detail=f"seq {missing} is missing before seq {s.seq}",
                )
                for missing in range(expected, s.seq)
            ]
        if not s.intact:
            problems.append(_problem(s, "ALTERED", f"seq {s.seq} does not match its hash"))
        if s.seq == expected:  # links across a gap are already explained by MISSING
            if prev is None and s.entry.prev_hash != GENESIS:
                problems.append(_problem(s, "BROKEN_LINK", "seq 0 does not start from the genesis hash"))
            elif prev is not None and not prev.vouches_for(s.entry.prev_hash):
                problems.append(
                    _problem(s, "BROKEN_LINK", f"seq {s.seq} does not point at the hash of seq {prev.seq}")
                )
        prev = s
    return problems


def _head_problem(chain: list[_Seen], expected_head_hash: str, total: int) -> ChainProblem | None:
    if any(s.vouches_for(expected_head_hash) for s in chain):
        return None
    next_seq = chain[-1].seq + 1 if chain else 0
    return ChainProblem(
        seq=next_seq,
        position=total,
        problem="MISSING",
        detail=f"the recorded head is not in the ledger; entries from seq {next_seq} are missing",
    )


def verify_chain(
    case_id: str,
    entries: Sequence[LedgerEntry],
    *,
    expected_head_hash: str | None = None,
) -> ChainReport:
    """Check a case's ledger as storage returns it (oldest first) and name every damaged entry.

    A chain alone cannot show that its newest entries were cut off; pass the head hash recorded on
    the case header as ``expected_head_hash`` to catch that too.
    """
    problems: list[ChainProblem] = []
    own: list[_Seen] = []
    for position, entry in enumerate(entries):
        seen = _Seen(entry, position)
        if entry.case_id != case_id:
            # ids only: the other case id tells an investigator where the entry came from
            problems.append(
                _problem(seen, "FOREIGN_CASE", f"seq {entry.seq} belongs to case {entry.case_id}")
            )
        else:
            own.append(seen)

    problems += _order_problems(own)
    chain, duplicate_problems = _pick_duplicates(own)
    problems += duplicate_problems
    problems += _chain_problems(chain)
    if expected_head_hash is not None:
        head_problem = _head_problem(chain, expected_head_hash, len(entries))
        if head_problem is not None:
            problems.append(head_problem)

    problems.sort(key=lambda p: (p.seq if p.seq is not None else -1, p.position, p.problem))
    return ChainReport(
        case_id=case_id,
        entries=len(entries),
        ok=not problems,
        problems=problems,
        head_hash=chain[-1].entry.hash if chain else None,
    )
