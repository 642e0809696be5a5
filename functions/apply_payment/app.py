"""ApplyPayment: core banking's PaymentPosted event (EventBridge) applied to the account once.

Idempotent by payment id twice over: the Powertools idempotency record (IdempotencyTable) absorbs
redeliveries of the event, and the service refuses a payment id the account already holds.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field, field_validator

from dunning.composition import AwsPorts, cold_start
from dunning.domain.models import CurrencyCode, UtcDatetime
from dunning.observability import entry_point
from dunning.services import payments
from dunning.settings import PaymentSettings, load_settings


class PaymentPosted(BaseModel):
    payment_id: str = Field(min_length=1, max_length=128)
    account_id: str = Field(min_length=1, max_length=64)
    # A decimal string (money never travels as a float), at most 15 integer digits and 4 decimals.
    amount: str = Field(pattern=r"^\d{1,15}(\.\d{1,4})?$")
    currency: CurrencyCode
    received_at: UtcDatetime

    @field_validator("amount")
    @classmethod
    def _positive(cls, value: str) -> str:
        try:
            if Decimal(value) <= 0:
                raise ValueError("a payment must be a positive amount")
        except InvalidOperation as exc:
            raise ValueError("amount is not a decimal number") from exc
        return value

    @field_validator("received_at", mode="before")
    @classmethod
    def _utc_z(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.endswith("Z"):
            raise ValueError("received_at must be UTC ISO-8601 ending in Z")
        return value


class PaymentPostedEvent(EventBridgeModel):
    source: Literal["core-banking"]
    detail_type: Literal["PaymentPosted"] = Field(alias="detail-type")
    detail: PaymentPosted


# Keyed by everything that makes a payment: the same id sent again with another amount is not a
# replay to answer from the record but a conflict the service must see (PAYMENT_CONFLICT).
_config = IdempotencyConfig(event_key_jmespath="[payment_id, account_id, amount, currency]",
                            raise_on_no_idempotency_key=True)


def _apply_once(payment: PaymentPosted) -> dict[str, Any]:
    return payments.apply_payment(ports(), payment.payment_id, payment.account_id, Decimal(payment.amount),
                                  payment.currency, payment.received_at)


# Settings, ports and the idempotency store: built on first use, once per cold start.
ports = cold_start(globals(), "_ports", lambda: AwsPorts(load_settings(PaymentSettings)))
apply_once = cold_start(globals(), "_apply", lambda: idempotent_function(
    data_keyword_argument="payment", persistence_store=ports().idempotency_store(ports().settings.idempotency_table),
    config=_config)(_apply_once))


@entry_point(correlation_id_path="detail.payment_id")
@event_parser(model=PaymentPostedEvent)
def lambda_handler(event: PaymentPostedEvent, context: LambdaContext) -> dict[str, Any]:
    _config.register_lambda_context(context)
    result: dict[str, Any] = apply_once()(payment=event.detail)
    return result
