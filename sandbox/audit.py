"""An audit of a simulated run from what the providers received, not from the engine's decisions.

The rules are restated here on purpose (legal contact hours, public holidays, daily and weekly
caps, spacing, opt-outs, holds, special statuses, content, tone, duplicates, the ledger record): a
bug in the compliance engine must not be able to hide itself by being reused by its own checker.

Caps and spacing are the person's: every loan of one customer counts against the same caps, so
they are counted over all the messages the person received (``owners`` maps a loan to its person).
"""

from __future__ import annotations

import contextlib
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import holidays

# Local hours a debt collector may contact a consumer (FDCPA 1692c(a)(1); the CN plan keeps the same).
WINDOW = {"US": (time(8, 0), time(21, 0)), "CN": (time(8, 0), time(21, 0))}
PER_DAY = {"SMS": 1, "EMAIL": 1}
PER_WEEK = 7
SPACING = timedelta(hours=4)  # at most one outbound contact per person in this time, across channels
COLLECTOR_PHONES = {"US": "800-555-0134", "CN": "400-555-0134"}
# A reply that opens a hold is answered at most once, right away (the acknowledgement); so is what
# the customer just did themselves (a payment: its receipt; a call they answered: what they agreed).
ACK_WINDOW = timedelta(hours=2)
PROMISE_GRACE_DAYS = 1
# Call outcomes in which the customer took no part (nothing was agreed with them).
UNANSWERED_CALLS = (None, "NO_ANSWER", "LEFT_MESSAGE", "WRONG_NUMBER")

FORBIDDEN = (
    "arrest", "jail", "prison", "police", "criminal", "warrant", "seize your", "garnish", "deport",
    "your employer", "your family", "neighbours", "neighbors", "shame", "we will sue you today",
    "last chance before", "逮捕", "坐牢", "拘留", "公安", "派出所", "犯罪", "家人", "单位", "曝光", "通讯录",
)

# Links, with or without a scheme: a CN text leaves "https://" out to save characters (hfjr.cn/p/…).
_URL = re.compile(r"(?:https?://|\b[a-z0-9-]+(?:\.[a-z0-9-]+)+/)\S*", re.IGNORECASE)
_CHINESE = re.compile(r"[\u4e00-\u9fff]")
# The texts a customer gets most often (dunning.domain.notices.render.SMS_REMINDERS, restated: the
# audit reads only what was sent and stored, not the engine's code)
REMINDER_TEMPLATES = frozenset({"pre_due_reminder", "overdue_reminder", "instalment_reminder"})
# Whole-message opt-out keywords (carrier and CN practice), as DESIGN.md lists them.
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE",
                        "退订", "TD", "T"})
_TRAILING = re.compile(r"[\s.!。！]+$")

RULES = ("window", "holiday", "daily_cap", "weekly_cap", "spacing", "opted_out", "hold", "special_status",
         "content", "tone", "duplicate_sends", "unrecorded_sends")


class Message(Protocol):
    provider: str
    message_id: str
    channel: str
    destination: str
    sent_at: datetime
    subject: str | None
    body: str
    account_id: str | None


@dataclass(frozen=True)
class Finding:
    rule: str
    account_id: str
    at: datetime
    detail: str

    def as_json(self) -> dict[str, str]:
        return {"rule": self.rule, "account_id": self.account_id,
                "at": self.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "detail": self.detail}


@dataclass
class AuditReport:
    messages: int = 0
    findings: list[Finding] = field(default_factory=list)

    def add(self, rule: str, account_id: str, at: datetime, detail: str) -> None:
        self.findings.append(Finding(rule, account_id, at, detail))

    def counts(self) -> dict[str, int]:
        by_rule = Counter(f.rule for f in self.findings)
        out = {rule: by_rule.get(rule, 0) for rule in RULES}
        out["violations"] = sum(v for k, v in out.items() if k not in ("duplicate_sends", "unrecorded_sends"))
        out["messages_audited"] = self.messages
        return out


def _money_strings(amount: Decimal) -> set[str]:
    q = amount.quantize(Decimal("0.01"))
    return {f"{q:,.2f}", f"{q:.2f}"}


def _parse(at: Any) -> datetime:
    if isinstance(at, datetime):
        return at.astimezone(UTC)
    return datetime.fromisoformat(str(at).replace("Z", "+00:00")).astimezone(UTC)


class _Holidays:
    def __init__(self) -> None:
        self._cache: dict[tuple[str, int], Any] = {}

    def __call__(self, country: str, day: date) -> bool:
        key = (country, day.year)
        if key not in self._cache:
            self._cache[key] = holidays.country_holidays(country, years=day.year)
        return day in self._cache[key]


# One pass over the messages, every rule on each: splitting by rule would walk them ten times.
def audit(messages: Sequence[Message], ledger: Iterable[dict[str, Any]], accounts: Iterable[dict[str, Any]],  # noqa: C901
          replies: Iterable[dict[str, Any]], owners: Mapping[str, str] | None = None,
          stopped: Mapping[str, datetime] | None = None) -> AuditReport:
    """Every provider message against every rule; ``ledger`` and ``accounts`` as stored; ``owners``
    the person of each loan (default: each loan its own person); ``stopped`` when each person's
    status that stops all contact (bankruptcy, death, cease contact, litigation) reached collections."""
    owners = owners or {}
    stopped = stopped or {}
    report = AuditReport(messages=len(messages))
    stored = {a["account_id"]: a for a in accounts}
    entries = list(ledger)
    recorded: dict[str, dict[str, Any]] = {}
    payments: dict[str, list[tuple[datetime, Decimal]]] = defaultdict(list)
    plan_amounts: dict[str, set[Decimal]] = defaultdict(set)
    acts: dict[str, list[datetime]] = defaultdict(list)  # the customer's own acts, answered in writing
    page_holds: dict[str, list[tuple[str, datetime, datetime, str | None]]] = defaultdict(list)
    for e in entries:
        data = e.get("data") or {}
        account_id = str(e.get("pk", "")).removeprefix("ACCOUNT#")
        if e.get("kind") == "NOTICE" and data.get("provider_message_id"):
            recorded[str(data["provider_message_id"])] = e
        if e.get("kind") == "PAYMENT" and data.get("amount"):
            payments[account_id].append((_parse(data.get("received_at") or e.get("at")), Decimal(data["amount"])))
            acts[account_id].append(_parse(e.get("at")))
        if e.get("kind") == "CALL_OUTCOME" and data.get("outcome") not in UNANSWERED_CALLS:
            acts[account_id].append(_parse(e.get("at")))
        if e.get("kind") == "PAGE" and data.get("applied") and data.get("action") not in ("verify", "fresh_link"):
            acts[account_id].append(_parse(e.get("at")))  # what the customer did on their page, confirmed
            page_holds[account_id] += _page_holds(data, _parse(e.get("at")))
        if e.get("kind") in ("PLAN", "PROMISE"):
            for value in _decimals(data):
                plan_amounts[account_id].add(value)
    replies_by_account: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in replies:
        replies_by_account[r["account_id"]].append(r)
    is_holiday = _Holidays()

    per_account: dict[str, list[Message]] = defaultdict(list)
    for m in messages:
        if m.account_id is None:
            report.add("unrecorded_sends", "?", m.sent_at, f"{m.channel} to an address of no account")
            continue
        per_account[m.account_id].append(m)
    for sent in per_account.values():
        sent.sort(key=lambda m: m.sent_at)
    # A payment's receipt, or the confirmation of what was agreed on a call, answers the customer:
    # the first written message right after it (never a later one) is exempt like an acknowledgement.
    # Acts at one instant (a hardship declared, then a plan chosen, in one visit to the page) are
    # answered by as many messages.
    # A person's acts are answered on whichever of their loans the answer names.
    by_person: dict[str, list[Message]] = defaultdict(list)
    person_acts: dict[str, list[datetime]] = defaultdict(list)
    for account_id, sent in per_account.items():
        by_person[owners.get(account_id, account_id)] += sent
    for account_id, times in acts.items():
        person_acts[owners.get(account_id, account_id)] += times
    def step_of(m: Message) -> str:
        notice = (recorded.get(f"{m.provider}:{m.message_id}") or {}).get("data") or {}
        return str(notice.get("notice_id") or "").partition(":")[2]

    # Of messages sent at one instant (a step of the escalation due as the customer acts on the
    # page), the answer is the one the ledger records as a service message, whatever the order.
    # A message answers one thing: the answer to a reply at the instant of a payment is not also
    # the payment's receipt.
    reply_answers = _answers(per_account, replies_by_account, owners)
    answered = {id(m) for person, sent in by_person.items() for since, n in Counter(person_acts[person]).items()
                for m in sorted((m for m in sent if since <= m.sent_at <= since + ACK_WINDOW
                                 and id(m) not in reply_answers),
                                key=lambda m: (m.sent_at, not step_of(m).startswith("service_")))[:n]}
    all_acks = reply_answers | answered

    for account_id, sent in per_account.items():
        account = stored.get(account_id, {})
        jurisdiction = str(account.get("jurisdiction", "US"))
        zones = [ZoneInfo(z) for z in account.get("time_zones") or ["UTC"]]
        start, end = WINDOW[jurisdiction]
        original_due = sum((Decimal(str(account.get(k, "0"))) for k in ("principal_due", "interest_due", "fees_due")),
                           Decimal("0")) + sum((a for _, a in payments[account_id]), Decimal("0"))
        sent.sort(key=lambda m: m.sent_at)
        holds = _holds(replies_by_account[account_id]) + page_holds[account_id]
        acks = all_acks
        bodies: Counter[tuple[str, date]] = Counter()
        for m in sent:
            at = m.sent_at
            is_ack = id(m) in acks
            for zone in zones:
                local = at.astimezone(zone)
                if not is_ack and not (start <= local.time() < end):
                    report.add("window", account_id, at, f"{m.channel} at {local:%H:%M} {zone.key}")
                if not is_ack and is_holiday(jurisdiction, local.date()):
                    report.add("holiday", account_id, at, f"{m.channel} on {local.date()} ({zone.key})")
            person = owners.get(account_id, account_id)
            if person in stopped and at > stopped[person]:
                report.add("special_status", account_id, at, f"{m.channel} after contact was to stop")
            bodies[(m.body, at.date())] += 1
            if bodies[(m.body, at.date())] > 1:
                report.add("duplicate_sends", account_id, at, f"{m.channel} same body twice on {at.date()}")
            ack = is_ack  # the one answer to a reply: exempt from holds, and need not restate the amount
            for kind, since, until, channel in holds:
                if id(m) in answered and kind != "opt_out":
                    continue  # a receipt or a call's confirmation during a hold is no collection contact
                if since <= at < until and (channel is None or channel == m.channel) and not ack:
                    report.add("opted_out" if kind == "opt_out" else "hold", account_id, at,
                               f"{m.channel} during {kind} since {since:%Y-%m-%dT%H:%MZ}")
            text = f"{m.subject or ''}\n{m.body}"
            # Signed links are random letters: "…shame…" inside a token is not a threat.
            lowered = _URL.sub(" ", text).lower()
            for phrase in FORBIDDEN:
                if phrase in lowered:
                    report.add("tone", account_id, at, f"{m.channel} contains a forbidden phrase")
                    break
            if not ack and id(m) not in answered:  # a receipt states what was paid, not what is due
                paid_before = sum((a for t, a in payments[account_id] if t <= at), Decimal("0"))
                due = original_due - paid_before
                amounts = {s for v in {due, original_due, *plan_amounts[account_id]} for s in _money_strings(v)}
                if not any(s in text for s in amounts):
                    report.add("content", account_id, at, f"{m.channel} does not state the amount due")
                # A Chinese text reminder fits one segment by leaving the hotline to the page its
                # link opens (every page's footer gives it): the link stands for the phone. Only a
                # reminder's (as recorded): every other text still has to give it.
                notice = (recorded.get(f"{m.provider}:{m.message_id}") or {}).get("data") or {}
                paged = m.channel == "SMS" and _CHINESE.search(m.body) is not None and "/p/" in m.body \
                    and notice.get("template_id") in REMINDER_TEMPLATES
                if COLLECTOR_PHONES[jurisdiction] not in text and not paged:
                    report.add("content", account_id, at, f"{m.channel} does not give the collector's phone")
            key = f"{m.provider}:{m.message_id}"
            if key not in recorded:
                report.add("unrecorded_sends", account_id, at, f"{m.channel} {key} has no NOTICE ledger entry")

    _person_caps(report, per_account, stored, owners, all_acks)
    sends: dict[tuple[str, str], list[datetime]] = defaultdict(list)
    for e in entries:
        if e.get("kind") == "NOTICE" and (e.get("data") or {}).get("status") == "SENT":
            sends[(str(e.get("pk")), str(e["data"].get("notice_id")))].append(_parse(e.get("at")))
    for (pk, notice_id), times in sends.items():
        if len(times) > 1:
            report.add("duplicate_sends", pk.removeprefix("ACCOUNT#"), sorted(times)[1],
                       f"notice {notice_id} sent {len(times)} times")
    return report


def _answers(per_account: Mapping[str, list[Message]], replies: Mapping[str, list[dict[str, Any]]],
             owners: Mapping[str, str]) -> set[int]:
    """The one answer to each of a customer's own messages (STOP confirmation, HELP, a promise
    noted): the first message to the person, on any of their loans, within ACK_WINDOW of their
    reply. It goes out when they wrote, whatever the hour (they started that conversation) and
    counts against no cap."""
    messages: dict[str, list[Message]] = defaultdict(list)
    written: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for account_id, sent in per_account.items():
        messages[owners.get(account_id, account_id)] += sent
    for account_id, texts in replies.items():
        written[owners.get(account_id, account_id)] += texts
    acks: set[int] = set()
    for person, sent in messages.items():
        sent.sort(key=lambda m: m.sent_at)
        for _, since, _, channel in _holds(written[person]):
            first = _first_after(sent, since, channel)
            if first is not None and first.sent_at <= since + ACK_WINDOW:
                acks.add(id(first))
    return acks


def _person_caps(report: AuditReport, per_account: Mapping[str, list[Message]], stored: Mapping[str, dict[str, Any]],
                 owners: Mapping[str, str], acks: set[int]) -> None:
    """Daily and weekly caps and spacing, over every message a person received on any of their
    loans; a reply's own answer is exempt from all three."""
    per_person: dict[str, list[tuple[str, Message]]] = defaultdict(list)
    for account_id, sent in per_account.items():
        per_person[owners.get(account_id, account_id)] += [(account_id, m) for m in sent if id(m) not in acks]
    for rows in per_person.values():
        rows.sort(key=lambda row: row[1].sent_at)
        daily: Counter[tuple[str, date]] = Counter()
        for i, (account_id, m) in enumerate(rows):
            at = m.sent_at
            zones = (stored.get(account_id) or {}).get("time_zones") or ["UTC"]
            local_day = at.astimezone(ZoneInfo(zones[0])).date()
            daily[(m.channel, local_day)] += 1
            if daily[(m.channel, local_day)] > PER_DAY.get(m.channel, 1):
                report.add("daily_cap", account_id, at, f"{m.channel} #{daily[(m.channel, local_day)]} on {local_day}")
            week = [x for _, x in rows[: i + 1] if at - x.sent_at < timedelta(days=7)]
            if len(week) > PER_WEEK:
                report.add("weekly_cap", account_id, at, f"{len(week)} messages in 7 days")
            if i and at - rows[i - 1][1].sent_at < SPACING:
                report.add("spacing", account_id, at, f"{m.channel} {at - rows[i - 1][1].sent_at} after the last")


def _first_after(sent: list[Message], since: datetime, channel: str | None) -> Message | None:
    return next((m for m in sent if m.sent_at >= since and (channel is None or m.channel == channel)), None)


def _holds(replies: list[dict[str, Any]]) -> list[tuple[str, datetime, datetime, str | None]]:
    """(kind, from, until, channel or None for all) from what the customer actually replied."""
    out: list[tuple[str, datetime, datetime, str | None]] = []
    forever = datetime.max.replace(tzinfo=UTC)
    for r in replies:
        if not r.get("delivered"):
            continue  # the system never heard it
        at, text = _parse(r["at"]), str(r["text"]).strip()
        upper = text.upper()
        if _TRAILING.sub("", upper) in STOP_WORDS:
            out.append(("opt_out", at, forever, "SMS"))
        elif "DISPUTE" in upper or "异议" in text:
            out.append(("dispute", at, forever, None))
        elif "WRONG NUMBER" in upper or "打错" in text:
            out.append(("opt_out", at, forever, "SMS"))
        elif match := re.search(r"pay on (\d{4}-\d{2}-\d{2})", text, re.IGNORECASE):
            until = datetime.combine(date.fromisoformat(match.group(1)) + timedelta(days=PROMISE_GRACE_DAYS + 1),
                                     time(0), UTC)
            out.append(("promise", at, until, None))
    return out


def _page_holds(data: dict[str, Any], at: datetime) -> list[tuple[str, datetime, datetime, str | None]]:
    """The holds a form on the customer's page opened: an opt-out, a dispute, a promise's date."""
    forever = datetime.max.replace(tzinfo=UTC)
    out: list[tuple[str, datetime, datetime, str | None]] = [
        ("opt_out", at, forever, str(channel)) for kind, channel in data.get("account_changes") or []
        if kind == "OPT_OUT" and channel]
    if data.get("action") == "dispute":
        out.append(("dispute", at, forever, None))
    promised_on = (data.get("fields") or {}).get("promised_on")
    if data.get("action") == "promise" and promised_on:
        until = datetime.combine(date.fromisoformat(str(promised_on)) + timedelta(days=PROMISE_GRACE_DAYS + 1),
                                 time(0), UTC)
        out.append(("promise", at, until, None))
    return out


def _decimals(data: Any) -> Iterable[Decimal]:
    if isinstance(data, dict):
        for key, value in data.items():
            if key in ("amount", "total") or key.endswith("_amount"):
                with contextlib.suppress(ArithmeticError):
                    yield Decimal(str(value))
            else:
                yield from _decimals(value)
    elif isinstance(data, list):
        for value in data:
            yield from _decimals(value)


def tally_drift(items: Iterable[dict[str, Any]]) -> list[str]:
    """The cases whose header's tally is not the fold of their ledger and notices (it must be: each
    commit advances it in the same transaction). Items as scanned from CollectionsTable."""
    from dunning.domain.case_tally import CaseTally
    from dunning.domain.models import LedgerEntry

    headers: dict[str, str] = {}  # case id -> its header's tally (JSON)
    entries: dict[str, list[LedgerEntry]] = defaultdict(list)
    notices: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in items:
        kind = item.get("type")
        if kind == "CASE" and item.get("tally") is not None:
            headers[str(item["case_id"])] = str(item["tally"])
        elif kind == "LEDGER":
            entries[str(item["case_id"])].append(LedgerEntry.model_validate(item))
        elif kind == "NOTICE":
            notices[str(item["case_id"])].append(item)
    return sorted(case_id for case_id, tally in headers.items()
                  if CaseTally.model_validate_json(tally) != CaseTally.fold(entries[case_id], notices[case_id]))
