"""ApplyPayment on moto: a PaymentPosted event reduces what is owed, once, in waterfall order."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from dunning.domain.ledger import GENESIS
from dunning.domain.models import Account, AccountStatus, Case, Contact, EntryKind, utc_now
from dunning.ports import CaseRecord
from tests.support.aws import FakeContext, fresh_function, load_event, moto_env

ACCOUNT_ID = "ACC-US-1001"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "ApplyPayment")
    with moto_env(monkeypatch) as env:
        app = fresh_function("apply_payment")
        rt = app.ports()
        rt.accounts.put(Account(
            account_id=ACCOUNT_ID, customer_name="Alex Morgan", account_number="4000123412341234",
            contact=Contact(phone="+12125551234", email="alex@example.com"), locale="en-US",
            time_zones=["America/New_York"], jurisdiction="US", currency="USD",
            principal_due=Decimal("1000.00"), interest_due=Decimal("40.00"), fees_due=Decimal("25.00"),
            due_date=date(2026, 11, 1), status=AccountStatus.DELINQUENT), None)
        yield {**env, "app": app, "rt": rt}
        app._ports = None


def _pay(env: dict[str, Any], amount: str, payment_id: str = "PMT-1") -> dict[str, Any]:
    event = copy.deepcopy(load_event("apply_payment/payment-posted"))
    event["detail"] |= {"amount": amount, "payment_id": payment_id, "account_id": ACCOUNT_ID}
    return env["app"].lambda_handler(event, FakeContext())


def _open_case(env: dict[str, Any]) -> str:
    now = utc_now()
    case = Case(case_id=f"{ACCOUNT_ID}-20261101", account_id=ACCOUNT_ID, opened_at=now)
    record = CaseRecord(case, -1, GENESIS)
    env["rt"].collections.commit(record, [(EntryKind.CASE_OPENED, {})], at=now, actor="test", create=True)
    return record.case.case_id


def test_partial_payment_goes_to_fees_then_interest_then_principal(env: dict[str, Any]) -> None:
    case_id = _open_case(env)

    out = _pay(env, "100.00")

    account = env["rt"].accounts.get(ACCOUNT_ID)
    assert out["status"] == "APPLIED" and account.status is AccountStatus.DELINQUENT
    assert (account.fees_due, account.interest_due, account.principal_due) == (0, 0, Decimal("965.00"))
    assert [p.payment_id for p in account.payments] == ["PMT-1"]
    entries = env["rt"].collections.history(ACCOUNT_ID).ledger[case_id]
    payment = [e for e in entries if e.kind is EntryKind.PAYMENT]
    assert len(payment) == 1
    assert payment[0].data["applied"] == {"fees": "25.00", "interest": "40.00", "principal": "35.00",
                                          "credit": "0.00"}


def test_replayed_payment_applies_once(env: dict[str, Any]) -> None:
    case_id = _open_case(env)
    _pay(env, "100.00")
    first = _pay(env, "100.00")
    assert _pay(env, "100.00") == first  # the same event again: the idempotency record answers
    import boto3

    records = boto3.client("dynamodb").scan(TableName=env["IDEMPOTENCY_TABLE"])["Items"]
    assert [r["status"]["S"] for r in records] == ["COMPLETED"]
    env["app"]._ports = None  # a new cold start, idempotency record aside: the account's list answers
    env["rt"] = env["app"].ports()
    from dunning.services import payments

    again = payments.apply_payment(env["rt"], "PMT-1", ACCOUNT_ID, Decimal("100.00"), "USD", utc_now())

    account = env["rt"].accounts.get(ACCOUNT_ID)
    assert again["status"] == "DUPLICATE"
    assert account.principal_due == Decimal("965.00") and len(account.payments) == 1
    kinds = [e.kind for e in env["rt"].collections.history(ACCOUNT_ID).ledger[case_id]]
    assert kinds.count(EntryKind.PAYMENT) == 1


def test_payment_that_clears_the_balance_pays_off(env: dict[str, Any]) -> None:
    out = _pay(env, "1065.00")
    account = env["rt"].accounts.get(ACCOUNT_ID)
    assert out["account_status"] == "PAID_OFF" and account.status is AccountStatus.PAID_OFF
    assert not account.owes and account.credit_balance == 0


def test_overpayment_is_kept_as_credit(env: dict[str, Any]) -> None:
    _pay(env, "1100.50")
    account = env["rt"].accounts.get(ACCOUNT_ID)
    assert account.status is AccountStatus.PAID_OFF
    assert account.credit_balance == Decimal("35.50")


def test_paid_off_account_leaves_the_due_index(env: dict[str, Any]) -> None:
    import boto3

    _pay(env, "1065.00")
    item = boto3.client("dynamodb").get_item(TableName=env["ACCOUNTS_TABLE"],
                                             Key={"account_id": {"S": ACCOUNT_ID}})["Item"]
    assert "due_date_key" not in item


def test_float_amount_is_refused(env: dict[str, Any]) -> None:
    event = copy.deepcopy(load_event("apply_payment/payment-posted"))
    event["detail"]["amount"] = 12.5
    with pytest.raises(Exception):  # noqa: B017 - Parser's validation error
        env["app"].lambda_handler(event, FakeContext())
    assert env["rt"].accounts.get(ACCOUNT_ID).payments == []


def test_a_payment_id_reused_with_another_amount_is_a_conflict_and_the_first_amount_stands(
        env: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    case_id = _open_case(env)
    _pay(env, "100.00")
    capsys.readouterr()
    conflict = _pay(env, "60.00")  # a correction sent as the same payment id
    assert conflict["status"] == "CONFLICT"
    assert '"PaymentConflicts"' in capsys.readouterr().out  # the metric PaymentConflictsAlarm watches
    assert _pay(env, "60.00") == conflict  # redelivered: answered once, recorded once
    account = env["rt"].accounts.get(ACCOUNT_ID)
    assert account.principal_due == Decimal("965.00") and [p.amount.amount for p in account.payments] == [
        Decimal("100.00")]
    entries = env["rt"].collections.history(ACCOUNT_ID).ledger[case_id]
    conflicts = [e for e in entries if e.kind is EntryKind.PAYMENT_CONFLICT]
    assert len(conflicts) == 1
    assert {k: conflicts[0].data[k] for k in ("payment_id", "amount_applied", "amount_received", "kept")} == {
        "payment_id": "PMT-1", "amount_applied": "100.00", "amount_received": "60.00", "kept": "FIRST"}


def test_a_payment_on_a_case_kept_without_a_tally_is_recorded_once(env: dict[str, Any]) -> None:
    """Headers written before the tally existed: the case's own ledger says what it recorded."""
    import boto3

    from dunning.services import payments

    case_id = _open_case(env)
    assert _pay(env, "100.00")["status"] == "APPLIED"
    boto3.client("dynamodb").update_item(
        TableName=env["COLLECTIONS_TABLE"], Key={"pk": {"S": f"ACCOUNT#{ACCOUNT_ID}"}, "sk": {"S": f"CASE#{case_id}"}},
        UpdateExpression="REMOVE tally")
    assert env["rt"].collections.case(ACCOUNT_ID, case_id).tally is None

    again = payments.apply_payment(env["rt"], "PMT-1", ACCOUNT_ID, Decimal("100.00"), "USD", utc_now())

    assert again["status"] == "DUPLICATE"
    kinds = [e.kind for e in env["rt"].collections.history(ACCOUNT_ID).ledger[case_id]]
    assert kinds.count(EntryKind.PAYMENT) == 1


def test_one_payment_delivered_twice_at_once_is_recorded_once(env: dict[str, Any],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """EventBridge delivers at least once: a second delivery that lost the race to the case's
    header finds the payment recorded when it reads the header again, and adds nothing."""
    from dunning.services import payments

    case_id = _open_case(env)
    store = env["rt"].collections
    commit = store.commit
    raced: list[str] = []

    def commit_after_the_other_delivery(record: CaseRecord, entries: Any, **kwargs: Any) -> Any:
        if not raced:  # the other delivery commits first, between this one's read and its write
            raced.append("other")
            commit(store.case(ACCOUNT_ID, case_id), entries, **kwargs)
        return commit(record, entries, **kwargs)

    monkeypatch.setattr(store, "commit", commit_after_the_other_delivery)
    out = payments.apply_payment(env["rt"], "PMT-1", ACCOUNT_ID, Decimal("100.00"), "USD", utc_now())

    assert out["status"] == "APPLIED" and raced == ["other"]
    kinds = [e.kind for e in store.history(ACCOUNT_ID).ledger[case_id]]
    assert kinds.count(EntryKind.PAYMENT) == 1
