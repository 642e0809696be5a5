"""Deliveries: what providers tell us about our own messages (SMS receipts, SES events).

Each event becomes one DELIVERY ledger entry on the notice's case (once per event id) and moves the
notice on (SENT -> DELIVERED, FAILED, BOUNCED); a permanent bounce marks the address unusable and a
complaint opts the customer out of email, after the record.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dunning.domain.models import Channel, EntryKind, Notice, NoticeStatus, iso_z
from dunning.observability import count_recorded, logger, metrics
from dunning.ports import Conflict, DeliveryReceipt, NotFound, Ports, TransientError
from dunning.services.case_actions import COMMIT_ATTEMPTS, AccountChange, apply_account_change, opt_out_entry


def _notice_key(item: dict[str, Any]) -> tuple[str, str, str] | None:
    sk = str(item.get("sk", ""))
    if "#NOTICE#" not in sk:
        return None
    case_part, step_id = sk.split("#NOTICE#", 1)
    return str(item["pk"]).removeprefix("ACCOUNT#"), case_part.removeprefix("CASE#"), step_id


def find_notice(ports: Ports, provider_message_id: str) -> tuple[str, str, str] | None:
    """(account id, case id, step id) of the notice a provider message id belongs to."""
    for item in ports.collections.lookup(f"MSG#{provider_message_id}"):
        key = _notice_key(item)
        if key is not None:
            return key
    return None


_UPGRADABLE = {NoticeStatus.SENDING, NoticeStatus.SENT, NoticeStatus.UNCERTAIN}


# A notice keeps the ids of its latest events only: an email opened again and again must not grow
# the item every delivery event reads and rewrites. One that has more asks its case's ledger.
EVENTS_KEPT_ON_NOTICE = 50


def _recorded_events(ports: Ports, account_id: str, case_id: str, step_id: str,
                     notice: Notice | None) -> list[str]:
    """The ids of the events already recorded for the notice: kept on the notice itself, or read
    from the case's ledger for a notice written before it kept them (or none found), or one with
    more events than it keeps."""
    kept = notice.delivery_events if notice is not None else None
    if kept is not None and len(kept) < EVENTS_KEPT_ON_NOTICE:
        return kept
    ledger = ports.collections.case_history(account_id, case_id).ledger.get(case_id, [])
    return [str(e.data["event_id"]) for e in ledger
            if e.kind is EntryKind.DELIVERY and e.data.get("event_id") and e.data.get("step_id", step_id) == step_id]


def record_delivery(
    ports: Ports,
    account_id: str,
    case_id: str,
    step_id: str,
    *,
    event_id: str,
    notice_status: NoticeStatus | None,
    data: dict[str, Any],
    actor: str,
    extra_entries: Iterable[tuple[EntryKind, dict[str, Any]]] = (),
) -> bool:
    """Append a DELIVERY entry (and move the notice on) once per event id; False for a duplicate.

    Reads the case's header and the notice (two items, whatever the case's past): the notice
    carries the events recorded on it, and is rewritten with this one in the same transaction."""
    now = ports.clock.now()
    extra = list(extra_entries)
    for _ in range(COMMIT_ATTEMPTS):
        record, notice = ports.collections.case_and_notice(account_id, case_id, step_id)
        if record is None:
            raise NotFound(f"case {case_id}")
        recorded = _recorded_events(ports, account_id, case_id, step_id, notice)
        if event_id in recorded:
            return False
        puts: list[tuple[dict[str, Any], str | None]] = []
        entry = data | {
            "event_id": event_id,
            "step_id": step_id,
            "notice_id": notice.notice_id if notice else None,
        }
        if notice is not None:
            update: dict[str, Any] = {"delivery_events": [*recorded, event_id][-EVENTS_KEPT_ON_NOTICE:]}
            if notice_status is not None and notice.status in _UPGRADABLE:
                update["status"] = notice_status
                entry["notice_status"] = notice_status.value
            puts.append((ports.collections.notice_item(notice.model_copy(update=update)), None))
        try:
            ports.collections.commit(
                record, [(EntryKind.DELIVERY, entry), *extra], at=now, actor=actor, extra_puts=puts
            )
            return True
        except Conflict:
            continue
    raise TransientError("case kept changing while recording a delivery event")


def handle_receipt(ports: Ports, receipt: DeliveryReceipt, actor: str = "SmsWebhook") -> dict[str, Any]:
    if receipt.status is None:
        return {"status": "IGNORED", "message_key": receipt.key}
    found = find_notice(ports, f"{receipt.provider}:{receipt.message_id}")
    if found is None:
        logger.info("receipt for a message we do not know", extra={"message_key": receipt.key})
        return {"status": "UNKNOWN_MESSAGE", "message_key": receipt.key}
    account_id, case_id, step_id = found
    status = NoticeStatus.DELIVERED if receipt.status == "DELIVERED" else NoticeStatus.FAILED
    new = record_delivery(
        ports,
        account_id,
        case_id,
        step_id,
        event_id=receipt.key,
        notice_status=status,
        actor=actor,
        data={
            "provider": receipt.provider,
            "provider_message_id": receipt.message_id,
            "provider_status": receipt.provider_status,
            "channel": Channel.SMS.value,
            "at": iso_z(receipt.at),
        },
    )
    metrics.add_metric(name=f"Receipt{status.value.title()}", unit="Count", value=1)
    return {
        "status": "RECORDED" if new else "DUPLICATE",
        "case_id": case_id,
        "step_id": step_id,
        "notice_status": status.value,
    }


def _code(value: Any, limit: int = 128) -> str | None:
    """A code or timestamp SES sends, kept only as the short string it should be: what reaches
    the ledger from an event is never an arbitrary JSON value."""
    return value if isinstance(value, str) and len(value) <= limit else None


def handle_email_event(ports: Ports, event: dict[str, Any], actor: str = "EmailEvents") -> dict[str, Any]:
    """One SES event-publishing record (eventType, mail, bounce/complaint/...)."""
    event_type = event.get("eventType") or event.get("notificationType") or ""
    mail = event.get("mail") or {}
    message_id = mail.get("messageId") if isinstance(mail, dict) else None
    # Shapes SES never sends are dropped as malformed (ValueError), never crash the batch; the id
    # is bounded because it becomes a DynamoDB key.
    if not isinstance(event_type, str) or not event_type or len(event_type) > 64:
        raise ValueError("SES event without a valid eventType")
    if not isinstance(message_id, str) or not message_id or len(message_id) > 256:
        raise ValueError("SES event without a valid mail.messageId")
    found = find_notice(ports, f"ses:{message_id}")
    if found is None:
        logger.info("email event for a message we do not know", extra={"ses_message_id": message_id})
        return {"status": "UNKNOWN_MESSAGE", "event_type": event_type}
    account_id, case_id, step_id = found
    detail = event.get(event_type[:1].lower() + event_type[1:]) or {}
    if not isinstance(detail, dict):
        raise ValueError(f"SES {event_type} event with a malformed detail")
    data: dict[str, Any] = {
        "provider": "ses",
        "provider_message_id": message_id,
        "event_type": event_type,
        "channel": Channel.EMAIL.value,
        "timestamp": _code(detail.get("timestamp") or mail.get("timestamp")),
    }
    status: NoticeStatus | None = None
    change: AccountChange | None = None
    extra: list[tuple[EntryKind, dict[str, Any]]] = []
    event_id = f"ses:{message_id}:{event_type}"
    if event_type == "Delivery":
        status = NoticeStatus.DELIVERED
    elif event_type == "Bounce":
        data |= {"bounce_type": _code(detail.get("bounceType")), "bounce_sub_type": _code(detail.get("bounceSubType"))}
        event_id += f":{_code(detail.get('feedbackId')) or ''}"
        if detail.get("bounceType") == "Permanent":
            status, change = NoticeStatus.BOUNCED, ("EMAIL_UNUSABLE", None)
    elif event_type == "Complaint":
        data["complaint_type"] = _code(detail.get("complaintFeedbackType"))
        event_id += f":{_code(detail.get('feedbackId')) or ''}"
        change = ("OPT_OUT", Channel.EMAIL)
        extra.append(opt_out_entry(Channel.EMAIL, "OPT_OUT", "COMPLAINT"))
    elif event_type == "Reject":
        status = NoticeStatus.FAILED
    else:  # Open, Click, Send, DeliveryDelay ...: each occurrence is its own event
        event_id += f":{_code(detail.get('timestamp')) or ''}"
    new = record_delivery(
        ports,
        account_id,
        case_id,
        step_id,
        event_id=event_id,
        notice_status=status,
        data=data,
        actor=actor,
        extra_entries=extra,
    )
    # After the record; a redelivered event repeats it harmlessly (it writes only if needed).
    apply_account_change(ports, account_id, change)
    if new:
        count_recorded(extra)
    metrics.add_metric(name=f"EmailEvent{event_type.replace(' ', '')}", unit="Count", value=1)
    return {
        "status": "RECORDED" if new else "DUPLICATE",
        "case_id": case_id,
        "step_id": step_id,
        "event_type": event_type,
    }
