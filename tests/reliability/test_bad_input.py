"""Thousands of malformed inputs at every edge that takes input from outside.

Webhooks (Twilio and generic), two-way SMS, SES events, admin commands and account files get
random bodies, headers, encodings, sizes and shapes. The promise: a 4xx with a problem JSON (or a
MALFORMED / reject entry on the asynchronous paths), never a 5xx, never an unhandled exception,
and nothing written for rejected input. moto and its tables are created once per test function
and shared by that test's examples.
"""

from __future__ import annotations

import base64
import copy
import json
from collections import Counter
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dunning.adapters.webhooks import MAX_BODY_BYTES, generic_signature_header, twilio_signature
from tests.functions.conftest import NOW
from tests.support.aws import REGION, FakeContext, create_incoming_bucket, fresh_function, load_event
from tests.support.listening import listening_env, seed_reachable_case
from tests.support.webhooks import GENERIC_SECRET, PUBLIC_BASE, TWILIO_TOKEN, http_event

SHARED = dict(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
    database=None,
)


WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"})


class Writes:
    """DynamoDB writes per table name, counted where botocore hands requests to moto (cheaper
    than counting items after every example, and it sees a write that a delete undid)."""

    def __init__(self) -> None:
        self.by_table: Counter[str] = Counter()

    def snapshot(self) -> dict[str, int]:
        return dict(self.by_table)


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> Writes:
    from moto.core.botocore_stubber import BotocoreStubber

    seen = Writes()
    original = BotocoreStubber.__call__

    def call(self: Any, event_name: str, request: Any, **kwargs: Any) -> Any:
        parts = event_name.split(".")
        if len(parts) >= 3 and parts[1] == "dynamodb" and parts[2] in WRITES:
            body = json.loads(request.body or b"{}")
            tables = (
                {body.get("TableName")}
                | {op.get("TableName") for item in body.get("TransactItems", []) for op in item.values()}
                | set(body.get("RequestItems", {}))
            )
            for table in tables - {None}:
                seen.by_table[table] += 1
        return original(self, event_name, request, **kwargs)

    monkeypatch.setattr(BotocoreStubber, "__call__", call)
    return seen


@pytest.fixture
def env(aws: dict[str, str], monkeypatch: pytest.MonkeyPatch, clock: Any, writes: Writes) -> dict[str, str]:
    out = listening_env(aws, monkeypatch)
    account, _ = seed_reachable_case(out)
    return out


@pytest.fixture
def hook() -> Any:
    mod = fresh_function("sms_webhook")
    return mod


def _problem(resp: dict[str, Any]) -> None:
    assert 400 <= resp["statusCode"] < 500, resp
    assert resp["headers"]["Content-Type"] == "application/problem+json"
    body = json.loads(resp["body"])
    assert body["status"] == resp["statusCode"]


# --------------------------------------------------------------------------- strategies

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
GENERIC_FIELDS = ["type", "message_id", "from", "to", "text", "status", "timestamp"]
generic_shapes = st.one_of(
    json_values,
    st.dictionaries(st.sampled_from(GENERIC_FIELDS), json_values, max_size=7),
    st.fixed_dictionaries(
        {"type": st.sampled_from(["inbound", "receipt", "INBOUND", "", "other"])},
        optional={k: json_values | st.text(max_size=40) for k in GENERIC_FIELDS[1:]},
    ),
)
TWILIO_FIELDS = ["MessageSid", "From", "To", "Body", "MessageStatus", "AccountSid", "NumMedia"]
header_names = st.sampled_from(
    [
        "x-twilio-signature",
        "x-dunning-signature",
        "content-type",
        "X-Twilio-Signature",
        "content-length",
        "user-agent",
    ]
) | st.text(min_size=1, max_size=20)
headers = st.dictionaries(header_names, st.text(max_size=80), max_size=5)
bodies = st.one_of(
    st.binary(max_size=600),  # any bytes, most of them invalid UTF-8
    st.text(max_size=600).map(lambda t: t.encode("utf-8")),
    st.text(max_size=300).map(lambda t: t.encode("utf-16")),  # the wrong encoding
    json_values.map(lambda v: json.dumps(v).encode()),
    st.integers(MAX_BODY_BYTES - 2, MAX_BODY_BYTES + 64).map(
        lambda n: b"Body=" + b"A" * n
    ),  # at and past the limit
)


def _event(provider: str, body: bytes, hdrs: dict[str, str], encoded: bool) -> dict[str, Any]:
    if not encoded:
        body = body.decode("utf-8", errors="replace").encode("utf-8")
    return http_event(provider, body, hdrs, base64_body=encoded)


def _unchanged(before: dict[str, int], after: dict[str, int]) -> None:
    assert after == before, f"rejected input wrote something: {before} -> {after}"


# --------------------------------------------------------------------------- SMS webhooks


@settings(max_examples=600, **SHARED)
@given(provider=st.sampled_from(["twilio", "generic"]), body=bodies, hdrs=headers, encoded=st.booleans())
def test_unsigned_or_garbled_webhooks_are_refused_and_write_nothing(
    env, writes, hook, provider, body, hdrs, encoded
) -> None:
    before = writes.snapshot()
    resp = hook.lambda_handler(_event(provider, body, hdrs, encoded), FakeContext())
    _problem(resp)
    _unchanged(before, writes.snapshot())


@settings(max_examples=400, **SHARED)
@given(
    payload=generic_shapes,
    drift=st.sampled_from([0, 0, 0, 301, -301, 10**9]),
    signature=st.sampled_from(["valid", "valid", "garbled", "wrong-secret", "missing-v1"]),
)
def test_generic_json_of_the_wrong_shape_is_400_and_bad_signatures_403(
    env, writes, hook, payload, drift, signature
) -> None:
    body = json.dumps(payload).encode()
    ts = int(NOW.timestamp()) + drift
    header = {
        "valid": generic_signature_header(GENERIC_SECRET, ts, body),
        "garbled": f"t={ts},v1=" + "0" * 64,
        "wrong-secret": generic_signature_header("not-the-secret", ts, body),
        "missing-v1": f"t={ts}",
    }[signature]
    before = writes.snapshot()
    resp = hook.lambda_handler(http_event("generic", body, {"X-Dunning-Signature": header}), FakeContext())
    if signature != "valid" or drift:
        assert resp["statusCode"] == 403
    if resp["statusCode"] != 200:
        _problem(resp)
        _unchanged(before, writes.snapshot())
    else:  # a well-formed message after all: from nobody we know, or a receipt for no notice of ours
        assert json.loads(resp["body"])["status"] in ("UNKNOWN_SENDER", "UNKNOWN_MESSAGE", "IGNORED")
        after = writes.snapshot()
        assert after.get("CollectionsTable") == before.get("CollectionsTable")
        assert after.get("AccountsTable") == before.get("AccountsTable")


@settings(max_examples=300, **SHARED)
@given(
    params=st.lists(
        st.tuples(st.sampled_from(TWILIO_FIELDS) | st.text(max_size=10), st.text(max_size=60)), max_size=8
    ),
    signed=st.booleans(),
    query=st.sampled_from(["", "a=1"]),
)
def test_twilio_forms_of_the_wrong_shape_are_refused(env, writes, hook, params, signed, query) -> None:
    from urllib.parse import urlencode

    body = urlencode(params).encode()
    url = f"{PUBLIC_BASE}/webhooks/sms/twilio"
    header = twilio_signature(TWILIO_TOKEN, url, params) if signed else "bm90LWEtc2lnbmF0dXJl"
    event = http_event("twilio", body, {"X-Twilio-Signature": header}, base64_body=True, query=query)
    before = writes.snapshot()
    resp = hook.lambda_handler(event, FakeContext())
    assert resp["statusCode"] < 500
    if not signed or query:  # the signature covers the exact URL, query included
        assert resp["statusCode"] == 403
    if resp["statusCode"] != 200:
        _problem(resp)
        _unchanged(before, writes.snapshot())
    else:
        after = writes.snapshot()
        assert after.get("AccountsTable") == before.get("AccountsTable")


@settings(max_examples=150, **SHARED)
@given(raw=st.text(max_size=200), provider=st.sampled_from(["twilio", "generic", "TWILIO", "../admin", ""]))
def test_bodies_that_are_not_base64_and_unknown_providers_are_4xx(env, writes, hook, raw, provider) -> None:
    event = http_event("generic", b"", {})
    event["body"], event["isBase64Encoded"] = raw + "%%%", True
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/webhooks/sms/{provider}"
    before = writes.snapshot()
    _problem(hook.lambda_handler(event, FakeContext()))
    _unchanged(before, writes.snapshot())


# --------------------------------------------------------------------------- two-way SMS and SES events


def _sns(messages: list[str]) -> dict[str, Any]:
    base = load_event("inbound_sms/stop")
    record = base["Records"][0]
    out = []
    for i, message in enumerate(messages):
        r = copy.deepcopy(record)
        r["Sns"]["Message"], r["Sns"]["MessageId"] = message, f"sns-{i}"
        out.append(r)
    return {"Records": out}


TWO_WAY_FIELDS = [
    "originationNumber",
    "destinationNumber",
    "messageKeyword",
    "messageBody",
    "inboundMessageId",
]
two_way = st.one_of(
    st.text(max_size=200),
    json_values.map(json.dumps),
    st.dictionaries(st.sampled_from(TWO_WAY_FIELDS), json_values | st.text(max_size=40), max_size=5).map(
        json.dumps
    ),
)


@settings(max_examples=250, **SHARED)
@given(messages=st.lists(two_way, min_size=1, max_size=3))
def test_garbled_two_way_sms_is_dropped_per_message_without_writing(env, writes, messages) -> None:
    fn = fresh_function("inbound_sms")
    before = writes.snapshot()
    out = fn.lambda_handler(_sns(messages), FakeContext())
    assert len(out["results"]) == len(messages)
    assert {r["status"] for r in out["results"]} <= {"MALFORMED", "UNKNOWN_SENDER"}
    after = writes.snapshot()
    assert (after.get("AccountsTable"), after.get("CollectionsTable")) == (
        before.get("AccountsTable"),
        before.get("CollectionsTable"),
    )


SES_TYPES = ["Delivery", "Bounce", "Complaint", "Reject", "Open", "Click", "Send", "", "Nope"]
ses_events = st.one_of(
    st.text(max_size=200),
    json_values.map(json.dumps),
    st.fixed_dictionaries(
        {"eventType": st.sampled_from(SES_TYPES) | json_values},
        optional={
            "mail": st.dictionaries(
                st.sampled_from(["messageId", "timestamp", "tags"]),
                json_values | st.text(min_size=1, max_size=3000),
                max_size=3,
            )
            | json_values,
            "bounce": json_values,
            "complaint": json_values,
            "delivery": json_values,
        },
    ).map(json.dumps),
)


@settings(max_examples=250, **SHARED)
@given(messages=st.lists(ses_events, min_size=1, max_size=3))
def test_garbled_ses_events_are_dropped_per_record_without_writing(env, writes, messages) -> None:
    fn = fresh_function("email_events")
    before = writes.snapshot()
    out = fn.lambda_handler(_sns(messages), FakeContext())
    assert len(out["results"]) == len(messages)
    assert {r["status"] for r in out["results"]} <= {"MALFORMED", "UNKNOWN_MESSAGE"}
    _unchanged(before, writes.snapshot())


# --------------------------------------------------------------------------- admin commands

COMMAND_TYPES = [
    "pause_case",
    "resume_case",
    "record_promise",
    "offer_plan",
    "accept_plan",
    "record_dispute",
    "resolve_dispute",
    "record_call_outcome",
    "approve_legal_referral",
    "reject_legal_referral",
    "opt_out",
    "opt_in",
    "waive_fee",
    "show_case",
    "export_evidence",
    "drop_table",
]
COMMAND_FIELDS = [
    "account_id",
    "case_id",
    "until",
    "days",
    "reason",
    "promised_on",
    "amount",
    "count",
    "first_due",
    "plan_id",
    "outcome",
    "note",
    "channel",
    "instalments",
]
commands = st.fixed_dictionaries(
    {"type": st.sampled_from(COMMAND_TYPES) | st.text(max_size=20)},
    optional={k: json_values | st.text(max_size=600) for k in COMMAND_FIELDS},
)
admin_bodies = st.one_of(
    st.binary(max_size=300).map(lambda b: b.decode("latin-1")),
    json_values.map(json.dumps),
    st.fixed_dictionaries({"command": commands | json_values}).map(json.dumps),
)


@settings(max_examples=400, **SHARED)
@given(body=admin_bodies, encoded=st.booleans())
def test_garbled_admin_commands_are_4xx_and_write_nothing(env, writes, body, encoded) -> None:
    fn = fresh_function("admin")
    event = load_event("admin/http-show_case")
    event["body"] = base64.b64encode(body.encode("utf-8")).decode() if encoded else body
    event["isBase64Encoded"] = encoded
    before = writes.snapshot()
    _problem(fn.lambda_handler(event, FakeContext()))
    _unchanged(before, writes.snapshot())


@settings(max_examples=200, **SHARED)
@given(
    event=st.fixed_dictionaries(
        {}, optional={"command": commands | json_values, "actor": json_values, "extra": json_values}
    )
)
def test_garbled_console_commands_are_refused_without_echoing_values(env, writes, event) -> None:
    from dunning.services.admin import AdminError

    fn = fresh_function("admin")
    before = writes.snapshot()
    with pytest.raises(AdminError) as refused:
        fn.lambda_handler(event, FakeContext())
    assert 400 <= refused.value.status < 500
    _unchanged(before, writes.snapshot())


# --------------------------------------------------------------------------- account files

CSV_HEADER = (
    "account_id,customer_name,account_number,product,risk,phone,email,locale,time_zones,jurisdiction,"
    "currency,principal_due,interest_due,fees_due,due_date,status,opted_out,time_barred"
)
GOOD_ROW = (
    "ACC-G,Alex Morgan,4000123412341234,personal_loan,standard,+12125551234,alex@example.com,en-US,"
    "America/New_York,US,USD,1180.00,42.50,25.00,2026-11-20,CURRENT,,false"
)
garbage_rows = st.one_of(
    st.binary(min_size=1, max_size=200).filter(lambda b: b"\n" not in b and b"\r" not in b and b.strip()),
    st.lists(st.text(max_size=30).filter(lambda t: "\n" not in t and "\r" not in t), min_size=2, max_size=20)
    .map(lambda cells: ",".join(cells).encode("utf-8"))
    .filter(lambda b: b.strip(b", \t\x0b\x0c")),
    st.just(("ACC-H," + "x" * 200_000 + ",4000123412341234").encode()),  # a huge field
    json_values.map(lambda v: json.dumps(v).encode()),
)


@pytest.fixture
def import_env(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    bucket = create_incoming_bucket(monkeypatch)
    fn = fresh_function("import_accounts")
    return {**env, "bucket": bucket, "fn": fn, "s3": boto3.client("s3", region_name=REGION), "n": 0}


@settings(max_examples=60, **SHARED)
@given(
    rows=st.lists(garbage_rows, min_size=1, max_size=6),
    kind=st.sampled_from(["csv", "jsonl"]),
    encoding=st.sampled_from(["utf-8", "utf-16", "latin-1"]),
    with_good=st.booleans(),
)
def test_account_files_with_garbage_rows_reject_them_and_keep_the_good_ones(
    import_env, rows, kind, encoding, with_good
) -> None:
    good = GOOD_ROW.encode() if kind == "csv" else json.dumps(_good_doc()).encode()
    lines = ([CSV_HEADER.encode()] if kind == "csv" else []) + rows + ([good] if with_good else [])
    text = b"\n".join(lines) + b"\n"
    if encoding != "utf-8":
        text = text.decode("utf-8", errors="replace").encode(encoding, errors="replace")
    import_env["n"] += 1
    key = f"incoming/file-{import_env['n']}.{kind}"
    import_env["s3"].put_object(Bucket=import_env["bucket"], Key=key, Body=text)
    event = copy.deepcopy(load_event("import_accounts/s3-object-created"))
    event["Records"][0]["s3"]["object"]["key"] = key
    event["Records"][0]["s3"]["bucket"]["name"] = import_env["bucket"]
    out = import_env["fn"].lambda_handler(event, FakeContext())  # never raises for bad content
    summary = out["files"][0]
    # every row is imported, unchanged or rejected (a file rejected whole counts its rows as rejected)
    assert summary["imported"] + summary["unchanged"] + summary["rejected"] == summary["rows"]
    # Rows stand alone: a bad neighbour never costs a good row, an unbalanced CSV quote included.
    if with_good and encoding == "utf-8":
        accounts = boto3.client("dynamodb", region_name=REGION)
        assert "Item" in accounts.get_item(
            TableName=import_env["ACCOUNTS_TABLE"], Key={"account_id": {"S": "ACC-G"}}
        )
        assert summary["rejected"] >= 1


def _good_doc() -> dict[str, Any]:
    return {
        "account_id": "ACC-G",
        "customer_name": "Alex Morgan",
        "account_number": "4000123412341234",
        "contact": {"phone": "+12125551234", "email": "alex@example.com"},
        "locale": "en-US",
        "time_zones": ["America/New_York"],
        "jurisdiction": "US",
        "currency": "USD",
        "principal_due": "1180.00",
        "interest_due": "42.50",
        "fees_due": "25.00",
        "due_date": "2026-11-20",
    }


# --------------------------------------------------------------------------- findings, one by one


@pytest.mark.parametrize("timestamp", ["²³", "١٢٣٤", "9" * 4_400, "1" + "0" * 20])
def test_a_signature_time_int_cannot_parse_is_a_403_not_a_crash(env, writes, hook, timestamp) -> None:
    # str.isdigit() says yes to superscripts, Arabic-Indic digits and 4,400 nines; int() says no.
    body = json.dumps({"type": "inbound", "message_id": "m1", "from": "+12025550199", "text": "hi"}).encode()
    before = writes.snapshot()
    resp = hook.lambda_handler(http_event("generic", body, {"X-Dunning-Signature": f"t={timestamp},v1=00"}),
                               FakeContext())
    assert resp["statusCode"] == 403
    _problem(resp)
    _unchanged(before, writes.snapshot())


@pytest.mark.parametrize("stamp", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"])
def test_a_signed_message_stamped_past_the_calendar_is_a_400(env, writes, hook, stamp) -> None:
    body = json.dumps({"type": "receipt", "message_id": "m1", "status": "delivered", "timestamp": stamp}).encode()
    header = generic_signature_header(GENERIC_SECRET, int(NOW.timestamp()), body)
    before = writes.snapshot()
    resp = hook.lambda_handler(http_event("generic", body, {"X-Dunning-Signature": header}), FakeContext())
    assert resp["statusCode"] == 400
    _problem(resp)
    _unchanged(before, writes.snapshot())


@pytest.mark.parametrize("body", [
    "[" * 60_000,  # json.loads recursed until RecursionError (100,000 deep is also past the size limit)
    '{"command": ' * 4_000 + "{}" + "}" * 4_000,
    json.dumps({"command": {"type": "waive_fee", "account_id": "acc-1001", "reason": "r"}})[:-2]
    + ', "amount": 1e999999}}',
    json.dumps({"command": {"type": "waive_fee", "account_id": "acc-1001", "reason": "r", "amount": "1e999999"}}),
    json.dumps({"command": {"type": "record_promise", "account_id": "acc-1001", "case_id": "acc-1001-20261102",
                            "promised_on": "2026-11-10", "amount": "9" * 5_000}}),
    json.dumps({"command": {"type": "pause_case", "account_id": "acc-1001", "case_id": "acc-1001-20261102",
                            "until": "9999-12-31T23:59:59-14:00"}}),
])
def test_admin_bodies_that_crashed_it_are_a_400_and_write_nothing(env, writes, body) -> None:
    fn = fresh_function("admin")
    event = load_event("admin/http-show_case")
    event["body"] = body
    before = writes.snapshot()
    resp = fn.lambda_handler(event, FakeContext())
    assert resp["statusCode"] == 400, resp["body"][:300]
    _problem(resp)
    _unchanged(before, writes.snapshot())


def test_an_sns_message_nested_100000_deep_is_dropped_as_malformed(env, writes) -> None:
    for name in ("inbound_sms", "email_events"):
        fn = fresh_function(name)
        before = writes.snapshot()
        out = fn.lambda_handler(_sns(["[" * 100_000]), FakeContext())
        assert out["results"][0]["status"] == "MALFORMED"
        _unchanged(before, writes.snapshot())


def test_an_admin_body_past_64_kib_is_a_413(env, writes) -> None:
    fn = fresh_function("admin")
    event = load_event("admin/http-show_case")
    event["body"] = "[" * 100_000
    before = writes.snapshot()
    resp = fn.lambda_handler(event, FakeContext())
    assert resp["statusCode"] == 413
    _problem(resp)
    _unchanged(before, writes.snapshot())
