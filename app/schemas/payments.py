"""Payment request and response bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationInfo, field_validator

from app.schemas import examples as ex
from app.schemas.rows import NextCursor

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

    name: str = Field(
        min_length=1,
        max_length=200,
        examples=["Nguyễn Văn A"],
        description="The payer's full name, as on the receipt",
    )
    id_number: str | None = Field(
        default=None,
        max_length=20,
        examples=["001099000001"],
        description="Citizen ID (CCCD) or passport number; never logged",
    )
    phone: str | None = Field(default=None, max_length=20, description="Contact phone number")
    email: str | None = Field(default=None, max_length=200, description="Contact e-mail address")
    address: str | None = Field(
        default=None, max_length=500, description="Postal address printed on the receipt"
    )

    @field_validator("name")
    @classmethod
    def _name_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("payer name is required")
        return value.strip()


class ItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    revenue_type_code: str = Field(
        min_length=1,
        max_length=16,
        examples=["2771"],
        description="A revenue-type code in force today (`GET /v1/revenue-types`)",
    )
    amount: StrictInt = Field(gt=0, le=MAX_PAYMENT_AMOUNT, description="Integer VND, > 0", examples=[50000])
    description: str | None = Field(
        default=None,
        max_length=500,
        examples=["Cấp bản sao trích lục"],
        description="What this line is for, printed on the receipt",
    )


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

    agency_code: str = Field(
        min_length=1,
        max_length=64,
        description="The collecting agency (mã định danh), one of your API key's agencies or below them",
    )
    dossier_code: str = Field(
        min_length=1, max_length=100, description="The dossier (hồ sơ) this bill belongs to"
    )
    bill_code: str | None = Field(
        default=None,
        max_length=100,
        description=(
            "Tells several bills of one dossier apart; one open or paid payment per (agency, dossier, bill)"
        ),
    )
    procedure_code: str | None = Field(
        default=None, max_length=100, description="The public-service procedure code (mã thủ tục)"
    )
    description: str | None = Field(
        default=None, max_length=500, description="What the citizen pays for, shown on the checkout page"
    )
    payer: Payer = Field(description="Who pays")
    items: list[ItemIn] = Field(
        min_length=1, max_length=50, description="The bill's lines: one per revenue type and amount (1 to 50)"
    )
    amount: StrictInt | None = Field(default=None, gt=0, description="Optional; must equal the sum of items")
    currency: Literal["VND"] = Field(default="VND", description="Always VND")
    provider: str | None = Field(
        default=None,
        max_length=32,
        description=(
            "A gateway to pay at now (`GET /v1/providers`); null lets the citizen choose on the checkout page"
        ),
    )
    return_url: str | None = Field(
        default=None,
        max_length=2000,
        description="https URL of your portal the citizen is sent back to after paying",
    )
    expires_in_seconds: StrictInt = Field(
        default=DEFAULT_EXPIRY_SECONDS,
        ge=MIN_EXPIRY_SECONDS,
        le=MAX_EXPIRY_SECONDS,
        description="How long the bill can be paid (60 s to 30 days; default 24 h)",
    )
    metadata: dict[str, Any] = Field(
        default_factory=dict, description="Your own JSON (at most 4 KB), returned unchanged"
    )

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
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {"provider": "momo"}})

    provider: str = Field(
        min_length=1,
        max_length=32,
        examples=["momo"],
        description="The gateway to pay at (`GET /v1/providers`)",
    )


class OfflineCreate(BaseModel):
    """A payment collected at the counter; it counts in reports as paid, not online."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "method": "cash",
                "paid_at": "2026-11-21T09:30:00+07:00",
                "receipt_number": "BL-0001234",
            }
        },
    )

    method: Literal["cash", "bank_transfer", "pos"] = Field(
        description="How the money was collected at the counter"
    )
    paid_at: datetime = Field(description="When it was paid (RFC 3339 with an offset)")
    receipt_number: str | None = Field(
        default=None, max_length=100, description="The counter receipt's number"
    )

    @field_validator("paid_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("paid_at must carry a UTC offset (RFC 3339)")
        return value


class ItemOut(BaseModel):
    revenue_type_code: str = Field(description="The line's revenue-type code")
    revenue_type_name: str | None = Field(
        default=None, description="The code's name when the payment was created"
    )
    amount: int = Field(description="Integer VND")
    description: str | None = Field(default=None, description="What this line is for")


class AttemptOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": ex.ATTEMPT})

    id: str = Field(description="The attempt's id (`att_…`)")
    provider: str = Field(description="The gateway of this attempt")
    reference: str = Field(description="Our reference sent to the gateway (`PB…`), unique per attempt")
    status: Literal["pending", "succeeded", "failed", "expired", "cancelled", "unknown"] = Field(
        description="Where this attempt stands; `unknown` is resolved by a status query"
    )
    provider_transaction_id: str | None = Field(description="The gateway's own transaction id, once known")
    checkout_url: str | None = Field(
        default=None, description="Where to send the citizen to pay this attempt"
    )
    qr_payload: str | None = Field(
        default=None, description="The VietQR / EMVCo payload to render as a QR code, for QR gateways"
    )
    failure_code: str | None = Field(default=None, description=("The gateway's code for a failed attempt"))
    duplicate_paid: bool = Field(
        default=False,
        description=(
            "True when this attempt succeeded after the payment was already paid (refunded automatically)"
        ),
    )
    late: bool = Field(
        default=False,
        description="True when the success arrived after the payment had expired or was cancelled",
    )
    created_at: datetime = Field(description="When the attempt was started")


class PaymentOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": ex.PAYMENT})

    id: str = Field(description="The payment's id (`pay_…`)")
    status: Literal["pending", "succeeded", "partially_refunded", "refunded", "expired", "cancelled"] = Field(
        description="The payment's state; `succeeded` is final except for refunds"
    )
    agency_code: str = Field(description="The collecting agency")
    dossier_code: str = Field(description="The dossier this bill belongs to")
    bill_code: str | None = Field(description="The bill within the dossier, when sent")
    procedure_code: str | None = Field(description="The public-service procedure code")
    description: str | None = Field(description="What the citizen pays for")
    amount: int = Field(description=("Total in integer VND (the sum of the items)"))
    currency: str = Field(description="Always VND")
    items: list[ItemOut] = Field(description="The bill's lines")
    payer: dict[str, Any] = Field(description="Who pays, as sent at creation")
    provider: str | None = Field(description="The gateway of the latest attempt, if any")
    checkout_url: str | None = Field(
        description=(
            "Where to send the citizen: the hosted checkout page, or the "
            "gateway's page when `provider` was given"
        )
    )
    qr_payload: str | None = Field(description="The QR payload of the latest QR attempt")
    return_url: str | None = Field(description="Your portal's page the citizen returns to")
    channel: str | None = Field(
        description="`online` when paid through a gateway, `offline` when recorded at the counter"
    )
    offline: dict[str, Any] | None = Field(
        description="The counter payment (method, paid_at, receipt_number) when recorded offline"
    )
    refunded_amount: int = Field(description="Integer VND refunded so far")
    metadata: dict[str, Any] = Field(description="Your own JSON, as sent")
    attempts: list[AttemptOut] = Field(description="Every try at a gateway, oldest first")
    expires_at: datetime = Field(description="After this the bill can no longer be paid")
    paid_at: datetime | None = Field(description="When it was paid")
    created_at: datetime = Field(description="When the payment was created")
    updated_at: datetime = Field(description="When it last changed")


class PaymentList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": ex.page(ex.PAYMENT)})

    data: list[PaymentOut] = Field(description="Payments, newest first")
    next_cursor: NextCursor
