"""SmsWebhook: signed callbacks from SMS providers (inbound replies and delivery receipts).

POST /webhooks/sms/{provider}. The signature is checked against the exact public URL before
anything is parsed into a message or written; bad requests get a problem JSON and write nothing.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.utilities.typing import LambdaContext

from dunning.adapters.aliyun_push import read_aliyun_push
from dunning.adapters.webhooks import MalformedPayload, WebhookError, WebhookRequest, read_webhook
from dunning.composition import AwsPorts, cold_start
from dunning.domain.models import utc_now
from dunning.observability import entry_point, logger, metrics
from dunning.ports import Conflict, InboundSms, TransientError
from dunning.services.inbound_once import Deduplicated
from dunning.settings import ListeningSettings, load_settings

PROBLEM = "application/problem+json"
TWIML_EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'

app = APIGatewayHttpResolver(enable_validation=True)

# Settings, clients and the idempotency store: built on first use, once per cold start.
ports = cold_start(globals(), "_ports", lambda: AwsPorts(load_settings(ListeningSettings)))
dedupe = cold_start(globals(), "_dedupe", lambda: Deduplicated(
    ports(), ports().idempotency_store(ports().settings.idempotency_table)))


def _secrets() -> dict[str, Any]:
    from aws_lambda_powertools.utilities.parameters import get_secret

    value = get_secret(ports().settings.webhook_secret_name, transform="json", max_age=300)
    return value if isinstance(value, dict) else {}


def problem(status: int, title: str, detail: str) -> Response[str]:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return Response(status_code=status, content_type=PROBLEM, body=json.dumps(body))


@app.exception_handler(WebhookError)
def _webhook_error(exc: WebhookError) -> Response[str]:
    metrics.add_metric(name=f"WebhookRejected{exc.status}", unit="Count", value=1)
    logger.warning("webhook refused", extra={"status": exc.status, "reason": exc.detail})
    return problem(exc.status, exc.title, exc.detail)


@app.exception_handler(RequestValidationError)
def _invalid(exc: RequestValidationError) -> Response[str]:
    return problem(400, "Malformed webhook request", "request does not match the route")


@app.exception_handler([Conflict, TransientError])
def _busy(exc: Exception) -> Response[str]:
    # recorded nothing, or something a redelivery completes: the provider should retry
    return problem(503, "Try again later", type(exc).__name__)


def _public_url() -> str:
    event = app.current_event
    url = ports().settings.public_webhook_base_url.rstrip("/") + event.raw_path
    return f"{url}?{event.raw_query_string}" if event.raw_query_string else url


def _raw_body() -> bytes:
    """The bytes the provider sent. Not `decoded_body`: it insists on UTF-8, and a body that is
    not must be a 400, not a crash."""
    event = app.current_event
    body = event.body or ""
    if not event.is_base64_encoded:
        return body.encode("utf-8")
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedPayload("body is not valid base64") from exc


@app.post("/webhooks/sms/<provider>")
def receive(provider: str) -> Response[str]:
    event = app.current_event
    raw = _raw_body()
    headers = {k.lower(): v for k, v in (event.headers or {}).items()}
    request = WebhookRequest(headers=headers, body=raw, url=_public_url(),
                             source_ip=event.request_context.http.source_ip)
    if provider == "aliyun":
        return _aliyun_batch(request)
    message = read_webhook(provider, request, _secrets, utc_now())
    kind = "inbound" if isinstance(message, InboundSms) else "receipt"
    result = dedupe().handle(message, actor=f"SmsWebhook:{provider}", context=app.lambda_context)
    logger.info("webhook handled",
                extra={"provider": provider, "kind": kind, "status": result.status, "case_id": result.case_id})
    if provider == "twilio":
        return Response(status_code=200, content_type="text/xml", body=TWIML_EMPTY)
    return Response(
        status_code=200,
        content_type="application/json",
        body=json.dumps({"status": result.status, "kind": kind}),
    )


def _aliyun_batch(request: WebhookRequest) -> Response[str]:
    """Alibaba Cloud SMS's push (reports and replies, a batch each): see dunning.adapters.aliyun_push
    for why an unsigned push is safe here. The provider wants {"code": 0} back."""
    settings = ports().settings
    cidrs = [c.strip() for c in (settings.aliyun_push_source_cidrs or "").split(",") if c.strip()]
    messages = read_aliyun_push(request, _secrets().get("aliyun"), cidrs, utc_now())
    for message in messages:  # each de-duplicated on its own key: a redelivered batch writes nothing twice
        result = dedupe().handle(message, actor="SmsWebhook:aliyun", context=app.lambda_context)
        logger.info("webhook handled", extra={"provider": "aliyun", "status": result.status,
                                              "kind": "inbound" if isinstance(message, InboundSms) else "receipt",
                                              "case_id": result.case_id})
    return Response(status_code=200, content_type="application/json", body=json.dumps({"code": 0, "msg": "成功"}))


@app.not_found
def _no_route(exc: Exception) -> Response[str]:
    return problem(404, "Not found", "no such route")


@entry_point()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
