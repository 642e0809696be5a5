"""Customers who answer on their own page: they follow the link in a notice instead of texting back.

Half of the customers of three personas (chosen by a stable hash of the account id, so every run
and every shard picks the same ones) open the link of the first overdue notice that reaches them,
confirm the fact the page asks first, and do there what the others do by text or on the phone:

| persona        | on the page                                                   |
|----------------|---------------------------------------------------------------|
| promise_kept   | promises to pay in PROMISE_DAYS, then pays on that day        |
| plan_kept      | declares hardship (job loss), accepts the first instalment plan offered, pays every instalment |
| replies_stop   | opts out of text messages (contact preferences)               |

Every request is the HTTP API's payload 2.0 event, invoked on CustomerPageFunction as API Gateway
would, so the page, its verification, its CSRF and idempotency checks and the case actions behind
it run as deployed. ``Simulation`` (sandbox.simulate) lives the days; this mixin is its page side.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sandbox.personas import PROMISE_DAYS, PersonaState, at_payment_hour
from sandbox.portfolio import Persona, SyntheticAccount
from sandbox.providers import ProviderMessage
from sandbox.stack import Stack

PAGE_PERSONAS = frozenset({Persona.PROMISE_KEPT, Persona.PLAN_KEPT, Persona.REPLIES_STOP})
_LINK = re.compile(r"https?://[^\s<>\"']+/p/[A-Za-z0-9_.~-]+")
_DONE = "page"  # marks a customer who has been on their page (PersonaState.replied)


def uses_page(account: SyntheticAccount) -> bool:
    """Whether this customer answers on the page (the same customers in every run and shard)."""
    return account.persona in PAGE_PERSONAS and hashlib.sha256(account.account_id.encode()).digest()[0] % 2 == 0


def page_link(message: ProviderMessage) -> str | None:
    """The customer's page link in a notice (the SMS text, or the email's text part)."""
    found = _LINK.search(message.body or "")
    return found.group(0).rstrip(".,;)") if found else None


class CustomerPageVisits:
    """The customer's side of the page: open the link, verify, act, as a browser without JavaScript."""

    stack: Stack
    clock: Any  # the simulation's virtual clock (sandbox.clock)
    events: Counter[str]
    errors: list[dict[str, Any]]
    client: Callable[[str], Any]
    has_function: Callable[[str], bool]
    invoke: Callable[[str, dict[str, Any]], Any]
    _payment_seq: int
    by_phone: dict[str, list[SyntheticAccount]]
    by_email: dict[str, list[SyntheticAccount]]
    people: dict[str, PersonaState]

    def _page_send(self) -> Callable[[str, str, dict[str, str], bytes], tuple[int, dict[str, str], str]]:
        from sandbox.serve import api_event, compile_routes, lambda_response, match

        routes = compile_routes(self.stack.http_routes)
        host = self.stack.parameters["PageBaseUrl"].split("://", 1)[1]

        def send(method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], str]:
            if method == "POST":
                self.clock.advance_by(timedelta(minutes=1))  # a person takes a moment to fill in a form
            raw_path, _, raw_query = path.partition("?")
            found = match(routes, method, raw_path)
            if found is None:
                return 404, {}, ""
            self._payment_seq += 1
            event = api_event(found[0], found[1], method, raw_path, raw_query, headers, body,
                              account_id=self.stack.account_id, host=host, source_ip="198.51.100.7",
                              now=self.clock.now(), request_id=f"page-{self._payment_seq:06d}")
            status, out_headers, out = lambda_response(self.invoke(found[0].route.function_logical_id, event))
            self.events["page_requests"] += 1
            return status, out_headers, out.decode("utf-8", "replace")

        return send

    def _visits_page(self, person: PersonaState, message: ProviderMessage, now: datetime) -> bool:
        """The customer opens their page from this notice and acts there (once); False: they do not."""
        account = person.account
        if not uses_page(account) or _DONE in person.replied or not self.has_function("CustomerPageFunction"):
            return False
        if message.sent_at.date() <= account.due_date or person.paid > 0 or person.pay_at is not None:
            return False
        link = page_link(message)
        if link is None:
            return False
        from sandbox.page_client import PageClient

        person.replied.add(_DONE)
        browser = PageClient(self._page_send(), self.stack.parameters["PageBaseUrl"])
        page = browser.open(link)
        if "verify" in page.forms:
            page = browser.submit("verify", answer=account.verification)
        self.events["page_visits"] += 1
        if page.state == "not_online":
            # The account is no longer handled online (its case closed with money still owed): the
            # page sends the customer to the phone, as it should; nothing failed, nothing to act on.
            self.events["page_visits_sent_to_the_phone"] += 1
            return False
        done = False
        if page.status == 200 and "verify" not in page.forms:
            # The page is about the loan of the notice's link, which for a person with several
            # loans may not be the one they took the notice to be about: they act for that one.
            shown = self._loan_shown(person, page.body)
            shown.replied.add(_DONE)
            with contextlib.suppress(LookupError):  # the form they came for is not on the page: reported below
                done = self._act(shown, browser, now)
        if not done:
            self.events["page_visits_without_action"] += 1
            self.errors.append({"function": "CustomerPageFunction", "at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                "error": f"{account.persona.value} could not act on the page (HTTP {page.status})"})
        return done

    def _loan_shown(self, person: PersonaState, body: str) -> PersonaState:
        """The person's loan whose last four digits the page shows (theirs, when it shows none)."""
        account = person.account
        loans = self.by_phone.get(account.phone) or self.by_email.get(account.email) or [account]
        shown = next((a for a in loans if a.account_number[-4:] in body), account)
        return self.people.get(shown.account_id, person)

    def _act(self, person: PersonaState, browser: Any, now: datetime) -> bool:
        persona = person.persona
        if persona is Persona.PROMISE_KEPT:
            pay_on = (now + timedelta(days=PROMISE_DAYS)).date()
            answer = browser.submit("promise", promised_on=pay_on.isoformat(), amount="")
            if answer.arrangement != "promise":
                return False
            person.pay_at, person.pay_amount = at_payment_hour(pay_on), person.account.amount_due
            self.events["page_promises"] += 1
            return True
        if persona is Persona.PLAN_KEPT:
            page = browser.page
            if page.arrangement == "plan":
                return True  # agreed already (by text, or for this loan on an earlier visit): nothing to do here
            # Paused already (hardship told by text): the page offers the plans straight away.
            paused = page if page.arrangement == "pause" else browser.submit("hardship", reason="job_loss")
            if paused.arrangement != "pause" or "plan" not in paused.forms:
                return False
            accepted = browser.submit("plan", choice=browser.form("plan").options["choice"][0])
            if accepted.arrangement != "plan":
                return False
            self.events["page_plans"] += 1
            return self._pays_the_plan(person)
        if persona is Persona.REPLIES_STOP:
            answer = browser.submit("preferences", sms=None)
            self.events["page_opt_outs"] += int(answer.status == 200)
            return bool(answer.status == 200)
        return False

    def _pays_the_plan(self, person: PersonaState) -> bool:
        """The instalments the customer accepted on the page, paid on their due dates."""
        from dunning.adapters.dynamo import from_item

        account_id = person.account.account_id
        table = self.stack.table("CollectionsTable")
        items = self.client("dynamodb").query(
            TableName=table, KeyConditionExpression="pk = :pk AND begins_with(sk, :case)",
            ExpressionAttributeValues={":pk": {"S": f"ACCOUNT#{account_id}"}, ":case": {"S": "CASE#"}})["Items"]
        plans = [from_item(i).get("plan") or {} for i in items if "#" not in i["sk"]["S"].removeprefix("CASE#")]
        active = [p for p in plans if p.get("status") == "ACTIVE" and p.get("instalments")]
        if not active:
            return False
        person.follows_plan(active[-1]["instalments"])
        return True
