"""Operator-API bodies for webhook deliveries and secret rotation."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.schemas import examples as ex
from app.schemas.rows import NextCursor

MAX_GRACE_SECONDS = 7 * 24 * 3600


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"example": ex.DELIVERY})

    id: int = Field(description="The delivery's id")
    event_id: str = Field(description="The event delivered (`evt_…`)")
    event_type: str = Field(description="The event's type, e.g. payment.succeeded")
    client_id: str = Field(description="The client it is delivered to")
    status: Literal["pending", "delivered", "dead"] = Field(
        description="pending (being tried), delivered, or dead (gave up; redeliver it)"
    )
    attempts: int = Field(description="Tries made since the delivery (re)started.")
    next_attempt_at: datetime | None = Field(description="When a pending delivery is tried next.")
    last_status_code: int | None = Field(
        description="HTTP status of the last try; null when it got no answer"
    )
    last_error: str | None = Field(description="Why the last try failed (timeout, refused, status)")
    created_at: datetime = Field(description="When the event was queued for delivery")
    delivered_at: datetime | None = Field(description="When the portal answered 2xx")


class DeliveryPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": ex.page(ex.DELIVERY)})

    data: list[DeliveryOut] = Field(description="Deliveries, newest first")
    next_cursor: NextCursor


class TryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"example": ex.TRY})

    attempted_at: datetime = Field(description="When this try was sent")
    status_code: int | None = Field(description="The portal's HTTP status; null without an answer")
    latency_ms: int | None = Field(description="How long the portal took to answer")
    error: str | None = Field(description="Why the try failed, when it did")
    response_body: str | None = Field(description="The first KB of the portal's answer.")


class EventDeliveries(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {"event_id": ex.EVENT["id"], "delivery": ex.DELIVERY, "tries": [ex.TRY]}
        }
    )

    event_id: str = Field(description="The event")
    delivery: DeliveryOut | None = Field(description="None when the client had no webhook URL.")
    tries: list[TryOut] = Field(description="Every try, oldest first")


class WebhookSecretRotateIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {"grace_seconds": 86400}})

    grace_seconds: int = Field(
        default=24 * 3600,
        ge=0,
        le=MAX_GRACE_SECONDS,
        description="How long the old secret keeps signing next to the new one (0: stop at once).",
    )


class RotateOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "client_id": ex.CLIENT["id"],
                "webhook_secret": "whsec_MfKQ9r…",
                "previous_secret_expires_at": "2026-11-02T00:00:00Z",
            }
        }
    )

    client_id: str = Field(description="The client")
    webhook_secret: str = Field(description="Shown once; store it in the portal.")
    previous_secret_expires_at: datetime | None = Field(
        description="When the old secret stops signing; null: it stopped at once"
    )
