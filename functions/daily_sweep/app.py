"""DailySweep: the daily EventBridge Scheduler run. Marks newly overdue accounts delinquent and
sends pre-due reminders; returns and logs counts only.

The schedule's Input may name the day (`{"sweep_date": "YYYY-MM-DD"}`, for a catch-up or a
replay); without it the day is today in SWEEP_TIME_ZONE.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict

from dunning.composition import AwsPorts, cold_start
from dunning.observability import entry_point
from dunning.services import sweep
from dunning.settings import SweepSettings, load_settings


class SweepRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    sweep_date: date | None = None


# Settings and ports: built on first use, once per cold start.
ports = cold_start(globals(), "_ports", lambda: AwsPorts(load_settings(SweepSettings)))


@entry_point()
@event_parser(model=SweepRequest)
def lambda_handler(event: SweepRequest, context: LambdaContext) -> dict[str, Any]:
    return sweep.run(ports(), event.sweep_date, ports().settings.sweep_time_zone)
