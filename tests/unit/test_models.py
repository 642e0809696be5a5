"""Domain models: money without floats, E.164 phones, IANA zones, and the case status machine."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from dunning.domain.models import (
    CASE_TRANSITIONS,
    Account,
    Case,
    CaseStatus,
    Contact,
    IllegalTransition,
    Money,
    iso_z,
    parse_instant,
)


def _account(**kw: object) -> Account:
    base: dict[str, object] = dict(account_id="a-1", customer_name="Wei Zhang", account_number="6222000011112222",
                                   contact=Contact(phone="+8613800138000"), locale="zh-CN",
                                   time_zones=["Asia/Shanghai"], jurisdiction="CN", currency="CNY",
                                   principal_due="1000.00", due_date="2026-11-01")
    base.update(kw)
    return Account.model_validate(base)


def test_money_refuses_floats_and_mixed_currencies() -> None:
    with pytest.raises(ValidationError):
        Money(amount=0.1, currency="USD")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="currency mismatch"):
        Money.of("1", "USD") + Money.of("1", "CNY")
    assert (Money.of("0.10", "USD") + Money.of("0.20", "USD")).amount == Decimal("0.30")


def test_unknown_currency_is_refused() -> None:
    with pytest.raises(ValidationError):
        Money.of("1", "XXZ")


def test_amount_due_sums_principal_interest_and_fees_exactly() -> None:
    a = _account(principal_due="1000.10", interest_due="0.20", fees_due="15")
    assert a.amount_due == Money.of("1015.30", "CNY")


@pytest.mark.parametrize("phone", ["13800138000", "+86 138 0013 8000", "+1555", "not a number"])
def test_phone_must_be_valid_e164(phone: str) -> None:
    with pytest.raises(ValidationError) as err:
        Contact(phone=phone)
    assert phone not in str(err.value).split("input_value")[0]  # our message never echoes the number


def test_time_zone_must_be_iana() -> None:
    with pytest.raises(ValidationError):
        _account(time_zones=["China Standard Time"])


def test_owed_money_needs_a_due_date() -> None:
    with pytest.raises(ValidationError):
        _account(due_date=None)


def test_instants_are_utc_with_z() -> None:
    assert iso_z(parse_instant("2026-11-28T08:00:00+08:00")) == "2026-11-28T00:00:00Z"
    with pytest.raises(ValueError):
        parse_instant("2026-11-28T08:00:00")


def _case(status: CaseStatus) -> Case:
    return Case(case_id="c", account_id="a", opened_at=datetime(2026, 11, 1, tzinfo=UTC), status=status)


@pytest.mark.parametrize("current", list(CaseStatus))
@pytest.mark.parametrize("target", list(CaseStatus))
def test_case_transitions_follow_the_table(current: CaseStatus, target: CaseStatus) -> None:
    case = _case(current)
    allowed = target == current or target in CASE_TRANSITIONS[current]
    if allowed:
        case.transition(target)
        assert case.status is target
    else:
        with pytest.raises(IllegalTransition):
            case.transition(target)
        assert case.status is current


def test_ended_cases_never_reopen() -> None:
    for ended in (CaseStatus.RESOLVED, CaseStatus.CLOSED):
        with pytest.raises(IllegalTransition):
            _case(ended).transition(CaseStatus.OPEN)
    with pytest.raises(IllegalTransition):
        _case(CaseStatus.REFERRED_TO_LEGAL).transition(CaseStatus.OPEN)
