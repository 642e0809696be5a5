"""The ports: what the services need from the outside world, as small typed interfaces.

Services take a `Ports` and never a boto3 client; `dunning.composition` builds the AWS
implementations (dunning.adapters) once per cold start, and tests hand in the in-memory fakes of
`tests/support/fakes.py`. The records and errors that cross a port live here too, so a service
imports nothing from the adapters.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import IO, Any, Literal, Protocol

from dunning.domain.case_tally import CaseTally
from dunning.domain.customers import CustomerProfile
from dunning.domain.models import Account, Case, Channel, EntryKind, LedgerEntry, Notice
from dunning.domain.policy import Policy

Entries = Sequence[tuple[EntryKind, dict[str, Any]]]

# --------------------------------------------------------------------------- errors a port raises


class Conflict(Exception):
    """An optimistic-concurrency or at-most-once condition failed: someone else got there first."""


class NotFound(Exception):
    """The item asked for does not exist."""


class TransientError(Exception):
    """Throttling (the request was certainly not accepted) or a DynamoDB 5xx before anything was
    written: safe for the caller (Step Functions Retry) to try again. A provider 5xx is not one."""


class ProviderRejected(Exception):
    """The provider refused the message for good (bad address, unverified identity, opted out)."""


class Refused(Exception):
    """A request refused for the caller's own reason: the edge answers it as a problem JSON with
    `status` and `title`; `detail` names fields and rules only, never a value the caller sent."""

    status = 400
    title = "Bad request"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


# --------------------------------------------------------------------------- records

# The resolution of an account's contact record: the closed pseudo case that carries what arrives
# while no case is open (dunning.services.case_actions.case_for_record).
CONTACT_RECORD = "CONTACT_RECORD"


@dataclass
class CaseRecord:
    """A case header as stored: the case plus its ledger head, for optimistic appends."""

    case: Case
    ledger_seq: int  # seq of the last entry, -1 when the ledger is empty
    ledger_head: str  # hash of the last entry
    ledger_at: datetime | None = None  # time of the last entry: new entries never sort before it
    ledger_seal: str | None = None  # the last entry's seal (dunning.domain.integrity)
    content_salt: str | None = None  # keys the case's personal fields; erasure removes it
    expires_at: int | None = None  # retention: when DynamoDB's TTL may delete the closed case
    # The case's past as a decision reads it, advanced by every commit (domain.case_tally); None
    # on a header written before tallies were kept, until a decision folds the ledger into one.
    tally: CaseTally | None = None


@dataclass
class AccountHistory:
    """What collections holds for one account: all of it (`whole`), or its live cases only
    (CaseStore.live: the cases not resolved or closed, each with its ledger and notices;
    CaseStore.live_headers: their headers only)."""

    cases: dict[str, CaseRecord] = field(default_factory=dict)
    ledger: dict[str, list[LedgerEntry]] = field(default_factory=dict)
    notices: dict[str, list[Notice]] = field(default_factory=dict)
    phone_hash: str | None = None
    whole: bool = True

    def all_notices(self) -> list[Notice]:
        return [n for ns in self.notices.values() for n in ns]

    def all_entries(self) -> list[LedgerEntry]:
        return sorted((e for es in self.ledger.values() for e in es), key=lambda e: (e.at, e.seq))


ReceiptStatus = Literal["DELIVERED", "FAILED"]

# The lookup key under which case headers with a waiting agent call task are listed (sparse).
WORKLIST_KEY = "WORK#CALL"


@dataclass(frozen=True, kw_only=True)
class ProviderMessage:
    """Something a provider sent us, named by the provider and its message id."""

    provider: str
    message_id: str

    @property
    def key(self) -> str:
        return f"{self.provider}:{self.message_id}"


@dataclass(frozen=True, kw_only=True)
class InboundSms(ProviderMessage):
    """A customer's text. `from_number`/`text` are PII: they go to the ledger, never to logs."""

    from_number: str
    to_number: str | None
    text: str
    received_at: datetime
    # False for a provider's unsigned push: only an opt-out acts at once; anything else is
    # recorded and handed to a person (dunning.adapters.aliyun_push)
    authenticated: bool = True

    @property
    def channel(self) -> Channel:
        return Channel.SMS


@dataclass(frozen=True, kw_only=True)
class InboundEmail(ProviderMessage):
    """A customer's email, as SES received it (message_id: SES's id of the inbound mail, also its S3
    key). `from_address`, `subject`, `text` are PII: they go to the ledger, never to logs."""

    from_address: str | None
    subject: str
    text: str  # only the new text of the reply (dunning.domain.email_reply)
    received_at: datetime
    answers_ses_ids: tuple[str, ...] = ()  # SES message ids of our mails it replies to, newest first
    auto_reply: str | None = None  # why a machine wrote it (a code): recorded, never acted on
    verdict_problems: tuple[str, ...] = ()  # SES verdicts that forbid acting on it (codes)
    stored_at: str | None = None  # s3://bucket/key of the raw message

    @property
    def channel(self) -> Channel:
        return Channel.EMAIL


InboundReply = InboundSms | InboundEmail


@dataclass(frozen=True, kw_only=True)
class DeliveryReceipt(ProviderMessage):
    """The provider's word on one of our messages (message_id is the id it gave us when sending)."""

    status: ReceiptStatus | None  # None: a progress status we record nothing for
    provider_status: str
    at: datetime

    @property
    def key(self) -> str:
        # a message gets several callbacks (sent, delivered ...): each status is its own delivery
        return f"{super().key}:{self.provider_status}"


@dataclass(frozen=True)
class TemplateCall:
    """A text through a provider that sends only approved templates: the signature (签名), the
    template's code and its named variables (the body is then the provider's own rendering)."""

    sign_name: str
    code: str
    params: dict[str, str]


@dataclass
class OutboundMessage:
    """What a provider needs. Destination is PII: it never leaves this object except to the provider."""

    destination: str
    body: str
    subject: str | None = None
    html: str | None = None
    tags: dict[str, str] | None = None  # ids only (case, step): they come back on SES events
    headers: dict[str, str] | None = None  # email only: List-Unsubscribe and List-Unsubscribe-Post
    template: TemplateCall | None = None  # SMS through an approved-template provider (mainland China)


@dataclass
class DueItem:
    """One DueIndex entry: an account that owes money with this due date (status is projected)."""

    account_id: str
    status: str | None
    due_date: date | None = None  # known when the index holds it (PendingIndex)


# --------------------------------------------------------------------------- stores


class AccountStore(Protocol):
    def get(self, account_id: str) -> Account: ...

    def find(self, account_id: str) -> Account | None: ...

    def put(self, account: Account, expected_version: int | None) -> Account:
        """Write at version+1, conditional on the version read (None = must be new); Conflict otherwise."""
        ...


class CaseStore(Protocol):
    """Cases, their hash-chained ledger and their notices (CollectionsTable)."""

    def history(self, account_id: str) -> AccountHistory: ...

    def live(self, account_id: str) -> AccountHistory:
        """The account's live cases (not resolved or closed), each whole: what a payment, a case
        action or a cure needs, the same however many cases the account closed before. The whole
        history (``whole``) where the account does not yet list its live cases."""
        ...

    def live_headers(self, account_id: str) -> AccountHistory:
        """The headers (with their tallies) of the account's live cases, without their ledgers or
        notices: what a payment needs, the same however long its case has run. The whole history
        (``whole``) where the account does not yet list its live cases, as ``live``."""
        ...

    def case_history(self, account_id: str, case_id: str) -> AccountHistory:
        """One case with its ledger and notices: what a decision reads, the same however many cases
        the account had before (the person's recent contacts on any loan are on their profile)."""
        ...

    def case(self, account_id: str, case_id: str) -> CaseRecord: ...

    def case_and_notice(self, account_id: str, case_id: str, step_id: str) -> tuple[CaseRecord | None, Notice | None]:
        """A case's header and its notice of one step (None where there is none), read together and
        consistently: what a delivery event needs, the same however long the case's past."""
        ...

    def shorten_link(self, token: str, keep_until: datetime) -> str:
        """A new opaque short code standing for a signed link token (domain.links.is_short_code)."""
        ...

    def resolve_link(self, code: str) -> str | None:
        """The token behind a short code, or None."""
        ...

    def lookup(self, lookup_pk: str, limit: int | None = None) -> list[dict[str, Any]]:
        """Items behind a lookup key (MSG#<provider id>, PHONE#<hash>, WORK#CALL): pk, sk and the
        item's fields; at most `limit` of them, in lookup_sk order."""
        ...

    def commit(self, record: CaseRecord, entries: Entries, *, at: datetime, actor: str, create: bool = False,
               extra_puts: Sequence[tuple[dict[str, Any], str | None]] = (),
               customer: CustomerProfile | None = None, live: Sequence[str] | None = None) -> list[LedgerEntry]:
        """The case header and its new ledger entries in one transaction, conditional on the
        version read; Conflict when someone else wrote the case first. With `customer`, the
        customer's profile rides in the same transaction, conditional on its version too.

        A case created live, or closed, keeps the account's list of live cases in the same
        transaction. `live` (on create, by a caller that read the account whole) names every
        case that was live before this one: from then on the list is complete."""
        ...

    def notice_item(self, notice: Notice, provider: str | None = None) -> dict[str, Any]: ...

    def customer(self, customer_id: str) -> CustomerProfile:
        """The customer's profile, read consistently; an empty one (version 0) when there is none."""
        ...

    def save_customer(self, profile: CustomerProfile) -> None:
        """Write the profile at version+1, conditional on the version read; Conflict otherwise."""
        ...

    def delete_sending_notice(self, notice: Notice) -> None: ...

    def put_contact(self, account_id: str, phone_hash: str | None, email_hash: str | None = None) -> None:
        """Index the customer's phone and email address (keyed hashes) so their replies find the account."""
        ...

    def changed_cases(self, hours: Sequence[str]) -> list[ChangedCase]:
        """Cases whose header was written in these UTC hours (``YYYY-MM-DDTHH``), for the anchors."""
        ...

    def stamp_expiry(self, account_id: str, case_id: str, expires_at: int) -> int:
        """Set the TTL attribute on every item of the case; returns how many items changed."""
        ...

    def reveal(self, record: CaseRecord, entries: Sequence[LedgerEntry]) -> list[LedgerEntry]:
        """The case's entries with personal fields decrypted (``[erased]`` once its key is gone)."""
        ...

    def erase(self, account_id: str) -> int:
        """Remove what identifies the customer outside the ledger (notice texts, the phone index);
        returns how many items changed."""
        ...


class BulkAccounts(Protocol):
    """Many accounts at once: the import's batched reads and the sweep's sparse due-date index."""

    items_read: int  # items DynamoDB read for us: the sweep reports its work per run

    def batch_get(self, account_ids: Sequence[str]) -> dict[str, Account]: ...

    def due_items(self, day: date) -> Iterator[DueItem]: ...

    def overdue_items(self, through: date) -> Iterator[DueItem]:
        """Every account still CURRENT that owes money due on or before `through`, however and
        whenever it arrived (a sparse index holds only those: reads grow with the work, not the
        portfolio)."""
        ...

    def mark_delinquent(self, account_id: str, due_day: date) -> bool: ...


class SweepLog(Protocol):
    """The sweep's watermark: the last due date it has marked."""

    def last_due_date(self) -> date | None: ...

    def advance(self, previous: date | None, done: date, sweep_date: date) -> None: ...


class Files(Protocol):
    """Objects in S3: incoming account files, rejects, evidence exports and reports."""

    def chunks(self, bucket: str, key: str) -> Iterator[bytes]:
        """The object's bytes in chunks cut anywhere, streamed (never the whole object)."""
        ...

    def upload(self, bucket: str, key: str, fileobj: IO[bytes], content_type: str) -> None: ...

    def put(self, bucket: str, key: str, body: bytes, content_type: str) -> None: ...

    def put_json(self, bucket: str, key: str, doc: dict[str, Any]) -> None: ...


class ReportSource(Protocol):
    skipped: int  # items that did not validate (counted, never fatal for a report)
    def ledger_entries(self) -> Iterator[LedgerEntry]: ...

    def accounts(self) -> Iterator[Account]: ...


# --------------------------------------------------------------------------- messages and work


class Sender(Protocol):
    provider: str

    def send(self, message: OutboundMessage) -> str:
        """Hand the message to the provider and return its message id."""
        ...


TaskKind = Literal["CALL", "LEGAL_REVIEW", "CALLBACK", "SKIP_TRACE", "SPECIALIST"]


class TaskQueues(Protocol):
    """Work for people: agent calls, call-backs and skip traces (CallQueue), legal reviews
    (LegalReviewQueue), and a specialist's desk (SpecialistQueue): a vulnerable customer handed over,
    or a review of whether a case may go to legal."""

    def put(self, kind: TaskKind, task: dict[str, Any]) -> None:
        """Queue one task (ids, codes and a task token only: never what the customer said)."""
        ...


class Workflow(Protocol):
    """The escalation state machine: one execution per case, and the tasks it waits on."""

    def start(self, case_id: str, account_id: str, customer_id: str) -> str:
        """Start the case's escalation (ids only in its input; the customer's lets a decision read
        the account and the person's profile in one call)."""
        ...

    def stop(self, execution_arn: str, cause: str) -> None: ...

    def execution_arn(self, case_id: str) -> str: ...

    def succeed(self, token: str, output: dict[str, Any]) -> None:
        """Complete a waiting task; NotFound when it is no longer waiting."""
        ...


class Notifications(Protocol):
    def legal_referred(self, case_id: str, account_id: str) -> None:
        """Tell the legal team's systems (ids only; they read the evidence export for the rest)."""
        ...


class PolicySource(Protocol):
    def current(self) -> Policy: ...


class Keys(Protocol):
    @property
    def link_secret(self) -> bytes: ...

    def phone_hash(self, phone: str | None) -> str | None:
        """A keyed hash of a phone number: lets replies find their account without storing the number."""
        ...

    def email_hash(self, address: str | None) -> str | None:
        """A keyed hash of an email address (trimmed, lower case), for the same purpose."""
        ...


class Clock(Protocol):
    def now(self) -> datetime: ...


class LedgerKeys(Protocol):
    """Keys from the KMS HMAC key: the ledger's seals, the anchors' MACs, personal-field encryption."""

    def sealing_key(self) -> tuple[str, bytes]:
        """(ref, key) to seal with now; the ref is stored with each seal."""
        ...

    def key(self, ref: str) -> bytes | None:
        """The sealing key a stored ref names (None when the ref is not one of ours)."""
        ...

    def mac(self, message: bytes) -> str:
        """A MAC straight from KMS (anchors: one per object)."""
        ...

    def verify_mac(self, message: bytes, mac: str) -> bool: ...

    def content_master(self) -> bytes:
        """The root of the per-case keys that encrypt personal fields (with each case's salt)."""
        ...


@dataclass(frozen=True)
class ChangedCase:
    """A case header the anchor run found changed (from the anchor index)."""

    account_id: str
    case_id: str


class Archive(Protocol):
    """The Object-Lock archive bucket: anchors and evidence, each object retained until a date."""

    def put(self, key: str, body: bytes, content_type: str, retain_until: datetime | None) -> None: ...

    def get(self, key: str) -> bytes | None:
        """The object's bytes, or None when it does not exist (or was deleted)."""
        ...

    def keys(self, prefix: str) -> list[str]:
        """Keys under ``prefix``, in key order."""
        ...


class PageGuard(Protocol):
    """Counters and one-time keys that keep the customer's page safe (rate limits, wrong answers,
    forms sent once). Keys carry digests and ids only; every item expires on its own."""

    def hit(self, key: str, ttl_seconds: int) -> int:
        """Count one more under `key` (kept `ttl_seconds` from its first hit); the new count."""
        ...

    def peek(self, key: str) -> int:
        """The count under `key` now (0 when there is none or it has expired)."""
        ...

    def claim(self, key: str, ttl_seconds: int) -> bool:
        """Take `key` for good (until it expires); False when it was already taken."""
        ...

    def release(self, key: str) -> None:
        """Give `key` back (the work it guarded did not happen)."""
        ...


# --------------------------------------------------------------------------- what a service gets


class Ports(Protocol):
    """Everything a use case may touch. Implementations build each part on first use."""

    @property
    def accounts(self) -> AccountStore: ...

    @property
    def collections(self) -> CaseStore: ...

    @property
    def bulk(self) -> BulkAccounts: ...

    @property
    def sweep_log(self) -> SweepLog: ...

    @property
    def files(self) -> Files: ...

    @property
    def report_source(self) -> ReportSource: ...

    @property
    def tasks(self) -> TaskQueues: ...

    @property
    def workflow(self) -> Workflow: ...

    @property
    def notifications(self) -> Notifications: ...

    @property
    def keys(self) -> Keys: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def archive_bucket(self) -> str | None: ...

    @property
    def ledger_keys(self) -> LedgerKeys | None:
        """None where no ledger key is configured (seals are then not written)."""
        ...

    @property
    def archive(self) -> Archive | None:
        """None where no archive bucket is configured."""
        ...

    @property
    def page_base_url(self) -> str | None:
        """Where the customer's page is served (links in notices open <base>/p/<token>); None: the
        collector's pay_url from the policy."""
        ...

    def policy(self) -> Policy: ...

    def read_for_decision(self, account_id: str, customer_id: str,
                          case_id: str) -> tuple[Account | None, CustomerProfile, CaseRecord | None]:
        """The account, its person's profile and the case's header (None where there is none),
        read together and consistently: one call where the stores allow it (a decision's read)."""
        ...

    def sender(self, channel: Channel) -> Sender: ...

    def sms_provider(self, name: str) -> Sender:
        """The domestic SMS provider a policy route names (``aliyun``)."""
        ...
