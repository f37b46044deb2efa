"""Payment request and response bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationInfo, field_validator

MAX_PAYMENT_AMOUNT = 100_000_000_000  # 100 billion VND: far above any fee; a gateway's own limit is lower
MIN_EXPIRY_SECONDS = 60
MAX_EXPIRY_SECONDS = 30 * 24 * 3600
DEFAULT_EXPIRY_SECONDS = 24 * 3600


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


class Payer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, examples=["Nguyễn Văn A"])
    id_number: str | None = Field(default=None, max_length=20, examples=["001099000001"])
    phone: str | None = Field(default=None, max_length=20)
    email: str | None = Field(default=None, max_length=200)
    address: str | None = Field(default=None, max_length=500)

    @field_validator("name")
    @classmethod
    def _name_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("payer name is required")
        return value.strip()


class ItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    revenue_type_code: str = Field(min_length=1, max_length=16, examples=["2771"])
    amount: StrictInt = Field(gt=0, le=MAX_PAYMENT_AMOUNT, description="Integer VND, > 0", examples=[50000])
    description: str | None = Field(default=None, max_length=500, examples=["Cấp bản sao trích lục"])


class PaymentCreate(BaseModel):
    """A bill for a dossier. Amounts are integer VND; `amount`, when sent, must equal the items' sum."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "agency_code": "000.00.31.H56",
                    "dossier_code": "000.00.31.H56-241121-0001",
                    "bill_code": None,
                    "procedure_code": "1.001234",
                    "description": "Lệ phí hộ tịch",
                    "payer": {"name": "Nguyễn Văn A", "id_number": "001099000001"},
                    "items": [
                        {"revenue_type_code": "2771", "amount": 50000, "description": "Cấp bản sao trích lục"}
                    ],
                    "provider": "vnpay",
                    "return_url": "https://portal.example.gov.vn/ho-so/123",
                    "expires_in_seconds": 900,
                    "metadata": {},
                }
            ]
        },
    )

    agency_code: str = Field(min_length=1, max_length=64)
    dossier_code: str = Field(min_length=1, max_length=100)
    bill_code: str | None = Field(default=None, max_length=100)
    procedure_code: str | None = Field(default=None, max_length=100)
    description: str | None = Field(default=None, max_length=500)
    payer: Payer
    items: list[ItemIn] = Field(min_length=1, max_length=50)
    amount: StrictInt | None = Field(default=None, gt=0, description="Optional; must equal the sum of items")
    currency: Literal["VND"] = "VND"
    provider: str | None = Field(default=None, max_length=32)
    return_url: str | None = Field(default=None, max_length=2000)
    expires_in_seconds: StrictInt = Field(
        default=DEFAULT_EXPIRY_SECONDS, ge=MIN_EXPIRY_SECONDS, le=MAX_EXPIRY_SECONDS
    )
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("agency_code", "dossier_code")
    @classmethod
    def _strip(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be blank")
        return value

    @field_validator("bill_code", "procedure_code", "description", "provider", "return_url")
    @classmethod
    def _optional(cls, value: str | None) -> str | None:
        return _clean(value)

    @field_validator("metadata")
    @classmethod
    def _metadata_small(cls, value: dict[str, Any]) -> dict[str, Any]:
        import orjson

        if len(orjson.dumps(value)) > 4096:
            raise ValueError("metadata must be at most 4 KB of JSON")
        return value

    @field_validator("items")
    @classmethod
    def _total_within_limit(cls, items: list[ItemIn]) -> list[ItemIn]:
        total = sum(item.amount for item in items)
        if total > MAX_PAYMENT_AMOUNT:
            raise ValueError(f"the items add up to {total} VND, over the limit of {MAX_PAYMENT_AMOUNT}")
        return items

    @field_validator("amount")
    @classmethod
    def _amount_is_the_sum(cls, amount: int | None, info: ValidationInfo) -> int | None:
        items = info.data.get("items")
        if amount is not None and items is not None:
            total = sum(item.amount for item in items)
            if amount != total:
                raise ValueError(f"amount {amount} does not equal the sum of the items ({total})")
        return amount

    @property
    def total(self) -> int:
        return sum(item.amount for item in self.items)


class AttemptCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: str = Field(min_length=1, max_length=32, examples=["momo"])


class OfflineCreate(BaseModel):
    """A payment collected at the counter; it counts in reports as paid, not online."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["cash", "bank_transfer", "pos"]
    paid_at: datetime
    receipt_number: str | None = Field(default=None, max_length=100)

    @field_validator("paid_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("paid_at must carry a UTC offset (RFC 3339)")
        return value


class ItemOut(BaseModel):
    revenue_type_code: str
    revenue_type_name: str | None = None
    amount: int
    description: str | None = None


class AttemptOut(BaseModel):
    id: str
    provider: str
    reference: str
    status: Literal["pending", "succeeded", "failed", "expired", "cancelled", "unknown"]
    provider_transaction_id: str | None
    checkout_url: str | None = None
    qr_payload: str | None = None
    failure_code: str | None = None
    duplicate_paid: bool = False
    late: bool = False
    created_at: datetime


class PaymentOut(BaseModel):
    id: str
    status: Literal["pending", "succeeded", "partially_refunded", "refunded", "expired", "cancelled"]
    agency_code: str
    dossier_code: str
    bill_code: str | None
    procedure_code: str | None
    description: str | None
    amount: int
    currency: str
    items: list[ItemOut]
    payer: dict[str, Any]
    provider: str | None
    checkout_url: str | None
    qr_payload: str | None
    return_url: str | None
    channel: str | None
    offline: dict[str, Any] | None
    refunded_amount: int
    metadata: dict[str, Any]
    attempts: list[AttemptOut]
    expires_at: datetime
    paid_at: datetime | None
    created_at: datetime
    updated_at: datetime


class PaymentList(BaseModel):
    data: list[PaymentOut]
    next_cursor: str | None
