"""`dunning serve`: real HTTP on 127.0.0.1 reaches the real handlers with signatures checked as on AWS."""

from __future__ import annotations

import http.client
import json
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


def test_start_prints_the_base_url_and_the_provider_secrets(api: LocalApi) -> None:
    lines = api.banner()
    assert lines[0] == f"BASE_URL=http://127.0.0.1:{api.port}"
    assert f"GENERIC_WEBHOOK_SECRET={WEBHOOK_SECRETS['generic']}" in lines
    assert f"TWILIO_AUTH_TOKEN={WEBHOOK_SECRETS['twilio']}" in lines
    assert any(line.startswith("# example: curl") and "/admin" in line for line in lines)


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
    customer = api.portfolio[2]
    command = {"command": {"type": "show_case", "account_id": customer.account_id,
                           "case_id": f"{customer.account_id}-{customer.due_date:%Y%m%d}"}}
    status, headers, answer = post(api, "/admin", json.dumps(command).encode(),
                                   {"content-type": "application/json"})
    assert status in (200, 404)
    if status == 404:
        assert headers["content-type"] == "application/problem+json" and answer["status"] == 404
    else:
        assert answer["case_id"] == command["command"]["case_id"]


def test_a_path_outside_the_api_is_not_found(api: LocalApi) -> None:
    status, _, answer = post(api, "/webhooks/email", b"{}", {"content-type": "application/json"})
    assert status == 404 and answer == {"message": "Not Found"}
