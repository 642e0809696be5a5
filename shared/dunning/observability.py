"""One Logger, Tracer and Metrics for every function (Powertools), configured by environment.

Business metrics go through :func:`count`: the total lands in the function's metric set (flushed by
``@metrics.log_metrics``), and the same count is written once more, right away, as a single EMF
record whose dimension sets break it down (by channel, step, intent, ...), so the dashboard can
show both without metric math. Dimensions are a closed list of collections terms: a customer id,
phone number or amount can never become a dimension (CloudWatch keeps dimensions for 15 months and
shows them to anyone who can read metrics).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from dunning.domain.models import EntryKind, LedgerEntry

logger = Logger()
# Only what the functions call out with: botocore (every AWS call) and http.client (the China SMS
# and push providers, through urllib3). Left to itself, Tracer patches every library X-Ray knows,
# importing requests, sqlite3 and a dozen more that no function uses: ~20 ms of each cold start.
tracer = Tracer(patch_modules=("botocore", "httplib"))
metrics = Metrics()

Handler = TypeVar("Handler", bound=Callable[..., Any])


def entry_point(correlation_id_path: str | None = None) -> Callable[[Handler], Handler]:
    """The decorators every function's handler wears, outermost first: the logger (with the Lambda
    context and, where there is one, the case id as correlation id), metrics flushed at the end,
    then the tracer. A parser or event-source decorator goes below this one."""

    def wear(handler: Handler) -> Handler:
        traced = tracer.capture_lambda_handler(handler)
        measured = metrics.log_metrics(traced)
        if correlation_id_path is None:
            return logger.inject_lambda_context(measured)  # type: ignore[return-value]
        return logger.inject_lambda_context(correlation_id_path=correlation_id_path)(measured)  # type: ignore[return-value]

    return wear

# The only dimension names a business metric may carry; each has a small, policy-bounded set of values.
DIMENSIONS = frozenset({"Channel", "Step", "Template", "Variant", "Strategy", "Intent", "Reason", "Source",
                        "Status", "Action", "EventType"})
_MAX_VALUE = 64


class MetricDimensionError(ValueError):
    pass


def step_dimension(step_id: str | None) -> str | None:
    """A step id as a dimension value: policy steps as they are; per-message and per-plan step ids
    (``service_<intent>_<message id>``, ``plan_<plan id>_<n>_reminder``) folded to their kind, which
    keeps the dimension's cardinality bounded by the policy."""
    if step_id is None:
        return None
    if step_id.startswith("service_"):
        parts = step_id.split("_")
        return "_".join(parts[:2]) if len(parts) > 1 else step_id
    if re.fullmatch(r"plan_.+_\d+_reminder", step_id):
        return "instalment_reminder"
    return step_id


def _clean(dimensions: dict[str, object]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in dimensions.items():
        if name not in DIMENSIONS:
            raise MetricDimensionError(f"metric dimension {name!r} is not one of {sorted(DIMENSIONS)}")
        if value is None or str(value) == "":
            continue
        out[name] = str(value)[:_MAX_VALUE]
    return out


def count(name: str, value: int = 1, *, reasons: Iterable[str] = (), **dimensions: object) -> None:
    """Count ``value`` of ``name``: once in total, and once per dimension given (each its own
    dimension set, with the service), and once per reason code under ``Reason`` (a decision with
    two reasons counts under both, so the Reason breakdown can sum to more than the total)."""
    dims = _clean(dimensions)
    codes = sorted({str(r) for r in reasons})
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    if is_metrics_disabled():
        return
    service = metrics.service or "dunning"
    # One EMF record per breakdown: a record's dimension values are shared by all its metrics, so
    # a Channel and a Reason (or two reasons) cannot ride in the same record.
    for dim, val in [*dims.items(), *(("Reason", code[:_MAX_VALUE]) for code in codes)]:
        with single_metric(name=name, unit=MetricUnit.Count, value=value,
                           default_dimensions=metrics.default_dimensions) as metric:
            metric.add_dimension(name="service", value=service)
            metric.add_dimension(name=dim, value=val)


def count_recorded(entries: Iterable[LedgerEntry | tuple[EntryKind, Mapping[str, Any]]],
                   variant: str | None = None) -> None:
    """Count what listening and admin just recorded (call after the commit, never inside a retried
    mutation): replies by intent, opt-outs, promises, plans by status, call outcomes. Only codes
    from the entries become dimensions; texts, amounts and dates stay in the ledger."""
    for entry in entries:
        kind, data = (entry.kind, entry.data) if isinstance(entry, LedgerEntry) else entry
        if kind is EntryKind.REPLY and data.get("response") is False:
            # Recorded, not a response: an auto-reply, a message failing SES's checks, an unknown sender.
            count("RepliesNotActedOn", Reason=data.get("disposition"), Channel=data.get("channel"))
        elif kind is EntryKind.REPLY:
            count("Replies", Intent=data.get("intent"), Channel=data.get("channel"), Variant=variant)
        elif kind is EntryKind.OPT_OUT and data.get("action") == "OPT_OUT":
            count("OptOuts", Channel=data.get("channel"), Source=data.get("source"))
        elif kind is EntryKind.PROMISE:
            count("Promises", Variant=variant)
        elif kind is EntryKind.PLAN:
            count("Plans", Status=data.get("status"), Variant=variant)
        elif kind is EntryKind.CALL_OUTCOME:
            count("CallOutcomes", Status=data.get("outcome"), Variant=variant)
