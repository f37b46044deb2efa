"""Operator-API bodies for unmatched credits."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ResolveBody(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"example": {"note": "Refunded to the payer on 2026-11-22"}}
    )

    note: str = Field(
        min_length=1,
        max_length=1000,
        examples=["Refunded to the payer on 2026-11-22"],
        description="What the operator did (refunded, attributed to a payment, …)",
    )
