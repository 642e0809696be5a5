"""TransactWriteItems without a deep copy of every table it touches.

moto's ``DynamoDBBackend.transact_write_items`` deep-copies each table of the transaction so it
can roll back, so every ledger commit costs time proportional to the whole table. DynamoDB
itself evaluates all of a transaction's conditions against the state before the transaction and
then applies every write, or none; doing exactly that (check all, then write all) needs no copy.
Conditions of different items cannot see each other's writes (an item may appear only once in a
transaction), so the outcome is the one moto computes by writing as it goes and rolling back.

Checking and writing are one step for other writers too (a lock; moto has none, and the sandbox's
functions and executions run in threads): without it two transactions conditional on one case's
version could both pass their check, and the second would overwrite the first, a lost update that
DynamoDB never allows. Single-item writes (a conditional Put, an Update) take the same lock. A
table with a Lambda mapping attached keeps moto's unlocked path (moto runs its handler inside the
write).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
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
from moto.dynamodb.models import DynamoDBBackend, get_filter_expression

from sandbox.motocompat.patching import replaced, require_parameters

require_parameters(DynamoDBBackend.transact_write_items, "self", "transact_items")

_OPS = {"ConditionCheck", "Put", "Delete", "Update"}
_WRITE_LOCK = threading.RLock()  # one writer at a time: a condition and its write are one step


def _key_of(backend: DynamoDBBackend, op_type: str, op: dict[str, Any]) -> dict[str, Any]:
    if op_type != "Put":
        return dict(op["Key"])
    table = backend.get_table(op["TableName"])
    attrs = op["Item"]
    key = {table.hash_key_attr: attrs[table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = attrs[table.range_key_attr]
    return key


def _mapped(backend: DynamoDBBackend, table_names: Iterable[Any]) -> bool:
    return any(getattr(backend.tables.get(str(n)), "lambda_event_source_mappings", None) for n in table_names)


def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    """All conditions against the state before the transaction, then all writes (or none)."""
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    names = (op.get("TableName") for item in transact_items for op in item.values() if isinstance(op, dict))
    if _mapped(self, names):
        _transact(self, transact_items)
        return
    with _WRITE_LOCK:
        _transact(self, transact_items)


def _serialised(write: Callable[..., Any]) -> Callable[..., Any]:
    def wrapped(self: DynamoDBBackend, table_name: str, *args: Any, **kwargs: Any) -> Any:
        if _mapped(self, [table_name]):
            return write(self, table_name, *args, **kwargs)
        with _WRITE_LOCK:
            return write(self, table_name, *args, **kwargs)

    return wrapped


def _transact(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    planned, errors = _check(self, transact_items)
    if any(code is not None for code, _, _ in errors):
        raise TransactionCanceledException(errors)
    for op_type, op, key in planned:
        # None when the request has none, as moto's own transaction passes them on.
        names: Any
        values: Any
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


def _check(
    backend: DynamoDBBackend, transact_items: list[dict[str, Any]]
) -> tuple[list[tuple[str, dict[str, Any], dict[str, Any]]], list[tuple[str | None, str | None, Any]]]:
    """Each operation's condition against the current state: the writes to make, one error slot each."""
    seen: set[tuple[str, str]] = set()
    planned: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    errors: list[tuple[str | None, str | None, dict[str, Any] | None]] = []
    for item in transact_items:
        if len(item) > 1:
            raise TransactWriteSingleOpException
        op_type, op = next(iter(item.items()))
        if op_type not in _OPS:
            raise MockValidationException("Unsupported transaction operation")
        key = _key_of(backend, op_type, op)
        marker = (str(op["TableName"]), str(dict(sorted(key.items()))))
        if marker in seen:
            raise MultipleTransactionsException()
        seen.add(marker)
        original: dict[str, Any] | None = None
        try:
            current = backend.get_item(op["TableName"], key)
            condition = op.get("ConditionExpression")
            if condition is not None:
                check = get_filter_expression(condition, op.get("ExpressionAttributeNames"),
                                              op.get("ExpressionAttributeValues"))
                if not check.expr(current):
                    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                        original = current.to_json()["Attributes"]
                    raise ConditionalCheckFailed(item=original)
            errors.append((None, None, None))
            planned.append((op_type, op, key))
        except ConditionalCheckFailed as exc:
            errors.append(("ConditionalCheckFailed", str(exc.message), original))
    return planned, errors


@contextmanager
def transactions_without_table_copies() -> Iterator[None]:
    with replaced(DynamoDBBackend, "transact_write_items", transact_write_items), \
            replaced(DynamoDBBackend, "put_item", _serialised(DynamoDBBackend.put_item)), \
            replaced(DynamoDBBackend, "update_item", _serialised(DynamoDBBackend.update_item)), \
            replaced(DynamoDBBackend, "delete_item", _serialised(DynamoDBBackend.delete_item)):
        yield
