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

# Executions take turns in the order they became runnable (sandbox.clock), so a seed tells one story:
# two runs agree on every figure, and a sharded run on every figure about customers.
def _same_story(one: dict, other: dict, skip: tuple[str, ...]) -> None:
    assert {k: v for k, v in one.items() if k not in skip} == {k: v for k, v in other.items() if k not in skip}
    assert one["audit"]["violations"] == other["audit"]["violations"] == 0


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
    # every case's header holds the fold of its ledger and notices (what decisions read instead of them)
    assert summary["tally_drift"] == []


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


def test_replies_are_heard_by_text_and_by_email_and_every_sms_has_its_receipt(summary: dict) -> None:
    """Some customers answer the email (SES receiving -> InboundEmailFunction), others text back;
    every SMS has its delivery event back, whichever provider took it."""
    assert summary["replies"]["EMAIL"] >= 1
    assert summary["replies"]["SMS"] >= 1
    assert summary["driver_events"]["email_replies_sent"] == summary["replies"]["EMAIL"]
    # every text has its receipt: End User Messaging's through SNS, Alibaba Cloud SMS's pushed report
    assert summary["driver_events"]["sms_delivery_events"] == summary["notices"]["SMS"]
    assert summary["function_errors"] == []


def test_two_shards_live_the_same_story_as_one_process(summary: dict, sharded: dict) -> None:
    _same_story(sharded, summary, _PER_SHARD)
    assert sharded["workers"] == 2
    assert sum(f["imported"] for f in sharded["import"]["files"]) == CONFIG.accounts  # each shard its own file
    assert PROGRESS[-1] == (CONFIG.days, CONFIG.days)  # the progress bar hears from the worker processes


def test_same_seed_and_arguments_same_figures(sharded: dict) -> None:
    again = run_simulation(CONFIG, workers=2).summary
    _same_story(again, sharded, _WALL)


def test_some_customers_act_on_their_own_page_and_actions_are_counted_by_source(summary: dict) -> None:
    """Customers open the link in a notice, verify and act there (a promise, hardship and a plan, an
    opt-out) through CustomerPageFunction; the run counts every action by where it came from."""
    events, actions = summary["driver_events"], summary["actions_by_source"]
    assert events["page_visits"] >= 1 and events.get("page_visits_without_action", 0) == 0
    assert actions["page"] >= events["page_visits"] and actions["sms_reply"] >= 1 and actions["agent"] >= 1
    assert set(actions) == {"sms_reply", "email_reply", "page", "agent", "admin"}


def test_texts_to_mainland_numbers_go_through_the_domestic_provider_in_registered_templates(summary: dict) -> None:
    """Chinese customers' texts go through Alibaba Cloud SMS (the sandbox's stand-in checks the
    signature, the template code and its variables), everyone else's through End User Messaging."""
    providers = summary["messages_by_provider"]
    assert providers.get("aliyun", 0) >= 1 and providers.get("sms-voice", 0) >= 1
    assert providers["aliyun"] + providers["sms-voice"] == summary["notices"]["SMS"]


def test_a_shard_that_stops_moving_ends_the_run_with_an_error_not_a_hang(capfd: pytest.CaptureFixture[str]) -> None:
    # An allowance no shard can meet (its set-up alone takes longer) stands in for a deadlock.
    stalled = SimulationConfig(accounts=4, days=2, seed=7, stall_after=0.2)
    with pytest.raises(RuntimeError, match="a shard ended abruptly"):
        run_simulation(stalled, workers=2)
    assert "Timeout (0:00:00" in capfd.readouterr().err  # every thread's stack, printed by the shard itself


def test_a_shard_that_finished_leaves_no_watch_armed_in_the_pools_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pool keeps a finished shard's process for the next task: armed, it would kill itself
    (and break the run) while a slower shard still lived its days."""
    import faulthandler

    from sandbox import simulate

    watch: list[str] = []
    monkeypatch.setattr(faulthandler, "dump_traceback_later", lambda *a, **k: watch.append("armed"))
    monkeypatch.setattr(faulthandler, "cancel_dump_traceback_later", lambda: watch.append("disarmed"))

    class Finished:
        def __init__(self, config: SimulationConfig, progress: object) -> None:
            self.progress = progress

        def run_shard(self) -> str:
            self.progress(1, 1)  # type: ignore[operator]
            return "output"

    monkeypatch.setattr(simulate, "Simulation", Finished)
    days: list[tuple[int, int]] = []

    class Days:
        def put(self, item: tuple[int, int]) -> None:
            days.append(item)

    assert simulate._run_shard(SimulationConfig(accounts=4, days=1, seed=7), Days()) == "output"
    assert days == [(0, 1)] and watch == ["armed", "armed", "disarmed"]



def test_a_shard_that_fails_ends_the_run_at_once_with_its_own_error() -> None:
    """Not when the other shards have lived all their days, and not as a broken pool."""
    import queue
    from concurrent.futures import Future

    from sandbox.simulate import _gathered

    class Process:
        def __init__(self) -> None:
            self.terminated = False

        def terminate(self) -> None:
            self.terminated = True

    class Pool:
        _processes = {1: Process(), 2: Process()}

    living: Future[object] = Future()
    failing: Future[object] = Future()
    failing.set_exception(TimeoutError("executions did not park: [...]"))
    pool = Pool()
    with pytest.raises(TimeoutError, match="executions did not park"):
        _gathered(pool, [living, failing], queue.Queue(), days=60, progress=None)
    assert not living.done()  # still living its days: it was not waited for
    assert all(p.terminated for p in pool._processes.values())
