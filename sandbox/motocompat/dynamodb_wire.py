"""Item responses written as plain JSON, not through moto's shape-walking serialiser.

moto serialises every response by walking the operation's output shape, which costs
milliseconds per item. DynamoDB item data is already in the wire format (strings, numbers as
strings, binaries, maps and lists of them), so for item operations the result is written
with ``json.dumps``: binaries as base64 and absent members left out, as the real serialiser does.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from moto.core.responses import ActionResult
from moto.dynamodb.responses import DynamoResult

from sandbox.motocompat.patching import replaced, require_parameters

require_parameters(ActionResult.execute_result, "self", "context")
_generic: Callable[..., Any] = ActionResult.execute_result

# Item operations whose responses hold only strings, numbers-as-strings, binaries and maps.
ITEM_OPERATIONS = frozenset({"Query", "Scan", "GetItem", "BatchGetItem", "PutItem", "UpdateItem", "DeleteItem",
                             "TransactWriteItems", "TransactGetItems", "BatchWriteItem"})


def _wire(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(type(value).__name__)


def execute_result(self: DynamoResult, context: Any) -> Any:
    if context.operation_model.name not in ITEM_OPERATIONS:
        return _generic(self, context)
    result = self.result
    if isinstance(result, dict):  # like the real serialiser: absent, never null (LastEvaluatedKey)
        result = {k: v for k, v in result.items() if v is not None}
    body = json.dumps(result, default=_wire)
    return 200, {"Content-Type": "application/x-amz-json-1.0"}, body


@contextmanager
def item_responses_as_json() -> Iterator[None]:
    with replaced(DynamoResult, "execute_result", execute_result):
        yield
