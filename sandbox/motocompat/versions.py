"""The moto and botocore this package was written against, checked when it is imported.

Every module here replaces or reads a private part of moto (and one method of botocore). Those
parts change between releases without notice, so a different version must stop the sandbox at
once with a message that says what to do, not half-work and produce a summary that looks right.
"""

from __future__ import annotations

import importlib.metadata

# Keep equal to the pin in pyproject.toml (tests/sandbox/test_motocompat.py checks that it is).
PINNED_MOTO = "5.2.5"
# botocore is not pinned by itself: boto3==1.44.5 admits any botocore 1.44.x, and the one
# botocore method wrapped here (BaseClient._make_api_call) is the same across that series.
BOTOCORE_SERIES = "1.44"


class MotoVersionError(RuntimeError):
    """The installed moto or botocore is not the one sandbox.motocompat was checked against."""


def check_versions(moto_version: str | None = None, botocore_version: str | None = None) -> None:
    """Raise MotoVersionError unless moto is PINNED_MOTO and botocore is in BOTOCORE_SERIES."""
    moto_version = moto_version or importlib.metadata.version("moto")
    botocore_version = botocore_version or importlib.metadata.version("botocore")
    problems = []
    if moto_version != PINNED_MOTO:
        problems.append(f"moto {moto_version} is installed, sandbox.motocompat is written for moto {PINNED_MOTO}")
    if botocore_version.split(".")[:2] != BOTOCORE_SERIES.split("."):
        problems.append(f"botocore {botocore_version} is installed, sandbox.motocompat is written for "
                        f"botocore {BOTOCORE_SERIES}.x")
    if problems:
        raise MotoVersionError(
            "; ".join(problems) + ". Install the pinned versions (`make setup`, or "
            "`.venv/bin/pip install -e '.[dev]'`). To move to another moto, check every patch listed in "
            "sandbox/motocompat/README.md against its source, run tests/sandbox/test_moto_patches.py, "
            "then change PINNED_MOTO in sandbox/motocompat/versions.py and the pin in pyproject.toml together."
        )
