"""A case's ledger built by hand, for tests of what the history says (summary, conditions, planner)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from dunning.domain.case_summary import CaseSummary, summarise_case
from dunning.domain.ledger import new_entry
from dunning.domain.models import Account, Case, EntryKind, LedgerEntry

DUE = date(2026, 11, 2)  # a Monday
OPENED = datetime(2026, 11, 3, 11, tzinfo=UTC)


def day(n: float, hour: int = 16) -> datetime:
    """`n` days past due, at `hour` UTC (inside the New York contact window)."""
    return datetime(DUE.year, DUE.month, DUE.day, hour, tzinfo=UTC) + timedelta(days=n)


def account(**kw: Any) -> Account:
    """The functions' sample account (tests.functions.conftest) as `acc-1`, due on DUE."""
    from tests.functions.conftest import make_account

    return make_account(**({"account_id": "acc-1", "due_date": DUE} | kw))


def case(**kw: Any) -> Case:
    base: dict[str, Any] = dict(case_id="acc-1-20261102", account_id="acc-1", opened_at=OPENED,
                                strategy_id="standard", variant="champion")
    base.update(kw)
    return Case.model_validate(base)


class History:
    """Ledger entries of one case, added in order."""

    def __init__(self, case_id: str = "acc-1-20261102") -> None:
        self.case_id = case_id
        self.entries: list[LedgerEntry] = []
        self.add(EntryKind.CASE_OPENED, OPENED)

    def add(self, kind: EntryKind, at: datetime, **data: Any) -> History:
        prev = self.entries[-1] if self.entries else None
        self.entries.append(new_entry(self.case_id, prev, at, kind, data))
        return self

    def notice(self, at: datetime, step: str, channel: str = "EMAIL", status: str = "SENT") -> History:
        return self.add(EntryKind.NOTICE, at, step_id=step, channel=channel, template_id="overdue_reminder",
                        status=status)

    def no_answer(self, at: datetime) -> History:
        return self.add(EntryKind.CALL_OUTCOME, at, outcome="NO_ANSWER")

    def reply(self, at: datetime, intent: str) -> History:
        return self.add(EntryKind.REPLY, at, intent=intent, channel="SMS")

    def promise(self, at: datetime) -> History:
        self.reply(at, "PROMISE")
        return self.add(EntryKind.PROMISE, at, promised_on=(at + timedelta(days=5)).date().isoformat())

    def hardship_call(self, at: datetime) -> History:
        self.add(EntryKind.CALL_OUTCOME, at, outcome="HARDSHIP")
        return self.add(EntryKind.PLAN, at, plan_id=f"P{at:%Y%m%d}", status="ACTIVE")

    def broken(self, at: datetime, what: str = "PROMISE_BROKEN") -> History:
        return self.add(EntryKind.DECISION, at, action="SEND", reasons=["STEP_DUE"], details=[what])

    def payment(self, at: datetime, amount: str = "50.00") -> History:
        return self.add(EntryKind.PAYMENT, at, payment_id=f"pay-{at:%Y%m%d%H}", amount=amount, currency="USD",
                        received_at=at.strftime("%Y-%m-%dT%H:%M:%SZ"))

    def summary(self, now: datetime, c: Case | None = None, a: Account | None = None) -> CaseSummary:
        return summarise_case(c or case(), self.entries, now, account=a or account())
