"""Personal fields of ledger entries, encrypted under a per-case key that erasure destroys.

The free text a ledger entry carries about a person (what they wrote, the notice we sent them, an
agent's or admin's note) is stored as ``enc:v1:<base64 nonce|ciphertext|tag>`` (AES-256-GCM). The
entry's hash covers the ciphertext, so the chain, the seals and the anchors verify whether or not
the text can still be read. The key is HMAC(content master, case id, salt): the master is derived
from the KMS HMAC key (dunning.adapters.ledger_keys), the salt is 128 random bits kept only on the
case header. Erasure removes the salt; without it the key cannot be derived again, by anyone.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from typing import Any

from dunning.domain.models import EntryKind, LedgerEntry

PREFIX = "enc:v1:"
ERASED = "[erased]"
_CODE = re.compile(r"[A-Z][A-Z0-9_]{0,39}")  # a reason code is not personal; free text is

# Where personal free text lives, per entry kind (a path into the entry's data).
PERSONAL_FIELDS: dict[EntryKind, tuple[tuple[str, ...], ...]] = {
    EntryKind.REPLY: (("text",),),
    EntryKind.NOTICE: (("subject",), ("body",)),
    EntryKind.CALL_OUTCOME: (("note",),),
    EntryKind.LEGAL: (("note",), ("reason",)),
    EntryKind.HOLD: (("reason",),),
    EntryKind.ADMIN: (("params", "reason"), ("params", "note"), ("params", "new_phone")),
    EntryKind.PAGE: (("fields", "details"),),  # what the customer wrote with a dispute on their page
    EntryKind.SPECIAL_STATUS: (("note",),),  # e.g. who told us of a death, and how
    EntryKind.PHONE_REVEALED: (("reason",),),
}


def new_salt() -> str:
    return os.urandom(16).hex()


def case_key(master: bytes, case_id: str, salt: str) -> bytes:
    return hmac.new(master, f"dunning-case-content/v1\n{case_id}\n{salt}".encode(), hashlib.sha256).digest()


def _aad(case_id: str, kind: EntryKind, path: tuple[str, ...]) -> bytes:
    return f"{case_id}|{kind.value}|{'.'.join(path)}".encode()


def _walk(data: dict[str, Any], path: tuple[str, ...]) -> tuple[dict[str, Any], str] | None:
    node: Any = data
    for part in path[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
    if not isinstance(node, dict) or not isinstance(node.get(path[-1]), str):
        return None
    return node, path[-1]


def _copy(data: dict[str, Any]) -> dict[str, Any]:
    return {k: _copy(v) if isinstance(v, dict) else v for k, v in data.items()}


def has_personal(kind: EntryKind, data: dict[str, Any]) -> bool:
    """Whether the entry carries free text to encrypt (a code or an empty field needs no key)."""
    for path in PERSONAL_FIELDS.get(kind, ()):
        found = _walk(data, path)
        if found is not None:
            value = found[0][found[1]]
            if value and not value.startswith(PREFIX) and not (
                    kind in (EntryKind.HOLD, EntryKind.ADMIN) and _CODE.fullmatch(value)):
                return True
    return False


def encrypt_fields(kind: EntryKind, data: dict[str, Any], key: bytes, case_id: str) -> dict[str, Any]:
    """``data`` with its personal fields encrypted (codes such as a HOLD reason stay readable)."""
    paths = PERSONAL_FIELDS.get(kind, ())
    if not paths:
        return data
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # only the writers of free text pay

    out = _copy(data)
    for path in paths:
        found = _walk(out, path)
        if found is None:
            continue
        node, name = found
        value = node[name]
        if value.startswith(PREFIX) or (kind in (EntryKind.HOLD, EntryKind.ADMIN) and _CODE.fullmatch(value)):
            continue
        nonce = os.urandom(12)
        sealed = AESGCM(key).encrypt(nonce, value.encode("utf-8"), _aad(case_id, kind, path))
        node[name] = PREFIX + base64.b64encode(nonce + sealed).decode("ascii")
    return out


def decrypt_fields(entry: LedgerEntry, key: bytes | None) -> LedgerEntry:
    """The entry with its personal fields readable; ``[erased]`` where the key is gone."""
    paths = PERSONAL_FIELDS.get(entry.kind, ())
    data = _copy(entry.data)
    changed = False
    for path in paths:
        found = _walk(data, path)
        if found is None or not found[0][found[1]].startswith(PREFIX):
            continue
        node, name = found
        node[name] = _open(node[name], key, _aad(entry.case_id, entry.kind, path))
        changed = True
    return entry.model_copy(update={"data": data}) if changed else entry


def _open(value: str, key: bytes | None, aad: bytes) -> str:
    if key is None:
        return ERASED
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        raw = base64.b64decode(value[len(PREFIX):], validate=True)
        return AESGCM(key).decrypt(raw[:12], raw[12:], aad).decode("utf-8")
    except (binascii.Error, ValueError, InvalidTag):
        return ERASED  # a key that no longer matches (the salt was replaced): unreadable, as erased
