"""CustomerPage: the customer's own page behind the signed link in every notice.

GET/POST /p/{token} (and the page's stylesheet at /p/assets/{asset}). Server-rendered HTML that
works with no JavaScript; everything the page decides is `dunning.services.customer_page`. The
caller's address is handed to the service only to be rate-limited by a keyed digest; logs carry
ids and codes, never the link, the address or anything the visitor typed.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.shared.cookies import Cookie
from aws_lambda_powertools.utilities.typing import LambdaContext

from dunning.adapters.page_guard import DynamoPageGuard
from dunning.composition import AwsPorts, cold_start
from dunning.observability import entry_point
from dunning.services import customer_page
from dunning.services.customer_page import PageConfig, PageRequest, PageResponse
from dunning.settings import PageSettings, load_settings

app = APIGatewayHttpResolver()

# Settings, ports and the page's guard: built on first use, once per cold start.
ports = cold_start(globals(), "_ports", lambda: AwsPorts(load_settings(PageSettings)))
guard = cold_start(globals(), "_guard", lambda: DynamoPageGuard(ports().client("dynamodb"),
                                                                ports().settings.idempotency_table))
config = cold_start(globals(), "_config", lambda: PageConfig(page_base_url=ports().settings.page_base_url,
                                                             pay_base_url=ports().settings.pay_base_url))


class _SetCookie(Cookie):
    """A Set-Cookie value the service has already written out in full."""

    def __init__(self, text: str) -> None:
        super().__init__(name=text.split("=", 1)[0], value="")
        self._text = text

    def __str__(self) -> str:
        return self._text


def _answer(page: PageResponse) -> Response[str]:
    return Response(status_code=page.status, content_type=page.content_type, body=page.body,
                    headers=dict(page.headers), cookies=[_SetCookie(c) for c in page.cookies])


def _body() -> bytes | None:
    """The bytes the browser sent (API Gateway base64-encodes form bodies); None when not base64."""
    event = app.current_event
    body = event.body or ""
    if not event.is_base64_encoded:
        return body.encode("utf-8")
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        return None


def _cookies() -> dict[str, str]:
    jar: dict[str, str] = {}
    for cookie in app.current_event.cookies or []:
        name, _, value = cookie.partition("=")
        jar.setdefault(name.strip(), value.strip())
    return jar


def _request(method: str, token: str, body: bytes = b"") -> PageRequest:
    event = app.current_event
    headers = {k.lower(): v for k, v in (event.headers or {}).items()}
    return PageRequest(
        method=method, token=token, query=dict(event.query_string_parameters or {}), cookies=_cookies(),
        content_type=headers.get("content-type"), body=body, origin=headers.get("origin"),
        fetch_site=headers.get("sec-fetch-site"), wants_html="text/html" in headers.get("accept", ""),
        source=event.request_context.http.source_ip or "")


@app.get("/p/assets/<asset>")
def stylesheet(asset: str) -> Response[str]:
    return _answer(customer_page.stylesheet_response(asset))


@app.get("/p/<token>")
def show(token: str) -> Response[str]:
    return _answer(customer_page.handle(ports(), guard(), config(), _request("GET", token)))


@app.post("/p/<token>")
def act(token: str) -> Response[str]:
    body = _body()
    if body is None:
        return _answer(PageResponse(400, '{"type":"about:blank","title":"Bad request","status":400,'
                                         '"detail":"body is not valid base64"}', customer_page.PROBLEM))
    return _answer(customer_page.handle(ports(), guard(), config(), _request("POST", token, body)))


@app.not_found
def _no_route(exc: Exception) -> Response[str]:
    return Response(status_code=404, content_type=customer_page.PROBLEM,
                    body='{"type":"about:blank","title":"Not found","status":404,"detail":"no such route"}')


@entry_point()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
