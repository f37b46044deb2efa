"""ZaloPay (API v2)."""

from __future__ import annotations

from app.adapters.common.spec import ColumnMapping, GatewaySpec
from app.adapters.zalopay import adapter, simulator

__all__ = ["SPEC"]

SPEC = GatewaySpec(  # mypy checks the adapter against the GatewayAdapter protocol here
    adapter.adapter,
    simulator.build_router,
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
