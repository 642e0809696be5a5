"""`dunning simulate` warns before a portfolio whose shards would run out of memory maps."""

from __future__ import annotations

from sandbox.simulate_cli import map_count_warning


def test_a_portfolio_past_the_default_map_limit_is_warned_about_with_the_command_that_fixes_it() -> None:
    warning = map_count_warning(50_000, 2, 65530)
    assert warning is not None
    assert "75,000 memory maps" in warning and "65,530" in warning
    assert "sysctl -w vm.max_map_count=262144" in warning


def test_make_runs_size_5000_accounts_and_a_raised_limit_say_nothing() -> None:
    assert map_count_warning(500, 2, 65530) is None  # make run
    assert map_count_warning(5000, 2, 65530) is None  # one thread per parked execution
    assert map_count_warning(50_000, 2, 1_048_576) is None
    assert map_count_warning(50_000, 2, None) is None  # not Linux: no limit to read


def test_more_workers_spread_the_maps() -> None:
    assert map_count_warning(50_000, 4, 65530) is None
