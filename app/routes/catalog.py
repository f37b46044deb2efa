"""Client API catalogues: revenue-type codes, banks and the caller's agencies."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from app.deps import ContainerDep, CurrentClient
from app.schemas.catalog import (
    AgencyList,
    AgencyOut,
    BankList,
    BankOut,
    RevenueTypeDetail,
    RevenueTypeList,
    RevenueTypeOut,
)
from app.services.catalogue import agencies as agency_service
from app.services.catalogue import catalog as catalog_service

router = APIRouter(
    prefix="/v1", tags=["catalogue"], responses={401: {"description": "Missing, wrong or expired API key"}}
)

Limit = Annotated[int, Query(ge=1, le=500, description="Page size (default 50, max 500)")]
Cursor = Annotated[str | None, Query(max_length=500, description="`next_cursor` of the previous page")]
NameSearch = Annotated[str | None, Query(max_length=200, description="Code or name; accents optional")]


@router.get("/revenue-types", summary="Search revenue-type codes in force", response_model=RevenueTypeList)
async def list_revenue_types(
    _client: CurrentClient,
    container: ContainerDep,
    q: NameSearch = None,
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
    "/revenue-types/{code}",
    summary="A revenue-type code with its versions",
    response_model=RevenueTypeDetail,
    responses={404: {"description": "Unknown"}},
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
    return RevenueTypeDetail.with_versions(chosen, history)


@router.get("/banks", summary="Banks by NAPAS BIN", response_model=BankList)
async def list_banks(
    _client: CurrentClient, container: ContainerDep, limit: Limit = 50, cursor: Cursor = None
) -> BankList:
    """Banks by NAPAS BIN, with SBV code and names."""
    page = await catalog_service.list_banks(container.db, limit=limit, cursor=cursor)
    return BankList(data=[BankOut.of(b) for b in page.items], next_cursor=page.next_cursor)


@router.get("/agencies", summary="Your agencies", response_model=AgencyList)
async def list_my_agencies(
    client: CurrentClient,
    container: ContainerDep,
    q: NameSearch = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> AgencyList:
    """The agencies this client may act for: its subtrees, in tree order."""
    page = await agency_service.list_agencies(
        container.db, scope=client.agency_paths, q=q, limit=limit, cursor=cursor
    )
    return AgencyList(data=[AgencyOut.of(a) for a in page.items], next_cursor=page.next_cursor)
