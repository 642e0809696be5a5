"""The events the outside world hands the system's functions, in the shapes AWS delivers them.

Each builder returns what the function would receive on AWS: an admin command over the
IAM-authorised HTTP API, an inbound text from the generic SMS provider's signed webhook, an SES
delivery notification on the email events topic, a PaymentPosted event from core banking's bus.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from sandbox.bootstrap import z


def admin_event(command: dict[str, Any], now: datetime) -> dict[str, Any]:
    """POST /admin as API Gateway (HTTP API, IAM authoriser) hands it to the function."""
    body = json.dumps({"command": command})
    stamp = int(now.timestamp())
    return {
        "version": "2.0", "routeKey": "POST /admin", "rawPath": "/admin", "rawQueryString": "",
        "headers": {"content-type": "application/json"},
        "requestContext": {"http": {"method": "POST", "path": "/admin", "protocol": "HTTP/1.1",
                                    "sourceIp": "10.0.0.2", "userAgent": "sandbox-admin"},
                           "authorizer": {"iam": {"userArn": "arn:aws:iam::123456789012:user/sandbox-admin",
                                                  "userId": "SANDBOXADMIN", "accountId": "123456789012",
                                                  "accessKey": "AKIASANDBOX", "callerId": "SANDBOXADMIN",
                                                  "principalOrgId": None, "cognitoIdentity": None}},
                           "accountId": "123456789012", "apiId": "sandbox", "domainName": "api.dunning.example",
                           "domainPrefix": "api", "requestId": f"admin-{stamp}", "routeKey": "POST /admin",
                           "stage": "$default", "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                           "timeEpoch": stamp * 1000},
        "body": body, "isBase64Encoded": False,
    }


def inbound_sms_event(secret: str, message_id: str, phone: str, text: str, now: datetime,
                      request_id: str) -> dict[str, Any]:
    """An inbound text as the generic provider posts it to /webhooks/sms/generic, signed with ``secret``."""
    from dunning.adapters.webhooks import generic_signature_header

    body = json.dumps({"type": "inbound", "message_id": message_id, "from": phone, "text": text,
                       "timestamp": z(now)}).encode()
    stamp = int(now.timestamp())
    path = "/webhooks/sms/generic"
    return {
        "version": "2.0", "routeKey": f"POST {path.replace('generic', '{provider}')}", "rawPath": path,
        "rawQueryString": "", "headers": {"content-type": "application/json",
                                          "x-dunning-signature": generic_signature_header(secret, stamp, body)},
        "requestContext": {"http": {"method": "POST", "path": path, "protocol": "HTTP/1.1",
                                    "sourceIp": "198.51.100.10", "userAgent": "sms-provider"},
                           "domainName": "hooks.dunning.example", "requestId": request_id,
                           "routeKey": "POST /webhooks/sms/{provider}", "stage": "$default",
                           "timeEpoch": stamp * 1000},
        "pathParameters": {"provider": "generic"}, "body": body.decode(), "isBase64Encoded": False,
    }


def ses_delivery(message_id: str, source: str, destination: str, sent_at: datetime,
                 configuration_set: str) -> dict[str, Any]:
    """The SES event (configuration set -> SNS) that says a mail was delivered."""
    return {"eventType": "Delivery", "mail": {
        "timestamp": sent_at.strftime("%Y-%m-%dT%H:%M:%S.000Z"), "messageId": message_id,
        "source": source, "destination": [destination],
        "tags": {"ses:configuration-set": [configuration_set]}},
        "delivery": {"timestamp": z(sent_at), "recipients": [destination],
                     "processingTimeMillis": 500, "smtpResponse": "250 2.6.0 Message received"}}


def payment_posted(detail: dict[str, Any], account: str, region: str, now: datetime) -> dict[str, Any]:
    """The PaymentPosted event as EventBridge delivers it to a Lambda target."""
    return {"version": "0", "id": str(uuid.uuid5(uuid.NAMESPACE_URL, str(detail["payment_id"]))),
            "detail-type": "PaymentPosted", "source": "core-banking", "account": account,
            "time": z(now), "region": region, "resources": [], "detail": detail}
