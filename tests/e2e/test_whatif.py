"""`dunning simulate --compare` and `--portfolio` end to end: tiny runs on the local sandbox."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from dunning.domain.policy import default_policy
from sandbox.cli import main

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
METRICS = ["cure rate", "days to cure", "messages per cure", "cost per cure", "opt-outs",
           "complaints and disputes", "legal referrals", "compliance deferrals"]


def _candidate(tmp_path: Path) -> Path:
    """The bundled policy with three grace days before the first contact, as a new version."""
    text = (ROOT / "shared/dunning/policies/default.yaml").read_text(encoding="utf-8")
    changed = re.sub(r'^version: ".*"$', 'version: "2099-01-01.1"', text, count=1, flags=re.M).replace(
        "grace_days: 0\n", "grace_days: 3\n", 1)
    assert changed != text
    path = tmp_path / "candidate.yaml"
    path.write_text(changed, encoding="utf-8")
    return path


def test_compare_lives_the_same_portfolio_under_both_policies_and_prints_intervals(tmp_path: Path) -> None:
    out = tmp_path / "compare.json"
    assert main(["simulate", "--accounts", "12", "--days", "6", "--workers", "1", "--compare",
                 "--policy", str(_candidate(tmp_path)), "--json", str(out)]) == 0
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["policy_versions"] == {"current": [default_policy().version], "candidate": ["2099-01-01.1"]}
    assert [r["metric"] for r in result["rows"]] == METRICS
    assert result["current"]["accounts"] == result["candidate"]["accounts"] == 12
    assert result["current"]["audit"]["violations"] == result["candidate"]["audit"]["violations"] == 0
    rows = {r["metric"]: r for r in result["rows"]}
    # Three days of grace keep the first notices back: fewer messages go out in six days.
    assert sum(result["candidate"]["notices"].values()) < sum(result["current"]["notices"].values())
    for side in ("current", "candidate"):
        cure = rows["cure rate"][side]
        assert cure["low"] <= cure["value"] <= cure["high"]
    assert rows["cost per cure"]["current"]["value"] > 0


def test_a_refused_candidate_is_named_before_anything_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nstrategies: nonsense\n", encoding="utf-8")
    assert main(["simulate", "--compare", "--policy", str(bad)]) == 2
    assert "refused" in capsys.readouterr().err


def test_a_lenders_own_file_is_the_portfolio(tmp_path: Path) -> None:
    file = tmp_path / "accounts.csv"
    file.write_text(
        "account_id,customer_name,account_number,phone,email,locale,time_zones,jurisdiction,currency,"
        "principal_due,interest_due,fees_due,due_date,status\n"
        "LN-1,Dana Reyes,400012340001,+12025550101,dana@mail.example.com,en-US,America/New_York,US,USD,"
        "250.00,5.00,0,2026-08-28,DELINQUENT\n"
        "LN-2,Sam Ortiz,400012340002,+13125550102,sam@mail.example.com,en-US,America/Chicago,US,USD,"
        "400.00,0,25.00,2026-08-30,DELINQUENT\n"
        "LN-3,Paid Up,400012340003,+14155550103,paid@mail.example.com,en-US,America/Los_Angeles,US,USD,"
        "0,0,0,,CURRENT\n"
        "LN-4,Bad Zone,400012340004,+14155550104,bad@mail.example.com,en-US,Nowhere/Zone,US,USD,"
        "100.00,0,0,2026-08-30,CURRENT\n", encoding="utf-8")
    out = tmp_path / "summary.json"
    assert main(["simulate", "--portfolio", str(file), "--start", "2026-09-01", "--days", "3", "--workers", "1",
                 "--json", str(out)]) == 0
    summary = json.loads(out.read_text(encoding="utf-8"))
    assert summary["accounts"] == 2 and summary["cases_opened"] == 2  # the two owing, valid accounts
    assert summary["audit"]["violations"] == 0
    assert sum(summary["notices"].values()) >= 2
