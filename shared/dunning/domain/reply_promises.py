"""Promises in a reply: a pay verb tied to a day the customer commits to, and the amount offered (pure, no I/O).

``find_promise`` reads one ``Reading`` (the reply's clauses, dates, amounts and pay verbs, found once) and
returns the first date that is a commitment, with the rule that fired and whether it was asked as a
question. What is and is not a promise is described in ``intents``; dates are ``reply_dates``', amounts
``reply_amounts``'.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from dunning.domain.lazy_regex import lazy
from dunning.domain.reply_amounts import AmountMention, amount_mentions, bare_amount_at
from dunning.domain.reply_dates import DateMention, DateOrder, date_mentions
from dunning.domain.reply_rules import Rule, negated, rules
from dunning.domain.reply_text import Clause, clauses, has_cjk

_PAY_VERBS = rules(
    ("en:pay",
     r"\b(?:pay(?! ?(?:day|check|cheque|date|period|stub|slip|rise|raise)\b)|paying|repay|settle|settling|transfer"
     r"|transferring|wire|sending|mail|clear|cover|deposit)\b|\bsend\b(?! me\b| you proof)"
     r"|\b(?:make|making|do|send|sending|submit|schedule|scheduled|set up|put in) (?:a |the |my |another |the next "
     r"|the full |one |this month's )?(?:full |partial |small |first |next )?payment\b"
     r"|\bpayment (?:on|by|this|next|tomorrow|today|of|will|should|coming|for)\b"
     r"|\bexpect (?:a |the |my )?(?:payment|it|the money)\b"),
    ("en:have-money",
     r"\b(?:have|get|bring|give) (?:you |u )?(?:the |your |some |that )?(?:money|cash|funds|it to you|it in"
     r"|it paid|it sorted|the payment)\b|\byou(?:'ll| will) (?:have|get|receive|see) (?:it|the money|your money"
     r"|a payment|payment|the payment|something|the rest)\b|\bcatch up\b|\bbring (?:it|the account|my account|this)"
     r" (?:current|up to date)\b|\btake care of (?:it|this|that|the (?:balance|bill|payment|rest))\b"
     r"|\bhandle (?:it|this|that|the (?:balance|payment))\b|\bsort (?:it|this) out\b|\b(?:it|this|the (?:balance"
     r"|bill|loan|debt|account|amount|rest)) (?:will|'ll|should) be (?:paid|settled|cleared|taken care of)\b"),
    ("en:afford", r"\b(?:afford|manage)\b(?= (?:to|[$¥0-9]|it|this|that))"),
    ("en:do-amount",
     r"\b(?:can|could|will|'ll|able to)(?: we| i)? do (?=[$¥]|[0-9]|(?:a|one|two|three|four|five|fifty|hundred) )"),
    ("en:extend",
     r"\b(?:give|gimme|allow|grant) (?:me |us )?(?:until|to|time until|an extension (?:until|to))\b"
     r"|\bwait (?:until|for me until|to)\b|\bhold off (?:until|on)\b|\bextension (?:until|to)\b"
     r"|\b(?:push|move) (?:it|the payment|the due date|my payment) (?:back )?to\b"),
    ("zh:pay",
     r"还(?=可以吗|行吗|行不行|可不可以|好吗|可以不|可以么|行么|ok)"
     r"|(?<![已经没未不])(?:还款|还钱|还清|还上|还掉|还给|还完|付款|付清|支付|转账|转给|转过去|打款|打钱|打过去"
     r"|打给你们"
     r"|汇款|缴|交钱|交上|补上|补交|结清|处理|搞定|凑齐|凑够|筹到)"
     r"|(?<![已经没未不])还(?![了过没是有不在会要得行好可能以早很挺差剩欠需想])"
     r"|(?<![已经没未不])付(?![了过不出])|转(?=[0-9一二两三四五六七八九]|钱|款)"),
    ("zh:extend", r"宽限到|延期到|延迟到|推迟到|推到|延到|缓到|拖到|等到|等我到|放到|改到"),
)
_AUXILIARY = lazy(r"\b(?:will|'ll|can|could|gonna|going to|shall)\b|会|能")
_HEDGE = lazy(
    r"\b(?:maybe|might|may(?! i\b| we\b)|perhaps|possibly|hopefully|hope|probably|try|trying|attempt|not sure"
    r"|i think|i guess"
    r"|should be able|if i can|if possible|depends|depending)\b|可能|也许|或许|尽量|争取|看看|试试|试着|应该|大概|估计"
    r"|说不定|希望|要是|看情况"
)
_POLITE_CONDITION = lazy(
    r"\bif (?:that's|that is|it's|it is|this is) (?:ok|okay|alright|fine|possible)\b|\bif that works\b"
    r"|\bif you don't mind\b|如果可以的?话?|如果行的?话?"
)
_PAST_OR_OBLIGATION = lazy(
    r"\b(?:was|were) (?:supposed|going|meant|planning) to\b|\b(?:tried|forgot|meant|wanted|planned"
    r"|intended) to (?:\w+ )?(?:pay|send|make|transfer|settle|get)\b"
    r"|\b(?:do|did|does|must|should|have) i (?:have|need|got) to\b|\bwhen (?:do|should|must|is|was|will)\b"
    r"|\b(?:is|was) (?:it|this|that|the payment|my payment|payment) due\b|\bdue (?:on|by|date)\b|\bdo i owe\b"
    r"|\bwhat (?:happens|would happen|will happen)\b|\bif i (?:don't|do not|can't|cannot|miss)\b"
    r"|(?:要|需要|必须|得)(?:在)?[^,.!?]{0,8}(?:还|付)[^,.!?]{0,4}[吗么]|什么时候(?:要|需要)?还|哪天(?:要)?还"
    r"|最晚|截止|到期|应该是"
)
_ASK = lazy(
    r"\b(?:can|could|may) (?:i|we)\b|\b(?:how|what) about\b|\bis it (?:ok|okay|alright|possible|fine)\b|\bwould (?:it"
    r"|that) (?:be )?"
    r"(?:ok|okay|fine|alright|work)\b|\b(?:does|would) that work\b|\b(?:ok|okay|alright)$|\bcan you (?:give|wait"
    r"|let)\b|可以吗|行吗|行不行|可不可以|能不能|能否|好吗|可以不|可以么|行么|[吗么]$"
)
# "How about the 20th?", "Friday?", "15号可以吗": a date offered on its own, in answer to a notice about paying
_BARE_PROPOSAL = lazy(
    r"^(?:(?:how|what) about|can i do|could i do|maybe|is|would|does|ok|okay|so|then|and|or|on|by|the|works?|for you"
    r"|good|fine|alright|that|be|ok\?|可以吗|行吗|行不行|可不可以|好吗|可以不|可以么|行么|怎么样|如何|呢|吧|[\s?])*$"
)
_UNTIL = lazy(r"\b(?:until|before)\b|才|等到")
_NOT_UNTIL = lazy(r"\bnot (?:until|before)\b")
_PAY_TOPIC = lazy(r"\b(?:pay\w*|paid|money|payment|balance|amount)\b|还|付|钱")


@dataclass(frozen=True)
class Verb:
    """A pay verb in the reply ("pay", "send", "还", "转"), and where it is."""

    rule: Rule
    start: int
    end: int


@dataclass(frozen=True)
class Promise:
    """A day the customer commits to paying on, the amount offered if any, and the rule id that read it."""

    on: date
    amount: Decimal | None
    matched: str
    asked: bool


@dataclass
class Reading:
    """One reply, read once: its clauses, dates, amounts and pay verbs, shared by every rule."""

    text: str
    today: date
    order: DateOrder
    clauses: list[Clause] = field(default_factory=list)
    dates: list[DateMention] = field(default_factory=list)
    amounts: list[AmountMention] = field(default_factory=list)
    verbs: list[Verb] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.clauses = clauses(self.text)
        self.dates = date_mentions(self.text, self.today, self.order)
        # "I get paid Friday, I'll pay right away": "right away" is then, not today
        self.dates = [d for d in self.dates if not (d.adverb and any(
            not e.adverb and e.start < d.start and self._sentence_at(e.start) == self._sentence_at(d.start)
            for e in self.dates))]
        self.amounts = amount_mentions(self.text)
        found = [Verb(rule, m.start(), m.end()) for rule in _PAY_VERBS for m in rule.pattern.finditer(self.text)]
        self.verbs = sorted(found, key=lambda v: v.start)

    def _sentence_at(self, position: int) -> int:
        index = self.clause_of(position)
        return self.clauses[index].sentence if index >= 0 else -1

    def clause_of(self, position: int) -> int:
        for index, clause in enumerate(self.clauses):
            if clause.start <= position < clause.end:
                return index
        return -1

    def in_clause(self, index: int, items: Iterable[Verb]) -> list[Verb]:
        clause = self.clauses[index]
        return [v for v in items if clause.start <= v.start < clause.end]

    def dates_in(self, index: int) -> list[DateMention]:
        clause = self.clauses[index]
        return [d for d in self.dates if clause.start <= d.start < clause.end]

    def sentence_text(self, index: int) -> str:
        sentence = self.clauses[index].sentence
        return " ".join(c.text for c in self.clauses if c.sentence == sentence)

    def followed_by_question(self, index: int) -> bool:
        end = self.clauses[index].end
        return self.text[end:end + 2].lstrip()[:1] == "?"  # NFKC made "？" a "?"


def governing_verb(reading: Reading, index: int) -> tuple[int, Verb] | None:
    """The pay verb a date in clause ``index`` belongs to: in its clause, else a neighbour of the same sentence
    that has no date of its own ("I'll pay, on Friday", "15号，一定还")."""
    own = reading.in_clause(index, reading.verbs)
    if own:
        return index, own[0]
    sentence = reading.clauses[index].sentence
    for neighbour in (index - 1, index + 1):
        if 0 <= neighbour < len(reading.clauses) and reading.clauses[neighbour].sentence == sentence:
            verbs = reading.in_clause(neighbour, reading.verbs)
            if verbs and not reading.dates_in(neighbour):
                return neighbour, verbs[0]
    return None


def _blocked(reading: Reading, verb_index: int, verb: Verb, date_index: int) -> bool:
    """A hedge, the past or an obligation question: the customer has not committed to the day."""
    sentence = _POLITE_CONDITION.sub(" ", reading.sentence_text(date_index))
    if _HEDGE.search(sentence):
        return True
    return any(_PAST_OR_OBLIGATION.search(reading.clauses[i].text) for i in {verb_index, date_index})


def _promise_at(reading: Reading, mention: DateMention, paid_clauses: set[int]) -> tuple[str, bool] | None:
    """The verb rule and whether it was asked, if this date is a day the customer commits to paying on."""
    index = reading.clause_of(mention.start)
    if index < 0:
        return None
    clause = reading.clauses[index]
    asked = bool(_ASK.search(clause.text)) or reading.followed_by_question(index)
    governing = governing_verb(reading, index)
    if governing is None:
        # "haven't paid yet, but I will on Friday", "明天还不上，后天行吗", "I'll pay, but not until Friday";
        # not "did you get my payment on the 10th?", which says when it was paid
        rest = (clause.text[: mention.start - clause.start] + " " + clause.text[mention.end - clause.start:]).strip()
        bare_offer = asked and len(reading.clauses) == 1 and _BARE_PROPOSAL.match(rest) is not None
        if (not (_PAY_TOPIC.search(reading.text) or bare_offer) or _PAST_OR_OBLIGATION.search(clause.text)
                or index in paid_clauses):
            return None
        if _HEDGE.search(_POLITE_CONDITION.sub(" ", reading.sentence_text(index))):
            return None
        if _NOT_UNTIL.search(clause.text[: mention.start - clause.start]):
            return "en:not-until", False
        if _AUXILIARY.search(clause.text) and not negated(clause.text[: mention.start - clause.start]):
            return ("en:will" if not has_cjk(clause.text) else "zh:will"), asked
        if asked:
            return ("en:ask" if not has_cjk(clause.text) else "zh:ask"), True
        return None
    verb_index, verb = governing
    if _blocked(reading, verb_index, verb, index):
        return None
    verb_clause = reading.clauses[verb_index]
    if negated(verb_clause.text[: verb.start - verb_clause.start]):
        between = reading.text[verb.end: mention.start] if verb.end <= mention.start else ""
        if _UNTIL.search(between):
            return f"{verb.rule.name[:2]}:not-until", False
        return None
    return verb.rule.name, asked


def _amount_for(reading: Reading, verb_index: int | None, verb: Verb | None, extra_index: int | None,
                paid_clauses: set[int]) -> Decimal | None:
    """The amount the customer offers: after the pay verb in its clause first, then elsewhere in that clause or
    the date's clause; never one in a clause that says it was already paid."""
    if verb is not None and verb_index is not None and verb_index not in paid_clauses:
        clause = reading.clauses[verb_index]
        after = [a for a in reading.amounts if verb.end <= a.start < clause.end]
        if after:
            return after[0].value
        bare = bare_amount_at(reading.text, verb.end)
        if bare is not None and bare.end <= clause.end:
            return bare.value
    for index in (verb_index, extra_index):
        if index is None or index in paid_clauses:
            continue
        clause = reading.clauses[index]
        inside = [a for a in reading.amounts if clause.start <= a.start < clause.end]
        if inside:
            return inside[0].value
    return None


def find_promise(reading: Reading, paid_clauses: set[int]) -> Promise | None:
    for mention in reading.dates:
        if mention.on is None:
            continue
        found = _promise_at(reading, mention, paid_clauses)
        if found is None:
            continue
        verb_rule, asked = found
        index = reading.clause_of(mention.start)
        governing = governing_verb(reading, index)
        verb_index, verb = governing if governing else (None, None)
        amount = _amount_for(reading, verb_index, verb, index, paid_clauses)
        if amount is None and verb is None:  # "Friday ok? I'll pay $60"
            amount = offered_amount(reading, paid_clauses)
        prefix = "promise-ask" if asked else "promise"
        return Promise(mention.on, amount, f"{prefix}:{verb_rule}+{mention.rule}", asked)
    return None


def offered_amount(reading: Reading, paid_clauses: set[int]) -> Decimal | None:
    """An amount offered with no date ("can I pay $50 a month", "先还五百"): a plan conversation starts from it."""
    for verb in reading.verbs:
        index = reading.clause_of(verb.start)
        if index < 0 or index in paid_clauses:
            continue
        clause = reading.clauses[index]
        if negated(clause.text[: verb.start - clause.start]):
            continue
        amount = _amount_for(reading, index, verb, None, paid_clauses)
        if amount is not None:
            return amount
    return None
