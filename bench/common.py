"""What every measurement shares: a quiet test-like environment, moto with the template's tables,
and a spy on every AWS API call botocore makes."""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

# The same switches the tests use: fake credentials, UTC, no X-Ray daemon, metrics printed nowhere.
QUIET_ENV: dict[str, str] = {
    "TZ": "UTC",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    "POWERTOOLS_SERVICE_NAME": "dunning",
    "POWERTOOLS_METRICS_NAMESPACE": "Dunning",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "ERROR",
    "LOG_LEVEL": "ERROR",
}



def quiet_environment() -> None:
    os.environ.update(QUIET_ENV)
    time.tzset()
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


class CallSpy:
    """Every AWS API call any botocore client makes (Powertools' own clients included)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.targets: list[str] = []  # table or index of each DynamoDB call, "" otherwise
        self.index_items = 0  # items DynamoDB evaluated for Query/Scan calls on an index
        self.on_call: Callable[[str, str], None] | None = None  # e.g. attribute the call to a function
        # Write units DynamoDB bills for the items put (transactional: 2 per KB started), and
        # the share of them that rewrote a case's header.
        self.write_units = 0
        self.header_write_units = 0
        self.recording = True
        self._original: Any = None

    def install(self) -> CallSpy:
        import botocore.client

        original = botocore.client.BaseClient._make_api_call
        spy = self

        def _make_api_call(client: Any, operation: str, params: Any) -> Any:
            if spy.recording:
                spy.calls.append((client.meta.service_model.service_name, operation))
                spy.targets.append(str(params.get("IndexName") or params.get("TableName") or ""))
                if spy.on_call is not None:
                    spy.on_call(client.meta.service_model.service_name, operation)
                if operation in ("TransactWriteItems", "PutItem"):
                    spy.count_writes(operation, params)
            response = original(client, operation, params)
            if spy.recording and operation in ("Query", "Scan") and params.get("IndexName"):
                spy.index_items += int(response.get("ScannedCount", response.get("Count", 0)))
            return response

        self._original = original
        botocore.client.BaseClient._make_api_call = _make_api_call  # type: ignore[method-assign]
        return self

    def count_writes(self, operation: str, params: Any) -> None:
        puts = ([a["Put"]["Item"] for a in params["TransactItems"] if "Put" in a]
                if operation == "TransactWriteItems" else [params["Item"]])
        per_kb = 2 if operation == "TransactWriteItems" else 1
        for item in puts:
            units = per_kb * -(-item_bytes(item) // 1024)
            self.write_units += units
            if item.get("type", {}).get("S") == "CASE":
                self.header_write_units += units

    def uninstall(self) -> None:
        import botocore.client

        if self._original is not None:
            botocore.client.BaseClient._make_api_call = self._original  # type: ignore[method-assign]
            self._original = None

    def take(self) -> list[tuple[str, str]]:
        out, self.calls, self.targets = self.calls, [], []
        return out


@contextmanager
def spying() -> Iterator[CallSpy]:
    spy = CallSpy().install()
    try:
        yield spy
    finally:
        spy.uninstall()


@contextmanager
def moto_tables() -> Iterator[dict[str, str]]:
    """moto with the template's tables, the SES identity and the link secret (as the function tests)."""
    import pytest

    from tests.support.aws import moto_env

    with pytest.MonkeyPatch.context() as patch, moto_env(patch) as env:
        yield env


def median(values: list[float]) -> float:
    return statistics.median(values)


def timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu, "python": sys.version.split()[0], "platform": sys.platform}


def item_bytes(item: dict[str, Any]) -> int:
    """DynamoDB's item size: attribute names plus values (numbers and strings by their text)."""

    def value(v: Any) -> int:
        ((kind, inner),) = v.items()
        if kind in ("M",):
            return sum(len(k) + value(x) for k, x in inner.items()) + 3
        if kind in ("L",):
            return sum(value(x) for x in inner) + 3
        if kind in ("SS", "NS", "BS"):
            return sum(len(str(x)) for x in inner)
        if kind in ("BOOL", "NULL"):
            return 1
        return len(str(inner).encode())

    return sum(len(k) + value(v) for k, v in item.items())
