"""The customer's own page (GET/POST /p/{token}): verify first, then see what is owed and act.

Every link in a notice opens this page. The link proves only that someone holds the phone or the
mailbox, so nothing about the account is shown, and nothing done, until the visitor confirms the
fact on file the policy names for the jurisdiction (`page_verify`). Then the page shows what is
owed and the case's arrangement, and offers real forms: pay (a hand-off to the lender's payment
portal), promise, choose a plan, declare hardship, dispute, ask for a call-back, set contact
preferences. Each goes through the case actions every other caller uses, is recorded in the same
transaction as a PAGE ledger entry with the actor ``customer``, and is confirmed in writing as every
caller's arrangements are (`confirmations`; a call-back and preferences by the page, once per form).

Safe by construction:
- a visit lives in a sealed, HttpOnly, SameSite=Strict cookie bound to the link (`page_session`);
  every form carries a CSRF token bound to the visit, the action and the form's own key, and a
  POST whose Origin or Sec-Fetch-Site is another site is refused;
- each form key is claimed once (`PageGuard.claim`): a replayed form writes nothing;
- rate limits per link and per source address (a keyed digest of it), wrong answers per link
  (the link locks, and the lock is recorded) and per account and day, fresh links per account and
  day;
- nothing personal in URLs, logs, metrics or errors: links are named by a digest, refusals by a
  rule, and the only values logged are ids and codes.

An expired (genuine) link offers to send a fresh one to the contact on file; an altered or foreign
link says only that it does not work. A mail client's one-click unsubscribe (RFC 8058) posts
``List-Unsubscribe=One-Click`` to the unsubscribe link and opts the customer out of email.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from dunning.domain.arrangements import validate_promise
from dunning.domain.compliance import AttemptKind
from dunning.domain.links import ExpiredLink, InvalidLink, LinkClaims, is_short_code, verify_link
from dunning.domain.models import Account, CaseStatus, Channel, ContactHours, EntryKind, Money
from dunning.domain.page_forms import (
    ONE_CLICK,
    CallbackForm,
    DisputeForm,
    FormRefused,
    HardshipForm,
    PlanForm,
    PreferencesForm,
    PromiseForm,
    VerifyForm,
    parse_form,
    read_form,
)
from dunning.domain.page_render import LANGUAGES, render_page
from dunning.domain.page_session import (
    Visit,
    csrf_ok,
    csrf_token,
    link_digest,
    open_visit,
    payment_reference,
    source_key,
)
from dunning.domain.page_verify import VerificationKind, confirms
from dunning.domain.page_view import (
    LANGUAGE_NAMES,
    PlanOption,
    View,
    available_actions,
    build_view,
    callback_slots,
    languages_for,
    local_today,
    parse_hours,
    plan_options,
    slot_value,
)
from dunning.domain.policy import Policy
from dunning.observability import count, count_recorded, logger, metrics
from dunning.ports import CaseRecord, PageGuard, Ports
from dunning.services import case_actions, escalation
from dunning.services.case_actions import ActionContext, CaseAction, Entries, Entry, Preferences

ACTOR = "customer"  # who a PAGE entry says acted: the person behind the link
SENDER = "CustomerPage"  # who sent the written confirmations
RATE_WINDOW_SECONDS = 600
LINK_REQUESTS_PER_WINDOW = 60  # one person clicking about: far below this
SOURCE_REQUESTS_PER_WINDOW = 300  # a household or a carrier's NAT shares an address
ACCOUNT_WRONG_ANSWERS_FACTOR = 2  # wrong answers per account and day, over all its links: this x attempts
FORM_KEY_SECONDS = 2 * 24 * 3600
PAY_REFERENCE_MINUTES = 30
MAX_TOKEN = 300
HTML = "text/html; charset=utf-8"
PROBLEM = "application/problem+json"
DONE = {"promise", "plan", "hardship", "dispute", "callback", "preferences", "unsubscribe"}


# --------------------------------------------------------------------------- request and answer


@dataclass(frozen=True)
class PageConfig:
    page_base_url: str  # where the page is served: its origin is the only one a form may come from
    pay_base_url: str  # the lender's payment portal

    @staticmethod
    def _origin(url: str) -> str:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def origin(self) -> str:
        return self._origin(self.page_base_url)

    @property
    def pay_origin(self) -> str:
        return self._origin(self.pay_base_url)

    @property
    def secure(self) -> bool:
        return self.page_base_url.startswith("https://")

    @property
    def cookie_name(self) -> str:
        # __Host-: only this host may set it, over HTTPS, for the whole site (not a subdomain).
        return "__Host-dunning-visit" if self.secure else "dunning-visit"


@dataclass(frozen=True)
class PageRequest:
    method: str
    token: str
    query: Mapping[str, str] = field(default_factory=dict)
    cookies: Mapping[str, str] = field(default_factory=dict)
    content_type: str | None = None
    body: bytes = b""
    origin: str | None = None
    fetch_site: str | None = None
    wants_html: bool = True
    source: str = ""  # the caller's address: only its keyed digest is ever kept


@dataclass
class PageResponse:
    status: int
    body: str
    content_type: str = HTML
    headers: dict[str, str] = field(default_factory=dict)
    cookies: list[str] = field(default_factory=list)


class PageRefused(Exception):
    """Refuse the request: `key` names the page's words for why (never anything the visitor sent)."""

    def __init__(self, status: int, key: str, detail: str, *, action: str = "page", state: str = "error",
                 values: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.status, self.key, self.detail, self.action, self.state = status, key, detail, action, state
        self.values = values or {}


@dataclass
class Prepared:
    """A form turned into the case action it asks for, what the ledger keeps of it, and how it is
    confirmed in writing."""

    action: CaseAction
    fields: dict[str, Any]
    confirm: Callable[[CaseRecord, str], None] | None = None  # (the case as written, the form's key)
    redirect: str | None = None


def _together(*actions: CaseAction) -> CaseAction:
    def act(ctx: ActionContext) -> Entries:
        return [entry for action in actions for entry in action(ctx)]

    return act


# --------------------------------------------------------------------------- the page


def handle(ports: Ports, guard: PageGuard, config: PageConfig, request: PageRequest) -> PageResponse:
    """Answer one request for the page (GET shows, POST acts)."""
    page = _Page(ports, guard, config, request)
    try:
        return page.answer()
    except PageRefused as refused:
        return page.refusal(refused)
    except FormRefused as bad:
        return page.refusal(PageRefused(bad.status, "error_form", bad.detail))


class _Page:
    def __init__(self, ports: Ports, guard: PageGuard, config: PageConfig, request: PageRequest) -> None:
        self.ports, self.guard, self.config, self.request = ports, guard, config, request
        self.now = ports.clock.now()
        self.digest = link_digest(request.token)
        self.self_path = f"/p/{request.token}"
        self.lang = request.query.get("lang") if request.query.get("lang") in LANGUAGES else None
        self.account: Account | None = None
        self.visit: Visit | None = None
        self.new_cookie: str | None = None
        self._policy: Policy | None = None
        self._secret: bytes | None = None

    @property
    def policy(self) -> Policy:
        if self._policy is None:
            self._policy = self.ports.policy()
        return self._policy

    @property
    def secret(self) -> bytes:
        if self._secret is None:
            self._secret = self.ports.keys.link_secret
        return self._secret

    # ------------------------------------------------------------------ the way in

    def answer(self) -> PageResponse:
        if len(self.request.token) > MAX_TOKEN:
            raise PageRefused(404, "invalid_text", "not a link of ours", state="invalid")
        self._rate_limit()
        claims, expired = self._claims()
        account = self.ports.accounts.find(claims.account_id)
        if account is None:
            raise PageRefused(404, "invalid_text", "not a link of ours", state="invalid")
        self.account = account
        self.lang = self.lang or account.notice_locale
        self.visit = open_visit(self.request.cookies.get(self.config.cookie_name), self.secret, self.digest,
                                self.now)
        if self.request.method == "GET":
            done = self.request.query.get("done")
            return self._show(claims, expired, flash=done if done in DONE else None)
        if self.request.method == "POST":
            return self._act(claims, expired)
        raise PageRefused(405, "error_form", "only GET and POST")

    def _rate_limit(self) -> None:
        window = int(self.now.timestamp()) // RATE_WINDOW_SECONDS
        source = source_key(self.ports.keys.link_secret, self.request.source or "-")
        if self.guard.hit(f"rate#src#{source}#{window}", RATE_WINDOW_SECONDS) > SOURCE_REQUESTS_PER_WINDOW:
            raise PageRefused(429, "error_too_many", "too many requests from this address")
        if self.guard.hit(f"rate#link#{self.digest}#{window}", RATE_WINDOW_SECONDS) > LINK_REQUESTS_PER_WINDOW:
            raise PageRefused(429, "error_too_many", "too many requests for this link")

    def _claims(self) -> tuple[LinkClaims, bool]:
        token = self.request.token
        if is_short_code(token):  # a text's short link: the signed token it stands for
            token = self.ports.collections.resolve_link(token) or ""
        try:
            claims, expired = verify_link(token, self.secret, self.now), False
        except ExpiredLink as exc:
            claims, expired = exc.claims, True
        except InvalidLink:
            raise PageRefused(404, "invalid_text", "not a link of ours", state="invalid") from None
        if claims.purpose not in ("pay", "unsubscribe"):
            raise PageRefused(404, "invalid_text", "not a page link", state="invalid")
        return claims, expired

    def _start_visit(self, verified: bool) -> Visit:
        expires = int(self.now.timestamp()) + self.policy.page.session_minutes * 60
        visit = Visit(link=self.digest, seed=secrets.token_urlsafe(18), verified=verified, expires=expires)
        self.visit = visit
        attributes = f"Path=/; Max-Age={self.policy.page.session_minutes * 60}; HttpOnly; SameSite=Strict"
        self.new_cookie = f"{self.config.cookie_name}={visit.seal(self.secret)}; {attributes}" + (
            "; Secure" if self.config.secure else "")
        return visit

    @property
    def _account(self) -> Account:
        assert self.account is not None
        return self.account

    @property
    def _verify_kind(self) -> VerificationKind:
        return self.policy.for_jurisdiction(self._account.jurisdiction).verification

    def _locked(self) -> bool:
        attempts = self.policy.page.verify_attempts
        return (self.guard.peek(f"fail#{self.digest}") >= attempts
                or self.guard.peek(self._account_failures_key) >= attempts * ACCOUNT_WRONG_ANSWERS_FACTOR)

    @property
    def _account_failures_key(self) -> str:
        return f"fail#acct#{self._account.account_id}#{local_today(self._account, self.now).isoformat()}"

    # ------------------------------------------------------------------ showing

    def _show(self, claims: LinkClaims, expired: bool, *, status: int = 200, error: PageRefused | None = None,
              flash: str | None = None) -> PageResponse:
        account = self._account
        if expired:
            self.visit = self.visit or self._start_visit(False)
            return self._page("expired", 410, forms=("fresh_link",))
        record = case_actions.active_case(self.ports.collections.live(account.account_id))
        if record is None and claims.purpose != "unsubscribe":
            # Only an account that owes nothing may be told nothing is overdue: a case closed while
            # money is still owed (referred to the legal team, say) is handled by people, not here.
            return self._page("not_online" if account.owes else "no_case", 200)
        if self._locked():
            return self._page("locked", 403)
        if record is not None and self.visit is not None and self.visit.verified:
            return self._account_page(record, status=status, error=error, flash=flash)
        if self.visit is None:
            self._start_visit(False)
        # An unsubscribe link works as long as it has not expired, case or no case (the opt-out is
        # recorded on the account's PAGE record); with no case there is no account to see.
        has_fact = record is not None and self._verify_kind.value in account.verification
        state = "unsubscribe" if claims.purpose == "unsubscribe" else ("verify" if has_fact else "no_fact")
        forms = (("unsubscribe",) if state == "unsubscribe" else ()) + (("verify",) if has_fact else ())
        return self._page(state, status if error else 200, forms=forms, error=error,
                          verify_kind=self._verify_kind.value if has_fact else None, no_case=record is None)

    def _account_page(self, record: CaseRecord, *, status: int = 200, error: PageRefused | None = None,
                      flash: str | None = None) -> PageResponse:
        view = build_view(self._account, record.case, self.policy, self.now, self._language)
        forms = (*sorted(view.actions), )
        open_section = error.action if error is not None else (
            "plan" if view.arrangement == "pause" and view.arrangement_details.get("offered") else None)
        return self._page("account", status, forms=forms, view=view, error=error, flash=flash, open=open_section,
                          arrangement=view.arrangement, pause_days=self.policy.hardship.pause_days)

    @property
    def _language(self) -> str:
        return self.lang or (self.account.notice_locale if self.account is not None else LANGUAGES[0])

    def _page(self, state: str, status: int, *, forms: tuple[str, ...] = (), view: View | None = None,
              error: PageRefused | None = None, **more: Any) -> PageResponse:
        from dunning.domain.page_render import strings

        words = strings(self._language)
        context: dict[str, Any] = {
            "state": state, "lang": self._language, "self_path": self.self_path,
            "css_href": _css_href(), "languages": [(code, LANGUAGE_NAMES[code]) for code in LANGUAGES],
            "collector": self._collector(), "view": view, "forms": self._forms(forms),
        } | more
        if error is not None:
            context["error"] = {"action": error.action, "text": words[error.key].format_map(
                {k: str(v) for k, v in error.values.items()})}
        flash = more.get("flash")
        if flash:
            context["flash"] = words.get(f"done_{flash}")
        return self._html(status, render_page(context))

    def _collector(self) -> dict[str, str] | None:
        if self.account is None:
            return None
        collector = self.policy.for_jurisdiction(self.account.jurisdiction).collector
        return {"name": collector.name, "phone": collector.phone, "email": collector.email, "hours": collector.hours}

    def _forms(self, actions: tuple[str, ...]) -> dict[str, dict[str, str]]:
        visit = self.visit
        if visit is None:
            return {}
        out = {}
        for action in actions:
            key = secrets.token_urlsafe(18)
            out[action] = {"key": key, "csrf": csrf_token(self.secret, visit, action, key)}
        return out

    def _headers(self) -> dict[str, str]:
        pay = self.config.pay_origin
        return {
            # default-src 'self': no script, style, image or font from anywhere else; the pay
            # hand-off is the one place a form may lead.
            "Content-Security-Policy": f"default-src 'self'; base-uri 'none'; frame-ancestors 'none'; "
                                       f"form-action 'self' {pay}",
            "Cache-Control": "no-store",
            # The link is a credential: never hand it to another site. same-origin, not no-referrer, so
            # browsers still send our own Origin on the page's forms (no-referrer makes it "null").
            "Referrer-Policy": "same-origin",
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
        }

    def _html(self, status: int, body: str) -> PageResponse:
        return PageResponse(status, body, HTML, self._headers(), [self.new_cookie] if self.new_cookie else [])

    def _redirect(self, location: str) -> PageResponse:
        headers = self._headers() | {"Location": location}
        return PageResponse(303, "", HTML, headers, [self.new_cookie] if self.new_cookie else [])

    def refusal(self, refused: PageRefused) -> PageResponse:
        count("PageRefused", Status=str(refused.status))
        logger.info("page refused", extra={"status": refused.status, "rule": refused.key,
                                           "account_id": self.account.account_id if self.account else None})
        headers = self._headers()
        if refused.status == 429:
            headers["Retry-After"] = str(RATE_WINDOW_SECONDS)
        if not self.request.wants_html:
            title = {400: "Bad request", 403: "Forbidden", 404: "Not found", 405: "Method not allowed",
                     409: "Conflict", 410: "Gone", 413: "Payload too large", 415: "Unsupported media type",
                     422: "Unprocessable", 429: "Too many requests"}.get(refused.status, "Refused")
            body = json.dumps({"type": "about:blank", "title": title, "status": refused.status,
                               "detail": refused.detail})
            return PageResponse(refused.status, body, PROBLEM, headers, [])
        if refused.state == "invalid":
            html = render_page({"state": "invalid", "lang": self._language, "self_path": "",
                                "css_href": _css_href()})
            return PageResponse(refused.status, html, HTML, headers, [])
        if refused.state == "form" and self.account is not None and self.visit is not None:
            try:
                response = self._show(*self._claims(), status=refused.status, error=refused)
                response.status = refused.status
                return response
            except PageRefused:
                pass
        return self._page("error", refused.status, error=refused)

    # ------------------------------------------------------------------ acting

    def _act(self, claims: LinkClaims, expired: bool) -> PageResponse:
        fields = parse_form(self.request.content_type, self.request.body)
        if fields == ONE_CLICK:
            return self._one_click(claims, expired)
        self._same_site()
        visit = self.visit
        if visit is None:
            raise PageRefused(403, "error_session", "no visit for this link (cookie missing, expired or altered)")
        form = read_form(fields)
        if not csrf_ok(self.secret, visit, form.action, form.form_key, form.csrf):
            raise PageRefused(403, "error_session", "the form's token does not match this visit")
        self.lang = form.lang or self.lang
        if expired:
            if form.action != "fresh_link":
                raise PageRefused(410, "expired_text", "the link has expired")
            return self._fresh_link(form.form_key)
        if form.action == "fresh_link":
            raise PageRefused(409, "error_unavailable", "the link has not expired")
        if self._locked():
            raise PageRefused(403, "locked_text", "the link is locked", values=self._collector() or {})
        if form.action == "verify":
            assert isinstance(form, VerifyForm)
            return self._verify(form)
        if form.action == "unsubscribe" and (claims.purpose == "unsubscribe" or visit.verified):
            return self._unsubscribe(form.form_key)
        if not visit.verified:
            raise PageRefused(403, "error_session", "verify first")
        return self._do(form)

    def _same_site(self) -> None:
        """A form posted from another site is refused, whatever it carries (SameSite=Strict already
        keeps the visit cookie from it; the Origin and Fetch Metadata headers say so outright)."""
        origin, site = self.request.origin, self.request.fetch_site
        if origin is not None and origin != "null" and origin.rstrip("/") != self.config.origin:
            raise PageRefused(403, "error_session", "posted from another site")
        if origin == "null" or (site is not None and site not in ("same-origin", "none")):
            raise PageRefused(403, "error_session", "posted from another site")

    def _claim(self, form_key: str) -> str:
        key = f"form#{hashlib.sha256(form_key.encode()).hexdigest()[:32]}"
        if not self.guard.claim(key, FORM_KEY_SECONDS):
            raise PageRefused(409, "error_replay", "this form was already sent")
        return key

    def _record(self, action: str, fields: dict[str, Any], case_action: CaseAction,
                history: Any = None) -> case_actions.Performed:
        account = self._account
        language = self._language

        def page_entry(rec: CaseRecord, ctx: ActionContext, entries: Entries, before: CaseStatus) -> Entry:
            return EntryKind.PAGE, {
                "action": action, "channel": "PAGE", "link": self.digest, "fields": fields,
                "applied": not ctx.notes or bool(entries), "notes": list(ctx.notes),
                "status_before": before.value, "status_after": rec.case.status.value,
                "account_changes": [[kind, channel.value if channel else None]
                                    for kind, channel in ctx.effects.account_changes],
                "callback": ctx.effects.callback, "language": language,
            }

        done = case_actions.perform(self.ports, account.account_id, case_action, page_entry, actor=ACTOR,
                                    prefix="PAGE", history=history, account=account, now=self.now)
        count("PageActions", Action=action)
        count_recorded(done.written, done.record.case.variant)
        logger.info("page action recorded", extra={"case_id": done.record.case.case_id, "action": action,
                                                   "applied": done.applied,
                                                   "case_status": done.record.case.status.value})
        return done

    def _verify(self, form: VerifyForm) -> PageResponse:
        account, kind = self._account, self._verify_kind
        self._claim(form.form_key)
        record = case_actions.active_case(self.ports.collections.live(account.account_id))
        if record is None:
            raise PageRefused(409, "error_unavailable", "no open case on this account")
        if confirms(self.secret, kind, form.answer, account.verification.get(kind.value)):
            self._start_visit(True)
            self._record("verify", {"kind": kind.value}, case_actions.nothing)
            return self._redirect(f"{self.self_path}?lang={self._language}")
        attempts = self.policy.page.verify_attempts
        lifetime = max(60, int((self._link_expiry() - self.now).total_seconds()))
        wrong = self.guard.hit(f"fail#{self.digest}", lifetime)
        self.guard.hit(self._account_failures_key, 24 * 3600)
        if wrong >= attempts:
            self._record("verify_locked", {"kind": kind.value, "attempts": wrong}, case_actions.nothing)
            metrics.add_metric(name="PageLinksLocked", unit="Count", value=1)
            return self._page("locked", 403)
        raise PageRefused(422, "verify_wrong", "the answer does not match", action="verify", state="form",
                          values={"left": attempts - wrong})

    def _link_expiry(self) -> datetime:
        claims, _ = self._claims()
        return claims.expires_at

    def _unsubscribe(self, form_key: str) -> PageResponse:
        account = self._account
        if Channel.EMAIL in account.opted_out:
            return self._page("unsubscribed", 200)
        self._claim(form_key)
        self._record("unsubscribe", {"channel": Channel.EMAIL.value},
                     case_actions.change_contact("OPT_OUT", Channel.EMAIL, "PAGE"))
        return self._page("unsubscribed", 200)

    def _one_click(self, claims: LinkClaims, expired: bool) -> PageResponse:
        """RFC 8058: the mail client posts List-Unsubscribe=One-Click to the unsubscribe link; no
        cookie and no token beyond the link itself, which is the capability."""
        if claims.purpose != "unsubscribe":
            raise PageRefused(404, "invalid_text", "one-click unsubscribe needs an unsubscribe link", state="invalid")
        if expired:
            raise PageRefused(410, "expired_text", "the link has expired", state="invalid")
        account = self._account
        if Channel.EMAIL not in account.opted_out:
            self._record("unsubscribe", {"channel": Channel.EMAIL.value, "one_click": True},
                         case_actions.change_contact("OPT_OUT", Channel.EMAIL, "ONE_CLICK"))
        return PageResponse(200, "", "text/plain; charset=utf-8", self._headers(), [])

    def _fresh_link(self, form_key: str) -> PageResponse:
        """Send a new link to the contact on file; the answer is the same whatever happens, so the
        page reveals nothing about the account or how it is reached."""
        account = self._account
        self._claim(form_key)
        sent = self.guard.hit(f"fresh#{account.account_id}#{local_today(account, self.now).isoformat()}", 24 * 3600)
        record = case_actions.active_case(self.ports.collections.live(account.account_id))
        if sent <= self.policy.page.fresh_links_per_day and record is not None:
            done = self._record("fresh_link", {}, case_actions.nothing)
            self._confirm(done.record, "page_link", form_key)
        return self._page("sent", 200)

    # ------------------------------------------------------------------ the verified actions

    def _do(self, form: Any) -> PageResponse:
        account = self._account
        history = self.ports.collections.live(account.account_id)
        record = case_actions.active_case(history)
        if record is None or form.action not in available_actions(record.case):
            raise PageRefused(409, "error_unavailable", f"{form.action} is not available for this case",
                              state="form")
        prepared = self._prepare(form, record)
        key = self._claim(form.form_key)
        try:
            done = self._record(form.action, prepared.fields, prepared.action, history)
        except Exception:
            self.guard.release(key)  # nothing was recorded: the same form may be sent again
            raise
        if not done.applied:
            raise PageRefused(409, "error_unavailable", "the case could not take this action", state="form")
        if prepared.confirm is not None:
            prepared.confirm(done.record, form.form_key)
        if prepared.redirect is not None:
            return self._redirect(prepared.redirect)
        return self._redirect(f"{self.self_path}?lang={self._language}&done={form.action}")

    def _prepare(self, form: Any, record: CaseRecord) -> Prepared:
        match form:
            case PromiseForm():
                return self._promise(form)
            case PlanForm():
                return self._plan(form, record)
            case HardshipForm():
                return self._hardship(form)
            case DisputeForm():
                return self._dispute(form)
            case CallbackForm():
                return self._callback(form)
            case PreferencesForm():
                return self._preferences(form)
        if form.action == "pay":
            return self._pay()
        raise PageRefused(400, "error_form", "unknown action")

    def _confirmation(self, template: str, extra: dict[str, Any] | None = None) -> Callable[[CaseRecord, str], None]:
        def send(record: CaseRecord, form_key: str) -> None:
            self._confirm(record, template, form_key, extra=extra)

        return send

    def _confirm(self, record: CaseRecord, template: str, form_key: str, *,
                 extra: dict[str, Any] | None = None) -> None:
        """What only the page does, confirmed once per form (a call-back booked, preferences, a
        fresh link): SMS when the customer allows it, else email. Arrangements (a promise, a plan,
        a plan offer, a dispute, an opt-out) are confirmed by the case action itself
        (dunning.services.confirmations), exactly as when they come by text, email or an agent."""
        account = self.ports.accounts.get(self._account.account_id)  # as the action's effects left it
        key = hashlib.sha256(form_key.encode()).hexdigest()[:12]
        channel = next((c for c in (Channel.SMS, Channel.EMAIL) if account.can_use(c)), None)
        step = f"service_page_{template}_{key}"
        if channel is None:
            return
        try:
            result = escalation.send(self.ports, self.ports.sender(channel), record.case.case_id, account.account_id,
                                     step, channel, template, actor=SENDER, kind=AttemptKind.SERVICE,
                                     account=account, extra=extra)
            status = result.status
        except Exception as exc:  # noqa: BLE001 - the action is recorded; a lost confirmation is counted, not the page's failure
            status = type(exc).__name__
        count("PageConfirmations", Status=status, Template=template)

    def _promise(self, form: PromiseForm) -> Prepared:
        account = self._account
        owed = account.amount_due
        today = local_today(account, self.now)
        amount = Money.of(form.amount, account.currency) if form.amount is not None else owed
        if validate_promise(form.promised_on, amount, owed, today, self.policy.promises):
            latest = today + timedelta(days=self.policy.promises.max_days_ahead)
            raise PageRefused(422, "error_promise", "promise outside the policy's bounds", action="promise",
                              state="form", values={"min": today.isoformat(), "max": latest.isoformat()})
        fields = {"promised_on": form.promised_on.isoformat(),
                  "amount": format(form.amount, "f") if form.amount is not None else None}
        return Prepared(case_actions.promise(form.promised_on, form.amount, None), fields)

    def _plan(self, form: PlanForm, record: CaseRecord) -> Prepared:
        chosen = next((o for o in plan_options(self._account, record.case, self.policy, self.now)
                       if o.choice == form.choice), None)
        if chosen is None:
            raise PageRefused(409, "error_changed", "the schedule shown is no longer on offer", action="plan",
                              state="form")
        fields = {"count": chosen.count, "first_due": chosen.first_due.isoformat(), "schedule": chosen.digest,
                  "offered": chosen.offered}
        return Prepared(_choose_plan(chosen), fields)

    def _hardship(self, form: HardshipForm) -> Prepared:
        actions = [case_actions.offer_plan_action()]
        if form.reason == "bereavement":
            actions.append(case_actions.request_callback("BEREAVEMENT"))  # a specialist takes it up
        return Prepared(_together(*actions), {"reason": form.reason})

    def _dispute(self, form: DisputeForm) -> Prepared:
        action = _together(case_actions.dispute(f"PAGE_{form.reason.upper()}"),
                           case_actions.request_callback("DISPUTE_REVIEW"))
        return Prepared(action, {"reason": form.reason, "details": form.details})

    def _callback(self, form: CallbackForm) -> Prepared:
        slot = next(((start, end) for start, end in callback_slots(self._account, self.policy, self.now)
                     if slot_value(start) == form.slot), None)
        if slot is None:
            raise PageRefused(409, "error_slot", "the slot is no longer offered", action="callback", state="form")
        fields = {"from": slot[0].strftime("%Y-%m-%dT%H:%M:%SZ"), "until": slot[1].strftime("%Y-%m-%dT%H:%M:%SZ")}
        return Prepared(case_actions.request_callback("CALL_ME", slot), fields,
                        self._confirmation("callback_confirmation", {"callback_at": slot[0],
                                                                     "callback_until": slot[1]}))

    def _preferences(self, form: PreferencesForm) -> Prepared:
        account = self._account
        try:
            hours = parse_hours(form.hours, account, self.policy)
        except ValueError:
            raise PageRefused(422, "error_hours", "hours outside the contact window", action="preferences",
                              state="form") from None
        if form.language not in languages_for(account):
            raise PageRefused(422, "error_form", "language not offered", action="preferences", state="form")
        wanted = {Channel.SMS: form.sms == "on", Channel.EMAIL: form.email == "on"}
        reachable = {Channel.SMS: account.contact.phone is not None, Channel.EMAIL: account.contact.email is not None}
        changes: list[CaseAction] = []
        left: list[Channel] = []
        for channel, want in wanted.items():
            if not reachable[channel]:
                continue
            if want and channel in account.opted_out:
                changes.append(case_actions.change_contact("OPT_IN", channel, "PAGE"))
            elif not want and channel not in account.opted_out:
                changes.append(case_actions.change_contact("OPT_OUT", channel, "PAGE"))
                left.append(channel)
        chosen = Preferences(locale=None if form.language == account.locale else form.language,
                             hours=ContactHours(start=hours[0], end=hours[1]) if hours else None)
        fields = {"sms": wanted[Channel.SMS], "email": wanted[Channel.EMAIL], "hours": form.hours,
                  "language": form.language}

        def confirm(record: CaseRecord, form_key: str) -> None:
            if not left:  # an opt-out is confirmed by the case action itself, on the channel left
                self._confirm(record, "preferences_confirmation", form_key)

        return Prepared(_together(*changes, case_actions.set_preferences(chosen)), fields, confirm)

    def _pay(self) -> Prepared:
        nonce = secrets.token_urlsafe(18)
        expires = self.now + timedelta(minutes=PAY_REFERENCE_MINUTES)
        reference = payment_reference(self.secret, self._account.account_id, nonce, expires)
        # The reference names the account by id only; the portal accepts each nonce once.
        return Prepared(case_actions.nothing, {"reference": nonce},
                        redirect=f"{self.config.pay_base_url.rstrip('/')}/?ref={reference}")


def _choose_plan(option: PlanOption) -> CaseAction:
    """Accept the plan on offer, or offer the chosen schedule and accept it: the same two case
    actions an SMS YES and an agent's plan use."""
    if option.offered:
        return case_actions.accept_plan

    def act(ctx: ActionContext) -> Entries:
        offered = case_actions.offer_plan_action(option.count, option.first_due, pause=False)(ctx)
        if not offered:
            return []
        accepted = case_actions.accept_plan(ctx)
        return [*offered, *accepted] if accepted else []

    return act


def _css_href() -> str:
    from dunning.domain.page_render import stylesheet

    return f"/p/assets/{stylesheet()[0]}"


def stylesheet_response(name: str) -> PageResponse:
    """The page's stylesheet under its content-hashed name (cached for good), or a 404."""
    from dunning.domain.page_render import stylesheet

    current, body = stylesheet()
    if name != current:
        return PageResponse(404, json.dumps({"type": "about:blank", "title": "Not found", "status": 404,
                                             "detail": "no such asset"}), PROBLEM)
    return PageResponse(200, body.decode("utf-8"), "text/css; charset=utf-8",
                        {"Cache-Control": "public, max-age=31536000, immutable", "X-Content-Type-Options": "nosniff"})


__all__ = ["PageConfig", "PageRefused", "PageRequest", "PageResponse", "handle", "stylesheet_response"]
