"""PayGov (the NAPAS national payment hub for public services)."""

from __future__ import annotations

from app.adapters.common.spec import ColumnMapping, GatewaySpec
from app.adapters.paygov import adapter, simulator

__all__ = ["SPEC"]

SPEC = GatewaySpec(  # mypy checks the adapter against the GatewayAdapter protocol here
    adapter.adapter,
    simulator.build_router,
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
