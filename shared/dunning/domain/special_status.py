"""Special statuses (DESIGN section 5, SPECIAL_STATUS): what each means, and reading one in a reply.

A status reaches the customer from core banking's file (the ``special_status`` column), from an
admin (``set_special_status``) or from what the customer (or their family) writes. Each has its
compliance reason code (SPECIAL_STATUS and a sub-code) and its route:

| status          | route                                                                  |
|-----------------|------------------------------------------------------------------------|
| BANKRUPTCY      | stop: no automated contact; the bankruptcy team works the loans         |
| DECEASED        | stop: the estate is handled by people                                   |
| CEASE_CONTACT   | stop: the customer asked that all contact cease                        |
| LITIGATION_HOLD | stop: the loan is in litigation (or the customer is represented)        |
| VULNERABLE      | specialist: a specialist task, the policy's softer strategy, never legal |

A status read in a reply is recorded as what it is, a claim: a person is asked to verify it (a
call-back), and until they lift it no automated contact goes out. Stopping for a false claim costs a
few days; a reminder to a bereaved family or a bankrupt debtor under a court's stay costs far more.

Reading is deliberately narrow: "I'm broke" or "nearly bankrupt" is hardship, not a bankruptcy
filing; only a filing, a case, a chapter or a trustee is. Priority when several match: DECEASED,
BANKRUPTCY, LITIGATION_HOLD, CEASE_CONTACT, VULNERABLE (the first stops everything anyway).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from dunning.domain.models import ReasonCode, SpecialStatus, special_status_reason

ROUTES: dict[SpecialStatus, str] = {
    SpecialStatus.BANKRUPTCY: "STOP",
    SpecialStatus.DECEASED: "STOP",
    SpecialStatus.CEASE_CONTACT: "STOP",
    SpecialStatus.LITIGATION_HOLD: "STOP",
    SpecialStatus.VULNERABLE: "SPECIALIST",
}

_RELATIVE = (r"(?:he|she|they|my (?:husband|wife|father|mother|dad|mum|mom|son|daughter|partner|brother|"
             r"sister|uncle|aunt|grandfather|grandmother|grandpa|grandma)|the (?:account|loan) ?holder|"
             r"your customer|the borrower)")

_PATTERNS: tuple[tuple[SpecialStatus, str, str], ...] = (
    (SpecialStatus.DECEASED, "en:deceased",
     rf"\b{_RELATIVE}\b[^.!?]{{0,40}}\b(?:passed away|has died|died|is dead|is deceased|passed on)\b"
     r"|\bis deceased\b|\bdeath certificate\b|\bexecut(?:or|rix) of (?:the|his|her|their) estate\b"),
    (SpecialStatus.DECEASED, "zh:deceased", r"去世|过世|身故|离世|病逝|已故|死亡证明|人已经不在了|已经不在了"),
    (SpecialStatus.BANKRUPTCY, "en:bankruptcy",
     r"\b(?:filed|filing|file|filled|declared|declaring|declare)\b[^.!?]{0,20}\bbankrupt(?:cy)?\b"
     r"|\bchapter (?:7|11|13)\b"
     r"|\bbankruptcy (?:case|petition|court|trustee|attorney|lawyer|number|protection)\b"
     r"|\bautomatic stay\b|\bin bankruptcy\b|\bbankruptcy was discharged\b|\bdischarged (?:in|from) bankruptcy\b"),
    (SpecialStatus.BANKRUPTCY, "zh:bankruptcy",
     r"申请(?:了)?(?:个人)?破产|宣告破产|破产清算|破产程序|破产申请|破产管理人"),
    (SpecialStatus.LITIGATION_HOLD, "en:represented",
     r"\b(?:my|our) (?:lawyer|attorney|solicitor|counsel)\b"
     r"|\brepresented by (?:a |an )?(?:lawyer|attorney|counsel)\b"
     r"|\b(?:i am|i'm|im) suing\b|\b(?:lawsuit|litigation) (?:against|with) you\b"),
    (SpecialStatus.LITIGATION_HOLD, "zh:represented",
     r"我的律师|委托(?:了)?律师|已经起诉|已起诉|诉讼中|法院已受理|申请(?:了)?仲裁"),
    (SpecialStatus.CEASE_CONTACT, "en:cease",
     r"\b(?:cease|stop|end) (?:all |any )?(?:contact|communications?|correspondence)\b"
     r"|\bdo not (?:contact|call|text|email|write to) me (?:again|ever|anymore|any more)\b"
     r"|\bnever (?:contact|call) me again\b|\bcease and desist\b"),
    (SpecialStatus.CEASE_CONTACT, "zh:cease",
     r"不要再联系我|别再联系我|停止(?:一切|所有)?联系|停止催收|不要再打(?:电话)?给我"),
    (SpecialStatus.VULNERABLE, "en:vulnerable",
     r"\b(?:cancer|chemo(?:therapy)?|terminal(?:ly)? ill|hospice|dementia|alzheimer'?s|mental health|"
     r"depress(?:ed|ion)|suicid\w*|kill myself|end my life|disabled|disability|domestic (?:abuse|violence)|"
     r"bereave\w*|grieving|widowed|carer for|caregiver for)\b"),
    (SpecialStatus.VULNERABLE, "zh:vulnerable",
     r"癌症|化疗|绝症|抑郁|精神疾病|残疾|自杀|轻生|不想活|重病|家暴|丧偶|住院治疗"),
)
_COMPILED = tuple((status, name, re.compile(pattern, re.I)) for status, name, pattern in _PATTERNS)


@dataclass(frozen=True)
class StatusClaim:
    status: SpecialStatus
    matched: str  # the rule that matched (safe to log), never the text


def _normalise(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).replace("\u2019", "'").replace("\u2018", "'").casefold()
    return " ".join(folded.split())


def status_in_reply(text: str) -> StatusClaim | None:
    """The special status a customer's message tells us of, if any (see the module docstring)."""
    normal = _normalise(text)
    for status, name, pattern in _COMPILED:
        if pattern.search(normal):
            return StatusClaim(status, name)
    return None


def reasons_for(status: SpecialStatus) -> list[ReasonCode]:
    """SPECIAL_STATUS and the status's own sub-code, as the ledger and metrics carry them."""
    return [ReasonCode.SPECIAL_STATUS, special_status_reason(status)]
