"""Client-API catalogue bodies: revenue-type codes, banks and agencies."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from app.models import Agency, Bank, RevenueType
from app.services import agencies as agency_service


class RevenueTypeOut(BaseModel):
    """One validity period (one version) of a revenue-type code."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "id": 15,
                "code": "2771",
                "version": 1,
                "group_code": "2750",
                "name": "Lệ phí hộ tịch",
                "kind": "le_phi",
                "chapter": None,
                "valid_from": "2017-01-01",
                "valid_to": None,
                "is_current": True,
            }
        }
    )

    id: int
    code: str
    version: int
    group_code: str | None
    name: str
    kind: str = Field(description="phi, le_phi, phat, thue, thue_dat or khac")
    chapter: str | None
    valid_from: date
    valid_to: date | None
    is_current: bool = Field(description="false: superseded by a later version (kept as history)")

    @classmethod
    def of(cls, row: RevenueType) -> RevenueTypeOut:
        return cls(
            id=row.id,
            code=row.code,
            version=row.version,
            group_code=row.group_code,
            name=row.name,
            kind=row.kind,
            chapter=row.chapter,
            valid_from=row.valid_from,
            valid_to=row.valid_to,
            is_current=row.is_current,
        )


class RevenueTypeDetail(RevenueTypeOut):
    """The period in force, with every version of the code ever written (oldest first)."""

    versions: list[RevenueTypeOut]


class RevenueTypeList(BaseModel):
    data: list[RevenueTypeOut]
    next_cursor: str | None


class BankOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "bin": "970436",
                "sbv_code": "203",
                "short_name": "Vietcombank",
                "name": "Ngân hàng TMCP Ngoại thương Việt Nam",
            }
        }
    )

    bin: str = Field(description="NAPAS BIN")
    sbv_code: str | None = Field(description="State Bank of Vietnam code")
    short_name: str
    name: str

    @classmethod
    def of(cls, bank: Bank) -> BankOut:
        return cls(bin=bank.bin, sbv_code=bank.sbv_code, short_name=bank.short_name, name=bank.name)


class BankList(BaseModel):
    data: list[BankOut]
    next_cursor: str | None


class AgencyOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "code": "000.00.31.H56",
                "name": "Sở Tư pháp",
                "level": "department",
                "parent_code": "000.00.00.H56",
                "path": "/000.00.00.H56/000.00.31.H56/",
            }
        }
    )

    code: str = Field(description="Mã định danh")
    name: str
    level: str = Field(description="province, department, district or commune")
    parent_code: str | None
    path: str = Field(description="Codes from the root, '/'-separated")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, agency: Agency) -> AgencyOut:
        return cls(
            code=agency.code,
            name=agency.name,
            level=agency.level,
            parent_code=agency_service.parent_code_of(agency),
            path=agency.path,
            created_at=agency.created_at,
            updated_at=agency.updated_at,
        )


class AgencyList(BaseModel):
    data: list[AgencyOut]
    next_cursor: str | None
