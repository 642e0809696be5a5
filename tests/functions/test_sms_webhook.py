"""SmsWebhook on moto: signatures, problem JSON, replies recorded then acted on, at most once."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import boto3
import pytest

from dunning.domain.models import CaseStatus, Channel, EntryKind, PlanStatus
from tests.functions.conftest import NOW
from tests.support.aws import REGION, FakeContext, fresh_function, load_event, sent_sms
from tests.support.listening import (
    callbacks,
    case_of,
    collections,
    index_phone,
    item_counts,
    listening_env,
    seed_reachable_case,
)
from tests.support.webhooks import (
    generic_event,
    generic_inbound,
    http_event,
    twilio_inbound,
    twilio_receipt,
)


@pytest.fixture
def env(aws: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    return listening_env(aws, monkeypatch)


@pytest.fixture
def hook() -> Any:
    mod = fresh_function("sms_webhook")
    return mod


@pytest.fixture
def seeded(env: dict[str, str], clock: Any) -> Any:
    return seed_reachable_case(env)


def call(hook: Any, event: dict[str, Any]) -> dict[str, Any]:
    return hook.lambda_handler(event, FakeContext())


def replies(env: dict[str, str], case_id: str) -> list[Any]:
    return [e for e in collections(env).history("acc-1001").ledger[case_id] if e.kind is EntryKind.REPLY]


def problem(resp: dict[str, Any]) -> dict[str, Any]:
    assert resp["headers"]["Content-Type"] == "application/problem+json"
    body = json.loads(resp["body"])
    assert set(body) == {"type", "title", "status", "detail"} and body["status"] == resp["statusCode"]
    return body


# ----------------------------------------------------------------- refused requests write nothing


def test_bad_twilio_signature_is_403_and_writes_nothing(env, seeded, hook) -> None:
    before = item_counts(env)
    resp = call(hook, twilio_inbound("STOP", token="not-the-token"))
    assert resp["statusCode"] == 403
    problem(resp)
    assert item_counts(env) == before and sent_sms() == []


def test_stale_generic_signature_is_403_and_writes_nothing(env, seeded, hook) -> None:
    before = item_counts(env)
    for signed_at in (NOW - timedelta(minutes=6), NOW + timedelta(minutes=6)):
        resp = call(hook, generic_inbound("STOP", signed_at=signed_at))
        assert resp["statusCode"] == 403
    assert item_counts(env) == before


def test_generic_signature_within_window_is_accepted(env, seeded, hook) -> None:
    resp = call(hook, generic_inbound("HELP", signed_at=NOW - timedelta(minutes=4)))
    assert resp["statusCode"] == 200


def test_malformed_body_is_400_problem_json_and_writes_nothing(env, seeded, hook) -> None:
    before = item_counts(env)
    resp = call(hook, generic_event(b'{"type": "inbound", "message_id": '))
    assert resp["statusCode"] == 400
    assert "invalid JSON" in problem(resp)["detail"]
    resp = call(hook, generic_event({"type": "inbound", "message_id": "m1", "from": "+12025550143"}))
    assert resp["statusCode"] == 400
    assert item_counts(env) == before


def test_oversized_body_is_413(env, seeded, hook) -> None:
    before = item_counts(env)
    resp = call(hook, generic_inbound("x" * 17_000))
    assert resp["statusCode"] == 413
    problem(resp)
    assert item_counts(env) == before


def test_unknown_provider_is_404(env, seeded, hook) -> None:
    before = item_counts(env)
    resp = call(hook, http_event("acme", b"{}", {"content-type": "application/json"}))
    assert resp["statusCode"] == 404
    problem(resp)
    assert item_counts(env) == before


# ----------------------------------------------------------------- intents


def test_stop_opts_out_with_exactly_one_confirmation(env, seeded, hook) -> None:
    account, case = seeded
    resp = call(hook, load_event("sms_webhook/generic-inbound"))
    assert resp["statusCode"] == 200
    accounts = boto3.client("dynamodb", region_name=REGION)
    item = accounts.get_item(TableName=env["ACCOUNTS_TABLE"], Key={"account_id": {"S": "acc-1001"}})["Item"]
    assert {"S": "SMS"} in item["opted_out"]["L"]
    assert len(sent_sms()) == 1
    # a second STOP (a new message) is recorded but never confirmed twice
    assert call(hook, generic_inbound("stop", message_id="gen-msg-0002"))["statusCode"] == 200
    assert len(sent_sms()) == 1
    recorded = replies(env, case.case_id)
    assert [r.data["intent"] for r in recorded] == ["STOP", "STOP"]
    assert recorded[0].data["text"].startswith("enc:v1:")  # the customer's words: under the case's key
    record = collections(env).history("acc-1001").cases[case.case_id]
    assert hook.ports().collections.reveal(record, recorded)[0].data["text"] == "STOP"
    assert recorded[0].data["provider_message_id"] == "gen-msg-0001"


def test_duplicate_delivery_changes_nothing(env, seeded, hook) -> None:
    event = twilio_inbound("HELP")
    assert call(hook, event)["statusCode"] == 200
    before = item_counts(env)
    again = call(hook, event)
    assert again["statusCode"] == 200
    assert item_counts(env) == before
    assert len(sent_sms()) == 1
    assert len(replies(env, seeded[1].case_id)) == 1


def test_duplicate_is_a_no_op_even_without_the_idempotency_record(env, seeded, hook) -> None:
    event = twilio_inbound("HELP")
    call(hook, event)
    db = boto3.client("dynamodb", region_name=REGION)
    for item in db.scan(TableName=env["IDEMPOTENCY_TABLE"])["Items"]:
        db.delete_item(TableName=env["IDEMPOTENCY_TABLE"], Key={"id": item["id"]})
    before = item_counts(env)
    assert call(hook, event)["statusCode"] == 200
    after = item_counts(env)
    assert after["COLLECTIONS_TABLE"] == before["COLLECTIONS_TABLE"] and len(sent_sms()) == 1


def test_hardship_pauses_and_offers_a_plan_that_sums_to_the_amount(env, seeded, hook) -> None:
    account, case = seeded
    assert call(hook, load_event("sms_webhook/twilio-inbound"))["statusCode"] == 200
    stored = case_of(env, case)
    assert stored.status is CaseStatus.PAUSED and stored.paused_until == NOW + timedelta(days=14)
    plan = stored.plan
    assert plan is not None and plan.status is PlanStatus.OFFERED
    assert sum(i.amount.amount for i in plan.instalments) == account.amount_due.amount == Decimal("437.50")
    assert len(sent_sms()) == 1  # the offer
    # accepting it puts the case in the plan and confirms
    assert call(hook, twilio_inbound("YES", sid="SM0000000000000000000000000000002"))["statusCode"] == 200
    stored = case_of(env, case)
    assert stored.status is CaseStatus.IN_PLAN and stored.plan.status is PlanStatus.ACTIVE
    assert stored.plan.accepted_at == NOW and stored.paused_until is None
    assert len(sent_sms()) == 2
    intents = [r.data["intent"] for r in replies(env, case.case_id)]
    assert intents == ["HARDSHIP", "ACCEPT_PLAN"]


def test_chinese_acceptance_word_accepts_an_offered_plan(env, seeded, hook) -> None:
    call(hook, twilio_inbound("我失业了，能分期吗"))
    call(hook, twilio_inbound("同意", sid="SM0000000000000000000000000000002"))
    assert case_of(env, seeded[1]).status is CaseStatus.IN_PLAN


def test_yes_without_an_offer_is_not_a_plan(env, seeded, hook) -> None:
    call(hook, twilio_inbound("YES"))
    assert case_of(env, seeded[1]).status is CaseStatus.OPEN
    # the reader reports a whole-message yes as ACCEPT (START kept as its secondary signal); no plan is on offer
    assert replies(env, seeded[1].case_id)[0].data["intent"] == "ACCEPT"


def test_promise_with_a_date_holds_the_case(env, seeded, hook) -> None:
    call(hook, twilio_inbound("I will pay $200 on Friday"))
    stored = case_of(env, seeded[1])
    assert stored.status is CaseStatus.PROMISED
    assert stored.promise.promised_on.isoformat() == "2026-11-06"
    assert stored.promise.amount.amount == Decimal("200")
    assert len(sent_sms()) == 1  # promise_confirmation


def test_dispute_holds_the_case(env, seeded, hook) -> None:
    call(hook, twilio_inbound("This is not my debt, I never borrowed anything"))
    stored = case_of(env, seeded[1])
    assert stored.status is CaseStatus.DISPUTED and stored.dispute_reason


def test_wrong_number_stops_using_the_phone(env, seeded, hook) -> None:
    call(hook, twilio_inbound("wrong number, I don't know this person"))
    from dunning.adapters.dynamo import AccountsRepository

    account = AccountsRepository(boto3.client("dynamodb", region_name=REGION), env["ACCOUNTS_TABLE"]).get(
        "acc-1001"
    )
    assert account.contact.phone_usable is False
    assert not account.can_use(Channel.SMS) and sent_sms() == []


def test_call_me_queues_a_callback_with_ids_only(env, seeded, hook) -> None:
    call(hook, twilio_inbound("Please call me back"))
    assert callbacks(env) == [{"case_id": seeded[1].case_id, "account_id": "acc-1001", "kind": "CALLBACK",
                               "reason": "CALL_ME", "queued_at": "2026-11-03T15:00:00Z"}]


def test_paid_claim_holds_dunning_for_a_check_and_closes_nothing(env, seeded, hook) -> None:
    call(hook, twilio_inbound("I already paid this yesterday"))
    held = case_of(env, seeded[1])
    # only the payment feed closes a case; meanwhile no reminder goes out and a person checks
    assert held.status is CaseStatus.PAUSED and held.pause_reason == "PAYMENT_CLAIMED"
    assert held.paused_until is not None and (held.paused_until - NOW).days == 3
    assert replies(env, seeded[1].case_id)[0].data["intent"] == "PAID"
    assert [c["reason"] for c in callbacks(env)] == ["PAYMENT_CHECK"]


def test_illegal_transition_is_recorded_not_raised(env, seeded, hook) -> None:
    call(hook, twilio_inbound("I dispute this amount"))
    resp = call(hook, twilio_inbound("I will pay on Friday", sid="SM0000000000000000000000000000002"))
    assert resp["statusCode"] == 200
    last = replies(env, seeded[1].case_id)[-1]
    assert last.data["intent"] == "PROMISE" and any("illegal transition" in n for n in last.data["notes"])
    assert case_of(env, seeded[1]).status is CaseStatus.DISPUTED
    assert callbacks(env)  # a person follows up


def test_reply_without_an_active_case_is_recorded_on_a_pseudo_case(env, clock, hook) -> None:
    from tests.functions.conftest import make_account

    account = make_account(account_id="acc-2002", status="CURRENT")
    from dunning.adapters.dynamo import AccountsRepository

    AccountsRepository(boto3.client("dynamodb", region_name=REGION), env["ACCOUNTS_TABLE"]).put(account, None)
    index_phone(env, account)
    call(hook, twilio_inbound("HELP"))
    history = collections(env).history("acc-2002")
    assert "INBOUND-acc-2002" in history.cases
    assert [e.kind for e in history.ledger["INBOUND-acc-2002"]] == [EntryKind.REPLY, EntryKind.NOTICE]
    assert len(sent_sms()) == 1


def test_unknown_sender_is_acknowledged_and_writes_nothing_but_the_idempotency_record(
    env, seeded, hook
) -> None:
    before = item_counts(env)
    resp = call(hook, twilio_inbound("HELP", sender="+12125551234"))
    assert resp["statusCode"] == 200
    after = item_counts(env)
    assert after["COLLECTIONS_TABLE"] == before["COLLECTIONS_TABLE"] and sent_sms() == []


# ----------------------------------------------------------------- receipts


def test_delivery_receipt_marks_the_notice_delivered_once(env, seeded, hook) -> None:
    call(hook, twilio_inbound("HELP"))
    notice = collections(env).history("acc-1001").notices[seeded[1].case_id][0]
    # the reply went out through SNS; pretend a Twilio-sent notice carries this id
    provider, _, sid = notice.provider_message_id.partition(":")
    db = boto3.client("dynamodb", region_name=REGION)
    key = {"pk": {"S": "ACCOUNT#acc-1001"}, "sk": {"S": f"CASE#{seeded[1].case_id}#NOTICE#{notice.step_id}"}}
    db.update_item(
        TableName=env["COLLECTIONS_TABLE"],
        Key=key,
        UpdateExpression="SET lookup_pk = :k",
        ExpressionAttributeValues={":k": {"S": "MSG#twilio:SMdelivered1"}},
    )
    event = twilio_receipt("SMdelivered1", "delivered")
    assert call(hook, event)["statusCode"] == 200
    assert call(hook, event)["statusCode"] == 200
    history = collections(env).history("acc-1001")
    assert history.notices[seeded[1].case_id][0].status.value == "DELIVERED"
    deliveries = [e for e in history.ledger[seeded[1].case_id] if e.kind is EntryKind.DELIVERY]
    assert len(deliveries) == 1


def test_receipt_for_an_unknown_message_is_acknowledged(env, seeded, hook) -> None:
    assert call(hook, load_event("sms_webhook/twilio-receipt"))["statusCode"] == 200


@pytest.mark.parametrize("busy", ["Conflict", "TransientError"])
def test_a_reply_to_a_busy_case_is_a_503_problem_so_the_provider_retries(env, seeded, hook, monkeypatch,
                                                                          busy) -> None:
    from dunning import ports
    from dunning.adapters.dynamo import CollectionsRepository

    def contended(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise getattr(ports, busy)("TransactionCanceledException")

    monkeypatch.setattr(CollectionsRepository, "commit", contended)
    resp = call(hook, generic_inbound("I will pay on the 20th"))
    assert resp["statusCode"] == 503 and problem(resp)["title"] == "Try again later"
    assert sent_sms() == []


def test_a_reply_from_a_phone_whose_account_row_is_gone_is_acknowledged_as_unmatched(env, seeded, hook) -> None:
    # The phone index outlives a deleted account row: the reply is counted, answered 200, never retried.
    boto3.client("dynamodb", region_name=REGION).delete_item(
        TableName=env["ACCOUNTS_TABLE"], Key={"account_id": {"S": "acc-1001"}})
    before = item_counts(env)
    resp = call(hook, generic_inbound("STOP"))
    assert resp["statusCode"] == 200 and json.loads(resp["body"])["status"] == "UNMATCHED"
    after = item_counts(env)
    assert (after["ACCOUNTS_TABLE"], after["COLLECTIONS_TABLE"]) == (before["ACCOUNTS_TABLE"],
                                                                      before["COLLECTIONS_TABLE"])
    assert sent_sms() == []


# ----------------------------------------------------------------- Alibaba Cloud SMS's unsigned push

def test_an_aliyun_push_without_its_key_or_from_elsewhere_is_403_and_writes_nothing(env, seeded, hook,
                                                                                   monkeypatch) -> None:
    from tests.support.webhooks import aliyun_push

    report = [{"biz_id": "900619746936498440^0", "success": True, "report_time": "2026-11-03 23:00:05"}]
    before = item_counts(env)
    for event in (aliyun_push(report, key=None), aliyun_push(report, key="guess")):
        assert problem(call(hook, event))["status"] == 403
    monkeypatch.setenv("ALIYUN_PUSH_SOURCE_CIDRS", "47.96.0.0/12, 106.14.0.0/15")
    allowed = fresh_function("sms_webhook")
    assert problem(call(allowed, aliyun_push(report)))["status"] == 403  # 203.0.113.10 is not theirs
    assert item_counts(env) == before


def test_aliyun_delivery_reports_mark_our_text_delivered_once_per_report(env, seeded, hook) -> None:
    from tests.support.webhooks import aliyun_push

    call(hook, twilio_inbound("HELP"))  # a notice of ours on the case (its answer)
    notice = collections(env).history("acc-1001").notices[seeded[1].case_id][0]
    db = boto3.client("dynamodb", region_name=REGION)
    sk = f"CASE#{seeded[1].case_id}#NOTICE#{notice.step_id}"
    db.update_item(TableName=env["COLLECTIONS_TABLE"], Key={"pk": {"S": "ACCOUNT#acc-1001"}, "sk": {"S": sk}},
                   UpdateExpression="SET lookup_pk = :k",
                   ExpressionAttributeValues={":k": {"S": "MSG#aliyun:900619746936498440^0"}})
    batch = aliyun_push([{"phone_number": "13800138000", "send_time": "2026-11-03 23:00:00",
                          "report_time": "2026-11-03 23:00:05", "success": True, "err_code": "DELIVERED",
                          "err_msg": "用户接收成功", "sms_size": "1", "biz_id": "900619746936498440^0",
                          "out_id": seeded[1].case_id}])
    for _ in range(2):  # the provider redelivers a batch it got no answer for
        resp = call(hook, batch)
        assert resp["statusCode"] == 200 and json.loads(resp["body"]) == {"code": 0, "msg": "成功"}
    history = collections(env).history("acc-1001")
    assert history.notices[seeded[1].case_id][0].status.value == "DELIVERED"
    assert len([e for e in history.ledger[seeded[1].case_id] if e.kind is EntryKind.DELIVERY]) == 1


def test_an_aliyun_reply_only_opts_out_on_its_own_anything_else_goes_to_a_person(env, clock, hook) -> None:
    from dunning.domain.models import Contact
    from tests.functions.conftest import make_account
    from tests.support.webhooks import aliyun_push

    account, case = seed_reachable_case(env, make_account(contact=Contact(phone="+8613800138000",
                                                                          email="wang@example.cn")))
    promise = aliyun_push([{"phone_number": "13800138000", "send_time": "2026-11-03 23:00:00",
                            "content": "我下周五一定还款", "sign_name": "海港消费金融", "dest_code": "1234",
                            "sequence_id": 1001}])
    assert call(hook, promise)["statusCode"] == 200
    assert case_of(env, case).status is CaseStatus.OPEN  # not held on an unsigned push's word
    [reply] = [e for e in collections(env).history(account.account_id).ledger[case.case_id]
               if e.kind is EntryKind.REPLY]
    assert reply.data["provider"] == "aliyun" and reply.data["callback"] == "UNVERIFIED_REPLY"
    assert [c["reason"] for c in callbacks(env)] == ["UNVERIFIED_REPLY"]
    stop = aliyun_push([{"phone_number": "13800138000", "send_time": "2026-11-03 23:01:00", "content": "TD",
                         "sign_name": "海港消费金融", "dest_code": "1234", "sequence_id": 1002}])
    assert call(hook, stop)["statusCode"] == 200
    item = boto3.client("dynamodb", region_name=REGION).get_item(
        TableName=env["ACCOUNTS_TABLE"], Key={"account_id": {"S": account.account_id}})["Item"]
    assert {"S": "SMS"} in item["opted_out"]["L"]  # an opt-out needs no confirmation by a person


def test_a_malformed_aliyun_batch_is_400_and_writes_nothing(env, seeded, hook) -> None:
    from tests.support.webhooks import aliyun_push

    before = item_counts(env)
    for body in (b"not json", b"[]", b'{"biz_id": "x"}', json.dumps([{"neither": 1}]).encode(),
                 json.dumps([{"biz_id": "x", "success": "yes"}]).encode(),
                 json.dumps([{"content": "hi", "phone_number": "+86 138", "sequence_id": 1}]).encode()):
        assert problem(call(hook, aliyun_push(body)))["status"] == 400
    assert item_counts(env) == before
