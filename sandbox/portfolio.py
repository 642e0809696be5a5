"""A synthetic loan portfolio with customer personas, reproducible from a seed.

Every account gets one persona: how that customer answers reminders, calls and plans. The
persona also says what the system should end up doing for them, so a run can be checked.
All randomness comes from one ``random.Random(seed)``: the same seed gives the same portfolio.

Some customers hold two loans (the second shares the person's name, phone, email and zones, and
the persona: it is the same person), and some personas have a special status, reported in the
file (bankruptcy), told by the customer or their family (deceased, cease contact, vulnerable) or
set by an admin (litigation hold).
"""

from __future__ import annotations

import csv
import io
import random
from collections import Counter
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from pathlib import Path

# Core banking's account file columns (the file format ImportAccounts reads).
CSV_COLUMNS = (
    "account_id", "customer_name", "account_number", "product", "risk", "phone", "email", "locale",
    "time_zones", "jurisdiction", "currency", "principal_due", "interest_due", "fees_due", "due_date",
    "status", "opted_out", "time_barred", "customer_id", "special_status",
    # what the customer's page asks first (optional columns; the import keeps only keyed hashes)
    "date_of_birth", "national_id_last4",
)


class Persona(StrEnum):
    PAYS_FIRST_REMINDER = "pays_first_reminder"
    PAYS_LATE = "pays_late"
    REPLIES_STOP = "replies_stop"
    PLAN_KEPT = "plan_kept"  # reached by phone, agrees to instalments, pays them all
    PLAN_BROKEN = "plan_broken"
    PROMISE_KEPT = "promise_kept"
    PROMISE_BROKEN = "promise_broken"
    DISPUTES = "disputes"
    WRONG_NUMBER = "wrong_number"
    NEVER_ANSWERS = "never_answers"  # ends in a legal referral
    BANKRUPT = "bankrupt"  # core banking's file reports the bankruptcy
    DECEASED = "deceased"  # a relative answers the first text: the customer has died
    CEASE_CONTACT = "cease_contact"  # answers the first text: cease all contact
    LITIGATION = "litigation"  # the legal team puts the loan on litigation hold (an admin command)
    VULNERABLE = "vulnerable"  # answers the first text about a serious illness: specialists take over


# Intended outcome of each persona: what a checker looks for at the end of the run.
EXPECTED_OUTCOME: dict[Persona, str] = {
    Persona.PAYS_FIRST_REMINDER: "cured",
    Persona.PAYS_LATE: "cured",
    Persona.REPLIES_STOP: "sms_opted_out",
    Persona.PLAN_KEPT: "plan_completed",
    Persona.PLAN_BROKEN: "plan_broken",
    Persona.PROMISE_KEPT: "promise_kept",
    Persona.PROMISE_BROKEN: "promise_broken",
    Persona.DISPUTES: "disputed",
    Persona.WRONG_NUMBER: "phone_unusable",
    Persona.NEVER_ANSWERS: "legal_referral",
    Persona.BANKRUPT: "contact_stopped",
    Persona.DECEASED: "contact_stopped",
    Persona.CEASE_CONTACT: "contact_stopped",
    Persona.LITIGATION: "contact_stopped",
    Persona.VULNERABLE: "specialist",
}

# The special status each persona brings, and where it comes from.
SPECIAL_STATUS: dict[Persona, tuple[str, str]] = {
    Persona.BANKRUPT: ("BANKRUPTCY", "FILE"),
    Persona.DECEASED: ("DECEASED", "REPLY"),
    Persona.CEASE_CONTACT: ("CEASE_CONTACT", "REPLY"),
    Persona.LITIGATION: ("LITIGATION_HOLD", "ADMIN"),
    Persona.VULNERABLE: ("VULNERABLE", "REPLY"),
}
SECOND_LOAN_SHARE = 0.12  # customers who hold two loans

# Share of the portfolio per persona (weights, not percentages).
_WEIGHTS: dict[Persona, int] = {
    Persona.PAYS_FIRST_REMINDER: 25,
    Persona.PAYS_LATE: 15,
    Persona.REPLIES_STOP: 8,
    Persona.PLAN_KEPT: 10,
    Persona.PLAN_BROKEN: 5,
    Persona.PROMISE_KEPT: 10,
    Persona.PROMISE_BROKEN: 5,
    Persona.DISPUTES: 5,
    Persona.WRONG_NUMBER: 5,
    Persona.NEVER_ANSWERS: 12,
    Persona.BANKRUPT: 2,
    Persona.DECEASED: 2,
    Persona.CEASE_CONTACT: 2,
    Persona.LITIGATION: 2,
    Persona.VULNERABLE: 2,
}

_US_ZONES = ["America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"]
_US_AREA_CODES = ["202", "212", "312", "415", "303", "617", "713", "206", "404", "305"]
_CN_ZONES = ["Asia/Shanghai", "Asia/Urumqi"]
_CN_PREFIXES = ["138", "139", "136", "186", "189", "150", "158", "177"]
_US_NAMES = ["Dana Reyes", "Sam Ortiz", "Lee Parker", "Jo Kim", "Alex Moore", "Pat Lewis", "Chris Young"]
_CN_NAMES = ["王伟", "李娜", "张敏", "刘洋", "陈静", "杨磊", "赵丽"]


@dataclass(frozen=True)
class SyntheticAccount:
    account_id: str
    persona: Persona
    customer_name: str
    account_number: str
    phone: str
    email: str
    locale: str
    time_zones: tuple[str, ...]
    jurisdiction: str
    currency: str
    principal_due: Decimal
    interest_due: Decimal
    fees_due: Decimal
    due_date: date
    # What a lender's own file says (``from_account_file``); a synthetic account leaves them unset.
    status: str | None = None
    product: str = "personal_loan"
    risk: str = "standard"
    opted_out: tuple[str, ...] = ()
    time_barred: bool = False
    customer_id: str | None = None  # set on every loan of a customer who holds two (or as the file says)
    reported_status: str | None = None  # a special status a lender's own file reports

    @property
    def customer(self) -> str:
        return self.customer_id or self.account_id

    @property
    def special_status(self) -> str | None:
        """The status core banking's file reports (the others arrive later, by reply or admin)."""
        status = SPECIAL_STATUS.get(self.persona)
        return self.reported_status or (status[0] if status and status[1] == "FILE" else None)
    # Facts on file for the customer's page; derived from the account's number, not drawn from the
    # seed, so adding them left every portfolio as it was.
    date_of_birth: date = date(1985, 4, 12)
    national_id_last4: str = "0000"

    @property
    def amount_due(self) -> Decimal:
        return self.principal_due + self.interest_due + self.fees_due

    @property
    def verification(self) -> str:
        """What this customer types on their page to prove it is them (the policy's fact for the jurisdiction)."""
        return self.national_id_last4 if self.jurisdiction == "CN" else self.date_of_birth.isoformat()

    @property
    def expected(self) -> str:
        return EXPECTED_OUTCOME[self.persona]


def _personas(rng: random.Random, count: int) -> list[Persona]:
    """Every persona at least once when the portfolio is big enough, the rest by weight."""
    base = list(Persona) if count >= len(Persona) else []
    rest = rng.choices(list(_WEIGHTS), weights=list(_WEIGHTS.values()), k=count - len(base))
    personas = base + rest
    rng.shuffle(personas)
    return personas


def build_portfolio(count: int, seed: int, start: date) -> list[SyntheticAccount]:
    """``count`` accounts whose due dates fall around ``start`` (some already overdue)."""
    rng = random.Random(seed)
    accounts: list[SyntheticAccount] = []
    for n, persona in enumerate(_personas(rng, count)):
        us = rng.random() < 0.7
        if us:
            zones = [rng.choice(_US_ZONES)]
            if rng.random() < 0.08:  # a customer who splits time between two zones
                zones.append(rng.choice([z for z in _US_ZONES if z != zones[0]]))
            area = _US_AREA_CODES[n // 100 % len(_US_AREA_CODES)]
            # 555-0100..0199 are the numbers reserved for fiction; past 1000 accounts, 555-2xxx.
            phone = (f"+1{area}55501{n % 100:02d}" if n < 1000
                     else f"+1{_US_AREA_CODES[n % 10]}5552{n // 10 % 1000:03d}")
            principal = Decimal(rng.randrange(150, 2500))
            currency, locale, jurisdiction = "USD", "en-US", "US"
            name = rng.choice(_US_NAMES)
        else:
            zones = [rng.choice(_CN_ZONES)]
            phone = f"+86{rng.choice(_CN_PREFIXES)}{n:08d}"
            principal = Decimal(rng.randrange(1000, 15000))
            currency, locale, jurisdiction = "CNY", "zh-CN", "CN"
            name = rng.choice(_CN_NAMES)
        interest = (principal * Decimal(rng.randrange(1, 4)) / Decimal(100)).quantize(Decimal("0.01"))
        fees = Decimal(rng.choice([0, 15, 25, 35]))
        accounts.append(
            SyntheticAccount(
                account_id=f"ACC{n + 1:05d}",
                persona=persona,
                customer_name=name,
                account_number=f"40001234{n + 1:08d}",
                phone=phone,
                email=f"customer{n + 1:05d}@mail.example.com",
                locale=locale,
                time_zones=tuple(zones),
                jurisdiction=jurisdiction,
                currency=currency,
                principal_due=principal.quantize(Decimal("0.01")),
                interest_due=interest,
                fees_due=fees.quantize(Decimal("0.01")),
                # Most are already a few days overdue at the start, some fall due in the first days.
                due_date=start + timedelta(days=rng.randint(-8, 3)),
                date_of_birth=date(1950 + n * 7 % 50, 1 + n * 5 % 12, 1 + n * 11 % 28),
                national_id_last4=f"{(n + 1) * 7919 % 10000:04d}",
            )
        )
    return _second_loans(rng, accounts)


def _second_loans(rng: random.Random, accounts: list[SyntheticAccount]) -> list[SyntheticAccount]:
    """Turn some accounts into the second loan of the account before them: the same person (and
    persona). Only an account whose persona someone else also has is taken, so every persona stays."""
    left = Counter(a.persona for a in accounts)
    out: list[SyntheticAccount] = []
    n = 0
    while n < len(accounts):
        first = accounts[n]
        draw = rng.random()
        if n + 1 < len(accounts) and draw < SECOND_LOAN_SHARE and left[accounts[n + 1].persona] > 1:
            second = accounts[n + 1]
            left[second.persona] -= 1
            left[first.persona] += 1
            customer_id = f"CUS{first.account_id.removeprefix('ACC')}"
            out.append(replace(first, customer_id=customer_id))
            out.append(replace(first, account_id=second.account_id, account_number=second.account_number,
                               principal_due=second.principal_due, interest_due=second.interest_due,
                               fees_due=second.fees_due, customer_id=customer_id,
                               # the second loan fell due a few days after the first
                               due_date=first.due_date + timedelta(days=rng.randint(1, 5))))
            n += 2
            continue
        out.append(first)
        n += 1
    return out


def in_shard(accounts: list[SyntheticAccount], shard: int, shards: int) -> list[SyntheticAccount]:
    """The accounts of every customer whose turn falls on `shard`: a person's loans live together
    (their caps and conversation are one), customers never interact across shards."""
    order: dict[str, int] = {}
    for account in accounts:
        order.setdefault(account.customer, len(order))
    return [a for a in accounts if order[a.customer] % shards == shard]


@dataclass(frozen=True)
class LoadedFile:
    """A lender's account file as ImportAccounts would read it: the accounts to live, and the rest."""

    accounts: list[SyntheticAccount]
    rows: int
    rejected: int
    not_owing: int  # accepted, but nothing is owed: no case can open, so they are not lived


def from_account_file(path: Path, seed: int) -> LoadedFile:
    """The accounts of a lender's file (CSV, or JSON Lines by its suffix), read with ImportAccounts'
    own reader (dunning.domain.account_file), each given a persona drawn by weight from ``seed``.

    A real file says nothing about how each customer will answer, so behaviour is drawn exactly as
    for the synthetic portfolio: the same file and seed always give the same customers.
    """
    from dunning.domain.account_file import ImportSummary, parser_for

    rng = random.Random(seed)
    summary = ImportSummary()
    accounts: list[SyntheticAccount] = []
    not_owing = 0
    with path.open("rb") as handle:
        chunks = iter(lambda: handle.read(64 * 1024), b"")
        for row, parsed in parser_for(path.name)(chunks):
            account = summary.tally(row, parsed, lambda _row, _reason: None)
            if account is None:
                continue
            summary.imported += 1
            if not account.owes or account.due_date is None:
                not_owing += 1
                continue
            persona = rng.choices(list(_WEIGHTS), weights=list(_WEIGHTS.values()))[0]
            accounts.append(SyntheticAccount(
                account_id=account.account_id, persona=persona, customer_name=account.customer_name,
                account_number=account.account_number, phone=account.contact.phone or "",
                email=str(account.contact.email or ""), locale=account.locale,
                time_zones=tuple(account.time_zones), jurisdiction=account.jurisdiction.value,
                currency=account.currency, principal_due=account.principal_due,
                interest_due=account.interest_due, fees_due=account.fees_due, due_date=account.due_date,
                status=account.status.value, product=account.product, risk=account.risk,
                opted_out=tuple(sorted(c.value for c in account.opted_out)), time_barred=account.time_barred,
                customer_id=account.customer_id,
                reported_status=account.special_status.value if account.special_status else None))
    return LoadedFile(accounts, summary.rows, summary.rejected, not_owing)


def to_csv(accounts: list[SyntheticAccount], as_of: date | None = None) -> bytes:
    """The portfolio as core banking's account file (the columns ImportAccounts reads).

    Core banking reports an account already past its due date (before the day the daily sweep
    looks at first, ``as_of`` - 1) as DELINQUENT, as it would on any real first load.
    """
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for a in accounts:
        writer.writerow({
            "account_id": a.account_id, "customer_name": a.customer_name, "account_number": a.account_number,
            "product": a.product, "risk": a.risk, "phone": a.phone, "email": a.email,
            "locale": a.locale, "time_zones": ";".join(a.time_zones), "jurisdiction": a.jurisdiction,
            "currency": a.currency, "principal_due": format(a.principal_due, "f"),
            "interest_due": format(a.interest_due, "f"), "fees_due": format(a.fees_due, "f"),
            "due_date": a.due_date.isoformat(),
            "status": a.status or ("DELINQUENT" if as_of and a.due_date < as_of - timedelta(days=1) else "CURRENT"),
            "opted_out": ";".join(a.opted_out), "time_barred": "true" if a.time_barred else "false",
            "customer_id": a.customer_id or "", "special_status": a.special_status or "",
            "date_of_birth": a.date_of_birth.isoformat(), "national_id_last4": a.national_id_last4,
        })
    return out.getvalue().encode("utf-8")
