"""DynamoDB writes per table, counted where botocore hands requests to moto: cheaper than counting
items after every request, and it sees a write that a delete undid."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"})


class Writes:
    def __init__(self) -> None:
        self.by_table: Counter[str] = Counter()

    def snapshot(self) -> dict[str, int]:
        return dict(self.by_table)


@contextmanager
def counting_writes() -> Iterator[Writes]:
    from moto.core.botocore_stubber import BotocoreStubber

    seen = Writes()
    original = BotocoreStubber.__call__

    def call(self: Any, event_name: str, request: Any, **kwargs: Any) -> Any:
        parts = event_name.split(".")
        if len(parts) >= 3 and parts[1] == "dynamodb" and parts[2] in WRITES:
            body = json.loads(request.body or b"{}")
            tables = (
                {body.get("TableName")}
                | {op.get("TableName") for item in body.get("TransactItems", []) for op in item.values()}
                | set(body.get("RequestItems", {}))
            )
            for table in tables - {None}:
                seen.by_table[table] += 1
        return original(self, event_name, request, **kwargs)

    BotocoreStubber.__call__ = call  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        BotocoreStubber.__call__ = original  # type: ignore[method-assign]
