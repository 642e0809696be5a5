"""Keys from the ledger's KMS HMAC key (``GenerateMac``/``VerifyMac``), spent sparingly.

A seal per commit straight from KMS would be a KMS round trip per commit: two per notice. Instead
each container derives a sealing key once per UTC hour, ``GenerateMac("dunning-ledger-key/v1
<ref>")`` with a ref of the hour and a random nonce, and seals locally with HMAC-SHA256 under it;
the ref is stored with every seal. A verifier derives the same key from the ref (HMAC is
deterministic). Someone with the table but without ``kms:GenerateMac`` on this key can neither
derive a key nor forge a seal. Cost: one KMS call per container per hour, none per notice.

Anchors (one object per hour) are MAC'd by KMS directly and checked with ``VerifyMac``. The
personal-field keys (dunning.adapters.content) start from a master derived the same way, once
per container.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

ALGORITHM = "HMAC_SHA_256"
_REF = re.compile(r"[0-9]{10}-[0-9a-f]{16}")  # YYYYMMDDHH-<nonce>: what sealing_key() hands out


class KmsLedgerKeys:
    def __init__(self, client: Callable[[], Any], key_id: str, now: Callable[[], datetime]) -> None:
        self._client, self._key_id, self._now = client, key_id, now
        self._nonce = secrets.token_hex(8)
        self._keys: dict[str, bytes] = {}
        self._master: bytes | None = None
        self._lock = threading.Lock()

    def _generate(self, message: bytes) -> bytes:
        resp = self._client().generate_mac(KeyId=self._key_id, MacAlgorithm=ALGORITHM, Message=message)
        return bytes(resp["Mac"])

    def sealing_key(self) -> tuple[str, bytes]:
        ref = f"{self._now():%Y%m%d%H}-{self._nonce}"
        key = self.key(ref)
        assert key is not None
        return ref, key

    def key(self, ref: str) -> bytes | None:
        if not _REF.fullmatch(ref):
            return None
        with self._lock:
            if ref not in self._keys:
                if len(self._keys) > 4096:  # a verifier walking years of seals: keep memory bounded
                    self._keys.clear()
                self._keys[ref] = self._generate(f"dunning-ledger-key/v1\n{ref}".encode())
            return self._keys[ref]

    def mac(self, message: bytes) -> str:
        return base64.b64encode(self._generate(message)).decode("ascii")

    def verify_mac(self, message: bytes, mac: str) -> bool:
        try:
            raw = base64.b64decode(mac, validate=True)
        except (binascii.Error, ValueError):
            return False
        try:
            resp = self._client().verify_mac(KeyId=self._key_id, MacAlgorithm=ALGORITHM, Message=message, Mac=raw)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "KMSInvalidMacException":
                return False
            raise
        return bool(resp.get("MacValid"))

    def content_master(self) -> bytes:
        with self._lock:
            if self._master is None:
                self._master = self._generate(b"dunning-content-master/v1")
            return self._master
