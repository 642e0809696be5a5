"""Every AWS API call a botocore client makes, reported as it is made.

The sandbox counts the calls the system's own functions make (``aws_calls_per_notice`` in a
simulation summary) from outside the functions: botocore's ``BaseClient._make_api_call``, which
every client call (boto3, Powertools' own clients) goes through, is wrapped to report
``(service, operation)`` before the call is made.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from botocore.client import BaseClient

from sandbox.motocompat.patching import replaced, require_parameters

require_parameters(BaseClient._make_api_call, "self", "operation_name", "api_params")


@contextmanager
def reporting_calls(on_call: Callable[[str, str], None]) -> Iterator[None]:
    """``on_call(service, operation)`` for every API call while inside."""

    def _make_api_call(client: Any, operation: str, params: Any) -> Any:
        on_call(client.meta.service_model.service_name, operation)
        return original(client, operation, params)

    with replaced(BaseClient, "_make_api_call", _make_api_call) as original:
        yield
