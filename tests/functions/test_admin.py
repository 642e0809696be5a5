"""AdminFunction on moto: every command recorded with its caller; agent outcomes and legal
approvals complete their task tokens; evidence exports verify the ledger chain."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import boto3
import pytest

from dunning.domain.models import CaseStatus, EntryKind, PlanStatus
from dunning.services import admin
from tests.functions.conftest import NOW, seed_case
from tests.support.aws import EVENTS, REGION, FakeContext, fresh_function, load_event
from tests.support.listening import ARCHIVE, case_of, collections, listening_env

ACTOR = "arn:aws:iam::123456789012:user/collections-admin"
CASE = "acc-1001-20261102"


@pytest.fixture
def env(aws: dict[str, str], monkeypatch: pytest.MonkeyPatch, clock: Any) -> dict[str, str]:
    return listening_env(aws, monkeypatch)


@pytest.fixture
def fn() -> Any:
    mod = fresh_function("admin")
    return mod


def run(fn: Any, name: str, **changes: Any) -> dict[str, Any]:
    event = load_event(f"admin/{name}")
    event["command"].update(changes)
    return fn.lambda_handler(event, FakeContext())


def entries(env: dict[str, str], kind: EntryKind) -> list[Any]:
    return [e for e in collections(env).history("acc-1001").ledger[CASE] if e.kind is kind]


def test_every_sample_event_is_a_valid_command() -> None:
    names = sorted(p.stem for p in (EVENTS / "admin").glob("*.json") if not p.stem.startswith("http-"))
    commands = {admin.AdminRequest.model_validate(load_event(f"admin/{n}")).command.type for n in names}
    assert commands == set(names) and len(commands) == 22


def test_call_outcome_promise_records_holds_and_completes_the_task(env, fn, tasks) -> None:
    account, _ = seed_case(env, call_task_token="call-token-1")
    out = run(fn, "record_call_outcome")
    assert out["applied"] and out["task_completed"] and out["case_status"] == "PROMISED"
    assert tasks.calls == [("call-token-1", {"outcome": "PROMISE"})]
    case = case_of(env, _)
    assert case.call_task_token is None and case.promise.amount.amount == Decimal("437.50")
    outcome = entries(env, EntryKind.CALL_OUTCOME)[0]
    assert outcome.data["outcome"] == "PROMISE" and len(outcome.data["number_hash"]) == 32
    assert outcome.actor == f"console:{ACTOR}"
    admin_entry = entries(env, EntryKind.ADMIN)[0]
    assert (
        admin_entry.data["command"] == "record_call_outcome" and admin_entry.data["by"] == f"console:{ACTOR}"
    )


def test_call_outcome_hardship_accepts_a_plan_of_n_instalments(env, fn, tasks) -> None:
    account, case = seed_case(env, call_task_token="call-token-2")
    run(fn, "record_call_outcome", outcome="HARDSHIP", instalments=3, promised_on=None, amount=None)
    stored = case_of(env, case)
    assert stored.status is CaseStatus.IN_PLAN and stored.plan.status is PlanStatus.ACTIVE
    assert len(stored.plan.instalments) == 3
    assert sum(i.amount.amount for i in stored.plan.instalments) == account.amount_due.amount
    assert tasks.calls == [("call-token-2", {"outcome": "HARDSHIP"})]


def test_call_outcome_wrong_number_stops_using_the_phone(env, fn, tasks) -> None:
    seed_case(env, call_task_token="call-token-3")
    run(fn, "record_call_outcome", outcome="WRONG_NUMBER", promised_on=None, amount=None)
    assert fn.ports().accounts.get("acc-1001").contact.phone_usable is False


def test_call_outcome_through_the_real_adapter_on_moto(env, fn) -> None:
    seed_case(env, call_task_token="moto-token")
    out = run(fn, "record_call_outcome", outcome="NO_ANSWER", promised_on=None, amount=None)
    assert out["task_completed"] is True  # TaskTokens.succeed -> states:SendTaskSuccess accepted
    assert entries(env, EntryKind.CALL_OUTCOME)[0].data["outcome"] == "NO_ANSWER"


def test_call_outcome_when_the_task_already_timed_out(env, fn, monkeypatch) -> None:
    from dunning.adapters.workflow import Escalations
    from dunning.ports import NotFound

    def expired(self: Any, token: str, output: dict[str, Any]) -> None:
        raise NotFound("TaskTimedOut")

    monkeypatch.setattr(Escalations, "succeed", expired)
    _, case = seed_case(env, call_task_token="expired-token")
    out = run(fn, "record_call_outcome", outcome="LEFT_MESSAGE", promised_on=None, amount=None)
    assert out["task_completed"] is False and any("no longer waiting" in n for n in out["notes"])
    assert case_of(env, case).call_task_token is None


def test_approve_legal_referral_completes_the_approval_task(env, fn, tasks) -> None:
    _, case = seed_case(env, status="LEGAL_REVIEW", approval_task_token="approval-token")
    out = run(fn, "approve_legal_referral")
    assert out["applied"] and tasks.calls == [("approval-token", {"approved": True})]
    stored = case_of(env, case)
    assert stored.legal_approved_at == NOW and stored.legal_approved_by == f"console:{ACTOR}"
    assert stored.approval_task_token is None and stored.status is CaseStatus.LEGAL_REVIEW
    assert entries(env, EntryKind.LEGAL)[0].data["event"] == "APPROVED"


def test_reject_legal_referral_returns_the_case_to_open(env, fn, tasks) -> None:
    _, case = seed_case(env, status="LEGAL_REVIEW", approval_task_token="approval-token")
    run(fn, "reject_legal_referral")
    assert tasks.calls == [("approval-token", {"approved": False})]
    assert case_of(env, case).status is CaseStatus.OPEN


def test_approving_a_case_not_in_review_is_recorded_and_refused(env, fn, tasks) -> None:
    seed_case(env)
    out = run(fn, "approve_legal_referral")
    assert out["applied"] is False and tasks.calls == []
    assert entries(env, EntryKind.ADMIN)[0].data["applied"] is False


def test_pause_resume_dispute_and_resolve(env, fn, tasks) -> None:
    _, case = seed_case(env)
    assert run(fn, "pause_case")["case_status"] == "PAUSED"
    assert run(fn, "resume_case")["case_status"] == "OPEN"
    assert run(fn, "record_dispute")["case_status"] == "DISPUTED"
    assert run(fn, "resolve_dispute")["case_status"] == "OPEN"
    assert run(fn, "offer_plan")["case_status"] == "PAUSED"
    assert run(fn, "accept_plan")["case_status"] == "IN_PLAN"
    assert len(entries(env, EntryKind.ADMIN)) == 6


def test_waive_fee_reduces_fees_and_never_below_zero(env, fn, tasks) -> None:
    seed_case(env)
    assert run(fn, "waive_fee")["applied"] is True
    assert fn.ports().accounts.get("acc-1001").fees_due == Decimal("0")
    assert run(fn, "waive_fee", amount="1.00")["applied"] is False
    assert fn.ports().accounts.get("acc-1001").fees_due == Decimal("0")


def test_opt_out_and_in(env, fn, tasks) -> None:
    seed_case(env)
    run(fn, "opt_out")
    assert "SMS" in fn.ports().accounts.get("acc-1001").opted_out
    run(fn, "opt_in")
    assert "SMS" not in fn.ports().accounts.get("acc-1001").opted_out


def test_http_show_case_uses_the_iam_caller(env, fn, tasks) -> None:
    seed_case(env)
    resp = fn.lambda_handler(load_event("admin/http-show_case"), FakeContext())
    assert resp["statusCode"] == 200
    body = json.loads(resp["body"])
    assert body["case"]["case_id"] == CASE and [e["kind"] for e in body["ledger"]] == ["CASE_OPENED", "ADMIN"]
    assert entries(env, EntryKind.ADMIN)[0].actor == ACTOR


def test_http_invalid_command_is_a_problem(env, fn, tasks) -> None:
    seed_case(env)
    event = load_event("admin/http-show_case")
    event["body"] = json.dumps({"command": {"type": "drop_table", "account_id": "acc-1001"}})
    resp = fn.lambda_handler(event, FakeContext())
    assert resp["statusCode"] == 400 and resp["headers"]["Content-Type"] == "application/problem+json"


def test_console_command_must_name_its_actor(env, fn, tasks) -> None:
    seed_case(env)
    event = load_event("admin/show_case")
    del event["actor"]
    with pytest.raises(admin.AdminError):
        fn.lambda_handler(event, FakeContext())


def test_export_evidence_writes_objects_and_names_an_altered_entry(env, fn, tasks) -> None:
    seed_case(env)
    run(fn, "pause_case")
    out = run(fn, "export_evidence")
    s3 = boto3.client("s3", region_name=REGION)
    assert out["chain_ok"] is True and len(out["keys"]) == 4
    assert all(k.startswith(f"evidence/acc-1001/{CASE}/") for k in out["keys"])
    ledger_key = next(k for k in out["keys"] if k.endswith("ledger.jsonl"))
    lines = s3.get_object(Bucket=ARCHIVE, Key=ledger_key)["Body"].read().decode().splitlines()
    assert [json.loads(line)["kind"] for line in lines] == ["CASE_OPENED", "ADMIN", "HOLD", "ADMIN"]
    # someone edits the HOLD entry (seq 2) in DynamoDB
    db = boto3.client("dynamodb", region_name=REGION)
    items = db.query(
        TableName=env["COLLECTIONS_TABLE"],
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "ACCOUNT#acc-1001"}},
    )["Items"]
    hold = next(i for i in items if i.get("kind", {}).get("S") == "HOLD")
    db.update_item(
        TableName=env["COLLECTIONS_TABLE"],
        Key={"pk": hold["pk"], "sk": hold["sk"]},
        UpdateExpression="SET #d.#u = :u",
        ExpressionAttributeNames={"#d": "data", "#u": "until"},
        ExpressionAttributeValues={":u": {"S": "2027-01-01T00:00:00Z"}},
    )
    out = run(fn, "export_evidence")
    assert out["chain_ok"] is False
    assert [(p["seq"], p["problem"]) for p in out["problems"]] == [(2, "ALTERED")]


def test_an_offer_accepted_after_its_first_due_date_moves_its_schedule(env, fn, tasks, clock) -> None:
    from datetime import timedelta

    _, case = seed_case(env)
    run(fn, "offer_plan")  # the case pauses for hardship; the first instalment is a week out
    offered = [i.due_on for i in case_of(env, case).plan.instalments]
    clock.move_to(NOW + timedelta(days=20))  # the customer agrees after the pause
    out = run(fn, "accept_plan")
    assert out["case_status"] == "IN_PLAN"
    accepted = [i.due_on for i in case_of(env, case).plan.instalments]
    # Same spacing, first instalment one interval after acceptance: not broken on arrival.
    assert [d - accepted[0] for d in accepted] == [d - offered[0] for d in offered]
    assert accepted[0] == (NOW + timedelta(days=20)).date() + (offered[0] - NOW.date())


def test_an_offer_accepted_in_time_keeps_its_dates(env, fn, tasks, clock) -> None:
    from datetime import timedelta

    _, case = seed_case(env)
    run(fn, "offer_plan")
    offered = [i.due_on for i in case_of(env, case).plan.instalments]
    clock.move_to(NOW + timedelta(days=3))  # a few days later, before the first instalment is due
    run(fn, "accept_plan")
    assert [i.due_on for i in case_of(env, case).plan.instalments] == offered


@pytest.mark.parametrize("busy", ["Conflict", "TransientError"])
def test_http_command_on_a_busy_case_is_a_503_problem_the_caller_can_retry(env, fn, tasks, monkeypatch,
                                                                           busy) -> None:
    from dunning import ports
    from dunning.adapters.dynamo import CollectionsRepository

    seed_case(env)

    def contended(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise getattr(ports, busy)("TransactionCanceledException")

    monkeypatch.setattr(CollectionsRepository, "commit", contended)
    resp = fn.lambda_handler(load_event("admin/http-show_case"), FakeContext())
    assert resp["statusCode"] == 503 and resp["headers"]["Content-Type"] == "application/problem+json"
    assert json.loads(resp["body"])["status"] == 503


AGENT = "arn:aws:sts::123456789012:assumed-role/CollectionsAgent/jo.smith"


def test_only_the_agent_role_sees_the_phone_and_the_reveal_is_on_the_ledger(env, fn, tasks) -> None:
    seed_case(env)
    revealed = run(fn, "reveal_phone")  # the sample names an agent
    assert revealed["phone"] == "+12025550143"
    event = load_event("admin/reveal_phone")
    event["actor"] = ACTOR  # an admin, not an agent
    with pytest.raises(admin.Forbidden):
        fn.lambda_handler(event, FakeContext())
    (reveal,) = entries(env, EntryKind.PHONE_REVEALED)
    assert reveal.data["by"] == f"console:{AGENT}" and "+12025550143" not in json.dumps(reveal.data)


def test_the_worklist_from_the_console(env, fn, tasks) -> None:
    seed_case(env, call_task_token="tok-1", call_task_since=NOW)
    out = fn.lambda_handler(load_event("admin/worklist"), FakeContext())
    assert [t["case_id"] for t in out["tasks"]] == [CASE] and out["lines"]


def test_a_special_status_from_the_console_stops_the_customers_contact(env, fn, tasks) -> None:
    seed_case(env)
    out = run(fn, "set_special_status")
    assert out["applied"]
    (entry,) = entries(env, EntryKind.SPECIAL_STATUS)
    assert entry.data["status"] == "BANKRUPTCY" and entry.data["by"] == f"console:{ACTOR}"
    assert collections(env).customer("acc-1001").stopped[0].value == "BANKRUPTCY"


def test_a_skip_trace_outcome_gives_the_account_its_new_number(env, fn, tasks) -> None:
    seed_case(env)
    run(fn, "record_skip_trace")
    item = boto3.client("dynamodb", region_name=REGION).get_item(
        TableName=env["ACCOUNTS_TABLE"], Key={"account_id": {"S": "acc-1001"}})["Item"]
    assert item["contact"]["M"]["phone"]["S"] == "+12025550188"
