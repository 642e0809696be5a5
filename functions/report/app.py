"""Report: the weekly collections report (EventBridge Scheduler), archived to the archive bucket.

The schedule sends no input; an admin can re-run a past week from the console's Test tab with
``{"as_of": "2026-11-09T07:00:00Z"}``.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from dunning.composition import AwsPorts, cold_start
from dunning.domain.models import UtcDatetime
from dunning.observability import entry_point
from dunning.services import reports
from dunning.settings import ArchiveSettings, load_settings


class ReportRequest(BaseModel):
    as_of: UtcDatetime | None = None


# Settings and ports: built on first use, once per cold start.
ports = cold_start(globals(), "_ports", lambda: AwsPorts(load_settings(ArchiveSettings)))


@entry_point()
@event_parser(model=ReportRequest)
def lambda_handler(event: ReportRequest, context: LambdaContext) -> dict[str, Any]:
    return reports.weekly_report(ports(), event.as_of)
