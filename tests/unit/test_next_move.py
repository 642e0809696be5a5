"""A case waits once, until its next move: the planner's waits that time alone would end (the next
step's day, its contact window, a holiday) are folded into one, and never past an action."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from dunning.domain.models import Action, Notice, NoticeStatus, ReasonCode
from dunning.domain.planning import MAX_WAIT, Facts, next_move, quiet
from tests.unit.test_planning import POLICY, STANDARD, account, case, ny

LADDER = [s.id for s in STANDARD.steps if not s.pre_due]


def facts(due: date, done: list[str]) -> Facts:
    return Facts(case(steps_done=done), account(due_date=due), [], [], POLICY, STANDARD)


def test_after_the_first_notice_the_case_waits_past_a_holiday_in_one_wait() -> None:
    due = date(2026, 11, 23)  # sms_3 falls on Thanksgiving, 26 November
    f = facts(due, ["first_notice"])
    now = ny(date(2026, 11, 24), 10)
    first = f.decide(now)
    assert first.decision.action is Action.WAIT and first.decision.reasons == [ReasonCode.NEXT_STEP_LATER]
    move = next_move(f, now, first.decision.wait_until)  # type: ignore[arg-type]
    assert move is not None
    at, reasons = move
    assert at == ny(date(2026, 11, 27), 8)  # the day after the holiday, as the window opens
    assert ReasonCode.HOLIDAY in reasons
    assert f.decide(at).decision.step_id == "sms_3"


def test_a_step_due_now_is_no_wait() -> None:
    f = facts(date(2026, 11, 2), [])
    now = ny(date(2026, 11, 3), 10)
    assert next_move(f, now, now) is None and f.decide(now).decision.action is Action.SEND


def test_a_sent_notice_makes_the_next_step_the_next_move() -> None:
    """What the escalation asks after a send: the case as read plus the notice that just went."""
    f = facts(date(2026, 11, 2), [])
    now = ny(date(2026, 11, 3), 10)
    sent = Notice(notice_id=Notice.id_for("acc-1-20261102", "first_notice"), case_id="acc-1-20261102",
                  account_id="acc-1", step_id="first_notice", channel=f.decide(now).decision.channel,
                  template_id="first_notice", template_version="1", locale="en-US", body="(the notice)",
                  status=NoticeStatus.SENT, created_at=now, sent_at=now)
    after = Facts(f.case, f.account, [], [sent], POLICY, STANDARD)
    move = next_move(after, now, now)
    assert move is not None and move[0] == ny(date(2026, 11, 5), 8)  # sms_3's day, as the window opens
    assert after.decide(move[0]).decision.step_id == "sms_3"


@settings(max_examples=40, deadline=None)
@given(due=st.dates(date(2026, 1, 5), date(2027, 12, 20)), done=st.integers(0, len(LADDER) - 2),
       hours=st.integers(0, 24 * 45))
def test_folding_never_passes_a_move(due: date, done: int, hours: int) -> None:
    """Every instant before the next move is a wait that changes nothing, and the move itself is not."""
    f = facts(due, LADDER[:done])
    now = datetime.combine(due, time(), tzinfo=UTC) + timedelta(hours=hours)
    move = next_move(f, now, now)
    if move is None:
        assert not quiet(f.decide(now))
        return
    at, _ = move
    assert now < at <= now + MAX_WAIT
    assert at == now + MAX_WAIT or not quiet(f.decide(at))
    step = max((at - now) / 40, timedelta(minutes=30))
    probe = now
    while probe < at:
        assert quiet(f.decide(probe)), probe
        probe += step
