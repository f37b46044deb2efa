"""Run one gateway simulator router in a bare FastAPI app, for the MoMo and ZaloPay tests.

- the simulator is mounted at ``http://sim.test/sandbox/{provider}`` (as in sandbox mode);
- ``find_account`` is a dict: (provider, credential field, value) → Account;
- ``http://merchant.test`` is a capturing receiver: every callback is kept, and answered by
  ``responder`` (by default: the adapter's own parse_callback + acknowledge, like the real pipeline).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from fastapi import FastAPI

from app.adapters.base import (
    Account,
    AckVerdict,
    CheckoutRequest,
    GatewayAdapter,
    InboundRequest,
    LineItem,
    Payer,
)
from app.adapters.common.simulation import SimulatorContext
from app.adapters.registry import get_spec
from tests.support import Clock, RoutingTransport

SIM_ORIGIN = "http://sim.test"
MERCHANT_ORIGIN = "http://merchant.test"
SIM_BASE = f"{SIM_ORIGIN}/sandbox"


def make_account(adapter: GatewayAdapter, credentials: dict[str, str], **settings: Any) -> Account:
    """An account whose endpoint is the simulator and whose callback/return go to merchant.test."""
    merged = {**adapter.default_settings(f"{SIM_BASE}/{adapter.name}"), **settings}
    creds, normalised = adapter.validate_account(credentials, merged)
    return Account(
        id="acc-1",
        credentials=creds,
        settings=normalised,
        callback_url=f"{MERCHANT_ORIGIN}/v1/callbacks/{adapter.name}/acc-1",
        return_url=f"{MERCHANT_ORIGIN}/v1/returns/{adapter.name}/acc-1",
    )


def checkout_request(
    reference: str = "PB7K2M9Q4X1Z8C3V",
    amount: int = 50_000,
    created_at: datetime | None = None,
    description: str = "Lệ phí hộ tịch — cấp bản sao trích lục",
) -> CheckoutRequest:
    created = created_at or datetime(2026, 11, 21, 3, 0, tzinfo=UTC)
    return CheckoutRequest(
        reference=reference,
        payment_id="pay-1",
        amount=amount,
        description=description,
        created_at=created,
        expires_at=created.replace(hour=(created.hour + 1) % 24),
        client_ip="203.0.113.7",
        locale="vi",
        payer=Payer(name="Nguyễn Văn A", id_number="001099000001"),
        items=[LineItem("2771", "Lệ phí hộ tịch", "le_phi", amount)],
        agency_code="000.00.31.H56",
        agency_name="Sở Tư pháp",
        dossier_code="000.00.31.H56-261121-0001",
    )


def inbound(request: httpx.Request) -> InboundRequest:
    """An outbound httpx request as the callback route would receive it."""
    return InboundRequest(
        method=request.method,
        query_string=request.url.query.decode(),
        headers={k.lower(): v for k, v in request.headers.items()},
        body=request.content,
    )


def browser_return(location: str) -> InboundRequest:
    return InboundRequest(method="GET", query_string=urlsplit(location).query, headers={}, body=b"")


class SimHarness:
    """One simulator, a dict of merchant accounts, a clock and a capturing callback receiver."""

    def __init__(
        self, provider: str, adapter: GatewayAdapter, account: Account, lookup: str, clock: Clock
    ) -> None:
        self.adapter = adapter
        self.account = account
        self.accounts: dict[tuple[str, str, str], Account] = {
            (provider, lookup, account.credentials[lookup]): account
        }
        self.received: list[httpx.Request] = []
        self.verdict = AckVerdict.accepted
        self.responder: Callable[[httpx.Request], httpx.Response] = self._acknowledge
        self.transport = RoutingTransport()
        self.client = httpx.AsyncClient(transport=self.transport)
        self.ctx = SimulatorContext(
            http=lambda: self.client, find_account=self._find, clock=clock, base_url=SIM_BASE
        )
        app = FastAPI()
        app.include_router(get_spec(provider).simulator(self.ctx), prefix=f"/sandbox/{provider}")
        self.transport.mount(SIM_ORIGIN, httpx.ASGITransport(app=app))
        self.transport.handle(MERCHANT_ORIGIN, self._receive)

    async def _find(self, provider: str, field: str, value: str) -> Account | None:
        return self.accounts.get((provider, field, value))

    def _receive(self, request: httpx.Request) -> httpx.Response:
        self.received.append(request)
        return self.responder(request)

    def _acknowledge(self, request: httpx.Request) -> httpx.Response:
        note = self.adapter.parse_callback(self.account, inbound(request))
        verdict = self.verdict if note.verified else AckVerdict.invalid_signature
        reply = self.adapter.acknowledge(self.account, note, verdict)
        return httpx.Response(
            reply.status_code, content=reply.body, headers={"content-type": reply.media_type}
        )

    async def aclose(self) -> None:
        await self.client.aclose()
