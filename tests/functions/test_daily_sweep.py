"""DailySweep on moto: overdue accounts turn DELINQUENT from the sparse PendingIndex alone, whenever
they fell due and however they arrived; missed days and late files are caught up once, re-runs do
nothing, and pre-due reminders go out once."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
import time_machine

from dunning.domain.models import Account, AccountStatus, Contact
from dunning.domain.policy import assign_variant, default_policy
from tests.support.aws import FakeContext, fresh_function, load_event, moto_env, record_calls, sent_sms

SWEEP_DAY = "2026-11-28"
MID_MORNING_NY = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)  # 10:00 in New York: inside the window
NIGHT_NY = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)  # 01:00 in New York: outside it


def _not_holdout(prefix: str) -> str:
    policy = default_policy()
    return next(f"{prefix}{i}" for i in range(100) if not assign_variant(policy, f"{prefix}{i}").holdout)


def _account(account_id: str, due: str | None, owed: str = "250.00",
             status: AccountStatus = AccountStatus.CURRENT) -> Account:
    return Account(
        account_id=account_id, customer_name="Alex Morgan", account_number="4000123412341234",
        contact=Contact(phone="+12125551234", email="alex@example.com"), locale="en-US",
        time_zones=["America/New_York"], jurisdiction="US", currency="USD", principal_due=Decimal(owed),
        due_date=date.fromisoformat(due) if due else None, status=status)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    monkeypatch.setenv("SWEEP_TIME_ZONE", "America/New_York")
    with moto_env(monkeypatch) as env:
        app = fresh_function("daily_sweep")
        rt = app.ports()
        calls = record_calls(rt.client("dynamodb"))
        yield {**env, "app": app, "rt": rt, "calls": calls}
        app._ports = None


def _sweep(env: dict[str, Any], day: str | None = SWEEP_DAY) -> dict[str, Any]:
    event = copy.deepcopy(load_event("daily_sweep/scheduled"))
    if day is None:
        event.pop("sweep_date")
    else:
        event["sweep_date"] = day
    return env["app"].lambda_handler(event, FakeContext())


def _status(env: dict[str, Any], account_id: str) -> AccountStatus:
    return env["rt"].accounts.get(account_id).status


def _seed(env: dict[str, Any], *accounts: Account) -> None:
    for account in accounts:
        env["rt"].accounts.put(account, None)


def test_marks_every_account_past_due_and_not_yet_delinquent_reading_only_the_index(env: dict[str, Any]) -> None:
    _seed(env,
          _account("DUE-YESTERDAY", "2026-11-27"),
          _account("DUE-TODAY", "2026-11-28"),
          _account("ALREADY-LATE", "2026-11-27", status=AccountStatus.DELINQUENT),
          _account("NOTHING-OWED", "2026-11-27", owed="0"),
          _account("DUE-LAST-WEEK", "2026-11-20"))  # arrived CURRENT with a due date long past
    env["calls"].clear()

    with time_machine.travel(MID_MORNING_NY, tick=False):
        out = _sweep(env)

    assert _status(env, "DUE-YESTERDAY") is AccountStatus.DELINQUENT
    assert _status(env, "DUE-LAST-WEEK") is AccountStatus.DELINQUENT  # however it arrived
    assert _status(env, "DUE-TODAY") is AccountStatus.CURRENT
    assert _status(env, "NOTHING-OWED") is AccountStatus.CURRENT
    assert (out["dates_swept"], out["accounts_due"], out["marked_delinquent"]) == (1, 2, 2)
    # what was read is what was marked: the index holds no delinquent, paid or future account
    assert out["items_read"] == out["accounts_due"]
    assert "Scan" not in env["calls"]
    assert env["calls"].count("Query") == 8 + 1  # one per PendingIndex shard, and the pre-due date
    assert _status(env, "ALREADY-LATE") is AccountStatus.DELINQUENT
    assert env["rt"].accounts.get("DUE-YESTERDAY").version == 2


def test_three_missed_sweep_days_and_a_late_file_are_all_caught_up_once(env: dict[str, Any]) -> None:
    _seed(env, _account("D27", "2026-11-27"))
    with time_machine.travel(MID_MORNING_NY, tick=False):
        _sweep(env, "2026-11-28")  # the last run that happened: through the 27th
    # The runs of the 29th, 30th and 1st never happened; accounts fell due on each of those days,
    # and a late file brought in a loan that fell due before the last run, still CURRENT.
    _seed(env, _account("D28", "2026-11-28"), _account("D29", "2026-11-29"), _account("D30", "2026-11-30"),
          _account("D01", "2026-12-01"), _account("LATE-FILE", "2026-11-20"), _account("D02", "2026-12-02"))
    with time_machine.travel(datetime(2026, 12, 2, 15, 0, tzinfo=UTC), tick=False):
        caught_up = _sweep(env, "2026-12-02")
        env["calls"].clear()
        rerun = _sweep(env, "2026-12-02")

    assert (caught_up["dates_swept"], caught_up["marked_delinquent"], caught_up["caught_up"]) == (4, 5, 1)
    marked = ("D27", "D28", "D29", "D30", "D01", "LATE-FILE")
    assert all(_status(env, a) is AccountStatus.DELINQUENT for a in marked)
    assert _status(env, "D02") is AccountStatus.CURRENT  # due today: not overdue yet
    # once: each account went CURRENT -> DELINQUENT in one write (version 1 -> 2), none twice
    assert [env["rt"].accounts.get(a).version for a in marked] == [2] * len(marked)
    assert (rerun["dates_swept"], rerun["accounts_due"], rerun["marked_delinquent"]) == (0, 0, 0)
    assert "UpdateItem" not in env["calls"] and "Scan" not in env["calls"]


def test_missed_day_is_caught_up_and_a_rerun_does_nothing(env: dict[str, Any]) -> None:
    _seed(env, _account("D27", "2026-11-27"), _account("D28", "2026-11-28"), _account("D29", "2026-11-29"),
          _account("D30", "2026-11-30"))
    with time_machine.travel(MID_MORNING_NY, tick=False):
        _sweep(env, "2026-11-28")
        # the run of the 29th never happened
        caught_up = _sweep(env, "2026-11-30")
        env["calls"].clear()
        rerun = _sweep(env, "2026-11-30")

    assert (caught_up["dates_swept"], caught_up["marked_delinquent"]) == (2, 2)
    assert [_status(env, a) for a in ("D27", "D28", "D29", "D30")] == [
        AccountStatus.DELINQUENT, AccountStatus.DELINQUENT, AccountStatus.DELINQUENT, AccountStatus.CURRENT]
    assert (rerun["dates_swept"], rerun["marked_delinquent"]) == (0, 0)
    assert "UpdateItem" not in env["calls"] and "Scan" not in env["calls"]


def test_default_sweep_date_is_today_in_the_sweep_time_zone(env: dict[str, Any]) -> None:
    _seed(env, _account("D27", "2026-11-27"))
    # 03:00 UTC on the 29th is still the 28th in New York: the 27th is the newly overdue date.
    with time_machine.travel(datetime(2026, 11, 29, 3, 0, tzinfo=UTC), tick=False):
        out = _sweep(env, None)
    assert out["sweep_date"] == "2026-11-28" and out["marked_delinquent"] == 1


def test_pre_due_reminder_is_sent_once(env: dict[str, Any]) -> None:
    account_id = _not_holdout("SOON-")
    _seed(env, _account(account_id, "2026-12-01"), _account("LATER", "2026-12-02"))

    env["calls"].clear()
    with time_machine.travel(MID_MORNING_NY, tick=False):
        first = _sweep(env)
        calls = list(env["calls"])
        second = _sweep(env)

    assert first["reminders_sent"] == 1 and second["reminders_sent"] == 0
    # Reads: the sweep state, the PendingIndex (8 shards) and the DueIndex for the pre-due date, the
    # account (once: the notice path is handed the consistent read the sweep made), the pre-due
    # record before it is opened, when it is sent (its header and tally: no Query of its items)
    # and before it is closed, the customer's profile.
    # Writes: opening the record, the at-most-once gate (with the customer's contacts), the
    # outcome, closing the record, and the sweep state.
    assert sorted(calls) == ["GetItem"] * 6 + ["PutItem"] + ["Query"] * 9 + ["TransactWriteItems"] * 4
    assert len(sent_sms()) == 1
    assert _status(env, account_id) is AccountStatus.CURRENT
    history = env["rt"].collections.history(account_id)
    (case_id, record), = history.cases.items()
    assert case_id == f"PRE-{account_id}-20261201" and record.case.status.value == "CLOSED"
    assert [n.step_id for n in history.notices[case_id]] == ["pre_due_3"]


def test_pre_due_reminder_outside_the_window_waits_for_a_later_run(env: dict[str, Any]) -> None:
    account_id = _not_holdout("SOON-")
    _seed(env, _account(account_id, "2026-12-01"))

    with time_machine.travel(NIGHT_NY, tick=False):
        early = _sweep(env)
    assert (early["reminders_sent"], early["reminders_deferred"]) == (0, 1) and sent_sms() == []

    with time_machine.travel(MID_MORNING_NY, tick=False):
        later = _sweep(env)
    assert later["reminders_sent"] == 1 and len(sent_sms()) == 1
