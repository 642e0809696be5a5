"""The words and phrases the TONE rules look for, English and Chinese, by rule.

Data only (the matching is in ``tone``). Each entry is a regular expression over the normal form
of a text: lower case, punctuation and apostrophes gone ("won't" is "wont"), one space between
words, Chinese as written. Word forms are spelled out ("arrest(?:s|ed|ing)?"). An English entry
matches whole words only; a Chinese one anywhere.

``negation`` says whether a denial lets the phrase pass: NONE (never: "you will not be arrested"
still raises arrest), NEAR (a denial just before it: "we will never visit your home"), SENTENCE
(a denial anywhere in the sentence but a condition: "we never use your address book").

Adding a word: put it under the rule it belongs to, add a line that uses it to
tests/fixtures/tone/abusive.jsonl, and run tests/unit/test_tone.py (every shipped template and
the polite corpus must still pass).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Negation(StrEnum):
    NONE = "none"
    NEAR = "near"
    SENTENCE = "sentence"
    INSIDE = "inside"  # the pattern itself captures the denial (used for "your family will not be told")


@dataclass(frozen=True)
class Entry:
    rule: str
    regex: str
    negation: Negation = Negation.NONE


def _entries(rule: str, negation: Negation, *regexes: str) -> tuple[Entry, ...]:
    return tuple(Entry(rule, r, negation) for r in regexes)


N, NEAR, SENT = Negation.NONE, Negation.NEAR, Negation.SENTENCE

# ---------------------------------------------------------------------------- contact verbs and targets

# "<verb> your <target>": whom a collector may never tell about the debt, and how.
CONTACT_VERBS_EN: tuple[str, ...] = (
    r"contact(?:s|ed|ing)?", r"call(?:s|ed|ing)?", r"phon(?:e|es|ed|ing)", r"ring(?:s|ing)?", "rang",
    r"text(?:s|ed|ing)?", r"e ?mail(?:s|ed|ing)?", r"messag(?:e|es|ed|ing)", r"tell(?:s|ing)?", "told",
    r"inform(?:s|ed|ing)?", r"notif(?:y|ies|ied|ying)", r"alert(?:s|ed|ing)?", r"warn(?:s|ed|ing)?",
    r"visit(?:s|ed|ing)?", r"report(?:s|ed|ing)?(?: (?:you|this|it|your debt|the debt|your account))? to",
    r"writ(?:e|es|ing) to", "wrote to", r"reach(?:es|ed|ing)? out to", r"get(?:ting)? in touch with",
    r"speak(?:s|ing)? (?:to|with)", r"talk(?:s|ed|ing)? (?:to|with)", r"involv(?:e|es|ed|ing)",
    r"shar(?:e|es|ed|ing) (?:this|it|the debt|your debt|the details|details|information) with",
    r"disclos(?:e|es|ed|ing)(?: (?:this|it|the debt|your debt))? to", r"go(?:ing)? to", r"com(?:e|ing) to",
    r"show(?:ing)? up at", r"turn(?:ing)? up at",
    r"send(?:s|ing)? (?:someone|people|agents?|an agent|a collector|collectors|letters?|a letter|notices?"
    r"|this|it|a team|our team) to", r"embarrass(?:ing)? you (?:in front of|at|before)",
    r"expos(?:e|ing) you to", r"harass(?:es|ed|ing)?",
)
VISIT_VERBS_EN: tuple[str, ...] = (
    r"visit(?:s|ed|ing)?", r"com(?:e|ing) to", r"go(?:ing)? to", r"show(?:ing)? up at", r"turn(?:ing)? up at",
    r"knock(?:s|ed|ing)? on", r"wait(?:ing)? (?:for you )?(?:at|outside)", r"stop(?:ping)? by", r"drop(?:ping)? by",
    r"send(?:s|ing)? (?:someone|people|agents?|an agent|a collector|collectors|a team|our team) to",
    r"camp(?:ing)? (?:outside|at)",
)
TARGETS_EN: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "employer": (CONTACT_VERBS_EN, (
        r"employers?", r"boss(?:es)?", r"managers?", r"supervisors?", "workplace", "work", "office", "job",
        "company", "hr", "human resources", r"colleagues?", r"co ?workers?", "payroll",
    )),
    "third_party": (CONTACT_VERBS_EN, (
        "family", "families", r"family members?", r"relatives?", r"parents?", "mother", "father", r"moms?",
        r"mums?", r"dads?", "spouse", "wife", "husband", "partner", "children", "child", r"kids?", r"sons?",
        r"daughters?", r"siblings?", r"brothers?", r"sisters?", r"neighbou?rs?", r"friends?", r"contacts?",
        "contact list", r"references?", r"emergency contacts?", "church", "school", "landlord",
        r"in ?laws?", r"cousins?", r"grandparents?", r"roommates?", "loved ones",
    )),
    "home_visit": (VISIT_VERBS_EN, (
        "home", "house", "door", "doorstep", "front door", "address", "apartment", "flat", "place",
        r"neighbou?rhood", "street", "building",
    )),
}

CONTACT_VERBS_ZH: tuple[str, ...] = (
    "联系", "联络", "通知", "告诉", "告知", "转告", "知会", "打电话给", "打电话到", "打给", "致电", "打爆",
    "爆", "轰炸", "发短信给", "短信通知", "发信息给", "群发给", "群发", "找", "去找", "找到", "拜访", "走访",
    "曝光给", "发给", "告到", "反映到", "反映给", "汇报给", "寄到", "送到", "上门找", "骚扰",
)
TARGETS_ZH: dict[str, tuple[str, ...]] = {
    "employer": (
        "单位", "工作单位", "公司", "领导", "老板", "上司", "同事", "人事", "人力资源", "工作的地方", "工作地点",
    ),
    "third_party": (
        "家人", "家属", "家里人", "亲人", "亲友", "亲属", "亲戚", "朋友", "好友", "邻居", "父母", "爸妈", "爸爸",
        "妈妈", "配偶", "老公", "老婆", "丈夫", "妻子", "子女", "孩子", "儿女", "学校", "通讯录", "紧急联系人",
        "联系人", "村委会", "居委会", "社区", "所有人", "身边的人", "周围的人",
    ),
}

# ---------------------------------------------------------------------------- English

_EN: tuple[Entry, ...] = (
    *_entries(
        "arrest", N,
        r"arrest(?:s|ed|ing)?", r"(?:jail|gaol)(?:s|ed|ing|time|house)?", r"imprison(?:s|ed|ing|ment)?",
        r"prisons?", "behind bars", r"lock(?:s|ed|ing)? (?:you )?up", r"police(?:man|men|woman)?", r"cops?",
        "the feds", r"handcuff(?:s|ed|ing)?", r"warrants?", r"criminal(?:ly|s)?", r"crimes?",
        r"prosecut(?:e|es|ed|ing|ion|or|ors)", r"press(?:ing)? charges", r"(?:file|files|filed|filing) charges",
        "charged with", r"detain(?:s|ed|ing)?", "detention", "custody", r"felon(?:y|ies)",
        r"misdemeanou?rs?", r"you (?:committed|are committing) (?:fraud|theft|a crime)",
    ),
    *_entries(
        "employer", N,
        "we know where you work", r"(?:get|have|make|making) you (?:fired|sacked|lose your job)",
        "cost you your job",
    ),
    *_entries(
        "employer", NEAR,
        r"let (?:all of )?your(?: \w+){0,2}? (?:employer|boss|manager|colleagues?|co ?workers?|workplace|company|hr)"
        r"(?: \w+){0,3}? know",
    ),
    *_entries(
        "third_party", SENT,
        "address book", "your contact list", "phone contacts", "your contacts", r"emergency contacts?",
        r"your references?", r"(?:everyone|everybody|people) (?:you know|in your (?:phone|contacts|life))",
        r"(?:tell|tells|told|telling|inform|notify|text|call|message|email)(?:s|ed|ing)? (?:everyone|everybody)",
    ),
    *_entries(
        "third_party", NEAR,
        r"let (?:all of )?your(?: \w+){0,2}? (?:family|friends|relatives|neighbou?rs|parents|wife|husband|"
        r"spouse|kids|children|contacts|loved ones)(?: \w+){0,3}? know",
    ),
    *_entries(
        "home_visit", NEAR,
        "we know where you live", r"we (?:know|have|found|got) your (?:home |house )?address",
        r"(?:home|house|field|doorstep) visits?", r"field (?:agents?|collectors?|team|officers?)",
        "doorstep collection", "pay you a visit", r"visit you(?: (?:at home|in person|at your door|soon|today|"
        r"tomorrow|tonight))?", r"see you at your (?:home|door|house|place)", r"at your (?:front )?door(?:step)?",
        "on your doorstep", r"outside your (?:home|house|door|place|building)",
        r"com(?:e|ing) (?:to )?(?:find|get) you", r"com(?:e|ing) looking for you", r"com(?:e|ing) to see you",
    ),
    *_entries(
        "shaming", N,
        r"shame(?:s|d|ful|fully|less)?", "shaming", r"humiliat(?:e|es|ed|ing|ion)", r"embarrass(?:es|ed|ing)? you",
        r"public(?:ly)? (?:humiliat\w*|sham\w*|list|notice|record|exposure|display)", "wall of shame",
        r"(?:everyone|everybody|the whole (?:town|neighbou?rhood|world|street|village|office|family)) "
        r"(?:will|is going to|shall|are going to) (?:know|find out|see|hear|learn)",
        r"disgrac(?:e|ed|eful)", r"(?:ruin|ruins|ruined|ruining|destroy) your (?:name|reputation|life)",
        r"tarnish(?:es|ed|ing)? your",
    ),
    *_entries(
        "shaming", NEAR,
        r"expos(?:e|es|ed|ing) (?:you|your|this|it|the debt)", "exposure",
        r"(?:make|makes|made|making) (?:this|it|your debt|the debt|your name|you|your situation)(?: \w+)? public",
        r"go(?:es|ing)? public", r"publish(?:es|ed|ing)? (?:your|this|it|the debt|a list|names)",
        r"post(?:s|ed|ing)? (?:your \w+|this|it|about you|about your debt|your name)(?: \w+){0,2}? "
        r"(?:online|on social media|on facebook|on the internet|on the web|on instagram|on twitter)",
    ),
    *_entries(
        "blacklist", NEAR,
        r"blacklist(?:s|ed|ing)?", r"black list(?:s|ed)?",
        r"(?:ruin|ruins|ruined|ruining|destroy|destroys|destroyed|destroying|wreck|wrecked|trash|trashed|tank|"
        r"kill) your credit", r"credit(?: score| rating| record| history)? (?:will be |is )?(?:ruined|destroyed|"
        r"wrecked|finished|dead)", r"bad credit (?:forever|for life|for the rest of your life)",
        r"(?:never|not) (?:be able to )?(?:get|borrow|obtain) (?:a |any )?(?:loan|credit|mortgage|credit card)s? "
        r"again", "for the rest of your life", r"(?:bad debtors?|defaulters?|deadbeats?|debtors?) list",
        r"list of (?:bad debtors|defaulters|deadbeats|debtors)",
    ),
    *_entries(
        "lawsuit", NEAR,
        r"sue(?:s|d)? you", "suing you", r"(?:we|i) (?:will|shall|are going to|am going to|gonna|can|could|may) sue",
        r"(?:file|files|filed|filing|bring|brings|brought|bringing|take|takes|took|taking|start|starting|launch|"
        r"launching|commence|initiate) (?:a )?(?:law ?suit|legal action|legal proceedings|court action|"
        r"court proceedings|court case|case|claim) against you",
        r"law ?suits? (?:will|shall|is going to) be (?:filed|brought|started)", r"law ?suits? against you",
        r"(?:take|takes|taking|took|drag|drags|dragging|dragged|haul|hauling|hauled) you (?:to|into|before) "
        r"(?:court|a judge)", "see you in court", "court summons", r"summon(?:s|ed)? you", r"subpoena(?:s|ed)?",
        r"garnish(?:es|ed|ing|ment|ments)?",
        r"(?:seize|seizes|seized|seizing|confiscate|confiscates|confiscated|confiscating) (?:your|all|everything)",
        "seizure", r"repossess(?:es|ed|ing|ion)?",
        r"(?:freeze|freezing|frozen|froze|empty|emptying|drain|draining) (?:your|all your) (?:bank )?"
        r"(?:account|accounts|assets|wages|salary|pay|paycheck|property|savings|cards?)",
        r"levy (?:on )?your", r"(?:put|place|file|placing|filing) a lien", r"liens? (?:on|against) your",
        r"(?:take|taking|took) (?:away )?your (?:house|home|car|property|wages|salary|assets|savings|belongings|"
        r"furniture|children|kids)", r"judgm?ents? against you", r"bailiffs?",
        r"(?:dock|docking|deduct|deducting) (?:it from )?your (?:wages|salary|pay)",
    ),
    *_entries(
        "ultimatum", N,
        "or else", r"(?:final|last) warning", r"(?:you have|youve|you ve) been warned", "consider yourself warned",
        r"(?:you will|youll|you are going to|youre going to|your going to) (?:regret|be sorry)",
        r"regret (?:it|this|not paying|ignoring)", "face the consequences",
        r"(?:serious|severe|dire|grave|terrible) consequences", "consequences will follow",
        "there will be consequences", r"(?:we|i) will find you", r"(?:hunt|track) you down",
        r"(?:we are|were|we re) watching", "watching you", "nowhere to hide", r"(?:cannot|cant|can not) hide",
        r"(?:cannot|cant|can not) escape", r"(?:dont|do not) (?:make|test|push) (?:us|me)",
        r"(?:this|it|things) (?:will|is going to|are going to) get (?:ugly|nasty|worse for you)",
        r"make (?:your life|you) (?:miserable|hell|a living hell|pay)", r"(?:you will|youll) pay for (?:this|it)",
        "living hell", r"(?:you will|youll) not get away", r"get away with (?:it|this)", "we never forget",
        "last chance before we",
    ),
    *_entries(
        "insult", N,
        r"deadbeats?", r"losers?", "scum", "scumbag", r"low ?life", r"parasites?", r"leech(?:es)?",
        r"freeloaders?", r"idiots?", "stupid", r"morons?", "worthless", "pathetic", "disgusting", "shameless",
        r"liars?", r"cheaters?", r"crooks?", "con artist", r"degenerates?",
        r"you are (?:a |an )?(?:fraud|criminal|thief|liar|cheat|trash|garbage|irresponsible|useless|nothing)",
        r"(?:you|u) (?:stole|steal|are stealing|cheat|cheated|lied)",
        r"you (?:are )?(?:a )?(?:fraudster|scammer|swindler)s?",
        r"steal(?:ing)? (?:money )?from us", "shame on you", r"good for nothing",
    ),
    *_entries(
        "violence", N,
        r"(?:hurt|harm|beat|kill|shoot|stab|punch|attack|smash|hit)(?:s|ing)? you", r"kill(?:s|ed|ing)?", "murder",
        r"(?:break|breaking|broke|snap|smash) (?:your )?(?:legs?|arms?|neck|bones|fingers|kneecaps|face|windows?|"
        r"car)", r"beat (?:you )?up", r"get (?:you )?hurt", r"(?:accidents?) (?:can|could|may|might) happen",
        "watch your back", r"(?:you|your family|your kids|your children) (?:will|could|might|may) (?:get hurt|"
        r"suffer|be harmed)", r"(?:you|your family|your kids|your children|your life) (?:are|is|will be|could be) "
        r"in danger", r"(?:burn|burning|torch) (?:down )?your", r"bodily harm", r"physical harm",
        r"(?:use|using|resort to|threat of) (?:force|violence)", "sleep with one eye open",
        r"your (?:safety|family s safety) "
        r"(?:is|will be|could be|may be) at risk",
    ),
    *_entries(
        "false_authority", N,
        "law enforcement", r"sheriffs?", r"marshals?", "fbi", r"federal (?:agents?|officers?|investigation|crime)",
        "district attorney", r"(?:police|sheriff s?) department", r"court officers?", "officer of the court",
        r"(?:we are|this is|calling from|writing from) (?:the |a )?(?:court|government|police|state|"
        r"federal government|authorities)", r"government (?:agency|agent|official|department)",
        "attorney general", "interpol", r"on behalf of the (?:court|state|government)",
        r"(?:court|legal) (?:order|judgment) (?:has been|was|is being) issued",
    ),
)

# ---------------------------------------------------------------------------- Chinese

_ZH: tuple[Entry, ...] = (
    *_entries(
        "arrest", N,
        "逮捕", "拘留", "刑拘", "坐牢", "蹲监狱", "监狱", "牢饭", "牢房", "大牢", "抓你", "抓您", "抓捕", "抓起来",
        "报警", "报案", "公安", "警察", "警方", "派出所", "刑事", "判刑", "判你", "立案", "通缉", "诈骗罪",
        "拒执罪", "拒不执行", "犯罪", "罪犯", "恶意透支", "局子", "手铐", "坐几年", "判几年", "蹲几年",
    ),
    *_entries(
        "employer", N,
        "丢工作", "丢掉工作", "丢饭碗", "被开除", "被辞退", "被炒", "开除你", "辞退你", "知道你在哪上班",
        "知道你在哪工作", "全公司都知道", "单位都知道",
    ),
    *_entries("employer", NEAR, "(?:去|到|来|找到|找上)(?:你|您)(?:的)?(?:单位|公司)"),
    *_entries("third_party", SENT, "通讯录", "紧急联系人"),
    *_entries("third_party", NEAR, "爆通讯录", "打爆", "轰炸", "呼死你", "全村都知道", "全小区"),
    *_entries(
        "home_visit", NEAR,
        "上门", "登门", "家访", "外访", "找上门", "家门口", "堵你", "堵门", "蹲守", "蹲你",
        "知道你住", "知道您住", "知道你家", "知道您家", "你住哪", "派人",
        "(?:去|到|来|上|找到|找上|堵在|守在)(?:你|您)(?:的)?(?:家|住处|住址|家里|小区)",
    ),
    *_entries(
        "shaming", N,
        "社死", "社会性死亡", "曝光", "公之于众", "公开你", "公开您", "公布你", "公布您", "朋友圈", "发到网上",
        "挂到网上", "挂网上", "挂在网上", "网上公示", "公示你", "抖音", "微博", "游街", "大字报", "贴你照片",
        "丢人现眼", "身败名裂", "抬不起头", "没脸见人", "名声扫地", "丢脸", "人尽皆知", "人人皆知", "让你出名",
        "丢人",
    ),
    *_entries(
        "blacklist", NEAR,
        "失信被执行人", "失信人员", "失信名单", "老赖名单", "黑名单", "拉黑", "黑户",
        "征信(?:里|上|会|就|将)?(?:留下)?(?:污点|黑点|黑了|花了|废了|毁了|完了|烂了)",
        "征信(?:终身|一辈子|永久|永远)", "毁(?:掉|了)?(?:你|您)?的?征信", "限制高消费", "限高", "限制出行",
        "不能坐(?:飞机|高铁|火车)", "坐不了(?:飞机|高铁|火车)",
        "影响(?:你|您)?的?(?:子女|孩子)(?:上学|升学|考公|就业|前途|入学|政审)?", "(?:子女|孩子)(?:上学|考公|政审)",
        "政审", "一辈子(?:都)?(?:贷|借)不到", "(?:贷款|借钱)(?:都)?(?:办|贷|借)不了",
    ),
    *_entries(
        "lawsuit", NEAR,
        "起诉你", "起诉您", "告你", "告死你", "告上法庭", "法庭上见", "法院见", "法庭见", "吃官司",
        "强制执行", "冻结(?:你|您)", "冻结(?:账户|银行卡|资产|工资|财产)", "查封", "扣押",
        "拍卖(?:你|您)", "划扣(?:你|您)", "扣(?:你|您)的?工资", "传票", "律师函", "起诉书",
    ),
    *_entries(
        "ultimatum", N,
        "后果自负", "后果很严重", "后果严重", "最后警告", "最后通牒", "最后一次警告", "走着瞧", "等着瞧", "你等着",
        "别怪我们", "别怪我", "不要怪我们", "休怪", "让你好看", "有你好看", "有你受的", "吃不了兜着走",
        "你会后悔", "后悔莫及", "后悔一辈子", "躲不掉", "跑不掉", "逃不掉", "躲得了", "跑得了和尚", "无处可逃",
        "天涯海角", "不会放过你", "(?:跟|和)(?:你|您)没完", "死磕", "奉陪到底", "颜色看看", "好自为之", "自求多福",
    ),
    *_entries(
        "insult", N,
        "老赖", "骗子", "无赖", "赖皮", "不要脸", "厚颜无耻", "无耻", "废物", "垃圾(?!邮件|短信|箱|信息)", "人渣",
        "败类", "畜生", "畜牲", "死皮赖脸", "厚脸皮", "王八蛋", "混蛋", "去死", "滚蛋", "穷鬼", "没出息", "蛀虫",
    ),
    *_entries(
        "violence", N,
        "打你", "揍你", "弄死", "整死", "砍你", "砍死", "打断(?:你|您)?的?(?:腿|手|胳膊)", "废了你",
        "人身安全", "出点什么事", "出什么事",
        "小心点", "小心你", "见血", "收拾你", "弄你", "泼油漆", "泼漆", "红油漆", "放火", "烧你",
        "找人(?:收拾|弄|教训|对付)", "黑社会",
    ),
    *_entries(
        "false_authority", N,
        "公安局", "检察院", "法院工作人员", "法官", "执法人员", "执法部门", "网警", "经侦", "政府部门",
        "国家机关", "司法机关", "法院通知", "我们是法院", "本院",
    ),
)

LEXICON: tuple[Entry, ...] = (*_EN, *_ZH)

# On time-barred debt any mention of legal action is a threat the lender cannot carry out.
LEGAL_WORDS: tuple[str, ...] = (
    "legal", "legally", r"courts?", r"attorneys?", r"lawyers?", r"law ?suits?", "litigation",
    r"litigat(?:e|es|ed|ing)", r"sue(?:s|d)?", "suing", r"judgm?ents?",
    "法律", "法院", "律师", "诉讼", "法务", "起诉",
)
