"""Run one national-platform simulator (DVCQG, PayGov, VietQR) in a bare FastAPI app.

No database: accounts live in a dict (``find_account`` searches their credentials), and the
merchant side is a capturing receiver that answers callbacks with the adapter's own
``parse_callback`` + ``acknowledge``, as the real callback route would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from app.adapters.base import (
    Account,
    AckVerdict,
    CheckoutRequest,
    GatewayAdapter,
    InboundRequest,
    LineItem,
    Notification,
    Payer,
)
from app.adapters.common.simulation import SimulatorContext
from app.adapters.registry import get_spec
from tests.support import Clock, RoutingTransport

GATEWAY = "http://gateway.test"
SIM_BASE = f"{GATEWAY}/sandbox"
MERCHANT = "http://merchant.test"


@dataclass
class Captured:
    path: str
    request: InboundRequest
    notification: Notification | None = None


@dataclass
class NationalHarness:
    provider: str
    adapter: GatewayAdapter
    clock: Clock
    accounts: dict[str, Account] = field(default_factory=dict)
    callbacks: list[Captured] = field(default_factory=list)
    returns: list[Captured] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.transport = RoutingTransport()
        self.http = httpx.AsyncClient(transport=self.transport)
        self.ctx = SimulatorContext(
            http=lambda: self.http, find_account=self.find_account, clock=self.clock, base_url=SIM_BASE
        )
        app = FastAPI()
        app.include_router(get_spec(self.provider).simulator(self.ctx), prefix=f"/sandbox/{self.provider}")
        self.transport.mount(GATEWAY, httpx.ASGITransport(app=app))
        self.transport.handle(MERCHANT, self._receive)

    def add_account(
        self, credentials: dict[str, Any], settings: dict[str, Any] | None = None, account_id: str = "acc_1"
    ) -> Account:
        merged = {**self.adapter.default_settings(f"{SIM_BASE}/{self.provider}"), **(settings or {})}
        creds, checked = self.adapter.validate_account(credentials, merged)
        account = Account(
            id=account_id,
            credentials=creds,
            settings=checked,
            callback_url=f"{MERCHANT}/v1/callbacks/{self.provider}/{account_id}",
            return_url=f"{MERCHANT}/v1/returns/{self.provider}/{account_id}",
        )
        self.accounts[account_id] = account
        return account

    async def find_account(self, provider: str, name: str, value: str) -> Account | None:
        if provider != self.provider:
            return None
        return next((a for a in self.accounts.values() if a.credentials.get(name) == value), None)

    async def _receive(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        inbound = InboundRequest(
            method=request.method,
            query_string=request.url.query.decode(),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=request.content,
        )
        account = self.accounts.get(path.rsplit("/", 1)[-1])
        if account is None:
            return httpx.Response(404)
        if path.startswith("/v1/returns/"):
            self.returns.append(Captured(path, inbound))
            return httpx.Response(200, text="ok")
        notification = self.adapter.parse_callback(account, inbound)
        self.callbacks.append(Captured(path, inbound, notification))
        verdict = AckVerdict.accepted if notification.verified else AckVerdict.invalid_signature
        reply = self.adapter.acknowledge(account, notification, verdict)
        return httpx.Response(
            reply.status_code, content=reply.body, headers={"content-type": reply.media_type}
        )

    async def aclose(self) -> None:
        await self.http.aclose()


def checkout_request(
    reference: str = "PB01KAB3CDEFGH23",
    *,
    created_at: datetime,
    items: list[LineItem] | None = None,
    description: str = "Lệ phí cấp bản sao trích lục hộ tịch",
    **overrides: Any,
) -> CheckoutRequest:
    """A realistic request: two line items (a phí and a lệ phí) adding up to the amount."""
    items = items or [
        LineItem("LP-HT-01", "Lệ phí hộ tịch", "le_phi", 8_000),
        LineItem("P-SAO-01", "Phí cấp bản sao", "phi", 42_000, "Phí sao y 3 bản"),
    ]
    values: dict[str, Any] = {
        "reference": reference,
        "payment_id": "pay_01TEST",
        "amount": sum(item.amount for item in items),
        "description": description,
        "created_at": created_at,
        "expires_at": created_at + timedelta(minutes=15),
        "client_ip": "203.0.113.7",
        "locale": "vi",
        "payer": Payer("Nguyễn Văn Ân", id_number="001099012345", address="12 Đường Láng, Hà Nội"),
        "items": items,
        "agency_code": "000.00.19.H26",
        "agency_name": "UBND phường Láng",
        "dossier_code": "000.00.19.H26-261121-0001",
        "procedure_code": "1.001193",
    }
    values.update(overrides)
    return CheckoutRequest(**values)
