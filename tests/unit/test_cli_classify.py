"""`dunning classify TEXT --zone ZONE [--now ISO-INSTANT] --json`, driven through main(argv)."""

from __future__ import annotations

import json

import pytest

from sandbox.cli import main

NOW = "2026-11-25T15:00:00Z"  # Wednesday 10:00 in New York, 23:00 in Shanghai


def classify_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, object]:
    assert main(["classify", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_a_promise_prints_its_date_and_amount_as_a_string(capsys: pytest.CaptureFixture[str]) -> None:
    out = classify_json(capsys, "payday on the 15th, I'll send $150.50", "--zone", "America/New_York", "--now", NOW)

    assert out["intent"] == "PROMISE"
    assert out["promise_date"] == "2026-12-15"
    assert out["amount"] == "150.50"
    assert out["matched"] == "promise:en:pay+en:day-of-month"


def test_dates_are_the_customers_local_dates(capsys: pytest.CaptureFixture[str]) -> None:
    # 15:00Z is already 23:00 in Shanghai: "tomorrow" is the 26th there, as in New York, but "今天" is the 25th
    assert classify_json(capsys, "明天还五百", "--zone", "Asia/Shanghai", "--now", NOW)["promise_date"] == "2026-11-26"
    late = "2026-11-25T17:00:00Z"  # 01:00 on the 26th in Shanghai, still the 25th in New York
    assert classify_json(capsys, "今天还", "--zone", "Asia/Shanghai", "--now", late)["promise_date"] == "2026-11-26"
    assert classify_json(capsys, "I'll pay today", "--zone", "America/New_York", "--now", late)[
        "promise_date"] == "2026-11-25"


def test_a_slashed_date_follows_the_customers_convention(capsys: pytest.CaptureFixture[str]) -> None:
    us = classify_json(capsys, "I'll pay on 12/10", "--zone", "America/New_York", "--now", NOW)
    uk = classify_json(capsys, "I'll pay on 12/10", "--zone", "Europe/London", "--now", NOW)

    assert (us["promise_date"], uk["promise_date"]) == ("2026-12-10", "2027-10-12")


def test_a_stop_prints_no_promise_and_names_the_rule(capsys: pytest.CaptureFixture[str]) -> None:
    out = classify_json(capsys, "quit texting me, I already paid", "--zone", "America/Chicago", "--now", NOW)

    assert out == {
        "intent": "STOP", "promise_date": None, "amount": None, "matched": "en:stop-contacting",
        "secondary": ["PAID"], "confidence": "high", "language": "en",
    }


def test_without_json_one_readable_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["classify", "月底一定还清", "--zone", "Asia/Shanghai", "--now", NOW]) == 0
    assert capsys.readouterr().out.strip() == "PROMISE on 2026-11-30  [promise:zh:pay+zh:month-part, high confidence]"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["STOP", "--zone", "Mars/Olympus"], "unknown IANA time zone"),
        (["STOP", "--zone", "UTC", "--now", "2026-11-25T15:00:00"], "time zone"),
    ],
)
def test_a_bad_zone_or_instant_is_refused(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["classify", *argv]) == 2
    err = capsys.readouterr()
    assert message in err.err and err.out == ""
