"""VNPay (vnp_Version 2.1.0)."""

from __future__ import annotations

from app.adapters.common.spec import ColumnMapping, GatewaySpec
from app.adapters.vnpay import adapter, simulator
from app.adapters.vnpay.adapter import signed_query

__all__ = ["SPEC", "signed_query"]

SPEC = GatewaySpec(  # mypy checks the adapter against the GatewayAdapter protocol here
    adapter.adapter,
    simulator.build_router,
    reconciliation=ColumnMapping(
        "vnp_Amount", "vnp_TxnRef", "vnp_TransactionNo", "vnp_TransactionStatus", frozenset({"00"}), 100
    ),
    display_name="VNPAY",
    receipt_name="VNPay",
    example_credentials={"tmn_code": "TESTTMN1", "hash_secret": "SECRETKEYFORTESTVECTORS000000001"},
)
