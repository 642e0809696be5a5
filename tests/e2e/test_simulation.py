"""The whole system on moto: a small portfolio lived for 45 days, audited from what was sent."""

from __future__ import annotations

import pytest

from sandbox.simulate import SimulationConfig, run_simulation

pytestmark = pytest.mark.e2e

CONFIG = SimulationConfig(accounts=60, days=45, seed=7)
_WALL = ("wall_seconds",)


# What a shard repeats for itself (its import, its daily sweep, its stream batches) and the
# machine figures derived from those; everything that happened to a customer is not among them.
_PER_SHARD = ("wall_seconds", "workers", "lambda_invocations", "aws_calls_per_notice", "aws_calls_by_kind", "import")
PROGRESS: list[tuple[int, int]] = []


@pytest.fixture(scope="module")
def summary() -> dict:
    return run_simulation(CONFIG).summary


@pytest.fixture(scope="module")
def sharded() -> dict:
    return run_simulation(CONFIG, lambda done, total: PROGRESS.append((done, total)), workers=2).summary


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


def test_legal_review_is_the_last_resort_and_its_reviewers_judge(summary: dict) -> None:
    assert summary["hardship_referred_without_specialist_decision"] == 0
    assert summary["engaged_share_of_referrals"] <= 0.25
    assert summary["specialist_reviews"]["requested"] >= 1
    reviews = summary["legal_reviews"]
    assert reviews["approved"] + reviews["rejected"] == reviews["requested"] >= summary["legal_referrals"]
    assert sum(summary["legal_referrals_by_engagement"].values()) == summary["legal_referrals"]


def test_two_shards_live_the_same_story_as_one_process(summary: dict, sharded: dict) -> None:
    strip = lambda s: {k: v for k, v in s.items() if k not in _PER_SHARD}  # noqa: E731
    assert strip(sharded) == strip(summary)
    assert sharded["workers"] == 2
    assert sum(f["imported"] for f in sharded["import"]["files"]) == CONFIG.accounts  # each shard its own file
    assert PROGRESS[-1] == (CONFIG.days, CONFIG.days)  # the progress bar hears from the worker processes


def test_same_seed_and_arguments_same_figures(sharded: dict) -> None:
    again = run_simulation(CONFIG, workers=2).summary
    strip = lambda s: {k: v for k, v in s.items() if k not in _WALL}  # noqa: E731
    assert strip(again) == strip(sharded)
