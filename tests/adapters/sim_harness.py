"""Run one gateway simulator's router in a bare FastAPI app, for adapter tests.

- ``find_account`` is backed by a dict (:meth:`SimHarness.add_account`).
- The simulator's own outbound calls (IPNs) go to a capturing receiver at ``MERCHANT_ORIGIN``;
  each one is kept as an :class:`InboundRequest` and answered by ``reply`` (settable).
- ``harness.http`` is the client an adapter under test uses: it reaches the simulator at
  ``SIM_ORIGIN`` (and the receiver), and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI

from app.adapters.base import Account, InboundRequest, Reply
from app.adapters.common.simulation import SimulatorContext
from tests.support import Clock, RoutingTransport

SIM_ORIGIN = "http://gateway.test"
MERCHANT_ORIGIN = "http://merchant.test"

ReplyFn = Callable[[InboundRequest], httpx.Response]


def to_inbound(request: httpx.Request) -> InboundRequest:
    """An outbound httpx request as our callback route would receive it."""
    return InboundRequest(
        method=request.method,
        query_string=request.url.query.decode("ascii"),
        headers={k.lower(): v for k, v in request.headers.items()},
        body=request.content,
    )


def to_response(reply: Reply) -> httpx.Response:
    """An adapter's :class:`Reply` as the HTTP answer the gateway receives."""
    return httpx.Response(reply.status_code, content=reply.body, headers={"content-type": reply.media_type})


def make_account(
    provider: str,
    credentials: Mapping[str, str],
    settings: Mapping[str, Any],
    *,
    account_id: str = "acc-1",
) -> Account:
    return Account(
        id=account_id,
        credentials=dict(credentials),
        settings=dict(settings),
        callback_url=f"{MERCHANT_ORIGIN}/v1/callbacks/{provider}/{account_id}",
        return_url=f"{MERCHANT_ORIGIN}/v1/returns/{provider}/{account_id}",
    )


class SimHarness:
    def __init__(
        self,
        provider: str,
        build_router: Callable[[SimulatorContext], APIRouter],
        *,
        clock: Clock | None = None,
        reply: ReplyFn | None = None,
    ) -> None:
        self.provider = provider
        self.clock = clock or Clock(datetime(2026, 11, 21, 3, 0, 0, tzinfo=UTC))
        self.accounts: dict[tuple[str, str], Account] = {}
        self.callbacks: list[InboundRequest] = []
        self.reply: ReplyFn = reply or (lambda inbound: httpx.Response(200))
        self.transport = RoutingTransport()
        self.http = httpx.AsyncClient(transport=self.transport, timeout=5.0)
        self.ctx = SimulatorContext(
            http=lambda: self.http,
            find_account=self._find,
            clock=self.clock,
            base_url=f"{SIM_ORIGIN}/sandbox",
        )
        app = FastAPI()
        app.include_router(build_router(self.ctx), prefix=f"/sandbox/{provider}")
        self.app = app
        self.transport.mount(SIM_ORIGIN, httpx.ASGITransport(app=app))
        self.transport.handle(MERCHANT_ORIGIN, self._receive)

    @property
    def base_url(self) -> str:
        """Where this simulator is mounted: pass it to ``adapter.default_settings``."""
        return self.ctx.url(self.provider)

    @property
    def store(self) -> dict[str, Any]:
        return self.ctx.store(self.provider)

    def add_account(self, field: str, account: Account) -> Account:
        self.accounts[(field, account.credentials[field])] = account
        return account

    async def _find(self, provider: str, field: str, value: str) -> Account | None:
        if provider != self.provider:
            return None
        return self.accounts.get((field, value))

    def _receive(self, request: httpx.Request) -> httpx.Response:
        inbound = to_inbound(request)
        self.callbacks.append(inbound)
        return self.reply(inbound)

    async def aclose(self) -> None:
        await self.http.aclose()
