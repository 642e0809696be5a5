"""Self-service payment links are signed, expire, and carry no personal data."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dunning.domain.links import ExpiredLink, InvalidLink, LinkClaims, sign_link, verify_link
from dunning.domain.models import Account

SECRET = b"k" * 32
OTHER_SECRET = b"q" * 32
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
EXPIRES = NOW + timedelta(days=7)
BASE = "https://pay.example.com"


def token_of(url: str) -> str:
    return url.rsplit("/", 1)[-1]


def flip(text: str, index: int) -> str:
    replacement = "A" if text[index] != "A" else "B"
    return text[:index] + replacement + text[index + 1 :]


def test_a_signed_link_verifies_to_its_claims() -> None:
    url = sign_link(BASE, "A-10023", EXPIRES, SECRET)
    assert url.startswith("https://pay.example.com/p/")
    assert verify_link(url, SECRET, NOW) == LinkClaims(
        account_id="A-10023", purpose="pay", expires_at=EXPIRES
    )


def test_the_bare_token_and_a_url_with_query_verify_alike() -> None:
    url = sign_link(BASE + "/", "C-2026-000123", EXPIRES, SECRET, purpose="plan")
    claims = verify_link(token_of(url), SECRET, NOW)
    assert claims.purpose == "plan" and claims.account_id == "C-2026-000123"
    assert verify_link(url + "?utm_source=sms#top", SECRET, NOW) == claims


def test_the_link_is_short_enough_for_an_sms() -> None:
    assert len(sign_link(BASE, "A-10023", EXPIRES, SECRET)) < 110


def test_expiry_is_kept_to_the_second_and_ends_validity() -> None:
    url = sign_link(BASE, "A-1", EXPIRES + timedelta(microseconds=700), SECRET)
    assert verify_link(url, SECRET, EXPIRES - timedelta(seconds=1)).expires_at == EXPIRES
    with pytest.raises(ExpiredLink) as caught:
        verify_link(url, SECRET, EXPIRES)
    assert caught.value.claims.account_id == "A-1"  # the page can offer a fresh link
    assert isinstance(caught.value, InvalidLink)  # a handler that only knows InvalidLink still refuses it


def test_a_link_signed_with_another_secret_is_invalid() -> None:
    url = sign_link(BASE, "A-10023", EXPIRES, SECRET)
    with pytest.raises(InvalidLink, match="signature"):
        verify_link(url, OTHER_SECRET, NOW)


def test_changing_the_account_in_the_payload_is_invalid() -> None:
    url = sign_link(BASE, "A-10023", EXPIRES, SECRET)
    payload, tag = token_of(url).split(".")
    forged_body = base64.urlsafe_b64decode(payload + "==").replace(b"A-10023", b"A-10024")
    forged = base64.urlsafe_b64encode(forged_body).rstrip(b"=").decode()
    with pytest.raises(InvalidLink):
        verify_link(f"{forged}.{tag}", SECRET, NOW)


def test_an_expired_link_cannot_be_extended_by_editing_it() -> None:
    url = sign_link(BASE, "A-1", NOW - timedelta(days=1), SECRET)
    payload, tag = token_of(url).split(".")
    body = base64.urlsafe_b64decode(payload + "==")
    later = str(int((NOW + timedelta(days=30)).timestamp())).encode()
    forged = base64.urlsafe_b64encode(
        body.replace(str(int((NOW - timedelta(days=1)).timestamp())).encode(), later)
    )
    with pytest.raises(InvalidLink) as caught:
        verify_link(f"{forged.rstrip(b'=').decode()}.{tag}", SECRET, NOW)
    assert not isinstance(caught.value, ExpiredLink)


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_any_single_character_change_is_invalid(data: st.DataObject) -> None:
    token = token_of(sign_link(BASE, "A-10023", EXPIRES, SECRET))
    index = data.draw(st.integers(0, len(token) - 1))
    tampered = flip(token, index) if token[index] != "." else token.replace(".", "A", 1)
    if tampered == token:
        return
    with pytest.raises(InvalidLink):
        verify_link(tampered, SECRET, NOW)


@pytest.mark.parametrize(
    "garbage",
    ["", ".", "abc", "abc.", ".abc", "a.b.c", "héllo.wörld", "https://pay.example.com/p/", "!!!.???"],
)
def test_malformed_links_are_invalid(garbage: str) -> None:
    with pytest.raises(InvalidLink):
        verify_link(garbage, SECRET, NOW)


def test_the_token_holds_no_name_phone_email_or_amount() -> None:
    account = Account(
        account_id="A-10023",
        customer_name="Jane Roe",
        account_number="9988776655",
        contact={"phone": "+14155550123", "email": "jane.roe@example.com"},
        locale="en-US",
        time_zones=["America/Los_Angeles"],
        jurisdiction="US",
        currency="USD",
        principal_due="120.50",
        due_date="2026-02-25",
    )
    url = sign_link(BASE, account.account_id, EXPIRES, SECRET)
    payload = token_of(url).split(".")[0]
    decoded = base64.urlsafe_b64decode(payload + "==").decode()
    for secret_text in ("Jane", "Roe", "4155550123", "jane.roe", "@", "120.5", "9988776655"):
        assert secret_text not in decoded and secret_text not in url


def test_personal_data_cannot_be_signed_by_mistake() -> None:
    for not_an_id in ("jane.roe@example.com", "+14155550123", "Jane Roe"):
        with pytest.raises(ValueError) as caught:
            sign_link(BASE, not_an_id, EXPIRES, SECRET)
        assert not_an_id not in str(caught.value)


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValueError):
        sign_link(BASE, "A-1", EXPIRES, b"short")


def test_naive_times_are_refused() -> None:
    url = sign_link(BASE, "A-1", EXPIRES, SECRET)
    with pytest.raises(ValueError, match="naive"):
        verify_link(url, SECRET, NOW.replace(tzinfo=None))
