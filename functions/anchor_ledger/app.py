"""AnchorLedger: hourly, the head of every case that changed goes into the Object-Lock archive.

One object per run (MAC'd by the ledger's KMS key, chained to the previous run), a close anchor
per ended case, and the TTL that ends an ended case's retention (dunning.services.integrity).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from dunning.composition import AwsPorts, cold_start
from dunning.observability import logger, metrics, tracer
from dunning.services import integrity
from dunning.settings import AnchorSettings, load_settings

# Settings and ports: built on first use, once per cold start.
ports = cold_start(globals(), "_ports", lambda: AwsPorts(load_settings(AnchorSettings)))


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # The schedule's input carries nothing the run needs: it anchors what changed since the last run.
    return integrity.anchor_run(ports())
