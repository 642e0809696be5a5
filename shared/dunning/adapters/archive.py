"""The Object-Lock archive bucket: every object written with its own retain-until date.

The bucket's default retention is the shortest (US, 3 years); an object that must live longer
(a CN case: 5 years) or whose clock starts later (retention runs from the case's close)
carries its own date. COMPLIANCE mode in prod (nobody, root included, can delete it early),
GOVERNANCE elsewhere so test stages can be cleaned up.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError


class S3Archive:
    def __init__(self, client: Any, bucket: str, lock_mode: str | None) -> None:
        self._s3, self._bucket, self._mode = client, bucket, lock_mode

    def put(self, key: str, body: bytes, content_type: str, retain_until: datetime | None) -> None:
        extra: dict[str, Any] = {}
        if retain_until is not None and self._mode:
            extra = {"ObjectLockMode": self._mode, "ObjectLockRetainUntilDate": retain_until}
        self._s3.put_object(Bucket=self._bucket, Key=key, Body=body, ContentType=content_type, **extra)

    def get(self, key: str) -> bytes | None:
        try:
            return bytes(self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read())
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return None
            raise

    def keys(self, prefix: str) -> list[str]:
        out: list[str] = []
        kwargs: dict[str, Any] = {"Bucket": self._bucket, "Prefix": prefix}
        while True:
            page = self._s3.list_objects_v2(**kwargs)
            out += [o["Key"] for o in page.get("Contents", [])]
            if not page.get("IsTruncated"):
                return out
            kwargs["ContinuationToken"] = page["NextContinuationToken"]
