"""Collections domain models: accounts, cases, notices, ledger entries and decisions.

Longer than most modules: the vocabulary every layer imports, one short section per model, cross-referenced.

Money is Decimal with an ISO 4217 currency; instants are timezone-aware UTC datetimes and
serialise as ISO-8601 ending in ``Z``. Local time exists only in compliance and templates.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from babel.numbers import get_currency_precision, list_currencies
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    PlainSerializer,
    PrivateAttr,
    field_validator,
    model_validator,
)

# --------------------------------------------------------------------------- time


def utc_now() -> datetime:
    return datetime.now(UTC)


def to_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime: every instant must carry a time zone (UTC at boundaries)")
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:  # e.g. 9999-12-31T23:59:59-14:00: past the last instant datetime holds
        raise ValueError("instant out of range") from exc


def iso_z(value: datetime) -> str:
    """UTC ISO-8601 with a trailing Z (the only form Step Functions timestamp waits accept)."""
    return to_utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_instant(value: str | datetime) -> datetime:
    if isinstance(value, datetime):
        return to_utc(value)
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    return to_utc(datetime.fromisoformat(text))


UtcDatetime = Annotated[
    datetime,
    AfterValidator(to_utc),
    PlainSerializer(iso_z, return_type=str, when_used="json"),
]


def _check_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {name!r}") from exc
    return name


TimeZoneName = Annotated[str, AfterValidator(_check_zone)]

# --------------------------------------------------------------------------- money

_CURRENCIES = frozenset(list_currencies())


def _check_currency(code: str) -> str:
    code = code.upper()
    if code not in _CURRENCIES:
        raise ValueError(f"unknown ISO 4217 currency {code!r}")
    return code


CurrencyCode = Annotated[str, AfterValidator(_check_currency)]


def _decimal_str(value: Decimal) -> str:
    return format(value, "f")


DecimalStr = Annotated[Decimal, PlainSerializer(_decimal_str, return_type=str, when_used="json")]
# An amount someone outside sends (an admin command): finite, at most 15 integer digits and 4
# decimals. Unbounded, 1e999999 is a valid Decimal whose plain spelling no item can hold.
BoundedAmount = Annotated[DecimalStr, Field(allow_inf_nan=False, max_digits=19, decimal_places=4)]


class Money(BaseModel):
    """An amount in one currency. Arithmetic across currencies raises."""

    model_config = ConfigDict(frozen=True)

    amount: DecimalStr
    currency: CurrencyCode

    @field_validator("amount", mode="before")
    @classmethod
    def _no_float(cls, value: Any) -> Any:
        if isinstance(value, float):
            raise ValueError("money must not be a float; pass a string or Decimal")
        return value

    @classmethod
    def of(cls, amount: str | int | Decimal, currency: str) -> Money:
        return cls(amount=Decimal(str(amount)), currency=currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(amount=Decimal("0"), currency=currency)

    @property
    def minor_unit(self) -> Decimal:
        return Decimal(1).scaleb(-get_currency_precision(self.currency))

    def quantized(self) -> Money:
        return Money(amount=self.amount.quantize(self.minor_unit, ROUND_HALF_UP), currency=self.currency)

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise ValueError(f"currency mismatch: {self.currency} vs {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(amount=self.amount + other.amount, currency=self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(amount=self.amount - other.amount, currency=self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    @property
    def is_positive(self) -> bool:
        return self.amount > 0


# --------------------------------------------------------------------------- enums


class Channel(StrEnum):
    SMS = "SMS"
    EMAIL = "EMAIL"
    CALL = "CALL"


class Jurisdiction(StrEnum):
    US = "US"
    CN = "CN"


class AccountStatus(StrEnum):
    CURRENT = "CURRENT"  # nothing overdue
    DELINQUENT = "DELINQUENT"  # past due date with money owed; a case is open
    PAID_OFF = "PAID_OFF"  # nothing owed any more
    CHARGED_OFF = "CHARGED_OFF"  # handed over (legal); no more collection contact


class Recipient(StrEnum):
    DEBTOR = "DEBTOR"
    GUARANTOR = "GUARANTOR"
    THIRD_PARTY = "THIRD_PARTY"


class SpecialStatus(StrEnum):
    """A person's circumstances that take them out of the ordinary strategy (DESIGN section 5,
    SPECIAL_STATUS). All but VULNERABLE stop every automated contact; a vulnerable customer is
    handled by specialists on a softer strategy."""

    BANKRUPTCY = "BANKRUPTCY"  # an automatic stay: collection stops, the bankruptcy team takes over
    DECEASED = "DECEASED"  # the estate is dealt with by people, never by reminders
    CEASE_CONTACT = "CEASE_CONTACT"  # the customer asked in writing that all contact cease
    LITIGATION_HOLD = "LITIGATION_HOLD"  # the loan is in litigation: only the legal team speaks
    VULNERABLE = "VULNERABLE"  # illness, bereavement, mental health ...: specialist route

    @property
    def stops_contact(self) -> bool:
        return self is not SpecialStatus.VULNERABLE


# --------------------------------------------------------------------------- account

# The locales a customer can be written to in: each has its templates and its texts in
# dunning.domain.notices.render.LOCALE_TEXTS (docs/extending.md, "A new locale").
LOCALES: tuple[str, ...] = ("en-US", "zh-CN")


def valid_e164(number: str) -> str:
    """The number in E.164 form; ValueError when it is not a valid number for its country."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException as exc:
        raise ValueError("phone number is not in E.164 form (+<country><number>)") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError("phone number is not a valid number for its country")
    formatted = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if formatted != number:
        raise ValueError("phone number is not in E.164 form (+<country><number>)")
    return number


E164 = Annotated[str, AfterValidator(valid_e164)]


class Contact(BaseModel):
    phone: E164 | None = None
    email: EmailStr | None = None
    phone_usable: bool = True  # false after WRONG_NUMBER or undeliverable
    email_usable: bool = True  # false after a hard bounce

    def reachable(self, channel: Channel) -> bool:
        if channel in (Channel.SMS, Channel.CALL):
            return self.phone is not None and self.phone_usable
        return self.email is not None and self.email_usable


class ContactHours(BaseModel):
    """Local hours the customer prefers to be contacted in: they narrow, never widen, the
    jurisdiction's contact window (compliance PREFERENCE)."""

    model_config = ConfigDict(frozen=True)

    start: time
    end: time

    @model_validator(mode="after")
    def _ordered(self) -> ContactHours:
        if self.start >= self.end:
            raise ValueError("preferred hours must start before they end")
        return self


LOCALE_PATTERN = r"^(en-US|zh-CN)$"


class Payment(BaseModel):
    """A repayment received (the repayment record of seed 3.1)."""

    payment_id: str
    amount: Money
    received_at: UtcDatetime


class Account(BaseModel):
    """A loan account as the core banking system reports it, plus what collections learned."""

    model_config = ConfigDict(validate_assignment=True)

    account_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    customer_name: str = Field(min_length=1, max_length=200)
    account_number: str = Field(min_length=4, max_length=34)
    product: str = "personal_loan"
    risk: str = "standard"
    contact: Contact
    locale: str
    time_zones: list[TimeZoneName] = Field(min_length=1)
    jurisdiction: Jurisdiction
    currency: CurrencyCode
    principal_due: DecimalStr = Decimal("0")
    interest_due: DecimalStr = Decimal("0")
    fees_due: DecimalStr = Decimal("0")
    due_date: date | None = None
    status: AccountStatus = AccountStatus.CURRENT
    opted_out: set[Channel] = Field(default_factory=set)
    consented: set[Channel] = Field(default_factory=lambda: {Channel.SMS, Channel.EMAIL, Channel.CALL})
    payments: list[Payment] = Field(default_factory=list)
    credit_balance: DecimalStr = Decimal("0")  # overpayment kept, never lost
    time_barred: bool = False  # past the statute of limitations: no legal threat allowed
    # Facts the customer's page asks before it shows anything (date_of_birth, postcode,
    # national_id_last4), each as a keyed hash only: the value itself is never stored.
    verification: dict[str, str] = Field(default_factory=dict)
    # What the customer chose on their page (collections owns these; an import keeps them).
    preferred_locale: str | None = Field(default=None, pattern=LOCALE_PATTERN)
    preferred_hours: ContactHours | None = None
    # The person who holds the loan: caps, window, opt-outs and the conversation are theirs, across
    # all their loans. A file without it means one account, one customer (see `customer`).
    customer_id: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    special_status: SpecialStatus | None = None  # as core banking's file reports it
    # When the customer's data was erased on request (dunning.services.erasure): an import never
    # brings the personal fields back.
    erased_at: UtcDatetime | None = None
    version: int = 0
    # Verification facts as the account file gave them, until the import hashes them; never dumped.
    _verification_facts: dict[str, str] = PrivateAttr(default_factory=dict)

    @field_validator("locale")
    @classmethod
    def _written_locale(cls, value: str) -> str:
        if value not in LOCALES:
            raise ValueError(f"locale must be one of {', '.join(LOCALES)}")
        return value

    @field_validator("principal_due", "interest_due", "fees_due", "credit_balance", mode="before")
    @classmethod
    def _no_float(cls, value: Any) -> Any:
        if isinstance(value, float):
            raise ValueError("money must not be a float; pass a string or Decimal")
        return value

    @field_validator("principal_due", "interest_due", "fees_due", "credit_balance")
    @classmethod
    def _not_negative(cls, value: Decimal) -> Decimal:
        if value < 0:
            raise ValueError("amounts owed cannot be negative")
        return value

    @model_validator(mode="after")
    def _owed_needs_due_date(self) -> Account:
        if self.amount_due.is_positive and self.due_date is None:
            raise ValueError("an account with money owed needs a due_date")
        return self

    @property
    def amount_due(self) -> Money:
        return Money(amount=self.principal_due + self.interest_due + self.fees_due, currency=self.currency)

    @property
    def owes(self) -> bool:
        return self.amount_due.is_positive

    @property
    def account_last4(self) -> str:
        return self.account_number[-4:]

    @property
    def notice_locale(self) -> str:
        """The language notices and the page speak: the customer's choice, else core banking's."""
        return self.preferred_locale or self.locale

    @property
    def customer(self) -> str:
        """The customer this loan belongs to: the file's customer_id, else the account itself."""
        return self.customer_id or self.account_id

    def days_past_due(self, today: date) -> int:
        """Negative before the due date; 0 on it."""
        if self.due_date is None:
            return 0
        return (today - self.due_date).days

    def can_use(self, channel: Channel) -> bool:
        return (
            channel not in self.opted_out
            and channel in self.consented
            and self.contact.reachable(channel)
        )


# --------------------------------------------------------------------------- case


class CaseStatus(StrEnum):
    OPEN = "OPEN"
    PAUSED = "PAUSED"  # hardship pause or admin pause
    PROMISED = "PROMISED"  # waiting for a promised payment
    IN_PLAN = "IN_PLAN"  # instalment plan accepted
    DISPUTED = "DISPUTED"
    SPECIALIST = "SPECIALIST"  # with a collections specialist (declared hardship, a ladder that ended): no dunning
    LEGAL_REVIEW = "LEGAL_REVIEW"
    REFERRED_TO_LEGAL = "REFERRED_TO_LEGAL"
    RESOLVED = "RESOLVED"  # paid / cured
    CLOSED = "CLOSED"  # closed without payment (written off, ceased, error)


_ACTIVE = {CaseStatus.OPEN, CaseStatus.PAUSED, CaseStatus.PROMISED, CaseStatus.IN_PLAN, CaseStatus.DISPUTED,
           CaseStatus.SPECIALIST}
_END = {CaseStatus.RESOLVED, CaseStatus.CLOSED}

CASE_TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    CaseStatus.OPEN: frozenset(_ACTIVE | {CaseStatus.LEGAL_REVIEW} | _END),
    CaseStatus.PAUSED: frozenset(_ACTIVE | _END),
    CaseStatus.PROMISED: frozenset(_ACTIVE | _END),
    CaseStatus.IN_PLAN: frozenset(_ACTIVE | _END),
    CaseStatus.DISPUTED: frozenset({CaseStatus.OPEN, CaseStatus.PAUSED} | _END),
    CaseStatus.SPECIALIST: frozenset(_ACTIVE | _END),
    CaseStatus.LEGAL_REVIEW: frozenset(
        {CaseStatus.OPEN, CaseStatus.REFERRED_TO_LEGAL, CaseStatus.DISPUTED, CaseStatus.PROMISED,
         CaseStatus.IN_PLAN, CaseStatus.PAUSED} | _END
    ),
    CaseStatus.REFERRED_TO_LEGAL: frozenset(_END),
    CaseStatus.RESOLVED: frozenset(),
    CaseStatus.CLOSED: frozenset(),
}


class IllegalTransition(ValueError):
    def __init__(self, case_id: str, current: CaseStatus, target: CaseStatus) -> None:
        super().__init__(f"case {case_id}: illegal transition {current} -> {target}")
        self.case_id, self.current, self.target = case_id, current, target


class SpecialistDecision(StrEnum):
    """What a specialist decided for a case the ladder could not send to legal review by itself."""

    LEGAL_REVIEW = "LEGAL_REVIEW"  # the legal review may be requested (an admin still approves it)
    NO_LEGAL_REVIEW = "NO_LEGAL_REVIEW"  # the case stays with the specialist, out of the legal route


class Promise(BaseModel):
    promised_on: date  # the customer's local date by which they will pay
    amount: Money
    made_at: UtcDatetime
    channel: Channel | None = None
    paid_at_making: DecimalStr = Decimal("0")  # sum of payments already received when promised


class Instalment(BaseModel):
    number: int
    due_on: date
    amount: Money
    paid: DecimalStr = Decimal("0")

    @property
    def settled(self) -> bool:
        return self.paid >= self.amount.amount


class PlanStatus(StrEnum):
    OFFERED = "OFFERED"
    ACTIVE = "ACTIVE"
    COMPLETED = "COMPLETED"
    BROKEN = "BROKEN"
    DECLINED = "DECLINED"


class InstalmentPlan(BaseModel):
    plan_id: str
    status: PlanStatus = PlanStatus.OFFERED
    instalments: list[Instalment]
    offered_at: UtcDatetime
    accepted_at: UtcDatetime | None = None

    @property
    def total(self) -> Money:
        total = Money.zero(self.instalments[0].amount.currency)
        for inst in self.instalments:
            total = total + inst.amount
        return total


class Case(BaseModel):
    """One collection effort on one delinquent account, from delinquency to cure or referral."""

    model_config = ConfigDict(validate_assignment=True)

    case_id: str
    account_id: str
    status: CaseStatus = CaseStatus.OPEN
    opened_at: UtcDatetime
    closed_at: UtcDatetime | None = None
    strategy_id: str | None = None
    variant: str | None = None
    policy_version: str | None = None
    last_step_id: str | None = None  # last step acted on (sent, called or skipped)
    steps_done: list[str] = Field(default_factory=list)
    paused_until: UtcDatetime | None = None
    pause_reason: str | None = None
    promise: Promise | None = None
    plan: InstalmentPlan | None = None
    dispute_reason: str | None = None
    call_task_token: str | None = None
    call_task_since: UtcDatetime | None = None  # when the open call task was queued (the agents' worklist)
    approval_task_token: str | None = None
    execution_arn: str | None = None
    legal_approved_at: UtcDatetime | None = None
    legal_approved_by: str | None = None
    specialist_task_token: str | None = None
    # The escalation's wait: a case action completes it after its commit, so the case is planned
    # again at once instead of at the end of the wait (cleared by the next Plan).
    wake_token: str | None = None
    # A specialist's recorded word on whether the case may go to legal review (see SpecialistDecision).
    specialist_decision: SpecialistDecision | None = None
    specialist_decided_at: UtcDatetime | None = None
    specialist_decided_by: str | None = None
    resolution: str | None = None
    jurisdiction: str | None = None  # the account's, at opening: how long the case is retained
    version: int = 0

    @property
    def is_active(self) -> bool:
        return self.status not in _END and self.status != CaseStatus.REFERRED_TO_LEGAL

    @property
    def is_ended(self) -> bool:
        """Resolved or closed: nothing more happens on it (a referred case is still live)."""
        return self.status in _END

    def can_transition(self, target: CaseStatus) -> bool:
        return target == self.status or target in CASE_TRANSITIONS[self.status]

    def transition(self, target: CaseStatus) -> None:
        """Move the case; staying put is allowed, anything not in CASE_TRANSITIONS raises."""
        if not self.can_transition(target):
            raise IllegalTransition(self.case_id, self.status, target)
        self.status = target


# --------------------------------------------------------------------------- notices


class NoticeStatus(StrEnum):
    SENDING = "SENDING"  # written before the provider call
    SENT = "SENT"  # provider accepted it; message id known
    UNCERTAIN = "UNCERTAIN"  # crashed between provider call and record: never resend blindly
    FAILED = "FAILED"  # provider refused it; nothing reached the customer
    DELIVERED = "DELIVERED"
    BOUNCED = "BOUNCED"


class Notice(BaseModel):
    notice_id: str  # deterministic per case and step: the at-most-once key
    case_id: str
    account_id: str
    step_id: str
    channel: Channel
    template_id: str
    template_version: str
    locale: str
    status: NoticeStatus = NoticeStatus.SENDING
    subject: str | None = None
    body: str
    html: str | None = None
    segments: int | None = None
    provider_message_id: str | None = None
    created_at: UtcDatetime
    sent_at: UtcDatetime | None = None
    error: str | None = None
    # The provider events already recorded on this notice (each is recorded once): a delivery event
    # reads the notice, not the case's ledger. None on notices written before it was kept.
    delivery_events: list[str] | None = None

    @staticmethod
    def id_for(case_id: str, step_id: str) -> str:
        return f"{case_id}:{step_id}"


# --------------------------------------------------------------------------- ledger


class EntryKind(StrEnum):
    CASE_OPENED = "CASE_OPENED"
    DECISION = "DECISION"
    NOTICE = "NOTICE"
    DELIVERY = "DELIVERY"
    REPLY = "REPLY"
    CALL_TASK = "CALL_TASK"
    CALL_OUTCOME = "CALL_OUTCOME"
    PAYMENT = "PAYMENT"
    PAYMENT_CONFLICT = "PAYMENT_CONFLICT"  # a payment id seen again with another amount: the first stands
    PROMISE = "PROMISE"
    PLAN = "PLAN"
    HOLD = "HOLD"
    OPT_OUT = "OPT_OUT"
    ADMIN = "ADMIN"
    LEGAL = "LEGAL"
    CASE_CLOSED = "CASE_CLOSED"
    FAILURE = "FAILURE"
    PAGE = "PAGE"  # the customer's own page: what they did there (actor `customer`)
    SPECIAL_STATUS = "SPECIAL_STATUS"  # a special status set or lifted on the customer
    SKIP_TRACE = "SKIP_TRACE"  # finding the right number: requested, then its outcome
    SPECIALIST = "SPECIALIST"  # a specialist's desk: a vulnerable customer handed over, a review queued or decided
    PHONE_REVEALED = "PHONE_REVEALED"  # an agent saw the full number (who and when, never the number)
    VIOLATION = "VIOLATION"  # something that broke a compliance rule was done (a call outside the window)


class LedgerEntry(BaseModel):
    """An append-only, hash-chained record of something that happened on a case."""

    model_config = ConfigDict(frozen=True)

    case_id: str
    seq: int = Field(ge=0)
    at: UtcDatetime
    kind: EntryKind
    actor: str = "system"  # function name, provider, or the admin's IAM identity
    data: dict[str, Any] = Field(default_factory=dict)
    prev_hash: str
    hash: str
    # On the last entry of each commit: the case header's state after it (status, approvals,
    # arrangement and a digest of the rest), covered by the hash, so the header can be checked
    # against what its ledger says.
    state: dict[str, Any] | None = None
    # On the last entry of each commit: a keyed MAC over (case, seq, hash), outside the hash;
    # forging one needs the KMS key (dunning.domain.integrity).
    seal: str | None = None


# --------------------------------------------------------------------------- decisions


class Action(StrEnum):
    SEND = "SEND"
    CALL = "CALL"
    WAIT = "WAIT"
    LEGAL_REVIEW = "LEGAL_REVIEW"
    SPECIALIST_REVIEW = "SPECIALIST_REVIEW"  # a specialist must decide before anything else happens
    CLOSE = "CLOSE"


class ReasonCode(StrEnum):
    # compliance (DESIGN section 5)
    CONTACT_WINDOW = "CONTACT_WINDOW"
    PREFERENCE = "PREFERENCE"  # inside the legal window, outside the hours the customer chose
    HOLIDAY = "HOLIDAY"
    CALL_CAP = "CALL_CAP"
    DAILY_CAP = "DAILY_CAP"
    OPT_OUT = "OPT_OUT"
    HOLD = "HOLD"
    RECIPIENT = "RECIPIENT"
    CONTENT = "CONTENT"
    TONE = "TONE"
    SPACING = "SPACING"
    SPECIAL_STATUS = "SPECIAL_STATUS"
    SPECIAL_STATUS_BANKRUPTCY = "SPECIAL_STATUS_BANKRUPTCY"
    SPECIAL_STATUS_DECEASED = "SPECIAL_STATUS_DECEASED"
    SPECIAL_STATUS_CEASE_CONTACT = "SPECIAL_STATUS_CEASE_CONTACT"
    SPECIAL_STATUS_LITIGATION_HOLD = "SPECIAL_STATUS_LITIGATION_HOLD"
    SPECIAL_STATUS_VULNERABLE = "SPECIAL_STATUS_VULNERABLE"
    # planning
    STEP_DUE = "STEP_DUE"
    NEXT_STEP_LATER = "NEXT_STEP_LATER"
    CHANNEL_UNUSABLE = "CHANNEL_UNUSABLE"
    STEP_SKIPPED = "STEP_SKIPPED"
    UNCERTAIN_SEND = "UNCERTAIN_SEND"
    PAID = "PAID"
    PROMISE_PENDING = "PROMISE_PENDING"
    PROMISE_BROKEN = "PROMISE_BROKEN"
    PROMISE_KEPT = "PROMISE_KEPT"
    PAUSE_ENDED = "PAUSE_ENDED"
    INSTALMENT_DUE = "INSTALMENT_DUE"
    PLAN_ACTIVE = "PLAN_ACTIVE"
    PLAN_BROKEN = "PLAN_BROKEN"
    PLAN_COMPLETED = "PLAN_COMPLETED"
    HARDSHIP_PAUSE = "HARDSHIP_PAUSE"
    DISPUTED = "DISPUTED"
    HOLDOUT = "HOLDOUT"
    STEPS_EXHAUSTED = "STEPS_EXHAUSTED"
    LEGAL_APPROVED = "LEGAL_APPROVED"
    LEGAL_REJECTED = "LEGAL_REJECTED"
    CASE_ENDED = "CASE_ENDED"
    # step conditions (a step's `requires`): why a step was skipped, held or routed to a specialist
    HARDSHIP_DECLARED = "HARDSHIP_DECLARED"
    RIGHT_PARTY_CONTACT_RECENT = "RIGHT_PARTY_CONTACT_RECENT"
    PAYMENT_RECENT = "PAYMENT_RECENT"
    ARRANGEMENT_ACTIVE = "ARRANGEMENT_ACTIVE"
    ARRANGEMENT_BROKEN_RECENTLY = "ARRANGEMENT_BROKEN_RECENTLY"
    TOO_FEW_BROKEN_ARRANGEMENTS = "TOO_FEW_BROKEN_ARRANGEMENTS"
    NO_REFERRAL_PROFILE = "NO_REFERRAL_PROFILE"  # no `requires_any` profile fits the case
    STEP_PASSED_DURING_HOLD = "STEP_PASSED_DURING_HOLD"  # its day fell while an arrangement or pause held the case
    # re-engagement after a broken promise or plan
    REENGAGING = "REENGAGING"
    RENEWED_OFFER = "RENEWED_OFFER"
    RENEWED_OFFER_LIMIT = "RENEWED_OFFER_LIMIT"
    NO_PLAN_FITS = "NO_PLAN_FITS"
    # the specialist route
    SPECIALIST_REVIEW = "SPECIALIST_REVIEW"
    SPECIALIST_HOLD = "SPECIALIST_HOLD"
    SPECIALIST_ALLOWED_LEGAL = "SPECIALIST_ALLOWED_LEGAL"
    NO_RIGHT_PARTY_CONTACT = "NO_RIGHT_PARTY_CONTACT"  # no legal review before an attempt to reach the debtor
    SKIP_TRACE = "SKIP_TRACE"  # the right number is being looked for
    SPECIALIST_ROUTE = "SPECIALIST_ROUTE"  # a vulnerable customer's softer strategy


def special_status_reason(status: SpecialStatus) -> ReasonCode:
    """The SPECIAL_STATUS sub-code a status is reported with (beside SPECIAL_STATUS itself)."""
    return ReasonCode(f"SPECIAL_STATUS_{status.value}")


class Decision(BaseModel):
    """What the planner decided for a case right now, and why. Carries ids only, never PII."""

    action: Action
    case_id: str
    step_id: str | None = None
    channel: Channel | None = None
    template_id: str | None = None
    wait_until: UtcDatetime | None = None
    reasons: list[ReasonCode] = Field(default_factory=list)
    policy_version: str | None = None
    variant: str | None = None
