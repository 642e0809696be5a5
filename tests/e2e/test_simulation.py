"""The whole system on moto: a small portfolio lived for 45 days, audited from what was sent."""

from __future__ import annotations

import pytest

from sandbox.simulate import SimulationConfig, run_simulation

pytestmark = pytest.mark.e2e

CONFIG = SimulationConfig(accounts=60, days=45, seed=7)
_WALL = ("wall_seconds",)


@pytest.fixture(scope="module")
def summary() -> dict:
    return run_simulation(CONFIG).summary


def test_audit_finds_nothing(summary: dict) -> None:
    audit = summary["audit"]
    assert audit["violations"] == 0, summary["audit_findings"]
    assert audit["duplicate_sends"] == 0
    assert audit["unrecorded_sends"] == 0


def test_stories_happen(summary: dict) -> None:
    assert summary["legal_referrals"] >= 1
    assert summary["plans"]["completed"] >= 1
    assert summary["opt_outs"] >= 1
    assert summary["cases_cured"] > 0


def test_same_seed_same_figures(summary: dict) -> None:
    again = run_simulation(CONFIG).summary
    strip = lambda s: {k: v for k, v in s.items() if k not in _WALL}  # noqa: E731
    assert strip(again) == strip(summary)
