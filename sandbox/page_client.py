"""A browser without JavaScript for the customer's page: follows a link, keeps the visit cookie,
fills in and posts the page's own forms, follows redirects on the same site.

The simulator's customers and the tests use it; `send` is how a request reaches the page (a
Lambda invoke of CustomerPageFunction, plain HTTP to `dunning serve`, or the service itself).
It reads forms exactly as a browser would submit them: hidden fields, checked radios and
checkboxes, the selected option (else the first), text as typed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlencode, urlsplit

Send = Callable[[str, str, dict[str, str], bytes], tuple[int, dict[str, str], str]]


@dataclass
class Form:
    action: str  # data-action
    target: str  # the form's action attribute (a path)
    fields: dict[str, str] = field(default_factory=dict)
    options: dict[str, list[str]] = field(default_factory=dict)  # radio and select choices by name


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.main: dict[str, str] = {}
        self._form: Form | None = None
        self._select: str | None = None
        self._selected: bool = False
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "main":
            self.main = a
        elif tag == "form" and "data-action" in a:
            self._form = Form(a["data-action"], a.get("action", ""))
            self.forms.append(self._form)
        elif self._form is None:
            return
        elif tag == "input":
            self._input(self._form, a)
        elif tag == "select":
            self._select, self._selected = a.get("name"), False
        elif tag == "option" and self._select:
            self._form.options.setdefault(self._select, []).append(a.get("value", ""))
            if "selected" in a or not self._selected:
                self._form.fields[self._select] = a.get("value", "")
                self._selected = self._selected or "selected" in a
        elif tag == "textarea":
            self._textarea = a.get("name")
            self._form.fields.setdefault(self._textarea or "", "")

    @staticmethod
    def _input(form: Form, a: dict[str, str]) -> None:
        name, kind = a.get("name"), a.get("type", "text")
        if not name:
            return
        if kind == "radio":
            form.options.setdefault(name, []).append(a.get("value", "on"))
            if "checked" in a:
                form.fields[name] = a.get("value", "on")
        elif kind == "checkbox":
            if "checked" in a:
                form.fields[name] = a.get("value", "on")
        else:
            form.fields[name] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


@dataclass
class PageAnswer:
    status: int
    headers: dict[str, str]
    body: str
    forms: dict[str, Form]
    main: dict[str, str]
    location: str | None = None  # where a redirect off the site pointed (the payment portal)

    @property
    def state(self) -> str | None:
        return self.main.get("data-state")

    @property
    def arrangement(self) -> str | None:
        return self.main.get("data-arrangement")


class PageClient:
    """One visitor: their cookie jar (one visit cookie) and the page they are on."""

    def __init__(self, send: Send, origin: str) -> None:
        self.send, self.origin = send, origin.rstrip("/")
        self.cookies: dict[str, str] = {}
        self.page: PageAnswer | None = None

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"accept": "text/html", "user-agent": "dunning-page-client"}
        if self.cookies:
            headers["cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return headers | (extra or {})

    def _keep_cookies(self, headers: dict[str, str]) -> None:
        raw = headers.get("set-cookie")
        if not raw:
            return
        for cookie in raw.split("\n"):
            name, _, rest = cookie.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]

    def _answer(self, status: int, headers: dict[str, str], body: str) -> PageAnswer:
        self._keep_cookies(headers)
        parser = _Forms()
        parser.feed(body)
        answer = PageAnswer(status, headers, body, {f.action: f for f in parser.forms}, parser.main)
        self.page = answer
        return answer

    def open(self, url: str) -> PageAnswer:
        """GET a page (a full link or a path), following same-site redirects."""
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        status, headers, body = self.send("GET", path, self._headers(), b"")
        return self._follow(status, headers, body)

    def _follow(self, status: int, headers: dict[str, str], body: str) -> PageAnswer:
        location = headers.get("location")
        if status in (302, 303) and location:
            self._keep_cookies(headers)
            if location.startswith("/") or location.startswith(self.origin):
                return self.open(location)
            answer = self._answer(status, headers, body)
            answer.location = location
            return answer
        return self._answer(status, headers, body)

    def form(self, action: str) -> Form:
        if self.page is None or action not in self.page.forms:
            raise LookupError(f"the page has no {action} form")
        return self.page.forms[action]

    def submit(self, action: str, **values: str | None) -> PageAnswer:
        """Fill in the page's `action` form (a value of None unticks a box) and post it."""
        form = self.form(action)
        fields = dict(form.fields)
        for name, value in values.items():
            if value is None:
                fields.pop(name, None)
            else:
                fields[name] = value
        return self.post(form.target, fields)

    def post(self, path: str, fields: dict[str, str], headers: dict[str, str] | None = None) -> PageAnswer:
        body = urlencode(fields).encode()
        sent = self._headers({"content-type": "application/x-www-form-urlencoded", "origin": self.origin,
                              "sec-fetch-site": "same-origin"} | (headers or {}))
        status, out_headers, text = self.send("POST", path, sent, body)
        return self._follow(status, out_headers, text)
