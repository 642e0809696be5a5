"""The End User Messaging SMS sender, against botocore's own model of SendTextMessage (Stubber checks
every parameter the way the service would), and how its refusals are sorted for at-most-once."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from dunning.adapters.senders import EndUserMessagingSmsSender, SesEmailSender, SnsSmsSender
from dunning.composition import AwsPorts
from dunning.domain.models import Channel
from dunning.ports import OutboundMessage, ProviderRejected, TransientError
from dunning.settings import MessagingSettings

MESSAGE = OutboundMessage(destination="+12025550143", body="Harbor Finance: 3 days past due.",
                          tags={"case_id": "acc-1001-20261102", "step_id": "sms_3"})


@pytest.fixture
def client() -> Any:
    return boto3.client("pinpoint-sms-voice-v2", region_name="us-east-1", aws_access_key_id="x",
                        aws_secret_access_key="x")


def test_sends_through_the_configuration_set_with_ids_only_as_context(client: Any) -> None:
    with Stubber(client) as stub:
        stub.add_response("send_text_message", {"MessageId": "5a4b3c2d-1e0f"}, {
            "DestinationPhoneNumber": "+12025550143", "MessageBody": MESSAGE.body, "MessageType": "TRANSACTIONAL",
            "ConfigurationSetName": "dunning-dev", "OriginationIdentity": "pool-0123456789abcdef",
            "Context": {"case_id": "acc-1001-20261102", "step_id": "sms_3"}})
        sender = EndUserMessagingSmsSender(client, "dunning-dev", "pool-0123456789abcdef")
        assert sender.send(MESSAGE) == "5a4b3c2d-1e0f"
        stub.assert_no_pending_responses()


def test_without_an_origination_identity_the_service_picks_one(client: Any) -> None:
    with Stubber(client) as stub:
        stub.add_response("send_text_message", {"MessageId": "m1"}, {
            "DestinationPhoneNumber": "+12025550143", "MessageBody": MESSAGE.body, "MessageType": "TRANSACTIONAL",
            "ConfigurationSetName": "dunning-dev", "Context": MESSAGE.tags})
        assert EndUserMessagingSmsSender(client, "dunning-dev").send(MESSAGE) == "m1"


@pytest.mark.parametrize(("code", "meaning"), [
    ("ThrottlingException", TransientError),  # certainly not accepted: safe to try again
    ("ServiceQuotaExceededException", TransientError),  # spend or rate quota: nothing went out
    ("ValidationException", ProviderRejected),
    ("ConflictException", ProviderRejected),  # e.g. the destination opted out at the carrier
    ("ResourceNotFoundException", ProviderRejected),
    ("AccessDeniedException", ProviderRejected),
])
def test_refusals_are_sorted_for_at_most_once(client: Any, code: str, meaning: type[Exception]) -> None:
    with Stubber(client) as stub:
        stub.add_client_error("send_text_message", service_error_code=code, http_status_code=400)
        with pytest.raises(meaning):
            EndUserMessagingSmsSender(client, "dunning-dev").send(MESSAGE)


def test_a_server_error_is_neither_so_the_send_is_recorded_uncertain(client: Any) -> None:
    with Stubber(client) as stub:
        stub.add_client_error("send_text_message", service_error_code="InternalServerException",
                              http_status_code=500)
        with pytest.raises(Exception) as raised:
            EndUserMessagingSmsSender(client, "dunning-dev").send(MESSAGE)
        assert not isinstance(raised.value, TransientError | ProviderRejected)


def test_a_malformed_number_never_reaches_the_provider(client: Any) -> None:
    with Stubber(client), pytest.raises(ProviderRejected):
        EndUserMessagingSmsSender(client, "dunning-dev").send(OutboundMessage(destination="555-0143", body="x"))


def test_email_carries_the_reply_to_address_replies_are_received_on() -> None:
    ses = boto3.client("sesv2", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(ses) as stub:
        stub.add_response("send_email", {"MessageId": "e1"}, {
            "FromEmailAddress": "collections@harbor-finance.example",
            "Destination": {"ToAddresses": ["dana@example.com"]},
            "ReplyToAddresses": ["replies@harbor-finance.example"],
            "Content": {"Simple": {"Subject": {"Data": "s", "Charset": "UTF-8"},
                                   "Body": {"Text": {"Data": "b", "Charset": "UTF-8"}}}},
            "ConfigurationSetName": "dunning-dev", "EmailTags": []})
        sender = SesEmailSender(ses, "collections@harbor-finance.example", "dunning-dev",
                                "replies@harbor-finance.example")
        assert sender.send(OutboundMessage(destination="dana@example.com", body="b", subject="s")) == "e1"


def test_a_configuration_set_in_the_settings_sends_sms_through_end_user_messaging(monkeypatch: Any) -> None:
    for name, value in {"ACCOUNTS_TABLE": "a", "COLLECTIONS_TABLE": "c", "SES_FROM_ADDRESS": "c@x.example",
                        "SES_CONFIGURATION_SET": "dunning-dev", "LINK_SECRET_NAME": "k",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    assert isinstance(AwsPorts(MessagingSettings()).sender(Channel.SMS), SnsSmsSender)  # type: ignore[call-arg]
    monkeypatch.setenv("SMS_CONFIGURATION_SET", "dunning-dev")
    sender = AwsPorts(MessagingSettings()).sender(Channel.SMS)  # type: ignore[call-arg]
    assert isinstance(sender, EndUserMessagingSmsSender) and sender.provider == "sms-voice"
