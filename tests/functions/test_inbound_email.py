"""InboundEmail on moto: SES's receipt (verdicts, message id) in, the raw reply read from S3, then
recorded and acted on like a text; auto-replies and mail failing SES's checks only recorded."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from dunning.adapters.dynamo import CollectionsRepository
from dunning.composition import AwsPorts
from dunning.domain.models import CaseStatus, Channel, EntryKind, Notice, NoticeStatus
from dunning.settings import ListeningSettings
from tests.functions.conftest import NOW
from tests.support.aws import EVENTS, REGION, FakeContext, fresh_function, load_event, sent_emails
from tests.support.fakes import put_notice
from tests.support.listening import callbacks, collections, item_counts, listening_env, seed_reachable_case

CASE = "acc-1001-20261102"
BUCKET = "dunning-test-inbound-mail"
NOTICE_SES_ID = "0100019a2b3c4d5e-6f7a8b9c-0d1e-2f3a-4b5c-6d7e8f9a0b1c-000000"  # what the samples answer


@pytest.fixture
def env(aws: dict[str, str], monkeypatch: pytest.MonkeyPatch, clock: Any) -> dict[str, str]:
    env = listening_env(aws, monkeypatch)
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
    monkeypatch.setenv("INBOUND_MAIL_BUCKET", BUCKET)
    monkeypatch.setenv("SES_REPLY_TO_ADDRESS", "replies@harbor-finance.example")
    account, case = seed_reachable_case(env)
    keys = AwsPorts(ListeningSettings()).keys  # type: ignore[call-arg]
    repo = collections(env)
    repo.put_contact(account.account_id, None, keys.email_hash(account.contact.email))
    # the first notice we emailed: the samples' In-Reply-To names its SES message id
    put_notice(repo, Notice(notice_id=Notice.id_for(CASE, "first_notice"), case_id=CASE, account_id="acc-1001",
                           step_id="first_notice", channel=Channel.EMAIL, template_id="first_notice",
                           template_version="t", locale="en-US", status=NoticeStatus.SENT, body="...",
                           provider_message_id=f"ses:{NOTICE_SES_ID}", created_at=NOW))
    return env | {"INBOUND_MAIL_BUCKET": BUCKET}


@pytest.fixture
def fn() -> Any:
    return fresh_function("inbound_email")


def delivered(sample: str) -> dict[str, Any]:
    """The sample's receipt, with its raw message stored where the rule's S3 action puts it."""
    event = load_event(f"inbound_email/{sample}")
    key = "inbound/" + event["Records"][0]["ses"]["mail"]["messageId"]
    boto3.client("s3", region_name=REGION).put_object(
        Bucket=BUCKET, Key=key, Body=(EVENTS / "inbound_email" / f"{sample}.eml").read_bytes())
    return event


def replies(env: dict[str, str]) -> list[Any]:
    return [e for e in collections(env).history("acc-1001").ledger[CASE] if e.kind is EntryKind.REPLY]


def status(env: dict[str, str]) -> CaseStatus:
    history = CollectionsRepository(boto3.client("dynamodb", region_name=REGION), env["COLLECTIONS_TABLE"])
    return history.history("acc-1001").cases[CASE].case.status


def test_a_dispute_by_email_is_read_without_the_quoted_notice_held_and_acknowledged(env, fn) -> None:
    out = fn.lambda_handler(delivered("dispute"), FakeContext())
    (result,) = out["results"]
    assert result["intent"] == "DISPUTE" and status(env) is CaseStatus.DISPUTED
    history = fn.ports().collections.history("acc-1001")
    (reply,) = [e for e in fn.ports().collections.reveal(history.cases[CASE], history.ledger[CASE])
                if e.kind is EntryKind.REPLY]  # the text is kept encrypted under the case's key
    assert reply.data["text"].startswith("I dispute this debt") and "Amount due" not in reply.data["text"]
    assert reply.data["channel"] == "EMAIL" and reply.data["answers"]["step_id"] == "first_notice"
    assert reply.data["stored_at"].startswith(f"s3://{BUCKET}/inbound/")
    (ack,) = sent_emails()
    assert ack.destinations["ToAddresses"] == ["dana@example.com"] and "dispute" in ack.subject.lower()


def test_a_redelivered_receipt_writes_and_sends_nothing_more(env, fn) -> None:
    event = delivered("dispute")
    fn.lambda_handler(event, FakeContext())
    before = item_counts(env)
    again = fn.lambda_handler(json.loads(json.dumps(event)), FakeContext())
    assert item_counts(env) == before and len(sent_emails()) == 1
    assert again["results"][0]["intent"] == "DISPUTE"


def test_an_out_of_office_answer_is_recorded_and_nothing_else(env, fn) -> None:
    out = fn.lambda_handler(delivered("auto_reply"), FakeContext())
    assert out["results"][0]["status"] == "AUTO_REPLY" and status(env) is CaseStatus.OPEN
    (reply,) = replies(env)
    assert reply.data["response"] is False and reply.data["auto_reply"] == "AUTO_SUBMITTED"
    assert sent_emails() == [] and callbacks(env) == []


def test_a_stop_failing_dmarc_spf_and_dkim_is_recorded_without_text_and_not_obeyed(env, fn) -> None:
    out = fn.lambda_handler(delivered("spoofed"), FakeContext())
    assert out["results"][0]["status"] == "REJECTED"
    (reply,) = replies(env)
    assert reply.data["text"] is None and reply.data["verdict_problems"] == ["DMARC", "SPF_AND_DKIM"]
    assert fn.ports().accounts.get("acc-1001").opted_out == set()
    assert sent_emails() == []


def test_a_receipt_whose_raw_message_is_missing_fails_so_lambda_retries(env, fn) -> None:
    event = load_event("inbound_email/dispute")  # the S3 action has not stored it
    with pytest.raises(ClientError):
        fn.lambda_handler(event, FakeContext())
    assert replies(env) == []


def test_a_receipt_without_a_message_id_is_dropped(env, fn) -> None:
    event = load_event("inbound_email/dispute")
    del event["Records"][0]["ses"]["mail"]["messageId"]
    before = item_counts(env)
    out = fn.lambda_handler(event, FakeContext())
    assert out["results"] == [{"status": "MALFORMED"}] and item_counts(env) == before


def test_the_stop_in_the_sample_from_a_verified_sender_opts_out_of_email(env, fn) -> None:
    event = delivered("spoofed")
    for verdict in ("dmarcVerdict", "spfVerdict", "dkimVerdict"):
        event["Records"][0]["ses"]["receipt"][verdict]["status"] = "PASS"
    fn.lambda_handler(event, FakeContext())
    assert fn.ports().accounts.get("acc-1001").opted_out == {Channel.EMAIL}
    (confirmation,) = sent_emails()
    assert "no longer receive emails" in confirmation.body


def _from_stranger(sample: str, *, threaded: bool) -> dict[str, Any]:
    """The sample, written by an address no customer has (threaded on our notice, or not)."""
    event = delivered(sample)
    mail = event["Records"][0]["ses"]["mail"]
    raw = (EVENTS / "inbound_email" / f"{sample}.eml").read_bytes().replace(b"dana@example.com", b"who@else.example")
    if not threaded:
        raw = b"\n".join(line for line in raw.split(b"\n")
                         if not line.startswith((b"In-Reply-To:", b"References:")))
    boto3.client("s3", region_name=REGION).put_object(Bucket=BUCKET, Key="inbound/" + mail["messageId"], Body=raw)
    return event


def test_a_stranger_s_email_on_a_new_thread_writes_nothing_and_gets_no_answer(env, fn) -> None:
    """An address no customer has, answering nothing of ours: no case is touched, nothing is sent
    (we may not tell a third party about a debt); only the idempotency record remains."""
    before = item_counts(env)
    out = fn.lambda_handler(_from_stranger("dispute", threaded=False), FakeContext())
    assert out["results"][0]["status"] == "UNKNOWN_SENDER"
    after = item_counts(env)
    assert (after["ACCOUNTS_TABLE"], after["COLLECTIONS_TABLE"]) == (before["ACCOUNTS_TABLE"],
                                                                     before["COLLECTIONS_TABLE"])
    assert sent_emails() == [] and callbacks(env) == []


def test_a_stranger_answering_our_notice_changes_nothing_and_a_person_checks_who_wrote(env, fn) -> None:
    """Our notice answered from another address (a forward, a spouse, an attorney): recorded on the
    case it answers, not acted on (the dispute holds nothing), nothing sent, a person to check."""
    out = fn.lambda_handler(_from_stranger("dispute", threaded=True), FakeContext())
    assert out["results"][0]["status"] == "UNVERIFIED_SENDER"
    assert status(env) is CaseStatus.OPEN and sent_emails() == []
    (reply,) = replies(env)
    assert reply.data["disposition"] == "UNVERIFIED_SENDER"
    assert [c.get("reason") for c in callbacks(env)] == ["UNVERIFIED_SENDER"]
