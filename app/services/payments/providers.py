"""Which gateways an agency can use, for clients and the hosted checkout page."""

from __future__ import annotations

from typing import Any

from app.adapters.registry import display_rank, get_spec
from app.container import Container
from app.errors import NotFound
from app.services.access.auth import Principal
from app.services.catalogue.gateway_accounts import adapter_for, nearest_accounts
from app.stores import agencies


def describe(provider: str) -> dict[str, Any]:
    adapter = adapter_for(provider)
    return {
        "provider": provider,
        "display_name": get_spec(provider).display_name,
        "min_amount": adapter.min_amount,
        "max_amount": adapter.max_amount,
        "capabilities": sorted(c.value for c in adapter.capabilities),
    }


async def providers_for_path(container: Container, agency_path: str) -> list[str]:
    async with container.db.session() as session:
        accounts = await nearest_accounts(session, agency_path)
    return sorted(accounts, key=display_rank)  # the registry's order: national platforms first


async def usable_providers(
    container: Container, principal: Principal, agency_code: str
) -> list[dict[str, Any]]:
    async with container.db.session() as session:
        path = await agencies.path_of(session, agency_code)
    if path is None or not principal.covers(path):
        raise NotFound("No such agency among yours.")
    return [describe(p) for p in await providers_for_path(container, path)]
