"""Gateway accounts (operator) and usable gateways (client)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.schemas import examples as ex


class ProviderAccountCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "agency_code": "000.00.31.H56",
                    "provider": "vnpay",
                    "credentials": {"tmn_code": "TESTTMN1", "hash_secret": "…"},
                    "settings": {},
                }
            ]
        },
    )

    agency_code: str = Field(
        min_length=1, max_length=64, description="The agency the account serves (with its subtree)"
    )
    provider: str = Field(
        min_length=1,
        max_length=32,
        description="The gateway: sandbox, vnpay, momo, zalopay, onepay, vietqr, dvcqg or paygov",
    )
    credentials: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            "The gateway's credentials (per gateway: tmn_code and hash_secret "
            "for VNPay, …); stored encrypted, never returned"
        ),
    )
    settings: dict[str, Any] | None = Field(
        default=None,
        description="Non-secret gateway settings (endpoints, bank account for VietQR); defaults per gateway",
    )


class ProviderAccountOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": ex.PROVIDER_ACCOUNT})

    id: str = Field(description="The account's id (`pa_…`)")
    provider: str = Field(description="The gateway")
    agency_code: str = Field(description="The agency it serves")
    callback_url: str = Field(description="The IPN address to register at the gateway")
    return_url: str = Field(description="Where the gateway sends the citizen's browser back")
    settings: dict[str, Any] = Field(description="Non-secret gateway settings")
    enabled: bool = Field(description="False: not offered for new payments")


class ProviderOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": ex.PROVIDER})

    provider: str = Field(description="The gateway's name, as `provider` takes it")
    display_name: str = Field(description="The name shown to citizens")
    min_amount: int = Field(description="Smallest amount the gateway takes, integer VND")
    max_amount: int | None = Field(description="Largest amount the gateway takes; null: no limit")
    capabilities: list[str] = Field(
        description="What the gateway supports: redirect, api_create, qr, query, refund, …"
    )
