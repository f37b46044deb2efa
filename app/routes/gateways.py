"""Gateway accounts (operator) and the gateways usable for an agency (client)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from app.deps import AdminDep, ContainerDep, CurrentClient
from app.routes.docs import AUTH_PROBLEMS, problems
from app.schemas.gateways import ProviderAccountCreate, ProviderAccountOut, ProviderOut
from app.services.catalogue import gateway_accounts as service
from app.services.payments.providers import usable_providers

admin_router = APIRouter(prefix="/admin/v1/provider-accounts", tags=["admin"], dependencies=[AdminDep])
client_router = APIRouter(prefix="/v1/providers", tags=["catalogue"])


@admin_router.post(
    "",
    status_code=201,
    response_model=ProviderAccountOut,
    summary="Create a gateway account",
    responses=problems(
        {401: "`unauthorized`", 422: "`validation_error`: unknown provider, agency or bad credentials"}
    ),
)
async def create_provider_account(body: ProviderAccountCreate, container: ContainerDep) -> Any:
    """Attach a merchant account at a gateway to an agency (credentials encrypted, never returned)."""
    return await service.create_account(
        container,
        agency_code=body.agency_code,
        provider=body.provider,
        credentials=body.credentials,
        settings=body.settings,
    )


@admin_router.get("", response_model=dict[str, list[ProviderAccountOut]], summary="List gateway accounts")
async def list_provider_accounts(container: ContainerDep, agency_code: str | None = None) -> Any:
    """Gateway accounts, optionally of one agency (without credentials)."""
    return {"data": await service.list_accounts(container, agency_code)}


@client_router.get(
    "",
    response_model=dict[str, list[ProviderOut]],
    summary="Gateways usable for an agency",
    responses=problems({**AUTH_PROBLEMS, 404: "`not_found`: no such agency among yours"}),
)
async def list_providers(agency_code: str, principal: CurrentClient, container: ContainerDep) -> Any:
    """The gateways with an account at this agency or above it."""
    return {"data": await usable_providers(container, principal, agency_code)}
