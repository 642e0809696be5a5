"""In-memory fakes of the ports (dunning.ports), for fast unit tests of the use cases.

They keep the contracts the services rely on: versioned, conditional writes that raise Conflict,
a ledger chained exactly as the DynamoDB repository chains it, and at-most-once notices. The moto
function tests stay the check that the real adapters keep the same contracts.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

from dunning.domain.case_tally import advance_tally
from dunning.domain.customers import CustomerProfile
from dunning.domain.integrity import case_state
from dunning.domain.ledger import GENESIS, new_entry
from dunning.domain.models import Account, Case, Channel, EntryKind, LedgerEntry, Notice, iso_z
from dunning.domain.policy import Policy, default_policy
from dunning.ports import (
    AccountHistory,
    CaseRecord,
    ChangedCase,
    Conflict,
    NotFound,
    OutboundMessage,
    TaskKind,
)


class InMemoryAccounts:
    def __init__(self) -> None:
        self.items: dict[str, Account] = {}

    def get(self, account_id: str) -> Account:
        if account_id not in self.items:
            raise NotFound(f"account {account_id}")
        return self.items[account_id].model_copy(deep=True)

    def find(self, account_id: str) -> Account | None:
        return self.get(account_id) if account_id in self.items else None

    def put(self, account: Account, expected_version: int | None) -> Account:
        stored = self.items.get(account.account_id)
        if (stored is None) != (expected_version is None) or (stored and stored.version != expected_version):
            raise Conflict("ConditionalCheckFailedException")
        new = account.model_copy(update={"version": (expected_version or 0) + 1}, deep=True)
        self.items[account.account_id] = new
        return new.model_copy(deep=True)


class InMemoryCases:
    """Cases with their chained ledger and notices; `lookup` answers MSG#, PHONE# and EMAIL# keys."""

    def __init__(self) -> None:
        self.cases: dict[tuple[str, str], CaseRecord] = {}
        self.ledger: dict[tuple[str, str], list[LedgerEntry]] = {}
        self.notices: dict[tuple[str, str, str], Notice] = {}
        self.phones: dict[str, str] = {}  # account id -> phone hash
        self.customers: dict[str, CustomerProfile] = {}
        self.emails: dict[str, str] = {}  # account id -> email address hash
        self.short_links: dict[str, str] = {}  # short code -> signed token

    def history(self, account_id: str) -> AccountHistory:
        out = AccountHistory(phone_hash=self.phones.get(account_id))
        for (acc, case_id), record in self.cases.items():
            if acc == account_id:
                out.cases[case_id] = copy.deepcopy(record)
                out.ledger[case_id] = [e.model_copy() for e in self.ledger.get((acc, case_id), [])]
        for (acc, case_id, _), notice in self.notices.items():
            if acc == account_id:
                out.notices.setdefault(case_id, []).append(notice.model_copy())
        return out

    def live(self, account_id: str) -> AccountHistory:
        # As the adapter reads an account whose live cases are listed: those cases, nothing else.
        whole = self.history(account_id)
        out = AccountHistory(whole=False)
        for case_id, record in whole.cases.items():
            if not record.case.is_ended:
                out.cases[case_id] = record
                out.ledger[case_id] = whole.ledger.get(case_id, [])
                if case_id in whole.notices:
                    out.notices[case_id] = whole.notices[case_id]
        return out

    def live_headers(self, account_id: str) -> AccountHistory:
        return AccountHistory(cases=self.live(account_id).cases, whole=False)

    def case_history(self, account_id: str, case_id: str) -> AccountHistory:
        whole = self.history(account_id)
        out = AccountHistory()
        if case_id in whole.cases:
            out.cases[case_id] = whole.cases[case_id]
            out.ledger[case_id] = whole.ledger.get(case_id, [])
        if case_id in whole.notices:
            out.notices[case_id] = whole.notices[case_id]
        return out

    def shorten_link(self, token: str, keep_until: datetime) -> str:
        code = f"Short{len(self.short_links):05d}"
        self.short_links[code] = token
        return code

    def resolve_link(self, code: str) -> str | None:
        return self.short_links.get(code)

    def case(self, account_id: str, case_id: str) -> CaseRecord:
        if (account_id, case_id) not in self.cases:
            raise NotFound(f"case {case_id}")
        return copy.deepcopy(self.cases[(account_id, case_id)])

    def case_and_notice(self, account_id: str, case_id: str, step_id: str) -> tuple[CaseRecord | None, Notice | None]:
        record = self.cases.get((account_id, case_id))
        notice = self.notices.get((account_id, case_id, step_id))
        return (copy.deepcopy(record) if record is not None else None,
                notice.model_copy(deep=True) if notice is not None else None)

    def lookup(self, lookup_pk: str, limit: int | None = None) -> list[dict[str, Any]]:
        if lookup_pk == "WORK#CALL":
            waiting = sorted(
                (f"{iso_z(r.case.call_task_since or r.case.opened_at)}#{r.case.case_id}", acc, r.case.case_id)
                for (acc, _), r in self.cases.items() if r.case.call_task_token is not None)
            return [{"pk": f"ACCOUNT#{acc}", "sk": f"CASE#{case_id}", "lookup_pk": lookup_pk, "lookup_sk": key}
                    for key, acc, case_id in waiting][:limit]
        if lookup_pk.startswith("PHONE#"):
            wanted = lookup_pk.removeprefix("PHONE#")
            return [{"pk": f"ACCOUNT#{acc}", "sk": "CONTACT", "lookup_sk": f"ACCOUNT#{acc}"}
                    for acc, phone in self.phones.items() if phone == wanted]
        if lookup_pk.startswith("EMAIL#"):
            wanted = lookup_pk.removeprefix("EMAIL#")
            return [{"pk": f"ACCOUNT#{acc}", "sk": "CONTACT#EMAIL", "lookup_sk": f"ACCOUNT#{acc}"}
                    for acc, address in self.emails.items() if address == wanted]
        wanted = lookup_pk.removeprefix("MSG#")
        return [{"pk": f"ACCOUNT#{n.account_id}", "sk": f"CASE#{n.case_id}#NOTICE#{n.step_id}"}
                for n in self.notices.values() if n.provider_message_id == wanted]

    def customer(self, customer_id: str) -> CustomerProfile:
        stored = self.customers.get(customer_id)
        return stored.model_copy(deep=True) if stored else CustomerProfile(customer_id=customer_id)

    def _check_customer(self, profile: CustomerProfile | None) -> None:
        if profile is None:
            return
        stored = self.customers.get(profile.customer_id)
        if (stored.version if stored else 0) != profile.version:
            raise Conflict("ConditionalCheckFailedException")

    def _store_customer(self, profile: CustomerProfile | None) -> None:
        if profile is not None:
            profile.version += 1
            self.customers[profile.customer_id] = profile.model_copy(deep=True)

    def save_customer(self, profile: CustomerProfile) -> None:
        self._check_customer(profile)
        self._store_customer(profile)

    def commit(self, record: CaseRecord, entries: Sequence[tuple[EntryKind, dict[str, Any]]], *, at: datetime,
               actor: str, create: bool = False,
               extra_puts: Sequence[tuple[dict[str, Any], str | None]] = (),
               customer: CustomerProfile | None = None, live: Sequence[str] | None = None) -> list[LedgerEntry]:
        key = (record.case.account_id, record.case.case_id)
        stored = self.cases.get(key)
        if (create and stored is not None) or (not create and (
                stored is None or stored.case.version != record.case.version)):
            raise Conflict("TransactionCanceledException")
        self._check_customer(customer)
        for doc, condition in extra_puts:
            if condition and self._notice_key(doc) in self.notices:
                raise Conflict("TransactionCanceledException")
        chained: list[LedgerEntry] = []
        prev = self.ledger.get(key, [])[-1] if self.ledger.get(key) else None
        for i, (kind, data) in enumerate(entries):
            state = case_state(record.case) if i == len(entries) - 1 else None  # as the repository records it
            prev = new_entry(record.case.case_id, prev, at, kind, data, actor, state)
            chained.append(prev)
        if chained:
            record.ledger_seq, record.ledger_head, record.ledger_at = prev.seq, prev.hash, prev.at  # type: ignore[union-attr]
        record.tally = advance_tally(record.tally, entries, chained, [doc for doc, _ in extra_puts], new_case=create)
        record.case = record.case.model_copy(update={"version": record.case.version + 1})
        self.cases[key] = copy.deepcopy(record)
        self.ledger.setdefault(key, []).extend(chained)
        for doc, _ in extra_puts:
            notice = Notice.model_validate({k: v for k, v in doc.items() if k not in ("pk", "sk", "type")})
            self.notices[self._notice_key(doc)] = notice
        self._store_customer(customer)
        return chained

    @staticmethod
    def _notice_key(doc: dict[str, Any]) -> tuple[str, str, str]:
        return str(doc["account_id"]), str(doc["case_id"]), str(doc["step_id"])

    def notice_item(self, notice: Notice, provider: str | None = None) -> dict[str, Any]:
        return notice.model_dump(mode="json")

    def delete_sending_notice(self, notice: Notice) -> None:
        self.notices.pop((notice.account_id, notice.case_id, notice.step_id), None)

    def put_contact(self, account_id: str, phone_hash: str | None, email_hash: str | None = None) -> None:
        if phone_hash is not None:
            self.phones[account_id] = phone_hash
        if email_hash is not None:
            self.emails[account_id] = email_hash

    def changed_cases(self, hours: Sequence[str]) -> list[ChangedCase]:
        return [ChangedCase(acc, case_id) for acc, case_id in sorted(self.cases)]

    def stamp_expiry(self, account_id: str, case_id: str, expires_at: int) -> int:
        self.cases[(account_id, case_id)].expires_at = expires_at
        return 1

    def reveal(self, record: CaseRecord, entries: Sequence[LedgerEntry]) -> list[LedgerEntry]:
        return list(entries)  # nothing is encrypted in memory

    def erase(self, account_id: str) -> int:
        notices = [k for k in self.notices if k[0] == account_id]
        for key in notices:
            self.notices[key] = self.notices[key].model_copy(update={"body": "[erased]", "subject": None, "html": None})
        return len(notices) + (self.phones.pop(account_id, None) is not None)


def put_notice(repo: Any, notice: Notice) -> None:
    """A notice already on the case, as the send path leaves one: written with the case's header
    (its tally marks it), never beside it. For either repository."""
    record = repo.case(notice.account_id, notice.case_id)
    repo.commit(record, [], at=notice.created_at, actor="test", extra_puts=[(repo.notice_item(notice), None)])


@dataclass
class RecordingSender:
    provider: str = "fake"
    sent: list[OutboundMessage] = field(default_factory=list)

    def send(self, message: OutboundMessage) -> str:
        self.sent.append(message)
        return f"m{len(self.sent)}"


@dataclass
class RecordingTasks:
    queued: list[tuple[TaskKind, dict[str, Any]]] = field(default_factory=list)

    def put(self, kind: TaskKind, task: dict[str, Any]) -> None:
        self.queued.append((kind, task))


@dataclass
class RecordingWorkflow:
    completed: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    waiting: set[str] = field(default_factory=set)  # tokens still waiting; empty set = every token waits

    def start(self, case_id: str, account_id: str, customer_id: str) -> str:
        self.started.append(case_id)
        return self.execution_arn(case_id)

    def stop(self, execution_arn: str, cause: str) -> None:
        self.stopped.append(execution_arn)

    def execution_arn(self, case_id: str) -> str:
        return f"arn:aws:states:us-east-1:123456789012:execution:escalation:{case_id}"

    def succeed(self, token: str, output: dict[str, Any]) -> None:
        if self.waiting and token not in self.waiting:
            raise NotFound("TaskTimedOut")
        self.completed.append((token, output))


@dataclass
class RecordingNotifications:
    referred: list[str] = field(default_factory=list)

    def legal_referred(self, case_id: str, account_id: str) -> None:
        self.referred.append(case_id)


class FixedKeys:
    link_secret = b"test-link-secret-0123456789abcdef"

    def phone_hash(self, phone: str | None) -> str | None:
        return None if phone is None else f"h:{phone}"

    def email_hash(self, address: str | None) -> str | None:
        return None if not address else f"e:{address.strip().lower()}"


@dataclass
class FixedClock:
    at: datetime = datetime(2026, 11, 3, 15, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.at


class InMemoryFiles:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}

    def chunks(self, bucket: str, key: str) -> Iterator[bytes]:
        body = self.objects[(bucket, key)]
        yield from (body[i:i + 4096] for i in range(0, len(body), 4096))

    def upload(self, bucket: str, key: str, fileobj: IO[bytes], content_type: str) -> None:
        fileobj.seek(0)
        self.objects[(bucket, key)] = fileobj.read()

    def put(self, bucket: str, key: str, body: bytes, content_type: str) -> None:
        self.objects[(bucket, key)] = body

    def put_json(self, bucket: str, key: str, doc: dict[str, Any]) -> None:
        import json

        self.objects[(bucket, key)] = json.dumps(doc, sort_keys=True).encode()


class Unused:
    """A port the use case under test must not touch."""

    items_read = 0
    skipped = 0

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"this use case should not use {name}")


@dataclass
class FakePorts:
    """Every port in memory. Tests read `sms`, `email`, `tasks`, `workflow` to see what happened."""

    accounts: InMemoryAccounts = field(default_factory=InMemoryAccounts)
    collections: InMemoryCases = field(default_factory=InMemoryCases)
    sms: RecordingSender = field(default_factory=lambda: RecordingSender("fake-sms"))
    email: RecordingSender = field(default_factory=lambda: RecordingSender("fake-email"))
    domestic_sms: RecordingSender = field(default_factory=lambda: RecordingSender("aliyun"))  # mainland numbers
    tasks: RecordingTasks = field(default_factory=RecordingTasks)
    workflow: RecordingWorkflow = field(default_factory=RecordingWorkflow)
    notifications: RecordingNotifications = field(default_factory=RecordingNotifications)
    keys: FixedKeys = field(default_factory=FixedKeys)
    clock: FixedClock = field(default_factory=FixedClock)
    files: InMemoryFiles = field(default_factory=InMemoryFiles)
    archive_bucket: str | None = "archive"
    ledger_keys: Any = None  # no KMS in memory: nothing is sealed
    archive: Any = None
    page_base_url: str | None = None
    bulk: Any = field(default_factory=Unused)
    sweep_log: Any = field(default_factory=Unused)
    report_source: Any = field(default_factory=Unused)
    the_policy: Policy = field(default_factory=default_policy)

    def open_case(self, account: Account, case: Case, at: datetime) -> None:
        """The account and its case, opened at ``at`` as the account stream opens one."""
        self.accounts.put(account, None)
        self.collections.commit(CaseRecord(case, -1, GENESIS), [(EntryKind.CASE_OPENED, {})], at=at, actor="test",
                                create=True)

    def read_for_decision(self, account_id: str, customer_id: str,
                          case_id: str) -> tuple[Account | None, CustomerProfile, CaseRecord | None]:
        try:
            record: CaseRecord | None = self.collections.case(account_id, case_id)
        except NotFound:
            record = None
        return self.accounts.find(account_id), self.collections.customer(customer_id), record

    def policy(self) -> Policy:
        return self.the_policy

    def sender(self, channel: Channel) -> RecordingSender:
        return self.email if channel is Channel.EMAIL else self.sms

    def sms_provider(self, name: str) -> RecordingSender:
        return self.domestic_sms


class InMemoryPageGuard:
    """The page's counters and one-time keys (DynamoPageGuard's contract), with expiry on a clock."""

    def __init__(self, clock: FixedClock | None = None) -> None:
        self.clock = clock or FixedClock()
        self.items: dict[str, tuple[int, float]] = {}

    def _now(self) -> float:
        return self.clock.now().timestamp()

    def _live(self, key: str) -> tuple[int, float] | None:
        item = self.items.get(key)
        return item if item is not None and item[1] > self._now() else None

    def hit(self, key: str, ttl_seconds: int) -> int:
        item = self._live(key)
        count, expires = (item[0] + 1, item[1]) if item else (1, self._now() + ttl_seconds)
        self.items[key] = (count, expires)
        return count

    def peek(self, key: str) -> int:
        item = self._live(key)
        return item[0] if item else 0

    def claim(self, key: str, ttl_seconds: int) -> bool:
        if self._live(key):
            return False
        self.items[key] = (1, self._now() + ttl_seconds)
        return True

    def release(self, key: str) -> None:
        self.items.pop(key, None)
