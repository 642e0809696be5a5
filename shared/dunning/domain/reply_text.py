"""How a customer's reply is prepared before the reply reader looks at it (pure, no I/O).

People write replies on phones: full-width letters, curly apostrophes, "stooop", "tmrw", "u", "pls",
traditional characters, emoji. ``normalise`` folds all of that into one plain form so the rules in
``dunning.domain.intents`` can be written once, against canonical words:

1. NFKC (full-width "ＳＴＯＰ" and "１５号" become ASCII; "￥" becomes "¥"), curly apostrophes to "'",
   a few traditional characters to simplified (還→还, 號→号, 訂→订), case-folded;
2. a few emoji that carry a meaning become words ("🛑" stop, "👍" ok, "🙏" please); other emoji and
   pictographs become a sentence break (people use them as full stops);
3. letters repeated three times or more inside a word are squeezed to one ("stooop", "pleeease"), and
   English words written against Chinese get a space ("15号pay可以吗");
4. common shorthand and misspellings become the word they stand for ("tmrw" tomorrow, "u" you,
   "cant" can't, "unsubcribe" unsubscribe, "wensday" wednesday): a whole-token table, so "u" inside
   "usd" is untouched.

``clauses`` splits a normalised reply into sentences and, within them, comma clauses, which is the
scope the reader uses for negation ("明天还不上，后天行吗") and for tying a date to a pay verb.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from dunning.domain.lazy_regex import lazy

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u00b4": "'", "`": "'"})

# Replies from Hong Kong, Taiwan and overseas phones: only the characters the rules read.
_TRADITIONAL = str.maketrans(
    "還號訂錢發電話騷擾訴過經結轉帳賬給別煩個這禮週後錯認識難無業醫離請謝們為麼嗎說聯繫係約貸問題幫開關沒"
    "會對時間點將來裡兩萬塊見讓證據報銀監騙處實緊頭寬資療術斷遺喪當壓協減準確碼掛條廠閉員辭職換紀錄該統絡"
    "幾張單筆餘額繳費劃撥匯營運輕債務親爺媽歲終聽嚇脅罵態闆戶復歡嗯應該讀寫絕順託靠養醒護險邊麻煩擔憂趕網"
    "貨購訊簡幣權詐欺濟較衝擊罰聲響慮樣現馬錯爭取盡緩延產醫藥癌禍傷婦孕婚喪調漲貴虧倒閉",
    "还号订钱发电话骚扰诉过经结转账账给别烦个这礼周后错认识难无业医离请谢们为么吗说联系系约贷问题帮开关没"
    "会对时间点将来里两万块见让证据报银监骗处实紧头宽资疗术断遗丧当压协减准确码挂条厂闭员辞职换纪录该统络"
    "几张单笔余额缴费划拨汇营运轻债务亲爷妈岁终听吓胁骂态板户复欢嗯应该读写绝顺托靠养醒护险边麻烦担忧赶网"
    "货购讯简币权诈欺济较冲击罚声响虑样现马错争取尽缓延产医药癌祸伤妇孕婚丧调涨贵亏倒闭",
)

# Emoji whose meaning a reader would take as words; the rest are punctuation to us.
_EMOJI_WORDS = {
    "\U0001f6d1": " stop ",  # stop sign
    "\u26d4": " stop ",  # no entry
    "\U0001f6ab": " stop ",  # prohibited
    "\U0001f44d": " ok ",  # thumbs up
    "\U0001f44c": " ok ",  # OK hand
    "\u2705": " ok ",  # check mark button
    "\u2714": " ok ",  # heavy check mark
    "\U0001f64f": " please ",  # folded hands
}

# a run inside a word ("stooop", "ahhh"), not a word of one letter ("bbb", "www")
_LETTER_RUNS = lazy(r"(?<=[a-z])([a-z])\1{2,}|([a-z])\2{2,}(?=[a-z])")
_SCRIPT_SEAM = lazy(r"(?<=[\u3400-\u9fff])(?=[a-z$])|(?<=[a-z])(?=[\u3400-\u9fff])")

# Whole-token shorthand and misspellings -> the canonical word the rules are written against.
_SHORTHAND: dict[str, str] = {
    # pronouns and little words
    "u": "you", "ur": "your", "yr": "your", "r": "are", "n": "and", "b4": "before",
    "pls": "please", "plz": "please", "plse": "please", "pleas": "please", "plez": "please", "pl": "please",
    "thx": "thanks", "thnx": "thanks", "tks": "thanks", "ty": "thank you",
    "im": "i'm", "ive": "i've", "iam": "i am", "cant": "can't", "wont": "won't", "dont": "don't",
    "didnt": "didn't", "doesnt": "doesn't", "isnt": "isn't", "havent": "haven't", "hasnt": "hasn't",
    "wasnt": "wasn't", "arent": "aren't", "couldnt": "couldn't", "wouldnt": "wouldn't", "shouldnt": "shouldn't",
    "aint": "ain't", "thats": "that's", "whats": "what's", "wats": "what's", "whos": "who's", "theres": "there's",
    "youre": "you're", "youll": "you'll", "theyre": "they're", "hes": "he's", "shes": "she's", "lets": "let's",
    "gonna": "going to", "wanna": "want to", "gotta": "got to", "cuz": "because", "coz": "because",
    "cos": "because", "bc": "because", "bcuz": "because", "becuase": "because", "becasue": "because",
    "wat": "what", "wht": "what", "wen": "when", "sum1": "someone", "some1": "someone", "any1": "anyone",
    "sry": "sorry", "srry": "sorry", "rn": "right now", "asap": "as soon as possible",
    "alr": "already", "alrdy": "already", "allready": "already", "alredy": "already",
    "aready": "already", "alreday": "already",
    # money and accounts
    "pd": "paid", "payed": "paid", "paied": "paid", "pmt": "payment", "pymt": "payment", "paymt": "payment",
    "payement": "payment", "paymnet": "payment", "paymet": "payment", "amt": "amount", "acct": "account",
    "bal": "balance", "recieve": "receive", "recieved": "received", "recived": "received",
    "instalment": "installment", "instalments": "installments", "installment": "installment",
    # contact
    "txt": "text", "txts": "texts", "txting": "texting", "texing": "texting", "textin": "texting",
    "textng": "texting", "msg": "message", "msgs": "messages", "msging": "messaging", "fone": "phone",
    "num": "number", "#": "number", "wrng": "wrong", "unsubcribe": "unsubscribe", "unsuscribe": "unsubscribe",
    "unsubscibe": "unsubscribe", "unsubsribe": "unsubscribe", "usubscribe": "unsubscribe",
    "unsubscrib": "unsubscribe", "unsubscribed": "unsubscribe", "unsubcribed": "unsubscribe",
    "harrass": "harass", "harras": "harass", "harrasing": "harassing", "harrassing": "harassing",
    "harasing": "harassing", "harrassment": "harassment", "harrasment": "harassment", "harasment": "harassment",
    # time
    "tmrw": "tomorrow", "tmr": "tomorrow", "tmrow": "tomorrow", "tmw": "tomorrow", "tomoz": "tomorrow",
    "2moro": "tomorrow", "2morrow": "tomorrow", "2morow": "tomorrow", "2mrw": "tomorrow", "2mro": "tomorrow",
    "tomorow": "tomorrow", "tommorow": "tomorrow", "tommorrow": "tomorrow", "tomorrw": "tomorrow",
    "tmorrow": "tomorrow", "tomorro": "tomorrow", "tomm": "tomorrow", "tomrrow": "tomorrow",
    "tomorow's": "tomorrow's", "2day": "today", "tday": "today", "tonite": "tonight", "2nite": "tonight",
    "nxt": "next", "wk": "week", "wks": "weeks", "mnth": "month", "mth": "month", "mo": "month",
    "til": "until", "till": "until", "untill": "until", "untl": "until", "thru": "through",
    "frday": "friday", "firday": "friday", "fryday": "friday", "friady": "friday", "fridy": "friday",
    "thrusday": "thursday", "thurday": "thursday", "thursay": "thursday", "thursdy": "thursday",
    "wensday": "wednesday", "wendsday": "wednesday", "wednsday": "wednesday", "wedensday": "wednesday",
    "wedsday": "wednesday", "wendesday": "wednesday", "wednesay": "wednesday",
    "tuseday": "tuesday", "tusday": "tuesday", "teusday": "tuesday", "tueday": "tuesday",
    "satuday": "saturday", "saterday": "saturday", "saturaday": "saturday", "satrday": "saturday",
    "sundy": "sunday", "mondy": "monday", "monady": "monday", "mondat": "monday",
    "hospitol": "hospital", "hospitel": "hospital", "hopsital": "hospital", "hosptial": "hospital",
    # Chinese slips
    "退定": "退订",
}
_SHORTHAND_TOKENS = lazy(
    r"(?<![\w'#])(?:" + "|".join(sorted((re.escape(k) for k in _SHORTHAND), key=len, reverse=True))
    + r")(?![\w'])"
)

_CJK = lazy(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KEYWORD_JOINERS = lazy(r"[\s\-_.]+")


def _symbol(char: str) -> bool:
    return unicodedata.category(char) in ("So", "Sk", "Cs", "Co") or char in "\u200d\ufe0f"


def normalise(text: str) -> str:
    """The canonical form of a reply (see the module docstring). Idempotent."""
    folded = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES).translate(_TRADITIONAL).casefold()
    for emoji, word in _EMOJI_WORDS.items():
        folded = folded.replace(emoji, word)
    folded = "".join(" . " if _symbol(ch) else ch for ch in folded)
    folded = _LETTER_RUNS.sub(lambda m: m[1] or m[2], " ".join(folded.split()))
    folded = _SCRIPT_SEAM.sub(" ", folded)  # "15号pay可以吗": English words get their word boundaries
    folded = _SHORTHAND_TOKENS.sub(lambda m: _SHORTHAND[m[0]], folded)
    return " ".join(re.sub(r"(?:\s*\.\s*){2,}", ". ", folded).split()).strip(" .")


def _is_edge_noise(char: str) -> bool:
    # punctuation, symbols (emoji), separators and control characters around a keyword
    return unicodedata.category(char)[0] in "PSZC"


def keyword_form(text: str) -> str:
    """A whole-message keyword as carriers read it: "  Stop! ", "S-T-O-P" and "STOP 🛑" are all "stop"."""
    folded = unicodedata.normalize("NFKC", text).translate(_TRADITIONAL).casefold()
    start, end = 0, len(folded)
    while start < end and _is_edge_noise(folded[start]):
        start += 1
    while end > start and _is_edge_noise(folded[end - 1]):
        end -= 1
    return _KEYWORD_JOINERS.sub("", folded[start:end]).replace("'", "").replace("\u2019", "")


def has_cjk(text: str) -> bool:
    return _CJK.search(text) is not None


# --------------------------------------------------------------------------- clauses

# Sentence ends, and the turns that start a new thought ("can't tomorrow but Friday is fine").
_SENTENCE_BREAK = lazy(
    r"[.!?;。！？；\n]+|\s(?:but|however|although|though|except)\s|(?:但是|可是|不过|只是|然而)"
)
_CLAUSE_BREAK = lazy(r"[,，、:：]+|\s-+\s|(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])")


@dataclass(frozen=True)
class Clause:
    """One comma clause of a reply: where it is in the normalised text, and its sentence."""

    start: int
    end: int
    sentence: int
    text: str


def clauses(text: str) -> list[Clause]:
    """The comma clauses of a normalised reply, in reading order, each tagged with its sentence number.

    Decimal points and thousands separators ("1,200.50", "$12.50") do not break a clause.
    """
    found: list[Clause] = []
    sentence_start = 0
    breaks = [m for m in _SENTENCE_BREAK.finditer(text) if not _inside_number(text, m.start(), m.end())]
    for sentence, stop in enumerate([*breaks, None]):
        sentence_end = stop.start() if stop else len(text)
        _add_clauses(text, sentence_start, sentence_end, sentence, found)
        if stop:
            sentence_start = stop.end()
    return found


def _inside_number(text: str, start: int, end: int) -> bool:
    return (end - start == 1 and text[start] in ".," and 0 < start < len(text) - 1
            and text[start - 1].isdigit() and text[start + 1].isdigit())


def _add_clauses(text: str, start: int, end: int, sentence: int, found: list[Clause]) -> None:
    piece_start = start
    for m in _CLAUSE_BREAK.finditer(text, start, end):
        if _inside_number(text, m.start(), m.end()):
            continue
        _add(text, piece_start, m.start(), sentence, found)
        piece_start = m.end()
    _add(text, piece_start, end, sentence, found)


def _add(text: str, start: int, end: int, sentence: int, found: list[Clause]) -> None:
    while start < end and text[start] == " ":
        start += 1
    while end > start and text[end - 1] == " ":
        end -= 1
    if start < end:
        found.append(Clause(start, end, sentence, text[start:end]))
