"""The CLI on a fresh clone: output folders are made, and progress is plain lines when not on a terminal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sandbox.cli import main


def test_simulate_creates_the_folders_it_writes_into_and_prints_plain_progress(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    summary = tmp_path / "not" / "yet" / "summary.json"
    report = tmp_path / "reports" / "run.html"

    code = main(["simulate", "--accounts", "3", "--days", "2", "--seed", "5", "--workers", "1",
                 "--json", str(summary), "--report", str(report)])

    assert code == 0
    assert json.loads(summary.read_text("utf-8"))["accounts"] == 3
    assert report.read_text("utf-8").lower().startswith("<!doctype html>")
    out, err = capsys.readouterr()
    assert "legal referrals by engagement" in out  # the referral split is on the screen, not only in the JSON
    assert "simulating: day 2/2" in err
    assert "\x1b[" not in err  # no cursor movement or colour codes in a log file
    assert "Feature Toggle" not in err


def test_render_creates_the_folder_of_its_html(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "previews" / "first.html"

    code = main(["render", "--template", "first_notice", "--locale", "en-US", "--channel", "email",
                 "--out", str(out)])

    assert code == 0
    assert "<html" in out.read_text("utf-8").lower()
    assert f"HTML written to {out}" in capsys.readouterr().out
