"""Operator API: agencies, targets, beneficiary accounts, revenue types and clients."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request, Response

from app.container import Container
from app.db import Database
from app.deps import AdminDep, ContainerDep
from app.routes.admin_jobs import JOB_ACCEPTED, accepted
from app.routes.catalog import Cursor, Limit, NameSearch
from app.schemas.admin import (
    AgencyIn,
    AgencyPatch,
    BeneficiaryIn,
    BeneficiaryList,
    BeneficiaryOut,
    ClientCreated,
    ClientIn,
    ClientList,
    ClientOut,
    ClientPatch,
    ImportResult,
    KeyCreated,
    KeyOut,
    KeyRotateIn,
    RevenueTypeIn,
    TargetIn,
    TargetList,
    TargetOut,
)
from app.schemas.catalog import (
    AgencyList,
    AgencyOut,
    RevenueTypeDetail,
)
from app.services.access import clients as client_service
from app.services.catalogue import agencies as agency_service
from app.services.catalogue import beneficiaries as beneficiary_service
from app.services.catalogue import catalog as catalog_service
from app.services.catalogue import imports
from app.services.catalogue.imports import ImportRow
from app.services.operations import jobs

router = APIRouter(
    prefix="/admin/v1",
    tags=["admin"],
    dependencies=[AdminDep],
    responses={
        401: {"description": "Missing or wrong operator token"},
        422: {"description": "Invalid input: `errors` names each field"},
        503: {"description": "`admin_disabled`: PAYBRIDGE_ADMIN_TOKEN is empty"},
    },
)

AgencyCode = Annotated[str, Path(max_length=64, description="Mã định danh, e.g. 000.00.31.H56")]
_IMPORT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
        },
    }
}
_IMPORT_422: dict[int | str, dict[str, Any]] = {
    422: {"description": "Bad file: `errors` lists every bad row as {line, field, message}"}
}


async def _upload(request: Request) -> tuple[bytes, str]:
    return await request.body(), request.headers.get("content-type", "")


Importer = Callable[[Database, Sequence[ImportRow]], Awaitable[dict[str, int]]]


async def _import(
    request: Request, container: Container, kind: jobs.JobKind, run: Importer
) -> ImportResult | Response:
    """A catalogue import: the file is read and parsed here (a malformed file is refused at once);
    the rows are written now, or by a job when asked for or when there are many."""
    body, content_type = await _upload(request)
    rows = imports.parse_import_file(body, content_type)
    if jobs.run_as_job(request.headers.get("prefer"), rows=len(rows)):
        params = {"content_type": content_type, "rows": len(rows)}
        return accepted(await jobs.enqueue(container, kind, params=params, payload=body))
    return ImportResult(**await run(container.db, rows))


# ---------------------------------------------------------------------------- agencies


@router.post("/agencies", summary="Create an agency", status_code=201, response_model=AgencyOut)
async def create_agency(body: AgencyIn, container: ContainerDep) -> AgencyOut:
    """Create an agency under a parent (or a root). 409 `conflict` when the code exists."""
    agency = await agency_service.create_agency(
        container.db, body.code, body.name, body.level, body.parent_code
    )
    return AgencyOut.of(agency)


@router.get("/agencies", summary="List agencies", response_model=AgencyList)
async def list_agencies(
    container: ContainerDep,
    parent_code: Annotated[str | None, Query(max_length=64, description="Direct children of")] = None,
    under: Annotated[str | None, Query(max_length=64, description="This agency and its subtree")] = None,
    q: NameSearch = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> AgencyList:
    """All agencies in tree order; filter by parent, subtree or name."""
    page = await agency_service.list_agencies(
        container.db, parent_code=parent_code, under=under, q=q, limit=limit, cursor=cursor
    )
    return AgencyList(data=[AgencyOut.of(a) for a in page.items], next_cursor=page.next_cursor)


@router.patch("/agencies/{code}", summary="Rename or move an agency", response_model=AgencyOut)
async def update_agency(code: AgencyCode, body: AgencyPatch, container: ContainerDep) -> AgencyOut:
    """Rename, re-level or move an agency; moving carries its subtree (cycles refused)."""
    agency = await agency_service.update_agency(container.db, code, body.model_dump(exclude_unset=True))
    return AgencyOut.of(agency)


@router.post(
    "/agencies:import",
    summary="Import agencies from a file",
    response_model=ImportResult,
    openapi_extra=_IMPORT_BODY,
    responses={**_IMPORT_422, **JOB_ACCEPTED},
)
async def import_agencies(request: Request, container: ContainerDep) -> ImportResult | Response:
    """Upsert agencies from CSV (code,name,level,parent_code) or JSON, all or nothing. With
    `Prefer: respond-async`, or past 2,000 rows: `202` and a job to follow."""
    return await _import(request, container, jobs.JobKind.agencies_import, agency_service.import_agencies)


@router.put(
    "/agencies/{code}/targets/{year}", summary="Set an agency's yearly target", response_model=TargetOut
)
async def set_target(
    code: AgencyCode,
    year: Annotated[int, Path(ge=2000, le=2100)],
    body: TargetIn,
    container: ContainerDep,
) -> TargetOut:
    """Set an agency's online-payment-rate target (0..1) for a year; it applies down its subtree."""
    target = await agency_service.set_target(container.db, code, year, body.online_payment_rate)
    return TargetOut.of(agency_service.normalise_code(code), target)


@router.get("/agencies/{code}/targets", summary="An agency's yearly targets", response_model=TargetList)
async def list_targets(code: AgencyCode, container: ContainerDep) -> TargetList:
    """An agency's own targets by year."""
    targets = await agency_service.list_targets(container.db, code)
    return TargetList(data=[TargetOut.of(agency_service.normalise_code(code), t) for t in targets])


# ---------------------------------------------------------------------------- beneficiary accounts


@router.put(
    "/agencies/{code}/beneficiary-accounts",
    summary="Set a beneficiary account",
    response_model=BeneficiaryOut,
)
async def put_beneficiary(
    code: AgencyCode, body: BeneficiaryIn, container: ContainerDep, response: Response
) -> BeneficiaryOut:
    """Set where money for this agency lands: its default (no revenue type) or per revenue type."""
    account, created = await beneficiary_service.put_beneficiary(container.db, code, body.model_dump())
    response.status_code = 201 if created else 200
    return BeneficiaryOut.of(agency_service.normalise_code(code), account)


@router.get(
    "/agencies/{code}/beneficiary-accounts",
    summary="An agency's beneficiary accounts",
    response_model=BeneficiaryList,
)
async def list_beneficiaries(code: AgencyCode, container: ContainerDep) -> BeneficiaryList:
    """An agency's beneficiary accounts and the default it resolves to up the tree."""
    view = await beneficiary_service.list_beneficiaries(container.db, code)
    default = view.effective_default
    return BeneficiaryList(
        data=[BeneficiaryOut.of(view.agency.code, a) for a in view.accounts],
        effective_default=BeneficiaryOut.of(view.effective_default_agency_code or "", default)
        if default
        else None,
    )


# ---------------------------------------------------------------------------- revenue types


@router.put("/revenue-types/{code}", summary="Write a revenue-type period", response_model=RevenueTypeDetail)
async def put_revenue_type(
    code: Annotated[str, Path(max_length=16)],
    body: RevenueTypeIn,
    container: ContainerDep,
    response: Response,
) -> RevenueTypeDetail:
    """Write a validity period of a code as a new version (same `valid_from` supersedes; history kept).
    201 when a version was written, 200 when nothing changed."""
    row, changed, history = await catalog_service.upsert_revenue_type(container.db, code, body.model_dump())
    response.status_code = 201 if changed else 200
    return RevenueTypeDetail.with_versions(row, history)


@router.post(
    "/revenue-types:import",
    summary="Import revenue types from a file",
    response_model=ImportResult,
    openapi_extra=_IMPORT_BODY,
    responses={**_IMPORT_422, **JOB_ACCEPTED},
)
async def import_revenue_types(request: Request, container: ContainerDep) -> ImportResult | Response:
    """Write revenue-type periods from CSV (code,group_code,name,kind,chapter,valid_from,valid_to)
    or JSON, all or nothing; identical rows change nothing. With `Prefer: respond-async`, or past
    2,000 rows: `202` and a job to follow."""
    kind = jobs.JobKind.revenue_types_import
    return await _import(request, container, kind, catalog_service.import_revenue_types)


# ---------------------------------------------------------------------------- clients


@router.post("/clients", summary="Create a client", status_code=201, response_model=ClientCreated)
async def create_client(body: ClientIn, container: ContainerDep) -> ClientCreated:
    """Create a client for agency subtrees; the API key and webhook secret are shown only here."""
    made = await client_service.create_client(
        container,
        name=body.name,
        agency_codes=body.agency_codes,
        webhook_url=body.webhook_url,
        allowed_hosts=body.allowed_hosts,
    )
    return ClientCreated(
        **ClientOut.of(made.view).model_dump(), api_key=made.api_key, webhook_secret=made.webhook_secret
    )


@router.get("/clients", summary="List clients", response_model=ClientList)
async def list_clients(container: ContainerDep, limit: Limit = 50, cursor: Cursor = None) -> ClientList:
    """Clients, oldest first (never their keys or secrets)."""
    page = await client_service.list_clients(container, limit=limit, cursor=cursor)
    return ClientList(data=[ClientOut.of(v) for v in page.items], next_cursor=page.next_cursor)


@router.get("/clients/{client_id}", summary="A client", response_model=ClientOut)
async def get_client(client_id: Annotated[str, Path(max_length=40)], container: ContainerDep) -> ClientOut:
    """One client with its agencies and key prefixes (never a key or secret)."""
    return ClientOut.of(await client_service.get_client(container, client_id))


@router.patch("/clients/{client_id}", summary="Change a client", response_model=ClientOut)
async def update_client(
    client_id: Annotated[str, Path(max_length=40)], body: ClientPatch, container: ContainerDep
) -> ClientOut:
    """Change a client's name, webhook URL, agencies, allowed hosts, or disable it."""
    view = await client_service.update_client(container, client_id, body.model_dump(exclude_unset=True))
    return ClientOut.of(view)


@router.post(
    "/clients/{client_id}/keys", summary="Issue a new API key", status_code=201, response_model=KeyCreated
)
async def rotate_key(
    client_id: Annotated[str, Path(max_length=40)],
    container: ContainerDep,
    body: Annotated[KeyRotateIn | None, Body()] = None,
) -> KeyCreated:
    """Issue a new API key (shown once); older keys keep working for the grace period, then 401."""
    made = await client_service.rotate_key(container, client_id, body.grace_seconds if body else None)
    return KeyCreated(
        **KeyOut.of(made.key).model_dump(),
        api_key=made.api_key,
        previous_keys_expire_at=made.previous_keys_expire_at,
    )
