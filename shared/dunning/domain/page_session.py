"""The customer's page keeps no server-side session: what a visit needs is in a sealed cookie.

A visit is bound to the link it began on (a digest of the link, never the link itself) and carries
a random seed that ties every form's CSRF token to this browser. The cookie is HMAC-sealed with
the link key (under its own domain prefix), HttpOnly and SameSite=Strict, so a page on another
site can neither read it nor send it. Verifying starts a new visit with a new seed, so a visit
begun by someone else cannot be carried into a verified one.

The payment reference handed to the lender's payment portal is sealed the same way: an account
id, a one-time nonce and an expiry, nothing personal (the portal keeps each nonce once).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dunning.domain.models import to_utc

_SESSION = b"dunning-page-session-v1\x00"
_CSRF = b"dunning-page-csrf-v1\x00"
_PAYREF = b"dunning-payref-v1\x00"
_SOURCE = b"dunning-page-source-v1\x00"
TAG_BYTES = 16
MAX_COOKIE = 400
_B64 = re.compile(r"^[A-Za-z0-9_\-]+$")
NONCE = re.compile(r"^[A-Za-z0-9_\-]{16,64}$")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes | None:
    if not _B64.fullmatch(text):
        return None
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        return None


def _tag(domain: bytes, secret: bytes, message: bytes) -> str:
    return _b64(hmac.new(secret, domain + message, hashlib.sha256).digest()[:TAG_BYTES])


def link_digest(token: str) -> str:
    """Names a link in counters, cookies and the ledger without repeating the link (a credential)."""
    return hashlib.sha256(token.encode("utf-8", errors="replace")).hexdigest()[:24]


def source_key(secret: bytes, address: str) -> str:
    """A keyed digest of the caller's address, for a rate limit: the address itself is personal data."""
    return _tag(_SOURCE, secret, address.encode("utf-8", errors="replace"))


@dataclass(frozen=True)
class Visit:
    link: str  # link_digest of the link the visit began on
    seed: str  # random, per visit: CSRF tokens are bound to it
    verified: bool
    expires: int  # epoch seconds

    def seal(self, secret: bytes) -> str:
        body = json.dumps({"l": self.link, "s": self.seed, "v": int(self.verified), "e": self.expires},
                          separators=(",", ":"), sort_keys=True).encode()
        payload = _b64(body)
        return f"{payload}.{_tag(_SESSION, secret, payload.encode())}"


def open_visit(value: str | None, secret: bytes, link: str, now: datetime) -> Visit | None:
    """The visit a cookie carries, when it is ours, unaltered, unexpired and for this link."""
    if not value or len(value) > MAX_COOKIE:
        return None
    payload, dot, tag = value.partition(".")
    if not dot or not hmac.compare_digest(_tag(_SESSION, secret, payload.encode()).encode(),
                                          tag.encode("ascii", errors="replace")):
        return None
    raw = _unb64(payload)
    try:
        fields: Any = json.loads(raw) if raw is not None else None
        visit = Visit(link=str(fields["l"]), seed=str(fields["s"]), verified=fields["v"] == 1,
                      expires=int(fields["e"]))
    except (ValueError, TypeError, KeyError):
        return None
    if visit.link != link or visit.expires <= int(to_utc(now).timestamp()):
        return None
    return visit


def csrf_token(secret: bytes, visit: Visit, action: str, form_key: str) -> str:
    """The token a form carries: valid only for this visit, this action and this one form."""
    message = "\x00".join((visit.seed, visit.link, action, form_key)).encode()
    return _tag(_CSRF, secret, message)


def csrf_ok(secret: bytes, visit: Visit, action: str, form_key: str, token: str) -> bool:
    expected = csrf_token(secret, visit, action, form_key)
    return hmac.compare_digest(expected.encode(), token.encode("ascii", errors="replace"))


def payment_reference(secret: bytes, account_id: str, nonce: str, expires_at: datetime) -> str:
    """``<payload>.<tag>`` for the payment portal: account id, one-time nonce, expiry (UTC seconds)."""
    body = json.dumps({"a": account_id, "n": nonce, "e": int(to_utc(expires_at).timestamp())},
                      separators=(",", ":"), sort_keys=True).encode()
    payload = _b64(body)
    return f"{payload}.{_tag(_PAYREF, secret, payload.encode())}"


def read_payment_reference(reference: str, secret: bytes) -> dict[str, str | int] | None:
    """What the portal reads back (None when altered): the account id, the nonce and the expiry."""
    payload, dot, tag = reference.partition(".")
    if not dot or not hmac.compare_digest(_tag(_PAYREF, secret, payload.encode()).encode(),
                                          tag.encode("ascii", errors="replace")):
        return None
    raw = _unb64(payload)
    try:
        fields: Any = json.loads(raw) if raw is not None else None
        return {"account_id": str(fields["a"]), "nonce": str(fields["n"]), "expires": int(fields["e"])}
    except (ValueError, TypeError, KeyError):
        return None
