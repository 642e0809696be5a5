"""Every AWS call one notice costs, counted at botocore (not the repositories' own counters): the
PlanNextAction that decides SEND and sends. docs/performance.md quotes these."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from tests.functions.conftest import make_account, seed_case
from tests.support.aws import FakeContext, fresh_function
from tests.support.fakes import put_notice

READS = {"GetItem", "Query", "BatchGetItem", "TransactGetItems", "Scan"}
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
SENDS = {("sesv2", "SendEmail"), ("sns", "Publish")}


def kinds(made: list[tuple[str, str]]) -> Counter[str]:
    return Counter(
        "reads"
        if s == "dynamodb" and o in READS
        else "writes"
        if s == "dynamodb" and o in WRITES
        else "sends"
        if (s, o) in SENDS
        else "other"
        for s, o in made
    )


def notice(fns: dict[str, Any], account_id: str, calls: list[tuple[str, str]],
           customer_id: str | None = None) -> list[tuple[str, str]]:
    """The Plan the escalation runs: its state carries the ids, the person's among them."""
    ids = {"case_id": f"{account_id}-20261102", "account_id": account_id, "customer_id": customer_id or account_id}
    calls.clear()
    decision = fns["plan"].lambda_handler(dict(ids), FakeContext())
    assert decision["action"] == "SEND" and decision["sent"]["status"] == "SENT"
    return list(calls)


@pytest.fixture
def fns() -> Any:
    yield {"plan": fresh_function("plan_next_action")}
    fresh_function("plan_next_action")  # the next test's container starts cold too


def test_a_warm_notice_costs_one_read_two_writes_and_one_send(aws, clock, fns, calls) -> None:
    for account_id in ("acc-3001", "acc-3002"):
        seed_case(aws, make_account(account_id=account_id))
    notice(fns, "acc-3001", calls)  # cold: the link secret is fetched once per container
    made = notice(fns, "acc-3002", calls)

    # BatchGetItem of the account, the customer's profile (their caps across loans) and the case's
    # header (its tally: the case's past as the decision reads it); decision with the SENDING gate
    # and the profile's new contact; the provider; SENT with the text.
    assert sorted(o for _, o in made) == ["BatchGetItem", "SendEmail", "TransactWriteItems", "TransactWriteItems"]
    assert kinds(made) == {"reads": 1, "writes": 2, "sends": 1}  # the notice path: 4
    assert ("dynamodb", "Scan") not in made


def test_without_the_customer_id_in_its_state_a_plan_reads_the_profile_after_the_account(aws, clock, fns,
                                                                                          calls) -> None:
    # An execution started by hand with the two ids (or before the customer's id travelled with them).
    for account_id in ("acc-3011", "acc-3012"):
        seed_case(aws, make_account(account_id=account_id))
    notice(fns, "acc-3011", calls)
    calls.clear()
    decision = fns["plan"].lambda_handler({"case_id": "acc-3012-20261102", "account_id": "acc-3012"}, FakeContext())
    assert decision["sent"]["status"] == "SENT" and decision["customer_id"] == "acc-3012"
    assert sorted(o for _, o in calls) == ["GetItem", "GetItem", "Query", "SendEmail", "TransactWriteItems",
                                           "TransactWriteItems"]


def test_a_loan_moved_to_another_person_is_planned_with_that_persons_profile(aws, clock, fns, calls) -> None:
    # The state still names the person the case opened for; the account now says someone else.
    seed_case(aws, make_account(account_id="acc-3021", customer_id="cust-new"))
    made = notice(fns, "acc-3021", calls, customer_id="cust-old")
    assert ("dynamodb", "BatchGetItem") in made and ("dynamodb", "GetItem") in made  # the right profile, read
    assert fns["plan"].ports().collections.customer("cust-new").contacts  # the contact counts for them
    assert not fns["plan"].ports().collections.customer("cust-old").contacts


def test_the_link_secret_is_read_once_per_container_not_per_notice(aws, clock, fns, calls) -> None:
    from aws_lambda_powertools.utilities.parameters import clear_caches

    for account_id in ("acc-3101", "acc-3102", "acc-3103"):
        seed_case(aws, make_account(account_id=account_id))
    clear_caches()  # a new container: nothing fetched yet
    secrets = []
    for account_id in ("acc-3101", "acc-3102", "acc-3103"):
        made = notice(fns, account_id, calls)
        secrets.append(sum(1 for s, _ in made if s == "secretsmanager"))
    assert secrets == [1, 0, 0]


def test_sealing_the_ledger_costs_kms_calls_per_container_hour_not_per_notice(aws, clock, fns, calls) -> None:
    # Keys are derived from the KMS HMAC key once per container (the content master) and once per
    # container-hour (the sealing key); every commit is then sealed locally.
    for account_id in ("acc-3201", "acc-3202", "acc-3203"):
        seed_case(aws, make_account(account_id=account_id))
    kms = []
    for account_id in ("acc-3201", "acc-3202"):
        made = notice(fns, account_id, calls)
        kms.append(sorted(o for s, o in made if s == "kms"))
    assert kms == [["GenerateMac", "GenerateMac"], []]
    clock.shift(3600)  # the next hour: a new sealing key, the same content master
    made = notice(fns, "acc-3203", calls)
    assert sorted(o for s, o in made if s == "kms") == ["GenerateMac"]


def _header(aws: dict[str, str], account_id: str) -> dict[str, Any]:
    import boto3

    from tests.support.aws import REGION

    db = boto3.client("dynamodb", region_name=REGION)
    key = {"pk": {"S": f"ACCOUNT#{account_id}"}, "sk": {"S": f"CASE#{account_id}-20261102"}}
    return db.get_item(TableName=aws["COLLECTIONS_TABLE"], Key=key, ConsistentRead=True)["Item"]


def _case_as_stored(aws: dict[str, str], account_id: str) -> Any:
    import boto3

    from dunning.adapters.dynamo import CollectionsRepository
    from tests.support.aws import REGION

    repo = CollectionsRepository(boto3.client("dynamodb", region_name=REGION), aws["COLLECTIONS_TABLE"])
    return repo, repo.case_history(account_id, f"{account_id}-20261102")


def test_a_case_kept_before_tallies_is_read_whole_once_and_keeps_a_tally_from_then_on(aws, clock, fns,
                                                                                          calls) -> None:
    import boto3

    from dunning.domain.case_tally import CaseTally
    from tests.support.aws import REGION

    seed_case(aws, make_account(account_id="acc-3301"))
    notice(fns, "acc-3301", calls)  # warm
    seed_case(aws, make_account(account_id="acc-3302"))
    key = {k: v for k, v in _header(aws, "acc-3302").items() if k in ("pk", "sk")}
    boto3.client("dynamodb", region_name=REGION).update_item(  # as a header was written before tallies
        TableName=aws["COLLECTIONS_TABLE"], Key=key, UpdateExpression="REMOVE tally")
    made = notice(fns, "acc-3302", calls)
    assert sorted(o for _, o in made) == ["BatchGetItem", "Query", "SendEmail", "TransactWriteItems",
                                          "TransactWriteItems"]
    _, stored = _case_as_stored(aws, "acc-3302")
    record = stored.cases["acc-3302-20261102"]
    case_id = record.case.case_id
    assert record.tally == CaseTally.fold(stored.ledger[case_id], stored.notices[case_id])
    assert record.tally is not None and record.tally.notices["first_notice"].status.value == "SENT"


def test_a_send_the_provider_refused_and_withdrew_is_read_whole_and_sent_by_the_next_plan(aws, clock, fns,
                                                                                           calls) -> None:
    from dunning.domain.case_tally import CaseTally
    from dunning.domain.models import Channel, Notice, NoticeStatus, utc_now

    seed_case(aws, make_account(account_id="acc-3401"))
    notice(fns, "acc-3401", calls)  # warm
    seed_case(aws, make_account(account_id="acc-3402"))
    repo, stored = _case_as_stored(aws, "acc-3402")
    case_id = "acc-3402-20261102"
    gated = Notice(notice_id=Notice.id_for(case_id, "first_notice"), case_id=case_id, account_id="acc-3402",
                   step_id="first_notice", channel=Channel.EMAIL, template_id="first_notice", template_version="1",
                   locale="en-US", status=NoticeStatus.SENDING, body="(text)", created_at=utc_now())
    # the gate (the header marks the step SENDING), then the provider throttled and the gate was undone
    put_notice(repo, gated)
    repo.delete_sending_notice(gated)
    made = notice(fns, "acc-3402", calls)
    assert ("dynamodb", "Query") in made  # the mark sent the plan to the items, which say: not sent
    _, after = _case_as_stored(aws, "acc-3402")
    record = after.cases[case_id]
    assert record.tally is not None and not record.tally.sending()
    assert record.tally == CaseTally.fold(after.ledger[case_id], after.notices[case_id])
