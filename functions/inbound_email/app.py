"""InboundEmail: customers' email replies, as SES's receipt rule hands them over.

The receipt rule stores each raw message in InboundMailBucket (S3 action, key = prefix + SES's
message id), then invokes this function asynchronously (Lambda action) with the receipt: the
message id and SES's spam, virus, SPF, DKIM and DMARC verdicts. The raw MIME is read from the
bucket and parsed with the standard library (dunning.domain.email_reply: only the new text of the
reply, the notice it answers, whether a machine wrote it), then handled once like a text: recorded
on the customer's case, then acted on, unless its verdicts fail or it is an auto-reply, which are
recorded and never acted on. A record that cannot be read is logged by id and dropped: retrying it
would never succeed; an S3 or DynamoDB failure raises, and Lambda's asynchronous retries (then
FunctionsDLQ) take over.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes import SESEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from dunning.composition import AwsPorts, cold_start
from dunning.domain.email_reply import read_email, ses_message_ids, verdict_problems
from dunning.domain.models import parse_instant, utc_now
from dunning.observability import entry_point, logger, metrics
from dunning.ports import InboundEmail
from dunning.services.inbound_once import Deduplicated
from dunning.settings import InboundEmailSettings, load_settings

PROVIDER = "ses-inbound"
MAX_RAW_BYTES = 20 * 1024 * 1024  # the text part comes first; attachments past this are not needed

# Settings, clients and the idempotency store: built on first use, once per cold start.
ports = cold_start(globals(), "_ports", lambda: AwsPorts(load_settings(InboundEmailSettings)))
dedupe = cold_start(globals(), "_dedupe", lambda: Deduplicated(
    ports(), ports().idempotency_store(ports().settings.idempotency_table)))


def _raw(bucket: str, key: str) -> bytes:
    data = bytearray()
    for chunk in ports().files.chunks(bucket, key):
        data += chunk
        if len(data) >= MAX_RAW_BYTES:
            break
    return bytes(data)


def to_inbound(message_id: str, receipt: dict[str, Any], raw: bytes, stored_at: str) -> InboundEmail:
    read = read_email(raw)
    stamp = receipt.get("timestamp")
    return InboundEmail(
        provider=PROVIDER,
        message_id=message_id,
        from_address=read.from_address,
        subject=read.subject[:300],
        text=read.text,
        received_at=parse_instant(stamp) if isinstance(stamp, str) and stamp else utc_now(),
        answers_ses_ids=ses_message_ids(read.referenced_ids),
        auto_reply=read.auto_reply,
        verdict_problems=tuple(verdict_problems(receipt)),
        stored_at=stored_at,
    )


@entry_point()
@event_source(data_class=SESEvent)
def lambda_handler(event: SESEvent, context: LambdaContext) -> dict[str, Any]:
    settings = ports().settings
    results = []
    for record in event.records:
        mail, receipt = record.ses.mail.raw_event, record.ses.receipt.raw_event
        message_id = mail.get("messageId") if isinstance(mail, dict) else None
        if not isinstance(message_id, str) or not message_id or len(message_id) > 256 or "/" in message_id:
            metrics.add_metric(name="InboundEmailMalformed", unit="Count", value=1)
            logger.warning("SES receipt without a usable message id; dropped")
            results.append({"status": "MALFORMED"})
            continue
        key = f"{settings.inbound_mail_prefix}{message_id}"
        inbound = to_inbound(message_id, receipt if isinstance(receipt, dict) else {},
                             _raw(settings.inbound_mail_bucket, key), f"s3://{settings.inbound_mail_bucket}/{key}")
        if inbound.verdict_problems:
            metrics.add_metric(name="InboundEmailRejected", unit="Count", value=1)
        if inbound.auto_reply:
            metrics.add_metric(name="InboundEmailAutoReplies", unit="Count", value=1)
        result = dedupe().handle(inbound, actor="InboundEmail", context=context)
        logger.info("email reply handled", extra={"status": result.status, "case_id": result.case_id,
                                                  "ses_message_id": message_id, "intent": result.intent,
                                                  "auto_reply": inbound.auto_reply,
                                                  "verdicts": list(inbound.verdict_problems)})
        results.append(result.as_dict())
    return {"results": results}
