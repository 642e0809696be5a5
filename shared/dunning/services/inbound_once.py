"""Once per provider message: a redelivered webhook, SNS message or email (same provider and message
id; a receipt also by status) returns the first answer without touching anything (Powertools
Idempotency in front of the ledger's own duplicate check)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from dunning.ports import DeliveryReceipt, InboundEmail, InboundSms, Ports
from dunning.services.deliveries import handle_receipt
from dunning.services.replies import handle_inbound


class Handled(BaseModel):
    """What handling one provider message came to: ids and codes only, safe to log and to return."""

    model_config = ConfigDict(extra="allow", frozen=True)

    status: str
    case_id: str | None = None
    intent: str | None = None
    event_type: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The answer as it was given (fields that were not set stay out)."""
        return self.model_dump(exclude_unset=True)


class _NotYetKnown(Exception):
    """A receipt for a message id no notice carries (yet): the idempotency store must not keep it."""

    def __init__(self, result: dict[str, Any]) -> None:
        super().__init__("receipt for an unknown message")
        self.result = result


class Deduplicated:
    """Each inbound message handled once; `persistence` is the function's idempotency store."""

    def __init__(self, ports: Ports, persistence: Any, expires_after_seconds: int = 7 * 24 * 3600) -> None:
        from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function

        self.config = IdempotencyConfig(event_key_jmespath="key", expires_after_seconds=expires_after_seconds)
        self._ports = ports

        @idempotent_function(  # type: ignore[untyped-decorator]  # Powertools ships it untyped
            data_keyword_argument="delivery", persistence_store=persistence, config=self.config
        )
        def once(delivery: dict[str, Any]) -> dict[str, Any]:
            message = delivery["message"]
            if isinstance(message, InboundSms | InboundEmail):
                return handle_inbound(self._ports, message, delivery["actor"])
            result = handle_receipt(self._ports, message, delivery["actor"])
            if result.get("status") == "UNKNOWN_MESSAGE":
                raise _NotYetKnown(result)  # not remembered: see handle()
            return result

        self._once = once

    def handle(self, message: InboundSms | InboundEmail | DeliveryReceipt, actor: str,
               context: Any | None = None) -> Handled:
        if context is not None:
            self.config.register_lambda_context(context)
        if isinstance(message, DeliveryReceipt) and message.status is None:
            return Handled(status="IGNORED", message_key=message.key)  # progress only: nothing to remember
        try:
            return Handled.model_validate(self._once(delivery={"key": message.key, "message": message,
                                                               "actor": actor}))
        except _NotYetKnown as early:
            # A receipt can outrun the record of its send (the provider calls back before the sender
            # has stored the message id). It is acknowledged but not remembered, so a redelivery
            # after the send is recorded is applied; until then the notice stays SENT, which the
            # caps already count: an early receipt can never cause a resend.
            return Handled.model_validate(early.result)
