"""Refund request and response bodies."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from app.schemas.payments import MAX_PAYMENT_AMOUNT


class RefundCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: StrictInt = Field(
        gt=0,
        le=MAX_PAYMENT_AMOUNT,
        description="Integer VND; at most what remains unrefunded.",
        examples=[20000],
    )
    reason: str = Field(min_length=1, max_length=500, examples=["Hồ sơ không đủ điều kiện giải quyết"])

    @field_validator("reason")
    @classmethod
    def _reason_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("reason is required")
        return value.strip()


class RefundPayment(BaseModel):
    status: str
    amount: int
    refunded_amount: int


class RefundOut(BaseModel):
    id: str
    payment_id: str
    attempt_id: str
    status: Literal["pending", "succeeded", "failed", "unknown"]
    amount: int
    currency: str
    reason: str
    origin: Literal["client", "duplicate_paid"]
    method: Literal["gateway", "manual"] = Field(
        description="`manual`: the gateway has no refund API; an operator confirms the payout."
    )
    provider: str
    reference: str
    provider_refund_id: str | None
    failure_code: str | None
    failure_message: str | None
    operator_note: str | None
    payment: RefundPayment
    created_at: str
    updated_at: str
    completed_at: str | None


class ConfirmIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    succeeded: bool = Field(description="True: the money went back to the payer; false: it could not.")
    note: str = Field(min_length=1, max_length=1000, description="What was done (bank transfer number, …).")
