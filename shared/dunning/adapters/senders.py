"""Outbound providers behind one small interface: SES v2 for email; for SMS, AWS End User Messaging
(SendTextMessage through a configuration set whose events bring delivery receipts back), or SNS
where no configuration set is configured.

Failures are sorted by what they mean for at-most-once delivery:
  TransientError    the provider certainly did not accept it (throttled): safe to retry
  ProviderRejected  refused for good: record FAILED, never retry
  anything else     we cannot know whether it went out: the caller records UNCERTAIN
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from dunning.domain.models import valid_e164
from dunning.ports import OutboundMessage, ProviderRejected, TransientError

# Codes that mean "not accepted, try later" (SES v1 `Throttling`, SES v2 `TooManyRequestsException`,
# SNS `Throttled`). A 5xx is NOT here: the message may have gone out.
_THROTTLED = {"Throttling", "ThrottlingException", "TooManyRequestsException", "LimitExceededException",
              "Throttled", "ThrottledException"}
_REJECTED = {"MessageRejected", "MailFromDomainNotVerifiedException", "InvalidParameter",
             "InvalidParameterValue", "AccountSendingPausedException", "SendingPausedException",
             "OptedOut", "BadRequestException", "NotFoundException", "InvalidParameterException",
             # End User Messaging: a bad request, an opted-out or blocked destination (Conflict), an
             # origination identity or configuration set that does not exist, or no permission.
             "ValidationException", "ConflictException", "ResourceNotFoundException", "AccessDeniedException"}
# End User Messaging refuses at its spend or rate quota before accepting anything: try later.
_THROTTLED_SMS = {"ServiceQuotaExceededException"}


def _classify(exc: ClientError) -> Exception:
    code = exc.response.get("Error", {}).get("Code", "")
    if code in _THROTTLED or code in _THROTTLED_SMS:
        return TransientError(code)
    if code in _REJECTED:
        return ProviderRejected(code)
    unknown: Exception = exc  # neither: the caller cannot know whether the message went out
    return unknown


class SesEmailSender:
    provider = "ses"

    def __init__(self, client: Any, from_address: str, configuration_set: str, reply_to: str | None = None) -> None:
        self._ses, self._from, self._config_set = client, from_address, configuration_set
        self._reply_to = reply_to  # the address SES receives replies on (InboundEmail reads them)

    def send(self, message: OutboundMessage) -> str:
        body: dict[str, Any] = {"Text": {"Data": message.body, "Charset": "UTF-8"}}
        if message.html:
            body["Html"] = {"Data": message.html, "Charset": "UTF-8"}
        simple: dict[str, Any] = {"Subject": {"Data": message.subject or "", "Charset": "UTF-8"}, "Body": body}
        if message.headers:
            # SES v2 Simple content carries extra headers (List-Unsubscribe, List-Unsubscribe-Post).
            simple["Headers"] = [{"Name": k, "Value": v} for k, v in message.headers.items()]
        extra: dict[str, Any] = {"ReplyToAddresses": [self._reply_to]} if self._reply_to else {}
        try:
            resp = self._ses.send_email(
                FromEmailAddress=self._from,
                Destination={"ToAddresses": [message.destination]},
                Content={"Simple": simple},
                ConfigurationSetName=self._config_set,
                EmailTags=[{"Name": k, "Value": v} for k, v in (message.tags or {}).items()],
                **extra,
            )
        except ClientError as exc:
            raise _classify(exc) from exc
        return str(resp["MessageId"])


def _valid_e164(destination: str) -> None:
    # Neither the provider nor our own records may carry a malformed number: it fails here, not at the carrier.
    try:
        valid_e164(destination)
    except ValueError as exc:
        raise ProviderRejected("InvalidPhoneNumber") from exc


class EndUserMessagingSmsSender:
    """SMS through AWS End User Messaging (``pinpoint-sms-voice-v2`` SendTextMessage). The
    configuration set's event destination (an SNS topic read by SmsEvents) brings each message's
    delivery events back with the message id returned here; ``Context`` carries ids only."""

    provider = "sms-voice"

    def __init__(self, client: Any, configuration_set: str, origination_identity: str | None = None) -> None:
        self._client, self._config_set, self._origin = client, configuration_set, origination_identity

    def send(self, message: OutboundMessage) -> str:
        _valid_e164(message.destination)
        request: dict[str, Any] = {
            "DestinationPhoneNumber": message.destination,
            "MessageBody": message.body,
            "MessageType": "TRANSACTIONAL",
            "ConfigurationSetName": self._config_set,
        }
        if self._origin:
            request["OriginationIdentity"] = self._origin
        if message.tags:
            request["Context"] = dict(message.tags)
        try:
            resp = self._client.send_text_message(**request)
        except ClientError as exc:
            raise _classify(exc) from exc
        return str(resp["MessageId"])


class SnsSmsSender:
    provider = "sns"

    def __init__(self, client: Any, sender_id: str | None = None) -> None:
        self._sns, self._sender_id = client, sender_id

    def send(self, message: OutboundMessage) -> str:
        _valid_e164(message.destination)  # SNS does not validate E.164 itself
        attributes = {"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}}
        if self._sender_id:
            attributes["AWS.SNS.SMS.SenderID"] = {"DataType": "String", "StringValue": self._sender_id}
        try:
            resp = self._sns.publish(PhoneNumber=message.destination, Message=message.body,
                                     MessageAttributes=attributes)
        except ClientError as exc:
            raise _classify(exc) from exc
        return str(resp["MessageId"])
