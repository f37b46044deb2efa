"""The event feed's bodies."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class EventOut(BaseModel):
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
    data: list[EventOut] = Field(description="Your events after `after`, oldest first")
    next_after: str | None = Field(
        description="Pass as `after` next time: the last id here, or your `after` when nothing is new."
    )
