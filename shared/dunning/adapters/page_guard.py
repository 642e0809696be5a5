"""The customer's page's counters and one-time form keys, in IdempotencyTable (items expire by TTL).

IdempotencyTable already has a TTL attribute (`expiration`) and holds only short-lived keys, so the
page's rate limits, wrong-answer counts and used form keys live there under a `page#` prefix (never
in CollectionsTable, which an internet-facing role may not update). One conditional write each:
an UpdateItem ADD for a counter, a PutItem with attribute_not_exists for a key.
"""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import ClientError

from dunning.ports import TransientError

PREFIX = "page#"
_THROTTLES = {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
              "InternalServerError", "ServiceUnavailable"}


def _raise(exc: ClientError) -> None:
    if exc.response.get("Error", {}).get("Code", "") in _THROTTLES:
        raise TransientError("page guard busy") from exc
    raise exc


class DynamoPageGuard:
    def __init__(self, client: Any, table: str, clock: Any = time.time) -> None:
        self._db, self._table, self._clock = client, table, clock

    def _expiry(self, ttl_seconds: int) -> str:
        return str(int(self._clock()) + max(1, ttl_seconds))

    def hit(self, key: str, ttl_seconds: int) -> int:
        try:
            resp = self._db.update_item(
                TableName=self._table, Key={"id": {"S": PREFIX + key}},
                UpdateExpression="ADD hits :one SET expiration = if_not_exists(expiration, :exp)",
                ExpressionAttributeValues={":one": {"N": "1"}, ":exp": {"N": self._expiry(ttl_seconds)}},
                ReturnValues="ALL_NEW")
        except ClientError as exc:
            _raise(exc)
            raise
        item = resp["Attributes"]
        if int(item["expiration"]["N"]) <= int(self._clock()):
            # DynamoDB deletes expired items lazily: an old counter starts again from one.
            self._db.put_item(TableName=self._table, Item={"id": {"S": PREFIX + key}, "hits": {"N": "1"},
                                                           "expiration": {"N": self._expiry(ttl_seconds)}})
            return 1
        return int(item["hits"]["N"])

    def peek(self, key: str) -> int:
        try:
            item = self._db.get_item(TableName=self._table, Key={"id": {"S": PREFIX + key}},
                                     ConsistentRead=True).get("Item")
        except ClientError as exc:
            _raise(exc)
            raise
        if not item or int(item.get("expiration", {"N": "0"})["N"]) <= int(self._clock()):
            return 0
        return int(item.get("hits", {"N": "0"})["N"])

    def claim(self, key: str, ttl_seconds: int) -> bool:
        now = str(int(self._clock()))
        try:
            self._db.put_item(
                TableName=self._table,
                Item={"id": {"S": PREFIX + key}, "expiration": {"N": self._expiry(ttl_seconds)}},
                ConditionExpression="attribute_not_exists(id) OR expiration <= :now",
                ExpressionAttributeValues={":now": {"N": now}})
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            _raise(exc)
            raise
        return True

    def release(self, key: str) -> None:
        try:
            self._db.delete_item(TableName=self._table, Key={"id": {"S": PREFIX + key}})
        except ClientError as exc:
            _raise(exc)
            raise
