"""The sandbox's approver and specialist decide from the case summary, not by rubber stamp."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from dunning.domain.models import EntryKind
from sandbox.reviewers import approver_decision, legal_figures, specialist_decision
from tests.support.case_history import History, day

NOW = datetime(2026, 12, 14, 15, tzinfo=UTC)


def z(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_the_approver_approves_a_customer_who_never_answered() -> None:
    approve, why = approver_decision({"engagement": "NEVER_REACHED"}, NOW)
    assert approve and "never_reached" in why


def test_the_approver_rejects_hardship_recent_engagement_and_an_open_dispute() -> None:
    assert approver_decision({"hardship_declared_at": z(NOW - timedelta(days=60))}, NOW)[0] is False
    assert approver_decision({"last_payment_at": z(NOW - timedelta(days=3))}, NOW)[0] is False
    assert approver_decision({"last_right_party_contact_at": z(NOW - timedelta(days=13))}, NOW)[0] is False
    assert approver_decision({"dispute_open": True}, NOW)[0] is False
    assert approver_decision({"last_right_party_contact_at": z(NOW - timedelta(days=20))}, NOW)[0] is True


def test_the_specialist_keeps_hardship_out_of_legal_and_lets_long_silence_go_ahead() -> None:
    assert specialist_decision({"hardship_declared_at": z(NOW)}, NOW)[0] == "NO_LEGAL_REVIEW"
    assert specialist_decision({"last_right_party_contact_at": z(NOW - timedelta(days=10))}, NOW)[0] == \
        "NO_LEGAL_REVIEW"
    # a broken promise and a month of silence: still worked by the specialist
    assert specialist_decision({"last_right_party_contact_at": z(NOW - timedelta(days=37))}, NOW)[0] == \
        "NO_LEGAL_REVIEW"
    assert specialist_decision({"last_right_party_contact_at": z(NOW - timedelta(days=46))}, NOW)[0] == \
        "LEGAL_REVIEW"


def items(h: History, account_id: str = "acc-1") -> list[dict[str, Any]]:
    return [{"pk": f"ACCOUNT#{account_id}", "sk": f"CASE#{e.case_id}#LEDGER#{e.seq}", "type": "LEDGER",
             **e.model_dump(mode="json")} for e in h.entries]


def test_the_run_counts_referrals_by_engagement_and_flags_hardship_referred_without_a_specialist() -> None:
    never = History("acc-1-20261102").add(EntryKind.CASE_CLOSED, day(41), status="REFERRED_TO_LEGAL")
    allowed = (History("acc-2-20261102").hardship_call(day(7))
               .add(EntryKind.SPECIALIST, day(40), event="DECIDED", decision="LEGAL_REVIEW")
               .add(EntryKind.CASE_CLOSED, day(41), status="REFERRED_TO_LEGAL"))
    unallowed = (History("acc-3-20261102").hardship_call(day(7))
                 .add(EntryKind.CASE_CLOSED, day(41), status="REFERRED_TO_LEGAL"))
    cured = History("acc-4-20261102").payment(day(5)).add(EntryKind.CASE_CLOSED, day(5), status="RESOLVED")
    figures = legal_figures([*items(never, "acc-1"), *items(allowed, "acc-2"), *items(unallowed, "acc-3"),
                             *items(cured, "acc-4")])
    assert figures["legal_referrals_by_engagement"] == {"NEVER_REACHED": 1, "ENGAGED": 0, "BROKE_ARRANGEMENTS": 0,
                                                        "HARDSHIP": 2}
    assert figures["hardship_referred_without_specialist_decision"] == 1
    assert figures["engaged_share_of_referrals"] == round(2 / 3, 4)
    assert figures["by_variant"]["unassigned"]["cure_rate"] == 0.25
