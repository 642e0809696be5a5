"""Short links: opaque codes from a CSPRNG, stored in CollectionsTable with the token's expiry as
TTL and nothing personal, that open the same customer's page as the signed link; the SMS of a
jurisdiction that uses them carries the short link."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from dunning.adapters.short_links import DynamoShortLinks
from dunning.domain.links import SHORT_CODE_LENGTH, is_short_code, new_short_code, short_link, sign_token
from dunning.domain.models import Channel, Contact, Jurisdiction
from dunning.domain.page_verify import VerificationKind
from dunning.domain.policy import default_policy
from dunning.ports import CaseRecord
from dunning.services import escalation
from tests.functions.conftest import NOW, make_account
from tests.support.fakes import FakePorts, InMemoryPageGuard, InMemoryShortLinks
from tests.support.page import BASE, client, with_fact

SECRET = b"short-link-test-secret-32-bytes!"


def test_codes_are_eight_or_more_letters_and_digits_never_repeating() -> None:
    codes = {new_short_code() for _ in range(2000)}
    assert len(codes) == 2000 and SHORT_CODE_LENGTH >= 8
    assert all(is_short_code(code) and code.isalnum() and code.isascii() for code in codes)
    # a signed token is never taken for a code, so either kind of link opens the page
    assert not is_short_code(sign_token("acc-1001", NOW + timedelta(days=14), SECRET))


def test_the_sms_link_has_no_scheme_and_names_the_lenders_short_host() -> None:
    assert short_link("https://pay.harbor-finance.example", "Ab3dE6gH") == "pay.harbor-finance.example/p/Ab3dE6gH"
    assert short_link("hfjr.cn", "Ab3dE6gH") == "hfjr.cn/p/Ab3dE6gH"


@pytest.fixture
def table() -> Iterator[tuple[Any, str]]:
    with mock_aws():
        db = boto3.client("dynamodb", region_name="us-east-1")
        db.create_table(TableName="collections", BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                   {"AttributeName": "sk", "KeyType": "RANGE"}],
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                              {"AttributeName": "sk", "AttributeType": "S"}])
        yield db, "collections"


def test_a_code_is_stored_with_the_tokens_expiry_and_nothing_personal(table: tuple[Any, str]) -> None:
    db, name = table
    links = DynamoShortLinks(db, name)
    expires = NOW + timedelta(days=14)
    token = sign_token("acc-1001", expires, SECRET)
    code = links.shorten(token, expires)
    assert links.resolve(code) == token
    (item,) = db.scan(TableName=name)["Items"]
    assert set(item) == {"pk", "sk", "token", "expires_at"}  # the table's TTL attribute removes it
    assert int(item["expires_at"]["N"]) == int(expires.timestamp())
    assert links.resolve(new_short_code()) is None and links.resolve("../../etc") is None


def test_a_code_is_never_overwritten(table: tuple[Any, str], monkeypatch: pytest.MonkeyPatch) -> None:
    db, name = table
    links = DynamoShortLinks(db, name)
    drawn = iter(["Ab3dE6gH", "Ab3dE6gH", "Zz9yX8wV"])
    monkeypatch.setattr("dunning.adapters.short_links.new_short_code", lambda: next(drawn))
    first = links.shorten("token-one.tag", NOW + timedelta(days=1))
    second = links.shorten("token-two.tag", NOW + timedelta(days=1))
    assert (first, second) == ("Ab3dE6gH", "Zz9yX8wV")
    assert links.resolve(first) == "token-one.tag"


# ---------------------------------------------------------------------------- end to end


@pytest.fixture
def ports() -> FakePorts:
    ports = FakePorts()
    ports.clock.at = NOW
    ports.page_base_url = BASE
    ports.short_links = InMemoryShortLinks()
    account = make_account(
        account_id="cn-2001", customer_name="王小明", locale="zh-CN", time_zones=["Asia/Shanghai"],
        jurisdiction="CN", currency="CNY", contact=Contact(phone="+8613800138000", email=None),
        verification={})
    account = with_fact(account, ports.keys.link_secret, VerificationKind.NATIONAL_ID_LAST4, "1234")
    ports.accounts.put(account, None)
    from dunning.domain.ledger import GENESIS
    from dunning.domain.models import Case, EntryKind

    case = Case(case_id="cn-2001-20261102", account_id=account.account_id, opened_at=NOW, strategy_id="standard",
                variant="champion")
    ports.collections.commit(CaseRecord(case, -1, GENESIS), [(EntryKind.CASE_OPENED, {})], at=NOW, actor="test",
                             create=True)
    return ports


def test_a_chinese_reminder_carries_a_short_link_that_opens_the_customers_page(ports: FakePorts) -> None:
    ports.clock.at = NOW.replace(hour=2, minute=0)  # 10:00 in Shanghai, inside the contact hours
    result = escalation.send(ports, ports.sms, "cn-2001-20261102", "cn-2001", "sms_3", Channel.SMS,
                             "overdue_reminder", actor="test")
    assert result.status == "SENT"
    (message,) = ports.sms.sent
    assert "hfjr.cn/p/" in message.body and "https://" not in message.body
    code = message.body.split("/p/")[1].split()[0]
    assert is_short_code(code) and ports.short_links.resolve(code)
    # what the provider gets as params is what the SMS says, and no name or number
    assert message.params and message.params["pay_link"] == f"hfjr.cn/p/{code}"
    assert "王小明" not in json.dumps(message.params) and "13800138000" not in json.dumps(message.params)

    browser = client(ports, InMemoryPageGuard(ports.clock))
    first = browser.open(f"{BASE}/p/{code}")
    assert first.status == 200 and first.state == "verify"
    assert browser.submit("verify", answer="1234").state == "account"


def test_an_unknown_code_is_refused_like_any_foreign_link(ports: FakePorts) -> None:
    answer = client(ports, InMemoryPageGuard(ports.clock)).open(f"{BASE}/p/{new_short_code()}")
    assert answer.status == 404 and answer.state == "invalid" and not answer.forms


def test_email_and_other_jurisdictions_keep_the_signed_link(ports: FakePorts) -> None:
    policy = default_policy()
    assert policy.for_jurisdiction(Jurisdiction.CN).sms_short_links
    assert not policy.for_jurisdiction(Jurisdiction.US).sms_short_links
    account = ports.accounts.get("cn-2001")
    rendered = escalation.render_for(ports, account, policy, None, "overdue_reminder", Channel.EMAIL)
    assert f"{BASE}/p/" in rendered.body and ports.short_links.items == {}
