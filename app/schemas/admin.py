"""Operator-API bodies: agencies, targets, beneficiary accounts, revenue types and clients."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from app.models import AgencyTarget, ApiKey, BeneficiaryAccount
from app.services import clients as client_service


class ImportResult(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {"created": 12, "updated": 1, "unchanged": 40}})

    created: int
    updated: int
    unchanged: int


class AgencyIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "code": "000.00.31.H56",
                "name": "Sở Tư pháp",
                "level": "department",
                "parent_code": "000.00.00.H56",
            }
        }
    )

    code: str = Field(max_length=64)
    name: str = Field(max_length=1000)
    level: str = Field(max_length=20, description="province, department, district or commune")
    parent_code: str | None = Field(default=None, max_length=64)


class AgencyPatch(BaseModel):
    name: str | None = Field(default=None, max_length=1000)
    level: str | None = Field(default=None, max_length=20)
    parent_code: str | None = Field(default=None, max_length=64, description="null makes it a root")


class TargetIn(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {"online_payment_rate": 0.30}})

    online_payment_rate: Decimal = Field(ge=0, le=1, max_digits=5, decimal_places=4)


class TargetOut(BaseModel):
    agency_code: str
    year: int
    online_payment_rate: float

    @classmethod
    def of(cls, code: str, target: AgencyTarget) -> TargetOut:
        return cls(agency_code=code, year=target.year, online_payment_rate=float(target.online_payment_rate))


class TargetList(BaseModel):
    data: list[TargetOut]
    next_cursor: str | None = None


class BeneficiaryIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "revenue_type_code": None,
                "treasury_code": "0011",
                "account_number": "7111",
                "bank_bin": "970436",
                "account_name": "Kho bạc Nhà nước Đồng Nai",
            }
        }
    )

    revenue_type_code: str | None = Field(default=None, max_length=16, description="null: the agency default")
    treasury_code: str | None = Field(default=None, max_length=16, description="Kho bạc code")
    account_number: str = Field(max_length=34)
    bank_bin: str = Field(max_length=6, description="NAPAS BIN of a known bank")
    account_name: str = Field(max_length=300)


class BeneficiaryOut(BaseModel):
    id: int
    agency_code: str
    revenue_type_code: str | None
    treasury_code: str | None
    account_number: str
    bank_bin: str | None
    account_name: str

    @classmethod
    def of(cls, code: str, account: BeneficiaryAccount) -> BeneficiaryOut:
        return cls(
            id=account.id,
            agency_code=code,
            revenue_type_code=account.revenue_type_code,
            treasury_code=account.treasury_code,
            account_number=account.account_number,
            bank_bin=account.bank_bin,
            account_name=account.account_name,
        )


class BeneficiaryList(BaseModel):
    data: list[BeneficiaryOut] = Field(description="The agency's own accounts, default first")
    next_cursor: str | None = None
    effective_default: BeneficiaryOut | None = Field(
        description="The default that applies to this agency: its own, else the nearest ancestor's"
    )


class RevenueTypeIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "group_code": "2750",
                "name": "Lệ phí hộ tịch",
                "kind": "le_phi",
                "valid_from": "2017-01-01",
                "valid_to": None,
            }
        }
    )

    group_code: str | None = Field(default=None, max_length=16)
    name: str = Field(max_length=1000)
    kind: str = Field(max_length=16, description="phi, le_phi, phat, thue, thue_dat or khac")
    chapter: str | None = Field(default=None, max_length=16)
    valid_from: date
    valid_to: date | None = None


class KeyOut(BaseModel):
    id: int
    prefix: str = Field(description="The first characters of the key, to tell keys apart")
    created_at: datetime
    expires_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> KeyOut:
        return cls(id=key.id, prefix=key.prefix, created_at=key.created_at, expires_at=key.expires_at)


class ClientOut(BaseModel):
    id: str
    name: str
    agency_codes: list[str]
    webhook_url: str | None
    allowed_hosts: list[str]
    enabled: bool
    keys: list[KeyOut]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, view: client_service.ClientView) -> ClientOut:
        c = view.client
        return cls(
            id=c.id,
            name=c.name,
            agency_codes=view.agency_codes,
            webhook_url=c.webhook_url,
            allowed_hosts=list(c.allowed_hosts or []),
            enabled=c.enabled,
            keys=[KeyOut.of(k) for k in view.keys],
            created_at=c.created_at,
            updated_at=c.updated_at,
        )


class ClientCreated(ClientOut):
    api_key: str = Field(description="Shown once; store it now")
    webhook_secret: str = Field(description="Standard Webhooks secret (whsec_…); shown once")


class ClientList(BaseModel):
    data: list[ClientOut]
    next_cursor: str | None


class ClientIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "name": "Hệ thống một cửa tỉnh Đồng Nai",
                "agency_codes": ["000.00.00.H56"],
                "webhook_url": "https://motcua.dongnai.gov.vn/paybridge/webhook",
                "allowed_hosts": ["motcua.dongnai.gov.vn"],
            }
        }
    )

    name: str = Field(max_length=300)
    agency_codes: list[str] = Field(max_length=1000)
    webhook_url: str | None = Field(default=None, max_length=2000)
    allowed_hosts: list[str] | None = Field(default=None, max_length=100)


class ClientPatch(BaseModel):
    name: str | None = Field(default=None, max_length=300)
    agency_codes: list[str] | None = Field(default=None, max_length=1000)
    webhook_url: str | None = Field(default=None, max_length=2000)
    allowed_hosts: list[str] | None = Field(default=None, max_length=100)
    enabled: bool | None = None


class KeyRotateIn(BaseModel):
    grace_seconds: int | None = Field(
        default=None, ge=0, description="How long older keys keep working (24 h)"
    )


class KeyCreated(KeyOut):
    api_key: str = Field(description="Shown once; store it now")
    previous_keys_expire_at: datetime | None
