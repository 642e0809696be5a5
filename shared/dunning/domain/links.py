"""Signed, expiring self-service links (pay, plan) that go into notices.

The token is ``<payload>.<tag>``: the payload is base64url (no padding) of a compact JSON holding
only an id, a purpose and an expiry; the tag is HMAC-SHA256 over the payload text, truncated to
16 bytes. The URL carries no name, phone, e-mail or amount: an SMS may be read by anyone holding
the phone, and URLs end up in proxy and browser logs.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from datetime import UTC, datetime
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict

from dunning.domain.models import UtcDatetime, to_utc

TAG_BYTES = 16  # 128-bit tag: short enough for an SMS, far beyond guessing
MIN_SECRET_BYTES = 16
LINK_PATH = "/p/"
_DOMAIN = b"dunning-link-v1\x00"  # keeps these tags apart from any other HMAC made with the same secret

# Ids only: refusing '@', '+' and spaces stops an e-mail, E.164 phone or name being passed by mistake.
_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")
_PURPOSE = re.compile(r"^[a-z][a-z0-9_\-]{0,31}$")
_B64 = re.compile(r"^[A-Za-z0-9_\-]+$")


class InvalidLink(ValueError):
    """The link was not made by us, was altered, or is not a link at all."""


class ExpiredLink(InvalidLink):
    """A genuine link past its expiry; ``claims`` lets the page offer a fresh one."""

    def __init__(self, claims: LinkClaims) -> None:
        super().__init__("link expired")
        self.claims = claims


class LinkClaims(BaseModel):
    model_config = ConfigDict(frozen=True)

    account_id: str
    purpose: str
    expires_at: UtcDatetime


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    if not _B64.fullmatch(text):
        raise InvalidLink("malformed link")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidLink("malformed link") from exc


def _tag(payload: str, secret: bytes) -> str:
    digest = hmac.new(secret, _DOMAIN + payload.encode("ascii"), hashlib.sha256).digest()
    return _b64encode(digest[:TAG_BYTES])


def _check_secret(secret: bytes) -> None:
    if len(secret) < MIN_SECRET_BYTES:
        raise ValueError(f"link secret must be at least {MIN_SECRET_BYTES} bytes")


def sign_token(account_id: str, expires_at: datetime, secret: bytes, purpose: str = "pay") -> str:
    """The bare token (without a URL) for ``account_id`` (or a case id), valid until ``expires_at``."""
    _check_secret(secret)
    if not _ID.fullmatch(account_id):
        raise ValueError("link subject must be an account or case id (letters, digits, _ . : -)")
    if not _PURPOSE.fullmatch(purpose):
        raise ValueError("link purpose must be a short lower-case word")
    expiry = int(to_utc(expires_at).timestamp())  # whole seconds: what the token can carry
    body = json.dumps({"a": account_id, "p": purpose, "e": expiry}, separators=(",", ":"), sort_keys=True)
    payload = _b64encode(body.encode("utf-8"))
    return f"{payload}.{_tag(payload, secret)}"


# Short links (`/p/Ab3dE6gH9k`): an opaque code the page resolves to the signed token, for SMS
# where every character costs (a zh-CN reminder in one 70-unit segment). Ten letters and digits
# drawn by the adapter from a CSPRNG (59 bits): never guessable, never carrying personal data.
SHORT_CODE_LENGTH = 10
SHORT_CODE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_SHORT_CODE = re.compile(rf"[A-Za-z0-9]{{{SHORT_CODE_LENGTH}}}")


def is_short_code(token: str) -> bool:
    """A short link's code (a signed token always has a dot)."""
    return _SHORT_CODE.fullmatch(token) is not None


def short_link(base_url: str, code: str) -> str:
    """``<host>/p/<code>``, without the scheme: phones link a bare host, and ``https://`` is 8 of
    a UCS-2 segment's 70 units."""
    host = urlsplit(base_url).netloc or base_url.split("//", 1)[-1]
    return f"{host.rstrip('/')}{LINK_PATH}{code}"


def sample_short_link(policy_host: str | None, link: str) -> str:
    """The short link a text would carry for ``link`` (an example code): previews and the lint."""
    return short_link(policy_host or link.split(LINK_PATH)[0], "Ab3dE6gH9k")


def token_of(url_or_token: str) -> str:
    """The token of a link (its last path segment), or the token itself."""
    return _token_of(url_or_token)


def sign_link(
    base_url: str, account_id: str, expires_at: datetime, secret: bytes, purpose: str = "pay"
) -> str:
    """``<base_url>/p/<token>``, e.g. ``https://pay.example.com/p/eyJhIjoi...Q.3vV...``."""
    return f"{base_url.rstrip('/')}{LINK_PATH}{sign_token(account_id, expires_at, secret, purpose)}"


def _token_of(url_or_token: str) -> str:
    text = url_or_token.strip()
    if "/" in text:
        path = urlsplit(text).path  # drops ?query and #fragment a mail client may append
        text = path.rstrip("/").rsplit("/", 1)[-1]
    return text


def _claims_of(body: bytes) -> LinkClaims:
    try:
        fields = json.loads(body)
        account_id, purpose, expiry = fields["a"], fields["p"], fields["e"]
    except (UnicodeDecodeError, json.JSONDecodeError, TypeError, KeyError) as exc:
        raise InvalidLink("malformed link") from exc
    if not (isinstance(account_id, str) and isinstance(purpose, str) and type(expiry) is int):
        raise InvalidLink("malformed link")
    try:
        expires_at = datetime.fromtimestamp(expiry, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise InvalidLink("malformed link") from exc
    return LinkClaims(account_id=account_id, purpose=purpose, expires_at=expires_at)


def verify_link(url_or_token: str, secret: bytes, now: datetime) -> LinkClaims:
    """The claims of a link we signed with ``secret``.

    Raises ``InvalidLink`` for a malformed, altered or foreign link and ``ExpiredLink`` (a kind of
    ``InvalidLink``) once ``now`` reaches the expiry. The signature is checked before anything else.
    """
    _check_secret(secret)
    instant = to_utc(now)  # a naive clock is a bug in the caller, not a bad link
    token = _token_of(url_or_token)
    payload, dot, tag = token.partition(".")
    if not dot or not payload or not tag:
        raise InvalidLink("malformed link")
    if not _B64.fullmatch(payload) or not hmac.compare_digest(
        _tag(payload, secret).encode("ascii"), tag.encode("ascii", errors="replace")
    ):
        raise InvalidLink("link signature does not match")
    claims = _claims_of(_b64decode(payload))
    if instant >= claims.expires_at:
        raise ExpiredLink(claims)
    return claims


def list_unsubscribe_headers(unsubscribe_url: str) -> dict[str, str]:
    """The headers that let a mail client unsubscribe in one click (RFC 2369 and RFC 8058): the
    client POSTs ``List-Unsubscribe=One-Click`` to the link, which opts the customer out of email."""
    return {"List-Unsubscribe": f"<{unsubscribe_url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
