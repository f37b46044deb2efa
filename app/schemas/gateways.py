"""Gateway accounts (operator) and usable gateways (client)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


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

    agency_code: str = Field(min_length=1, max_length=64)
    provider: str = Field(min_length=1, max_length=32)
    credentials: dict[str, Any] = Field(default_factory=dict)
    settings: dict[str, Any] | None = None


class ProviderAccountOut(BaseModel):
    id: str
    provider: str
    agency_code: str
    callback_url: str = Field(description="The IPN address to register at the gateway")
    return_url: str
    settings: dict[str, Any]
    enabled: bool


class ProviderOut(BaseModel):
    provider: str
    display_name: str
    min_amount: int
    max_amount: int | None
    capabilities: list[str]
