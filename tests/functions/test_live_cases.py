"""The account lists its live cases: a payment, a case action or a cure reads those, never the
account's closed cases; an account whose cases predate the list is read whole until its next case
opens, and nothing is missed on the way."""

from __future__ import annotations

from datetime import timedelta

import boto3
import pytest

from dunning.adapters.dynamo import CollectionsRepository
from dunning.domain.ledger import GENESIS
from dunning.domain.models import Case, CaseStatus, EntryKind
from dunning.ports import CaseRecord
from dunning.services import cases
from tests.functions.conftest import NOW, make_account
from tests.support.aws import REGION, FakeContext, load_event


def _repo(env: dict[str, str]) -> CollectionsRepository:
    return CollectionsRepository(boto3.client("dynamodb", region_name=REGION), env["COLLECTIONS_TABLE"])


def _legacy_case(env: dict[str, str], case_id: str, status: CaseStatus = CaseStatus.OPEN) -> None:
    """A case written before accounts listed their live cases: its header and ledger, no list."""
    case = Case(case_id=case_id, account_id="acc-1001", opened_at=NOW - timedelta(days=200), status=status,
                strategy_id="standard", variant="champion")
    repo = _repo(env)
    repo.commit(CaseRecord(case, -1, GENESIS), [(EntryKind.CASE_OPENED, {"strategy_id": "standard"})],
                at=NOW - timedelta(days=200), actor="test", create=True)
    boto3.client("dynamodb", region_name=REGION).delete_item(
        TableName=env["COLLECTIONS_TABLE"], Key={"pk": {"S": "ACCOUNT#acc-1001"}, "sk": {"S": "LIVE"}})


def test_a_case_is_listed_while_it_lives_and_the_read_skips_what_closed(aws, clock, calls, stream) -> None:
    stream.lambda_handler(load_event("account_stream/delinquent"), FakeContext())
    live = _repo(aws).live("acc-1001")
    assert not live.whole and list(live.cases) == ["acc-1001-20261102"]
    assert [e.kind for e in live.ledger["acc-1001-20261102"]] == [EntryKind.CASE_OPENED]

    stream.lambda_handler(load_event("account_stream/cured"), FakeContext())
    calls.clear()
    live = _repo(aws).live("acc-1001")
    assert not live.whole and live.cases == {}
    assert calls == [("dynamodb", "GetItem")]  # the list, and nothing of the closed case
    assert _repo(aws).history("acc-1001").cases["acc-1001-20261102"].case.status is CaseStatus.RESOLVED


def test_cases_that_predate_the_list_are_read_whole_until_the_next_case_lists_them(aws, clock, stream) -> None:
    _legacy_case(aws, "acc-1001-20260401", CaseStatus.RESOLVED)
    _legacy_case(aws, "acc-1001-20260501")  # still live, and no list says so
    assert _repo(aws).live("acc-1001").whole

    # A new episode opens through the service: it reads the account whole once, and lists both.
    ports = stream.ports()
    cases.open_case(ports, make_account())
    live = _repo(aws).live("acc-1001")
    assert not live.whole and sorted(live.cases) == ["acc-1001-20260501", "acc-1001-20261102"]

    # A cure still finds the old live case (the list named it), and leaves nothing live.
    assert sorted(cases.cure(ports, make_account(status="CURRENT"))) == ["acc-1001-20260501", "acc-1001-20261102"]
    live = _repo(aws).live("acc-1001")
    assert not live.whole and live.cases == {}


def test_closing_a_case_that_predates_the_list_does_not_make_a_list_that_hides_another(aws, clock, stream) -> None:
    _legacy_case(aws, "acc-1001-20260401")
    _legacy_case(aws, "acc-1001-20260501")
    ports = stream.ports()
    record = _repo(aws).history("acc-1001").cases["acc-1001-20260401"]
    record.case.transition(CaseStatus.CLOSED)
    _repo(aws).commit(record, [(EntryKind.CASE_CLOSED, {"status": "CLOSED", "reasons": ["TEST"]})], at=NOW,
                      actor="test")

    live = _repo(aws).live("acc-1001")  # the close took its case off a list that was never complete
    assert live.whole and live.cases["acc-1001-20260501"].case.is_active
    assert cases.cure(ports, make_account(status="CURRENT")) == ["acc-1001-20260501"]


def test_two_cases_opening_at_once_are_both_listed(aws, clock) -> None:
    repo = _repo(aws)
    for day in ("20261102", "20261202"):
        case = Case(case_id=f"acc-1001-{day}", account_id="acc-1001", opened_at=NOW, strategy_id="standard",
                    variant="champion")
        # Each writer read the account before the other's case existed: it names no other live case.
        repo.commit(CaseRecord(case, -1, GENESIS), [(EntryKind.CASE_OPENED, {})], at=NOW, actor="test",
                    create=True, live=[])
    assert sorted(repo.live("acc-1001").cases) == ["acc-1001-20261102", "acc-1001-20261202"]


def test_after_a_rollback_a_new_epoch_reads_every_list_as_incomplete_until_the_next_case(
        aws, clock, stream, monkeypatch: pytest.MonkeyPatch) -> None:
    ports = stream.ports()
    cases.open_case(ports, make_account())
    # An older version ran meanwhile and opened a case it did not list.
    _legacy_case(aws, "acc-1001-20261201")
    boto3.client("dynamodb", region_name=REGION).update_item(
        TableName=aws["COLLECTIONS_TABLE"], Key={"pk": {"S": "ACCOUNT#acc-1001"}, "sk": {"S": "LIVE"}},
        UpdateExpression="ADD cases :ids SET complete = :one",
        ExpressionAttributeValues={":ids": {"SS": ["acc-1001-20261102"]}, ":one": {"N": "1"}})
    assert sorted(_repo(aws).live("acc-1001").cases) == ["acc-1001-20261102"]  # the list misses it

    raised = CollectionsRepository(boto3.client("dynamodb", region_name=REGION), aws["COLLECTIONS_TABLE"],
                                   live_epoch=2)
    history = raised.live("acc-1001")
    assert history.whole and sorted(history.cases) == ["acc-1001-20261102", "acc-1001-20261201"]

    # The stage's functions run with the raised epoch (LiveCasesEpoch): the next case lists all three.
    monkeypatch.setenv("LIVE_CASES_EPOCH", "2")
    stream._ports = None
    cases.open_case(stream.ports(), make_account(due_date="2027-01-02"))
    history = raised.live("acc-1001")
    assert not history.whole
    assert sorted(history.cases) == ["acc-1001-20261102", "acc-1001-20261201", "acc-1001-20270102"]


def test_a_cure_reads_the_live_case_s_header_and_not_its_ledger(aws, clock, calls, stream) -> None:
    stream.lambda_handler(load_event("account_stream/delinquent"), FakeContext())
    calls.clear()

    stream.lambda_handler(load_event("account_stream/cured"), FakeContext())

    # the list, the listed cases' headers (no Query of the case's ledger), the close, the stop
    assert calls == [("dynamodb", "GetItem"), ("dynamodb", "BatchGetItem"), ("dynamodb", "TransactWriteItems"),
                     ("stepfunctions", "StopExecution")]
    assert _repo(aws).history("acc-1001").cases["acc-1001-20261102"].case.status is CaseStatus.RESOLVED
