"""Operator-API bodies for webhook deliveries and secret rotation."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_GRACE_SECONDS = 7 * 24 * 3600


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    event_id: str
    event_type: str
    client_id: str
    status: Literal["pending", "delivered", "dead"]
    attempts: int = Field(description="Tries made since the delivery (re)started.")
    next_attempt_at: datetime | None = Field(description="When a pending delivery is tried next.")
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


class DeliveryPage(BaseModel):
    data: list[DeliveryOut]
    next_cursor: str | None


class TryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    attempted_at: datetime
    status_code: int | None
    latency_ms: int | None
    error: str | None
    response_body: str | None = Field(description="The first KB of the portal's answer.")


class EventDeliveries(BaseModel):
    event_id: str
    delivery: DeliveryOut | None = Field(description="None when the client had no webhook URL.")
    tries: list[TryOut]


class WebhookSecretRotateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grace_seconds: int = Field(
        default=24 * 3600,
        ge=0,
        le=MAX_GRACE_SECONDS,
        description="How long the old secret keeps signing next to the new one (0: stop at once).",
    )


class RotateOut(BaseModel):
    client_id: str
    webhook_secret: str = Field(description="Shown once; store it in the portal.")
    previous_secret_expires_at: datetime | None
