"""SmsWebhook taking Alibaba Cloud SMS's batch push on moto: receipts (SmsReport) move the notice
they name, once; replies (SmsUp) reach the reply reader like any provider's; a push without the
unguessable token is refused before anything is read or written."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from dunning.adapters.dynamo import AccountsRepository
from dunning.domain.models import Channel, EntryKind, Notice, NoticeStatus
from tests.functions.conftest import NOW, make_account
from tests.support.aws import REGION, FakeContext, fresh_function
from tests.support.listening import collections, item_counts, listening_env, seed_reachable_case
from tests.support.webhooks import GENERIC_SECRET, SECRET_NAME, TWILIO_TOKEN, http_event

TOKEN = "aliyun-push-token-0123456789abcdefghijklmnopqrstuv"  # noqa: S105 - test secret
CASE = "acc-1001-20261102"
BIZ_ID = "823419304762118^0"
PHONE = "+8613800138000"


@pytest.fixture
def env(aws: dict[str, str], monkeypatch: pytest.MonkeyPatch, clock: Any) -> dict[str, str]:
    env = listening_env(aws, monkeypatch)
    boto3.client("secretsmanager", region_name=REGION).put_secret_value(
        SecretId=SECRET_NAME,
        SecretString=json.dumps({"twilio": TWILIO_TOKEN, "generic": GENERIC_SECRET, "aliyun": TOKEN}))
    account = make_account(contact={"phone": PHONE, "email": None}, jurisdiction="CN", currency="CNY",
                           locale="zh-CN", time_zones=["Asia/Shanghai"])
    seed_reachable_case(env, account)
    collections(env).put_notice(Notice(
        notice_id=Notice.id_for(CASE, "sms_3"), case_id=CASE, account_id="acc-1001", step_id="sms_3",
        channel=Channel.SMS, template_id="overdue_reminder", template_version="t", locale="zh-CN",
        status=NoticeStatus.SENT, body="...", provider_message_id=f"aliyun:{BIZ_ID}", created_at=NOW))
    return env


@pytest.fixture
def hook() -> Any:
    return fresh_function("sms_webhook")


def push(hook: Any, kind: str, items: list[dict[str, Any]], token: str = TOKEN) -> dict[str, Any]:
    body = json.dumps(items, ensure_ascii=False).encode("utf-8")
    event = http_event(f"aliyun-{kind}", body, {"Content-Type": "application/json"}, query=f"token={token}")
    event["queryStringParameters"] = {"token": token}
    return hook.lambda_handler(event, FakeContext())


REPORT = {"phone_number": "13800138000", "send_time": "2026-11-03 23:00:01", "report_time": "2026-11-03 23:00:05",
          "success": True, "err_code": "DELIVERED", "err_msg": "用户接收成功", "sms_size": "1", "biz_id": BIZ_ID,
          "out_id": f"{CASE}:sms_3"}


def history(env: dict[str, str]) -> Any:
    return collections(env).history("acc-1001")


def test_a_receipt_marks_the_notice_delivered_once_and_answers_as_the_provider_expects(env, hook) -> None:
    resp = push(hook, "report", [REPORT])
    assert resp["statusCode"] == 200 and json.loads(resp["body"]) == {"code": 0, "msg": "成功"}
    (notice,) = history(env).notices[CASE]
    assert notice.status is NoticeStatus.DELIVERED
    (entry,) = [e for e in history(env).ledger[CASE] if e.kind is EntryKind.DELIVERY]
    assert entry.data["provider"] == "aliyun" and entry.data["at"] == "2026-11-03T15:00:05Z"  # Beijing -> UTC
    before = item_counts(env)
    push(hook, "report", [REPORT])  # the provider pushes again until it sees its answer
    assert item_counts(env) == before


def test_a_failed_receipt_marks_it_failed(env, hook) -> None:
    push(hook, "report", [REPORT | {"success": False, "err_code": "MK:0001"}])
    (notice,) = history(env).notices[CASE]
    assert notice.status is NoticeStatus.FAILED


def test_a_reply_td_opts_the_customer_out_of_sms(env, hook) -> None:
    up = {"phone_number": "13800138000", "send_time": "2026-11-03 23:10:00", "content": "TD",
          "sign_name": "海港消费金融", "dest_code": "1234", "sequence_id": 1234567890}
    assert push(hook, "up", [up])["statusCode"] == 200
    replies = [e for e in history(env).ledger[CASE] if e.kind is EntryKind.REPLY]
    assert len(replies) == 1
    db = boto3.client("dynamodb", region_name=REGION)  # the account now refuses SMS
    stored = AccountsRepository(db, env["ACCOUNTS_TABLE"]).get("acc-1001")
    assert Channel.SMS in stored.opted_out


@pytest.mark.parametrize("token", ["", "wrong-token-0123456789abcdefghijklmnopqrstuv", TOKEN[:-1]])
def test_a_push_without_the_token_is_refused_and_writes_nothing(env, hook, token: str) -> None:
    before = item_counts(env)
    resp = push(hook, "report", [REPORT], token=token)
    assert resp["statusCode"] == 403 and item_counts(env) == before


def test_a_malformed_batch_is_a_400_and_writes_nothing(env, hook) -> None:
    before = item_counts(env)
    assert push(hook, "report", [{"biz_id": BIZ_ID}])["statusCode"] == 400
    assert item_counts(env) == before
