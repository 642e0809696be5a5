"""Everything the weekly report reads: every ledger entry and every account, by paginated Scan.

A report looks at the whole portfolio once a week, so a Scan is the honest access pattern: one
pass over each table in 1 MB pages, against a Query per account (a Scan of AccountsTable to list
the keys, then one round trip per account), which reads the same items in far more requests.
The Scan runs on the weekly schedule only, never on a request path; it reads eventually consistent
pages, which is fine for a report. Entries stay in memory (the function has 1 GB); past a few
million entries this wants a parallel Scan (Segment/TotalSegments) or a DynamoDB export to S3.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import ValidationError

from dunning.adapters.dynamo import from_item
from dunning.domain.models import Account, LedgerEntry

_KEYS = ("pk", "sk", "type", "lookup_pk", "lookup_sk")


def _scan(client: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
    while True:
        resp = client.scan(**kwargs)
        yield from resp.get("Items", [])
        if "LastEvaluatedKey" not in resp:
            return
        kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]


class TableReportSource:
    def __init__(self, client: Any, accounts_table: str, collections_table: str) -> None:
        self._db, self._accounts, self._collections = client, accounts_table, collections_table
        self.skipped = 0  # items that did not validate (counted, never fatal for a report)

    def ledger_entries(self) -> Iterator[LedgerEntry]:
        for raw in _scan(self._db, TableName=self._collections,
                         FilterExpression="#t = :ledger", ExpressionAttributeNames={"#t": "type"},
                         ExpressionAttributeValues={":ledger": {"S": "LEDGER"}}):
            item = from_item(raw)
            for key in _KEYS:
                item.pop(key, None)
            try:
                yield LedgerEntry.model_validate(item)
            except ValidationError:
                self.skipped += 1

    def accounts(self) -> Iterator[Account]:
        for raw in _scan(self._db, TableName=self._accounts):
            item = from_item(raw)
            item.pop("due_date_key", None)
            try:
                yield Account.model_validate(item)
            except ValidationError:
                self.skipped += 1
