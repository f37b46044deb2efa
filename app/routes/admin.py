"""Operator API: agencies, targets, beneficiary accounts, revenue types and clients."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from app.deps import AdminDep, ContainerDep
from app.models import AgencyTarget, ApiKey, BeneficiaryAccount
from app.routes.admin_jobs import JOB_ACCEPTED, accepted
from app.routes.catalog import AgencyList, AgencyOut, Cursor, Limit, RevenueTypeDetail, RevenueTypeOut
from app.services.access import clients as client_service
from app.services.catalogue import agencies as agency_service
from app.services.catalogue import beneficiaries as beneficiary_service
from app.services.catalogue import catalog as catalog_service
from app.services.catalogue import imports
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


class ImportResult(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {"created": 12, "updated": 1, "unchanged": 40}})

    created: int
    updated: int
    unchanged: int


async def _upload(request: Request) -> tuple[bytes, str]:
    return await request.body(), request.headers.get("content-type", "")


# ---------------------------------------------------------------------------- agencies


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


@router.post("/agencies", status_code=201, response_model=AgencyOut)
async def create_agency(body: AgencyIn, container: ContainerDep) -> AgencyOut:
    """Create an agency under a parent (or a root). 409 `conflict` when the code exists."""
    agency = await agency_service.create_agency(
        container.db, body.code, body.name, body.level, body.parent_code
    )
    return AgencyOut.of(agency)


@router.get("/agencies", response_model=AgencyList)
async def list_agencies(
    container: ContainerDep,
    parent_code: Annotated[str | None, Query(max_length=64, description="Direct children of")] = None,
    under: Annotated[str | None, Query(max_length=64, description="This agency and its subtree")] = None,
    q: Annotated[str | None, Query(max_length=200, description="Code or name; accents optional")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> AgencyList:
    """All agencies in tree order; filter by parent, subtree or name."""
    page = await agency_service.list_agencies(
        container.db, parent_code=parent_code, under=under, q=q, limit=limit, cursor=cursor
    )
    return AgencyList(data=[AgencyOut.of(a) for a in page.items], next_cursor=page.next_cursor)


@router.patch("/agencies/{code}", response_model=AgencyOut)
async def update_agency(code: AgencyCode, body: AgencyPatch, container: ContainerDep) -> AgencyOut:
    """Rename, re-level or move an agency; moving carries its subtree (cycles refused)."""
    agency = await agency_service.update_agency(container.db, code, body.model_dump(exclude_unset=True))
    return AgencyOut.of(agency)


@router.post(
    "/agencies:import",
    response_model=ImportResult,
    openapi_extra=_IMPORT_BODY,
    responses={**_IMPORT_422, **JOB_ACCEPTED},
)
async def import_agencies(request: Request, container: ContainerDep) -> ImportResult | Response:
    """Upsert agencies from CSV (code,name,level,parent_code) or JSON, all or nothing. With
    `Prefer: respond-async`, or past 2,000 rows: `202` and a job to follow."""
    body, content_type = await _upload(request)
    rows = imports.parse_import_file(body, content_type)
    if jobs.run_as_job(request.headers.get("prefer"), rows=len(rows)):
        params = {"content_type": content_type, "rows": len(rows)}
        return accepted(
            await jobs.enqueue(container, jobs.JobKind.agencies_import, params=params, payload=body)
        )
    return ImportResult(**await agency_service.import_agencies(container.db, rows))


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


@router.put("/agencies/{code}/targets/{year}", response_model=TargetOut)
async def set_target(
    code: AgencyCode,
    year: Annotated[int, Path(ge=2000, le=2100)],
    body: TargetIn,
    container: ContainerDep,
) -> TargetOut:
    """Set an agency's online-payment-rate target (0..1) for a year; it applies down its subtree."""
    target = await agency_service.set_target(container.db, code, year, body.online_payment_rate)
    return TargetOut.of(agency_service.normalise_code(code), target)


@router.get("/agencies/{code}/targets", response_model=TargetList)
async def list_targets(code: AgencyCode, container: ContainerDep) -> TargetList:
    """An agency's own targets by year."""
    targets = await agency_service.list_targets(container.db, code)
    return TargetList(data=[TargetOut.of(agency_service.normalise_code(code), t) for t in targets])


# ---------------------------------------------------------------------------- beneficiary accounts


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


@router.put("/agencies/{code}/beneficiary-accounts", response_model=BeneficiaryOut)
async def put_beneficiary(
    code: AgencyCode, body: BeneficiaryIn, container: ContainerDep, response: Response
) -> BeneficiaryOut:
    """Set where money for this agency lands: its default (no revenue type) or per revenue type."""
    account, created = await beneficiary_service.put_beneficiary(container.db, code, body.model_dump())
    response.status_code = 201 if created else 200
    return BeneficiaryOut.of(agency_service.normalise_code(code), account)


@router.get("/agencies/{code}/beneficiary-accounts", response_model=BeneficiaryList)
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


@router.put("/revenue-types/{code}", response_model=RevenueTypeDetail)
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
    return RevenueTypeDetail(
        **RevenueTypeOut.of(row).model_dump(), versions=[RevenueTypeOut.of(r) for r in history]
    )


@router.post(
    "/revenue-types:import",
    response_model=ImportResult,
    openapi_extra=_IMPORT_BODY,
    responses={**_IMPORT_422, **JOB_ACCEPTED},
)
async def import_revenue_types(request: Request, container: ContainerDep) -> ImportResult | Response:
    """Write revenue-type periods from CSV (code,group_code,name,kind,chapter,valid_from,valid_to)
    or JSON, all or nothing; identical rows change nothing. With `Prefer: respond-async`, or past
    2,000 rows: `202` and a job to follow."""
    body, content_type = await _upload(request)
    rows = imports.parse_import_file(body, content_type)
    if jobs.run_as_job(request.headers.get("prefer"), rows=len(rows)):
        params = {"content_type": content_type, "rows": len(rows)}
        kind = jobs.JobKind.revenue_types_import
        return accepted(await jobs.enqueue(container, kind, params=params, payload=body))
    return ImportResult(**await catalog_service.import_revenue_types(container.db, rows))


# ---------------------------------------------------------------------------- clients


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


class RotateIn(BaseModel):
    grace_seconds: int | None = Field(
        default=None, ge=0, description="How long older keys keep working (24 h)"
    )


class KeyCreated(KeyOut):
    api_key: str = Field(description="Shown once; store it now")
    previous_keys_expire_at: datetime | None


@router.post("/clients", status_code=201, response_model=ClientCreated)
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


@router.get("/clients", response_model=ClientList)
async def list_clients(container: ContainerDep, limit: Limit = 50, cursor: Cursor = None) -> ClientList:
    """Clients, oldest first (never their keys or secrets)."""
    page = await client_service.list_clients(container, limit=limit, cursor=cursor)
    return ClientList(data=[ClientOut.of(v) for v in page.items], next_cursor=page.next_cursor)


@router.get("/clients/{client_id}", response_model=ClientOut)
async def get_client(client_id: Annotated[str, Path(max_length=40)], container: ContainerDep) -> ClientOut:
    """One client with its agencies and key prefixes (never a key or secret)."""
    return ClientOut.of(await client_service.get_client(container, client_id))


@router.patch("/clients/{client_id}", response_model=ClientOut)
async def update_client(
    client_id: Annotated[str, Path(max_length=40)], body: ClientPatch, container: ContainerDep
) -> ClientOut:
    """Change a client's name, webhook URL, agencies, allowed hosts, or disable it."""
    view = await client_service.update_client(container, client_id, body.model_dump(exclude_unset=True))
    return ClientOut.of(view)


@router.post("/clients/{client_id}/keys", status_code=201, response_model=KeyCreated)
async def rotate_key(
    client_id: Annotated[str, Path(max_length=40)],
    container: ContainerDep,
    body: Annotated[RotateIn | None, Body()] = None,
) -> KeyCreated:
    """Issue a new API key (shown once); older keys keep working for the grace period, then 401."""
    made = await client_service.rotate_key(container, client_id, body.grace_seconds if body else None)
    return KeyCreated(
        **KeyOut.of(made.key).model_dump(),
        api_key=made.api_key,
        previous_keys_expire_at=made.previous_keys_expire_at,
    )
