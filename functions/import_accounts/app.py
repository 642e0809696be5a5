"""ImportAccounts: an account file landed under incoming/; validate and upsert it row by row.

Bad rows go to rejects/, a summary to reports/imports/; the log carries counts only.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.models import S3Model
from aws_lambda_powertools.utilities.typing import LambdaContext

from dunning.composition import AwsPorts, cold_start
from dunning.observability import entry_point, logger
from dunning.services import ingest
from dunning.settings import ImportSettings, load_settings

# Settings and ports: built on first use, once per cold start.
ports = cold_start(globals(), "_ports", lambda: AwsPorts(load_settings(ImportSettings)))


@entry_point()
@event_parser(model=S3Model)
def lambda_handler(event: S3Model, context: LambdaContext) -> dict[str, Any]:
    settings = ports().settings
    files: list[dict[str, Any]] = []
    for record in event.Records:
        if record.s3.object is None:  # not an object event: nothing to import
            continue
        bucket, key = record.s3.bucket.name, ingest.decode_key(record.s3.object.key)
        if bucket != settings.incoming_bucket or not key.startswith(ingest.INCOMING_PREFIX) or key.endswith("/"):
            logger.warning("ignored object outside incoming/", extra={"bucket": bucket})
            continue
        summary = ingest.import_file(ports(), bucket, key, settings.import_batch_size,
                                     settings.import_write_workers)
        files.append({"key": key, **summary.as_dict()})
    return {"files": files}
