"""A ledger that holds up against someone who can rewrite the whole table.

Three layers, each closing a hole the one before leaves open:

1. **The hash chain** (dunning.domain.ledger): an entry altered, removed or moved breaks a link.
   Anyone with table access can recompute every hash, so alone it proves little.
2. **Seals**: the last entry of every commit carries a MAC over (case, seq, hash), keyed by a key
   derived from the KMS HMAC key, and the header carries the same seal. Recomputing hashes breaks
   every later seal; forging a seal needs KMS rights (``kms:GenerateMac``), not table rights. The
   last entry of each commit also records the header's state (status, approvals, arrangement and
   a digest of the rest), inside the hash: a header changed on its own disagrees with its ledger.
3. **Anchors**: at least hourly, the head (seq, hash) of every case that changed goes into an
   object in the Object-Lock archive bucket, MAC'd with the KMS key and chained to the previous
   anchor; a closed case gets its own anchor. Rolling a case back to an earlier sealed state
   (delete the newest entries, restore the old header and seal) is consistent in the table, but
   the first anchor after the surviving head names the head that was there.

What remains open, by design: entries written after the last anchor can be rolled back to an
earlier sealed state by someone with table access, until the next anchor (at most an hour); and
nothing here stops someone with KMS rights as well. `verify` names the first disagreement.

Pure: the caller gathers keys and anchors (services.integrity); nothing here calls AWS.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel

from dunning.domain.ledger import ChainReport, canonical_json, verify_chain
from dunning.domain.models import Case, CaseStatus, EntryKind, LedgerEntry

SEAL_VERSION = "v1"
# Header fields a commit may change without an entry (a task token put back after Step Functions
# could not be reached); everything else of the header is recorded in its ledger.
_UNRECORDED = frozenset({"version", "call_task_token", "approval_task_token"})
# An anchor run later than this after a case's newest entry must list it (index lag, clock skew).
ANCHOR_GRACE = timedelta(minutes=2)
# With hourly runs, no run for this long after a case's newest entry means anchors are missing.
ANCHOR_OVERDUE = timedelta(hours=2)

Where = Literal["ENTRY", "HEADER", "ANCHOR"]


# --------------------------------------------------------------------------- the header's state


def case_state(case: Case) -> dict[str, Any]:
    """What a commit records about the header it leaves: the fields an investigator asks about by
    name, and a digest of every recorded field (so any other change shows too)."""
    doc = case.model_dump(mode="json", exclude=set(_UNRECORDED))
    plan = f"{case.plan.plan_id}:{case.plan.status.value}" if case.plan else None
    promise = (f"{case.promise.promised_on.isoformat()} {case.promise.amount.amount} {case.promise.amount.currency}"
               if case.promise else None)
    return {
        "status": case.status.value,
        "legal_approved_by": case.legal_approved_by,
        "plan": plan,
        "promise": promise,
        "closed_at": doc.get("closed_at"),
        "digest": hashlib.sha256(canonical_json(doc).encode("utf-8")).hexdigest(),
    }


# --------------------------------------------------------------------------- seals


def seal_message(case_id: str, seq: int, entry_hash: str) -> bytes:
    return f"dunning-ledger-seal/{SEAL_VERSION}\n{case_id}\n{seq}\n{entry_hash}".encode()


def make_seal(key_ref: str, key: bytes, case_id: str, seq: int, entry_hash: str) -> str:
    """``v1.<key ref>.<hex HMAC-SHA256>``: the ref names the derived key, never the key itself."""
    mac = hmac.new(key, seal_message(case_id, seq, entry_hash), hashlib.sha256).hexdigest()
    return f"{SEAL_VERSION}.{key_ref}.{mac}"


def seal_key_ref(seal: str | None) -> str | None:
    if not seal:
        return None
    parts = seal.split(".")
    return parts[1] if len(parts) == 3 and parts[0] == SEAL_VERSION else None


def seal_matches(seal: str, key: bytes, case_id: str, seq: int, entry_hash: str) -> bool:
    ref = seal_key_ref(seal)
    return ref is not None and hmac.compare_digest(seal, make_seal(ref, key, case_id, seq, entry_hash))


# --------------------------------------------------------------------------- anchors


@dataclass(frozen=True)
class AnchoredHead:
    seq: int
    head: str


@dataclass
class AnchorRun:
    """One hourly anchor object, as read back (``mac_ok``: its KMS MAC verified)."""

    key: str
    seq: int
    run_at: datetime
    cases: dict[str, AnchoredHead]
    prev_key: str | None
    mac_ok: bool


@dataclass
class AnchorEvidence:
    """What the archive says about one case, gathered by the caller."""

    first_run_after: AnchorRun | None = None  # the first run later than the newest entry (+ grace)
    missing: list[str] = field(default_factory=list)  # anchor objects referenced but gone
    closed: AnchoredHead | None = None  # the newest close anchor of the case
    closed_mac_ok: bool = True
    last_run_at: datetime | None = None  # the newest run found at all


# --------------------------------------------------------------------------- verification


class IntegrityProblem(BaseModel):
    seq: int | None  # the entry concerned (None: the case as a whole)
    where: Where
    problem: str
    detail: str  # ids, seqs, field names and codes only, never entry data


class IntegrityReport(BaseModel):
    case_id: str
    ok: bool
    entries: int
    sealed_through: int | None  # highest seq whose seal verifies
    anchored_through: int | None  # highest seq an anchor vouches for
    problems: list[IntegrityProblem]
    first: IntegrityProblem | None  # the first entry that disagrees, and why
    chain: ChainReport

    def summary(self) -> str:
        if self.ok:
            return f"case {self.case_id}: {self.entries} entries verify"
        first = self.first
        assert first is not None
        at = f"seq {first.seq}" if first.seq is not None else "the case"
        return f"case {self.case_id}: {at} disagrees ({first.problem}): {first.detail}"


@dataclass
class HeaderView:
    """The stored case header, as the verifier needs it."""

    case: Case
    ledger_seq: int
    ledger_head: str
    ledger_seal: str | None


def _problem(seq: int | None, where: Where, problem: str, detail: str) -> IntegrityProblem:
    return IntegrityProblem(seq=seq, where=where, problem=problem, detail=detail)


def _seal_problems(case_id: str, chain: list[LedgerEntry], key_for: Callable[[str], bytes | None],
                   sealing: bool) -> tuple[list[IntegrityProblem], int | None]:
    problems: list[IntegrityProblem] = []
    sealed_through: int | None = None
    for entry in chain:
        if entry.seal is None:
            continue
        ref = seal_key_ref(entry.seal)
        key = key_for(ref) if ref else None
        if key is None or not seal_matches(entry.seal, key, case_id, entry.seq, entry.hash):
            problems.append(_problem(entry.seq, "ENTRY", "SEAL_MISMATCH",
                                     f"seq {entry.seq} does not match its seal: it, or an entry before it, "
                                     "was rewritten"))
        elif not problems:
            sealed_through = entry.seq
    if sealing and chain and chain[-1].seal is None:
        problems.append(_problem(chain[-1].seq, "ENTRY", "UNSEALED",
                                 f"the newest entry (seq {chain[-1].seq}) carries no seal"))
    return problems, sealed_through


def _header_problems(header: HeaderView, chain: list[LedgerEntry], sealing: bool) -> list[IntegrityProblem]:
    if not chain:
        return []
    newest = chain[-1]
    out: list[IntegrityProblem] = []
    if (header.ledger_seq, header.ledger_head) != (newest.seq, newest.hash):
        out.append(_problem(newest.seq, "HEADER", "HEADER_HEAD",
                            f"the header points at seq {header.ledger_seq}, the ledger ends at seq {newest.seq}"))
    if sealing and header.ledger_seal != newest.seal:
        out.append(_problem(newest.seq, "HEADER", "HEADER_SEAL",
                            f"the header's seal is not the seal of seq {newest.seq}"))
    recorded = next((e.state for e in reversed(chain) if e.state is not None), None)
    if recorded is not None:
        actual = case_state(header.case)
        differing = [k for k in ("status", "legal_approved_by", "plan", "promise", "closed_at")
                     if actual.get(k) != recorded.get(k)]
        if differing or actual["digest"] != recorded.get("digest"):
            named = ", ".join(differing) or "a field outside status, approval and arrangement"
            out.append(_problem(newest.seq, "HEADER", "HEADER_STATE",
                                f"the header's {named} differs from what the ledger recorded at seq "
                                f"{newest.seq} (header status {actual['status']}, ledger "
                                f"{recorded.get('status')})"))
    out += _unrecorded_facts(header.case, chain)
    return out


def _unrecorded_facts(case: Case, chain: Sequence[LedgerEntry]) -> list[IntegrityProblem]:
    """Header facts that need an entry behind them, whatever the state snapshots say."""
    out: list[IntegrityProblem] = []
    approver = case.legal_approved_by
    if approver is not None and not any(
            e.kind is EntryKind.LEGAL and e.data.get("event") == "APPROVED" and e.data.get("by") == approver
            for e in chain):
        out.append(_problem(None, "HEADER", "NOT_RECORDED",
                            "the header names a legal approver no LEGAL APPROVED entry records"))
    if case.status in (CaseStatus.RESOLVED, CaseStatus.CLOSED) and not any(
            e.kind is EntryKind.CASE_CLOSED or (e.state or {}).get("status") == case.status.value for e in chain):
        out.append(_problem(None, "HEADER", "NOT_RECORDED",
                            f"the header says {case.status.value} but no entry records the case ending"))
    return out


def _anchor_problems(chain: list[LedgerEntry], evidence: AnchorEvidence,
                     now: datetime) -> tuple[list[IntegrityProblem], int | None]:
    out: list[IntegrityProblem] = []
    by_seq = {e.seq: e for e in chain}
    newest = chain[-1] if chain else None
    anchored_through: int | None = None

    def check(head: AnchoredHead, source: str) -> None:
        nonlocal anchored_through
        entry = by_seq.get(head.seq)
        if newest is not None and head.seq > newest.seq:
            out.append(_problem(head.seq, "ANCHOR", "ANCHOR_AHEAD",
                                f"{source} records seq {head.seq}; the ledger ends at seq {newest.seq}: "
                                "newer entries were removed"))
        elif entry is None or entry.hash != head.head:
            out.append(_problem(head.seq, "ANCHOR", "ANCHOR_MISMATCH",
                                f"{source} records another hash for seq {head.seq}: it, or an entry before "
                                "it, was rewritten"))
        else:
            anchored_through = max(anchored_through or -1, head.seq)

    for key in evidence.missing:
        out.append(_problem(None, "ANCHOR", "ANCHOR_MISSING", f"anchor {key} is referenced by its successor "
                                                            "but is gone"))
    run = evidence.first_run_after
    case_id = chain[0].case_id if chain else None
    if run is not None and not run.mac_ok:
        out.append(_problem(None, "ANCHOR", "ANCHOR_MAC", f"anchor {run.key} does not match its MAC"))
    elif run is not None and case_id is not None:
        listed = run.cases.get(case_id)
        if listed is None:
            out.append(_problem(newest.seq if newest else None, "ANCHOR", "NOT_ANCHORED",
                                f"anchor {run.key}, the first after seq {newest.seq if newest else '-'}, "
                                "does not list the case"))
        else:
            check(listed, f"anchor {run.key}")
    elif newest is not None and now - newest.at > ANCHOR_OVERDUE:
        last = evidence.last_run_at.isoformat() if evidence.last_run_at else "never"
        out.append(_problem(None, "ANCHOR", "ANCHORS_MISSING",
                            f"no anchor since seq {newest.seq} ({newest.at.isoformat()}); the last run found: {last}"))
    if evidence.closed is not None:
        if not evidence.closed_mac_ok:
            out.append(_problem(None, "ANCHOR", "ANCHOR_MAC", "the close anchor does not match its MAC"))
        else:
            check(evidence.closed, "the close anchor")
    return out, anchored_through


def verify(case_id: str, entries: Sequence[LedgerEntry], header: HeaderView | None, *,
           key_for: Callable[[str], bytes | None], sealing: bool, anchors: AnchorEvidence | None,
           now: datetime) -> IntegrityReport:
    """Everything storage and the archive say about one case, checked; problems ordered by the
    entry they concern, so ``first`` is the first entry that disagrees."""
    chain_report = verify_chain(case_id, entries,
                                expected_head_hash=header.ledger_head if header is not None else None)
    problems = [_problem(p.seq, "ENTRY", p.problem, p.detail) for p in chain_report.problems]
    own = sorted({e.seq: e for e in entries if e.case_id == case_id}.values(), key=lambda e: e.seq)
    seal_problems, sealed_through = _seal_problems(case_id, own, key_for, sealing)
    problems += seal_problems
    if header is not None:
        problems += _header_problems(header, own, sealing)
    anchored_through = None
    if anchors is not None:
        anchor_problems, anchored_through = _anchor_problems(own, anchors, now)
        problems += anchor_problems
    problems.sort(key=lambda p: (p.seq if p.seq is not None else 10**9, ("ENTRY", "ANCHOR", "HEADER").index(p.where)))
    return IntegrityReport(case_id=case_id, ok=not problems, entries=len(entries), sealed_through=sealed_through,
                           anchored_through=anchored_through, problems=problems,
                           first=problems[0] if problems else None, chain=chain_report)


def anchor_digest(doc: Mapping[str, Any]) -> str:
    """sha256 (hex) of an anchor document's canonical JSON (what its KMS MAC covers)."""
    return hashlib.sha256(canonical_json(doc).encode("utf-8")).hexdigest()
