"""Mount every gateway simulator under /sandbox/{provider} (only with PAYBRIDGE_SANDBOX=true)."""

from __future__ import annotations

from datetime import datetime

import httpx
from fastapi import FastAPI

from app.adapters.base import Account
from app.adapters.common.simulation import SimulatorContext
from app.adapters.registry import SPECS
from app.services.catalogue.gateway_accounts import find_account_by_credential


def mount_simulators(app: FastAPI, public_base_url: str) -> SimulatorContext:
    def http() -> httpx.AsyncClient:
        client: httpx.AsyncClient = app.state.container.http
        return client

    async def find_account(provider: str, field: str, value: str) -> Account | None:
        return await find_account_by_credential(app.state.container, provider, field, value)

    def clock() -> datetime:
        now: datetime = app.state.container.clock()
        return now

    ctx = SimulatorContext(
        http=http,
        find_account=find_account,
        clock=clock,
        base_url=f"{public_base_url}/sandbox",
    )
    for spec in SPECS:
        router = spec.simulator(ctx)
        app.include_router(router, prefix=f"/sandbox/{spec.name}", tags=["sandbox"], include_in_schema=False)
    return ctx
