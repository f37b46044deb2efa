"""Operator-API bodies: agencies, targets, beneficiary accounts, revenue types and clients."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from app.models import AgencyTarget, BeneficiaryAccount, ClientView
from app.schemas import examples as ex
from app.schemas.rows import NextCursor, RowOut


class ImportResult(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {"created": 12, "updated": 1, "unchanged": 40}})

    created: int = Field(description="Rows written as new records")
    updated: int = Field(description="Rows that changed an existing record")
    unchanged: int = Field(description="Rows identical to what was there (nothing written)")


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

    code: str = Field(max_length=64, description="The agency's code (mã định danh), unique")
    name: str = Field(max_length=1000, description="The agency's name")
    level: str = Field(max_length=20, description="province, department, district or commune")
    parent_code: str | None = Field(
        default=None, max_length=64, description="The parent agency; null makes a root"
    )


class AgencyPatch(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"example": {"name": "Sở Tư pháp tỉnh Đồng Nai", "parent_code": "000.00.00.H56"}}
    )

    name: str | None = Field(default=None, max_length=1000, description="A new name")
    level: str | None = Field(
        default=None,
        max_length=20,
        description="A new level: province, department, district, commune or unit",
    )
    parent_code: str | None = Field(default=None, max_length=64, description="null makes it a root")


class TargetIn(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {"online_payment_rate": 0.30}})

    online_payment_rate: Decimal = Field(
        ge=0,
        le=1,
        max_digits=5,
        decimal_places=4,
        description="Target share of fee-bearing bills paid online, 0 to 1",
    )


class TargetOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": ex.TARGET})

    agency_code: str = Field(description="The agency the target is set on")
    year: int = Field(description="The calendar year it applies to")
    online_payment_rate: float = Field(description="Target share of fee-bearing bills paid online, 0 to 1")

    @classmethod
    def of(cls, code: str, target: AgencyTarget) -> TargetOut:
        return cls(agency_code=code, year=target.year, online_payment_rate=float(target.online_payment_rate))


class TargetList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": ex.page(ex.TARGET, None)})

    data: list[TargetOut] = Field(description="The agency's targets by year")
    next_cursor: NextCursor = None


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
    account_number: str = Field(
        max_length=34, description="The receiving account number (at the Treasury or a bank)"
    )
    bank_bin: str = Field(max_length=6, description="NAPAS BIN of a known bank")
    account_name: str = Field(max_length=300, description="The account holder's name")


class BeneficiaryOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": ex.BENEFICIARY})

    id: int = Field(description="The account's id")
    agency_code: str = Field(description="The agency the account belongs to")
    revenue_type_code: str | None = Field(
        description="The revenue type it receives; null: the agency's default account"
    )
    treasury_code: str | None = Field(description="Kho bạc (State Treasury) code")
    account_number: str = Field(description="The receiving account number")
    bank_bin: str | None = Field(description="NAPAS BIN of the account's bank")
    account_name: str = Field(description="The account holder's name")

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
    model_config = ConfigDict(
        json_schema_extra={
            "example": {"data": [ex.BENEFICIARY], "next_cursor": None, "effective_default": ex.BENEFICIARY}
        }
    )

    data: list[BeneficiaryOut] = Field(description="The agency's own accounts, default first")
    next_cursor: NextCursor = None
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

    group_code: str | None = Field(
        default=None, max_length=16, description="The group (tiểu mục) the code belongs to"
    )
    name: str = Field(max_length=1000, description="The code's name")
    kind: str = Field(max_length=16, description="phi, le_phi, phat, thue, thue_dat or khac")
    chapter: str | None = Field(
        default=None, max_length=16, description="Budget chapter (chương), when fixed"
    )
    valid_from: date = Field(description="First day this period is in force")
    valid_to: date | None = Field(default=None, description="Last day in force; null for open-ended")


class KeyOut(RowOut):
    model_config = ConfigDict(json_schema_extra={"example": ex.KEY})

    id: int = Field(description="The key's id")
    prefix: str = Field(description="The first characters of the key, to tell keys apart")
    created_at: datetime = Field(description="When the key was issued")
    expires_at: datetime | None = Field(
        description="When the key stops working (set when a newer key replaced it); null: no end"
    )


class ClientOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": ex.CLIENT})

    id: str = Field(description="The client's id (`cli_…`)")
    name: str = Field(description="The client's display name")
    agency_codes: list[str] = Field(description="The agencies whose subtrees this client may use")
    webhook_url: str | None = Field(
        description="Where events are POSTed; null: the client polls `GET /v1/events`"
    )
    allowed_hosts: list[str] = Field(description="Hosts the client's `return_url`s and webhook URL may use")
    enabled: bool = Field(description="False: every key of the client answers 401")
    keys: list[KeyOut] = Field(description="The client's API keys (prefixes only)")
    created_at: datetime = Field(description="When the client was created")
    updated_at: datetime = Field(description="When it last changed")

    @classmethod
    def of(cls, view: ClientView) -> ClientOut:
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
    model_config = ConfigDict(
        json_schema_extra={
            "example": {**ex.CLIENT, "api_key": "pbk_Xq3f…", "webhook_secret": "whsec_MfKQ9r…"}
        }
    )

    api_key: str = Field(description="Shown once; store it now")
    webhook_secret: str = Field(description="Standard Webhooks secret (whsec_…); shown once")


class ClientList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": ex.page(ex.CLIENT)})

    data: list[ClientOut] = Field(description="Clients, oldest first")
    next_cursor: NextCursor


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

    name: str = Field(max_length=300, description="The client's display name (usually the portal's)")
    agency_codes: list[str] = Field(max_length=1000, description="Agencies whose subtrees the client may use")
    webhook_url: str | None = Field(
        default=None, max_length=2000, description="https URL that receives the signed event webhooks"
    )
    allowed_hosts: list[str] | None = Field(
        default=None,
        max_length=100,
        description="Hosts `return_url`s and the webhook URL may use (default: the webhook URL's host)",
    )


class ClientPatch(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {"webhook_url": "https://motcua.dongnai.gov.vn/paybridge/webhook-v2", "enabled": True}
        }
    )

    name: str | None = Field(default=None, max_length=300, description="A new display name")
    agency_codes: list[str] | None = Field(
        default=None, max_length=1000, description="A new list of agencies (replaces the old one)"
    )
    webhook_url: str | None = Field(
        default=None, max_length=2000, description="A new webhook URL; null stops webhooks"
    )
    allowed_hosts: list[str] | None = Field(
        default=None, max_length=100, description="A new list of allowed hosts (replaces the old one)"
    )
    enabled: bool | None = Field(default=None, description="False disables every key of the client")


class KeyRotateIn(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {"grace_seconds": 86400}})

    grace_seconds: int | None = Field(
        default=None, ge=0, description="How long older keys keep working (24 h)"
    )


class KeyCreated(KeyOut):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                **ex.KEY,
                "id": 8,
                "prefix": "pbk_Lm7d",
                "api_key": "pbk_Lm7d…",
                "previous_keys_expire_at": "2026-11-02T00:00:00Z",
            }
        }
    )

    api_key: str = Field(description="Shown once; store it now")
    previous_keys_expire_at: datetime | None = Field(description="When the client's older keys stop working")
