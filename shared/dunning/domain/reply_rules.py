"""The reply reader's lexicon: the words that make a reply a STOP, a HARDSHIP, a PAID, ... (pure, no I/O).

Longer than most modules: it is data, one table of phrase patterns per intent, read and tuned side by side.

Two kinds of entry, both read by ``intents.classify``:

- whole-message keywords (``STOP_KEYWORDS``, ``START_KEYWORDS``, ``HELP_KEYWORDS``, the yes-words): the
  carrier conventions, matched against ``reply_text.keyword_form`` of the entire reply, with one-typo
  stops (``stop_typo``) and yes-plus-politeness (``accept_keyword``);
- phrase rules (``STOP_RULES`` ... ``ACCEPT_RULES``): each a stable id, written to the ledger, and a
  regular expression over the normalised text, compiled on first use (``lazy_regex``). A negatable rule
  is cancelled by a "not"/"没" just before it in the same clause (``negated``).

Which intent wins when several fire, and the promise rules, live in ``intents`` and ``reply_promises``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from dunning.domain.lazy_regex import LazyRegex, lazy

# --------------------------------------------------------------------------- whole-message keywords

STOP_KEYWORDS = frozenset(
    {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "optout", "revoke", "stopplease", "pleasestop",
     "stopit", "unsub", "remove", "removeme", "退订", "td", "t", "r", "拒收", "停止", "取消", "取消订阅", "退订谢谢",
     "滚", "滚蛋", "滚开"}
)
_STOP_TYPO_TARGETS = ("stop", "unsubscribe", "stopall", "optout")
ZH_KEYWORDS = frozenset({"td", "t", "r"})  # Chinese carrier conventions: the confirmation goes out in Chinese
START_KEYWORDS = frozenset({"start", "unstop", "resume", "subscribe", "resubscribe", "optin", "开始", "恢复",
                             "恢复订阅", "重新订阅", "订阅"})
HELP_KEYWORDS = frozenset({"help", "info", "帮助", "?", "??", "???", "？"})
YES_WORDS = frozenset({"yes", "y", "yeah", "yea", "yep", "yup", "ya", "yah", "yess", "yesss", "yas"})
_ACCEPT_KEYWORDS = YES_WORDS | frozenset(
    {"ok", "okay", "k", "kk", "okk", "okie", "okey", "okok", "alright", "allright", "sure", "fine", "deal",
     "agree", "agreed", "iagree", "accept", "accepted", "iaccept", "soundsgood", "thatworks", "thatsfine",
     "perfect", "great", "soundsgreat", "thatsgreat", "thatsok", "thatsokay", "noproblem", "confirm", "confirmed",
     "👍", "好", "好的", "好滴", "好哒", "好吧", "可以", "可以的", "行",
     "行吧", "成", "没问题", "同意", "接受", "确认", "确定", "嗯", "嗯嗯", "恩", "恩恩", "ok的", "可以可以", "好好"}
)


def _damerau_one(a: str, b: str) -> bool:
    """True when ``a`` is one typo away from ``b`` (one letter wrong, missing, extra or two swapped)."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diffs = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        if len(diffs) == 1:
            return True
        first, second = diffs[0], diffs[-1]
        return len(diffs) == 2 and second == first + 1 and a[first] == b[second] and a[second] == b[first]
    shorter, longer = (a, b) if len(a) < len(b) else (b, a)
    return any(longer[:i] + longer[i + 1:] == shorter for i in range(len(longer)))


def stop_typo(keyword: str) -> str | None:
    if not keyword.isascii() or not keyword.isalpha() or len(keyword) < 4:
        return None
    return next((target for target in _STOP_TYPO_TARGETS if _damerau_one(keyword, target)), None)


_POLITE_WORDS = frozenset({"please", "pls", "thanks", "thankyou", "thx", "ty", "lol",
                           "谢谢", "谢谢你", "谢了", "多谢", "啊", "呀", "哈", "了", "的",
                           "吧", "呢", "哦", "噢", "喔"})
_ACCEPT_PIECES = tuple(sorted(_ACCEPT_KEYWORDS | _POLITE_WORDS, key=len, reverse=True))


def accept_keyword(keyword: str) -> bool:
    """A whole message made only of yes-words and politeness: "yes", "yeah sure", "ok thanks", "好的没问题"."""
    keyword = "".join(ch for ch in keyword if ch.isalnum() or ch == "👍")  # "sounds great, thanks!", "好的，谢谢"
    if not keyword or len(keyword) > 24:
        return False
    reachable = {0: False}  # position -> whether an accept word (not only politeness) was used to reach it
    for start in range(len(keyword)):
        if start not in reachable:
            continue
        for piece in _ACCEPT_PIECES:
            if keyword.startswith(piece, start):
                end = start + len(piece)
                reachable[end] = reachable.get(end, False) or reachable[start] or piece in _ACCEPT_KEYWORDS
    return reachable.get(len(keyword), False)


# --------------------------------------------------------------------------- phrase rules


@dataclass(frozen=True)
class Rule:
    """One phrase rule; the table it sits in (``STOP_RULES``, ...) says which intent it reads."""

    name: str  # stable id written to the ledger
    pattern: LazyRegex
    kind: str = ""  # HARDSHIP: circumstance / inability / plan / extension
    negatable: bool = False  # a "not"/"没" just before it cancels it ("haven't paid", "don't call me")
    weak: bool = False  # a cue rather than a statement: confidence is low


def rules(*rows: tuple[str, str] | tuple[str, str, str], negatable: bool = False,
          weak: Iterable[str] = ()) -> list[Rule]:
    weak_names = set(weak)
    out: list[Rule] = []
    for row in rows:
        name, pattern = row[0], row[1]
        kind = row[2] if len(row) == 3 else ""
        out.append(Rule(name, lazy(pattern), kind, negatable, name in weak_names))
    return out


# "stop rushing me" is 别催了: pressure to stop, read as a stop like the Chinese
_CONTACT_WORDS = (r"(?:text\w*|messag\w*|contact\w*|call(?:s|ing)?|send\w*|email\w*|e-mail\w*|sms|bother\w*"
                  r"|rush\w*|pressur\w*|chasing|bugging|hassl\w*|nagging"
                  r"|har+as+\w*|spam\w*|hound\w*|pester\w*|communicat\w*|notifications?|reminders?|blowing up"
                  r"|hitting me up|ringing)")

# People the customer asks us to leave out: a complaint about third-party contact, not their own opt-out.
_THIRD_PARTIES = (r"(?:family|mother|mom|mum|dad|father|parents|wife|husband|boss|employer|work|job|office|friends"
                  r"|neighbou?rs?|sister|brother|kids?|children|relatives|son|daughter)\b")

STOP_RULES = rules(
    ("en:stop-contacting",
     r"\b(?:stop|quit|cease)\b(?! by| in\b| at\b| over)(?: [\w']+){0,3}? " + _CONTACT_WORDS + r"\b"
     r"(?! (?:my|our) " + _THIRD_PARTIES + r")"),
    ("en:stop-sentence",
     r"(?:^|[.!?;:,]\s*)(?:please |just |now |ok |so )?(?:stop|quit it|cut it out|knock it off|enough|give it a rest)"
     r"(?: it| now| please| already| right now| stop)*"
     r"(?=\s*[.!?;:,]|$)"),
    ("en:cease-contact", r"\b(?:cease|end|halt) (?:all |any )?(?:further )?(?:contact|communications?)\b"
                         r"|\bcease and desist\b"),
    ("en:leave-me-alone",
     r"\bleave (?:me|us|my (?:family|wife|husband|mom|mother))(?: [\w']+){0,4}? alone\b|\bleave me be\b"
     r"|\b(?:fuck|f|piss|bugger|sod|back|buzz) off\b|\bget lost\b|(?:^|[.!?]\s*|just |please )go away\b"),
    ("en:do-not-contact",
     r"\b(?:do not|don't|never|no need to|you don't need to|no longer) (?:ever |again |\w+ )?"
     r"(?:text|message|contact|call|email|e-mail|phone|sms|bother|harass|ring|reach out to|write to|send)\w*"
     r"(?: (?:or|and|&|/) (?:text|message|contact|call|email|e-mail|phone|sms)\w*)? "
     r"(?:me|us|this (?:number|phone|email|address|line)|my (?:phone|number|cell|work|job))\b"
     r"|\bdo not contact\b|\bdnc\b"),
    ("en:no-more-messages",
     r"\bno more (?:texts?|messages?|calls?|emails?|sms|contact|reminders?|notifications?|harassment)\b"
     r"|\b(?:do not|don't) want (?:[\w']+ ){0,3}?(?:texts?|messages?|calls?|emails?|sms|contact|communications?"
     r"|reminders?|notifications?)\b"
     r"|\b(?:do not|don't) want to (?:be (?:contacted|texted|called|emailed|messaged)"
     r"|(?:get|receive|hear from) (?:any|these|your|you|more|this))"
     r"|\b(?:sick|tired|fed up) (?:of|with) (?:\w+ ){0,3}?(?:texts|messages|calls|emails|reminders)\b"
     r"|\b(?:i'm|i am) done with (?:these|your|the|all (?:these|the|your)) (?:texts|messages|calls|emails)\b"
     r"|\b(?:do not|don't) (?:want|wish) to be (?:contacted|texted|called|emailed|messaged|bothered)\b"
     r"|\bno (?:calls|texts|phone calls|text messages)(?: please)?\b(?! (?:from|at work|after|before|on))"
     r"|\b(?:do not|don't|please don't|pls don't) (?:text|call|contact|message|email|ring)(?=\s*[.!,;]|$)"),
    ("en:unsubscribe", r"\bunsub\w*|\bsubscribe me out\b"),
    ("en:opt-out", r"\bopt(?:ing)?[ -]?(?:me )?out\b"),
    ("en:remove-me",
     r"\bremove (?:me|us|my (?:number|phone|email|name|info|details)|this (?:number|phone|email))\b|\btake (?:me"
     r"|my (?:number|name)) off\b"
     r"|\b(?:delete|lose|forget) (?:my|this) (?:number|phone|email|contact)\b"),
    ("en:revoke-consent",
     r"\b(?:revoke|revoking|withdraw|withdrawing|rescind|cancel) (?:my |all |any )?(?:consent|permission"
     r"|authori[sz]ation)\b|\bi (?:do not|don't|no longer) (?:consent|give (?:you )?(?:consent|permission))\b"),
    ("en:cancel-messages",
     r"\bcancel (?:my |the |these |all |this |your )?(?:texts?|messages?|sms|subscription|alerts?|notifications?"
     r"|reminders?|emails?|calls?)\b"),
    ("en:block", r"\b(?:i'm|i am|i will|i'll|going to|about to|i've|i have|i) block(?:ing|ed)? (?:you|this|your|the "
                 r"number)\b"),
    ("en:make-it-stop",
     r"(?<!to )\bmake (?:it|this|these|them|you|(?:the|these|your) (?:texts|calls|messages|emails)) stop\b"),
    ("zh:unsubscribe", r"退订|取消订阅|拒收|拉黑|屏蔽|黑名单|取消(?:短信|提醒|通知|推送|订阅)"),
    # a "don't" and a way of contacting within a few characters: 别再给我发, 不要这样天天打电话, 别再 call 我
    ("zh:do-not-contact",
     r"(?:别(?!人|急|担心)|不要(?!紧)|不用(?!担心)|请勿|勿|停止|甭|莫|少|不许|不准|禁止)[^,.!?;:]{0,5}?"
     r"(?:发(?!火|现|生|工资|票|货|愁)|打(?!算|折|开|款|钱|工)|联系|骚扰|打扰|烦|催|来电|致电|call|text|短信|电话|信息"
     r"|消息)"
     r"(?!我?的?(?:家人|家里|父母|老婆|老公|朋友|同事|单位|公司|领导|紧急联系人))"),
    ("zh:do-not-want",
     r"不想(?:再)?(?:收到|接到|看到|听到)|烦死|烦不烦|有完没完"
     r"|删(?:掉|除)?(?:我的?)?(?:号码|电话|手机号)|(?:号码|电话|手机号)删(?:掉|除)"
     r"|把我(?:从[^,.!?]{0,6})?(?:删掉|删除|移除|去掉)|从(?:名单|列表)[^,.!?]{0,3}(?:删|移除|去掉)"
     r"|不需要(?:再)?(?:你们的|这些|这种|这样的)?(?:提醒|短信|通知|催|电话|信息)"),
    ("zh:go-away", r"(?:^|[,.!?\s])滚(?:蛋|开|吧|远点)?(?=[,.!?\s]|$)"),
)

# Any reasonable way of saying stop: a word of stopping and a way of contacting in the same sentence, in
# any order ("I want these messages to stop", "texting me 5 times a day needs to stop", "please refrain
# from contacting me"), unless the stopping is about a payment or a visit, or the contact is someone else's.
EN_CESSATION = lazy(
    r"\b(?:stop(?! (?:by|in|at|over|paying|payment|(?:the|my|this|that) (?:payment|plan|autopay|direct debit|debit"
    r"|check|card|account|loan)))|stopped|quit|cease|ceased|refrain|desist|halt|enough (?:with|of|already)"
    r"|that's enough|cut it out|knock it off|give it a rest|(?:needs?|has|have|got) to end|must end"
    r"|(?:no longer|don't|do not) (?:wish|want) to (?:receive|get|be contacted|hear))\b"
)
EN_CONTACT = lazy(
    r"\b(?:text\w*|messag\w*|sms|contact\w*|call(?:s|ing|ed)?|e-?mail\w*|notifications?|reminders?|har+as+\w*"
    r"|bother\w*|spam\w*)\b(?! (?:my|our) " + _THIRD_PARTIES + r")"
)
CO_OCCURRENCE = Rule("en:stop-words-together", EN_CESSATION)

BEREAVEMENT_RULES = rules(
    ("en:passed-away",
     r"\bpass(?:ed)? away\b|\bpassed on\b|\bdeceased\b|\bno longer (?:with us|alive|living)\b|\brest in peace\b"
     r"|\b(?:his|her|their|my \w+'s) (?:death|funeral|passing)\b|\bdeath certificate\b|\bfuneral\b"
     r"|\bwidow(?:ed|er)?\b|\bexecutor\b|\b(?:his|her|the) estate\b|\b(?:my|our) late (?:father|mother|husband"
     r"|wife|dad|mom|mum|son|daughter|brother|sister|partner|spouse|grandfather|grandmother)\b"),
    ("en:died",
     r"(?<!phone )(?<!battery )(?<!car )(?<!laptop )(?<!computer )\b(?:has |had |just |sadly |recently )?died\b"
     r"|\b(?:he|she|husband|wife|mom|dad|mother|father|son|daughter|brother|sister|partner|spouse) "
     r"(?:is|was|has been) (?:dead|killed)\b"
     r"|\b(?:he|she|husband|wife|mom|dad|mother|father|son|daughter) (?:has |had |just |recently )?passed\b"
     r"(?! (?:the|a|an|my|his|her|on to|by|me|it|out))"
     r"|\b(?:lost|losing) (?:my|our) (?:husband|wife|mom|mum|mother|dad|father|son|daughter|spouse|partner|brother"
     r"|sister|child|baby|grandma|grandpa|grandmother|grandfather|parents?)\b"),
    ("zh:passed-away",
     r"去世|过世|离世|病逝|逝世|身故|亡故|死亡证明|丧事|葬礼|后事|遗产|遗孀|已经不在了|人不在了|人没了"
     r"|(?:爸|妈|父亲|母亲|老公|丈夫|老婆|妻子|爱人|儿子|女儿|哥哥|姐姐|弟弟|妹妹|爷爷|奶奶|外公|外婆|他|她)"
     r"[^,.!?，。！？]{0,6}(?:走了|死了|没了|不在了)(?=[,.!?，。！？\s]|$)"),
)

WRONG_NUMBER_RULES = rules(
    ("en:wrong-number",
     r"\bwrong (?:number|person|phone|guy|girl|man|woman|lady|contact|people|cell|one)\b"
     r"|\byou(?:'ve| have)? (?:got )?the wrong\b"),
    ("en:not-my-number", r"\b(?:not|isn't|is not) (?:my|the right|[a-z]+'s) (?:number|phone|cell)\b"
                         r"|\bthis (?:is|was) (?:a )?new (?:number|phone)\b|\b(?:just )?got this (?:number|phone)\b"
                         r"|\bnumber (?:was |has been |got )?(?:reassigned|recycled)\b|\bmy new number\b"
     r"|\bwho(?:ever)? you(?:'re| are) looking for\b|\bthis number (?:belongs to|is) (?:me|mine)\b"),
    ("en:not-that-person",
     r"\b(?:i'm|i am|this is|this isn't|this is not|it's not|not) (?:him|her|them|that person|the person|the right "
     r"person|who you(?:'re| are) looking for)\b"
     r"|\bno (?:one|body) (?:here )?(?:by|with|named|called|under) (?:that|this|the) name\b"
     r"|\bno (?:one|body) (?:here )?(?:named|called|by the name)\b"
     r"|\bdon't know who [a-z]+(?: [a-z]+)? is\b"
     r"|\bdon't know (?:any|a|anyone|anybody|someone|somebody|who (?:this|that|he|she) is|this|that|the|him|her"
     r"|them|a person|no|nobody)\b(?! (?:money|loan|debt|amount|balance|company))"
     r"|\bnever heard of (?:him|her|them|this (?:person|guy|name|man|woman|lady)|that (?:person|guy|name|man"
     r"|woman|lady))\b"
     r"|\b(?:he|she|they) (?:doesn't|does not|don't|do not|no longer) (?:live|work|have this|use this|own this)"
     r"|\bthere(?:'s| is) no(?:body| one)? [a-z]+(?: [a-z]+)? (?:here|at this number|on this number)\b"),
    ("en:who-is-this-not",
     r"\bwho(?:'s| is|s) (?:this|that|[a-z]+ [a-z]+)\b.*\b(?:i'm not|i am not|not me|don't know|never heard"
     r"|no one|nobody)\b"),
    ("zh:wrong-number",
     r"打错|发错|找错|号码错|错号|认错人|不是(?:我|他|她|[\u4e00-\u9fff]{2,3})的(?:号|手机|电话)|新号|换号|刚办的号"
     r"|号码是新|号是我新|你(?:们)?找谁"
     r"|(?:他|她)(?:已经)?不用这个号|换人了|号码换了|机主|号码?(?:是)?我?刚(?:买|办|换|注册)的?|刚(?:买|办|换)的(?:号"
     r"|手机)"),
    ("zh:not-that-person",
     r"不是本人|不认识(?!你们)(?:这个?人|此人|他|她|你说的|这位|[\u4e00-\u9fff]{2,3})|没有这个人|查无此人|不是这个人"
     r"|我不叫|我不是(?!很|不|故意|说|在|要|想|没|已|本来|那种|骗子|赖|你们|老赖|这个意思|借款人)"
     r"[\u4e00-\u9fff]{2,3}(?:本人)?(?=[,.!?，。！？\s]|$)"),
)

DISPUTE_RULES = rules(
    ("en:dispute", r"\bdisput\w*"),
    ("en:not-my-debt",
     r"\b(?:not|isn't|is not|wasn't|aren't) my (?:debt|loan|account|bill|balance|charge|responsibility)\b"
     r"|\b(?:isn't|is not|it's not|not) mine\b"
     r"|\bnot (?:responsible|liable) for\b|\bi (?:don't|do not) have (?:a|any) (?:loan|account) with\b"),
    ("en:wrong-amount",
     r"\b(?:wrong|incorrect|inaccurate) (?:amount|balance|figure|total|charge)|\b(?:amount|balance|total) (?:is )?"
     r"(?:wrong|incorrect|not right)\b|\bovercharg\w*|\bdouble charged\b"),
    ("en:never-borrowed",
     r"\b(?:have not|haven't|didn't|did not) borrow(?:ed)?\b|\bnever (?:borrowed|took (?:out )?(?:a |this |the |any "
     r"|that |no )?loan|had (?:a|an|this|any) (?:loan|account)"
     r"|signed|applied|opened|received)\b"
     r"|\b(?:didn't|did not) (?:take out|borrow|apply for|sign (?:up )?for|open|receive (?:the|any) (?:money|funds"
     r"|loan))\b"),
    ("en:do-not-owe",
     r"\b(?:do not|don't) owe\b|\bowe (?:you )?nothing\b|\b(?:don't|do not) (?:believe|think) (?:that )?i owe\b"
     r"|\b(?:higher|more|larger|bigger) than (?:what )?i (?:borrowed|owe|took out|agreed)\b"
     r"|\bwhy is (?:the|my|this) (?:amount|balance|bill|total|interest) (?:so )?(?:high|higher|different|wrong)\b"),
    ("en:fraud", r"\bfraud\w*|\bidentity theft\b|\bstolen identity\b|\bscam\w*"),
    ("en:proof",
     r"(?<!i'll )(?<!i can )(?<!i will )(?<!let me )"
     r"\b(?:send|show|give|mail|provide|email)(?: me| us)? (?:\w+ )?(?:proof|evidence|validation|verification"
     r"|documentation|documents|paperwork|contract|agreement|signed|itemi\w+|breakdown|copy)"
     r"(?! of (?:payment|my payment|paying|purchase))"
     r"|\b(?:need|want|request|requesting|demand|see|where(?:'s| is)(?: the)?) (?:some |the |a |any |written )?"
     r"(?:original |signed |actual |loan )?(?:proof|evidence|validation|verification|documentation|contract"
     r"|copy of the (?:contract|agreement))\b"
     r"|\bprove (?:it|this|that|i owe)\b|\bvalidat\w*|\bverif(?:y|ication) (?:of )?(?:the |this |that )?debt\b"
     r"|\bdebt (?:validation|verification)\b|\boriginal creditor\b"),
    ("en:do-not-recognise",
     r"\b(?:don't|do not) recogni[sz]e\b|\bno idea what (?:this|the) (?:debt|loan|charge)\b|\bwhat (?:loan|debt)\b"
     r"|\bnever heard of (?:this|your|you|the) (?:company|loan|debt|lender|guys)\b|\btime[- ]barred\b"
     r"|\bstatute of limitations\b|\bdischarged\b|\b(?:breakdown|itemi[sz]\w*|statement) of (?:the |my |this )?"
     r"(?:charges|debt|balance|account|fees)\b|\b(?:amount|balance|total|figure|charges?)\b(?: [\w']+){0,4}? (?:is|are"
     r"|looks?) (?:wrong|incorrect|not right|inaccurate|off)\b|\bno idea what this is\b|\bnot the (?:right|correct) "
     r"(?:amount|balance)\b"),
    ("zh:not-mine",
     r"不是我(?:本人)?借的|不是我的(?:贷款|借款|欠款|账|债|钱|(?=[,.!?]|$))|(?<!还)没借|没有借过|从没借|从来没(?:有)?借"
     r"|没(?:有)?在你们"
     r"(?:这|那|这里|平台)?借|不欠|没欠|我没有(?:贷款|借款|借钱)|不认(?:账|这笔)|什么时候借的|我哪(?:有|里)借"),
    ("zh:dispute",
     r"异议|(?:金额|数目|数额|账单|利息|罚息)(?:不对|错了?|有误|有问题|太高|不合理)|没(?:有)?(?:申请|办|签)过"
     r"|不是我(?:办|申请|签)的|欺诈|盗用|冒用|被盗|诈骗|骗子|骗人"
     r"|莫名其妙|高利贷|砍头息|套路贷|(?:利息|金额|费用|罚息|账单|收费)[^,.!?]{0,6}?(?:太高|这么高|不合理|算错|多收)"
     r"|核实(?:一下)?(?:这笔|借款|欠款|债务|金额)|凭什么(?:要我|让我|我要)还"),
    ("zh:proof",
     r"借款合同|(?:发|给|拿出?|出示|寄|提供)(?:给)?(?:我)?(?:看看?)?(?:一下)?(?:借款)?(?:合同|凭证|证据|证明|借条|明细"
     r"|流水)"
     r"|(?:合同|凭证|证据|借条)(?:呢|在哪|发我|拿出来)|证明(?:一下)?是我借的|(?:有|拿)什么证据"),
    weak=("en:fraud",),
)

COMPLAINT_RULES = rules(
    ("en:report",
     r"\breport(?:ing|ed)? (?:you|this|your company|them|it)\b|\bcfpb\b|\bconsumer (?:financial )?protection\b"
     r"|\bbetter business bureau\b|\bbbb\b|\battorney general\b|\bftc\b|\bregulator\w*|\bombudsman\b"
     r"|\bfile (?:a )?complaint\b|\bcomplain\w*|\bcomplaint\b"),
    ("en:legal-threat",
     r"\blawyer\b|\battorney\b|\blawsuit\b|\bsue (?:you|your)\b|\b(?:going to|will|i'll|gonna) sue\b"
     r"|\bsee you in court\b"),
    ("en:harassment",
     r"\bhar+as+\w*|\billegal\w*|\bviolat\w*|\bfdcpa\b|\btcpa\b|\bthreat\w*|\babusive\b|\bintimidat\w*"
     r"|\b(?:call|contact|text)(?:ing|ed|s)? (?:my|our) " + _THIRD_PARTIES),
    ("en:dissatisfied",
     r"\bunprofessional\b|\brude\b|\bdisgust\w*|\bunacceptable\b|\bridiculous\b|\bhow dare you\b"
     r"|\b(?:manager|supervisor)\b|\bterrible (?:service|company)\b|\bworst (?:company|service)\b"
     r"|\b(?:unhappy|not happy|dissatisfied|upset|disappointed) (?:with|about) (?:how|the way|your|the service"
     r"|the treatment)\b|\bhow i(?:'ve| have)? been treated\b"),
    ("zh:complain",
     r"(?:找|叫|跟|和|让)(?:你们)?(?:的)?(?:经理|领导|主管|负责人|上级)|投诉|举报|12378|12315|银保监|银监|金融监管"
     r"|监管(?:局|部门|机构)|人民银行|央行|消协|消费者协会|315|黑猫|工信部"),
    ("zh:legal-threat", r"报警|派出所|警察|律师|我(?:要|会|就)?(?:去)?起诉|告你们|法院见"),
    ("zh:harassment",
     r"骚扰|暴力催收|违法|犯法|违规|太过分|过分了|曝光|媒体|记者|态度(?:太|很|非常)?(?:差|恶劣)|威胁|恐吓|爆通讯录|侮辱"
     r"|辱骂|骂人"
     r"|联系(?:我的?)?(?:家人|家里|父母|老婆|老公|朋友|同事|单位|公司|领导|紧急联系人)"
     r"|打(?:给|到)?我(?:的)?(?:家人|父母|单位|公司|领导|同事)"),
)

HARDSHIP_RULES = rules(
    ("en:lost-job",
     r"\blost (?:my|our|his|her|the) (?:job|work|income|position|business|shop|paycheck)\b|\blaid off\b|\blayoffs?\b"
     r"|\bunemploy\w*|\bout of (?:work|a job)\b|\bjobless\b|\bredundan\w*|\b(?:got|was|been|i'm|i am|am) (?:fired"
     r"|let go|furloughed|sacked|laid off)\b|\bfurlough\w*|\bbetween jobs\b|\b(?:hours|pay|wages?|salary|income) "
     r"(?:got |were |was |have been |has been |just )?(?:cut|reduced|slashed)\b|\b(?:cut|reduced) (?:my |our )?"
     r"(?:hours|pay)\b|\bno (?:work|job|income)\b|\bbusiness (?:closed|failed|shut down)\b"
     r"|\b(?:haven't|have not|didn't|did not) (?:been |got |get )?paid (?:by|from) (?:my )?(?:work|job|employer)\b"
     r"|\b(?:paycheck|pay|salary|wages?|check) (?:is |was |got |has been )?(?:delayed|late|held up)\b"
     r"|\bsupposed to get paid\b",
     "circumstance"),
    ("en:medical",
     r"\bhospital\w*|\bsurgery\b|\boperation\b|\b(?:i'm|i am|been|was|got|getting|very|really|so|seriously"
     r"|still|fell|is|are) (?:very |really |seriously |so )?(?:sick|ill|unwell)\b|\billness\b|\bcancer\b|\bchemo\w*"
     r"|\binjur\w*|\baccident\b|\bdisabilit\w*"
     r"|\bdisabled\b|\bmedical\b|\bdoctor\b|\bemergency room\b|\bpregnan\w*|\bmaternity\b|\bcovid\b|\bdiagnos\w*"
     r"|\brehab\b|\bicu\b|\bstroke\b|\bheart attack\b|\btreatment\b|\bmental health\b|\bdepress\w*"
     r"|\bbroke my (?:leg|arm|back|hip|ankle)\b|\bhospice\b|\bdying\b", "circumstance"),
    ("en:family",
     r"\bdivorc\w*|\bseparat(?:ed|ion)\b|\bsingle (?:mom|mother|dad|parent)\b|\bchild support\b|\bnew baby\b"
     r"|\bcaring for\b|\bcaregiver\b|\b(?:husband|wife|partner|spouse) (?:left|walked out)\b"
     r"|\braising (?:[\w']+ ){0,2}(?:kids|children|child) (?:alone|on my own|by myself)\b|\bhad (?:a|the) baby\b"
     r"|\bcar (?:broke down|repairs?|accident)\b"
     r"|\bunexpected (?:bills|expenses|costs)\b", "circumstance"),
    ("en:money-tight",
     r"\bmoney(?:'s| is| has been| was) (?:really |very |super |so |a bit |pretty |kinda )?(?:tight|short|tough"
     r"|hard)\b|\b(?:tight|short|low) on (?:money|cash|funds)\b|\bstrapped\b|\b(?:i'm|i am|we're|we are|totally"
     r"|flat|dead) broke\b|\bbroke (?:right now|until|this)\b|\bno money\b|\b(?:don't|do not) have (?:the |any "
     r"|enough )?(?:money|funds|cash)\b|\bstruggl\w*|\bhardship\b|\bhard times?\b|\btough (?:time|times|month"
     r"|spot|situation)\b|\brough (?:time|patch|month)\b"
     r"|\bbehind (?:on|with) (?:\w+ ){0,2}?(?:bills|rent|mortgage|everything|payments)\b"
     r"|\b(?:don't|do not) have (?:any |an? |enough )?(?:income|job|work)\b|\bno (?:income|job)\b"
     r"|\bpaycheck to paycheck\b|\bfixed income\b|\bevict\w*|\bhomeless\b|\bbills (?:are )?piling up\b"
     r"|\bfinancial(?:ly)? (?:difficult\w*|trouble|problems|issues|struggl\w*|hardship|situation)\b|\bbankrupt\w*"
     r"|\bthings are (?:really |very |so |pretty )?(?:hard|tough|difficult|bad)\b|\bnot enough (?:money|income)\b"
     r"|\b(?:hurricane|flood\w*|tornado|earthquake|wildfire|house fire|disaster)\b"
     r"|\b(?:can't|cannot|can not|unable to) (?:afford)\b", "circumstance"),
    ("en:cannot-pay",
     r"\b(?:can't|cannot|can not|unable to|not able to|won't be able to|couldn't|could not|no way i can) "
     r"(?:pay|make (?:[\w']+ ){0,2}?payments?|make it|cover|keep up)\b", "inability"),
    ("en:plan",
     r"(?<!stop the )(?<!stop my )(?<!cancel the )(?<!cancel my )(?<!end the )(?<!end my )"
     r"\b(?:re)?payment (?:plan|arrangement|schedule)\b|\binstal+ments?\b|\bpay (?:it |this )?(?:off )?in (?:parts"
     r"|pieces|chunks|installments|portions|increments)\b|\bsmaller (?:payments|amounts|installments)\b"
     r"|\b(?:lower|reduce|reduced|smaller) (?:the |my )?(?:payments?|amount|monthly)\b|\bpay (?:a little|something"
     r"|some|part|what i can|less|a bit)(?: of it)?\b|\bwork (?:something|it|this) out\b|\bwork out (?:a|some) "
     r"(?:plan|deal|arrangement|payment|something)\b|\bcome to an arrangement\b|\bmake an arrangement\b"
     r"|\bset up a plan\b|\bfigure (?:something|this) out\b|\bsplit (?:it|this|the (?:payment|balance|amount))\b"
     r"|\bsettle (?:for less|this for)\b|\bsettlement\b|\bpay (?:monthly|weekly|every (?:month|week|two weeks"
     r"|paycheck))\b|\bskip (?:a|this|one) (?:month|payment)\b|\b(?:a|per) month\b"
     r"|\b(?:can|could) only (?:pay|afford|do|manage)\b|\bevery (?:two|2|other) weeks?\b|\bbi-?weekly\b"
     r"|\bset up (?:a |some )?(?:something|an arrangement|payments)\b", "plan"),
    ("en:extension",
     r"\b(?:an )?extension\b|\b(?:more|extra|some) time\b|\bgive me (?:a|some|few|a few|a couple) (?:more )?(?:days"
     r"|weeks|time)\b|\bneed (?:a|some|a few|a couple(?: of)?|few|more|extra) (?:more )?(?:days|weeks|time)\b"
     r"|\b(?:get|have|need|give me|allow me) (?:a |some |a few |a couple (?:of )?|few |two |2 |one |another )?"
     r"(?:more |extra )(?:days|weeks|months|time)\b"
     r"|\bdefer\w*|\bpostpone\w*|\bpush (?:it|the (?:payment|due date)) back\b|\b(?:a )?grace period\b",
     "extension"),
    ("zh:circumstance",
     r"失业|下岗|被裁|裁员|没(?:了)?工作|没有工作|工作(?:丢了|没了)|丢了工作|找不到工作|被开除|辞退|公司(?:倒闭|破产"
     r"|关门"
     r"|裁员)|生意(?:失败|不好|亏)|破产|生病|病了|住院|手术|开刀|看病|医药费|医疗费|治疗|化疗|癌|车祸|受伤|骨折|怀孕"
     r"|生孩子|坐月子|离婚|离异|家里(?:有|出)了?(?:点|些)?事|一分钱都没|身无分文|老板跑路|手头[^,.!?]{0,4}(?:紧|不宽裕"
     r"|不方便|拮据)|周转不(?:过来|开|灵)|资金(?:紧张|困难|周转)"
     r"|经济(?:困难|紧张|压力|状况不好)|收入(?:不稳定|减少|下降|少了|没了|低)|困难|没钱|没有钱|钱不够|不够钱|缺钱"
     r"|工资[^,.!?]{0,6}(?:拖欠|没发|拖着|拖了|被扣|发不出|降了"
     r"|减了|没拿到|没到账|没下来)|没发工资|压力(?:太|很|好)?大|家里出(?:了)?事|疫情|天灾|水灾|火灾"
     r"|负债", "circumstance"),
    ("zh:cannot-pay",
     r"还不起|还不上|还不了|付不起|付不了|交不起|交不上|拿不出|凑不(?:齐|够|出)|没能力还|无力(?:偿还|还款)|没办法还"
     r"|还不完|没法还|没有?能力还|无力还", "inability"),
    ("zh:plan",
     r"分期|分(?:[0-9一二两三四五六七八九十几]+)(?:期|次|个月)|分开还|分批|少还(?:一)?点|先还(?:一半|一部分|部分|一点"
     r"|点)|部分还款"
     r"|最低还款|减免|协商|商量|减息|免息|还一部分|每个?月还|只还本金|停息|挂账|免除利息|减少利息", "plan"),
    ("zh:extension",
     r"宽限|延期|延迟|推迟|缓(?:几|一|两)?(?:天|日|周|个月)|缓(?:一缓|缓|到|些|一下|一段)|晚(?:点|些|一点)还|晚(?:几|一"
     r"|两)(?:天|日)|再等(?:几|一|两)?(?:天|日)"
     r"|多给(?:我)?(?:几|点|一些)?(?:天|时间)|给(?:我)?(?:点|些|几天)时间|过(?:几|两)天再|延后|展期", "extension"),
)

PAID_RULES = rules(
    ("en:i-paid",
     r"\b(?:i|we|wife|husband|he|she|my \w+)(?:'ve| have| had|'d)?(?: just| already| finally)? paid\b"
     r"|^(?:all |already |just )?paid\b|\b(?:i|we) (?:settled|cleared|paid off|took care of) (?:it|this|that|the"
     r" (?:account|balance|bill|loan|debt))\b"),
    ("en:already-paid",
     r"\b(?:already|just) (?:paid|sent|made|transferred|mailed|submitted|settled|cleared|took care)\b"
     r"|(?<!get )(?<!got )(?<!gets )(?<!getting )(?<!be )(?<!being )"
     r"\bpaid (?:it|this|that|already|in full|off|up|the (?:bill|balance|loan|amount|debt|full)|you|online"
     r"|yesterday|today|last|on|via|through|with|by|\$)\b"
     r"|\b(?:it's|it is|its|has been|been|was|is|all) (?:already )?(?:paid|settled|taken care of|cleared)\b"),
    ("en:payment-made",
     r"\b(?:dropped off|deposited|brought in|left) (?:a |the |my )?(?:check|cheque|payment|cash|money)\b"
     r"|\bput (?:a |the |my )?payment (?:in|through)\b"
     r"|\b(?:made|sent|submitted|mailed|did) (?:a |the |my |that |this |your |full |an )?(?:payment|transfer"
     r"|check|cheque|money order|wire)\b|\bpayment (?:was |has been |is |already |went )?(?:made|sent|done"
     r"|submitted|complete\w*|through|processed|posted)\b|\b(?:check|cheque|money order) (?:is |was )?in the mail\b"
     r"|\b(?:sent|transferred|wired) (?:you |u )?(?:the |my )?(?:money|payment|funds|it)\b"
     r"|\bconfirmation (?:number|code)\b|\b(?:did you|didn't you|you should have|have you) (?:get|got|receive"
     r"|received) (?:my|the) (?:payment|money|check)\b|\bautopay\b"),
    ("zh:paid",
     r"(?<![没未不])(?:已经?(?:全部|都|全)?(?:还|付|支付|转账|转|缴|结清|还清|打款|处理)|(?:还款|付款|还钱|支付|打款"
     r"|还上|交钱)了"
     r"|已经?(?:打|转|汇|存|交|付|还)(?:到|给|进|过去|入)|已经?\s*paid\b|还了|还清了|还完了|付了|付过了|还过了|转账了"
     r"|转过去了|转了|打过去了|打了款|已打款|交了|缴了|结清了|都还了|早还了|刚还|刚刚还|刚付|还款成功|支付成功"
     r"|扣款成功|扣过了|已经扣|(?:还款|支付|付款|转账|扣款)(?:已经?)?(?:成功|完成))"),
    negatable=True,
)

CALL_ME_RULES = rules(
    ("en:call-me",
     r"\b(?:call|ring|phone) me\b(?! (?:again|anymore|any more|ever))|\bgive me a (?:call|ring|buzz)\b"
     r"|\bcall (?:me )?back\b|\bcallback\b|\bcall me at\b|\breach me at\b|\bmy number is\b"
     r"|\bcan (?:someone|somebody|you) (?:call|contact|reach out to) me\b|\b(?:reach|call) me (?:at|after|before|on)\b"
     r"|\bbest (?:time|number) to (?:reach|call) me\b"),
    ("en:speak-to-someone",
     r"\b(?:speak|talk) (?:to|with) (?:someone|somebody|a (?:real |live )?(?:person|human|rep|representative|agent)"
     r"|an? (?:agent|representative|advisor|adviser|human|person)|you|a live person)\b"
     r"|\b(?:i'd like|i want|i need|need) to (?:talk|speak)\b"),
    ("zh:call-me",
     r"给我打(?:个|一个|一下)?电话|打(?:个)?电话(?:给|跟|和)我|电话里?(?:跟|和)我说|打我(?:的)?电话|打给我|回(?:个"
     r"|我)?电话|回电|来(?:个)?电话"
     r"|人工|(?:跟|和|找)(?:你们)?(?:的)?(?:人|客服|工作人员|负责人)(?:说|谈|聊|沟通)|电话(?:联系|沟通|说|谈)|打过来"
     r"|联系我|找客服|(?:和|跟|与)(?:你们的?)?(?:客服|人工|工作人员|人)(?:通话|通电话|说话|联系)"),
    negatable=True,
)

HELP_RULES = rules(
    ("en:who-are-you",
     r"\bwho (?:is this|are you|is this from|sent this|r you)\b|\bwhat(?: is|'s) this(?: about| regarding| for)?"
     r"(?=\s*$|\s*[?.!])|\bwhat company\b|\bwhat is this (?:message|text) about\b"),
    ("en:how-to-pay",
     r"\bhow (?:do|can|should) i (?:pay|make (?:a )?payment|log ?in|access)\b|\bwhere (?:do|can) i pay\b"
     r"|\bcan i pay (?:online|by card|with (?:a )?card|over the phone|through|on the app|on your website|by phone)\b"
     r"|\bpayment (?:link|options|methods)\b|\b(?:send|text|email|give) me (?:the|a|your) (?:payment )?link\b"
     r"|\bwhat(?:'s| is) (?:the|your) (?:phone|number|address|website|link)\b|\b(?:a |the )?number (?:i"
     r"|to) (?:can )?call"
     r"\b|\bwhat number (?:do|can|should) i call\b"),
    ("zh:who-are-you",
     r"你们是(?:谁|哪|什么|干什么)|你是谁|哪里的|什么平台|哪个平台|什么公司|客服电话|电话多少|热线"
     r"|这是什么(?:短信|信息|消息|意思)?(?:[?]|$)|什么意思|有什么事"),
    ("zh:how-to-pay", r"怎么(?:操作)?还|如何还|在哪(?:里)?还|还款方式|还款链接|怎么(?:付|支付|转账)|还款渠道"),
)

START_RULES = rules(
    ("en:opt-in",
     r"\bopt (?:me )?(?:back )?in\b|\b(?:start|resume) (?:sending|texting|the texts|messages)\b|\bresubscribe\b"
     r"|\bsubscribe me\b|\bun-?stop\b|\btext me again\b|\byou (?:can|may) (?:text|contact|message) me\b"),
    ("zh:opt-in", r"恢复(?:短信|订阅|通知|提醒)|重新订阅|可以(?:给我)?发短信"),
)

ACCEPT_RULES = rules(
    ("en:accept",
     r"\bi (?:accept|agree)\b|\b(?:accept|agree to|sign me up for|go with|i'll take|i will take) (?:the |this |that "
     r"|your |a )?(?:[\w-]+ ){0,3}?(?:plan|offer|arrangement|option|deal)\b|\bsounds good\b|\bthat works\b"
     r"|\blet's do (?:it|that)\b|\b(?:please )?(?:set it up|go ahead)\b"),
    ("zh:accept", r"同意|接受|就这么办|按这个来|就按(?:这个|你们说的)|就这样吧?$|就这么定"),
    negatable=True,
)

# Phrases whose "not"/"no"/"不" is politeness, not negation.
_POLITE_NEGATIONS = lazy(
    r"\bno (?:problem|worries|worry)\b|\b(?:don't|do not) (?:worry|you worry)\b|\bnot a problem\b|\bno doubt\b"
    r"|不好意思|没问题|没事|不客气|不用担心|别担心|放心|不会拖|不拖|不会赖|不赖|不骗|不食言|不会忘"
    # A-not-A questions ask, they do not deny: "能不能宽限到月底", "不是已经扣款了吗"
    r"|能不能|可不可以|行不行|是不是|要不要|会不会|不是|不管|无论|别人|别急|不然"
)
_EN_NEGATION = lazy(
    r"\b(?:not|never|can't|cannot|won't|don't|didn't|couldn't|wouldn't|unable to|no way|isn't|ain't|haven't|hasn't"
    r"|wasn't|aren't|shouldn't|refuse to|refusing to|neither|nor)\b|n't\b"
)
_ZH_NEGATION = lazy(r"[不没别未甭勿]|无法|没法")


def negated(prefix: str) -> bool:
    """Whether the words just before a phrase (same clause) negate it."""
    cleaned = _POLITE_NEGATIONS.sub(" ", prefix)
    tail_en = " ".join(cleaned.split()[-4:])
    return bool(_EN_NEGATION.search(tail_en) or _ZH_NEGATION.search(cleaned[-6:]))
