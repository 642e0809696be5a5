"""The customer's page driven without a browser: requests straight into the service, the way the
function's edge builds them, for sandbox.page_client.PageClient."""

from __future__ import annotations

from datetime import datetime, timedelta
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from dunning.domain.links import sign_link
from dunning.domain.models import Account
from dunning.domain.page_verify import VerificationKind, fact_hash
from dunning.services.customer_page import PageConfig, PageRequest, handle, stylesheet_response
from sandbox.page_client import PageClient, Send

BASE = "https://pay.harbor-finance.example"
PAY = "https://portal.harbor-finance.example"
CONFIG = PageConfig(page_base_url=BASE, pay_base_url=PAY)


def service_send(ports: Any, guard: Any, config: PageConfig = CONFIG, source: str = "198.51.100.7") -> Send:
    def send(method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], str]:
        parts = urlsplit(path)
        if parts.path.startswith("/p/assets/"):
            answer = stylesheet_response(parts.path.rsplit("/", 1)[-1])
        else:
            jar = SimpleCookie()
            jar.load(headers.get("cookie", ""))
            request = PageRequest(
                method=method, token=parts.path.removeprefix("/p/"), query=dict(parse_qsl(parts.query)),
                cookies={k: v.value for k, v in jar.items()}, content_type=headers.get("content-type"),
                body=body, origin=headers.get("origin"), fetch_site=headers.get("sec-fetch-site"),
                wants_html="text/html" in headers.get("accept", ""), source=source)
            answer = handle(ports, guard, config, request)
        out = {k.lower(): v for k, v in answer.headers.items()} | {"content-type": answer.content_type}
        if answer.cookies:
            out["set-cookie"] = "\n".join(answer.cookies)
        return answer.status, out, answer.body

    return send


def link_for(account: Account, secret: bytes, now: datetime, purpose: str = "pay", days: int = 14,
             base: str = BASE) -> str:
    return sign_link(base, account.account_id, now + timedelta(days=days), secret, purpose)


def with_fact(account: Account, secret: bytes, kind: VerificationKind, value: str) -> Account:
    return account.model_copy(update={"verification": {kind.value: fact_hash(secret, kind, value)}})


def client(ports: Any, guard: Any, **kw: Any) -> PageClient:
    return PageClient(service_send(ports, guard, **kw), BASE)
