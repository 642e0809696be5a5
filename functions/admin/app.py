"""Admin: collector and admin actions, from the Lambda console (events/admin/*.json) or POST /admin.

Over HTTP the caller is the IAM identity API Gateway authenticated (requestContext.authorizer.iam);
from the console it is the event's `actor`, marked as such. Every command is recorded with it.
Responses may show a case to the admin; logs carry ids only.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from dunning.adapters import json_limits
from dunning.composition import AwsPorts, cold_start
from dunning.observability import entry_point, logger
from dunning.ports import Conflict, TransientError
from dunning.services import admin
from dunning.settings import ListeningSettings, load_settings

PROBLEM = "application/problem+json"
MAX_BODY_BYTES = 64 * 1024  # the largest command is a few hundred bytes

app = APIGatewayHttpResolver(enable_validation=True)

# Settings and ports: built on first use, once per cold start.
ports = cold_start(globals(), "_ports", lambda: AwsPorts(load_settings(ListeningSettings)))


def problem(status: int, title: str, detail: str) -> Response[str]:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return Response(status_code=status, content_type=PROBLEM, body=json.dumps(body))


def _fields(exc: ValidationError) -> str:
    # locations only: pydantic's messages would echo the values
    return ", ".join(sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()}))


@app.exception_handler(admin.AdminError)
def _refused(exc: admin.AdminError) -> Response[str]:
    return problem(exc.status, exc.title, exc.detail)


@app.exception_handler(ValidationError)
def _invalid_command(exc: ValidationError) -> Response[str]:
    return problem(400, "Invalid admin command", f"invalid field(s): {_fields(exc)}")


@app.exception_handler(RequestValidationError)
def _invalid_request(exc: RequestValidationError) -> Response[str]:
    return problem(400, "Invalid admin request", 'body must be JSON {"command": {...}}')


@app.exception_handler([Conflict, TransientError])
def _busy(exc: Exception) -> Response[str]:
    return problem(503, "Case is busy, try again", type(exc).__name__)


@app.post("/admin")
def http_command() -> Response[str]:
    event = app.current_event
    identity = event.request_context.authorizer.iam
    actor = identity.user_arn if identity is not None else None
    if not actor:
        return problem(403, "Caller not identified", "IAM authorisation is required")
    if len(event.body or "") > MAX_BODY_BYTES * 4 // 3 + 4:  # base64 grows a body by a third
        return problem(413, "Admin request too large", f"body exceeds {MAX_BODY_BYTES} bytes")
    try:
        # decoded_body raises on a body that is not base64 or not UTF-8: both are the caller's error
        text = event.decoded_body or ""
        if len(text.encode("utf-8", "surrogatepass")) > MAX_BODY_BYTES:
            return problem(413, "Admin request too large", f"body exceeds {MAX_BODY_BYTES} bytes")
        body = json_limits.loads(text)
    except json_limits.JSONLimitError as exc:
        return problem(400, "Invalid admin request", str(exc))
    except ValueError:
        return problem(400, "Invalid admin request", "body is not JSON")
    if not isinstance(body, dict):
        return problem(400, "Invalid admin request", 'body must be JSON {"command": {...}}')
    request = admin.AdminRequest.model_validate({"command": body.get("command")})
    result = _execute(request, str(actor))
    return Response(status_code=200, content_type="application/json", body=json.dumps(result, default=str))


def roles_of(actor: str, agent_roles: str) -> frozenset[str]:
    """AGENT when the caller's IAM role (arn:...:assumed-role/<Role>/<session> or :role/<Role>) is
    one of the comma-separated AGENT_ROLE_NAMES: only agents may see a customer's phone number."""
    names = {n.strip() for n in agent_roles.split(",") if n.strip()}
    resource = actor.removeprefix("console:").split(":")[-1]
    parts = resource.split("/")
    role = parts[1] if len(parts) > 1 and parts[0] in ("assumed-role", "role") else None
    return frozenset({admin.AGENT}) if role in names else frozenset()


def _execute(request: admin.AdminRequest, actor: str) -> dict[str, Any]:
    command = request.command
    logger.append_keys(case_id=getattr(command, "case_id", None), command=command.type)
    result = admin.execute(ports(), command, actor, roles_of(actor, ports().settings.agent_role_names))
    if isinstance(result, admin.AdminResult):
        logger.info("admin command done", extra={"applied": result.applied, "case_status": result.case_status})
    return result.model_dump(mode="json")


def _is_http(event: dict[str, Any]) -> bool:
    return isinstance(event.get("requestContext"), dict) and "http" in event["requestContext"]


@entry_point()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if _is_http(event):
        return app.resolve(event, context)
    # Lambda console / direct invoke: whoever may invoke the function is trusted to name themselves.
    try:
        request = admin.AdminRequest.model_validate(event)
    except ValidationError as exc:
        # field locations only: pydantic's message would echo the values into the function's log
        raise admin.AdminError(f"invalid field(s): {_fields(exc)}") from None
    if not request.actor:
        raise admin.AdminError("a console command must name its actor")
    actor = f"console:{request.actor}"
    return _execute(request, actor)
