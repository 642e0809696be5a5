"""Generated hostile requests at every route and handler that takes input from outside.

Several thousand requests from a seeded generator: the SMS webhook (generic JSON and Twilio
forms, signed with the real secrets and unsigned or forged), POST /admin over HTTP (with and
without an IAM identity), the console's admin event, and the SNS-fed functions (two-way SMS and
SES events). Values are the ones that broke edges before: superscript and 5,000-digit numbers,
instants past the end of the calendar, JSON nested 100,000 deep, 1e999999, NaN, ids longer than a
DynamoDB key, invalid UTF-8, control characters, wrong types at every field.

The promise: never a 5xx and never an unhandled exception; every refusal is a 4xx problem JSON
(the console gets an AdminError with a 4xx status; SNS records are dropped one by one as
MALFORMED); nothing is written to the accounts or collections tables, and a refused request
writes nothing at all. The run ends with its figures on one line:

    fuzz: 4,250 requests (5,281 messages): 3,010 refused 4xx, 1,783 dropped as malformed,
          488 accepted without effect, 0 5xx, 0 writes
"""

from __future__ import annotations

import base64
import json
import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest

from dunning.adapters.webhooks import generic_signature_header, twilio_signature
from tests.functions.conftest import NOW
from tests.support.aws import FakeContext, fresh_function, load_event
from tests.support.listening import listening_env, seed_reachable_case
from tests.support.webhooks import GENERIC_SECRET, PUBLIC_BASE, TWILIO_TOKEN, http_event
from tests.support.writes import Writes, counting_writes

SEED = 20261103
PER_ROUTE = {
    "generic": 900,
    "twilio": 600,
    "webhook-path": 150,
    "admin-http": 1000,
    "admin-console": 600,
    "two-way-sms": 500,
    "ses-events": 500,
}
GUARDED_TABLES = ("AccountsTable", "CollectionsTable")


class Raw(str):
    """JSON text placed as is (what json.dumps cannot write: 1e999999, NaN, 100,000 brackets)."""


def dumps(value: Any) -> str:
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    return json.dumps(value)


# --------------------------------------------------------------------------- hostile values

NASTY_TEXT = [
    "", " ", "\u0000", "\t\r\n", "²³", "١٢٣", "٣" * 20, "\ufeffSTOP", "\u202eSTOP", "STOP\u0000", "%s%s%n",
    "{0}{1}", "${jndi:ldap://x}", "ACCOUNT#acc-1001", "CASE#acc-1001-20261102#LEDGER#", "#", "../../admin",
    "x" * 2_000, "y" * 20_000, "😀" * 300, "\ud83d", "null", "true", "NaN", "-0", "0x10",
    "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59Z", "2026-13-45T25:61:61Z",
    "2026-11-03T15:00:00", "0000-00-00", "9999-12-31", "-1", "1e999999", "9" * 5_000, "+12025550199",
    "+00000000000", "+1" + "9" * 40, "acc-1001", "acc-1001-20261102", "EMAIL", "SMS", "CALL", "PROMISE",
]
RAW_NUMBERS = [
    "1e999999", "-1e999999", "1e-400", "NaN", "Infinity", "-Infinity", "9" * 5_000, "1" + "0" * 40,
    "-0", "0.0000000000000000000000000000000000000001", "123456789012345678901234567890.5", "1E+126",
]


def nasty_value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if roll < 0.35:
        return rng.choice(NASTY_TEXT)
    if roll < 0.5:
        return Raw(rng.choice(RAW_NUMBERS))
    if roll < 0.6:
        return rng.choice([None, True, False, 0, -1, 2**63, -(2**63), 3.5, 10**29])
    if roll < 0.65:
        return Raw("[" * rng.choice([33, 1_000, 100_000]) + "]" * rng.choice([0, 1]))
    if depth < 3 and roll < 0.85:
        return [nasty_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    if depth < 3:
        return {rng.choice(NASTY_TEXT[:12] + ["type", "command", "amount"]): nasty_value(rng, depth + 1)
                for _ in range(rng.randint(0, 4))}
    return rng.choice(NASTY_TEXT)


def as_python(value: Any) -> Any:
    """What a console event can carry (already parsed JSON): raw text becomes the value it spells
    where Python can hold one (infinity, a 5,000-digit integer, 1,000 nested lists)."""
    if isinstance(value, Raw):
        text = str(value)
        if text.startswith("["):
            nested: list[Any] = []
            for _ in range(min(text.count("["), 1_000)):
                nested = [nested]
            return nested
        if text.isdigit():  # the Lambda runtime's JSON parser stops at 4,300 digits itself
            return 10 ** min(len(text) - 1, 4_000)
        return float(text)
    if isinstance(value, dict):
        return {k: as_python(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_python(v) for v in value]
    return value


def mutate(rng: random.Random, valid: dict[str, Any], *, always_invalid: str | None = None) -> dict[str, Any]:
    """A valid document with fields replaced, dropped or added (at least one change)."""
    doc: dict[str, Any] = dict(valid)
    for _ in range(rng.randint(1, 3)):
        action = rng.random()
        key = rng.choice(list(valid))
        if action < 0.7:
            doc[key] = nasty_value(rng)
        elif action < 0.85:
            doc.pop(key, None)
        else:
            doc[rng.choice(NASTY_TEXT[:20])] = nasty_value(rng)
    if always_invalid:
        doc[always_invalid] = nasty_value(rng)  # a field the model forbids: never a valid command
    return doc


def nasty_bytes(rng: random.Random) -> bytes:
    roll = rng.random()
    if roll < 0.3:
        return rng.randbytes(rng.randint(0, 400))
    if roll < 0.4:
        return b"\xff\xfe" + "STOP".encode("utf-16-le")
    if roll < 0.5:
        return b"[" * 100_000
    if roll < 0.6:
        return rng.choice(RAW_NUMBERS).encode()
    return dumps(nasty_value(rng)).encode("utf-8", "surrogatepass")


# --------------------------------------------------------------------------- requests per route


@dataclass
class Outcome:
    kind: str  # "refused" (4xx), "dropped" (SNS record MALFORMED), "accepted" (200 with nothing to do)
    status: int


Request = Callable[[], list[Outcome]]


def _http(resp: dict[str, Any]) -> Outcome:
    status = int(resp["statusCode"])
    assert status < 500, resp
    if status >= 400:
        assert resp["headers"]["Content-Type"] == "application/problem+json", resp
        assert json.loads(resp["body"])["status"] == status
        return Outcome("refused", status)
    return Outcome("accepted", status)


def generic_requests(rng: random.Random, hook: Any, n: int) -> Iterator[Request]:
    valid = {"type": "inbound", "message_id": "gen-fuzz-1", "from": "+12025550199", "to": "+12025550100",
             "text": "STOP", "status": "delivered", "timestamp": "2026-11-03T15:00:00Z"}
    for i in range(n):
        roll = rng.random()
        if roll < 0.6:
            doc = mutate(rng, valid | {"message_id": f"gen-fuzz-{i}", "type": rng.choice(["inbound", "receipt"])})
            body = dumps(doc).encode("utf-8", "surrogatepass")
        else:
            body = nasty_bytes(rng)
        ts = int(NOW.timestamp())
        header = rng.choice([
            generic_signature_header(GENERIC_SECRET, ts, body),
            generic_signature_header(GENERIC_SECRET, ts, body),
            generic_signature_header("not-the-secret", ts, body),
            f"t=²³,v1={'0' * 64}", f"t={'9' * 5_000},v1=00", f"t={ts},v1=\u00ff\u0000", f"t={-ts},v1=00",
            f"t={ts}", "", "v1=" + "a" * 64, f"t=١٢٣,v1={'0' * 64}", f"t={ts + 10**9},v1=00",
        ])
        headers = {"X-Dunning-Signature": header} if header else {}

        def send(body: bytes = body, headers: dict[str, str] = headers) -> list[Outcome]:
            encoded = rng.random() < 0.5
            if not encoded:
                body = body.decode("utf-8", "replace").encode("utf-8")
            return [_http(hook.lambda_handler(http_event("generic", body, headers, base64_body=encoded),
                                              FakeContext()))]

        yield send


TWILIO_VALID = {"MessageSid": "SMfuzz", "AccountSid": "AC0", "From": "+12025550199", "To": "+12025550100",
                "Body": "STOP", "NumMedia": "0"}


def twilio_requests(rng: random.Random, hook: Any, n: int) -> Iterator[Request]:
    url = f"{PUBLIC_BASE}/webhooks/sms/twilio"
    for i in range(n):
        doc = mutate(rng, TWILIO_VALID | {"MessageSid": f"SMfuzz{i}"})
        if rng.random() < 0.3:
            doc["MessageStatus"] = rng.choice(NASTY_TEXT)
        params = [(str(k), v if isinstance(v, str) else dumps(v)) for k, v in doc.items()]
        params = [(k.encode("utf-8", "replace").decode(), v.encode("utf-8", "replace").decode()) for k, v in params]
        body = urlencode(params).encode()
        signed = rng.random() < 0.6
        signature = twilio_signature(TWILIO_TOKEN, url, params) if signed else rng.choice(
            ["", "bm90LWEtc2lnbmF0dXJl", "\u00ff" * 10, twilio_signature("wrong", url, params)])

        def send(body: bytes = body, signature: str = signature) -> list[Outcome]:
            headers = {"X-Twilio-Signature": signature} if signature else {}
            return [_http(hook.lambda_handler(http_event("twilio", body, headers, base64_body=True),
                                              FakeContext()))]

        yield send


def webhook_path_requests(rng: random.Random, hook: Any, n: int) -> Iterator[Request]:
    for _ in range(n):
        provider = rng.choice(["", "TWILIO", "../admin", "generic%00", "x" * 300, "ge\u00f1eric", "twilio/x"])
        raw = rng.choice(["%%%", "not base64!", base64.b64encode(nasty_bytes(rng)).decode(), ""])

        def send(provider: str = provider, raw: str = raw) -> list[Outcome]:
            event = http_event("generic", b"", {})
            event["body"], event["isBase64Encoded"] = raw, True
            event["rawPath"] = event["requestContext"]["http"]["path"] = f"/webhooks/sms/{provider}"
            event["pathParameters"] = {"provider": provider}
            return [_http(hook.lambda_handler(event, FakeContext()))]

        yield send


COMMANDS: list[dict[str, Any]] = [
    {"type": "pause_case", "days": 7, "reason": "ADMIN"},
    {"type": "pause_case", "until": "2026-11-20T00:00:00Z"},
    {"type": "resume_case"},
    {"type": "record_promise", "promised_on": "2026-11-10", "amount": "100.00"},
    {"type": "offer_plan", "count": 3, "first_due": "2026-11-20"},
    {"type": "accept_plan", "count": 3},
    {"type": "record_dispute", "reason": "not mine"},
    {"type": "resolve_dispute", "outcome": "OPEN"},
    {"type": "record_call_outcome", "outcome": "PROMISE", "promised_on": "2026-11-10", "amount": "50"},
    {"type": "approve_legal_referral", "note": "ok"},
    {"type": "reject_legal_referral", "reason": "no"},
    {"type": "opt_out", "channel": "SMS"},
    {"type": "opt_in", "channel": "EMAIL"},
    {"type": "waive_fee", "amount": "10.00", "reason": "goodwill"},
    {"type": "show_case"},
    {"type": "export_evidence"},
]
IDS = {"account_id": "acc-1001", "case_id": "acc-1001-20261102"}


def hostile_command(rng: random.Random) -> dict[str, Any]:
    command = IDS | rng.choice(COMMANDS)
    # Either a forbidden extra field (the command model refuses unknown fields) or hostile values
    # for an account that does not exist: either way a command that must be refused.
    if rng.random() < 0.5:
        return mutate(rng, command, always_invalid=rng.choice(["drop_table", "__class__", "pk", "ledger_head"]))
    return mutate(rng, command | {"account_id": rng.choice(["acc-0000", "ACC-NOPE", "acc-1001 "])},
                  always_invalid=None) | {"account_id": rng.choice(["acc-0000", "ACC-NOPE"])}


def admin_http_requests(rng: random.Random, admin: Any, n: int) -> Iterator[Request]:
    base = load_event("admin/http-show_case")
    for _ in range(n):
        roll = rng.random()
        if roll < 0.6:
            body = dumps({"command": hostile_command(rng)}).encode("utf-8", "surrogatepass")
        elif roll < 0.7:
            body = dumps({"command": nasty_value(rng)}).encode("utf-8", "surrogatepass")
        else:
            body = nasty_bytes(rng)
        with_identity = rng.random() < 0.8
        encoded = rng.random() < 0.5

        def send(body: bytes = body, with_identity: bool = with_identity, encoded: bool = encoded) -> list[Outcome]:
            event = json.loads(json.dumps(base))
            if encoded:
                event["body"] = base64.b64encode(body).decode()
            else:
                event["body"] = body.decode("utf-8", "replace")
            event["isBase64Encoded"] = encoded
            if not with_identity:
                event["requestContext"].pop("authorizer")
            return [_http(admin.lambda_handler(event, FakeContext()))]

        yield send


def admin_console_requests(rng: random.Random, admin: Any, n: int) -> Iterator[Request]:
    from dunning.services.admin import AdminError

    for _ in range(n):
        roll = rng.random()
        if roll < 0.7:
            event: Any = {"command": as_python(hostile_command(rng)),
                          "actor": rng.choice(["ops@example.com", "", None, "x" * 400])}
        else:
            event = {rng.choice(["command", "actor", "extra"]): as_python(nasty_value(rng))
                     if rng.random() < 0.5 else rng.choice(NASTY_TEXT)}

        def send(event: Any = event) -> list[Outcome]:
            try:
                admin.lambda_handler(event, FakeContext())
            except AdminError as refused:
                assert 400 <= refused.status < 500
                return [Outcome("refused", refused.status)]
            raise AssertionError(f"console command accepted: {event!r:.200}")

        yield send


def _sns(template: dict[str, Any], messages: list[str], timestamps: list[str]) -> dict[str, Any]:
    records = []
    for i, (message, stamp) in enumerate(zip(messages, timestamps, strict=True)):
        record = json.loads(json.dumps(template["Records"][0]))
        record["Sns"] |= {"Message": message, "MessageId": f"fuzz-{i}", "Timestamp": stamp}
        records.append(record)
    return {"Records": records}


def sns_requests(rng: random.Random, fn: Any, n: int, valid: dict[str, Any], template: str,
                 fine: set[str]) -> Iterator[Request]:
    base = load_event(template)
    for _ in range(n):
        messages = []
        for _ in range(rng.randint(1, 3)):
            roll = rng.random()
            if roll < 0.6:
                messages.append(dumps(mutate(rng, valid)))
            else:
                messages.append(nasty_bytes(rng).decode("utf-8", "replace"))
        stamps = [rng.choice(["2026-11-03T15:00:00.000Z", "9999-12-31T23:59:59-14:00", "garbage", ""])
                  for _ in messages]

        def send(messages: list[str] = messages, stamps: list[str] = stamps) -> list[Outcome]:
            out = fn.lambda_handler(_sns(base, messages, stamps), FakeContext())
            assert len(out["results"]) == len(messages)
            statuses = [r["status"] for r in out["results"]]
            assert set(statuses) <= fine | {"MALFORMED"}, statuses
            return [Outcome("dropped" if s == "MALFORMED" else "accepted", 200) for s in statuses]

        yield send


# --------------------------------------------------------------------------- the run


@pytest.fixture
def env(aws: dict[str, str], monkeypatch: pytest.MonkeyPatch, clock: Any) -> Iterator[dict[str, Any]]:
    out = listening_env(aws, monkeypatch)
    seed_reachable_case(out)
    with counting_writes() as writes:
        yield {**out, "writes": writes}


def _guarded(writes: Writes) -> dict[str, int]:
    snap = writes.snapshot()
    return {t: snap.get(t, 0) for t in GUARDED_TABLES}


def test_thousands_of_hostile_requests_get_4xx_or_are_dropped_and_write_nothing(
        env: dict[str, Any], record_property: Any) -> None:
    rng = random.Random(SEED)
    hook, admin = fresh_function("sms_webhook"), fresh_function("admin")
    two_way, ses = fresh_function("inbound_sms"), fresh_function("email_events")
    routes: dict[str, Iterator[Request]] = {
        "generic": generic_requests(rng, hook, PER_ROUTE["generic"]),
        "twilio": twilio_requests(rng, hook, PER_ROUTE["twilio"]),
        "webhook-path": webhook_path_requests(rng, hook, PER_ROUTE["webhook-path"]),
        "admin-http": admin_http_requests(rng, admin, PER_ROUTE["admin-http"]),
        "admin-console": admin_console_requests(rng, admin, PER_ROUTE["admin-console"]),
        "two-way-sms": sns_requests(rng, two_way, PER_ROUTE["two-way-sms"], {
            "originationNumber": "+12025550199", "destinationNumber": "+12025550100", "messageBody": "STOP",
            "inboundMessageId": "fuzz-1"}, "inbound_sms/stop", {"UNKNOWN_SENDER"}),
        "ses-events": sns_requests(rng, ses, PER_ROUTE["ses-events"], {
            "eventType": "Bounce", "mail": {"messageId": "not-ours", "timestamp": "2026-11-03T15:00:00Z"},
            "bounce": {"bounceType": "Permanent", "feedbackId": "f"}}, "email_events/bounce",
            {"UNKNOWN_MESSAGE"}),
    }
    writes: Writes = env["writes"]
    tally: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    for route, requests in routes.items():
        for request in requests:
            before, guarded = writes.snapshot(), _guarded(writes)
            outcomes = request()
            for outcome in outcomes:
                tally[outcome.kind] += 1
                statuses[outcome.status] += 1
            # refused: nothing written anywhere; otherwise nothing in the accounts or collections tables
            if all(o.kind == "refused" for o in outcomes):
                assert writes.snapshot() == before, f"{route}: a refused request wrote something"
            assert _guarded(writes) == guarded, f"{route}: a hostile request wrote a case or an account"
            tally[f"route:{route}"] += 1
    requests_made = sum(n for k, n in tally.items() if k.startswith("route:"))
    assert requests_made == sum(PER_ROUTE.values())
    assert not [s for s in statuses if s >= 500]
    assert _guarded(writes) == {t: 0 for t in GUARDED_TABLES}
    messages = tally["refused"] + tally["dropped"] + tally["accepted"]
    figures = (requests_made, messages, tally["refused"], tally["dropped"], tally["accepted"], 0, 0)
    record_property("fuzz", figures)
