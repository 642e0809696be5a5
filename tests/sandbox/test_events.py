"""The sandbox's email replies are what mail clients send: the reader takes only the new text, the
thread names the notice answered, and an out-of-office answer says it is one."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dunning.domain.email_reply import read_email, ses_message_ids
from sandbox import events

AT = datetime(2026, 9, 3, 15, 3, tzinfo=UTC)
NOTICE = "Your loan ending 0007 is 5 days past due. Due: $1,725.08.\nCall 800-555-0134."


@pytest.mark.parametrize("locale", ["en-US", "zh-CN"])
def test_a_reply_quoting_our_notice_reads_as_its_new_text_and_answers_that_notice(locale: str) -> None:
    raw = events.reply_mime(sender="dana@example.com", to="replies@example.com", subject="Your payment is overdue",
                            text="I dispute this debt, it is not mine", at=AT, message_id="inbound000001",
                            answers_ses_id="0100019a-notice", quoted=NOTICE, quoted_from="collections@example.com",
                            locale=locale)
    read = read_email(raw)

    assert read.text == "I dispute this debt, it is not mine"
    assert read.from_address == "dana@example.com" and read.auto_reply is None
    assert ses_message_ids(read.referenced_ids) == ("0100019a-notice",)


def test_an_automatic_reply_is_recognised_as_one() -> None:
    raw = events.reply_mime(sender="dana@example.com", to="replies@example.com", subject="Your payment is overdue",
                            text="I am out of the office until Monday.", at=AT, message_id="inbound000002",
                            answers_ses_id="0100019a-notice", auto_reply=True)

    assert read_email(raw).auto_reply is not None


def test_the_receipt_names_the_stored_message_and_passes_every_check_unless_told() -> None:
    event = events.ses_receipt_event(message_id="inbound000001", sender="dana@example.com",
                                     recipient="replies@example.com", subject="Re: x", at=AT,
                                     function_arn="arn:aws:lambda:us-east-1:123456789012:function:f",
                                     verdicts={"dmarcVerdict": "FAIL"})
    ses = event["Records"][0]["ses"]

    assert ses["mail"]["messageId"] == "inbound000001" and ses["receipt"]["action"]["type"] == "Lambda"
    assert ses["receipt"]["dmarcVerdict"] == {"status": "FAIL"} and ses["receipt"]["spamVerdict"] == {"status": "PASS"}
