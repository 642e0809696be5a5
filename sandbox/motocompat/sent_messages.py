"""What moto's SES and SNS, and the End User Messaging stand-in, accepted, reported the moment they accept it.

moto keeps sent mail and SMS in its backends, unstamped and per region. The sandbox's stand-in
providers need each message with the (virtual) time it reached the provider, so
``SESBackend.send_email`` (SES v1 and v2 simple sends) and ``SNSBackend.publish`` (an SMS when
it has a phone number) report what they were given after they succeed, and so does the End User
Messaging stand-in (sandbox.motocompat.sms_voice) for each SendTextMessage.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

from moto.ses.models import SESBackend
from moto.sns.models import SNSBackend

from sandbox.motocompat.patching import replaced, require_parameters
from sandbox.motocompat.sms_voice import SmsVoiceBackend

_SEND_EMAIL = require_parameters(SESBackend.send_email, "self", "source", "subject", "body", "destinations")
_PUBLISH = require_parameters(SNSBackend.publish, "self", "message", "phone_number")


@dataclass(frozen=True)
class Accepted:
    """One message as a provider accepted it (one per recipient)."""

    provider: str  # "ses" | "sns" | "sms-voice"
    message_id: str
    channel: str  # "EMAIL" | "SMS"
    destination: str
    subject: str | None
    body: str


@contextmanager
def reporting_sends(on_accepted: Callable[[Accepted], None]) -> Iterator[None]:
    """``on_accepted(message)`` for every email recipient and every SMS, in the order sent."""

    def send_email(backend: SESBackend, *args: Any, **kwargs: Any) -> Any:
        message = original_email(backend, *args, **kwargs)
        given = _SEND_EMAIL.bind(backend, *args, **kwargs).arguments
        for address in given["destinations"].get("ToAddresses", []):
            on_accepted(Accepted("ses", message.id, "EMAIL", address, given["subject"], given["body"]))
        return message

    def publish(backend: SNSBackend, *args: Any, **kwargs: Any) -> Any:
        message_id = original_publish(backend, *args, **kwargs)
        given = _PUBLISH.bind(backend, *args, **kwargs).arguments
        if given.get("phone_number"):
            on_accepted(Accepted("sns", str(message_id), "SMS", given["phone_number"], None, given["message"]))
        return message_id

    def send_text_message(backend: SmsVoiceBackend, destination: str, body: str, *args: Any, **kwargs: Any) -> str:
        message_id = original_text(backend, destination, body, *args, **kwargs)
        on_accepted(Accepted("sms-voice", message_id, "SMS", destination, None, body))
        return message_id

    with ExitStack() as stack:
        original_email = stack.enter_context(replaced(SESBackend, "send_email", send_email))
        original_publish = stack.enter_context(replaced(SNSBackend, "publish", publish))
        original_text = stack.enter_context(replaced(SmsVoiceBackend, "send_text_message", send_text_message))
        yield
