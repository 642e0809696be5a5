"""Erasure of a person's data on request (PIPL art. 47, CCPA 1798.105), without breaking the chain.

What goes: the personal free text in every ledger entry of the account's cases (what they wrote,
here or on their page, the notices we sent, agents' and admins' notes, a number a skip trace
found) becomes unreadable for good, because the case key it is encrypted under is destroyed
(its salt removed from the header); the notice texts kept
beside the ledger are blanked; the account's name, account number, phone and email are removed
(every channel opted out, so nothing can be sent); the hashed phone index is deleted, so replies
from the number no longer find the account; the customer page's verification facts (keyed
hashes) and preferences go too.

What stays, and why: the entries themselves (kinds, times, codes, amounts, ids, hashes over the
ciphertext, seals and anchors), which are the record that each contact was lawful and that the
debt was collected as the law requires (Regulation F keeps them three years, the CN guidelines five:
the retention TTL deletes them then); the account's amounts and payments (the lender's books),
and when it was erased, so that a later account file never brings the personal fields back.
An erasure is itself an ADMIN entry on every case, naming who erased and the request's reference.

Refused while any case of the account is still being worked or is with legal: erasing then would
remove what the collection or the proceedings rely on.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from dunning.domain.models import Account, CaseStatus, Channel, Contact, EntryKind
from dunning.observability import logger, metrics
from dunning.ports import CaseRecord, Ports
from dunning.services.case_actions import Entries, commit_change, update_account

ENDED = frozenset({CaseStatus.RESOLVED, CaseStatus.CLOSED})
ERASED_TEXT = "ERASED"


class ErasureRefused(Exception):
    """The account still has a case that is being worked or is with legal (ids only)."""


def _scrubber(now: datetime) -> Callable[[Account], bool]:
    def scrub(account: Account) -> bool:
        if account.erased_at is not None:
            return False
        account.customer_name, account.account_number = ERASED_TEXT, ERASED_TEXT
        account.contact = Contact(phone=None, email=None, phone_usable=False, email_usable=False)
        account.opted_out = {Channel.SMS, Channel.EMAIL, Channel.CALL}
        account.consented = set()
        # the page's verification facts (keyed hashes of a birth date, a postcode...) and choices
        account.verification, account.preferred_hours, account.preferred_locale = {}, None, None
        account.erased_at = now
        return True

    return scrub


def erase_customer(ports: Ports, account_id: str, actor: str, request_id: str) -> dict[str, Any]:
    history = ports.collections.history(account_id)
    live = sorted(r.case.case_id for r in history.cases.values() if r.case.status not in ENDED)
    if live:
        raise ErasureRefused(f"case {live[0]} is still open or with legal: close it before erasing")
    if not history.cases and ports.accounts.find(account_id) is None:
        raise ErasureRefused(f"no account or case {account_id}")
    now = ports.clock.now()
    erased = []
    for record in sorted(history.cases.values(), key=lambda r: r.case.case_id):

        def destroy_key(rec: CaseRecord) -> Entries:
            rec.content_salt = None  # the case key can never be derived again
            rec.case.dispute_reason = rec.case.pause_reason = None
            return [(EntryKind.ADMIN, {"command": "erase_customer", "params": {"request_id": request_id},
                                       "by": actor, "applied": True, "notes": [],
                                       "status_before": rec.case.status.value,
                                       "status_after": rec.case.status.value})]

        commit_change(ports, record, False, destroy_key, at=now, actor=actor)
        erased.append(record.case.case_id)
    if ports.accounts.find(account_id) is not None:
        update_account(ports, account_id, _scrubber(now))
    changed = ports.collections.erase(account_id)
    metrics.add_metric(name="CustomersErased", unit="Count", value=1)
    logger.info("customer erased", extra={"account_id": account_id, "cases": len(erased)})
    return {"command": "erase_customer", "account_id": account_id, "applied": True, "cases": erased,
            "items_changed": changed}
