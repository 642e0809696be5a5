"""ImportAccounts: core banking's account files (CSV or JSON Lines) into AccountsTable.

The file is streamed in chunks and written in batches: at any moment we hold one batch of
accounts (`import_batch_size`, 25-100) and one line (at most `MAX_ROW_BYTES`), the rejects spill
to a temporary file past 1 MiB, and the only thing that grows with the file is the set of account
ids seen (to reject repeats), about 100 bytes an account.

Reading and validating rows is `dunning.domain.account_file` (its docstring has the rules: one
row per physical line, a bad quote costs its own row, an account's first row is the one imported,
`rows == imported + unchanged + rejected`). A bad row goes to ``rejects/<name>.jsonl`` as
``{"row": n, "reason": "<field>: <message>"}``; row 0 is the file itself when none of it can be
read. Good rows are never lost because of a bad neighbour.

Merge rule (file row + stored account):
- core banking owns identity (the customer_id included), contact details, locale, zones,
  jurisdiction, currency, the amounts owed, the due date and time_barred: the file wins; a file
  without a customer_id keeps the one stored; the verification facts the customer's page asks
  (date_of_birth, postcode, national_id_last4) are stored as keyed hashes only, each kind the
  file carries replacing the stored one;
- a special status in the file is taken; an empty one keeps what is stored (an admin lifts a
  status, and core banking reporting it again sets it again);
- collections owns what it learned: opt-outs (stored opt-outs are kept, the file can only add),
  consent, payments, credit balance, and the "unusable" flags of a phone or email (kept while the
  file carries the same phone/email; a new number or address is usable again), the preferred
  language and hours the customer chose on their page; a JSON Lines row
  that carries payments adds the ones we do not have; the file's `version` is ignored;
- status: core banking reports CURRENT until its own end-of-cycle roll, and collections decides
  delinquency (the daily sweep). So an import never moves DELINQUENT back to CURRENT while money
  is owed: only a cure (nothing owed) ends a delinquency, and then the account becomes PAID_OFF
  (the stream resolves the case). Nothing owed and DELINQUENT in the file is read as PAID_OFF.
  The file may set DELINQUENT or CHARGED_OFF itself (a case opens, or contact stops).

Only changed rows are written (model dumps compared without `version`), each with a put
conditional on the version read; on a conflict the row is re-read, merged again, and retried once.
"""

from __future__ import annotations

import json
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import IO

from dunning.domain.account_file import (
    AccountingError,
    ImportSummary,
    parser_for,
)
from dunning.domain.models import Account, AccountStatus
from dunning.domain.page_verify import hash_facts
from dunning.observability import logger, metrics
from dunning.ports import BulkAccounts, Conflict, Ports

INCOMING_PREFIX = "incoming/"
REJECTS_PREFIX = "rejects/"
REPORTS_PREFIX = "reports/imports/"

WRITE_WORKERS = 16  # conditional puts in flight at once


@dataclass
class _Rejects:
    """Reject lines, spilled to disk past 1 MiB so a file of bad rows cannot exhaust memory."""

    file: IO[bytes] = field(default_factory=lambda: tempfile.SpooledTemporaryFile(max_size=1 << 20))  # noqa: SIM115
    count: int = 0

    def add(self, row: int, reason: str) -> None:
        self.file.write(json.dumps({"row": row, "reason": reason}, ensure_ascii=False).encode() + b"\n")
        self.count += 1


# --------------------------------------------------------------------------- merge


def merge(stored: Account | None, incoming: Account) -> Account:
    """The account to store: the file's core-banking fields over what collections learned."""
    if stored is None:
        merged = incoming
        if not merged.owes and merged.status is AccountStatus.DELINQUENT:
            merged = merged.model_copy(update={"status": AccountStatus.PAID_OFF})
        return merged.model_copy(update={"version": 0})
    old, new = stored.contact, incoming.contact
    contact = new.model_copy(update={
        "phone_usable": old.phone_usable if new.phone == old.phone else True,
        "email_usable": old.email_usable if new.email == old.email else True,
    })
    known = {p.payment_id for p in stored.payments}
    payments = [*stored.payments, *(p for p in incoming.payments if p.payment_id not in known)]
    carried = incoming.model_fields_set
    status = incoming.status
    if not incoming.owes:
        if status is AccountStatus.DELINQUENT or (
            stored.status is AccountStatus.DELINQUENT and status is AccountStatus.CURRENT
        ):
            status = AccountStatus.PAID_OFF
    elif stored.status is AccountStatus.DELINQUENT and status is AccountStatus.CURRENT:
        status = AccountStatus.DELINQUENT  # core banking has not rolled yet; only a cure ends it
    return incoming.model_copy(update={
        "contact": contact,
        "status": status,
        "opted_out": stored.opted_out | incoming.opted_out,
        "consented": incoming.consented if "consented" in carried else stored.consented,
        "payments": payments,
        "credit_balance": incoming.credit_balance if "credit_balance" in carried else stored.credit_balance,
        "verification": stored.verification | incoming.verification,
        "preferred_locale": stored.preferred_locale,
        "preferred_hours": stored.preferred_hours,
        "customer_id": incoming.customer_id if incoming.customer_id is not None else stored.customer_id,
        "special_status": incoming.special_status if incoming.special_status is not None else stored.special_status,
        "version": stored.version,
    })


def with_verification_hashes(account: Account, secret: Callable[[], bytes]) -> Account:
    """The row's verification facts as keyed hashes (the key is read only when a row has facts)."""
    facts = account._verification_facts
    if not facts:
        return account
    hashed = account.model_copy(update={"verification": hash_facts(secret(), facts)})
    hashed._verification_facts = {}
    return hashed


def _same(a: Account, b: Account) -> bool:
    return a.model_dump(mode="json", exclude={"version"}) == b.model_dump(mode="json", exclude={"version"})


# --------------------------------------------------------------------------- import


def _names(key: str) -> tuple[str, str]:
    name = key.removeprefix(INCOMING_PREFIX)
    return f"{REJECTS_PREFIX}{name}.jsonl", f"{REPORTS_PREFIX}{name}.json"


class _Upserter:
    """Writes a batch's changed rows in parallel: one conditional put each, a few in flight at once
    (a sequential put per row would not finish a 100,000-row file inside the function's timeout)."""

    def __init__(self, ports: Ports, bulk: BulkAccounts, summary: ImportSummary, rejects: _Rejects,
                 workers: int = WRITE_WORKERS) -> None:
        self.ports, self.bulk, self.summary, self.rejects = ports, bulk, summary, rejects
        self._pool = ThreadPoolExecutor(max_workers=workers)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def flush(self, batch: list[tuple[int, Account]]) -> None:
        if not batch:
            return
        latest = {account.account_id: (row, account) for row, account in batch}
        if len(latest) != len(batch):  # the reader rejects repeats: one here would be lost unseen
            raise AccountingError("an account repeats within one batch")
        stored = self.bulk.batch_get(list(latest))
        futures = [self._pool.submit(self._write, row, stored.get(incoming.account_id), incoming)
                   for row, incoming in latest.values()]
        for future in futures:
            future.result()  # a write that failed twice fails the file: S3 retries the event
        batch.clear()

    def _count(self, outcome: str, row: int = 0, reason: str = "") -> None:
        with self._lock:
            setattr(self.summary, outcome, getattr(self.summary, outcome) + 1)
            if reason:
                self.rejects.add(row, reason)

    def _write(self, row: int, current: Account | None, incoming: Account) -> None:
        for attempt in range(2):
            if current is not None and current.erased_at is not None:
                # erased on request: the file's name and contacts must not come back (the lender is told)
                self._count("rejected", row, "account: its customer's data was erased on request")
                return
            try:
                merged = merge(current, incoming)
            except ValueError:
                self._count("rejected", row, "row: does not combine with the stored account")
                return
            if current is not None and _same(current, merged):
                self._count("unchanged")
                return
            try:
                self.ports.accounts.put(merged, None if current is None else current.version)
                self._count("imported")
                return
            except Conflict:
                if attempt == 1:
                    raise
                current = self.ports.accounts.find(incoming.account_id)  # changed under us: merge again


def import_file(ports: Ports, bucket: str, key: str, batch_size: int = 25,
                write_workers: int = WRITE_WORKERS) -> ImportSummary:
    """Import one account file; write its rejects and summary next to it; return the counts."""
    files, bulk = ports.files, ports.bulk
    size = max(1, min(batch_size, 100))
    summary, rejects = ImportSummary(), _Rejects()
    upserter = _Upserter(ports, bulk, summary, rejects, write_workers)
    batch: list[tuple[int, Account]] = []
    try:
        for row, parsed in parser_for(key)(files.chunks(bucket, key)):
            account = summary.tally(row, parsed, rejects.add)
            if account is None:
                continue
            batch.append((row, with_verification_hashes(account, lambda: ports.keys.link_secret)))
            if len(batch) >= size:
                upserter.flush(batch)
        upserter.flush(batch)
    finally:
        upserter.close()
    try:
        summary.check()
    except AccountingError:
        logger.error("account file counts do not add up", extra=summary.as_dict())
        raise
    rejects_key, report_key = _names(key)
    if rejects.count:
        files.upload(bucket, rejects_key, rejects.file, "application/x-ndjson")
    rejects.file.close()
    report = summary.as_dict() | {"source": key, "rejects": rejects_key if rejects.count else None}
    files.put_json(bucket, report_key, report)
    metrics.add_metric(name="AccountsImported", unit="Count", value=summary.imported)
    metrics.add_metric(name="AccountRowsRejected", unit="Count", value=summary.rejected)
    logger.info("account file imported", extra=summary.as_dict())
    return summary


def decode_key(raw: str) -> str:
    """S3 event keys are URL-encoded with '+' for spaces."""
    from urllib.parse import unquote_plus

    return unquote_plus(raw)
