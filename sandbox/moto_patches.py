"""Where moto is slower than the service it imitates, in ways that distort a simulation.

moto's TransactWriteItems deep-copies every table it touches to be able to roll back, so each
ledger commit costs time proportional to the whole table: the sandbox would get slower with
every account, not with every case. DynamoDB itself evaluates all of a transaction's conditions
against the state before the transaction and then applies every write, or none; doing exactly
that (check all, then write all) needs no copy at all.

moto's table Query also sorts every item of the table to find one partition; the sandbox hands
it just that partition, as DynamoDB itself does. And moto serialises item responses through a
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


def query(self: Table, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
    """A base-table Query reads one partition, not a sorted copy of the whole table."""
    index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
    if index_name is not None or not self.range_key_attr or hash_key is None:
        return _table_query(self, hash_key, *args, **kwargs)
    partition = list(self.items.get(hash_key, {}).values())
    self.all_items = lambda: partition  # type: ignore[method-assign]
    try:
        return _table_query(self, hash_key, *args, **kwargs)
    finally:
        del self.all_items


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
    try:
        with _faster_step_functions():
            yield
    finally:
        DynamoDBBackend.transact_write_items = original  # type: ignore[method-assign]
        Table.query = _table_query  # type: ignore[method-assign]
        DynamoResult.execute_result = _dynamo_execute  # type: ignore[method-assign]
