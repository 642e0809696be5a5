"""Webhook signatures: our Twilio signature is Twilio's own, the generic one honours its window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from dunning.adapters.webhooks import (
    BadSignature,
    DeliveryReceipt,
    InboundSms,
    MalformedPayload,
    PayloadTooLarge,
    UnknownProvider,
    WebhookRequest,
    generic_signature_header,
    parse_generic,
    read_webhook,
    twilio_signature,
    verify_generic,
    verify_twilio,
)

NOW = datetime(2026, 11, 3, 15, 0, tzinfo=UTC)
URL = "https://hooks.example.com/webhooks/sms/twilio"

_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)


@settings(max_examples=150, deadline=None)
@given(
    token=st.text(min_size=1, max_size=40).filter(lambda s: "\x00" not in s),
    params=st.dictionaries(st.text(min_size=1, max_size=12), _text, max_size=8),
    query=st.sampled_from(["", "?a=1", "?tenant=us&x=%20y"]),
)
def test_twilio_signature_matches_twilios_request_validator(
    token: str, params: dict[str, str], query: str
) -> None:
    url = URL + query
    ours = twilio_signature(token, url, list(params.items()))
    validator = RequestValidator(token)
    assert ours == validator.compute_signature(url, params)
    assert validator.validate(url, params, ours)


def test_twilio_signature_with_a_repeated_parameter_matches_twilio() -> None:
    class Multi(dict):  # a form where one name appears twice, as Flask's MultiDict presents it
        def getall(self, name: str) -> list[str]:
            return ["b", "a"] if name == "MediaUrl" else [self[name]]

    params = Multi({"MediaUrl": "b", "Body": "hi"})
    expected = RequestValidator("tok").compute_signature(URL, params)
    assert twilio_signature("tok", URL, [("MediaUrl", "b"), ("Body", "hi"), ("MediaUrl", "a")]) == expected


def test_twilio_signature_over_a_different_url_is_refused() -> None:
    params = [("Body", "STOP"), ("From", "+12025550143"), ("MessageSid", "SM1")]
    good = twilio_signature("tok", URL, params)
    verify_twilio("tok", good, URL, params)
    with pytest.raises(BadSignature):
        verify_twilio("tok", good, URL + "?x=1", params)
    with pytest.raises(BadSignature):
        verify_twilio("tok", None, URL, params)


@pytest.mark.parametrize("skew", [timedelta(seconds=-300), timedelta(0), timedelta(seconds=299)])
def test_generic_signature_inside_the_window_verifies(skew: timedelta) -> None:
    body = b'{"type":"inbound"}'
    verify_generic(
        "s3cret", generic_signature_header("s3cret", int((NOW + skew).timestamp()), body), body, NOW
    )


@pytest.mark.parametrize("skew", [timedelta(seconds=-301), timedelta(seconds=301), timedelta(days=1)])
def test_generic_signature_outside_the_window_is_refused(skew: timedelta) -> None:
    body = b"{}"
    with pytest.raises(BadSignature):
        verify_generic(
            "s3cret", generic_signature_header("s3cret", int((NOW + skew).timestamp()), body), body, NOW
        )


def test_generic_signature_over_another_body_or_secret_is_refused() -> None:
    header = generic_signature_header("s3cret", int(NOW.timestamp()), b"{}")
    for secret, body in (("s3cret", b"{ }"), ("other", b"{}")):
        with pytest.raises(BadSignature):
            verify_generic(secret, header, body, NOW)
    for header in ("", "t=abc,v1=00", "v1=00", f"t={int(NOW.timestamp())}"):
        with pytest.raises(BadSignature):
            verify_generic("s3cret", header, b"{}", NOW)


def test_read_webhook_checks_provider_then_size_then_signature() -> None:
    secrets = {"generic": "s3cret"}
    with pytest.raises(UnknownProvider):
        read_webhook("acme", WebhookRequest({}, b"{}", URL), lambda: secrets, NOW)
    with pytest.raises(PayloadTooLarge):
        read_webhook("generic", WebhookRequest({}, b"x" * 16_385, URL), lambda: secrets, NOW)
    with pytest.raises(BadSignature):
        read_webhook("generic", WebhookRequest({}, b"{}", URL), lambda: secrets, NOW)


def test_generic_bodies_become_replies_and_receipts() -> None:
    inbound = parse_generic(b'{"type":"inbound","message_id":"m1","from":"+12025550143","text":"STOP"}', NOW)
    assert isinstance(inbound, InboundSms) and inbound.key == "generic:m1" and inbound.received_at == NOW
    receipt = parse_generic(b'{"type":"receipt","message_id":"m2","status":"undelivered"}', NOW)
    assert isinstance(receipt, DeliveryReceipt) and receipt.status == "FAILED"
    progress = parse_generic(b'{"type":"receipt","message_id":"m2","status":"queued"}', NOW)
    assert isinstance(progress, DeliveryReceipt) and progress.status is None


@pytest.mark.parametrize(
    "body",
    [
        b"[]",
        b"nope",
        b'{"type":"other","message_id":"m"}',
        b'{"type":"inbound","message_id":"m"}',
        b'{"type":"receipt","message_id":"m"}',
        b'{"type":"inbound","message_id":"m","from":"+1","text":"x","timestamp":"2026-11-03T10:00:00"}',
    ],
)
def test_malformed_generic_bodies_are_refused_without_echoing_them(body: bytes) -> None:
    with pytest.raises(MalformedPayload) as info:
        parse_generic(body, NOW)
    assert "+1" not in str(info.value)
