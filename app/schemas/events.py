"""The event feed's bodies."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.schemas import examples as ex
from app.schemas.payments import PaymentOut
from app.schemas.refunds import RefundOut


class EventOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": ex.EVENT})

    id: str = Field(
        examples=["evt_01JD3Z6Q7W8X9Y0Z1A2B3C4D5E"],
        description="The event's id (`evt_…`), the same as the webhook's `webhook-id`",
    )
    type: str = Field(
        examples=["payment.succeeded"],
        description=(
            "What happened: payment.succeeded, payment.expired, payment.cancelled, "
            "payment.refunded, payment.duplicate_paid, refund.succeeded or refund.failed"
        ),
    )
    created_at: str = Field(description="RFC 3339, UTC", examples=["2026-11-21T03:00:00+00:00"])
    data: dict[str, Any] = Field(description="The resource as `GET` returned it when the event happened.")


class EventPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"example": {"data": [ex.EVENT], "next_after": ex.EVENT["id"]}}
    )

    data: list[EventOut] = Field(description="Your events after `after`, oldest first")
    next_after: str | None = Field(
        description="Pass as `after` next time: the last id here, or your `after` when nothing is new."
    )


# ---------------------------------------------------------------------------- webhook payloads


class PaymentEvent(BaseModel):
    """What paybridge POSTs to a client's `webhook_url` (and `GET /v1/events` lists) when a payment
    changes: `data` is the payment as `GET /v1/payments/{id}` returned it at that moment."""

    id: str = Field(description="The event's id (`evt_…`), also sent as the `webhook-id` header")
    type: Literal["payment.succeeded", "payment.expired", "payment.cancelled", "payment.refunded"] = Field(
        description="What happened to the payment"
    )
    created_at: str = Field(description="When it happened (RFC 3339, UTC)")
    data: PaymentOut = Field(description="The payment at that moment")


class DuplicatePaidPayment(PaymentOut):
    """The payment, with the second transaction that paid it again."""

    duplicate_transaction_id: str | None = Field(
        description="The gateway's or bank's id of the second, extra transaction"
    )


class DuplicatePaidEvent(BaseModel):
    """A bill paid twice: `data` is the (already paid) payment; `amount` is the extra transaction's."""

    id: str = Field(description="The event's id (`evt_…`), also sent as the `webhook-id` header")
    type: Literal["payment.duplicate_paid"] = Field(description="A second payment of a paid bill")
    created_at: str = Field(description="When the second payment arrived (RFC 3339, UTC)")
    data: DuplicatePaidPayment = Field(description="The payment, with the extra transaction")


class RefundEvent(BaseModel):
    """A refund settled: `data` is the refund as `GET /v1/refunds/{id}` returns it."""

    id: str = Field(description="The event's id (`evt_…`), also sent as the `webhook-id` header")
    type: Literal["refund.succeeded", "refund.failed"] = Field(description="How the refund ended")
    created_at: str = Field(description="When it settled (RFC 3339, UTC)")
    data: RefundOut = Field(description="The refund, with the payment's amounts after it")
