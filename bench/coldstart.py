"""Cold start: importing a function's module (functions/<name>/app.py, loaded by path as the Lambda
runtime does) and building its runtime (settings, boto3 session and clients) in a fresh interpreter,
as a ratio to `import boto3` alone. Medians of `runs` interleaved runs, so a busy moment on the
machine hits every subject alike."""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

from bench.common import PYTHON, QUIET_ENV, ROOT, median

FUNCTIONS = (
    "plan_next_action",
    "agent_task",
    "record_failure",
    "daily_sweep",
    "account_stream",
    "apply_payment",
    "import_accounts",
    "email_events",
    "sms_webhook",
    "inbound_sms",
    "admin",
    "report",
)

# What the functions read at cold start (names only; nothing is called).
FUNCTION_ENV: dict[str, str] = {
    "ACCOUNTS_TABLE": "AccountsTable",
    "COLLECTIONS_TABLE": "CollectionsTable",
    "IDEMPOTENCY_TABLE": "IdempotencyTable",
    "ARCHIVE_BUCKET": "archive",
    "INCOMING_BUCKET": "incoming",
    "CALL_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/CallQueue",
    "LEGAL_REVIEW_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/LegalReviewQueue",
    "SPECIALIST_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/SpecialistQueue",
    "SES_FROM_ADDRESS": "collections@example.com",
    "SES_CONFIGURATION_SET": "dunning",
    "LINK_SECRET_NAME": "dunning/link",
    "WEBHOOK_SECRET_NAME": "dunning/webhook",
    "PUBLIC_WEBHOOK_BASE_URL": "https://hooks.example.com",
    "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:Escalation",
}

_PROBE = r"""
import sys, time, json
t0 = time.perf_counter()
name = sys.argv[1]
if name == "boto3":
    import boto3
    t1 = time.perf_counter()
    boto3.session.Session(region_name="us-east-1").client("dynamodb")
else:
    import importlib.util
    spec = importlib.util.spec_from_file_location("app_" + name, f"functions/{name}/app.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    t1 = time.perf_counter()
    built = module.ports()
    rt = built[0] if isinstance(built, tuple) else built
    rt.client("dynamodb")
t2 = time.perf_counter()
print(json.dumps({"import_ms": (t1 - t0) * 1000, "init_ms": (t2 - t0) * 1000,
                  "modules": sorted(m for m in sys.modules if m.split(".")[0] in
                                    ("aws_xray_sdk", "jinja2", "babel", "holidays", "yaml", "phonenumbers",
                                     "email_validator", "pydantic_settings"))}))
"""


def _env(tracing: bool) -> dict[str, str]:
    env = {
        **os.environ,
        **QUIET_ENV,
        **FUNCTION_ENV,
        "PYTHONDONTWRITEBYTECODE": "0",
        "LAMBDA_TASK_ROOT": str(ROOT),
        "AWS_LAMBDA_FUNCTION_NAME": "bench",
    }
    if tracing:  # as deployed: Tracing Active, so Powertools loads and patches the X-Ray SDK
        env.pop("POWERTOOLS_TRACE_DISABLED", None)
    return env


def _probe(subject: str, env: dict[str, str]) -> dict[str, Any]:
    out = subprocess.run(
        [PYTHON, "-c", _PROBE, subject], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(runs: int = 5, functions: tuple[str, ...] = FUNCTIONS, tracing: bool = True) -> dict[str, Any]:
    env = _env(tracing)
    subjects = ("boto3", *functions)
    for subject in subjects:  # warm the bytecode caches once; Lambda ships .pyc-less zips but caches pages
        _probe(subject, env)
    samples: dict[str, list[dict[str, Any]]] = {s: [] for s in subjects}
    for _ in range(runs):
        for subject in subjects:
            samples[subject].append(_probe(subject, env))
    boto_import = median([s["import_ms"] for s in samples["boto3"]])
    boto_init = median([s["init_ms"] for s in samples["boto3"]])
    rows = {}
    for name in functions:
        imp = median([s["import_ms"] for s in samples[name]])
        init = median([s["init_ms"] for s in samples[name]])
        rows[name] = {
            "import_ms_min": round(min(s["import_ms"] for s in samples[name])),
            "import_ms": round(imp),
            "import_ratio": round(imp / boto_import, 2),
            "init_ms": round(init),
            "init_ratio": round(init / boto_init, 2),
            "heavy_modules": sorted({m.split(".")[0] for m in samples[name][0]["modules"]}),
        }
    return {
        "runs": runs,
        "tracing": tracing,
        "boto3_import_ms_min": round(min(s["import_ms"] for s in samples["boto3"])),
        "boto3_import_ms": round(boto_import),
        "boto3_plus_client_ms": round(boto_init),
        "functions": rows,
    }


# Where a cold start goes: each line adds one layer to the previous one, in import order.
WATERFALL: tuple[tuple[str, str], ...] = (
    ("boto3", "import boto3"),
    ("+ pydantic", "import pydantic"),
    (
        "+ Powertools Logger, Metrics",
        "from aws_lambda_powertools import Logger, Metrics; Logger(); Metrics()",
    ),
    (
        "+ Powertools Tracer (X-Ray SDK, patches botocore)",
        "from aws_lambda_powertools import Tracer; Tracer()",
    ),
    (
        "+ domain models (pydantic models, phonenumbers, email-validator, babel)",
        "import dunning.domain.models",
    ),
    ("+ policy (yaml), compliance, planning", "import dunning.domain.planning"),
    (
        "+ adapters, composition root, settings (pydantic-settings)",
        "import dunning.composition, dunning.settings",
    ),
    ("+ notice templates (jinja2, babel.dates)", "import dunning.domain.notices.lint"),
    ("+ Powertools parser", "from aws_lambda_powertools.utilities.parser import event_parser"),
)


_PRINT_MS = "print((time.perf_counter() - t) * 1000)"


def waterfall(runs: int = 5) -> dict[str, Any]:
    """Median import time of each cumulative prefix of WATERFALL, in fresh interpreters."""
    env = _env(tracing=True)
    prefixes = ["; ".join(code for _, code in WATERFALL[: i + 1]) for i in range(len(WATERFALL))]
    probe = "import time, sys; t = time.perf_counter(); exec(sys.argv[1]); " + _PRINT_MS
    samples: list[list[float]] = [[] for _ in prefixes]
    for _ in range(runs):
        for i, code in enumerate(prefixes):
            out = subprocess.run(
                [PYTHON, "-c", probe, code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
            )
            samples[i].append(float(out.stdout.strip().splitlines()[-1]))
    medians = [median(s) for s in samples]
    rows, previous = [], 0.0
    for (label, _), total in zip(WATERFALL, medians, strict=True):
        rows.append({"layer": label, "cumulative_ms": round(total), "adds_ms": round(total - previous)})
        previous = total
    return {"runs": runs, "layers": rows, "ratio_to_boto3": round(medians[-1] / medians[0], 2)}


def templates_before_after(runs: int = 5) -> dict[str, Any]:
    """The one import made lazy: the escalation service loads the notice templates (Jinja2,
    babel.dates) only to render. "before" imports them first, as the module used to."""
    env = _env(tracing=True)
    before = _PROBE.replace('if name == "boto3":', 'import dunning.domain.notices.lint\nif name == "boto3":', 1)
    out: dict[str, Any] = {}
    for name in ("plan_next_action", "agent_task", "record_failure"):
        eager: list[float] = []
        lazy: list[float] = []
        for _ in range(runs):
            for probe, sink in ((before, eager), (_PROBE, lazy)):
                done = subprocess.run(
                    [PYTHON, "-c", probe, name], cwd=ROOT, env=env, capture_output=True, text=True, check=True
                )
                sink.append(json.loads(done.stdout.strip().splitlines()[-1])["import_ms"])
        out[name] = {
            "before_ms": round(median(eager)),
            "before_min_ms": round(min(eager)),
            "after_ms": round(median(lazy)),
            "after_min_ms": round(min(lazy)),
        }
    return out


# Where each function's import goes: `python -X importtime` self times summed by what loaded them.
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("boto3, botocore (+ urllib3, s3transfer, dateutil, jmespath)",
     ("boto3", "botocore", "urllib3", "s3transfer", "dateutil", "jmespath", "six")),
    ("pydantic, pydantic-core", ("pydantic", "pydantic_core", "annotated_types", "typing_inspection")),
    ("pydantic-settings (+ dotenv)", ("pydantic_settings", "dotenv")),
    ("Powertools", ("aws_lambda_powertools",)),
    ("X-Ray SDK (+ wrapt)", ("aws_xray_sdk", "wrapt")),
    ("email-validator (+ idna, dns)", ("email_validator", "idna", "dns")),
    ("phonenumbers", ("phonenumbers",)),
    ("babel", ("babel",)),
    ("holidays", ("holidays",)),
    ("PyYAML", ("yaml", "_yaml")),
    ("Jinja2, MarkupSafe", ("jinja2", "markupsafe")),
    ("dunning (our modules: model classes, services, adapters)", ("dunning", "app_")),
)


def _group(module: str) -> str:
    top = module.strip().split(".")[0]
    for label, tops in GROUPS:
        if top in tops or any(top.startswith(t) for t in tops if t.endswith("_")):
            return label
    return "Python standard library and the rest"


_LOAD = r"""
import importlib.util, sys
name = sys.argv[1]
spec = importlib.util.spec_from_file_location("app_" + name, f"functions/{name}/app.py")
module = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = module
spec.loader.exec_module(module)
"""


def _importtime(name: str, env: dict[str, str]) -> dict[str, float]:
    done = subprocess.run([PYTHON, "-X", "importtime", "-c", _LOAD, name], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=True)
    out: dict[str, float] = {}
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _cumulative, module = line.removeprefix("import time:").split("|", 2)
        label = _group(module)
        out[label] = out.get(label, 0.0) + int(self_us) / 1000
    return out


def breakdown(runs: int = 3, functions: tuple[str, ...] = FUNCTIONS) -> dict[str, Any]:
    """Per function, the median milliseconds each group of modules adds to the import (self times
    from -X importtime, which itself adds a little)."""
    env = _env(tracing=True)
    samples: dict[str, list[dict[str, float]]] = {f: [] for f in functions}
    for _ in range(runs):
        for name in functions:
            samples[name].append(_importtime(name, env))
    rows: dict[str, dict[str, float]] = {}
    for name, runs_of in samples.items():
        labels = sorted({label for run in runs_of for label in run})
        row = {label: round(median([run.get(label, 0.0) for run in runs_of]), 1) for label in labels}
        rows[name] = dict(sorted(row.items(), key=lambda kv: -kv[1])) | {"total": round(sum(row.values()), 1)}
    return {"runs": runs, "functions": rows}
