"""`dunning serve`: real HTTP on 127.0.0.1 reaches the real handlers with signatures checked as on AWS."""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from dunning.adapters.webhooks import generic_signature_header
from sandbox.bootstrap import WEBHOOK_SECRETS
from sandbox.serve import HOST, LocalApi

pytestmark = pytest.mark.enable_socket


@pytest.fixture(scope="module")
def api() -> Iterator[LocalApi]:
    with LocalApi(port=0, accounts=8, seed=3) as local:
        local.start()
        yield local
        local.shutdown()


def post(api: LocalApi, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], Any]:
    conn = http.client.HTTPConnection(HOST, api.port, timeout=15)
    try:
        conn.request("POST", path, body=body, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, json.loads(raw or b"null")
    finally:
        conn.close()


def signed(body: bytes, secret: str = WEBHOOK_SECRETS["generic"]) -> dict[str, str]:
    return {"content-type": "application/json",
            "x-dunning-signature": generic_signature_header(secret, int(time.time()), body)}


def inbound(phone: str, text: str, message_id: str) -> bytes:
    return json.dumps({"type": "inbound", "message_id": message_id, "from": phone, "text": text}).encode()


def admin_headers(api: LocalApi, **extra: str) -> dict[str, str]:
    return {"content-type": "application/json", "authorization": f"Bearer {api.admin_token}"} | extra


def show_case(api: LocalApi) -> bytes:
    customer = api.portfolio[2]
    return json.dumps({"command": {"type": "show_case", "account_id": customer.account_id,
                                   "case_id": f"{customer.account_id}-{customer.due_date:%Y%m%d}"}}).encode()


def raw_request(api: LocalApi, head: str, body: bytes = b"") -> tuple[int, bytes]:
    """Bytes on the wire, for what http.client refuses to send; returns the status and the body."""
    with socket.create_connection((HOST, api.port), timeout=15) as sock:
        sock.sendall(head.encode("latin-1") + b"\r\n\r\n" + body)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    status_line, _, rest = data.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


def test_start_prints_the_base_url_the_admin_token_and_the_provider_secrets(api: LocalApi) -> None:
    lines = api.banner()
    assert lines[0] == f"BASE_URL=http://127.0.0.1:{api.port}"
    assert lines[1] == f"ADMIN_TOKEN={api.admin_token}" and len(api.admin_token) >= 40
    assert f"GENERIC_WEBHOOK_SECRET={WEBHOOK_SECRETS['generic']}" in lines
    assert f"TWILIO_AUTH_TOKEN={WEBHOOK_SECRETS['twilio']}" in lines
    assert any(line.startswith("# example: curl") and "/admin" in line and f"Bearer {api.admin_token}" in line
               for line in lines)


def test_a_signed_stop_from_a_customer_opts_them_out_of_sms(api: LocalApi) -> None:
    # Replies are matched through the phone index written when a case opens: a customer with a case.
    account_ids = {account_id for account_id, _ in api.collection_cases()}
    customer = next(a for a in api.portfolio if a.account_id in account_ids)
    body = inbound(customer.phone, "STOP", "serve-stop-1")
    status, _, answer = post(api, "/webhooks/sms/generic", body, signed(body))
    assert status == 200 and answer["kind"] == "inbound" and answer["status"] != "UNKNOWN_SENDER"
    item = boto3.client("dynamodb", region_name=api.stack.region).get_item(
        TableName=api.stack.table("AccountsTable"), Key={"account_id": {"S": customer.account_id}})["Item"]
    assert "SMS" in json.dumps(item["opted_out"])


def test_a_bad_signature_is_refused_with_a_problem(api: LocalApi) -> None:
    body = inbound(api.portfolio[1].phone, "STOP", "serve-forged-1")
    status, headers, problem = post(api, "/webhooks/sms/generic", body, signed(body, secret="not-the-secret"))
    assert status == 403
    assert headers["content-type"] == "application/problem+json"
    assert problem["status"] == 403 and problem["title"] == "Signature verification failed"


def test_an_oversized_body_is_refused(api: LocalApi) -> None:
    body = inbound(api.portfolio[1].phone, "x" * 20_000, "serve-big-1")
    status, headers, problem = post(api, "/webhooks/sms/generic", body, signed(body))
    assert status == 413 and headers["content-type"] == "application/problem+json"
    assert problem["status"] == 413


def test_admin_show_case_answers_for_a_seeded_account(api: LocalApi) -> None:
    command = show_case(api)
    status, headers, answer = post(api, "/admin", command, admin_headers(api))
    assert status in (200, 404)
    if status == 404:
        assert headers["content-type"] == "application/problem+json" and answer["status"] == 404
    else:
        assert answer["case_id"] == json.loads(command)["command"]["case_id"]


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", "Basic YWRtaW46YWRtaW4=", "Bearer "])
def test_admin_without_the_token_is_401(api: LocalApi, authorization: str | None) -> None:
    headers = {"content-type": "application/json"} | ({"authorization": authorization} if authorization else {})
    status, out, problem = post(api, "/admin", show_case(api), headers)
    assert status == 401 and out["content-type"] == "application/problem+json"
    assert out["www-authenticate"].startswith("Bearer") and problem["status"] == 401


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", ""])
def test_admin_takes_only_json_bodies_the_types_a_cross_site_form_can_post_are_refused(
        api: LocalApi, content_type: str) -> None:
    headers = admin_headers(api, **{"content-type": content_type})
    status, _, problem = post(api, "/admin", show_case(api), headers)
    assert status == 415 and problem["status"] == 415


@pytest.mark.parametrize(("path", "extra"), [
    ("/admin", {"origin": "https://evil.example"}),
    ("/admin", {"origin": "null"}),
    ("/admin", {"sec-fetch-site": "cross-site"}),
    ("/webhooks/sms/generic", {"origin": "https://evil.example"}),
])
def test_requests_from_another_origin_are_refused_even_with_the_token(
        api: LocalApi, path: str, extra: dict[str, str]) -> None:
    status, _, problem = post(api, path, show_case(api), admin_headers(api, **extra))
    assert status == 403 and problem["title"] == "Cross-site request refused"


def test_the_servers_own_origin_is_served(api: LocalApi) -> None:
    status, _, _ = post(api, "/admin", show_case(api), admin_headers(api, origin=api.base_url))
    assert status in (200, 404)


@pytest.mark.parametrize(("length", "status"), [("abc", 400), ("-5", 400), ("²", 400), ("1e3", 400),
                                                ("99999999999", 413)])
def test_a_content_length_that_is_not_a_byte_count_is_answered_not_dropped(
        api: LocalApi, length: str, status: int) -> None:
    head = (f"POST /webhooks/sms/generic HTTP/1.1\r\nHost: {HOST}:{api.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {length}")
    answered, body = raw_request(api, head, b"{}")
    assert answered == status and json.loads(body)["status"] == status


def test_a_chunked_body_is_411(api: LocalApi) -> None:
    head = (f"POST /admin HTTP/1.1\r\nHost: {HOST}:{api.port}\r\nTransfer-Encoding: chunked\r\n"
            f"Authorization: Bearer {api.admin_token}\r\nContent-Type: application/json")
    answered, _ = raw_request(api, head, b"2\r\n{}\r\n0\r\n\r\n")
    assert answered == 411


def test_a_path_outside_the_api_is_not_found(api: LocalApi) -> None:
    status, _, answer = post(api, "/webhooks/email", b"{}", {"content-type": "application/json"})
    assert status == 404 and answer == {"message": "Not Found"}
