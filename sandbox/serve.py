"""`dunning serve`: the stack's HTTP API on 127.0.0.1, backed by the local AWS, in real time.

API Gateway is one of the things moto's CloudFormation skips, so this plays its part for the
template's HTTP API routes (``Stack.http_routes``): each request becomes an HTTP API v2 event,
the route's function is invoked through moto's Lambda API (its real handler runs in this
process) and the function's response is written back. Webhook signatures are checked exactly as
on AWS: the functions' PUBLIC_WEBHOOK_BASE_URL is the served base URL.

``/admin`` is IAM-authorised on AWS; here it takes the ``ADMIN_TOKEN`` printed on start, as
``Authorization: Bearer <token>``: any local process, and any web page open in the developer's
browser, can reach 127.0.0.1. What a web page can send across sites without asking is refused:
a foreign ``Origin`` or ``Sec-Fetch-Site: cross-site`` on every route, and on ``/admin`` any body
that is not JSON (text/plain and the form types are what a cross-site form can post). A request
whose length cannot be known (``Content-Length: abc``, ``-5``, chunked) is answered 400/411 and
its connection closed, never dropped. The escalations run on moto's Step Functions in real time:
they send what is due now and then park on their waits.
"""

from __future__ import annotations

import base64
import contextlib
import hmac
import json
import logging
import re
import secrets
import sys
import threading
import warnings
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO
from urllib.parse import unquote

import boto3

from sandbox.aws import HttpRoute, Stack, local_aws, provision
from sandbox.bootstrap import (
    LINK_SECRET,
    WEBHOOK_SECRETS,
    FunctionError,
    StreamPoller,
    complete_mock,
    import_portfolio,
    invoke,
    sweep,
)
from sandbox.portfolio import SyntheticAccount, build_portfolio

HOST = "127.0.0.1"  # never another interface: the sandbox's secrets are printed on start
MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's HTTP API payload limit
STREAM_POLL_SECONDS = 1.0
SECRET_NAMES = {"generic": "GENERIC_WEBHOOK_SECRET", "twilio": "TWILIO_AUTH_TOKEN"}
# Content types API Gateway passes as text; any other body reaches the function base64-encoded.
_TEXT_TYPES = re.compile(r"^(text/|application/(json|problem\+json|xml|javascript)\b)", re.I)
_LENGTH = re.compile(r"[0-9]{1,12}")
_JSON_TYPE = re.compile(r"^application/(json|[a-z0-9.+-]*\+json)\s*(;.*)?$", re.I)


def _problem(status: int, title: str, detail: str) -> tuple[int, dict[str, str], bytes]:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return status, {"content-type": "application/problem+json"}, json.dumps(body).encode()


def body_length(content_length: str | None, transfer_encoding: str | None) -> int | tuple[int, dict[str, str], bytes]:
    """The body's byte count, or the problem to answer when it cannot be known."""
    if transfer_encoding:
        return _problem(411, "Length required", "send the body with a Content-Length")
    declared = (content_length or "0").strip()
    if not _LENGTH.fullmatch(declared):  # "abc", "-5", "1e3", "²"
        return _problem(400, "Bad Content-Length", "Content-Length must be a byte count")
    if int(declared) > MAX_BODY_BYTES:
        return _problem(413, "Request Entity Too Large", f"bodies are limited to {MAX_BODY_BYTES} bytes")
    return int(declared)


def refusal(route: Route, headers: dict[str, str], base_url: str,
            admin_token: str) -> tuple[int, dict[str, str], bytes] | None:
    """Why this request must not reach the function (None: let it through). ``headers`` are lower-cased."""
    origin = headers.get("origin")
    if (origin is not None and origin.rstrip("/") != base_url) or headers.get("sec-fetch-site") == "cross-site":
        return _problem(403, "Cross-site request refused", "requests from other origins are not served")
    if route.route.auth != "AWS_IAM":
        return None  # webhooks: the provider's signature is their authentication
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), admin_token.encode()):
        status, out, body = _problem(401, "Admin token required",
                                     "send the ADMIN_TOKEN printed on start as Authorization: Bearer <token>")
        return status, out | {"www-authenticate": 'Bearer realm="dunning-local"'}, body
    if not _JSON_TYPE.match(headers.get("content-type", "")):
        return _problem(415, "JSON required", "/admin takes Content-Type: application/json")
    return None


@dataclass(frozen=True)
class Route:
    route: HttpRoute
    pattern: re.Pattern[str]

    @property
    def route_key(self) -> str:
        return f"{self.route.method} {self.route.path}"


def compile_routes(routes: list[HttpRoute]) -> list[Route]:
    """``/webhooks/sms/{provider}`` -> a regex with a named group per path parameter."""
    compiled = []
    for route in routes:
        parts = re.split(r"(\{[A-Za-z0-9_]+\+?\})", route.path)
        regex = "".join(
            (f"(?P<{p[1:-2]}>.+)" if p.endswith("+}") else f"(?P<{p[1:-1]}>[^/]+)") if p.startswith("{")
            else re.escape(p) for p in parts)
        compiled.append(Route(route, re.compile(f"^{regex}$")))
    return compiled


def match(routes: list[Route], method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    for route in routes:
        found = route.pattern.match(path)
        if found and route.route.method in (method, "ANY"):
            return route, {k: unquote(v) for k, v in found.groupdict().items()}
    return None


def api_event(route: Route, params: dict[str, str], method: str, raw_path: str, raw_query: str,
              headers: dict[str, str], body: bytes, *, account_id: str, host: str, source_ip: str,
              now: datetime, request_id: str) -> dict[str, Any]:
    """The API Gateway HTTP API (payload format 2.0) event for one request."""
    text = _TEXT_TYPES.match(headers.get("content-type", "")) is not None
    try:
        decoded = body.decode("utf-8") if text else None
    except UnicodeDecodeError:
        decoded = None
    stamp = now.timestamp()
    context: dict[str, Any] = {
        "accountId": account_id, "apiId": "local", "domainName": host, "domainPrefix": host.split(".")[0],
        "http": {"method": method, "path": raw_path, "protocol": "HTTP/1.1", "sourceIp": source_ip,
                 "userAgent": headers.get("user-agent", "")},
        "requestId": request_id, "routeKey": route.route_key, "stage": "$default",
        "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"), "timeEpoch": int(stamp * 1000),
    }
    if route.route.auth == "AWS_IAM":
        # API Gateway would have checked the SigV4 signature; locally every caller is the admin.
        context["authorizer"] = {"iam": {
            "accessKey": "AKIALOCALADMIN", "accountId": account_id, "callerId": "LOCALADMIN",
            "cognitoIdentity": None, "principalOrgId": None,
            "userArn": f"arn:aws:iam::{account_id}:user/local-admin", "userId": "LOCALADMIN"}}
    event: dict[str, Any] = {
        "version": "2.0", "routeKey": route.route_key, "rawPath": raw_path, "rawQueryString": raw_query,
        "headers": headers, "requestContext": context, "isBase64Encoded": decoded is None and bool(body),
    }
    if "cookie" in headers:
        # Payload 2.0 hands the function its cookies apart, one string each, as API Gateway does.
        event["headers"] = {k: v for k, v in headers.items() if k != "cookie"}
        event["cookies"] = [c.strip() for c in re.split(r"[;,]", headers["cookie"]) if c.strip()]
    if params:
        event["pathParameters"] = params
    if body:
        event["body"] = decoded if decoded is not None else base64.b64encode(body).decode("ascii")
    return event


class LocalApi:
    """The local stack with its HTTP API served on 127.0.0.1 (a context manager).

    ``with LocalApi(port=0) as api:`` binds the port, provisions the stack with the served base
    URL, seeds the portfolio and starts the stream poller; ``api.serve_forever()`` (or ``start()``
    for a background thread) answers requests until ``shutdown()``.
    """

    def __init__(self, port: int = 8787, accounts: int = 50, seed: int = 7,
                 sweep_on_start: bool = True) -> None:
        self.port, self.accounts, self.seed, self.sweep_on_start = port, accounts, seed, sweep_on_start
        self.portfolio: list[SyntheticAccount] = []
        self._exit = ExitStack()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._request_seq = 0
        self._seq_lock = threading.Lock()
        self.admin_token = secrets.token_urlsafe(32)  # new every start: printed, never stored

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> LocalApi:
        try:
            self._start()
        except BaseException:
            self._exit.close()
            raise
        return self

    def _start(self) -> None:
        # The socket first: the functions must know the URL providers will sign.
        self.server = ThreadingHTTPServer((HOST, self.port), _handler_for(self))
        self.server.daemon_threads = True
        self._exit.callback(self.server.server_close)
        self.port = self.server.server_address[1]
        self.base_url = f"http://{HOST}:{self.port}"
        self._exit.enter_context(warnings.catch_warnings())
        warnings.simplefilter("ignore", UserWarning)  # moto names every resource type it skips
        logging.getLogger("moto").setLevel(logging.ERROR)
        self.runtime = self._exit.enter_context(local_aws())
        self.stack: Stack = provision(parameters={"LogLevel": "WARNING",
                                                  "PublicWebhookBaseUrl": self.base_url,
                                                  "PageBaseUrl": self.base_url})
        self.session = boto3.session.Session(region_name=self.stack.region)
        self.lam = self.session.client("lambda")
        self.routes = compile_routes(self.stack.http_routes)
        complete_mock(self.stack, self.session, LINK_SECRET, WEBHOOK_SECRETS)
        self.poller = StreamPoller(self.stack, self.session)
        now = datetime.now(UTC)
        self.portfolio = build_portfolio(self.accounts, self.seed, now.date())
        self.import_result = import_portfolio(self.stack, self.session, self.portfolio, now)
        self.poller.poll()
        if self.sweep_on_start:
            sweep(self.stack, self.session, now)
            self.poller.poll()
        poller = threading.Thread(target=self._poll_stream, name="stream-poller", daemon=True)
        poller.start()
        self._threads.append(poller)
        self._exit.callback(self._stop_threads)

    def _poll_stream(self) -> None:
        # Account changes a request makes (an opt-out, a payment) flow on to AccountStream.
        while not self._stop.wait(STREAM_POLL_SECONDS):
            try:
                self.poller.poll()
            except Exception:  # noqa: BLE001 - a poll that fails is retried on the next tick
                logging.getLogger("sandbox.serve").warning("stream poll failed", exc_info=True)

    def _stop_threads(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)

    def serve_forever(self) -> None:
        self.server.serve_forever(poll_interval=0.2)

    def start(self) -> threading.Thread:
        """Serve from a background thread (tests); ``shutdown()`` stops it."""
        thread = threading.Thread(target=self.serve_forever, name="local-api", daemon=True)
        thread.start()
        self._threads.append(thread)
        return thread

    def shutdown(self) -> None:
        self.server.shutdown()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._exit.close()

    # ------------------------------------------------------------------ what to print

    @property
    def secrets(self) -> dict[str, str]:
        """NAME -> value of each provider's webhook secret (as providers are configured with it)."""
        return {SECRET_NAMES.get(p, f"{p.upper()}_WEBHOOK_SECRET"): v
                for p, v in sorted(WEBHOOK_SECRETS.items())}

    def banner(self) -> list[str]:
        lines = [f"BASE_URL={self.base_url}", f"ADMIN_TOKEN={self.admin_token}"]
        lines += [f"{name}={value}" for name, value in self.secrets.items()]
        lines += [f"{name}={value}" for name, value in self.page_links().items()]
        cases = self.collection_cases()
        account = self.portfolio[0] if self.portfolio else None
        example = cases[0] if cases else (
            (account.account_id, f"{account.account_id}-{account.due_date:%Y%m%d}") if account else None)
        if example is not None:
            command = json.dumps({"command": {"type": "show_case", "account_id": example[0],
                                              "case_id": example[1]}})
            lines.append(f"# example: curl -s -X POST {self.base_url}/admin -H 'content-type: application/json' "
                         f"-H 'authorization: Bearer {self.admin_token}' -d '{command}'")
        return lines

    def page_links(self) -> dict[str, str]:
        """LINK_EN_US / LINK_ZH_CN: the customer's page of a seeded overdue account with an open case,
        one per locale, and VERIFY_EN_US / VERIFY_ZH_CN: the fact each asks first."""
        open_cases = {account_id for account_id, _ in self.collection_cases()}
        now = datetime.now(UTC)
        out: dict[str, str] = {}
        for locale in ("en-US", "zh-CN"):
            account = next((a for a in self.portfolio if a.locale == locale and a.account_id in open_cases), None)
            if account is None:
                continue
            suffix = locale.replace("-", "_").upper()
            out[f"LINK_{suffix}"] = self.page_link(account.account_id, now)
            out[f"VERIFY_{suffix}"] = account.verification
        return out

    def page_link(self, account_id: str, now: datetime, purpose: str = "pay") -> str:
        """A link exactly as a notice would carry it (signed with the stack's link key)."""
        from dunning.domain.links import sign_link
        from dunning.domain.policy import default_policy

        expires = now + timedelta(days=default_policy().link_valid_days)
        return sign_link(self.base_url, account_id, expires, LINK_SECRET.encode(), purpose)

    def collection_cases(self) -> list[tuple[str, str]]:
        """(account_id, case_id) of every collection case opened so far (pre-due records left out)."""
        ddb = self.session.client("dynamodb")
        kwargs: dict[str, Any] = {"TableName": self.stack.table("CollectionsTable"),
                                  "FilterExpression": "#t = :case",
                                  "ExpressionAttributeNames": {"#t": "type"},
                                  "ExpressionAttributeValues": {":case": {"S": "CASE"}}}
        found: list[tuple[str, str]] = []
        while True:
            page = ddb.scan(**kwargs)
            found += [(i["account_id"]["S"], i["case_id"]["S"]) for i in page.get("Items", [])
                      if "account_id" in i and "case_id" in i and not i["case_id"]["S"].startswith("PRE-")]
            if "LastEvaluatedKey" not in page:
                return sorted(found)
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # ------------------------------------------------------------------ one request

    def next_request_id(self) -> str:
        with self._seq_lock:
            self._request_seq += 1
            return f"local-{self._request_seq:06d}"

    def call(self, route: Route, params: dict[str, str], method: str, raw_path: str, raw_query: str,
             headers: dict[str, str], body: bytes, source_ip: str) -> tuple[int, dict[str, str], bytes]:
        refused = refusal(route, headers, self.base_url, self.admin_token)
        if refused is not None:
            return refused
        event = api_event(route, params, method, raw_path, raw_query, headers, body,
                          account_id=self.stack.account_id, host=f"{HOST}:{self.port}", source_ip=source_ip,
                          now=datetime.now(UTC), request_id=self.next_request_id())
        try:
            result = invoke(self.lam, self.stack, route.route.function_logical_id, event)
        except FunctionError:
            return 500, {"content-type": "application/json"}, b'{"message":"Internal Server Error"}'
        return lambda_response(result)


def lambda_response(result: Any) -> tuple[int, dict[str, str], bytes]:
    """An HTTP API v2 integration response (or a bare value, which API Gateway sends as JSON)."""
    if not isinstance(result, dict) or "statusCode" not in result:
        return 200, {"content-type": "application/json"}, json.dumps(result).encode()
    headers = {str(k).lower(): str(v) for k, v in (result.get("headers") or {}).items()}
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers[str(name).lower()] = ", ".join(str(v) for v in values)
    if result.get("cookies"):
        # Payload 2.0 returns cookies apart; API Gateway sends one Set-Cookie line each.
        headers["set-cookie"] = "\n".join(str(c) for c in result["cookies"])
    body = result.get("body") or ""
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode("utf-8")
    return int(result["statusCode"]), headers, raw


def lower_headers(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Header names lower-cased; a repeated header's values joined with commas (as API Gateway does)."""
    headers: dict[str, str] = {}
    for name, value in items:
        key = name.lower()
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    return headers


def _header_lines(headers: dict[str, str]) -> Iterable[tuple[str, str]]:
    """The response's header lines: one Set-Cookie line per cookie, length and framing left to us."""
    for name, value in headers.items():
        if name not in ("content-length", "connection", "transfer-encoding"):
            for line in value.split("\n") if name == "set-cookie" else [value]:
                yield name, line


def _handler_for(api: LocalApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "dunning-local-api"

        def _any(self) -> None:
            raw_path, _, raw_query = self.path.partition("?")
            found = match(api.routes, self.command, raw_path)
            length = body_length(self.headers.get("content-length"), self.headers.get("transfer-encoding"))
            if not isinstance(length, int):
                self.close_connection = True  # the body is not read: the connection cannot be reused
                return self._send(*length)
            body = self.rfile.read(length) if length else b""
            if found is None:
                return self._send(404, {"content-type": "application/json"}, b'{"message":"Not Found"}')
            headers = lower_headers(self.headers.items())
            status, out_headers, out = api.call(*found, self.command, raw_path, raw_query, headers, body,
                                                self.client_address[0])
            self._send(status, out_headers, out)

        def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            for name, value in _header_lines(headers):
                self.send_header(name, value)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _any

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
            # method, path and status only: never headers or bodies (signatures, phone numbers)
            sys.stderr.write(f"{self.log_date_time_string()} {format % args}\n")

    return Handler


def serve(port: int, accounts: int, seed: int, out: TextIO | None = None) -> int:
    """Run until Ctrl-C; returns the exit code. The banner goes to ``out`` (stdout); the functions'
    own log lines and metrics, which they print to stdout as on Lambda, go to stderr."""
    out = out or sys.stdout
    with contextlib.redirect_stdout(sys.stderr), LocalApi(port=port, accounts=accounts, seed=seed) as api:
        for line in api.banner():
            print(line, file=out, flush=True)
        try:
            api.serve_forever()
        except KeyboardInterrupt:
            print("stopping", file=out, flush=True)
    return 0
