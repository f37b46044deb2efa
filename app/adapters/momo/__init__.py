"""MoMo (payment API v2)."""

from __future__ import annotations

from app.adapters.common.spec import ColumnMapping, GatewaySpec
from app.adapters.momo import adapter, simulator

__all__ = ["SPEC"]

SPEC = GatewaySpec(  # mypy checks the adapter against the GatewayAdapter protocol here
    adapter.adapter,
    simulator.build_router,
    reconciliation=ColumnMapping("amount", "orderId", "transId", "resultCode", frozenset({"0"})),
    display_name="Ví MoMo",
    receipt_name="Ví MoMo",
    example_credentials={
        "partner_code": "MOMOTEST",
        "access_key": "F8BBA842ECF85",
        "secret_key": "K951B6PE1waDMi640xX08PD3vg6EkVlz",
    },
)
