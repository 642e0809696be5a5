"""What a browser may post to the customer's page: small forms, read strictly.

A body is read only when it is small (`MAX_BODY`), of a form type, UTF-8, with each field once and
short; every action has its own model that forbids unknown fields. A refusal names fields and
rules, never a value the visitor typed.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from email.parser import BytesParser
from email.policy import HTTP
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

MAX_BODY = 8 * 1024  # the largest form (a dispute with its text) is well under 2 KB
MAX_FIELDS = 24
MAX_FIELD = 2_000
ONE_CLICK = {"List-Unsubscribe": "One-Click"}  # RFC 8058: what a mail client posts

ACTIONS = ("verify", "pay", "promise", "plan", "hardship", "dispute", "callback", "preferences", "unsubscribe",
           "fresh_link")
Action = Literal["verify", "pay", "promise", "plan", "hardship", "dispute", "callback", "preferences",
                 "unsubscribe", "fresh_link"]
HARDSHIP_REASONS = ("job_loss", "illness", "bereavement", "other")
DISPUTE_REASONS = ("not_mine", "wrong_amount", "already_paid", "other")
MAX_DISPUTE_TEXT = 500
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class FormRefused(ValueError):
    """A body the page will not read: `status` is the HTTP answer, `detail` names the rule."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


def _pairs_urlencoded(body: bytes) -> list[tuple[str, str]]:
    try:
        text = body.decode("utf-8")
        return parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text), max_num_fields=MAX_FIELDS,
                         encoding="utf-8", errors="strict")
    except (UnicodeDecodeError, ValueError) as exc:
        raise FormRefused(400, "body is not a well-formed form") from exc


def _pairs_multipart(content_type: str, body: bytes) -> list[tuple[str, str]]:
    """multipart/form-data (RFC 8058 allows it for one-click): text fields only, no files."""
    message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n"
                                                  + body)
    if not message.is_multipart():
        raise FormRefused(400, "body is not a well-formed form")
    pairs: list[tuple[str, str]] = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or part.get_filename() is not None:
            raise FormRefused(400, "form parts must be named text fields")
        payload = part.get_payload(decode=True)
        try:
            pairs.append((name, bytes(payload if isinstance(payload, bytes) else b"").decode("utf-8")))
        except UnicodeDecodeError as exc:
            raise FormRefused(400, "form fields must be UTF-8") from exc
        if len(pairs) > MAX_FIELDS:
            raise FormRefused(400, f"more than {MAX_FIELDS} fields")
    return pairs


def parse_form(content_type: str | None, body: bytes) -> dict[str, str]:
    """The fields of a posted form, each once; FormRefused otherwise."""
    if len(body) > MAX_BODY:
        raise FormRefused(413, f"body larger than {MAX_BODY} bytes")
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        pairs = _pairs_urlencoded(body)
    elif kind == "multipart/form-data":
        pairs = _pairs_multipart(content_type or "", body)
    else:
        raise FormRefused(415, "body must be a form (application/x-www-form-urlencoded or multipart/form-data)")
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name in fields:
            raise FormRefused(400, f"field {name[:32]!r} appears more than once")
        if len(value) > MAX_FIELD or len(name) > 64:
            raise FormRefused(400, f"field {name[:32]!r} is too long")
        if _CONTROL.search(value) or _CONTROL.search(name):
            raise FormRefused(400, f"field {name[:32]!r} contains a control character")
        fields[name] = value
    return fields


# --------------------------------------------------------------------------- the forms

FormKey = Annotated[str, Field(pattern=r"^[A-Za-z0-9_\-]{16,64}$")]
Token = Annotated[str, Field(pattern=r"^[A-Za-z0-9_\-]{16,64}$")]
Language = Literal["en-US", "zh-CN"]


class _Form(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    action: Action
    form_key: FormKey
    csrf: Token
    lang: Language | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_absent(cls, value: Any) -> Any:
        return None if isinstance(value, str) and value.strip() == "" else value


class VerifyForm(_Form):
    action: Literal["verify"]
    answer: str = Field(min_length=1, max_length=40)


class PayForm(_Form):
    action: Literal["pay"]


class PromiseForm(_Form):
    action: Literal["promise"]
    promised_on: date
    amount: Decimal | None = Field(default=None, gt=0, max_digits=17, decimal_places=2)


class PlanForm(_Form):
    action: Literal["plan"]
    choice: str = Field(pattern=r"^[0-9]{1,2}:[0-9]{4}-[0-9]{2}-[0-9]{2}:[0-9a-f]{16}$")

    @property
    def count(self) -> int:
        return int(self.choice.split(":", 1)[0])

    @property
    def first_due(self) -> date:
        return date.fromisoformat(self.choice.split(":")[1])

    @property
    def digest(self) -> str:
        return self.choice.rsplit(":", 1)[1]


class HardshipForm(_Form):
    action: Literal["hardship"]
    reason: Literal["job_loss", "illness", "bereavement", "other"]


class DisputeForm(_Form):
    action: Literal["dispute"]
    reason: Literal["not_mine", "wrong_amount", "already_paid", "other"]
    details: str | None = Field(default=None, max_length=MAX_DISPUTE_TEXT)


class CallbackForm(_Form):
    action: Literal["callback"]
    slot: str = Field(pattern=r"^[0-9]{8}T[0-9]{4}Z$")


class PreferencesForm(_Form):
    action: Literal["preferences"]
    sms: Literal["on"] | None = None  # a checkbox: absent when unticked
    email: Literal["on"] | None = None
    hours: str = Field(pattern=r"^(any|[0-9]{2}-[0-9]{2})$")
    language: Language


class UnsubscribeForm(_Form):
    action: Literal["unsubscribe"]


class FreshLinkForm(_Form):
    action: Literal["fresh_link"]


PageForm = (VerifyForm | PayForm | PromiseForm | PlanForm | HardshipForm | DisputeForm | CallbackForm
            | PreferencesForm | UnsubscribeForm | FreshLinkForm)
_FORMS: dict[str, type[_Form]] = {
    "verify": VerifyForm, "pay": PayForm, "promise": PromiseForm, "plan": PlanForm, "hardship": HardshipForm,
    "dispute": DisputeForm, "callback": CallbackForm, "preferences": PreferencesForm,
    "unsubscribe": UnsubscribeForm, "fresh_link": FreshLinkForm,
}


def read_form(fields: dict[str, str]) -> _Form:
    """The action's form, validated; FormRefused(400) names the fields that are wrong."""
    model = _FORMS.get(fields.get("action", ""))
    if model is None:
        raise FormRefused(400, "unknown or missing action")
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        names = sorted({".".join(str(p) for p in e["loc"]) or "form" for e in exc.errors(include_input=False)})
        raise FormRefused(400, f"invalid field(s): {', '.join(names)}") from None
