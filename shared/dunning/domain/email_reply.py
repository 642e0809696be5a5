"""A customer's email reply, read from its raw MIME: who wrote, what they wrote now, what it answers.

Mail clients put the whole conversation under a reply: the reader keeps only the new text, so the
reply reader never acts on our own notice quoted back at us. Quoted history is cut at the first
header a client writes above it, in English and Chinese clients' forms:

- ``On <date>, <name> <address> wrote:`` (possibly wrapped over two lines), Gmail's Chinese
  ``在 <date>，<name> 写道：`` and QQ/NetEase ``于 <date> 写道：``;
- Outlook's header block (``From:`` with ``Sent:``/``Date:`` below it, ``发件人:`` with
  ``发送时间:``/``时间:``/``日期:``), ``-----Original Message-----``, ``-----原始邮件-----`` and
  Outlook's line of underscores;
- every line quoted with ``>``; a signature after the ``-- `` line, and "Sent from my iPhone".

HTML-only mail is turned into text first, dropping what clients mark as quoted (``blockquote``,
Gmail's ``gmail_quote``, Yahoo's ``yahoo_quoted``), then cut the same way.

Auto-replies (RFC 3834 ``Auto-Submitted``, ``X-Autoreply``, ``Precedence: auto_reply/bulk/junk``,
an empty return path, delivery reports, out-of-office subjects in English and Chinese) are
recognised so that they are recorded but never taken as the customer's answer.

SES's receipt verdicts say whether a message may be acted on at all (`verdict_problems`).
Pure: the standard library's ``email`` package and ``html.parser`` only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from html.parser import HTMLParser
from typing import Any

MAX_TEXT = 4000  # characters of new text kept: a reply is a few lines, never a document

# --------------------------------------------------------------------------- quoted history

_ON_WROTE = re.compile(r"^\s*(on|am|le)\s.+\b(wrote|schrieb|a écrit)\s*:\s*$", re.I)
_ON_START = re.compile(r"^\s*on\s.+", re.I)
_WROTE_END = re.compile(r"\bwrote\s*:\s*$", re.I)
_ZH_WROTE = re.compile(r"^\s*(在|于).+写道\s*[:：]\s*$")
_ZH_WROTE_START = re.compile(r"^\s*(在|于)\s*\S.*")
_ZH_WROTE_END = re.compile(r"写道\s*[:：]\s*$")
_SEPARATORS = (
    re.compile(r"^\s*-{2,}\s*(original message|original e-?mail|forwarded message)\s*-{2,}\s*$", re.I),
    re.compile(r"^\s*-{2,}\s*(原始邮件|原邮件|转发邮件)\s*-{2,}\s*$"),
    re.compile(r"^\s*_{10,}\s*$"),  # Outlook's rule above the quoted header block
    re.compile(r"^\s*begin forwarded message\s*:?\s*$", re.I),
)
_HEADER_FROM = re.compile(r"^\s*\**\s*(from|发件人)\s*\**\s*[:：]", re.I)
_HEADER_BELOW = re.compile(r"^\s*\**\s*(sent|date|to|subject|发送时间|时间|日期|收件人|主题)\s*\**\s*[:：]", re.I)
_QUOTE_MARKS = re.compile(r"^\s*(>\s?)+")
_SIGNATURE = re.compile(r"^(-- ?|—— ?)$")
_SENT_FROM = re.compile(
    r"^\s*(sent from my \S.*|get outlook for \S.*|发自我的\S.*|来自我的\S.*|从我的\S+发送)\s*$", re.I)


def _quote_starts(lines: list[str], i: int) -> bool:
    line = lines[i]
    if _ON_WROTE.match(line) or _ZH_WROTE.match(line) or any(p.match(line) for p in _SEPARATORS):
        return True
    following = lines[i + 1:i + 3]
    # "On Tue, Nov 3, 2026 at 10:00 AM Harbor Finance <" / "collections@example.com> wrote:"
    if _ON_START.match(line) and any(_WROTE_END.search(nxt) for nxt in following[:1]):
        return True
    if _ZH_WROTE_START.match(line) and any(_ZH_WROTE_END.search(nxt) for nxt in following[:1]):
        return True
    if _HEADER_FROM.match(line):
        # A header block, not a sentence that starts with "From:": a Sent/Date/To line follows.
        return any(_HEADER_BELOW.match(nxt) for nxt in lines[i + 1:i + 4])
    return False


def new_text(body: str) -> str:
    """Only what the customer wrote in this reply: quoted history, ``>`` lines and signatures go."""
    lines = body.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    unquoted = [_QUOTE_MARKS.sub("", line) for line in lines]  # "> On ... wrote:" starts history too
    kept: list[str] = []
    for i, line in enumerate(lines):
        if _quote_starts(unquoted, i) or _SIGNATURE.match(line.rstrip("\u00a0")):
            break
        if line.lstrip().startswith(">") or _SENT_FROM.match(line):
            continue
        kept.append(line.rstrip())
    text = "\n".join(kept).strip()
    return re.sub(r"\n{3,}", "\n\n", text)[:MAX_TEXT]


# --------------------------------------------------------------------------- HTML


_BLOCKS = frozenset({"p", "div", "br", "li", "tr", "table", "h1", "h2", "h3", "h4", "h5", "h6", "section",
                     "article", "header", "footer", "ul", "ol", "pre", "hr"})
_DROPPED = frozenset({"script", "style", "head", "title", "blockquote", "template"})
_QUOTED_MARKERS = ("gmail_quote", "yahoo_quoted", "moz-cite-prefix", "protonmail_quote", "divrplyfwdmsg",
                   "mail-editor-reference-message-container")
_VOID = frozenset({"br", "hr", "img", "meta", "link", "input", "wbr", "col", "area", "base", "source"})


class _TextOfHtml(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping: list[str] = []  # open tags whose content is dropped

    def _quoted(self, tag: str, attrs: list[tuple[str, str | None]]) -> bool:
        if tag in _DROPPED:
            return True
        marks = " ".join((v or "") for k, v in attrs if k in ("class", "id")).lower()
        return any(marker in marks for marker in _QUOTED_MARKERS)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._skipping:
            if tag not in _VOID:
                self._skipping.append(tag)
            return
        if tag not in _VOID and self._quoted(tag, attrs):
            self._skipping.append(tag)
            return
        if tag == "hr":
            self.parts.append("\n" + "_" * 32 + "\n")
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if self._skipping:
            if tag in self._skipping:
                while self._skipping and self._skipping.pop() != tag:
                    pass
            return
        if tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(re.sub(r"[ \t\r\n\f]+", " ", data))


def html_to_text(html: str) -> str:
    """The readable text of an HTML mail part, without what the client marked as quoted."""
    parser = _TextOfHtml()
    parser.feed(html)
    parser.close()
    lines = (line.strip() for line in "".join(parser.parts).replace("\u00a0", " ").split("\n"))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# --------------------------------------------------------------------------- auto-replies

_OUT_OF_OFFICE = re.compile(
    r"^\s*((re|aw|回复|答复)\s*[:：]\s*)*"
    r"(automatic reply|auto(matic)?[- ]?(reply|response)|autoreply|out of (the )?office|ooo\b|"
    r"away from (the )?office|on vacation|vacation reply|"
    r"自动回复|自动答复|自动应答|休假|不在办公室|外出)", re.I)
_MAILER = re.compile(r"^(mailer-daemon|postmaster)@", re.I)


def auto_reply_reason(message: EmailMessage, subject: str, from_address: str | None) -> str | None:
    """Why this message was written by a machine rather than the customer (a code), or None."""
    auto = str(message.get("Auto-Submitted", "") or "").strip().lower()
    if auto and auto != "no":
        return "AUTO_SUBMITTED"
    if any(message.get(h) is not None and str(message.get(h)).strip().lower() not in ("no", "false", "0")
           for h in ("X-Autoreply", "X-Autorespond", "X-Autoresponder")):
        return "X_AUTOREPLY"
    precedence = str(message.get("Precedence", "") or message.get("X-Precedence", "") or "").strip().lower()
    if precedence in ("auto_reply", "bulk", "junk", "list"):
        return "PRECEDENCE"
    if message.get_content_type() == "multipart/report" or (from_address and _MAILER.match(from_address)):
        return "DELIVERY_REPORT"
    if str(message.get("Return-Path", "") or "").strip() == "<>":
        return "NULL_RETURN_PATH"
    if _OUT_OF_OFFICE.match(subject):
        return "OUT_OF_OFFICE"
    return None


# --------------------------------------------------------------------------- the message


@dataclass(frozen=True)
class ReadEmail:
    """What a reply says. `from_address` and `text` are PII: ledger only, never logs."""

    from_address: str | None  # the sender's address, lower case
    subject: str
    text: str  # the new text only
    referenced_ids: tuple[str, ...]  # Message-IDs it answers, newest first (In-Reply-To, then References)
    auto_reply: str | None  # a reason code when a machine wrote it
    html_only: bool


_MESSAGE_ID = re.compile(r"<([^<>\s]+)>")


def referenced_message_ids(in_reply_to: str | None, references: str | None) -> tuple[str, ...]:
    """Message-IDs (without the angle brackets) the reply answers, the one it answers directly first."""
    found: list[str] = []
    for mid in [*_MESSAGE_ID.findall(in_reply_to or ""), *reversed(_MESSAGE_ID.findall(references or ""))]:
        if mid not in found:
            found.append(mid)
    return tuple(found)


def ses_message_ids(referenced: tuple[str, ...]) -> tuple[str, ...]:
    """SES writes ``<message id>@<region>.amazonses.com`` (``email.amazonses.com`` in us-east-1):
    the part before the ``@`` is the id SendEmail returned, which our notices record."""
    out = []
    for mid in referenced:
        local, _, domain = mid.partition("@")
        if local and domain.lower().endswith("amazonses.com"):
            out.append(local)
    return tuple(out)


def _header(message: EmailMessage, name: str) -> str:
    try:
        value = message.get(name)
    except (ValueError, IndexError, TypeError):  # a header the policy cannot parse
        return ""
    return str(value or "").strip()


def _from_address(message: EmailMessage) -> str | None:
    try:
        header = message.get("From")
        addresses = getattr(header, "addresses", ()) or ()
    except (ValueError, IndexError, TypeError):
        return None
    for address in addresses:
        spec = str(address.addr_spec or "").strip().lower()
        if "@" in spec:
            return spec
    return None


def _content(part: Any) -> str:
    try:
        return str(part.get_content())
    except (LookupError, UnicodeError, ValueError):  # unknown or lying charset: keep what decodes
        payload = part.get_payload(decode=True) or b""
        return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else str(payload)


def read_email(raw: bytes) -> ReadEmail:
    """Parse one raw message (RFC 5322 / MIME) as SES stored it."""
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    subject = _header(message, "Subject")
    from_address = _from_address(message)
    body, html_only = "", False
    part = message.get_body(preferencelist=("plain", "html"))
    if part is not None:
        content = _content(part)
        if part.get_content_type() == "text/html":
            body, html_only = html_to_text(content), True
        else:
            body = content
    return ReadEmail(
        from_address=from_address,
        subject=subject,
        text=new_text(body),
        referenced_ids=referenced_message_ids(_header(message, "In-Reply-To"), _header(message, "References")),
        auto_reply=auto_reply_reason(message, subject, from_address),
        html_only=html_only,
    )


# --------------------------------------------------------------------------- SES verdicts


def verdict_problems(receipt: Mapping[str, Any]) -> list[str]:
    """Why SES's verdicts forbid acting on the message (codes), empty when it may be acted on.

    A virus or spam verdict of FAIL, a DMARC FAIL, or SPF and DKIM both failing: the sender
    cannot be trusted to be who the From line says, and a forged "I dispute" or "STOP" must not
    change a case. GRAY and PROCESSING_FAILED are not failures (most consumer mail has no DMARC
    policy); such messages are acted on like any other.
    """

    def status(name: str) -> str:
        verdict = receipt.get(name)
        return str(verdict.get("status", "")).upper() if isinstance(verdict, Mapping) else ""

    problems = []
    if status("virusVerdict") == "FAIL":
        problems.append("VIRUS")
    if status("spamVerdict") == "FAIL":
        problems.append("SPAM")
    if status("dmarcVerdict") == "FAIL":
        problems.append("DMARC")
    if status("spfVerdict") == "FAIL" and status("dkimVerdict") == "FAIL":
        problems.append("SPF_AND_DKIM")
    return problems


def normalise_address(address: str) -> str:
    """The form an address is hashed in: trimmed and lower case (providers treat case as one)."""
    return address.strip().lower()
