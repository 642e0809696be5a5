"""The policy in force, and the published versions behind it.

Functions read the published policy (one object in PolicyBucket, ``s3://<bucket>/<key>``) through
a Powertools Parameters provider, cached for ``max_age`` seconds, or use the bundled default. A
document that fails validation or the compliance lint is refused with a logged reason and a
``PolicyRefused`` metric, and the last good policy stays in force; the process never runs without
a valid policy.

No published object at all is the normal state of a new deployment (the template creates the
bucket, not the policy: the bundled default is the policy until someone publishes one). That
answer is cached like a value, so a function does not ask S3 again on every invocation.

Why a versioned S3 object (docs/deploy.md, "Policy store"): the default policy already fills an
SSM Standard parameter (3.9 of 4 KB) and would outgrow Advanced (8 KB) with a few jurisdictions;
S3 keeps every version (SSM keeps 100), Object Lock makes the history unerasable, and each
version carries who published it and when.

``PolicyBucket`` is the publishing side (``dunning policy publish | history | rollback``): every
change is a new object version with its author and time in the object's metadata, a rollback
included, so the version list is the audit trail.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dunning.domain.policy import Policy, PolicyError, default_policy, parse_policy
from dunning.observability import logger, metrics

# Metadata keys of a published version (S3 user metadata: x-amz-meta-<key>).
PUBLISHED_BY = "published-by"
PUBLISHED_AT = "published-at"
POLICY_VERSION = "policy-version"
SHA256 = "sha256"
ACTION = "action"
RESTORES = "restores-version"
NOTE = "note"


class PolicyStore:
    """The policy in force for a function: published object, or the bundled default."""

    def __init__(self, location: str | None, max_age: int = 300,
                 fetch: Callable[[str, int], str] | None = None, clock: Callable[[], float] = time.time) -> None:
        self._name, self._max_age = location, max_age
        self._fetch = fetch or _s3_fetch
        self._clock = clock
        self._last_good: Policy | None = None
        self._last_text: str | None = None
        self._absent_until = float("-inf")
        self.refusals = 0

    def current(self) -> Policy:
        if not self._name or self._clock() < self._absent_until:
            return default_policy()
        try:
            text = self._fetch(self._name, self._max_age)
        except PolicyNotFound:
            if self._last_text is not None:  # the published policy was removed: back to the default
                logger.info("published policy removed; the bundled default is in force")
            self._absent_until = self._clock() + self._max_age
            self._last_good, self._last_text = None, None
            return default_policy()
        except Exception as exc:  # noqa: BLE001 - any fetch failure must fall back, not stop collections
            logger.warning("policy fetch failed; keeping the policy in force",
                           extra={"policy_location": self._name, "error": type(exc).__name__})
            return self._last_good or default_policy()
        if text == self._last_text and self._last_good is not None:
            return self._last_good
        try:
            policy = parse_policy(text)
            from dunning.domain.policy_lint import policy_problems

            problems = policy_problems(policy)
            if problems:
                raise PolicyError(problems)
        except PolicyError as exc:
            self.refusals += 1
            self._last_text = text
            metrics.add_metric(name="PolicyRefused", unit="Count", value=1)
            logger.error("policy refused; the last good policy stays in force",
                         extra={"policy_location": self._name, "problems": exc.problems[:20]})
            return self._last_good or default_policy()
        self._last_good, self._last_text = policy, text
        logger.info("policy in force", extra={"policy_version": policy.version})
        return policy


class PolicyNotFound(LookupError):
    """Nothing is published: the bundled default policy applies."""


def policy_location(bucket: str | None, key: str) -> str | None:
    """``s3://bucket/key`` for a deployment with a policy bucket; None means the bundled default."""
    return f"s3://{bucket}/{key}" if bucket else None


def split_location(location: str) -> tuple[str, str]:
    if not location.startswith("s3://") or "/" not in location[5:]:
        raise ValueError(f"policy location must be s3://bucket/key, not {location!r}")
    bucket, _, key = location[5:].partition("/")
    return bucket, key


# ---------------------------------------------------------------------------- reading (functions)


def _s3_provider() -> Any:
    from aws_lambda_powertools.utilities.parameters import BaseProvider

    class S3PolicyProvider(BaseProvider):
        """Powertools Parameters over S3 objects (name = s3://bucket/key): its cache and max_age."""

        def __init__(self) -> None:
            import boto3

            self._s3 = boto3.client("s3")
            super().__init__(client=self._s3)  # type: ignore[no-untyped-call]  # untyped in Powertools

        def _get(self, name: str, **sdk_options: Any) -> str:
            bucket, key = split_location(name)
            try:
                body = self._s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            except self._s3.exceptions.NoSuchKey as exc:
                raise PolicyNotFound(name) from exc
            return str(body.decode("utf-8"))

        def _get_multiple(self, path: str, **sdk_options: Any) -> dict[str, str]:
            raise NotImplementedError("the policy is one object")

    return S3PolicyProvider()


# Registered among Powertools' own providers, so parameters.clear_caches() empties its cache too.
_PROVIDER_KEY = "dunning-s3-policy"


def _s3_fetch(location: str, max_age: int) -> str:
    from aws_lambda_powertools.utilities.parameters import base
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    registry: dict[str, Any] = base.DEFAULT_PROVIDERS  # type: ignore[attr-defined]  # not re-exported
    provider = registry.get(_PROVIDER_KEY)
    if provider is None:
        provider = registry[_PROVIDER_KEY] = _s3_provider()
    try:
        return str(provider.get(location, max_age=max_age))
    except GetParameterError as exc:
        # Powertools wraps every error; the one it replaced says whether the object is absent.
        if isinstance(exc.__cause__ or exc.__context__, PolicyNotFound):
            raise PolicyNotFound(location) from exc
        raise


# ---------------------------------------------------------------------------- publishing (people)


@dataclass(frozen=True)
class PublishedVersion:
    """One version of the published policy object, newest first in ``PolicyBucket.history``."""

    version_id: str
    at: datetime  # when S3 stored it (authoritative), UTC
    published_by: str  # the caller identity STS returned to the publisher
    action: str  # PUBLISH, ROLLBACK, or REMOVED (a delete marker: the bundled default applies)
    policy_version: str
    sha256: str
    restores: str | None = None  # the version a rollback brought back
    note: str | None = None
    current: bool = False


class PolicyBucket:
    """The published policy object and its versions (the bucket keeps them all, Object Lock on)."""

    def __init__(self, s3: Any, bucket: str, key: str, sts: Any | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._s3, self.bucket, self.key, self._sts, self._clock = s3, bucket, key, sts, clock

    @property
    def location(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def publisher(self) -> str:
        """Who is publishing: the ARN STS reports for these credentials (not a name anyone types)."""
        if self._sts is None:
            return "unknown"
        return str(self._sts.get_caller_identity()["Arn"])

    def read(self, version_id: str | None = None) -> str:
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": self.key}
        if version_id:
            kwargs["VersionId"] = version_id
        try:
            return str(self._s3.get_object(**kwargs)["Body"].read().decode("utf-8"))
        except self._s3.exceptions.NoSuchKey as exc:
            raise PolicyNotFound(self.location) from exc

    def publish(self, text: str, policy_version: str, *, action: str = "PUBLISH",
                restores: str | None = None, note: str | None = None) -> PublishedVersion:
        """Write ``text`` as the new current version, recording who, when and what."""
        at = self._clock().astimezone(UTC).replace(microsecond=0)
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        by = self.publisher()
        meta = {PUBLISHED_BY: by, PUBLISHED_AT: at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                POLICY_VERSION: policy_version, SHA256: digest, ACTION: action}
        if restores:
            meta[RESTORES] = restores
        if note:
            meta[NOTE] = _ascii(note)[:500]  # S3 metadata travels in HTTP headers: ASCII only
        resp = self._s3.put_object(Bucket=self.bucket, Key=self.key, Body=text.encode("utf-8"),
                                   ContentType="application/yaml", Metadata=meta)
        return PublishedVersion(version_id=str(resp.get("VersionId", "null")), at=at, published_by=by,
                                action=action, policy_version=policy_version, sha256=digest,
                                restores=restores, note=meta.get(NOTE), current=True)

    def history(self) -> list[PublishedVersion]:
        """Every version of the policy object, newest first (a delete marker shows as REMOVED)."""
        entries: list[PublishedVersion] = []
        paginator = self._s3.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.key):
            for marker in page.get("DeleteMarkers", []):
                if marker["Key"] == self.key:
                    entries.append(PublishedVersion(
                        version_id=marker["VersionId"], at=_utc(marker["LastModified"]),
                        published_by=marker.get("Owner", {}).get("ID", "unknown"), action="REMOVED",
                        policy_version="(bundled default)", sha256="", current=bool(marker.get("IsLatest"))))
            for version in page.get("Versions", []):
                if version["Key"] != self.key:
                    continue
                head = self._s3.head_object(Bucket=self.bucket, Key=self.key, VersionId=version["VersionId"])
                meta = {k.lower(): v for k, v in head.get("Metadata", {}).items()}
                entries.append(PublishedVersion(
                    version_id=version["VersionId"], at=_utc(version["LastModified"]),
                    published_by=meta.get(PUBLISHED_BY, "unknown"), action=meta.get(ACTION, "PUBLISH"),
                    policy_version=meta.get(POLICY_VERSION, "?"), sha256=meta.get(SHA256, ""),
                    restores=meta.get(RESTORES), note=meta.get(NOTE), current=bool(version.get("IsLatest"))))
        return sorted(entries, key=lambda e: (e.at, e.current), reverse=True)


def _utc(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)


def _ascii(text: str) -> str:
    return text.encode("ascii", "replace").decode("ascii")
