"""Where moto is slower than the service it imitates, in ways that distort a simulation.

moto's TransactWriteItems deep-copies every table it touches to be able to roll back, so each
ledger commit costs time proportional to the whole table: the sandbox would get slower with
every account, not with every case. DynamoDB itself evaluates all of a transaction's conditions
against the state before the transaction and then applies every write, or none; doing exactly
that (check all, then write all) needs no copy at all.

moto's table Query also sorts every item of the table to find one partition, and a Query on a
global secondary index compares every item of the table; the sandbox hands it just the partition
(for an index, from a map of index key to items it keeps up to date on every write), as DynamoDB
itself does. And moto serialises item responses through a
generic, shape-walking serialiser that costs milliseconds per item; item data is already in the
wire format, so the sandbox writes it as plain JSON.

moto's Step Functions interpreter parses the whole state machine definition again for every
execution, builds a new JSONPath parser (a yacc table) for every path it evaluates (so does
EventBridge for input paths) and a new boto3 client for every Lambda task. The sandbox parses
each definition and each path once (the evaluation components are still built fresh for every
execution) and keeps one client per service and region, as a long-lived service would.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoResult

_OPS = {"ConditionCheck", "Put", "Delete", "Update"}


def _key_of(backend: DynamoDBBackend, op_type: str, op: dict[str, Any]) -> dict[str, Any]:
    if op_type != "Put":
        return dict(op["Key"])
    table = backend.get_table(op["TableName"])
    attrs = op["Item"]
    key = {table.hash_key_attr: attrs[table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = attrs[table.range_key_attr]
    return key


def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:  # noqa: C901
    """All conditions against the state before the transaction, then all writes (or none)."""
    from moto.dynamodb.models import get_filter_expression as filter_expression

    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    seen: set[tuple[str, str]] = set()
    planned: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    errors: list[tuple[str | None, str | None, dict[str, Any] | None]] = []
    for item in transact_items:
        if len(item) > 1:
            raise TransactWriteSingleOpException
        op_type, op = next(iter(item.items()))
        if op_type not in _OPS:
            raise MockValidationException("Unsupported transaction operation")
        key = _key_of(self, op_type, op)
        marker = (str(op["TableName"]), str(dict(sorted(key.items()))))
        if marker in seen:
            raise MultipleTransactionsException()
        seen.add(marker)
        original: dict[str, Any] | None = None
        try:
            current = self.get_item(op["TableName"], key)
            condition = op.get("ConditionExpression")
            if condition is not None:
                check = filter_expression(condition, op.get("ExpressionAttributeNames"),
                                          op.get("ExpressionAttributeValues"))
                if not check.expr(current):
                    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                        original = current.to_json()["Attributes"]
                    raise ConditionalCheckFailed(item=original)
            errors.append((None, None, None))
            planned.append((op_type, op, key))
        except ConditionalCheckFailed as exc:
            errors.append(("ConditionalCheckFailed", str(exc.message), original))
    if any(code is not None for code, _, _ in errors):
        raise TransactionCanceledException(errors)
    for op_type, op, key in planned:
        names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
        if op_type == "Put":
            self.put_item(op["TableName"], op["Item"], expression_attribute_names=names,
                          expression_attribute_values=values)
        elif op_type == "Delete":
            self.delete_item(op["TableName"], key, expression_attribute_names=names,
                             expression_attribute_values=values)
        elif op_type == "Update":
            self.update_item(op["TableName"], key, update_expression=op["UpdateExpression"],
                             expression_attribute_names=names, expression_attribute_values=values)


_table_query: Callable[..., Any] = Table.query


def _raw(value: DynamoType | None) -> tuple[str, str] | None:
    return None if value is None else (value.type, str(value.value))


class _IndexPartitions:
    """For each global secondary index hash attribute of one table: its value -> the items with it."""

    def __init__(self, table: Table) -> None:
        self.attrs = {attr for index in table.global_indexes for attr in _index_hash_attrs(index)}
        self.items: dict[str, dict[tuple[str, str], dict[Any, Item]]] = {a: {} for a in self.attrs}
        self.values: dict[Any, dict[str, tuple[str, str]]] = {}  # item key -> its indexed values
        for item in table.all_items():
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


def _index_hash_attrs(index: Any) -> list[str]:
    return [k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"]


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


def query(self: Table, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
    """A Query reads one partition (of the table or of an index), not a sorted copy of the table."""
    index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
    if index_name is not None:
        partition = _index_partition(self, index_name, kwargs.get("hash_key_conditions"))
    elif self.range_key_attr and hash_key is not None:
        partition = list(self.items.get(hash_key, {}).values())
    else:
        partition = None
    if partition is None:
        return _table_query(self, hash_key, *args, **kwargs)
    self.all_items = lambda: partition  # type: ignore[method-assign]
    try:
        return _table_query(self, hash_key, *args, **kwargs)
    finally:
        del self.all_items


def _reindexing(write: Callable[..., Any], key_of: Callable[[Table, Any], dict[str, Any]]) -> Callable[..., Any]:
    """Wrap a backend write so the index partitions of its table follow it (whatever its outcome)."""
    def wrapped(self: DynamoDBBackend, table_name: str, keyed: Any, *args: Any, **kwargs: Any) -> Any:
        # Not under the lock: a write can trigger a stream, and the stream a Lambda in another thread.
        try:
            return write(self, table_name, keyed, *args, **kwargs)
        finally:
            table = self.tables.get(table_name)
            key = key_of(table, keyed) if table is not None else {}
            # A write without its key attributes failed validation and changed nothing.
            if table is not None and all(k in key for k in (table.hash_key_attr, table.range_key_attr) if k):
                with _INDEX_LOCK:  # after the write, whenever it lands: the refresh reads the item as it is
                    if id(table) in _INDEXED:
                        hash_key, range_key = self.get_keys_value(table, key)
                        _INDEXED[id(table)][1].refresh(table, hash_key, range_key)

    return wrapped


def _item_key(table: Table, attrs: dict[str, Any]) -> dict[str, Any]:
    return {k: attrs[k] for k in (table.hash_key_attr, table.range_key_attr) if k and k in attrs}


def _given_key(table: Table, key: dict[str, Any]) -> dict[str, Any]:
    return key


# Item operations whose responses hold only strings, numbers-as-strings, binaries and maps.
_ITEM_OPERATIONS = {"Query", "Scan", "GetItem", "BatchGetItem", "PutItem", "UpdateItem", "DeleteItem",
                    "TransactWriteItems", "TransactGetItems", "BatchWriteItem"}
_dynamo_execute: Callable[..., Any] = DynamoResult.execute_result


def _wire(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(type(value).__name__)


def execute_result(self: DynamoResult, context: Any) -> Any:
    if context.operation_model.name not in _ITEM_OPERATIONS:
        return _dynamo_execute(self, context)
    result = self.result
    if isinstance(result, dict):  # like the real serialiser: absent, never null (LastEvaluatedKey)
        result = {k: v for k, v in result.items() if v is not None}
    body = json.dumps(result, default=_wire)
    return 200, {"Content-Type": "application/x-amz-json-1.0"}, body


def _cached_clients(make: Callable[..., Any]) -> Callable[..., Any]:
    clients: dict[tuple[str, str], Any] = {}
    lock = threading.Lock()

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        # moto's own function ignores state_credentials (it always uses test keys): so may the cache.
        with lock:
            if (region, service) not in clients:
                clients[(region, service)] = make(region, service)
            return clients[(region, service)]

    return boto_client_for


@contextmanager
def _patched(modules: list[Any], name: str, value: Any) -> Iterator[None]:
    originals = [(module, getattr(module, name)) for module in modules if hasattr(module, name)]
    for module, _ in originals:
        setattr(module, name, value)
    try:
        yield
    finally:
        for module, original in originals:
            setattr(module, name, original)


def _cached_parse_trees(parse: Callable[[str], Any]) -> Any:
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

    trees: dict[str, Any] = {}
    lock = threading.Lock()

    def cached(definition: str) -> tuple[Any, Any]:
        with lock:
            tree = trees.get(definition)
        if tree is None:
            _, tree = parse(definition)  # raises on a syntax error, as before
            with lock:
                trees[definition] = tree
        # The parse tree is read-only; the components evaluated for an execution are new each time.
        return Preprocessor().visit(tree), tree

    return staticmethod(cached)


@contextmanager
def _faster_step_functions() -> Iterator[None]:
    import jsonpath_ng.ext as jsonpath_ext
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils  # noqa: F401
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.asl.utils import boto_client, json_path

    # Every interpreter module that imported boto_client_for by name gets the caching one.
    interpreter = [m for n, m in list(sys.modules.items()) if n.startswith("moto.stepfunctions.parser.") and m]
    with (_patched(interpreter, "boto_client_for", _cached_clients(boto_client.boto_client_for)),
          _patched([json_path, jsonpath_ext], "parse", functools.lru_cache(maxsize=1024)(jsonpath_ext.parse)),
          _patched([AmazonStateLanguageParser], "parse", _cached_parse_trees(AmazonStateLanguageParser.parse))):
        yield


@contextmanager
def faster_moto() -> Iterator[None]:
    original: Callable[..., None] = DynamoDBBackend.transact_write_items
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    Table.query = query  # type: ignore[method-assign]
    DynamoResult.execute_result = execute_result  # type: ignore[method-assign]
    writes = {"put_item": _item_key, "update_item": _given_key, "delete_item": _given_key}
    try:
        with contextlib.ExitStack() as stack:
            for name, key_of in writes.items():
                stack.enter_context(_patched([DynamoDBBackend], name,
                                             _reindexing(getattr(DynamoDBBackend, name), key_of)))
            stack.enter_context(_faster_step_functions())
            yield
    finally:
        _INDEXED.clear()
        DynamoDBBackend.transact_write_items = original  # type: ignore[method-assign]
        Table.query = _table_query  # type: ignore[method-assign]
        DynamoResult.execute_result = _dynamo_execute  # type: ignore[method-assign]
