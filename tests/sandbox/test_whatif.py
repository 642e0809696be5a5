"""The what-if's arithmetic and a lender's file as a portfolio, without living a run."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from sandbox.portfolio import Persona, from_account_file, to_csv
from sandbox.whatif import AccountOutcome, compare_outcomes

HEADER = ("account_id,customer_name,account_number,product,risk,phone,email,locale,time_zones,jurisdiction,"
          "currency,principal_due,interest_due,fees_due,due_date,status,opted_out,time_barred\n")


def _outcome(n: int, cured: bool, messages: int, cost: float, opt_outs: int = 0) -> AccountOutcome:
    return AccountOutcome(f"A{n:03d}", cured, 5.0 if cured else None, messages, cost, opt_outs, 0,
                          0 if cured else 1, 2)


def test_a_candidate_that_cures_more_shows_a_positive_difference_whose_interval_holds_it() -> None:
    current = {f"A{n:03d}": _outcome(n, n % 4 == 0, 4, 0.04) for n in range(200)}  # 25% cured
    candidate = {f"A{n:03d}": _outcome(n, n % 2 == 0, 3, 0.03, opt_outs=n % 10 == 0) for n in range(200)}  # 50%
    rows = {r.metric: r for r in compare_outcomes(current, candidate, resamples=300)}
    cure = rows["cure rate"]
    assert (cure.current.value, cure.candidate.value, cure.difference.value) == (25.0, 50.0, 25.0)
    assert cure.difference.low is not None and cure.difference.high is not None
    assert 0 < cure.difference.low < 25.0 < cure.difference.high
    assert rows["messages per cure"].current.value == 16.0 and rows["messages per cure"].candidate.value == 6.0
    assert rows["cost per cure"].candidate.value == 0.06
    assert rows["opt-outs"].current.value == 0.0 and rows["opt-outs"].candidate.value == 10.0
    assert rows["legal referrals"].difference.value == -25.0
    assert rows["compliance deferrals"].current.value == 200.0
    assert [r.metric for r in rows.values()] == [
        "cure rate", "days to cure", "messages per cure", "cost per cure", "opt-outs",
        "complaints and disputes", "legal referrals", "compliance deferrals"]
    # The same seed draws the same resamples: the comparison is repeatable.
    assert compare_outcomes(current, candidate, resamples=300) == list(rows.values())


def test_an_account_the_candidate_kept_out_of_collections_counts_as_not_cured() -> None:
    current = {"A001": _outcome(1, True, 2, 0.02), "A002": _outcome(2, True, 2, 0.02)}
    candidate = {"A001": _outcome(1, True, 2, 0.02)}
    rows = {r.metric: r for r in compare_outcomes(current, candidate, resamples=50)}
    assert rows["cure rate"].current.value == 100.0 and rows["cure rate"].candidate.value == 50.0


def test_no_cure_means_no_days_or_cost_per_cure_rather_than_a_number() -> None:
    none = {"A001": _outcome(1, False, 3, 0.03)}
    rows = {r.metric: r for r in compare_outcomes(none, none, resamples=20)}
    assert rows["days to cure"].current.value is None and rows["cost per cure"].difference.value is None


def test_a_lenders_file_is_read_as_import_accounts_reads_it_and_keeps_its_own_status(tmp_path: Path) -> None:
    path = tmp_path / "accounts.csv"
    path.write_text(HEADER
                    + "L-1,Dana Reyes,400012340001,personal_loan,high,+12025550101,dana@mail.example.com,en-US,"
                      "America/New_York,US,USD,250.00,5.00,0,2026-08-28,DELINQUENT,SMS,false\n"
                    + "L-2,王伟,400012340002,personal_loan,standard,+8613800000002,,zh-CN,Asia/Shanghai,CN,CNY,"
                      "3000.00,30.00,0,2026-09-02,CURRENT,,true\n"
                    + "L-3,Paid Up,400012340003,personal_loan,standard,+12025550103,,en-US,America/Chicago,US,USD,"
                      "0,0,0,,CURRENT,,false\n"
                    + "L-4,Bad Row,400012340004,personal_loan,standard,+12025550104,,en-US,Nowhere/Zone,US,USD,"
                      "100.00,0,0,2026-09-01,CURRENT,,false\n", encoding="utf-8")
    loaded = from_account_file(path, seed=7)
    assert (loaded.rows, loaded.rejected, loaded.not_owing) == (4, 1, 1)
    first, second = loaded.accounts
    assert (first.account_id, first.status, first.risk, first.opted_out) == ("L-1", "DELINQUENT", "high", ("SMS",))
    assert (second.email, second.time_barred, second.amount_due) == ("", True, Decimal("3030.00"))
    assert all(isinstance(a.persona, Persona) for a in loaded.accounts)
    assert [a.persona for a in from_account_file(path, seed=7).accounts] == [a.persona for a in loaded.accounts]
    # What the sandbox drops in IncomingBucket says what the lender's file said.
    written = to_csv(loaded.accounts, as_of=date(2026, 9, 1)).decode()
    assert ",DELINQUENT,SMS,false" in written and ",CURRENT,,true" in written


def test_a_deferral_taken_straight_after_a_send_counts_as_one_deferral() -> None:
    """The escalation waits past the next step's contact window straight after a send; no WAIT
    decision records it, the notice's `then` does, and the what-if counts it as a deferral."""
    from sandbox.results import SimulationResult
    from sandbox.whatif import outcomes

    def entry(seq: int, kind: str, data: dict[str, object]) -> dict[str, object]:
        return {"case_id": "A001-20261102", "seq": seq, "at": f"2026-11-03T15:00:0{seq}Z", "kind": kind,
                "data": data, "prev_hash": "0" * 64, "hash": f"{seq}" * 64}

    ledger = [
        entry(0, "CASE_OPENED", {"strategy_id": "standard", "variant": "champion"}),
        entry(1, "DECISION", {"action": "WAIT", "reasons": ["NEXT_STEP_LATER"]}),  # not a compliance wait
        entry(2, "DECISION", {"action": "SEND", "step_id": "sms_3", "reasons": ["STEP_DUE"]}),
        entry(3, "NOTICE", {"step_id": "sms_3", "status": "SENT", "then": ["NEXT_STEP_LATER", "CONTACT_WINDOW"]}),
        entry(4, "DECISION", {"action": "WAIT", "reasons": ["HOLIDAY"]}),
    ]
    result = SimulationResult(summary={}, messages=[], ledger=ledger, cases=[], accounts=[], replies=[], daily=[])
    assert outcomes(result)["A001"].deferrals == 2
