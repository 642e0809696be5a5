"""Test-wide settings: UTC everywhere, fake AWS credentials, no network (pytest-socket)."""

import os
import time

os.environ["TZ"] = "UTC"
time.tzset()
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"  # noqa: S105 - moto's fake credentials
os.environ["AWS_SESSION_TOKEN"] = "testing"  # noqa: S105
os.environ["AWS_ACCOUNT_ID_ENDPOINT_MODE"] = "disabled"
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")

# The X-Ray recorder opens (never uses) a UDP socket when first imported; create it before
# pytest-socket starts refusing sockets, so Powertools' Tracer can run (disabled) in tests.
import aws_xray_sdk.core  # noqa: E402,F401
import pytest  # noqa: E402
from aws_lambda_powertools.utilities import parameters  # noqa: E402

# The template's Powertools Globals (service name, metrics namespace), before any test imports the
# layer: importing the sandbox package sets them for the process, as for `dunning simulate`.
import sandbox  # noqa: E402,F401

# The reliability summary line ("faults injected, notices duplicated, records lost"): the xdist
# controller loads only this conftest, so the hooks are registered from here too.
from tests.reliability.conftest import pytest_runtest_logreport, pytest_terminal_summary  # noqa: E402,F401


@pytest.fixture(autouse=True)
def _fresh_parameter_caches() -> None:
    """Every test starts as a new container: Powertools' secret and parameter caches are
    process-wide, so a secret fetched under another test's mock (same name, other value, a client
    of a finished mock) would otherwise answer for an hour."""
    parameters.clear_caches()
    parameters.base.DEFAULT_PROVIDERS.clear()
