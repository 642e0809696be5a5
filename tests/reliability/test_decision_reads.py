"""A decision reads the same however long the customer's past: the person's profile and the open
case's header (with its tally), never the account's closed cases nor the case's ledger (counted
read units at botocore, as `make bench` does). So does recording what SES says about a notice,
and applying a payment."""

from __future__ import annotations

from bench.calls import plan_read_units


def test_a_plan_reads_as_much_for_an_account_with_twenty_closed_cases_as_for_a_fresh_one() -> None:
    figures = plan_read_units(closed_cases=8, entries_per_case=60, open_case_entries=120)
    assert figures["history_entries_written"] == 480
    assert figures["fresh"]["sent"] == figures["long"]["sent"] == "SENT"
    assert figures["plan_read_units_long_history"] == figures["plan_read_units_fresh"]
    # nor with the open case's own ledger: 120 entries and 20 notices with their texts (was 31 units)
    assert figures["open_case_entries_written"] == 119
    assert figures["plan_read_units_long_open_case"] == figures["plan_read_units_fresh"]
    # one BatchGetItem: the account, the person's profile and the case's header with its tally
    assert figures["long"]["reads"] == figures["fresh"]["reads"] == figures["lived"]["reads"] == 1
    # SES's Delivery event for the notice: the message's lookup, then the case's header and the
    # notice (was a Query of the account's whole partition, growing with it: docs/performance.md 0)
    for label in ("fresh", "long", "lived"):
        assert figures[label]["delivery"] == "RECORDED" and figures[label]["delivery_reads"] == 2
    assert figures["delivery_read_units_long_history"] == figures["delivery_read_units_fresh"]
    assert figures["delivery_read_units_long_open_case"] == figures["delivery_read_units_fresh"]
    # A part payment: the account lists its live case, so the closed ones are never read (was a
    # Query of the whole partition: 288 units with twenty closed cases against 7 for a fresh one).
    for label in ("fresh", "long", "lived"):
        assert figures[label]["payment"] == "APPLIED"
    assert figures["long"]["payment_reads"] == figures["fresh"]["payment_reads"]
    assert figures["payment_read_units_long_history"] == figures["payment_read_units_fresh"]
    # nor the open case's ledger: the header's tally keeps the ids of the payments it recorded
    # (was the case's whole ledger: 66 units for 240 entries, 31 for these 120)
    assert figures["lived"]["payment_reads"] == figures["fresh"]["payment_reads"]
    assert figures["payment_read_units_long_open_case"] == figures["payment_read_units_fresh"]
