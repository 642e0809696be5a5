"""Reading a customer's email reply: only what they wrote now, in the forms real clients send."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from dunning.domain.email_reply import (
    html_to_text,
    new_text,
    read_email,
    referenced_message_ids,
    ses_message_ids,
    verdict_problems,
)

NOTICE = "Dear Dana Reyes,\nYour loan account ••••1234 is 3 days past due. Amount due: $437.50."


def mime(body: str, *, subject: str = "Re: Your payment is overdue", html: str | None = None,
         headers: dict[str, str] | None = None, sender: str = "Dana Reyes <Dana@Example.com>") -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "replies@harbor-finance.example"
    msg["Subject"] = subject
    msg["Message-ID"] = "<CAF=abc@mail.gmail.com>"
    msg["In-Reply-To"] = "<0100018b1a2b3c4d-11112222-3333-4444-5555-666677778888-000000@email.amazonses.com>"
    for name, value in (headers or {}).items():
        msg[name] = value
    if html is not None and body:
        msg.set_content(body)
        msg.add_alternative(html, subtype="html")
    elif html is not None:
        msg.set_content(html, subtype="html")
    else:
        msg.set_content(body)
    return bytes(msg)


@pytest.mark.parametrize("body", [
    # Gmail (English)
    f"I can pay $200 on Friday\n\nOn Tue, Nov 3, 2026 at 10:00 AM Harbor Finance <collections@x.example> wrote:\n"
    f"> {NOTICE}",
    # Gmail wraps a long attribution line
    f"I can pay $200 on Friday\n\nOn Tue, Nov 3, 2026 at 10:00 AM Harbor Finance Collections <\n"
    f"collections@harbor-finance.example> wrote:\n\n{NOTICE}",
    # Apple Mail
    "I can pay $200 on Friday\n\nSent from my iPhone\n\n"
    f"> On Nov 3, 2026, at 10:00, Harbor Finance wrote:\n>\n> {NOTICE}",
    # Outlook desktop
    f"I can pay $200 on Friday\n\n________________________________\nFrom: Harbor Finance <c@x.example>\n"
    f"Sent: Tuesday, November 3, 2026 10:00 AM\nTo: Dana Reyes\nSubject: Your payment is overdue\n\n{NOTICE}",
    # Outlook with bold header labels, no rule above
    f"I can pay $200 on Friday\r\n\r\n*From:* Harbor Finance <c@x.example>\r\n*Sent:* Tuesday\r\n\r\n{NOTICE}",
    # Classic Outlook / Lotus separator
    f"I can pay $200 on Friday\n\n-----Original Message-----\nFrom: Harbor Finance\n{NOTICE}",
    # Signature
    "I can pay $200 on Friday\n-- \nDana Reyes\nSenior Analyst, Acme Corp\n+1 202 555 0143",
])
def test_english_clients_quote_history_that_is_cut_off(body: str) -> None:
    assert new_text(body) == "I can pay $200 on Friday"


@pytest.mark.parametrize("body", [
    # Gmail in Chinese
    f"我下周五还500块\n\n在 2026年11月3日周二 10:00，Harbor Finance <collections@x.example> 写道：\n> {NOTICE}",
    # Gmail in Chinese, attribution wrapped
    f"我下周五还500块\n\n在 2026年11月3日周二 10:00，Harbor Finance <\ncollections@x.example> 写道：\n{NOTICE}",
    # QQ Mail
    f"我下周五还500块\n\n\n------------------ 原始邮件 ------------------\n发件人: \"Harbor\"<c@x.example>;\n"
    f"发送时间: 2026年11月3日(星期二) 上午10:00\n收件人: \"王伟\"\n主题: 逾期提醒\n{NOTICE}",
    # NetEase / Foxmail
    f"我下周五还500块\n\n-----原始邮件-----\n发件人：Harbor <c@x.example>\n{NOTICE}",
    # Outlook in Chinese, no separator line
    f"我下周五还500块\n\n发件人: Harbor Finance <c@x.example>\n发送时间: 2026年11月3日 10:00\n收件人: 王伟\n{NOTICE}",
    # Chinese Outlook (时间/日期 variants) and a phone signature
    f"我下周五还500块\n发自我的华为手机\n\n发件人：Harbor\n日期：2026年11月3日\n{NOTICE}",
    # 163 mail "于 ... 写道："
    f"我下周五还500块\n\n于 2026-11-03 10:00:00，\"Harbor\" <c@x.example> 写道：\n{NOTICE}",
])
def test_chinese_clients_quote_history_that_is_cut_off(body: str) -> None:
    assert new_text(body) == "我下周五还500块"


def test_an_inline_answer_keeps_the_customers_lines_between_quotes() -> None:
    body = "> Amount due: $437.50\nThat amount is wrong, I dispute it\n> Pay by Nov 10\nI will call you"
    assert new_text(body) == "That amount is wrong, I dispute it\nI will call you"


def test_a_sentence_that_starts_with_from_is_not_a_header_block() -> None:
    assert new_text("From: my new address, please write here\nThanks") == (
        "From: my new address, please write here\nThanks")


def test_html_only_mail_is_read_without_the_quoted_part() -> None:
    html = ("<html><head><style>p{color:red}</style></head><body><div dir='ltr'>Please stop emailing me."
            "<br>Thanks</div><div class='gmail_quote'><div>On Tue wrote:</div><blockquote>"
            f"{NOTICE}</blockquote></div></body></html>")
    read = read_email(mime("", html=html))
    assert read.html_only
    assert read.text == "Please stop emailing me.\nThanks"


def test_outlook_html_history_after_its_rule_is_cut() -> None:
    html = ("<div>I already paid yesterday</div><hr style='display:inline-block'><div id='divRplyFwdMsg'>"
            "<b>From:</b> Harbor</div><div>" + NOTICE + "</div>")
    assert new_text(html_to_text(html)) == "I already paid yesterday"


def test_the_plain_part_is_preferred_and_the_sender_and_thread_are_read() -> None:
    read = read_email(mime("I dispute this debt", html="<p>I dispute this debt (html)</p>"))
    assert read.text == "I dispute this debt"
    assert read.from_address == "dana@example.com"
    assert not read.html_only and read.auto_reply is None
    assert ses_message_ids(read.referenced_ids) == (
        "0100018b1a2b3c4d-11112222-3333-4444-5555-666677778888-000000",)


def test_references_are_read_newest_first_and_only_ses_ids_link_to_notices() -> None:
    ids = referenced_message_ids("<b@email.amazonses.com>",
                                 "<x@mail.gmail.com> <a@eu-west-1.amazonses.com> <b@email.amazonses.com>")
    assert ids == ("b@email.amazonses.com", "a@eu-west-1.amazonses.com", "x@mail.gmail.com")
    assert ses_message_ids(ids) == ("b", "a")


@pytest.mark.parametrize(("headers", "subject", "reason"), [
    ({"Auto-Submitted": "auto-replied"}, "Re: Your payment", "AUTO_SUBMITTED"),
    ({"X-Autoreply": "yes"}, "Re: Your payment", "X_AUTOREPLY"),
    ({"Precedence": "auto_reply"}, "Re: Your payment", "PRECEDENCE"),
    ({"Precedence": "bulk"}, "Newsletter", "PRECEDENCE"),
    ({}, "Automatic reply: Your payment is overdue", "OUT_OF_OFFICE"),
    ({}, "Out of Office: back on Monday", "OUT_OF_OFFICE"),
    ({}, "自动回复: 逾期提醒", "OUT_OF_OFFICE"),
    ({}, "回复：休假中", "OUT_OF_OFFICE"),
    ({"Return-Path": "<>"}, "Undeliverable", "NULL_RETURN_PATH"),
])
def test_auto_replies_are_recognised(headers: dict[str, str], subject: str, reason: str) -> None:
    assert read_email(mime("I am away until Monday.", subject=subject, headers=headers)).auto_reply == reason


def test_mail_from_the_mailer_daemon_is_a_delivery_report() -> None:
    read = read_email(mime("Delivery failed", subject="Undelivered Mail",
                           sender="MAILER-DAEMON@mx.example.com"))
    assert read.auto_reply == "DELIVERY_REPORT"


def test_a_person_saying_no_to_auto_submitted_is_a_person() -> None:
    assert read_email(mime("I will pay Friday", headers={"Auto-Submitted": "no"})).auto_reply is None


def test_an_unknown_charset_still_reads() -> None:
    raw = (b"From: a@example.com\r\nSubject: hi\r\nContent-Type: text/plain; charset=x-unknown\r\n\r\n"
           b"I will pay on Friday\r\n")
    assert read_email(raw).text == "I will pay on Friday"


def test_a_message_with_no_body_has_no_text() -> None:
    raw = b"From: a@example.com\r\nSubject: Re: overdue\r\nContent-Type: image/png\r\n\r\nxx"
    read = read_email(raw)
    assert read.text == "" and read.from_address == "a@example.com"


@pytest.mark.parametrize(("receipt", "problems"), [
    ({k: {"status": "PASS"} for k in ("spamVerdict", "virusVerdict", "spfVerdict", "dkimVerdict", "dmarcVerdict")},
     []),
    ({"spamVerdict": {"status": "FAIL"}}, ["SPAM"]),
    ({"virusVerdict": {"status": "FAIL"}}, ["VIRUS"]),
    ({"dmarcVerdict": {"status": "FAIL"}, "spfVerdict": {"status": "PASS"}}, ["DMARC"]),
    ({"spfVerdict": {"status": "FAIL"}, "dkimVerdict": {"status": "PASS"}}, []),
    ({"spfVerdict": {"status": "FAIL"}, "dkimVerdict": {"status": "FAIL"}}, ["SPF_AND_DKIM"]),
    ({"spamVerdict": {"status": "GRAY"}, "dmarcVerdict": {"status": "PROCESSING_FAILED"}}, []),
])
def test_ses_verdicts_decide_whether_a_message_may_be_acted_on(receipt: dict[str, dict[str, str]],
                                                               problems: list[str]) -> None:
    assert verdict_problems(receipt) == problems
