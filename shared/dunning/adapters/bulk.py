"""Bulk and index access used by the import and the daily sweep, and the S3 side of account files.

Kept apart from the per-case repositories: these calls work on many accounts at once (BatchGetItem,
the sparse DueIndex) and on objects in the incoming bucket, and they report how much they read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import date
from typing import IO, Any

from botocore.exceptions import ClientError

from dunning.adapters.dynamo import PENDING_SHARDS, _reraise, account_from_item, batch_get_items, to_item
from dunning.domain.models import Account, AccountStatus
from dunning.ports import DueItem

# BatchGetItem takes at most 100 keys per call.
MAX_BATCH_GET = 100


class AccountsBulk:
    def __init__(self, client: Any, table: str) -> None:
        self._db, self._table = client, table
        self.items_read = 0  # items DynamoDB read for us (index ScannedCount + items returned by gets)

    def batch_get(self, account_ids: Sequence[str]) -> dict[str, Account]:
        """The stored accounts among `account_ids` (missing ids are simply absent)."""
        out: dict[str, Account] = {}
        ids = list(dict.fromkeys(account_ids))
        for start in range(0, len(ids), MAX_BATCH_GET):
            keys: list[dict[str, Any]] = [{"account_id": {"S": i}} for i in ids[start:start + MAX_BATCH_GET]]
            found = batch_get_items(self._db, {self._table: {"Keys": keys, "ConsistentRead": True}})
            for raw in found.get(self._table, []):
                self.items_read += 1
                account = account_from_item(raw)
                out[account.account_id] = account
        return out

    def due_items(self, day: date) -> Iterator[DueItem]:
        """Every DueIndex entry for `day` (Query, paginated; never a Scan)."""
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "DueIndex",
            "KeyConditionExpression": "due_date_key = :d",
            "ExpressionAttributeValues": {":d": {"S": day.isoformat()}},
        }
        for item in self._query_pages(kwargs):
            yield DueItem(item["account_id"]["S"], item.get("status", {}).get("S"))

    def _query_pages(self, kwargs: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every item of an index Query, page by page, counting what DynamoDB read."""
        while True:
            try:
                resp = self._db.query(**kwargs)
            except ClientError as exc:
                _reraise(exc)
            self.items_read += int(resp.get("ScannedCount", resp.get("Count", 0)))
            yield from resp.get("Items", [])
            if "LastEvaluatedKey" not in resp:
                return
            kwargs = {**kwargs, "ExclusiveStartKey": resp["LastEvaluatedKey"]}

    def overdue_items(self, through: date) -> Iterator[DueItem]:
        """Every PendingIndex entry (CURRENT, owing) due on or before `through`: one Query per shard,
        paginated. The index holds only accounts not yet delinquent, so what it returns is the
        sweep's work, whichever day it fell due and whenever its file arrived."""
        for shard in range(PENDING_SHARDS):
            kwargs: dict[str, Any] = {
                "TableName": self._table,
                "IndexName": "PendingIndex",
                "KeyConditionExpression": "pending_shard = :s AND pending_due <= :d",
                "ExpressionAttributeValues": {":s": {"S": f"P{shard}"}, ":d": {"S": through.isoformat()}},
            }
            for item in self._query_pages(kwargs):
                yield DueItem(item["account_id"]["S"], AccountStatus.CURRENT.value,
                              date.fromisoformat(item["pending_due"]["S"]))

    def mark_delinquent(self, account_id: str, due_day: date) -> bool:
        """CURRENT -> DELINQUENT, only if the account is still CURRENT and still owes for `due_day`.

        The condition states the invariant itself (the sparse key exists only while money is
        owed), so a concurrent import that changed nothing relevant does not make us skip the
        account, and one that paid or rescheduled it does. False when the condition failed.
        """
        try:
            self._db.update_item(
                TableName=self._table,
                Key={"account_id": {"S": account_id}},
                # Off the PendingIndex at once: a marked account is never read by the sweep again.
                UpdateExpression="SET #s = :delinquent, #v = if_not_exists(#v, :zero) + :one "
                                 "REMOVE pending_shard, pending_due",
                ConditionExpression="#s = :current AND due_date_key = :due",
                ExpressionAttributeNames={"#s": "status", "#v": "version"},
                ExpressionAttributeValues={
                    ":delinquent": {"S": AccountStatus.DELINQUENT.value},
                    ":current": {"S": AccountStatus.CURRENT.value},
                    ":due": {"S": due_day.isoformat()},
                    ":zero": {"N": "0"},
                    ":one": {"N": "1"},
                },
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            _reraise(exc)
        return True


class SweepState:
    """The last due date the sweep has fully processed, kept in CollectionsTable (pk SWEEP, sk STATE)."""

    _KEY = {"pk": {"S": "SWEEP"}, "sk": {"S": "STATE"}}

    def __init__(self, client: Any, table: str) -> None:
        self._db, self._table = client, table

    def last_due_date(self) -> date | None:
        resp = self._db.get_item(TableName=self._table, Key=self._KEY, ConsistentRead=True)
        value = resp.get("Item", {}).get("last_due_date", {}).get("S")
        return date.fromisoformat(value) if value else None

    def advance(self, previous: date | None, done: date, sweep_date: date) -> None:
        """Record `done` as processed; conditional on `previous` so two sweeps cannot interleave."""
        item = to_item({"pk": "SWEEP", "sk": "STATE", "type": "SWEEP_STATE",
                        "last_due_date": done.isoformat(),
                        "last_sweep_date": sweep_date.isoformat()})
        if previous is None:
            cond: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(sk)"}
        else:
            cond = {"ConditionExpression": "last_due_date = :prev",
                    "ExpressionAttributeValues": {":prev": {"S": previous.isoformat()}}}
        try:
            self._db.put_item(TableName=self._table, Item=item, **cond)
        except ClientError as exc:
            _reraise(exc)


class AccountFiles:
    """Account files in the incoming bucket: streamed in, rejects and reports written back.

    Nothing here sets encryption: the bucket's default (the stack's KMS key) applies to every write.
    """

    def __init__(self, client: Any) -> None:
        self._s3 = client

    def chunks(self, bucket: str, key: str, chunk_size: int = 64 * 1024) -> Iterator[bytes]:
        """The object's bytes in chunks cut anywhere: the reader splits lines and bounds their length
        (`lines` would hold a line whole, however long)."""
        body = self._s3.get_object(Bucket=bucket, Key=key)["Body"]
        try:
            yield from body.iter_chunks(chunk_size=chunk_size)
        finally:
            body.close()

    def upload(self, bucket: str, key: str, fileobj: IO[bytes], content_type: str) -> None:
        fileobj.seek(0)
        self._s3.upload_fileobj(fileobj, bucket, key, ExtraArgs={"ContentType": content_type})

    def put(self, bucket: str, key: str, body: bytes, content_type: str) -> None:
        self._s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)

    def put_json(self, bucket: str, key: str, doc: dict[str, Any]) -> None:
        self._s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(doc, sort_keys=True).encode(),
                            ContentType="application/json")
