"""Anchoring the ledger in the Object-Lock archive, retention, and verifying a case.

The hourly anchor run (AnchorLedgerFunction) writes one object listing the head (seq, hash) of
every case whose header was written since the previous run, MAC'd by the KMS key and chained to
the previous run's object; every ended case also gets its own close anchor, and its items get the
TTL that ends their retention. `verify_case` checks a case against its chain, seals, header and
anchors (dunning.domain.integrity) and names the first entry that disagrees.

Layout in the archive bucket (keys sort by time):
  anchors/runs/YYYY/MM/DD/HH/<run instant>-<run seq>.json   one per run
  anchors/closed/<account>/<case>/<seq>.json                 one per ended head of a case
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from dunning.domain.integrity import (
    ANCHOR_GRACE,
    AnchoredHead,
    AnchorEvidence,
    AnchorRun,
    HeaderView,
    IntegrityReport,
    anchor_digest,
    seal_key_ref,
    seal_matches,
    verify,
)
from dunning.domain.models import CaseStatus, iso_z, parse_instant
from dunning.domain.policy import Policy
from dunning.observability import logger, metrics
from dunning.ports import CONTACT_RECORD, Archive, CaseRecord, LedgerKeys, NotFound, Ports

RUNS = "anchors/runs/"
CLOSED = "anchors/closed/"
ENDED = frozenset({CaseStatus.RESOLVED, CaseStatus.CLOSED})  # REFERRED_TO_LEGAL: legal keeps it
FIRST_RUN_HOURS = 2  # a first run (no earlier anchor) looks this far back
MAX_HOURS = 72  # a run after an outage catches up at most this far; a verifier looks this far ahead


class AnchoringNotConfigured(RuntimeError):
    """The anchor run needs the ledger key and the archive bucket."""


# --------------------------------------------------------------------------- retention


def retention_years(policy: Policy, jurisdiction: str | None) -> int:
    """The policy's retention for the case's jurisdiction; the longest when it is not known."""
    known = {str(code): rules.retention_years for code, rules in policy.jurisdictions.items()}
    return known.get(jurisdiction or "", max(known.values()))


def years_after(at: datetime, years: int) -> datetime:
    try:
        return at.replace(year=at.year + years)
    except ValueError:  # 29 February
        return at.replace(year=at.year + years, day=28)


def expiry(record: CaseRecord, years: int, now: datetime) -> datetime:
    """Retention runs from the case's close. What is written on an ended case afterwards is an
    admin's own record (a verify, an export, an erasure) and does not move it; messages that
    arrive after the close go to the account's contact record (a pseudo case, never closed by an
    event), which is kept from its last entry instead."""
    contact_record = record.case.resolution == CONTACT_RECORD
    start = (record.ledger_at if contact_record else record.case.closed_at) or record.ledger_at or now
    return years_after(start.astimezone(UTC), years)


# --------------------------------------------------------------------------- anchor objects


def _hour(at: datetime) -> str:
    return f"{at.astimezone(UTC):%Y-%m-%dT%H}"


def _run_prefix(at: datetime) -> str:
    return f"{RUNS}{at.astimezone(UTC):%Y/%m/%d/%H}/"


def _run_key(run_at: datetime, seq: int) -> str:
    return f"{_run_prefix(run_at)}{run_at.astimezone(UTC):%Y%m%dT%H%M%SZ}-{seq:08d}.json"


def _run_at_of(key: str) -> datetime | None:
    name = key.rsplit("/", 1)[-1]
    try:
        return datetime.strptime(name[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def _signed(keys: LedgerKeys, doc: dict[str, Any]) -> bytes:
    digest = anchor_digest(doc)
    return json.dumps({"anchor": doc, "digest": digest, "mac": keys.mac(digest.encode())},
                      sort_keys=True, indent=1).encode()


def _opened(keys: LedgerKeys, body: bytes) -> tuple[dict[str, Any], str, bool] | None:
    """(document, digest, MAC verified) of a stored anchor; None if it is not one at all."""
    try:
        outer = json.loads(body)
        doc, mac = outer["anchor"], str(outer["mac"])
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(doc, dict):
        return None
    digest = anchor_digest(doc)
    return doc, digest, digest == outer.get("digest") and keys.verify_mac(digest.encode(), mac)


def read_run(keys: LedgerKeys, archive: Archive, key: str) -> AnchorRun | None:
    body = archive.get(key)
    opened = _opened(keys, body) if body is not None else None
    if opened is None:
        return None
    doc, _, mac_ok = opened
    cases = {str(cid): AnchoredHead(int(v["seq"]), str(v["head"])) for cid, v in (doc.get("cases") or {}).items()}
    prev = doc.get("prev") or {}
    return AnchorRun(key=key, seq=int(doc.get("seq", -1)), run_at=parse_instant(str(doc["run_at"])), cases=cases,
                     prev_key=prev.get("key"), mac_ok=mac_ok)


def latest_run_key(archive: Archive, now: datetime, days: int = 3) -> str | None:
    for back in range(days + 1):
        day = now - timedelta(days=back)
        found = archive.keys(f"{RUNS}{day:%Y/%m/%d}/")
        if found:
            return max(found)
    return None


# --------------------------------------------------------------------------- the hourly run


def _needs(ports: Ports) -> tuple[LedgerKeys, Archive]:
    keys, archive = ports.ledger_keys, ports.archive
    if keys is None or archive is None:
        raise AnchoringNotConfigured("LEDGER_KEY_ID and ARCHIVE_BUCKET must both be set")
    return keys, archive


def _hours(start: datetime, end: datetime) -> list[str]:
    start = max(start, end - timedelta(hours=MAX_HOURS))
    out, at = [], start.replace(minute=0, second=0, microsecond=0)
    while at <= end:
        out.append(_hour(at))
        at += timedelta(hours=1)
    return out


def anchor_run(ports: Ports) -> dict[str, Any]:
    """Anchor the head of every case changed since the previous run; anchor and retain ended cases."""
    keys, archive = _needs(ports)
    now, policy = ports.clock.now(), ports.policy()
    last_key = latest_run_key(archive, now)
    last = read_run(keys, archive, last_key) if last_key else None
    start = last.run_at if last is not None else now - timedelta(hours=FIRST_RUN_HOURS)
    hours = _hours(start, now)
    heads: dict[str, dict[str, Any]] = {}
    ended: list[CaseRecord] = []
    broken = 0
    for changed in ports.collections.changed_cases(hours):
        try:
            record = ports.collections.case(changed.account_id, changed.case_id)
        except NotFound:
            continue  # deleted since (retention): nothing to anchor
        if record.ledger_seq < 0:
            continue
        ref = seal_key_ref(record.ledger_seal)
        seal_key = keys.key(ref) if ref else None
        sealed = seal_key is not None and record.ledger_seal is not None and seal_matches(
            record.ledger_seal, seal_key, record.case.case_id, record.ledger_seq, record.ledger_head)
        if not sealed:
            broken += 1
            logger.error("case head is not sealed as it should be", extra={"case_id": record.case.case_id})
        heads[record.case.case_id] = {"account_id": record.case.account_id, "seq": record.ledger_seq,
                                      "head": record.ledger_head, "sealed": sealed,
                                      "at": iso_z(record.ledger_at) if record.ledger_at else None}
        if record.case.status in ENDED:
            ended.append(record)
    seq = last.seq + 1 if last is not None else 0
    prev = None
    if last is not None:
        body = archive.get(last.key)
        opened = _opened(keys, body) if body is not None else None
        prev = {"key": last.key, "digest": opened[1] if opened else None}
    doc = {"version": 1, "seq": seq, "run_at": iso_z(now), "hours": [hours[0], hours[-1]], "prev": prev,
           "cases": heads}
    longest = max(r.retention_years for r in policy.jurisdictions.values())
    run_key = _run_key(now, seq)
    archive.put(run_key, _signed(keys, doc), "application/json", years_after(now, longest))
    for record in ended:
        retain(ports, record, policy, now)
    metrics.add_metric(name="LedgerAnchorRuns", unit="Count", value=1)
    metrics.add_metric(name="LedgerAnchoredCases", unit="Count", value=len(heads))
    if broken:
        metrics.add_metric(name="LedgerChainBroken", unit="Count", value=broken)
    logger.info("ledger anchored", extra={"anchor_key": run_key, "cases": len(heads), "ended": len(ended),
                                          "unsealed": broken})
    return {"key": run_key, "seq": seq, "cases": len(heads), "ended": len(ended), "unsealed": broken,
            "hours": doc["hours"]}


def retain(ports: Ports, record: CaseRecord, policy: Policy, now: datetime) -> str:
    """An ended case: its own anchor (kept as long as the case) and the TTL on all its items."""
    keys, archive = _needs(ports)
    case = record.case
    until = expiry(record, retention_years(policy, case.jurisdiction), now)
    doc = {"version": 1, "account_id": case.account_id, "case_id": case.case_id, "seq": record.ledger_seq,
           "head": record.ledger_head, "status": case.status.value,
           "closed_at": iso_z(case.closed_at) if case.closed_at else None, "anchored_at": iso_z(now),
           "retain_until": iso_z(until)}
    key = f"{CLOSED}{case.account_id}/{case.case_id}/{record.ledger_seq:06d}.json"
    if archive.get(key) is None:
        archive.put(key, _signed(keys, doc), "application/json", until)
    ports.collections.stamp_expiry(case.account_id, case.case_id, int(until.timestamp()))
    return key


def anchor_at_close(ports: Ports, record: CaseRecord) -> None:
    """Anchor a case the moment it ends. Best effort: the commit that ended it stands whatever
    happens here, and the next hourly run anchors and retains it anyway."""
    if ports.ledger_keys is None or ports.archive is None or record.case.status not in ENDED:
        return
    try:
        retain(ports, record, ports.policy(), ports.clock.now())
    except Exception:  # noqa: BLE001 - never undo or fail a close for its anchor
        metrics.add_metric(name="LedgerCloseAnchorsDeferred", unit="Count", value=1)
        logger.warning("close anchor deferred to the hourly run", extra={"case_id": record.case.case_id},
                       exc_info=True)


# --------------------------------------------------------------------------- verifying a case


def _evidence(keys: LedgerKeys, archive: Archive, account_id: str, case_id: str, newest_at: datetime | None,
              now: datetime) -> AnchorEvidence:
    evidence = AnchorEvidence()
    closed = sorted(archive.keys(f"{CLOSED}{account_id}/{case_id}/"))
    if closed:
        body = archive.get(closed[-1])
        opened = _opened(keys, body) if body is not None else None
        if opened is not None:
            doc, _, mac_ok = opened
            evidence.closed, evidence.closed_mac_ok = AnchoredHead(int(doc["seq"]), str(doc["head"])), mac_ok
    if newest_at is None:
        return evidence
    after = newest_at + ANCHOR_GRACE
    at = newest_at.replace(minute=0, second=0, microsecond=0)
    while at <= now and at <= newest_at + timedelta(hours=MAX_HOURS):
        for key in sorted(archive.keys(_run_prefix(at))):
            run_at = _run_at_of(key)
            if run_at is None or run_at <= after:
                continue
            run = read_run(keys, archive, key)
            if run is None:
                continue
            evidence.first_run_after = run
            if run.prev_key and archive.get(run.prev_key) is None:
                evidence.missing.append(run.prev_key)
            evidence.last_run_at = run.run_at
            return evidence
        at += timedelta(hours=1)
    latest = latest_run_key(archive, now)
    evidence.last_run_at = _run_at_of(latest) if latest else None
    return evidence


def verify_case(ports: Ports, account_id: str, case_id: str) -> IntegrityReport:
    """The case's chain, seals, header and anchors, checked; LedgerChainBroken on any problem."""
    history = ports.collections.case_history(account_id, case_id)  # the case's own items, not the account's
    record = history.cases.get(case_id)
    entries = history.ledger.get(case_id, [])
    if record is None and not entries:
        raise NotFound(f"case {case_id}")
    keys, archive, now = ports.ledger_keys, ports.archive, ports.clock.now()
    header = HeaderView(record.case, record.ledger_seq, record.ledger_head, record.ledger_seal) if record else None
    evidence = None
    if keys is not None and archive is not None:
        newest = max((e.at for e in entries if e.case_id == case_id), default=None)
        evidence = _evidence(keys, archive, account_id, case_id, newest, now)
    report = verify(case_id, entries, header, key_for=keys.key if keys else (lambda ref: None),
                    sealing=keys is not None, anchors=evidence, now=now)
    if not report.ok:
        metrics.add_metric(name="LedgerChainBroken", unit="Count", value=1)
        first = report.first
        logger.error("case does not verify", extra={"case_id": case_id, "problem": first.problem if first else None,
                                                   "seq": first.seq if first else None})
    return report
