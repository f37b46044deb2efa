"""PayGov (the NAPAS national payment hub for public services)."""

from __future__ import annotations

from app.adapters.base import GatewayAdapter
from app.adapters.common.reconciliation import ColumnMapping
from app.adapters.common.spec import GatewaySpec
from app.adapters.paygov import adapter as _impl
from app.adapters.paygov.simulator import build_router

__all__ = ["SPEC"]

_adapter: GatewayAdapter = _impl.adapter  # mypy checks the adapter against the protocol here

SPEC = GatewaySpec(
    adapter=_adapter,
    simulator=build_router,
    reconciliation=ColumnMapping("amount", "orderId", "transactionCode", "errorCode", frozenset({"00"})),
    display_name="PayGov (NAPAS)",
    receipt_name="PayGov (NAPAS)",
    example_credentials={
        "partner_code": "H56PG",
        "access_key": "pg-access-key",
        "secret_key": "pg-secret-key-0123456789",
        "service_code": "DVC",
    },
)
