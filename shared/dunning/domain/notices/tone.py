"""The TONE rules: no threat, shaming, insult or false authority in anything a customer reads.

A notice may say what is owed, by when, and, neutrally, that an account may be referred for legal
review; it may never threaten arrest, tell (or say it will tell) an employer, family, friends or
contacts, visit a home, shame in public, blacklist, sue, insult or pose as an authority. Each rule
has a stable name (``arrest``, ``employer``, ...) that the ledger shows instead of the text.

Text is compared in a normal form, so the usual disguises do not hide a phrase: case, full-width
letters, accents, Cyrillic or Greek look-alikes, traditional characters, zero-width characters,
punctuation or spaces between letters ("a r r e s t", "a.r.r.e.s.t", "通-讯-录"), digits and
symbols for letters ("arr3st", "j@il") and stretched letters ("arrrrest"). Links and e-mail
addresses are left out (a signed token is random letters). Not caught: spaces at only some gaps
("arre st"), homophones and pinyin.

Mentions of third parties, a home visit, a lawsuit or a blacklist are threats only when not denied:
"we will not contact your employer" and "您的家人无需承担" pass. A denial counts when it stands just
before the action ("will not contact", "不会联系") or, for the address book and emergency contacts,
anywhere in the sentence except in a condition ("if you do not pay", "再不还款"). Arrest, shaming,
insults, violence, ultimatums and false authority are never acceptable, denied or not.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from dunning.domain.notices.tone_lexicon import (
    CONTACT_VERBS_ZH,
    LEGAL_WORDS,
    LEXICON,
    TARGETS_EN,
    TARGETS_ZH,
    Entry,
    Negation,
)

TIME_BARRED_RULE = "legal_time_barred"

# ---------------------------------------------------------------------------- normal form

_CJK = "\u3400-\u9fff\uf900-\ufaff"
_ZERO_WIDTH = re.compile("[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
_LINK = re.compile(r"(?:https?://|www\.)\S+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Three or more lone characters with separators between them: "a r r e s t", "p.o.l.i.c.e".
_SPACED = re.compile(rf"(?<![a-z0-9@$])[a-z0-9@$](?:[^a-z0-9{_CJK}]{{1,3}}[a-z0-9@$](?![a-z0-9])){{2,}}")
_INTRA = re.compile(r"(?<=[a-z0-9])[.\-_*'’‘`·•~^+]+(?=[a-z0-9])")
_TOKEN = re.compile(r"[@$]?[a-z0-9]+(?:[@$!|]+[a-z0-9]+)*")
# "1" stands for i or l: it becomes the dotless ı, which the patterns read as either.
_ONE = "ı"
_LEET = {"0": "o", "1": _ONE, "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i", "|": "l"}
_SENTENCE = re.compile(r"[.!?;:](?=\s|$)|[。！？；：\n]")
_OTHER = re.compile(rf"[^a-z0-9{_ONE}{_CJK}\n]+")
_STRETCH = re.compile(rf"([a-z{_ONE}])\1{{2,}}")

# Look-alikes folded into what the rules are written in: traditional forms of the characters the
# Chinese rules use, and Cyrillic and Greek letters that pass for Latin ones ("аrrest").
_FOLD_FROM = (
    "訊錄緊聯繫執單親屬鄰門報員來會徵監獄訴師務開網傳讓後負臉騙賴無恥廢敗類給話電絡強凍結劃資產還錢們領導闆學區發貼殺斷見輩業"
    "機關檢對處戶條勞裡裏說護記種讀長獲罰鬧麼氣兒聽難紅燒頭"
    "асеіјорѕухвкмнтαβεικνορτυχ"
)
_FOLD_TO = (
    "讯录紧联系执单亲属邻门报员来会征监狱诉师务开网传让后负脸骗赖无耻废败类给话电络强冻结划资产还钱们领导板学区发贴杀断见辈业"
    "机关检对处户条劳里里说护记种读长获罚闹么气儿听难红烧头"
    "aceijopsyxbkmhtabeiknoptux"
)
_FOLD = str.maketrans(_FOLD_FROM, _FOLD_TO)
_FOLDABLE = re.compile(f"[{_FOLD_FROM}]")
_ACCENTED = re.compile("[\u00c0-\u024f\u1e00-\u1eff]")
_LEETABLE = re.compile(r"[a-z][0-9@$!|]|[0-9@$!|][a-z]")


def _join_spaced(match: re.Match[str]) -> str:
    """"a r r e s t" -> "arrest"; where the gaps differ, the wider ones part words
    ("p a y   n o w" -> "pay now")."""
    run = match.group()
    gaps = re.findall(r"[^a-z0-9@$]+", run)
    narrow = min(len(g) for g in gaps)
    return re.sub(r"[^a-z0-9@$]+", lambda g: "" if len(g.group()) == narrow else " ", run)


def _unleet(token: str) -> str:
    if not any(c.isalpha() for c in token) or token.isalpha():
        return token
    return "".join(_LEET.get(c, c) for c in token)


def normal_forms(text: str) -> list[str]:
    """The text in lower case with disguises undone: one form, or three when a letter is stretched
    ("aaa" read as "a", "aa" and as written)."""
    base = unicodedata.normalize("NFKC", text).casefold()
    if _ACCENTED.search(base):  # "arrêsted": the marks go, the letters stay
        base = unicodedata.normalize("NFC", "".join(c for c in unicodedata.normalize("NFD", base)
                                                     if not unicodedata.combining(c)))
    if _FOLDABLE.search(base):
        base = base.translate(_FOLD)
    base = _ZERO_WIDTH.sub("", base)
    base = _LINK.sub(" ", base)
    base = _SPACED.sub(_join_spaced, base)
    base = _INTRA.sub("", base)
    form = _TOKEN.sub(lambda m: _unleet(m.group()), base) if _LEETABLE.search(base) else base
    form = _SENTENCE.sub("\n", form)
    form = _OTHER.sub(" ", form)
    form = re.sub(r" *\n[\n ]*", "\n", form).strip()
    if not _STRETCH.search(form):
        return [form]
    return sorted({form, _STRETCH.sub(r"\1\1", form), _STRETCH.sub(r"\1", form)})


# ---------------------------------------------------------------------------- patterns


def _compile(*sources: str) -> re.Pattern[str]:
    """Lexicon regexes -> one pattern over the normal form, matching any of them: Chinese characters
    may have spaces between them (the normal form has one space between English words), and English
    words stand whole ("police", not "policy")."""

    def one(source: str) -> str:
        if "[" in source:  # letters are rewritten below, which a [class] would not survive
            raise ValueError(f"tone lexicon entries use (?:a|b), not [classes]: {source!r}")
        body = source.replace("i", f"[i{_ONE}]").replace("l", f"[l{_ONE}]")
        return re.sub(rf"(?<=[{_CJK}])(?=[{_CJK}])", " *", body)

    return re.compile(rf"(?<![a-z0-9])(?:{'|'.join(one(s) for s in sources)})(?![a-z0-9])")


def _alternation(words: tuple[str, ...]) -> str:
    return "|".join(sorted(words, key=len, reverse=True))


# Denials. English: within the three words before the action. Chinese: right before it.
_NEG_EN = re.compile(
    r"(?<![a-z])(?:not|never|no|nor|neither|without|wont|dont|doesnt|didnt|cannot|cant|wouldnt|"
    r"shouldnt|isnt|arent|nobody|nothing)(?![a-z])"
)
_NEG_ZH_BEFORE = re.compile(
    r"(?:不会|不再|绝不|决不|从不|从未|并不|不得|禁止|严禁|无需|不需要|不用|不必|没有|没|未|不|无权)"
    r"(?:会|会再|再|主动|去|到|向|对|擅自|随意|轻易|派人|派人去|派人到|打扰)? *$"
)
_NOT_A_DENIAL_ZH = re.compile(r"(?:不得不|不惜)(?:会|主动|再|去|到|向|对|派人)? *$")
# Conditions carry a negation that is not a denial: "if you do not pay", "再不还款".
_CONDITION = re.compile(
    r"(?:if|unless|until) (?:\w+ ){0,3}?(?:do not|dont|does not|doesnt|cannot|cant|fail to|refuse to|"
    r"will not|wont)(?: \w+)?"
    r"|(?:再|如|若|如果|要是|假如|倘若|一旦)不|不(?:还|付|交|处理|理会|配合|回复|接)|不然|要不|否则"
)


def _sentence_before(text: str, start: int) -> str:
    return text[:start].rsplit("\n", 1)[-1]


def _denied_near(text: str, start: int) -> bool:
    """A denial just before the action: "we will not contact", "我们不会联系"."""
    before = _CONDITION.sub(" ", _sentence_before(text, start))
    words = before.split()[-3:]
    if any(_NEG_EN.fullmatch(w) for w in words) and not any(w.startswith("hesita") for w in words):
        return True
    return bool(_NEG_ZH_BEFORE.search(before)) and not _NOT_A_DENIAL_ZH.search(before)


# The customer is the one acting ("you may wish to talk to your family"), not the collector.
_CUSTOMER_ACTS = re.compile(
    r"(?<![a-z])(?:you|please)(?: (?!us |we )\w+){0,3} *$"
    r"|(?:您|你)(?:也)?(?:可以|可|不妨|能)[^我]{0,4}$|(?:请您|建议您)[^我]{0,4}$"
)


def _denied_in_sentence(text: str, start: int, end: int) -> bool:
    """A denial anywhere in the sentence but in a condition: "we never use your address book"."""
    head = _sentence_before(text, start)
    tail = text[end:].split("\n", 1)[0]
    sentence = _CONDITION.sub(" ", f"{head} {tail}")
    return bool(_NEG_EN.search(sentence) or re.search(r"不|没|未|无需|禁止|严禁", sentence))


@dataclass(frozen=True)
class _Pattern:
    rule: str
    pattern: re.Pattern[str]
    negation: Negation
    group: str | None = None  # the named group that must not be empty ("neg" marks a denial inside)
    customer_may: bool = False  # the customer may do this themselves ("talk to your family")


def _contact_patterns() -> list[_Pattern]:
    """"<verb> [filler] your <target>" and "your <target> will be told / will know", each language."""
    out: list[_Pattern] = []
    for rule, (verbs, targets) in TARGETS_EN.items():
        alt = _alternation(targets)
        verb_first = (
            rf"(?:{_alternation(verbs)})(?: (?:all|every|each|of|the|one|in|at|and|or|to|with|about|"
            rf"everyone|everybody|people|members|this|it|him|her|them|you)){{0,3}} your(?: \w+){{0,2}}? (?:{alt})"
        )
        target_first = (
            rf"your(?: \w+){{0,2}}? (?:{alt})(?: (?:and|or) (?:your )?\w+(?: \w+)?)?(?: members)? "
            rf"(?:will|shall|would|may|might|could|can|are going to|is going to|gonna|are about to|"
            rf"is about to|get|gets|are|is)(?P<neg> not| never)?(?: (?:all|also|soon|then|surely|now|certainly))?"
            rf"(?: be)? (?:notified|told|informed|contacted|called|visited|messaged|emailed|texted|alerted|"
            rf"know|find out|hear|learn|see|receive|get a call|getting calls|hearing|learning|finding out)"
        )
        out.append(_Pattern(rule, _compile(verb_first), Negation.NEAR, customer_may=True))
        out.append(_Pattern(rule, _compile(target_first), Negation.INSIDE, "neg"))
    for rule, targets in TARGETS_ZH.items():
        alt = _alternation(targets)
        filler = "(?:你|您|的|所有|全部|每个|每一个|各位|身边|以及|和|及|家里|里|中|上|们)*"
        verb_first = rf"(?:{_alternation(CONTACT_VERBS_ZH)}){filler}(?:{alt})"
        target_first = (
            rf"(?:{alt})(?:里|中|上|的)*(?:人|每个人|所有人|同事|领导|朋友|好友|亲友)?"
            rf"(?:都|也|全都|全|马上|很快|就|立刻)*(?:会|将|将会|要)?(?P<neg>不会|不|没有|没)?(?:会|将)?"
            rf"(?:知道|收到|接到|看到|得知|被通知|被联系|被告知|听说)"
        )
        out.append(_Pattern(rule, _compile(verb_first), Negation.NEAR, customer_may=True))
        out.append(_Pattern(rule, _compile(target_first), Negation.INSIDE, "neg"))
    return out


def _lexicon_patterns(entries: tuple[Entry, ...]) -> list[_Pattern]:
    """One pattern per rule and kind of denial: a few dozen searches of the text, not hundreds."""
    grouped: dict[tuple[str, Negation], list[str]] = {}
    for entry in entries:
        grouped.setdefault((entry.rule, entry.negation), []).append(entry.regex)
    return [_Pattern(rule, _compile(*regexes), negation) for (rule, negation), regexes in grouped.items()]


_PATTERNS: tuple[_Pattern, ...] = (*_lexicon_patterns(LEXICON), *_contact_patterns())
_LEGAL_PATTERN = _Pattern(TIME_BARRED_RULE, _compile(*LEGAL_WORDS), Negation.NONE)


class ToneRule(StrEnum):
    """Every rule name the tone check can report, in the order findings are listed."""

    ARREST = "arrest"
    EMPLOYER = "employer"
    THIRD_PARTY = "third_party"
    HOME_VISIT = "home_visit"
    SHAMING = "shaming"
    BLACKLIST = "blacklist"
    LAWSUIT = "lawsuit"
    ULTIMATUM = "ultimatum"
    INSULT = "insult"
    VIOLENCE = "violence"
    FALSE_AUTHORITY = "false_authority"
    LEGAL_TIME_BARRED = TIME_BARRED_RULE


def _fires(p: _Pattern, text: str) -> bool:
    for match in p.pattern.finditer(text):
        if p.negation is Negation.INSIDE and p.group is not None and match.group(p.group):
            continue
        if p.negation is Negation.NEAR and _denied_near(text, match.start()):
            continue
        if p.customer_may and _CUSTOMER_ACTS.search(_sentence_before(text, match.start())):
            continue
        if p.negation is Negation.SENTENCE and _denied_in_sentence(text, match.start(), match.end()):
            continue
        return True
    return False


def tone_rules(text: str, *, time_barred: bool = False) -> list[ToneRule]:
    """The tone rules ``text`` breaks, each once, in ToneRule order; empty means the tone is fine.

    ``time_barred``: the debt can no longer be enforced in court, so any mention of legal action is
    a threat the lender cannot carry out (rule ``legal_time_barred``).
    """
    forms = normal_forms(text)
    fired: set[str] = set()
    for p in (*_PATTERNS, _LEGAL_PATTERN) if time_barred else _PATTERNS:
        if p.rule not in fired and any(_fires(p, form) for form in forms):
            fired.add(p.rule)
    return [rule for rule in ToneRule if rule.value in fired]


__all__ = ["TIME_BARRED_RULE", "ToneRule", "normal_forms", "tone_rules"]
