"""Business metrics: a total plus one EMF record per breakdown, and never a customer dimension."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from dunning.domain.ledger import new_entry
from dunning.domain.models import EntryKind
from dunning.observability import MetricDimensionError, count, count_recorded, metrics, step_dimension


def emf_records(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{") and '"_aws"' in line]


@pytest.fixture(autouse=True)
def clean_metrics() -> None:
    metrics.clear_metrics()


def test_count_adds_the_total_and_one_record_per_breakdown(capsys: pytest.CaptureFixture[str]) -> None:
    count("NoticesDeferred", Channel="SMS", reasons=["CONTACT_WINDOW", "DAILY_CAP"])
    records = emf_records(capsys.readouterr().out)
    dims = sorted(tuple(r["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]) for r in records)
    assert dims == [("service", "Channel"), ("service", "Reason"), ("service", "Reason")]
    values = sorted(r.get("Reason", r.get("Channel")) for r in records)
    assert values == ["CONTACT_WINDOW", "DAILY_CAP", "SMS"]
    assert metrics.metric_set["NoticesDeferred"]["Value"] == [1.0]


def test_a_customer_id_can_never_be_a_dimension() -> None:
    with pytest.raises(MetricDimensionError):
        count("NoticesSent", AccountId="acc-1001")


def test_per_message_step_ids_fold_to_their_kind() -> None:
    assert step_dimension("service_stop_SM123abc") == "service_stop"
    assert step_dimension("plan_p20261103150000_2_reminder") == "instalment_reminder"
    assert step_dimension("sms_3") == "sms_3"


def test_recorded_replies_promises_and_opt_outs_are_counted(capsys: pytest.CaptureFixture[str]) -> None:
    reply = new_entry("c-1", None, datetime(2026, 11, 3, tzinfo=UTC), EntryKind.REPLY,
                      {"intent": "STOP", "channel": "SMS", "text": "STOP please"})
    count_recorded([reply, (EntryKind.OPT_OUT, {"channel": "SMS", "action": "OPT_OUT", "source": "REPLY"}),
                    (EntryKind.PROMISE, {"promised_on": "2026-11-10", "amount": "10"})], variant="champion")
    out = capsys.readouterr().out
    names = {next(m["Name"] for m in r["_aws"]["CloudWatchMetrics"][0]["Metrics"]) for r in emf_records(out)}
    assert names == {"Replies", "OptOuts", "Promises"}
    assert "STOP please" not in out and "2026-11-10" not in out


def test_traced_as_deployed_every_aws_call_and_provider_request_is_traced_and_nothing_else_is_loaded() -> None:
    """With tracing on (as deployed), botocore and http.client are patched, so AWS calls and the
    China providers' HTTPS requests appear in X-Ray; libraries no function uses are not imported."""
    import os
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "import dunning.observability\n"
        "from aws_xray_sdk.core.patcher import _PATCHED_MODULES\n"
        "print(sorted(_PATCHED_MODULES), sorted(m for m in ('requests', 'sqlite3', 'httpx') if m in sys.modules))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "POWERTOOLS_TRACE_DISABLED"} | {
        "LAMBDA_TASK_ROOT": os.getcwd(), "AWS_LAMBDA_FUNCTION_NAME": "probe",
        "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR"}
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "['botocore', 'httplib'] []"
