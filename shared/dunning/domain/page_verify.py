"""The fact a visitor of the customer's page confirms before anything is shown (one per jurisdiction).

A link in a notice proves only that someone holds the phone or the mailbox. The account file may
carry a date of birth, a postcode and the last four characters of the national id; the policy says
per jurisdiction which one the page asks for. Each is stored as a keyed hash of its normal form
(HMAC-SHA256 under the link key, kept apart from other uses of that key by a domain prefix): a
date of birth has only some 40,000 values, so an unkeyed hash would give it away to anyone who
can read the table. Reasons name the field and the rule, never the value.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import date
from enum import StrEnum

_DOMAIN = b"dunning-verify-v1\x00"
HASH_HEX = 32  # 128 bits: plenty against a guess, and short in the table
_SEPARATORS = re.compile(r"[\s\-./]")
_DATE_FORMATS = (
    re.compile(r"^(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})$"),  # ISO, as <input type=date> sends it
    re.compile(r"^(?P<y>\d{4})/(?P<m>\d{1,2})/(?P<d>\d{1,2})$"),  # 1985/04/12 (zh-CN habit)
    re.compile(r"^(?P<y>\d{4})年(?P<m>\d{1,2})月(?P<d>\d{1,2})日?$"),
    re.compile(r"^(?P<m>\d{1,2})/(?P<d>\d{1,2})/(?P<y>\d{4})$"),  # 04/12/1985 (en-US habit)
)
MAX_INPUT = 40


class VerificationKind(StrEnum):
    DATE_OF_BIRTH = "date_of_birth"
    POSTCODE = "postcode"
    NATIONAL_ID_LAST4 = "national_id_last4"


class InvalidFact(ValueError):
    """A value that cannot be a fact of its kind; the message names the kind and the rule only."""


def _date_of_birth(text: str) -> str:
    for pattern in _DATE_FORMATS:
        found = pattern.match(text)
        if found:
            try:
                born = date(int(found["y"]), int(found["m"]), int(found["d"]))
            except ValueError:
                break
            if born.year < 1900:
                break
            return born.isoformat()
    raise InvalidFact("date_of_birth: not a date (YYYY-MM-DD)")


def _postcode(text: str) -> str:
    code = _SEPARATORS.sub("", text).upper()
    if not re.fullmatch(r"[A-Z0-9]{3,10}", code):
        raise InvalidFact("postcode: letters and digits only, 3 to 10 of them")
    if re.fullmatch(r"\d{9}", code):  # a US ZIP+4 is its ZIP: customers give either
        code = code[:5]
    return code


def _national_id_last4(text: str) -> str:
    code = _SEPARATORS.sub("", text).upper()
    if not re.fullmatch(r"[0-9X]{4}", code):
        raise InvalidFact("national_id_last4: four digits (the last may be X)")
    return code


_NORMALISE = {
    VerificationKind.DATE_OF_BIRTH: _date_of_birth,
    VerificationKind.POSTCODE: _postcode,
    VerificationKind.NATIONAL_ID_LAST4: _national_id_last4,
}


def normalise(kind: VerificationKind, value: str) -> str:
    """The one form a fact is hashed in (a date as YYYY-MM-DD, a code upper case without spaces)."""
    text = value.strip()
    if not text or len(text) > MAX_INPUT:
        raise InvalidFact(f"{kind.value}: empty or longer than {MAX_INPUT} characters")
    return _NORMALISE[kind](text)


def fact_hash(secret: bytes, kind: VerificationKind, value: str) -> str:
    """The keyed hash stored for a fact (raises InvalidFact when the value is not one)."""
    message = _DOMAIN + kind.value.encode() + b"\x00" + normalise(kind, value).encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:HASH_HEX]


def hash_facts(secret: bytes, facts: dict[str, str]) -> dict[str, str]:
    """Every fact the account file gave, keyed-hashed; unknown kinds are not kept."""
    return {kind.value: fact_hash(secret, kind, facts[kind.value])
            for kind in VerificationKind if facts.get(kind.value)}


def confirms(secret: bytes, kind: VerificationKind, given: str, stored: str | None) -> bool:
    """Whether what the visitor typed is the fact on file (a value that is not a fact is not it)."""
    if not stored:
        return False
    try:
        candidate = fact_hash(secret, kind, given)
    except InvalidFact:
        return False
    return hmac.compare_digest(candidate, stored)
