"""What a customer's reply asks us to do: the intent of an inbound SMS or email, in English or Chinese.

The reader is rules, not a model: every result names the rule that fired (``matched``, a stable id
such as ``en:leave-me-alone`` or ``promise:zh:pay+zh:month-part``), never the customer's words, so
the ledger can say why a case changed and a person can check it. The regular expressions are
compiled once per process, on the first reply read (``lazy_regex``: a Lambda that only imports the
reader pays nothing); after that a reply takes under a millisecond.

The words are in ``reply_rules`` (the whole-message keywords and one table of phrase rules per intent),
promise finding in ``reply_promises``; this module reads a reply with both and decides between what
they found.

Text is first put into one canonical form (``reply_text.normalise``: full-width and traditional
characters, curly apostrophes, emoji, "stooop", "tmrw", "u", "cant", "unsubcribe"), then split into
sentences and comma clauses, the scope of a negation and of a promise.

Intents, and the order in which they win when several are present (every other one found is kept,
in this order, in ``secondary``):

1. STOP -- a revocation of consent, in any reasonable words: the carrier keywords as the whole
   message (STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, OPTOUT, REVOKE; 退订, TD, T, R, 拒收, 取消,
   停止; "S T O P", "Stop!!", "stpo"), and free text: "please stop texting me", "quit texting me",
   "leave me alone", "don't contact me again", "take me off your list", "no more texts", "I revoke
   consent", "cease and desist", "别烦我了", "不要再发了", "别再打电话了", "拉黑", 退订 anywhere.
   Keywords inside a sentence mean nothing ("the end of the month", "TD bank"). A stop wins over
   everything, even "stop texting me, I already paid" (PAID is kept in ``secondary``): honouring an
   opt-out we did not need to is cheap, missing one is not. ``stop_channels`` names the channels
   the words name ("stop calling me" -> CALL), empty when they name none. A threat that is
   conditional ("if you text me again I'll report you", "再打电话骚扰我，我就去投诉") is a COMPLAINT,
   not a STOP.
2. BEREAVEMENT -- the customer or a close relative has died ("my husband passed away", 去世, 过世):
   automated contact stops and a specialist takes the case.
3. WRONG_NUMBER -- the sender is not the debtor ("who is this? I don't know any John Smith", 打错了);
   nothing else they say is about the debt, and writing again would disclose it to a third party.
4. DISPUTE -- the debt is questioned, including requests for proof ("not my debt", "I never took
   this loan", "send me proof / validation", "is this a scam", 不是我借的, 借款合同, 把合同发给我): held
   for review even if the customer also offers to pay.
5. COMPLAINT -- dissatisfaction or a threat to complain ("I'll report you to the CFPB", "this is
   harassment", "my lawyer", 投诉, 举报, 12378, 暴力催收): a specialist answers.
6. HARDSHIP -- a circumstance (job loss, illness, hospital, divorce, "money is tight", 手头紧, 周转不过来,
   失业), an inability ("I can't afford it", 还不起), or a request for a plan ("can we work something
   out", "pay in installments", 分三期, 能不能分期). A vulnerable customer is offered a plan rather than
   held to a promise, so a date they could manage is carried on the result ("I lost my job, can I
   pay on the 15th?" -> HARDSHIP, 15th). But an inability or an extension that comes with a date is
   a reschedule, i.e. a PROMISE ("I can't pay today but I can on Friday", "can you give me till the
   15th", "明天还不上，后天行吗").
7. PROMISE -- a pay verb in the future sense tied to a date in the same clause (or a neighbouring
   clause of the same sentence): "I'll pay Friday", "can do $150 on payday the 15th", "月底一定还清",
   "15号还". Never a promise:
   - a negated pay ("I can't pay tomorrow", "明天还不上") -- except "not until X", which promises X;
   - a hedge ("maybe Friday", "I'll try to pay Friday", "尽量月底", "可能下周");
   - the past or an obligation question ("I was going to pay Friday", "is it due on the 15th?",
     "15号之前要还吗");
   - a date with no pay verb ("I get paid Friday", "call me tomorrow").
   A question that *proposes* a date ("can I pay on the 15th?", "15号还可以吗", "Friday ok?") is a
   promise: the customer offers a day, the written confirmation lets them correct it; its rule id
   says so (``promise-ask:...``) and its confidence is low.
8. PAID -- a claim of payment ("I already paid this yesterday", "check is in the mail", 已还, 转过去了),
   never a negated one ("I haven't paid yet"). Checked against the payment feed later.
9. CALL_ME -- a request for a call or a person ("please call me", "can I talk to someone",
   请给我打个电话, 转人工); never a negated one ("don't call me" is a STOP).
10. HELP -- the HELP/INFO/帮助 keywords, and questions about who we are or how to pay ("who is this?",
    "how do I pay", 你们是哪里, 怎么还款): the help reply answers them.
11. START -- START, UNSTOP, RESUME, 开始, 恢复 as the whole message, "opt me back in", "you can text me".
12. ACCEPT -- a whole-message yes (YES, Y, OK, sure, 👍, 好的, 可以, 行, 同意, 接受) or "I accept the plan",
    "同意分期". The reader only reports it: whether a plan is on offer is the case's business. "YES"
    is also a carrier opt-in word, so START is in its ``secondary``.
13. OTHER -- anything else, queued for a person.

``promise_date`` and ``promise_amount`` are set on a PROMISE, on a HARDSHIP (the date and amount the
customer could manage, if any), and on a STOP, DISPUTE, COMPLAINT or PAID that also promised (PROMISE
then in ``secondary``); never on a WRONG_NUMBER or BEREAVEMENT (not the debtor's word). Dates: see
``reply_dates``; amounts: ``reply_amounts`` (Decimal, no currency: the account's applies).

``confidence`` is "high" unless the reply was read from a weaker cue: OTHER, a keyword typo, a promise
that is a question, a yes in a sentence, or several of the case-changing intents at once -- a
person should look as well.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict

from dunning.domain.lazy_regex import lazy
from dunning.domain.models import Channel, DecimalStr
from dunning.domain.reply_amounts import first_amount
from dunning.domain.reply_dates import date_order, first_date, local_today
from dunning.domain.reply_promises import Promise, Reading, find_promise, governing_verb, offered_amount
from dunning.domain.reply_rules import (
    ACCEPT_RULES,
    BEREAVEMENT_RULES,
    CALL_ME_RULES,
    CO_OCCURRENCE,
    COMPLAINT_RULES,
    DISPUTE_RULES,
    EN_CESSATION,
    EN_CONTACT,
    HARDSHIP_RULES,
    HELP_KEYWORDS,
    HELP_RULES,
    PAID_RULES,
    START_KEYWORDS,
    START_RULES,
    STOP_KEYWORDS,
    STOP_RULES,
    WRONG_NUMBER_RULES,
    YES_WORDS,
    ZH_KEYWORDS,
    Rule,
    accept_keyword,
    negated,
    stop_typo,
)
from dunning.domain.reply_text import has_cjk, keyword_form, normalise

__all__ = [
    "Classification",
    "Confidence",
    "Intent",
    "Language",
    "classify",
    "extract_promise_amount",
    "extract_promise_date",
    "local_today",
]


class Intent(StrEnum):
    STOP = "STOP"
    START = "START"
    HELP = "HELP"
    PAID = "PAID"
    PROMISE = "PROMISE"
    HARDSHIP = "HARDSHIP"
    DISPUTE = "DISPUTE"
    WRONG_NUMBER = "WRONG_NUMBER"
    CALL_ME = "CALL_ME"
    BEREAVEMENT = "BEREAVEMENT"
    COMPLAINT = "COMPLAINT"
    ACCEPT = "ACCEPT"
    OTHER = "OTHER"


Language = Literal["en", "zh"]
Confidence = Literal["high", "low"]


class Classification(BaseModel):
    """The intent of one reply. ``matched`` names the rule that fired (for the ledger), never the text."""

    model_config = ConfigDict(frozen=True)

    intent: Intent
    promise_date: date | None = None
    promise_amount: DecimalStr | None = None
    language: Language
    matched: str
    secondary: tuple[Intent, ...] = ()
    evidence: tuple[str, ...] = ()  # every rule id that fired, the primary's first
    confidence: Confidence = "high"
    stop_channels: tuple[Channel, ...] = ()


# --------------------------------------------------------------------------- reading the intents


@dataclass(frozen=True)
class _Fired:
    rule: Rule
    start: int
    end: int


def _fired(reading: Reading, rules: list[Rule]) -> list[_Fired]:
    out: list[_Fired] = []
    for rule in rules:
        for m in rule.pattern.finditer(reading.text):
            if rule.negatable:
                index = reading.clause_of(m.start())
                prefix = reading.text[reading.clauses[index].start: m.start()] if index >= 0 else ""
                if negated(prefix):
                    continue
            out.append(_Fired(rule, m.start(), m.end()))
            break
    return out


_CASE_CHANGING = frozenset(
    {Intent.BEREAVEMENT, Intent.WRONG_NUMBER, Intent.DISPUTE, Intent.HARDSHIP, Intent.PROMISE, Intent.PAID}
)
_PRIORITY = (Intent.STOP, Intent.BEREAVEMENT, Intent.WRONG_NUMBER, Intent.DISPUTE, Intent.COMPLAINT,
             Intent.HARDSHIP, Intent.PROMISE, Intent.PAID, Intent.CALL_ME, Intent.HELP, Intent.START, Intent.ACCEPT)
_NOT_THE_DEBTORS_WORD = frozenset({Intent.WRONG_NUMBER, Intent.BEREAVEMENT})
_CHANNEL_WORDS = (
    (Channel.SMS, lazy(r"text|messag|sms|短信|信息|消息|发")),
    (Channel.CALL, lazy(r"call|phone|ring|电话|打|来电|致电")),
    (Channel.EMAIL, lazy(r"e-?mail|邮件|邮箱")),
)
_CAPITALISED_NAME = lazy(r"\b(?:I'?m|I am|[Tt]his is) not ([A-Z][a-z]+)\b(?! (?:able|sure|going))")


def _stop_channels(reading: Reading, stops: list[_Fired]) -> tuple[Channel, ...]:
    """Every channel named from the first stop on ("stop texting and emailing me" names both): an
    opt-out we did not need is cheap, a missed one is not."""
    tail = reading.text[min(f.start for f in stops):]
    return tuple(channel for channel, words in _CHANNEL_WORDS if words.search(tail))


@dataclass
class _Findings:
    fired: dict[Intent, list[_Fired]] = field(default_factory=dict)
    secondary_only: set[Intent] = field(default_factory=set)  # explained by another intent: never primary

    def add(self, intent: Intent, items: list[_Fired]) -> None:
        if items:
            self.fired[intent] = items


def _findings(reading: Reading, original: str) -> _Findings:
    findings = _Findings()
    for intent, rules in (
        (Intent.STOP, STOP_RULES), (Intent.BEREAVEMENT, BEREAVEMENT_RULES),
        (Intent.WRONG_NUMBER, WRONG_NUMBER_RULES), (Intent.DISPUTE, DISPUTE_RULES),
        (Intent.COMPLAINT, COMPLAINT_RULES), (Intent.HARDSHIP, HARDSHIP_RULES), (Intent.PAID, PAID_RULES),
        (Intent.CALL_ME, CALL_ME_RULES), (Intent.HELP, HELP_RULES), (Intent.START, START_RULES),
        (Intent.ACCEPT, ACCEPT_RULES),
    ):
        findings.add(intent, _fired(reading, rules))
    if Intent.STOP not in findings.fired:
        for index, clause in enumerate(reading.clauses):
            sentence = reading.sentence_text(index)
            cue = EN_CESSATION.search(sentence)
            if cue is not None and EN_CONTACT.search(sentence):
                findings.add(Intent.STOP, [_Fired(CO_OCCURRENCE, clause.start, clause.end)])
                break
    if Intent.WRONG_NUMBER not in findings.fired and _CAPITALISED_NAME.search(original):
        # "I'm not Maria": a name the sender says is not theirs
        name_rule = Rule("en:not-that-name", _CAPITALISED_NAME)
        findings.add(Intent.WRONG_NUMBER, [_Fired(name_rule, 0, 0)])
    return findings


_PAID_ON_A_PAST_DAY = Rule("paid-on-a-past-day", lazy("$^"))


def _paid_by_past_date(reading: Reading, findings: _Findings) -> None:
    """A pay verb tied to a past day is a claim of payment: "我上周五还的", "sent it over yesterday"."""
    for mention in reading.dates:
        if not mention.past:
            continue
        index = reading.clause_of(mention.start)
        governing = governing_verb(reading, index) if index >= 0 else None
        if governing is None:
            continue
        verb_index, verb = governing
        clause = reading.clauses[verb_index]
        if not negated(clause.text[: verb.start - clause.start]):
            findings.add(Intent.PAID, [_Fired(_PAID_ON_A_PAST_DAY, verb.start, verb.end)])
            return


def _hardship_kinds(findings: _Findings) -> set[str]:
    return {f.rule.kind for f in findings.fired.get(Intent.HARDSHIP, [])}


def _settle_conflicts(findings: _Findings, promise: Promise | None) -> None:
    """Where one reading of the words explains another: a reschedule is a promise, an accepted plan an accept."""
    kinds = _hardship_kinds(findings)
    if promise is not None and kinds and kinds <= {"inability", "extension"}:
        del findings.fired[Intent.HARDSHIP]  # "can't pay today but Friday", "give me until the 15th"
    if Intent.ACCEPT in findings.fired and kinds and kinds <= {"plan"}:
        findings.secondary_only.add(Intent.HARDSHIP)  # "I accept the payment plan", "同意分期"
    if Intent.STOP in findings.fired:
        findings.fired.pop(Intent.CALL_ME, None)  # "stop calling me" asks for no call


def classify(text: str, now: datetime, time_zone: str, *, locale: str | None = None) -> Classification:
    """The intent of one inbound reply, with any promised date and amount (see the module docstring).

    ``now`` is an aware instant, ``time_zone`` the customer's IANA zone (dates are theirs), ``locale``
    their locale if known (it decides how "12/10" is read).
    """
    today = local_today(now, time_zone)
    normalised = normalise(text)
    keyword = keyword_form(text) or keyword_form(normalised)  # "👍" alone is "ok"
    language: Language = "zh" if has_cjk(normalised) or keyword in ZH_KEYWORDS else "en"
    if keyword in STOP_KEYWORDS:
        return Classification(intent=Intent.STOP, language=language, matched=f"keyword:{keyword.upper()}",
                              evidence=(f"keyword:{keyword.upper()}",))
    typo = stop_typo(keyword)
    if typo is not None:
        matched = f"keyword-typo:{typo.upper()}"
        return Classification(intent=Intent.STOP, language=language, matched=matched, evidence=(matched,),
                              confidence="low")
    reading = Reading(normalised, today, date_order(time_zone, locale))
    findings = _findings(reading, unicodedata.normalize("NFKC", text))
    if Intent.PAID not in findings.fired:
        _paid_by_past_date(reading, findings)
    paid = findings.fired.get(Intent.PAID, [])
    paid_clauses = {reading.clause_of(f.start) for f in paid}
    # "I made the payment this morning": the pay words inside a claim of payment promise nothing
    reading.verbs = [v for v in reading.verbs if not any(p.start <= v.start < p.end for p in paid)]
    promise = find_promise(reading, paid_clauses)
    _settle_conflicts(findings, promise)
    return _decide(reading, keyword, language, findings, promise, paid_clauses)


def _keyword_intent(keyword: str) -> tuple[Intent, str] | None:
    if keyword in HELP_KEYWORDS:
        return Intent.HELP, f"keyword:{keyword.upper()}"
    if keyword in START_KEYWORDS:
        return Intent.START, f"keyword:{keyword.upper()}"
    if accept_keyword(keyword):
        return Intent.ACCEPT, "keyword:YES" if keyword in YES_WORDS else "keyword:ACCEPT"
    return None


def _decide(reading: Reading, keyword: str, language: Language, findings: _Findings, promise: Promise | None,
            paid_clauses: set[int]) -> Classification:
    present = {intent: items[0].rule.name for intent, items in findings.fired.items()}
    if promise is not None:
        present[Intent.PROMISE] = promise.matched
    whole = _keyword_intent(keyword)
    if whole is not None and not present:
        intent, matched = whole
        secondary: tuple[Intent, ...] = (Intent.START,) if matched == "keyword:YES" else ()
        return Classification(intent=intent, language=language, matched=matched, secondary=secondary,
                              evidence=(matched,))
    ordered = [intent for intent in _PRIORITY if intent in present]
    candidates = [intent for intent in ordered if intent not in findings.secondary_only]
    if not candidates:
        return Classification(intent=Intent.OTHER, language=language, matched="none", confidence="low")
    primary = candidates[0]
    ordered.remove(primary)
    secondary = tuple(ordered)
    matched = present[primary]
    evidence = (matched, *(present[i] for i in ordered))
    promise_date: date | None = None
    amount: Decimal | None = None
    carries = primary in (Intent.PROMISE, Intent.HARDSHIP) or (
        Intent.PROMISE in secondary and primary not in _NOT_THE_DEBTORS_WORD)
    if promise is not None and carries:
        promise_date, amount = promise.on, promise.amount
    elif primary is Intent.HARDSHIP:
        amount = offered_amount(reading, paid_clauses)
    weak = any(f.rule.weak for f in findings.fired.get(primary, []))
    conflicting = primary is not Intent.STOP and len(_CASE_CHANGING.intersection({primary, *secondary})) > 1
    asked = primary is Intent.PROMISE and promise is not None and promise.asked
    confidence: Confidence = "low" if (weak or conflicting or asked or primary is Intent.ACCEPT) else "high"
    stop_channels = _stop_channels(reading, findings.fired[Intent.STOP]) if primary is Intent.STOP else ()
    return Classification(
        intent=primary, language=language, matched=matched, secondary=secondary, evidence=evidence,
        promise_date=promise_date, promise_amount=amount, confidence=confidence, stop_channels=stop_channels,
    )


# --------------------------------------------------------------------------- extraction helpers


def extract_promise_date(text: str, now: datetime, time_zone: str, *, locale: str | None = None) -> date | None:
    """The first date the text mentions, as the customer's local date (see ``reply_dates``).

    Never before the customer's local today; None when there is no usable date.
    """
    today = local_today(now, time_zone)
    found = first_date(normalise(text), today, date_order(time_zone, locale))
    return found.on if found else None


def extract_promise_amount(text: str) -> Decimal | None:
    """The first money amount in the text ("$50", "50元", "¥1,200.50", "五百"), as a Decimal; None if none."""
    return first_amount(normalise(text))
