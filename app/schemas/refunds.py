"""Refund request and response bodies."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from app.schemas import examples as ex
from app.schemas.payments import MAX_PAYMENT_AMOUNT


class RefundCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"example": {"amount": 20000, "reason": "Hồ sơ không đủ điều kiện giải quyết"}},
    )

    amount: StrictInt = Field(
        gt=0,
        le=MAX_PAYMENT_AMOUNT,
        description="Integer VND; at most what remains unrefunded.",
        examples=[20000],
    )
    reason: str = Field(
        min_length=1,
        max_length=500,
        examples=["Hồ sơ không đủ điều kiện giải quyết"],
        description="Why the money goes back, kept with the refund",
    )

    @field_validator("reason")
    @classmethod
    def _reason_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("reason is required")
        return value.strip()


class RefundPayment(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": ex.REFUND["payment"]})

    status: str = Field(description="The payment's status after this refund")
    amount: int = Field(description="The payment's amount, integer VND")
    refunded_amount: int = Field(description="Refunded of it so far, integer VND")


class RefundOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": ex.REFUND})

    id: str = Field(description="The refund's id (`rfd_…`)")
    payment_id: str = Field(description="The payment refunded")
    attempt_id: str = Field(description="The attempt whose money goes back")
    status: Literal["pending", "succeeded", "failed", "unknown"] = Field(
        description="pending until the gateway (or an operator) settles it; `unknown` is resolved by a query"
    )
    amount: int = Field(description="Integer VND refunded")
    currency: str = Field(description="Always VND")
    reason: str = Field(description="Why the money goes back")
    origin: Literal["client", "duplicate_paid"] = Field(
        description=(
            "`client`: asked through the API; `duplicate_paid`: a second payment refunded automatically"
        )
    )
    method: Literal["gateway", "manual"] = Field(
        description="`manual`: the gateway has no refund API; an operator confirms the payout."
    )
    provider: str = Field(description="The gateway that refunds")
    reference: str = Field(description="Our refund reference sent to the gateway")
    provider_refund_id: str | None = Field(description="The gateway's refund id, once known")
    failure_code: str | None = Field(description="The gateway's code when the refund failed")
    failure_message: str | None = Field(description="The gateway's message when the refund failed")
    operator_note: str | None = Field(description="What the operator recorded for a manual refund")
    payment: RefundPayment = Field(description="The payment's amounts after this refund")
    created_at: str = Field(description="When the refund was asked for (RFC 3339)")
    updated_at: str = Field(description="When it last changed (RFC 3339)")
    completed_at: str | None = Field(description="When it succeeded or failed (RFC 3339)")


class ConfirmIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"example": {"succeeded": True, "note": "Chuyển khoản hoàn tiền số FT24331123456"}},
    )

    succeeded: bool = Field(description="True: the money went back to the payer; false: it could not.")
    note: str = Field(min_length=1, max_length=1000, description="What was done (bank transfer number, …).")
