"""ZaloPay (API v2)."""

from __future__ import annotations

from app.adapters.base import GatewayAdapter
from app.adapters.common.reconciliation import ColumnMapping
from app.adapters.common.spec import GatewaySpec
from app.adapters.zalopay import adapter as _impl
from app.adapters.zalopay.simulator import build_router

__all__ = ["SPEC"]

_adapter: GatewayAdapter = _impl.adapter  # mypy checks the adapter against the protocol here

SPEC = GatewaySpec(
    adapter=_adapter,
    simulator=build_router,
    reconciliation=ColumnMapping(
        "amount",
        "app_trans_id",
        "zp_trans_id",
        "status",
        frozenset({"1"}),
        reference_pattern=r"^\d{6}_(\w+)$",
    ),
    display_name="ZaloPay",
    receipt_name="ZaloPay",
    example_credentials={
        "app_id": "2553",
        "key1": "PcY4iZIKFCIdgZvA6ueMcMHHUbRLYjPL",
        "key2": "kLtgPl8HHhfvMuDHPwKfgfsY4Ydm9eIz",
    },
)
