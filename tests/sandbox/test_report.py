"""`dunning simulate --report`: the page built from a run's tables, checked against hand counts."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dunning.domain.ledger import new_entry
from dunning.domain.models import EntryKind, LedgerEntry
from sandbox.providers import ProviderMessage
from sandbox.report import simulation_report, write_report
from sandbox.results import SimulationResult

DUE = date(2026, 9, 2)


def at(day: int, hour: int = 15) -> datetime:
    """``day`` days past due, at ``hour`` UTC."""
    return datetime(DUE.year, DUE.month, DUE.day, hour, tzinfo=UTC) + timedelta(days=day)


def case(account_id: str, variant: str, *events: tuple[EntryKind, int, dict[str, Any]],
         case_id: str | None = None, opened: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """One case's ledger as CollectionsTable items (table keys and all)."""
    case_id = case_id or f"{account_id}-{DUE:%Y%m%d}"
    entries: list[LedgerEntry] = []
    first = opened or {"strategy_id": "standard", "variant": variant, "policy_version": "p1",
                       "due_date": DUE.isoformat(), "days_past_due_at_open": 1}
    for kind, day, data in ((EntryKind.CASE_OPENED, 1, first), *events):
        entries.append(new_entry(case_id, entries[-1] if entries else None, at(day), kind, data))
    return [{**e.model_dump(mode="json"), "pk": f"ACCOUNT#{account_id}", "type": "LEDGER",
             "sk": f"CASE#{case_id}#LEDGER#{e.seq:06d}"} for e in entries]


def notice(day: int, channel: str, status: str = "SENT") -> tuple[EntryKind, int, dict[str, Any]]:
    return EntryKind.NOTICE, day, {"step_id": f"{channel.lower()}_1", "channel": channel,
                                   "template_id": "first_notice", "status": status}


def account(n: int) -> dict[str, Any]:
    return {"account_id": f"ACC{n:05d}", "customer_name": "Sample Customer",
            "account_number": f"40001234{n:04d}", "product": "personal_loan", "risk": "standard",
            "contact": {"phone": f"+1202555010{n}", "email": f"c{n}@mail.example.com"},
            "locale": "en-US", "time_zones": ["America/New_York"], "jurisdiction": "US", "currency": "USD",
            "principal_due": "100.00", "interest_due": "0", "fees_due": "0", "due_date": DUE.isoformat(),
            "due_date_key": DUE.isoformat(), "status": "DELINQUENT", "consented": ["SMS", "EMAIL", "CALL"]}


@pytest.fixture
def result() -> SimulationResult:
    """Four collection cases and a pre-due record, 30 days after the due date:

    ACC00001 champion: SMS sent day 1, reply + promise day 2, paid and cured day 4.
    ACC00002 challenger: email delivered day 1, paid and cured day 10 (9 days after the notice).
    ACC00003 holdout: no notice, referred to legal day 20.
    ACC00004 champion: SMS failed day 1, still open.
    ACC00005 never delinquent; its pre-due reminder record is not a case.
    """
    paid = {"payment_id": "p", "amount": "100.00", "currency": "USD"}
    ledger = [
        *case("ACC00001", "champion", notice(1, "SMS"),
              (EntryKind.REPLY, 2, {"intent": "PROMISE", "channel": "SMS"}),
              (EntryKind.PROMISE, 2, {"promised_on": "2026-09-06"}), (EntryKind.PAYMENT, 4, paid),
              (EntryKind.CASE_CLOSED, 4, {"status": "RESOLVED", "reasons": ["PAID"]})),
        *case("ACC00002", "challenger", notice(1, "EMAIL", "DELIVERED"), (EntryKind.PAYMENT, 10, paid),
              (EntryKind.CASE_CLOSED, 10, {"status": "RESOLVED", "reasons": ["PAID"]})),
        *case("ACC00003", "holdout", (EntryKind.CASE_CLOSED, 20, {"status": "REFERRED_TO_LEGAL"})),
        *case("ACC00004", "champion", notice(1, "SMS", "FAILED")),
        *case("ACC00005", "champion", case_id="PRE-ACC00005-20260905",
              opened={"pre_due": True, "strategy_id": "standard", "variant": "champion"}),
    ]
    messages = [ProviderMessage("sns", "m1", "SMS", "+12025550101", at(1), None, "text", "ACC00001"),
                ProviderMessage("ses", "m2", "EMAIL", "c2@mail.example.com", at(1), "Overdue", "text",
                                "ACC00002")]
    summary = {"accounts": 5, "days": 29, "seed": 7, "start": "2026-09-03"}  # ends day 30 past due
    return SimulationResult(summary, messages, ledger, [], [account(n) for n in range(1, 6)],
                            [{"account_id": "ACC00001", "text": "I will pay"}], [])


def section(html: str, name: str) -> str:
    found = re.search(rf'<section id="{name}">(.*?)</section>', html, re.S)
    assert found, f"no {name} section"
    return found.group(1)


def rows(html: str, name: str) -> list[list[str]]:
    """The cells of a section's table, row by row."""
    body = section(html, name).split("<tbody>", 1)[1]
    return [re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", body)]


def test_the_report_counts_what_the_run_did(result: SimulationResult) -> None:
    report = simulation_report(result)
    assert report.as_of == datetime(2026, 10, 2, tzinfo=UTC)
    assert [(s.stage, s.count) for s in report.funnel] == [
        ("accounts", 5), ("cases_opened", 4), ("contacted", 2), ("responded", 1), ("promise_or_plan", 1),
        ("cured", 2), ("referred_to_legal", 1)]
    share = {p.day: p.share for p in report.cure_curve}
    # 1 of 4 cured on day 4; on day 10 one of the 3 still open: 1/4 + 3/4 * 1/3 = 1/2
    assert (share[3], share[4], share[10], share[30]) == (0.0, 0.25, 0.5, 0.5)


def test_write_report_draws_every_section_with_the_hand_counted_numbers(result: SimulationResult,
                                                                        tmp_path: Path) -> None:
    path = tmp_path / "out" / "report.html"
    write_report(result, path)
    html = path.read_text(encoding="utf-8")

    assert rows(html, "funnel") == [["accounts", "5", ""], ["cases_opened", "4", "1.0000"],
                                    ["contacted", "2", "0.5000"], ["responded", "1", "0.2500"],
                                    ["promise_or_plan", "1", "0.2500"], ["cured", "2", "0.5000"],
                                    ["referred_to_legal", "1", "0.2500"]]
    curve = {r[0]: r for r in rows(html, "cure_curve")}
    assert curve["7"] == ["7", "3", "0", "1", "0.2500"] and curve["14"][-1] == "0.5000"
    # SMS: the failed send never reached the provider; the sent one was followed by all three.
    # Email: the payment came 9 days later, outside the 7-day window.
    by_channel = {r[0]: r for r in rows(html, "by_channel")}
    assert by_channel["SMS"] == ["SMS", "1", "1", "0", "1", "1.0000", "1", "1.0000", "1", "1.0000"]
    assert by_channel["EMAIL"] == ["EMAIL", "1", "1", "1", "0", "0.0000", "0", "0.0000", "0", "0.0000"]
    variants = {r[0]: r[1:4] for r in rows(html, "variants")}
    assert variants == {"champion": ["1", "2", "0.5000"], "challenger": ["1", "1", "1.0000"],
                        "holdout": ["0", "1", "0.0000"]}
    verdicts = section(html, "champion_challenger")
    assert "champion vs holdout" in verdicts and "Too few cases" in verdicts
    assert rows(html, "provider_messages") == [["EMAIL", "1", "1", "0"], ["SMS", "1", "1", "1"]]
    assert html.count("<svg") >= 5 and "<polyline" in html


def test_the_page_is_self_contained(result: SimulationResult, tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    write_report(result, path)
    html = path.read_text(encoding="utf-8")
    assert "<script" not in html.lower()
    assert not re.search(r"""\b(src|href)\s*=\s*["']?[^"'\s>]*http""", html, re.I)
    assert "http" not in html.lower()
    assert not re.search(r"<(link|img|iframe|object|embed)\b", html, re.I)
    assert "+1202555" not in html and "mail.example.com" not in html  # aggregates only, no contact data
