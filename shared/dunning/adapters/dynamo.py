"""DynamoDB repositories: accounts, and cases with their hash-chained ledger and notices.

CollectionsTable layout (one Query returns an account's whole collections history):
  pk ACCOUNT#<account_id>  sk CASE#<case_id>                       case header + ledger head
  pk ACCOUNT#<account_id>  sk CASE#<case_id>#LEDGER#<utc>#<seq>    append-only ledger entry
  pk ACCOUNT#<account_id>  sk CASE#<case_id>#NOTICE#<step_id>      notice (at-most-once per step)
  pk ACCOUNT#<account_id>  sk CONTACT                              phone hash for inbound lookup
  pk ACCOUNT#<account_id>  sk CONTACT#EMAIL                        email address hash, likewise
  pk CUSTOMER#<customer_id> sk PROFILE                             the person: their loans, opt-outs,
                                                                    special statuses, recent contacts
LookupIndex (lookup_pk, lookup_sk) resolves provider message ids (MSG#), phone hashes (PHONE#) and
address hashes (EMAIL#) to an account, lists the cases with an open agent call task (lookup_pk
WORK#CALL, the agents' worklist), and (CHANGED#<utc hour>#<shard>) the case headers written in an
hour to the anchor run.

With ledger keys, every commit records the header's state on its last entry and seals it, and
personal fields are encrypted under the case's key (dunning.domain.integrity, adapters.content).

Customer -> accounts: the CUSTOMER# item, not a GSI on AccountsTable. It is also where the person's
contact summary lives, which a notice's at-most-once gate writes in the same transaction
(conditional on its version) so two loans of one person cannot both send; a GSI can take part in
no transaction and is only eventually consistent, so a decision made on it could double-contact.
It is one consistent GetItem of bounded size on the decision path, and it lists exactly the loans
collections works (those with a case), which are the ones whose contacts count.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from dunning.adapters import content
from dunning.domain.case_tally import CaseTally, advance_tally
from dunning.domain.customers import CustomerProfile
from dunning.domain.integrity import case_state, make_seal
from dunning.domain.ledger import GENESIS, ledger_sort_key, new_entry
from dunning.domain.links import SHORT_CODE_ALPHABET, SHORT_CODE_LENGTH
from dunning.domain.models import (
    Account,
    AccountStatus,
    Case,
    EntryKind,
    LedgerEntry,
    Notice,
    iso_z,
    parse_instant,
    to_utc,
)
from dunning.ports import (
    WORKLIST_KEY,
    AccountHistory,
    CaseRecord,
    ChangedCase,
    Conflict,
    LedgerKeys,
    NotFound,
    TransientError,
)

_SER = TypeSerializer()
_DE = TypeDeserializer()
_THROTTLES = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
}


def to_item(data: dict[str, Any]) -> dict[str, Any]:
    return {k: _SER.serialize(v) for k, v in data.items() if v is not None}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _plain(_DE.deserialize(v)) for k, v in item.items()}


def _plain(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal; ints stay ints so pydantic int fields validate."""
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _reraise(exc: ClientError) -> None:
    code = exc.response.get("Error", {}).get("Code", "")
    if code in ("ConditionalCheckFailedException", "TransactionCanceledException"):
        raise Conflict(code) from exc
    if code in _THROTTLES:
        raise TransientError(code) from exc
    raise exc


# --------------------------------------------------------------------------- accounts


# Index-only attributes: they are written with an account, never part of it.
INDEX_ATTRIBUTES = ("due_date_key", "pending_shard", "pending_due")
PENDING_SHARDS = 8


def pending_shard(account_id: str) -> str:
    """Which PendingIndex partition an account is in: stable, spread evenly over PENDING_SHARDS."""
    return f"P{hashlib.sha256(account_id.encode()).digest()[0] % PENDING_SHARDS}"


def account_item(account: Account) -> dict[str, Any]:
    doc = account.model_dump(mode="json")
    # Sparse index key: only accounts that owe money appear in DueIndex, so the sweep never scans.
    if account.owes and account.due_date is not None:
        doc["due_date_key"] = account.due_date.isoformat()
        if account.status is AccountStatus.CURRENT:
            # PendingIndex: owes, not yet delinquent. The sweep marks every one whose due date has
            # passed, however it arrived; marking it removes these keys, so it is read once.
            doc["pending_shard"] = pending_shard(account.account_id)
            doc["pending_due"] = account.due_date.isoformat()
    return doc


def account_from_item(item: dict[str, Any]) -> Account:
    doc = from_item(item)
    for key in INDEX_ATTRIBUTES:
        doc.pop(key, None)
    return Account.model_validate(doc)


def profile_from_item(item: dict[str, Any] | None, customer_id: str) -> CustomerProfile:
    """A person's stored profile, or a new empty one (version 0) if none is stored yet."""
    if item is None:
        return CustomerProfile(customer_id=customer_id)
    doc = from_item(item)
    for key in ("pk", "sk", "type"):
        doc.pop(key, None)
    return CustomerProfile.model_validate(doc)


def batch_get_items(client: Any, request: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Every item ``BatchGetItem`` finds for ``request`` (table -> keys and consistency), by table.

    Keys DynamoDB leaves unprocessed (throttled) are asked for again, backing off, until none are left."""
    found: dict[str, list[dict[str, Any]]] = {}
    delay = 0.05
    while request:
        try:
            resp = client.batch_get_item(RequestItems=request)
        except ClientError as exc:
            _reraise(exc)
        for table, items in resp.get("Responses", {}).items():
            found.setdefault(table, []).extend(items)
        request = resp.get("UnprocessedKeys") or {}
        if request:
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
    return found


def read_for_decision(client: Any, accounts_table: str, collections_table: str, account_id: str,
                      customer_id: str, case_id: str) -> tuple[Account | None, CustomerProfile, CaseRecord | None]:
    """The account, its person's profile and the case's header in one consistent ``BatchGetItem``
    across both tables (a decision's read: the header carries the case's tally)."""
    header_key = {"pk": {"S": _pk(account_id)}, "sk": {"S": _case_sk(case_id)}}
    found = batch_get_items(client, {
        accounts_table: {"Keys": [{"account_id": {"S": account_id}}], "ConsistentRead": True},
        collections_table: {"Keys": [_customer_key(customer_id), header_key], "ConsistentRead": True},
    })
    accounts = found.get(accounts_table, [])
    items = {str(i["sk"]["S"]): i for i in found.get(collections_table, [])}
    profile = items.get("PROFILE")
    header = items.get(_case_sk(case_id))
    record = CollectionsRepository.collected([header] if header is not None else []).cases.get(case_id)
    return (account_from_item(accounts[0]) if accounts else None, profile_from_item(profile, customer_id), record)


class AccountsRepository:
    def __init__(self, client: Any, table: str) -> None:
        self._db, self._table = client, table

    def get(self, account_id: str) -> Account:
        resp = self._db.get_item(TableName=self._table, Key={"account_id": {"S": account_id}}, ConsistentRead=True)
        if "Item" not in resp:
            raise NotFound(f"account {account_id}")
        return account_from_item(resp["Item"])

    def find(self, account_id: str) -> Account | None:
        try:
            return self.get(account_id)
        except NotFound:
            return None

    def put(self, account: Account, expected_version: int | None) -> Account:
        """Write the account at version+1; conditional on the version read (None = must be new)."""
        new = account.model_copy(update={"version": (expected_version or 0) + 1})
        if expected_version is None:
            cond: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(account_id)"}
        else:
            cond = {
                "ConditionExpression": "version = :v",
                "ExpressionAttributeValues": {":v": {"N": str(expected_version)}},
            }
        try:
            self._db.put_item(TableName=self._table, Item=to_item(account_item(new)), **cond)
        except ClientError as exc:
            _reraise(exc)
        return new


# --------------------------------------------------------------------------- collections


def _pk(account_id: str) -> str:
    return f"ACCOUNT#{account_id}"


def _case_sk(case_id: str) -> str:
    return f"CASE#{case_id}"


def _notice_sk(case_id: str, step_id: str) -> str:
    return f"{_case_sk(case_id)}#NOTICE#{step_id}"


# The account's live cases (not resolved or closed), kept by the transactions that create and
# close them: a payment or a case action reads those cases, not the account's whole past.
_LIVE_SK = "LIVE"


def _customer_key(customer_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"CUSTOMER#{customer_id}"}, "sk": {"S": "PROFILE"}}


ANCHOR_SHARDS = 8  # spreads an hour's changed headers over index partitions (a sweep writes many at once)


def changed_key(case_id: str, at: datetime) -> str:
    shard = int(hashlib.sha256(case_id.encode()).hexdigest()[:8], 16) % ANCHOR_SHARDS
    return f"CHANGED#{to_utc(at):%Y-%m-%dT%H}#{shard}"


class CollectionsRepository:
    def __init__(self, client: Any, table: str, keys: LedgerKeys | None = None, live_epoch: int = 1) -> None:
        self._db, self._table, self._keys, self._live_epoch = client, table, keys, live_epoch

    # ----------------------------------------------------------------- reads

    def history(self, account_id: str) -> AccountHistory:
        return self._query(account_id, "pk = :pk", {":pk": {"S": _pk(account_id)}})

    def live(self, account_id: str) -> AccountHistory:
        listed = self._live_ids(account_id)
        if listed is None:
            return self.history(account_id)
        out = AccountHistory(whole=False)
        for case_id in listed:
            self.case_history(account_id, case_id, out)
        return out

    def live_headers(self, account_id: str) -> AccountHistory:
        listed = self._live_ids(account_id)
        if listed is None:
            return self.history(account_id)
        keys = [{"pk": {"S": _pk(account_id)}, "sk": {"S": _case_sk(case_id)}} for case_id in listed]
        found = batch_get_items(self._db, {self._table: {"Keys": keys, "ConsistentRead": True}}) if keys else {}
        out = self.collected(found.get(self._table, []))
        out.whole = False
        return out

    def _live_ids(self, account_id: str) -> list[str] | None:
        """The account's list of live case ids, or None where it cannot be trusted: not listed since
        the account's last case opened (its cases predate the list, or an older version ran since:
        a new epoch), so the caller reads whole."""
        resp = self._db.get_item(TableName=self._table, Key={"pk": {"S": _pk(account_id)}, "sk": {"S": _LIVE_SK}},
                                 ConsistentRead=True)
        listed = resp.get("Item")
        if listed is None or listed.get("complete", {}).get("N") != str(self._live_epoch):
            return None
        return sorted(listed.get("cases", {}).get("SS", []))

    def case_history(self, account_id: str, case_id: str, out: AccountHistory | None = None) -> AccountHistory:
        # Only the case's items (its header, ledger and notices share the CASE#<id> prefix): read
        # units per decision do not grow with the account's closed cases.
        head = _case_sk(case_id)
        return self._query(account_id, "pk = :pk AND begins_with(sk, :case)",
                           {":pk": {"S": _pk(account_id)}, ":case": {"S": head}},
                           keep=lambda sk: sk == head or sk.startswith(head + "#"), out=out)

    def _query(self, account_id: str, condition: str, values: dict[str, Any],
               keep: Callable[[str], bool] | None = None, out: AccountHistory | None = None) -> AccountHistory:
        out = AccountHistory() if out is None else out
        kwargs: dict[str, Any] = {"TableName": self._table, "KeyConditionExpression": condition,
                                  "ExpressionAttributeValues": values, "ConsistentRead": True}
        while True:
            resp = self._db.query(**kwargs)
            for raw in resp.get("Items", []):
                if keep is None or keep(str(raw["sk"]["S"])):
                    self.collect(out, from_item(raw))
            if "LastEvaluatedKey" not in resp:
                break
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
        return out

    @classmethod
    def collected(cls, raw_items: Iterable[dict[str, Any]]) -> AccountHistory:
        """Items as DynamoDB returns them, sorted into a history (a point read's few items)."""
        out = AccountHistory()
        for raw in raw_items:
            cls.collect(out, from_item(raw))
        return out

    @staticmethod
    def collect(out: AccountHistory, item: dict[str, Any]) -> None:
        kind = item.pop("type", None)
        for key in ("pk", "sk", "lookup_pk", "lookup_sk"):
            item.pop(key, None)
        if kind == "CASE":
            seq, head = int(item.pop("ledger_seq", -1)), item.pop("ledger_head", GENESIS)
            last_at = item.pop("ledger_at", None)
            seal, salt, expires = item.pop("ledger_seal", None), item.pop("content_salt", None), item.pop(
                "expires_at", None)
            tally = item.pop("tally", None)
            case = Case.model_validate(item)
            out.cases[case.case_id] = CaseRecord(case, seq, head, parse_instant(last_at) if last_at else None,
                                                 seal, salt, int(expires) if expires is not None else None,
                                                 CaseTally.model_validate_json(tally) if tally is not None else None)
        elif kind == "LEDGER":
            item.pop("expires_at", None)
            entry = LedgerEntry.model_validate(item)
            out.ledger.setdefault(entry.case_id, []).append(entry)
        elif kind == "NOTICE":
            item.pop("expires_at", None)
            notice = Notice.model_validate(item)
            out.notices.setdefault(notice.case_id, []).append(notice)
        elif kind == "CONTACT":
            out.phone_hash = item.get("phone_hash")

    def case(self, account_id: str, case_id: str) -> CaseRecord:
        resp = self._db.get_item(
            TableName=self._table,
            Key={"pk": {"S": _pk(account_id)}, "sk": {"S": _case_sk(case_id)}},
            ConsistentRead=True,
        )
        if "Item" not in resp:
            raise NotFound(f"case {case_id}")
        return self.collected([resp["Item"]]).cases[case_id]

    def case_and_notice(self, account_id: str, case_id: str, step_id: str) -> tuple[CaseRecord | None, Notice | None]:
        header_sk, notice_sk = _case_sk(case_id), _notice_sk(case_id, step_id)
        keys = [{"pk": {"S": _pk(account_id)}, "sk": {"S": sk}} for sk in (header_sk, notice_sk)]
        found = batch_get_items(self._db, {self._table: {"Keys": keys, "ConsistentRead": True}})
        out = self.collected(found.get(self._table, []))
        return out.cases.get(case_id), next(iter(out.notices.get(case_id, [])), None)

    def lookup(self, lookup_pk: str, limit: int | None = None) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "LookupIndex",
            "KeyConditionExpression": "lookup_pk = :k",
            "ExpressionAttributeValues": {":k": {"S": lookup_pk}},
        }
        out: list[dict[str, Any]] = []
        while True:
            if limit is not None:
                kwargs["Limit"] = limit - len(out)
            resp = self._db.query(**kwargs)
            out += [from_item(i) for i in resp.get("Items", [])]
            if "LastEvaluatedKey" not in resp or (limit is not None and len(out) >= limit):
                return out
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    # ----------------------------------------------------------------- customers

    def customer(self, customer_id: str) -> CustomerProfile:
        resp = self._db.get_item(TableName=self._table, Key=_customer_key(customer_id), ConsistentRead=True)
        return profile_from_item(resp.get("Item"), customer_id)

    def _customer_put(self, profile: CustomerProfile) -> dict[str, Any]:
        doc = profile.model_dump(mode="json") | {"version": profile.version + 1}
        doc |= {"pk": f"CUSTOMER#{profile.customer_id}", "sk": "PROFILE", "type": "CUSTOMER"}
        put: dict[str, Any] = {"TableName": self._table, "Item": to_item(doc)}
        if profile.version == 0:
            put["ConditionExpression"] = "attribute_not_exists(sk)"
        else:
            put["ConditionExpression"] = "version = :cv"
            put["ExpressionAttributeValues"] = {":cv": {"N": str(profile.version)}}
        return put

    def save_customer(self, profile: CustomerProfile) -> None:
        try:
            self._db.put_item(**self._customer_put(profile))
        except ClientError as exc:
            _reraise(exc)
        profile.version += 1

    # ----------------------------------------------------------------- writes

    def _case_put(self, record: CaseRecord, new_version: int, at: datetime) -> dict[str, Any]:
        doc = record.case.model_dump(mode="json") | {"version": new_version}
        pk, sk = _pk(record.case.account_id), _case_sk(record.case.case_id)
        doc |= {
            "pk": pk,
            "sk": sk,
            "type": "CASE",
            "ledger_seq": record.ledger_seq,
            "ledger_head": record.ledger_head,
            "ledger_at": iso_z(record.ledger_at) if record.ledger_at else None,
            "ledger_seal": record.ledger_seal,
            "content_salt": record.content_salt,
            "expires_at": record.expires_at,
            # One JSON string, not a map: the header is read and rewritten by every decision, and a
            # string costs nothing to (de)serialise at either end (still readable in the console).
            # Counts still at zero are left out: every byte is paid on every commit.
            "tally": record.tally.model_dump_json(exclude_defaults=True) if record.tally is not None else None,
            # The anchor run finds the headers written in an hour through LookupIndex.
            "lookup_pk": changed_key(record.case.case_id, at),
            "lookup_sk": f"{pk}|{sk}",
        }
        if record.case.call_task_token is not None:
            # Sparse: a case is on the agents' worklist exactly while a call task waits on it.
            since = record.case.call_task_since or record.case.opened_at
            doc["lookup_pk"] = WORKLIST_KEY
            doc["lookup_sk"] = f"{iso_z(since)}#{record.case.case_id}"
        return doc

    def _ledger_put(self, entry: LedgerEntry, account_id: str, expires_at: int | None) -> dict[str, Any]:
        doc = entry.model_dump(mode="json")
        doc |= {
            "pk": _pk(account_id),
            "sk": f"{_case_sk(entry.case_id)}#{ledger_sort_key(entry)}",
            "type": "LEDGER",
            "expires_at": expires_at,
        }
        return doc

    def chain(self, record: CaseRecord, at: datetime, kind: EntryKind, data: dict[str, Any],
              actor: str, state: dict[str, Any] | None = None) -> LedgerEntry:
        prev = None
        if record.ledger_seq >= 0:
            # Only seq, hash, time and case of the predecessor matter for chaining.
            prev = LedgerEntry.model_construct(case_id=record.case.case_id, seq=record.ledger_seq,
                                               at=record.ledger_at or at, kind=kind, prev_hash="",
                                               hash=record.ledger_head)
        entry = new_entry(record.case.case_id, prev, at, kind, data, actor, state)
        record.ledger_seq, record.ledger_head, record.ledger_at = entry.seq, entry.hash, entry.at
        return entry

    def _content_key(self, record: CaseRecord) -> bytes | None:
        if self._keys is None:
            return None
        if record.content_salt is None:
            record.content_salt = content.new_salt()
        return content.case_key(self._keys.content_master(), record.case.case_id, record.content_salt)

    def _chain_all(self, record: CaseRecord, entries: Sequence[tuple[EntryKind, dict[str, Any]]], at: datetime,
                   actor: str) -> list[LedgerEntry]:
        """Chain the entries: personal fields encrypted, the header's state on the last one, and
        the last one sealed (the header keeps the same seal)."""
        case_id = record.case.case_id
        needs_key = any(content.has_personal(kind, data) for kind, data in entries)
        key = self._content_key(record) if needs_key else None
        chained = []
        for i, (kind, data) in enumerate(entries):
            stored = content.encrypt_fields(kind, data, key, case_id) if key is not None else data
            last = i == len(entries) - 1
            chained.append(self.chain(record, at, kind, stored, actor, case_state(record.case) if last else None))
        if chained and self._keys is not None:
            ref, seal_key = self._keys.sealing_key()
            newest = chained[-1]
            record.ledger_seal = make_seal(ref, seal_key, case_id, newest.seq, newest.hash)
            chained[-1] = newest.model_copy(update={"seal": record.ledger_seal})
        return chained

    def commit(
        self,
        record: CaseRecord,
        entries: Sequence[tuple[EntryKind, dict[str, Any]]],
        *,
        at: datetime,
        actor: str,
        create: bool = False,
        extra_puts: Sequence[tuple[dict[str, Any], str | None]] = (),
        customer: CustomerProfile | None = None,
        live: Sequence[str] | None = None,
    ) -> list[LedgerEntry]:
        """Save the case header and append ledger entries in one transaction.

        The header write is conditional on the version read, so two writers cannot fork the
        chain; `extra_puts` (item, condition) ride in the same transaction (e.g. a notice), and so
        does the customer's profile, conditional on its own version.
        """
        expected = record.case.version
        before = (record.ledger_seq, record.ledger_head, record.ledger_at, record.ledger_seal, record.content_salt,
                  record.tally)
        chained = self._chain_all(record, entries, at, actor)
        record.tally = advance_tally(record.tally, entries, chained, [doc for doc, _ in extra_puts], new_case=create)
        header = self._case_put(record, expected + 1, at)
        header_cond: dict[str, Any]
        if create:
            header_cond = {"ConditionExpression": "attribute_not_exists(sk)"}
        else:
            header_cond = {
                "ConditionExpression": "version = :v",
                "ExpressionAttributeValues": {":v": {"N": str(expected)}},
            }
        items: list[dict[str, Any]] = [{"Put": {"TableName": self._table, "Item": to_item(header), **header_cond}}]
        for entry in chained:
            items.append({"Put": {
                "TableName": self._table,
                "Item": to_item(self._ledger_put(entry, record.case.account_id, record.expires_at)),
                "ConditionExpression": "attribute_not_exists(sk)",
            }})
        for doc, condition in extra_puts:
            put: dict[str, Any] = {"TableName": self._table, "Item": to_item(doc)}
            if condition:
                put["ConditionExpression"] = condition
            items.append({"Put": put})
        if customer is not None:
            items.append({"Put": self._customer_put(customer)})
        if listed := self._live_cases_change(record, entries, create, live):
            items.append({"Update": listed})
        try:
            self._db.transact_write_items(TransactItems=items)
        except ClientError as exc:
            (record.ledger_seq, record.ledger_head, record.ledger_at, record.ledger_seal, record.content_salt,
             record.tally) = before
            _reraise(exc)
        record.case = record.case.model_copy(update={"version": expected + 1})
        if customer is not None:
            customer.version += 1
        return chained

    def _live_cases_change(self, record: CaseRecord, entries: Sequence[tuple[EntryKind, dict[str, Any]]],
                           create: bool, live: Sequence[str] | None) -> dict[str, Any] | None:
        """The update to the account's list of live cases this commit makes, if any: a case created
        live is added (with `live`, the list is complete), a case closed is taken off. An update, not
        a put: two cases opening at once both land. Taking a case off a list that is not there
        leaves a list that is not complete, which readers treat as no list."""
        case = record.case
        values: dict[str, Any] = {":kind": {"S": "LIVE_CASES"}}
        if create and not case.is_ended:
            values[":ids"] = {"SS": sorted({case.case_id, *(live or ())})}
            expression = "ADD cases :ids SET #type = :kind"
            if live is not None:
                expression += ", complete = :epoch"
                values[":epoch"] = {"N": str(self._live_epoch)}
        elif case.is_ended and any(kind is EntryKind.CASE_CLOSED for kind, _ in entries):
            values[":ids"] = {"SS": [case.case_id]}
            expression = "DELETE cases :ids SET #type = :kind"
        else:
            return None
        return {"TableName": self._table, "Key": {"pk": {"S": _pk(case.account_id)}, "sk": {"S": _LIVE_SK}},
                "UpdateExpression": expression, "ExpressionAttributeNames": {"#type": "type"},
                "ExpressionAttributeValues": values}

    def notice_item(self, notice: Notice, provider: str | None = None) -> dict[str, Any]:
        doc = notice.model_dump(mode="json") | {
            "pk": _pk(notice.account_id),
            "sk": _notice_sk(notice.case_id, notice.step_id),
            "type": "NOTICE",
        }
        if notice.provider_message_id:
            doc["lookup_pk"] = f"MSG#{notice.provider_message_id}"
            doc["lookup_sk"] = _pk(notice.account_id)
        return doc

    def delete_sending_notice(self, notice: Notice) -> None:
        """Undo the gate after a provider certainly refused the message (throttled), so it can retry."""
        try:
            self._db.delete_item(
                TableName=self._table,
                Key={"pk": {"S": _pk(notice.account_id)},
                     "sk": {"S": _notice_sk(notice.case_id, notice.step_id)}},
                ConditionExpression="#s = :sending",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":sending": {"S": "SENDING"}},
            )
        except ClientError as exc:
            _reraise(exc)

    # ----------------------------------------------------------------- short links

    def shorten_link(self, token: str, keep_until: datetime) -> str:
        """A new short code for ``token``, kept until ``keep_until`` (the table's TTL removes it)."""
        for _ in range(5):  # a collision among 62**10 codes is as good as impossible; retried anyway
            code = "".join(secrets.choice(SHORT_CODE_ALPHABET) for _ in range(SHORT_CODE_LENGTH))
            try:
                self._db.put_item(TableName=self._table, ConditionExpression="attribute_not_exists(pk)",
                                  Item=to_item({"pk": f"LINK#{code}", "sk": "LINK", "type": "LINK", "token": token,
                                                "expires_at": int(keep_until.timestamp())}))
                return code
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    _reraise(exc)
        raise TransientError("no free short code")

    def resolve_link(self, code: str) -> str | None:
        """The signed token behind a short code; None when there is none (never issued, or gone)."""
        item = self._db.get_item(TableName=self._table, Key={"pk": {"S": f"LINK#{code}"}, "sk": {"S": "LINK"}},
                                 ConsistentRead=True).get("Item")
        return str(item["token"]["S"]) if item and "token" in item else None

    def put_contact(self, account_id: str, phone_hash: str | None, email_hash: str | None = None) -> None:
        """Index the customer's phone and email address (as keyed hashes, never the number or the
        address) for inbound replies: one item each, since an index item has one lookup key."""
        if phone_hash is not None:
            self._db.put_item(TableName=self._table, Item=to_item({
                "pk": _pk(account_id), "sk": "CONTACT", "type": "CONTACT", "phone_hash": phone_hash,
                "lookup_pk": f"PHONE#{phone_hash}", "lookup_sk": _pk(account_id),
            }))
        if email_hash is not None:
            self._db.put_item(TableName=self._table, Item=to_item({
                "pk": _pk(account_id), "sk": "CONTACT#EMAIL", "type": "CONTACT_EMAIL", "email_hash": email_hash,
                "lookup_pk": f"EMAIL#{email_hash}", "lookup_sk": _pk(account_id),
            }))

    # ----------------------------------------------------------------- anchors, retention, erasure

    def changed_cases(self, hours: Sequence[str]) -> list[ChangedCase]:
        found: dict[tuple[str, str], ChangedCase] = {}
        for hour in hours:
            for shard in range(ANCHOR_SHARDS):
                kwargs: dict[str, Any] = {
                    "TableName": self._table, "IndexName": "LookupIndex",
                    "KeyConditionExpression": "lookup_pk = :k",
                    "ExpressionAttributeValues": {":k": {"S": f"CHANGED#{hour}#{shard}"}},
                }
                while True:
                    resp = self._db.query(**kwargs)
                    for item in resp.get("Items", []):
                        pk, sk = str(item["pk"]["S"]), str(item["sk"]["S"])
                        account_id, case_id = pk.removeprefix("ACCOUNT#"), sk.removeprefix("CASE#")
                        found[(account_id, case_id)] = ChangedCase(account_id, case_id)
                    if "LastEvaluatedKey" not in resp:
                        break
                    kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
        return sorted(found.values(), key=lambda c: (c.account_id, c.case_id))

    def _case_items(self, account_id: str, case_id: str) -> list[dict[str, Any]]:
        """Keys and TTL of every item of one case (header, entries, notices)."""
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :sk)",
            "ExpressionAttributeValues": {":pk": {"S": _pk(account_id)}, ":sk": {"S": _case_sk(case_id)}},
            "ProjectionExpression": "pk, sk, expires_at",
        }
        while True:
            resp = self._db.query(**kwargs)
            # begins_with(CASE#A-1) also matches CASE#A-10...: keep the case's own items
            items += [i for i in resp.get("Items", []) if i["sk"]["S"] == _case_sk(case_id)
                      or i["sk"]["S"].startswith(_case_sk(case_id) + "#")]
            if "LastEvaluatedKey" not in resp:
                return items
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    def stamp_expiry(self, account_id: str, case_id: str, expires_at: int) -> int:
        changed = 0
        for item in self._case_items(account_id, case_id):
            if item.get("expires_at", {}).get("N") == str(expires_at):
                continue
            try:
                # Only the TTL attribute (the role may change no other); never recreates a deleted item.
                self._db.update_item(TableName=self._table, Key={"pk": item["pk"], "sk": item["sk"]},
                                     UpdateExpression="SET expires_at = :e",
                                     ConditionExpression="attribute_exists(sk)",
                                     ExpressionAttributeValues={":e": {"N": str(expires_at)}})
                changed += 1
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    _reraise(exc)
        return changed

    def reveal(self, record: CaseRecord, entries: Sequence[LedgerEntry]) -> list[LedgerEntry]:
        key = None
        if self._keys is not None and record.content_salt is not None:
            key = content.case_key(self._keys.content_master(), record.case.case_id, record.content_salt)
        return [content.decrypt_fields(e, key) for e in entries]

    def erase(self, account_id: str) -> int:
        """Notice texts blanked (the ledger keeps them encrypted under a key erasure destroys) and
        the hashed phone and address indexes removed, so replies no longer find the account."""
        changed = 0
        history = self.history(account_id)
        for notices in history.notices.values():
            for notice in notices:
                self._db.update_item(
                    TableName=self._table,
                    Key={"pk": {"S": _pk(account_id)},
                         "sk": {"S": _notice_sk(notice.case_id, notice.step_id)}},
                    UpdateExpression="SET body = :blank REMOVE subject, html",
                    ConditionExpression="attribute_exists(sk)",
                    ExpressionAttributeValues={":blank": {"S": content.ERASED}})
                changed += 1
        for sk in ("CONTACT", "CONTACT#EMAIL"):
            gone = self._db.delete_item(TableName=self._table, Key={"pk": {"S": _pk(account_id)}, "sk": {"S": sk}},
                                        ReturnValues="ALL_OLD")
            changed += 1 if gone.get("Attributes") else 0
        return changed
