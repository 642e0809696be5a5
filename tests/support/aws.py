"""Test fixtures on moto, built from template.yaml so the mocks cannot drift from what deploys."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
REGION = "us-east-1"
ACCOUNT = "123456789012"


def load_template() -> dict[str, Any]:
    from cfnlint.decode import cfn_yaml

    return cfn_yaml.load(str(ROOT / "template.yaml"))


def load_event(name: str) -> dict[str, Any]:
    """A sample event from events/<function>/<name>.json (the same files `sam local invoke -e` takes)."""
    return json.loads((EVENTS / f"{name}.json").read_text("utf-8"))


_TABLE_KEYS = ("KeySchema", "AttributeDefinitions", "GlobalSecondaryIndexes", "StreamSpecification")


def create_tables(names: dict[str, str] | None = None) -> dict[str, str]:
    """Create every DynamoDB table of the template (keys, indexes and streams as declared)."""
    template = load_template()
    db = boto3.client("dynamodb", region_name=REGION)
    created: dict[str, str] = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::DynamoDB::Table":
            continue
        props = resource["Properties"]
        name = (names or {}).get(logical_id, logical_id)
        kwargs: dict[str, Any] = {k: props[k] for k in _TABLE_KEYS if k in props}
        if "StreamSpecification" in kwargs:
            kwargs["StreamSpecification"] = {"StreamEnabled": True, **kwargs["StreamSpecification"]}
        db.create_table(TableName=name, BillingMode="PAY_PER_REQUEST", **kwargs)
        created[logical_id] = name
    return created


@contextmanager
def moto_env(monkeypatch: Any) -> Iterator[dict[str, str]]:
    """moto with the template's tables and the environment every function reads."""
    with mock_aws():
        tables = create_tables()
        env = {
            "ACCOUNTS_TABLE": tables["AccountsTable"],
            "COLLECTIONS_TABLE": tables["CollectionsTable"],
            "IDEMPOTENCY_TABLE": tables.get("IdempotencyTable", "IdempotencyTable"),
            "AWS_REGION": REGION,
            "SES_FROM_ADDRESS": "collections@harbor-finance.example",
            "SES_CONFIGURATION_SET": "dunning-notices",
            "LINK_SECRET_NAME": "dunning/link-secret",
            "PAY_BASE_URL": "https://pay.harbor-finance.example",
        }
        # The ledger's HMAC key, as template.yaml declares LedgerKey (seals, anchors, content keys).
        env["LEDGER_KEY_ID"] = boto3.client("kms", region_name=REGION).create_key(
            KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC", Description="ledger")["KeyMetadata"]["KeyId"]
        boto3.client("secretsmanager", region_name=REGION).create_secret(
            Name=env["LINK_SECRET_NAME"], SecretString="test-link-secret-0123456789abcdef")
        ses = boto3.client("sesv2", region_name=REGION)
        ses.create_email_identity(EmailIdentity="harbor-finance.example")
        ses.create_configuration_set(ConfigurationSetName=env["SES_CONFIGURATION_SET"])
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        yield env


def sent_emails() -> list[Any]:
    from moto.ses.models import ses_backends

    return list(ses_backends[ACCOUNT][REGION].sent_messages)


def sent_sms() -> list[Any]:
    from moto.sns.models import sns_backends

    return list(sns_backends[ACCOUNT][REGION].sms_messages.items())


def load_function(name: str) -> Any:
    """Import functions/<name>/app.py under its own module name (several functions share `app`)."""
    import importlib.util
    import sys

    module_name = f"functions_{name}_app"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, ROOT / "functions" / name / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def fresh_function(name: str) -> Any:
    """The function as a new container finds it: nothing its cold start builds exists yet."""
    module = load_function(name)
    for built in getattr(module, "COLD_START_GLOBALS", []):
        setattr(module, built, None)
    return module


class FakeContext:
    function_name = "test-function"
    memory_limit_in_mb = 256
    invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:test-function"
    aws_request_id = "00000000-0000-0000-0000-000000000000"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000


INCOMING_BUCKET = "dunning-dev-incoming-123456789012-us-east-1"


def create_incoming_bucket(monkeypatch: Any, name: str = INCOMING_BUCKET) -> str:
    """The bucket core banking drops account files into (rejects and reports are written back to it)."""
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=name)
    monkeypatch.setenv("INCOMING_BUCKET", name)
    return name


def record_calls(client: Any) -> list[str]:
    """Operation names `client` calls from now on (to assert, say, that no Scan ever happens)."""
    calls: list[str] = []

    def _seen(model: Any, **_: Any) -> None:
        calls.append(model.name)

    client.meta.events.register("before-call.*.*", lambda model, **kw: _seen(model, **kw))
    return calls
