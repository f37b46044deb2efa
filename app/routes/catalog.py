"""Client API catalogues: revenue-type codes, banks and the caller's agencies."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from app.deps import ContainerDep, CurrentClient
from app.models import Agency, Bank, RevenueType
from app.services.catalogue import agencies as agency_service
from app.services.catalogue import catalog as catalog_service

router = APIRouter(
    prefix="/v1", tags=["catalogue"], responses={401: {"description": "Missing, wrong or expired API key"}}
)

Limit = Annotated[int, Query(ge=1, le=500, description="Page size (default 50, max 500)")]
Cursor = Annotated[str | None, Query(max_length=500, description="`next_cursor` of the previous page")]


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


@router.get("/revenue-types", response_model=RevenueTypeList)
async def list_revenue_types(
    _client: CurrentClient,
    container: ContainerDep,
    q: Annotated[str | None, Query(max_length=200, description="Code or name; accents optional")] = None,
    kind: Annotated[str | None, Query(description="phi, le_phi, phat, thue, thue_dat, khac")] = None,
    active_on: Annotated[date | None, Query(description="Only periods in force that day")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> RevenueTypeList:
    """Search revenue-type codes by code or name (case and diacritics ignored), kind and date."""
    page = await catalog_service.list_revenue_types(
        container.db, q=q, kind=kind, active_on=active_on, limit=limit, cursor=cursor
    )
    return RevenueTypeList(data=[RevenueTypeOut.of(r) for r in page.items], next_cursor=page.next_cursor)


@router.get(
    "/revenue-types/{code}", response_model=RevenueTypeDetail, responses={404: {"description": "Unknown"}}
)
async def get_revenue_type(
    code: str,
    _client: CurrentClient,
    container: ContainerDep,
    active_on: Annotated[date | None, Query(description="The period in force that day (404 if none)")] = None,
) -> RevenueTypeDetail:
    """A revenue-type code: the period in force (today or `active_on`) and its version history."""
    chosen, history = await catalog_service.get_revenue_type(
        container.db, code, active_on=active_on, today=catalog_service.vn_today(container.clock())
    )
    return RevenueTypeDetail(
        **RevenueTypeOut.of(chosen).model_dump(), versions=[RevenueTypeOut.of(r) for r in history]
    )


@router.get("/banks", response_model=BankList)
async def list_banks(
    _client: CurrentClient, container: ContainerDep, limit: Limit = 50, cursor: Cursor = None
) -> BankList:
    """Banks by NAPAS BIN, with SBV code and names."""
    page = await catalog_service.list_banks(container.db, limit=limit, cursor=cursor)
    return BankList(data=[BankOut.of(b) for b in page.items], next_cursor=page.next_cursor)


@router.get("/agencies", response_model=AgencyList)
async def list_my_agencies(
    client: CurrentClient,
    container: ContainerDep,
    q: Annotated[str | None, Query(max_length=200, description="Code or name; accents optional")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> AgencyList:
    """The agencies this client may act for: its subtrees, in tree order."""
    page = await agency_service.list_agencies(
        container.db, scope=client.agency_paths, q=q, limit=limit, cursor=cursor
    )
    return AgencyList(data=[AgencyOut.of(a) for a in page.items], next_cursor=page.next_cursor)
