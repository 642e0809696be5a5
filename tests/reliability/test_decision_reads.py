"""A decision reads the same however long the customer's past: the open case and the person's
profile, never the account's closed cases (counted read units at botocore, as `make bench` does)."""

from __future__ import annotations

from bench.calls import plan_read_units


def test_a_plan_reads_as_much_for_an_account_with_twenty_closed_cases_as_for_a_fresh_one() -> None:
    figures = plan_read_units(closed_cases=8, entries_per_case=60)
    assert figures["history_entries_written"] == 480
    assert figures["fresh"]["sent"] == figures["long"]["sent"] == "SENT"
    assert figures["plan_read_units_long_history"] == figures["plan_read_units_fresh"]
    assert figures["long"]["reads"] == figures["fresh"]["reads"] == 2  # account with profile, the case
