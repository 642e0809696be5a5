"""Reliability counters: faults injected, notices duplicated, records lost.

Each test adds to its own ``tally`` (and asserts its zeros itself); the counts travel with the
test's report (so they add up under pytest-xdist too) and the session ends with one line:

    reliability: 31 faults injected, 0 notices duplicated, 0 records lost
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Any

import pytest

from tests.functions.conftest import aws, clock  # noqa: F401 - moto tables and the fixed clock

_PROPERTY = "reliability"


@dataclass
class Tally:
    faults_injected: int = 0
    notices_duplicated: int = 0
    records_lost: int = 0

    def add(self, other: Tally) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def assert_clean(self) -> None:
        assert self.notices_duplicated == 0, f"{self.notices_duplicated} notice(s) duplicated"
        assert self.records_lost == 0, f"{self.records_lost} record(s) lost"


@pytest.fixture(scope="session")
def reliability_totals() -> Tally:
    """The session's totals in this process (the summary line adds up every worker's reports)."""
    return Tally()


@pytest.fixture
def tally(request: pytest.FixtureRequest, reliability_totals: Tally) -> Iterator[Tally]:
    mine = Tally()
    yield mine
    reliability_totals.add(mine)
    request.node.user_properties.append(
        (_PROPERTY, (mine.faults_injected, mine.notices_duplicated, mine.records_lost))
    )


# The hooks below are also imported by tests/conftest.py: under pytest-xdist the controller, which
# prints the summary, loads only the top-level conftest. Registered twice, they must act once.
_SUMMARY = Tally()
_SEEN: set[str] = set()
_PRINTED: list[bool] = []
# The fuzz run's figures (tests/reliability/test_fuzz.py): requests, messages (an SNS request
# carries several), refused 4xx, dropped as malformed, accepted without effect, 5xx, writes.
_FUZZ: dict[str, tuple[int, ...]] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    for name, value in report.user_properties:
        if name == "fuzz" and report.when == "call":
            _FUZZ[report.nodeid] = tuple(value)
    if report.when != "teardown" or report.nodeid in _SEEN:
        return
    for name, value in report.user_properties:
        if name == _PROPERTY:
            _SEEN.add(report.nodeid)
            _SUMMARY.add(Tally(*value))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _PRINTED:
        return
    if _FUZZ:
        _PRINTED.append(True)
    for figures in _FUZZ.values():
        requests, messages, refused, dropped, accepted, errors, writes = figures
        terminalreporter.write_line(
            f"fuzz: {requests:,} requests ({messages:,} messages): {refused:,} refused 4xx, {dropped:,} dropped "
            f"as malformed, {accepted:,} accepted without effect, {errors} 5xx, {writes} writes")
    if not _SEEN:
        return
    if not _PRINTED:
        _PRINTED.append(True)
    terminalreporter.write_line(
        f"reliability: {_SUMMARY.faults_injected} faults injected, {_SUMMARY.notices_duplicated} notices "
        f"duplicated, {_SUMMARY.records_lost} records lost ({len(_SEEN)} tests)"
    )
