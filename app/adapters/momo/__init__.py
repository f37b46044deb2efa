"""MoMo (payment API v2)."""

from __future__ import annotations

from app.adapters.base import GatewayAdapter
from app.adapters.common.reconciliation import ColumnMapping
from app.adapters.common.spec import GatewaySpec
from app.adapters.momo import adapter as _impl
from app.adapters.momo.simulator import build_router

__all__ = ["SPEC"]

_adapter: GatewayAdapter = _impl.adapter  # mypy checks the adapter against the protocol here

SPEC = GatewaySpec(
    adapter=_adapter,
    simulator=build_router,
    reconciliation=ColumnMapping("amount", "orderId", "transId", "resultCode", frozenset({"0"})),
    display_name="Ví MoMo",
    receipt_name="Ví MoMo",
    example_credentials={
        "partner_code": "MOMOTEST",
        "access_key": "F8BBA842ECF85",
        "secret_key": "K951B6PE1waDMi640xX08PD3vg6EkVlz",
    },
)
