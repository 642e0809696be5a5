"""A stand-in for AWS End User Messaging SMS (``pinpoint-sms-voice-v2``), which moto 5.2.5 lacks.

The functions send SMS with SendTextMessage through a configuration set whose event destination is
an SNS topic; the service later publishes each message's delivery events (TEXT_DELIVERED ...) there.
moto has no such service: a request to ``sms-voice.<region>.amazonaws.com`` would find no backend.
``end_user_messaging()`` answers those requests in moto's own request path
(``BotocoreStubber.process_request``) with the operations the system uses, with the service's
shapes and errors:

  CreateConfigurationSet, CreateEventDestination, DescribeConfigurationSets   (provisioning)
  SendTextMessage                                                              (the functions)

A send to a configuration set that does not exist is refused (ResourceNotFoundException), as is a
number that is not E.164 (ValidationException). Delivery events are not published by the stand-in
itself: a carrier answers later, so the driver (sandbox.simulate) asks ``delivery_event`` for the
event and publishes it to the destination topic when the virtual time says the handset got it.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlparse

from moto.core.botocore_stubber import BotocoreStubber

from sandbox.motocompat.patching import replaced, require_parameters

_PROCESS_REQUEST = require_parameters(BotocoreStubber.process_request, "self", "request")
_HOST = re.compile(r"^sms-voice\.([a-z0-9-]+)\.amazonaws\.com$")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
ACCOUNT_ID = "123456789012"  # moto's default account


@dataclass
class SentText:
    message_id: str
    destination: str
    body: str
    configuration_set: str
    origination_identity: str | None
    context: dict[str, str]


@dataclass
class SmsVoiceBackend:
    """One region's configuration sets and accepted messages."""

    region: str
    configuration_sets: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> destinations
    sent: dict[str, SentText] = field(default_factory=dict)

    def create_configuration_set(self, name: str) -> dict[str, Any]:
        if name in self.configuration_sets:
            raise _Error("ConflictException", f"configuration set {name} already exists")
        self.configuration_sets[name] = {}
        return {"ConfigurationSetArn": self._arn(name), "ConfigurationSetName": name}

    def create_event_destination(self, set_name: str, name: str, event_types: list[str],
                                 sns: dict[str, str] | None) -> dict[str, Any]:
        destinations = self._set(set_name)
        destination = {"EventDestinationName": name, "Enabled": True, "MatchingEventTypes": event_types}
        if sns:
            destination["SnsDestination"] = {"TopicArn": sns["TopicArn"]}
        destinations[name] = destination
        return {"ConfigurationSetArn": self._arn(set_name), "ConfigurationSetName": set_name,
                "EventDestination": destination}

    def describe_configuration_sets(self) -> dict[str, Any]:
        return {"ConfigurationSets": [
            {"ConfigurationSetArn": self._arn(name), "ConfigurationSetName": name,
             "EventDestinations": list(destinations.values())}
            for name, destinations in sorted(self.configuration_sets.items())]}

    def send_text_message(self, destination: str, body: str, configuration_set: str,
                          origination_identity: str | None, context: dict[str, str]) -> str:
        if not _E164.match(destination):
            raise _Error("ValidationException", "DestinationPhoneNumber is not E.164")
        if not body:
            raise _Error("ValidationException", "MessageBody is empty")
        self._set(configuration_set)
        message_id = str(uuid.uuid4())
        self.sent[message_id] = SentText(message_id, destination, body, configuration_set, origination_identity,
                                         context)
        return message_id

    def delivery_event(self, message_id: str, at: datetime, status: str = "DELIVERED") -> tuple[str, str] | None:
        """(topic ARN, SNS message) of the event the service publishes when the handset answers;
        None when the message's configuration set has no SNS destination for it."""
        text = self.sent[message_id]
        event_type = f"TEXT_{status}"
        for destination in self.configuration_sets.get(text.configuration_set, {}).values():
            types = destination["MatchingEventTypes"]
            if destination.get("Enabled") and "SnsDestination" in destination \
                    and ("TEXT_ALL" in types or "ALL" in types or event_type in types):
                stamp = int(at.timestamp() * 1000)
                event = {"eventType": event_type, "eventVersion": "1.0", "eventTimestamp": stamp, "isFinal": True,
                         "originationPhoneNumber": text.origination_identity or "+18445550123",
                         "destinationPhoneNumber": text.destination,
                         "isoCountryCode": "CN" if text.destination.startswith("+86") else "US",
                         "messageId": message_id, "messageRequestTimestamp": stamp,
                         "messageEncoding": "GSM" if text.body.isascii() else "UCS2",
                         "messageType": "TRANSACTIONAL", "messageStatus": status,
                         "messageStatusDescription": "Message has been accepted by phone",
                         "context": text.context, "totalMessageParts": 1}
                return str(destination["SnsDestination"]["TopicArn"]), json.dumps(event)
        return None

    def _set(self, name: str) -> dict[str, Any]:
        if name not in self.configuration_sets:
            raise _Error("ResourceNotFoundException", f"configuration set {name} does not exist")
        return self.configuration_sets[name]

    def _arn(self, name: str) -> str:
        return f"arn:aws:sms-voice:{self.region}:{ACCOUNT_ID}:configuration-set/{name}"


class _Error(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


_backends: dict[str, SmsVoiceBackend] = {}


def sms_voice_backend(region: str) -> SmsVoiceBackend:
    """The stand-in's state for ``region`` (only while ``end_user_messaging()`` is entered)."""
    return _backends.setdefault(region, SmsVoiceBackend(region))


def _answer(region: str, target: str, body: dict[str, Any]) -> dict[str, Any]:
    backend = sms_voice_backend(region)
    operation = target.removeprefix("PinpointSMSVoiceV2.")
    if operation == "CreateConfigurationSet":
        return backend.create_configuration_set(str(body["ConfigurationSetName"]))
    if operation == "CreateEventDestination":
        return backend.create_event_destination(str(body["ConfigurationSetName"]), str(body["EventDestinationName"]),
                                                list(body["MatchingEventTypes"]), body.get("SnsDestination"))
    if operation == "DescribeConfigurationSets":
        return backend.describe_configuration_sets()
    if operation == "SendTextMessage":
        return {"MessageId": backend.send_text_message(
            str(body["DestinationPhoneNumber"]), str(body.get("MessageBody", "")),
            str(body.get("ConfigurationSetName", "")), body.get("OriginationIdentity"),
            {str(k): str(v) for k, v in (body.get("Context") or {}).items()})}
    raise _Error("UnknownOperationException", f"{operation} is not modelled by the sandbox's stand-in")


@contextmanager
def end_user_messaging() -> Iterator[None]:
    """Answer End User Messaging SMS requests in moto's request path; fresh state each time."""

    def process_request(stubber: BotocoreStubber, request: Any) -> Any:
        host = _HOST.match(urlparse(str(request.url)).hostname or "")
        if host is None:
            return original(stubber, request)
        headers = {"Content-Type": "application/x-amz-json-1.0"}
        raw, target = request.body or b"{}", request.headers.get("X-Amz-Target", b"")
        try:
            answer = _answer(host.group(1), target.decode() if isinstance(target, bytes) else str(target),
                             json.loads(raw.decode() if isinstance(raw, bytes) else raw))
        except _Error as exc:
            status = 404 if exc.code == "ResourceNotFoundException" else 400
            return status, headers, json.dumps({"__type": exc.code, "message": str(exc)})
        return 200, headers, json.dumps(answer)

    _backends.clear()
    try:
        with replaced(BotocoreStubber, "process_request", process_request) as original:
            yield
    finally:
        _backends.clear()
