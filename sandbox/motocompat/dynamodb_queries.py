"""A Query reads one partition, as DynamoDB does, instead of every item of the table.

moto's ``Table.query`` sorts every item of the table to find one partition, and a Query on a
global secondary index compares every item of the table: the sandbox would get slower with every
account, not with every case. Here the query is handed just the partition: a table partition
from moto's own ``Table.items``; an index partition from a map of index key -> items that is
built on the first Query of that index and kept up to date on every write.

How the partition reaches moto's query: moto's ``Table.query`` reads the table through
``self.all_items()``. ``Table.all_items`` is replaced once by a method that answers with the
partition *only in the thread running that query, and only for that table*; every other caller
(another thread's scan or query, the same thread on another table) gets moto's own answer. So
nothing shared is swapped, and the result does not depend on invokes being serialised.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table

from sandbox.motocompat.patching import replaced, require_parameters

# moto's own methods, kept before anything is patched; the parameters are bound by name.
_table_query: Callable[..., Any] = Table.query
_table_all_items: Callable[[Table], list[Item]] = Table.all_items
_QUERY = require_parameters(_table_query, "self", "hash_key", "index_name", "hash_key_conditions")
_WRITES = {
    "put_item": require_parameters(DynamoDBBackend.put_item, "self", "table_name", "item_attrs"),
    "update_item": require_parameters(DynamoDBBackend.update_item, "self", "table_name", "key"),
    "delete_item": require_parameters(DynamoDBBackend.delete_item, "self", "table_name", "key"),
}


def _raw(value: DynamoType | None) -> tuple[str, str] | None:
    return None if value is None else (value.type, str(value.value))


def _index_hash_attrs(index: Any) -> list[str]:
    return [k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"]


class _IndexPartitions:
    """For each global secondary index hash attribute of one table: its value -> the items with it."""

    def __init__(self, table: Table) -> None:
        self.attrs = {attr for index in table.global_indexes for attr in _index_hash_attrs(index)}
        self.items: dict[str, dict[tuple[str, str], dict[Any, Item]]] = {a: {} for a in self.attrs}
        self.values: dict[Any, dict[str, tuple[str, str]]] = {}  # item key -> its indexed values
        for item in _table_all_items(table):
            self._add(item)

    @staticmethod
    def _key(item: Item) -> Any:
        return _raw(item.hash_key), _raw(item.range_key)

    def _add(self, item: Item) -> None:
        key = self._key(item)
        for attr in self.attrs:
            value = _raw(item.attrs.get(attr))
            if value is not None:
                self.items[attr].setdefault(value, {})[key] = item
                self.values.setdefault(key, {})[attr] = value

    def refresh(self, table: Table, hash_key: DynamoType, range_key: DynamoType | None) -> None:
        """After a write to this key: forget what the item was indexed under, index what it is now."""
        key = (_raw(hash_key), _raw(range_key))
        for attr, value in self.values.pop(key, {}).items():
            self.items[attr].get(value, {}).pop(key, None)
        item = table.get_item(hash_key, range_key)
        if item is not None:
            self._add(item)

    def partition(self, attr: str, value: DynamoType) -> list[Item] | None:
        if attr not in self.attrs:
            return None
        return list(self.items[attr].get((value.type, str(value.value)), {}).values())


# id(table) -> (the table, kept so its id cannot be reused; its index partitions), once queried by index
_INDEXED: dict[int, tuple[Table, _IndexPartitions]] = {}
_INDEX_LOCK = threading.Lock()  # building a map and refreshing it must not interleave


def _index_partition(table: Table, index_name: str, conditions: Any) -> list[Item] | None:
    index = next((i for i in table.global_indexes if i.name == index_name), None)
    if index is None or len(_index_hash_attrs(index)) != 1 or not conditions or len(conditions) != 1:
        return None
    with _INDEX_LOCK:
        if id(table) not in _INDEXED:
            _INDEXED[id(table)] = (table, _IndexPartitions(table))
        attr, value = conditions[0]
        return _INDEXED[id(table)][1].partition(attr, value) if attr == _index_hash_attrs(index)[0] else None


# The partition the running query reads, for this thread only: (table, its items).
_reading = threading.local()


def all_items(self: Table) -> list[Item]:
    """moto's ``all_items``, except inside ``query`` below, on this thread, for its table."""
    only = getattr(_reading, "partition", None)
    if only is not None and only[0] is self:
        return list(only[1])
    return _table_all_items(self)


def query(self: Table, *args: Any, **kwargs: Any) -> Any:
    """A Query reads one partition (of the table or of an index), not a sorted copy of the table."""
    given = _QUERY.bind(self, *args, **kwargs).arguments
    hash_key, index_name = given.get("hash_key"), given.get("index_name")
    if index_name is not None:
        partition = _index_partition(self, index_name, given.get("hash_key_conditions"))
    elif self.range_key_attr and hash_key is not None:
        partition = list(self.items.get(hash_key, {}).values())
    else:
        partition = None
    if partition is None:
        return _table_query(self, *args, **kwargs)
    outer = getattr(_reading, "partition", None)
    _reading.partition = (self, partition)
    try:
        return _table_query(self, *args, **kwargs)
    finally:
        _reading.partition = outer


def _reindexing(name: str, write: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a backend write so the index partitions of its table follow it (whatever its outcome)."""
    signature = _WRITES[name]
    keyed = "item_attrs" if name == "put_item" else "key"

    def wrapped(self: DynamoDBBackend, *args: Any, **kwargs: Any) -> Any:
        # Not under the lock: a write can trigger a stream, and the stream a Lambda in another thread.
        try:
            return write(self, *args, **kwargs)
        finally:
            given = signature.bind(self, *args, **kwargs).arguments
            table = self.tables.get(given["table_name"])
            if table is not None:
                attrs = given[keyed]
                key = {k: attrs[k] for k in (table.hash_key_attr, table.range_key_attr) if k and k in attrs}
                # A write without its key attributes failed validation and changed nothing.
                if all(k in key for k in (table.hash_key_attr, table.range_key_attr) if k):
                    with _INDEX_LOCK:  # after the write, whenever it lands: the refresh reads the item as it is
                        if id(table) in _INDEXED:
                            hash_key, range_key = self.get_keys_value(table, key)
                            _INDEXED[id(table)][1].refresh(table, hash_key, range_key)

    return wrapped


@contextmanager
def partition_queries() -> Iterator[None]:
    """Table and index Queries read their partition; index maps follow every write."""
    try:
        with ExitStack() as stack:
            stack.enter_context(replaced(Table, "query", query))
            stack.enter_context(replaced(Table, "all_items", all_items))
            for name in _WRITES:
                stack.enter_context(replaced(DynamoDBBackend, name, _reindexing(name, getattr(DynamoDBBackend, name))))
            yield
    finally:
        with _INDEX_LOCK:
            _INDEXED.clear()
