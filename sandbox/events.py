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


def aliyun_report_event(push_key: str, biz_id: str, phone: str, sent_at: datetime, request_id: str) -> dict[str, Any]:
    """Alibaba Cloud SMS's delivery report, as its HTTP push posts a batch of one to
    /webhooks/sms/aliyun?key=<push key> (times in Beijing time, no zone, as the provider sends them)."""
    from zoneinfo import ZoneInfo

    beijing = sent_at.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M:%S")
    body = json.dumps([{"phone_number": phone.removeprefix("+86"), "send_time": beijing, "report_time": beijing,
                        "success": True, "err_code": "DELIVERED", "err_msg": "用户接收成功", "sms_size": "1",
                        "biz_id": biz_id, "out_id": ""}], ensure_ascii=False)
    path = "/webhooks/sms/aliyun"
    return {
        "version": "2.0", "routeKey": "POST /webhooks/sms/{provider}", "rawPath": path,
        "rawQueryString": f"key={push_key}", "headers": {"content-type": "application/json"},
        "queryStringParameters": {"key": push_key},
        "requestContext": {"http": {"method": "POST", "path": path, "protocol": "HTTP/1.1",
                                    "sourceIp": "47.96.0.10", "userAgent": "aliyun-sms-push"},
                           "domainName": "hooks.dunning.example", "requestId": request_id,
                           "routeKey": "POST /webhooks/sms/{provider}", "stage": "$default",
                           "timeEpoch": int(sent_at.timestamp()) * 1000},
        "pathParameters": {"provider": "aliyun"}, "body": body, "isBase64Encoded": False,
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


# --------------------------------------------------------------------------- email replies


def reply_mime(*, sender: str, to: str, subject: str, text: str, at: datetime, message_id: str,
               answers_ses_id: str | None, quoted: str = "", quoted_from: str = "", locale: str = "en-US",
               auto_reply: bool = False) -> bytes:
    """A customer's reply as their mail client sends it: the new text on top, our notice quoted
    below the client's attribution line (Gmail's, in the customer's language), threaded on the SES
    message id of the notice it answers. An auto-reply carries the headers RFC 3834 asks for."""
    from email import policy
    from email.message import EmailMessage
    from email.utils import format_datetime

    # Message-IDs are long words: clients send them on one line (RFC 5322 allows 998 characters).
    msg = EmailMessage(policy=policy.SMTP.clone(max_line_length=998))
    msg["From"] = sender
    msg["To"] = to
    msg["Date"] = format_datetime(at)
    msg["Message-ID"] = f"<{message_id}@mail.example.com>"
    if answers_ses_id:
        ses_ref = f"<{answers_ses_id}@email.amazonses.com>"
        msg["In-Reply-To"] = ses_ref
        msg["References"] = ses_ref
    if auto_reply:
        msg["Subject"] = ("自动回复: " if locale == "zh-CN" else "Automatic reply: ") + subject
        msg["Auto-Submitted"] = "auto-replied"
        msg["X-Autoreply"] = "yes"
        msg.set_content(text)
        return bytes(msg)
    msg["Subject"] = ("回复：" if locale == "zh-CN" else "Re: ") + subject
    body = text
    if quoted:
        stamp = at.strftime("%Y-%m-%d %H:%M")
        writer = quoted_from or to
        attribution = (f"在 {stamp}，{writer} 写道：" if locale == "zh-CN" else f"On {stamp}, {writer} wrote:")
        body += "\n\n" + attribution + "\n" + "\n".join(f"> {line}" for line in quoted.splitlines())
    msg.set_content(body)
    return bytes(msg)


def ses_receipt_event(*, message_id: str, sender: str, recipient: str, subject: str, at: datetime,
                      function_arn: str, verdicts: dict[str, str] | None = None) -> dict[str, Any]:
    """What an SES receipt rule's Lambda action hands the function (the raw message is in S3 under
    the S3 action's prefix and this message id; verdicts default to PASS)."""
    stamp = at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    verdict = {name: {"status": (verdicts or {}).get(name, "PASS")}
               for name in ("spamVerdict", "virusVerdict", "spfVerdict", "dkimVerdict", "dmarcVerdict")}
    return {"Records": [{"eventSource": "aws:ses", "eventVersion": "1.0", "ses": {
        "mail": {"timestamp": stamp, "source": sender, "messageId": message_id, "destination": [recipient],
                 "headersTruncated": False,
                 "headers": [{"name": "From", "value": sender}, {"name": "To", "value": recipient},
                             {"name": "Subject", "value": subject}],
                 "commonHeaders": {"returnPath": sender, "from": [sender], "to": [recipient], "subject": subject,
                                   "date": at.strftime("%a, %d %b %Y %H:%M:%S +0000")}},
        "receipt": {"timestamp": stamp, "processingTimeMillis": 420, "recipients": [recipient], **verdict,
                    "dmarcPolicy": "none",
                    "action": {"type": "Lambda", "functionArn": function_arn, "invocationType": "Event"}},
    }}]}
