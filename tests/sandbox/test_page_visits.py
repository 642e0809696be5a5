"""Customers on their own page in the simulator: who goes there, the link they follow, and how
the run counts what was done by where it came from."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sandbox.page_visits import PAGE_PERSONAS, page_link, uses_page
from sandbox.portfolio import build_portfolio
from sandbox.providers import ProviderMessage
from sandbox.results import actions_by_source


def test_half_of_the_page_personas_use_the_page_the_same_ones_every_run() -> None:
    portfolio = build_portfolio(400, 7, date(2026, 9, 1))
    on_page = [a for a in portfolio if uses_page(a)]
    assert {a.persona for a in on_page} == set(PAGE_PERSONAS)
    eligible = [a for a in portfolio if a.persona in PAGE_PERSONAS]
    assert 0.3 < len(on_page) / len(eligible) < 0.7
    assert [a.account_id for a in build_portfolio(400, 7, date(2026, 9, 1)) if uses_page(a)] == [
        a.account_id for a in on_page]


def test_the_link_is_read_from_the_notice_as_the_customer_sees_it() -> None:
    sms = ProviderMessage("sms-voice", "m1", "SMS", "+12025550100", datetime(2026, 9, 2, tzinfo=UTC), None,
                          "Harbor: $437.50 is overdue. Pay or ask for a plan: https://pay.example/p/AbC-12_x.y~z. "
                          "Questions? 1-800-555-0100", "ACC1")
    assert page_link(sms) == "https://pay.example/p/AbC-12_x.y~z"
    plain = ProviderMessage("ses", "m2", "EMAIL", "a@b.example", datetime(2026, 9, 2, tzinfo=UTC), "s",
                            "No link here", "ACC1")
    assert page_link(plain) is None


def _entry(kind: str, **data: object) -> dict[str, object]:
    return {"kind": kind, "pk": "ACCOUNT#ACC1", "data": data}


def test_actions_are_counted_by_where_they_came_from_and_looks_are_not() -> None:
    ledger = [
        _entry("REPLY", channel="SMS", disposition="READ", intent="PROMISE"),
        _entry("REPLY", channel="SMS", disposition="READ", intent="OTHER"),  # a person reads it: no action
        _entry("REPLY", channel="EMAIL", disposition="READ", intent="DISPUTE"),
        _entry("REPLY", channel="SMS", disposition="AUTO_REPLY", intent="STOP"),
        _entry("REPLY", channel="SMS", disposition="READ", intent="PROMISE", callback="UNVERIFIED_REPLY"),
        _entry("PAGE", action="verify", applied=True),
        _entry("PAGE", action="plan", applied=True),
        _entry("PAGE", action="promise", applied=False),
        _entry("ADMIN", command="record_call_outcome", applied=True, params={"outcome": "HARDSHIP"}),
        _entry("ADMIN", command="record_call_outcome", applied=True, params={"outcome": "NO_ANSWER"}),
        _entry("ADMIN", command="show_case", applied=True),
        _entry("ADMIN", command="pause_case", applied=True),
        _entry("PAYMENT", amount=str(Decimal("10.00"))),
    ]
    assert actions_by_source(ledger) == {"sms_reply": 1, "email_reply": 1, "page": 1, "agent": 1, "admin": 1}


class _Browser:
    """A page with its forms; records what the visitor submits."""

    def __init__(self, arrangement: str, forms: tuple[str, ...]) -> None:
        from sandbox.page_client import Form, PageAnswer

        self.submitted: list[str] = []
        self.page = PageAnswer(200, {}, "", {f: Form(f, f"/p/x/{f}", options={"choice": ["3"]}) for f in forms},
                               {"data-arrangement": arrangement})

    def form(self, action: str):  # type: ignore[no-untyped-def]
        if action not in self.page.forms:
            raise LookupError(f"the page has no {action} form")
        return self.page.forms[action]

    def submit(self, action: str, **values: str | None):  # type: ignore[no-untyped-def]
        from sandbox.page_client import PageAnswer

        self.form(action)
        self.submitted.append(action)
        after = {"hardship": "pause", "plan": "plan"}[action]
        self.page = PageAnswer(200, {}, "", {"plan": self.page.forms.get("plan")} if after == "pause" else {},
                               {"data-arrangement": after})
        return self.page


def _visitor(arrangement: str, forms: tuple[str, ...]) -> tuple[object, _Browser, object]:
    from collections import Counter

    from sandbox.page_visits import CustomerPageVisits
    from sandbox.personas import PersonaState
    from sandbox.portfolio import Persona

    account = next(a for a in build_portfolio(200, 7, date(2026, 9, 1)) if a.persona is Persona.PLAN_KEPT)
    visits = CustomerPageVisits()
    visits.events = Counter()
    visits._pays_the_plan = lambda person: True  # type: ignore[method-assign]
    return visits, _Browser(arrangement, forms), PersonaState(account)


def test_a_customer_who_told_of_hardship_by_text_takes_the_plan_the_page_offers() -> None:
    """Paused already (the hardship came by text): the page has no hardship form, only the plans."""
    visits, browser, person = _visitor("pause", ("pay", "plan", "dispute"))
    assert visits._act(person, browser, datetime(2026, 9, 10, 15, tzinfo=UTC))  # type: ignore[attr-defined]
    assert browser.submitted == ["plan"]


def test_a_customer_whose_plan_is_agreed_already_has_nothing_left_to_do_on_the_page() -> None:
    visits, browser, person = _visitor("plan", ("pay", "dispute"))
    assert visits._act(person, browser, datetime(2026, 9, 10, 15, tzinfo=UTC))  # type: ignore[attr-defined]
    assert browser.submitted == []
