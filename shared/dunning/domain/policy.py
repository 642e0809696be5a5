"""The collection plan as data (DESIGN section 4).

A versioned YAML document, validated into `Policy`. It says, per jurisdiction, when and how
often a customer may be contacted; which strategy (ordered steps) a segment of accounts gets;
how champion/challenger variants and the holdout share traffic; and what hardship relief is on
offer. Everything here is pure: loading from SSM/AppConfig happens in the adapters.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import date, time
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from dunning.domain.models import Account, Channel, Jurisdiction
from dunning.domain.page_verify import VerificationKind


class PolicyError(ValueError):
    """A policy document that must not go into force; `problems` has one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ContactWindow(_Strict):
    start: time = time(8, 0)
    end: time = time(21, 0)

    @model_validator(mode="after")
    def _ordered(self) -> ContactWindow:
        if self.start >= self.end:
            raise ValueError("contact window start must be before its end")
        return self


class Caps(_Strict):
    sms_per_day: int = Field(default=1, ge=0)
    email_per_day: int = Field(default=1, ge=0)
    contacts_per_week: int = Field(default=7, ge=0)  # all channels, rolling 7 days
    call_attempts_per_7_days: int | None = Field(default=None, ge=0)  # US Reg F: 7
    call_quiet_days_after_conversation: int | None = Field(default=None, ge=0)  # US Reg F: 7
    unanswered_calls_per_day_per_number: int | None = Field(default=None, ge=0)  # CN guideline: 6
    # At most one outbound contact per person in this many hours, across channels (0, the default
    # of a policy that does not say: no spacing). An answer to the customer's own message is exempt.
    # Keeps case opening and the end of a pause from sending an SMS, an email and a call at once.
    spacing_hours: int = Field(default=0, ge=0, le=72)


class Collector(_Strict):
    """Who the customer is dealing with and how to reach a person (seed 3.3)."""

    name: str
    phone: str
    email: str
    hours: str
    pay_url: str
    # The creditor an agency collects for; a lender collecting its own loans is its own creditor.
    creditor: str | None = None
    # A short host of the lender's that serves the customer's page too (ICP-filed in China): a
    # text's short link shows it instead of the page's own host (docs/china.md, "Short links").
    short_link_host: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9.\-]{2,31}$")


CollectorRole = Literal["FIRST_PARTY", "AGENCY"]


class JurisdictionPolicy(_Strict):
    contact_window: ContactWindow = ContactWindow()
    holidays: bool = True
    holiday_country: str
    # Where the holidays package falls short of the official calendar (mainland China's State
    # Council publishes each year's in the November before): days off it does not list (the
    # weekend days inside a holiday block) and weekend days worked in exchange (调休).
    days_off: list[date] = Field(default_factory=list)
    working_days: list[date] = Field(default_factory=list)
    caps: Caps = Caps()
    retention_years: int = Field(ge=1)
    collector: Collector
    # Who writes to the customer. FIRST_PARTY: the lender collecting its own loans, which is not a
    # "debt collector" (FDCPA 1692a(6)) and never calls itself one. AGENCY: a collection agency, whose
    # first contact carries the full validation notice (Regulation F 1006.34, itemisation date included).
    collector_role: CollectorRole | None = None
    # Older documents said only this: true meant an agency's validation notice. Kept so they keep
    # their meaning; collector_role wins when both are given.
    first_contact_disclosure: bool = False
    # The fact the customer's page asks before it shows anything (the account file must carry it).
    verification: VerificationKind = VerificationKind.DATE_OF_BIRTH
    # Texts carry a short link (/p/<10-letter code>) instead of the signed token: where SMS are
    # written in UCS-2 (70 units a segment), the token alone costs a segment.
    sms_short_links: bool = False

    @model_validator(mode="after")
    def _role_agrees(self) -> JurisdictionPolicy:
        if self.collector_role == "FIRST_PARTY" and self.first_contact_disclosure:
            raise ValueError("a FIRST_PARTY lender sends no debt-collector validation notice: "
                             "drop first_contact_disclosure or make collector_role AGENCY")
        return self

    @property
    def role(self) -> CollectorRole:
        if self.collector_role is not None:
            return self.collector_role
        return "AGENCY" if self.first_contact_disclosure else "FIRST_PARTY"

    @property
    def validation_notice(self) -> bool:
        """The first contact carries the validation notice: only an agency's does."""
        return self.role == "AGENCY"


class StepKind(StrEnum):
    SMS = "SMS"
    EMAIL = "EMAIL"
    CALL = "CALL"
    LEGAL_REVIEW = "LEGAL_REVIEW"

    @property
    def channel(self) -> Channel | None:
        return None if self is StepKind.LEGAL_REVIEW else Channel(self.value)


class StepConditions(_Strict):
    """What must hold, from the case's history (domain.case_summary), for a step to go ahead.

    Counted on the case being collected. "Right-party contact" is a conversation with the customer
    or a message from them about the debt (a call answered, a reply other than STOP/START/HELP or
    "wrong number", a promise or plan agreed). What the planner does when a condition fails is said
    in domain.conditions.
    """

    no_right_party_contact_days: int | None = Field(default=None, ge=1)
    no_payment_days: int | None = Field(default=None, ge=1)
    # none running (a promise, a plan, an offer still open) and none broken in the last N days
    no_active_or_recent_broken_arrangement_days: int | None = Field(default=None, ge=0)
    no_declared_hardship: bool = False
    min_broken_arrangements: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _says_something(self) -> StepConditions:
        if not self.model_dump(exclude_defaults=True):
            raise ValueError("a condition set must name at least one condition")
        return self


class Step(_Strict):
    id: str = Field(pattern=r"^[a-z0-9_]+$")
    offset_days: int  # days past due at which the step becomes due; negative = before the due date
    kind: StepKind
    template: str | None = None
    approval_required: bool = False
    requires: StepConditions | None = None  # every condition must hold ...
    requires_any: list[StepConditions] = Field(default_factory=list)  # ... and one of these sets, if any
    # Sent even when its day passed while an arrangement or a pause held the case (the last notice
    # before a legal review); other passed steps are skipped when the ladder resumes.
    send_late: bool = False
    renewed_offer: bool = False  # re-engagement only: the notice carries a new instalment offer

    @model_validator(mode="after")
    def _template_for_messages(self) -> Step:
        if self.kind in (StepKind.SMS, StepKind.EMAIL) and not self.template:
            raise ValueError(f"step {self.id}: an {self.kind} step needs a template")
        if self.renewed_offer and self.kind not in (StepKind.SMS, StepKind.EMAIL):
            raise ValueError(f"step {self.id}: a renewed offer is a message (SMS or EMAIL)")
        return self

    @property
    def pre_due(self) -> bool:
        return self.offset_days < 0


def ordered_unique_steps(steps: list[Step]) -> list[Step]:
    """A ladder's steps: each id once, in the order of their days."""
    ids = [s.id for s in steps]
    if len(set(ids)) != len(ids):
        raise ValueError(f"duplicate step ids: {sorted({i for i in ids if ids.count(i) > 1})}")
    offsets = [s.offset_days for s in steps]
    if offsets != sorted(offsets):
        raise ValueError("steps must be ordered by offset_days")
    return steps


class Strategy(_Strict):
    description: str = ""
    steps: list[Step] = Field(min_length=1)

    @field_validator("steps")
    @classmethod
    def _ordered_unique(cls, steps: list[Step]) -> list[Step]:
        return ordered_unique_steps(steps)

    def step(self, step_id: str) -> Step:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise KeyError(step_id)


class SegmentMatch(_Strict):
    jurisdictions: list[Jurisdiction] | None = None
    products: list[str] | None = None
    risks: list[str] | None = None
    min_amount: Decimal | None = None
    max_amount: Decimal | None = None

    def matches(self, account: Account) -> bool:
        amount = account.amount_due.amount
        return (
            (self.jurisdictions is None or account.jurisdiction in self.jurisdictions)
            and (self.products is None or account.product in self.products)
            and (self.risks is None or account.risk in self.risks)
            and (self.min_amount is None or amount >= self.min_amount)
            and (self.max_amount is None or amount < self.max_amount)
        )


class Segment(_Strict):
    id: str
    match: SegmentMatch = SegmentMatch()
    strategy: str
    # per-variant strategy override: variant id -> strategy id (the challenger's alternative plan)
    variant_strategies: dict[str, str] = Field(default_factory=dict)


class Variant(_Strict):
    id: str
    share: Decimal = Field(ge=0, le=1)
    # The no-contact control group: nothing at all for `holdout_days` after the due date (no
    # reminder, no notice, no call), then the normal strategy with its days counted from the end
    # of the window. Its cure rate is what the others' uplift is measured against.
    holdout: bool = False
    holdout_days: int = Field(default=30, ge=1, le=120)


class Hardship(_Strict):
    pause_days: int = Field(default=14, ge=1, le=90)
    instalment_counts: list[int] = Field(default_factory=lambda: [2, 3, 4])
    instalment_interval_days: int = Field(default=7, ge=7, le=31)
    min_instalment: dict[str, Decimal] = Field(default_factory=dict)  # currency -> minimum
    plan_grace_days: int = Field(default=3, ge=0)
    reminder_days_before: int = Field(default=2, ge=0)

    @model_validator(mode="after")
    def _reminder_reachable(self) -> Hardship:
        # Escalations re-plan at least every 3 days; a reminder due sooner after acceptance could be late.
        if self.instalment_interval_days - self.reminder_days_before < 3:
            raise ValueError("hardship: instalment_interval_days - reminder_days_before must be at least 3")
        return self


class Promises(_Strict):
    max_days_ahead: int = Field(default=30, ge=1)
    grace_days: int = Field(default=1, ge=0)
    # "I already paid": dunning holds this long while the payment feed catches up and a person checks.
    payment_check_days: int = Field(default=3, ge=1, le=14)


class Reengagement(_Strict):
    """What follows a broken promise or plan before the ladder resumes: its own short ladder
    (offsets are days after the break), run once per break, with a bounded number of renewed offers."""

    steps: list[Step] = Field(min_length=1)
    max_renewed_offers: int = Field(default=1, ge=0)  # per case
    # A round whose steps could not all go within this many days of the break gives way to the ladder.
    window_days: int = Field(default=10, ge=1, le=30)

    @field_validator("steps")
    @classmethod
    def _contact_steps(cls, steps: list[Step]) -> list[Step]:
        for step in steps:
            if step.kind is StepKind.LEGAL_REVIEW:
                raise ValueError(f"step {step.id}: re-engagement contacts the customer; it has no legal review")
            if step.offset_days < 0:
                raise ValueError(f"step {step.id}: re-engagement offsets are days after the break (>= 0)")
        return ordered_unique_steps(steps)


class CustomerPage(_Strict):
    """The customer's own page (/p/{token}): how hard it is to get in, and how long a visit lasts."""

    verify_attempts: int = Field(default=5, ge=1, le=10)  # wrong answers before the link locks
    session_minutes: int = Field(default=15, ge=5, le=60)  # a verified visit, then verify again
    fresh_links_per_day: int = Field(default=3, ge=1, le=10)  # "send me a new link", per account
    callback_days: int = Field(default=3, ge=1, le=10)  # business days of call-back slots offered
    callback_slot_hours: int = Field(default=2, ge=1, le=4)


class ProviderTemplate(_Strict):
    """One of our SMS templates as registered with a provider that sends approved templates only."""

    code: str = Field(pattern=r"^SMS_[0-9]{6,12}$")  # assigned by the provider on approval
    params: list[str] = Field(default_factory=list)  # the template's variables, by name


class SmsRoute(_Strict):
    """Texts to numbers under ``country_code`` go through ``provider`` (mainland China: Alibaba Cloud
    SMS), signed ``sign_name``, each in its registered template; written in ``locale``."""

    country_code: str = Field(pattern=r"^\+[1-9][0-9]{0,2}$")
    provider: Literal["aliyun"]
    sign_name: str = Field(min_length=2, max_length=12)
    locale: str = "zh-CN"
    templates: dict[str, ProviderTemplate] = Field(default_factory=dict)

    def takes(self, destination: str) -> bool:
        return destination.startswith(self.country_code)


class Policy(_Strict):
    version: str
    grace_days: int = Field(default=0, ge=0)  # days after the due date before an account is delinquent
    notice_deadline_days: int = Field(default=7, ge=1, le=30)  # "please pay by" = local today + this
    link_valid_days: int = Field(default=14, ge=1, le=60)  # self-service link lifetime
    jurisdictions: dict[Jurisdiction, JurisdictionPolicy]
    strategies: dict[str, Strategy]
    segments: list[Segment] = Field(min_length=1)
    variants: list[Variant] = Field(min_length=1)
    holdout_strategy: str | None = None  # after its window the holdout follows this, else its segment's
    # A vulnerable customer's softer strategy (specialist calls, no legal review); None: the
    # segment's strategy without its legal review.
    vulnerable_strategy: str | None = None
    hardship: Hardship = Hardship()
    promises: Promises = Promises()
    reengagement: Reengagement | None = None  # None: a broken arrangement resumes the ladder at once
    page: CustomerPage = CustomerPage()
    # Texts by destination: a number under a route's country code goes through its provider; any
    # other through AWS End User Messaging.
    sms_routes: list[SmsRoute] = Field(default_factory=list)
    variant_salt: str = "dunning"

    def sms_route_for(self, destination: str) -> SmsRoute | None:
        return next((r for r in self.sms_routes if r.takes(destination)), None)

    @model_validator(mode="after")
    def _references(self) -> Policy:
        problems = _reference_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def for_jurisdiction(self, jurisdiction: Jurisdiction) -> JurisdictionPolicy:
        return self.jurisdictions[jurisdiction]


def _variant_problems(policy: Policy) -> list[str]:
    problems: list[str] = []
    total = sum((v.share for v in policy.variants), Decimal(0))
    if total != Decimal(1):
        problems.append(f"variants: shares add up to {total}, not 1")
    ids = [v.id for v in policy.variants]
    if len(set(ids)) != len(ids):
        problems.append("variants: duplicate ids")
    return problems


def _reference_problems(policy: Policy) -> list[str]:
    problems: list[str] = []
    for seg in policy.segments:
        for sid in [seg.strategy, *seg.variant_strategies.values()]:
            if sid not in policy.strategies:
                problems.append(f"segment {seg.id}: unknown strategy {sid!r}")
        for vid in seg.variant_strategies:
            if vid not in {v.id for v in policy.variants}:
                problems.append(f"segment {seg.id}: unknown variant {vid!r}")
    if policy.holdout_strategy and policy.holdout_strategy not in policy.strategies:
        problems.append(f"holdout_strategy: unknown strategy {policy.holdout_strategy!r}")
    if policy.vulnerable_strategy and policy.vulnerable_strategy not in policy.strategies:
        problems.append(f"vulnerable_strategy: unknown strategy {policy.vulnerable_strategy!r}")
    problems.extend(_variant_problems(policy))
    problems.extend(_strategy_problems(policy))
    return problems


def _strategy_problems(policy: Policy) -> list[str]:
    problems: list[str] = []
    for name, strategy in policy.strategies.items():
        last = strategy.steps[-1]
        if name == policy.vulnerable_strategy:
            if any(s.kind is StepKind.LEGAL_REVIEW for s in strategy.steps):
                problems.append(f"strategy {name}: a vulnerable customer's strategy has no legal review")
            continue
        if last.kind is not StepKind.LEGAL_REVIEW:
            problems.append(f"strategy {name}: the last step must be a LEGAL_REVIEW")
        elif not last.approval_required:
            problems.append(f"strategy {name}: step {last.id}: a legal review needs approval_required")
        problems.extend(_step_problems(name, strategy))
    return problems


def _step_problems(name: str, strategy: Strategy) -> list[str]:
    problems: list[str] = []
    for step in strategy.steps:
        where = f"strategy {name}: step {step.id}"
        if step.renewed_offer:
            problems.append(f"{where}: renewed_offer belongs to re-engagement steps")
        if step.kind is StepKind.LEGAL_REVIEW and not (step.requires and step.requires.no_declared_hardship):
            # A customer who told us of hardship goes to a specialist, never straight to legal.
            problems.append(f"{where}: a legal review must require no_declared_hardship")
    return problems


# --------------------------------------------------------------------------- loading


def _format_error(err: Mapping[str, Any]) -> str:
    where = ".".join(str(p) for p in err["loc"]) or "policy"
    return f"{where}: {err['msg']}"


def parse_policy(text: str) -> Policy:
    """Parse and validate a YAML policy; PolicyError lists every problem, one per line."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyError([f"policy: not valid YAML ({exc.__class__.__name__})"]) from exc
    if not isinstance(raw, dict):
        raise PolicyError(["policy: the document must be a mapping"])
    try:
        return Policy.model_validate(raw)
    except ValidationError as exc:
        raise PolicyError([_format_error(e) for e in exc.errors()]) from exc


@lru_cache(maxsize=1)
def default_policy() -> Policy:
    """The policy bundled in the layer: in force when no deployment override is configured."""
    text = resources.files("dunning").joinpath("policies/default.yaml").read_text("utf-8")
    return parse_policy(text)


# --------------------------------------------------------------------------- selection


def assign_variant(policy: Policy, account_id: str) -> Variant:
    """Deterministic: the same account always lands in the same variant for a given salt."""
    digest = hashlib.sha256(f"{policy.variant_salt}:{account_id}".encode()).digest()
    point = Decimal(int.from_bytes(digest[:8], "big")) / Decimal(2**64)
    edge = Decimal(0)
    for variant in policy.variants:
        edge += variant.share
        if point < edge:
            return variant
    return policy.variants[-1]


def segment_for(policy: Policy, account: Account) -> Segment:
    for seg in policy.segments:
        if seg.match.matches(account):
            return seg
    return policy.segments[-1]


def strategy_for(policy: Policy, account: Account, variant: Variant) -> tuple[str, Strategy]:
    """The strategy id and steps this account follows in its variant (a holdout: after its window)."""
    if variant.holdout and policy.holdout_strategy:
        return policy.holdout_strategy, policy.strategies[policy.holdout_strategy]
    seg = segment_for(policy, account)
    sid = seg.variant_strategies.get(variant.id, seg.strategy)
    return sid, policy.strategies[sid]


def variant_named(policy: Policy, variant_id: str | None) -> Variant | None:
    return next((v for v in policy.variants if v.id == variant_id), None)


def holdout_days(policy: Policy, variant_id: str | None) -> int:
    """Days after the due date in which a case of this variant gets no outreach (0: not a holdout)."""
    variant = variant_named(policy, variant_id)
    return variant.holdout_days if variant is not None and variant.holdout else 0
