"""VNPay (vnp_Version 2.1.0)."""

from __future__ import annotations

from app.adapters.base import GatewayAdapter
from app.adapters.common.reconciliation import ColumnMapping
from app.adapters.common.spec import GatewaySpec
from app.adapters.vnpay import adapter as _impl
from app.adapters.vnpay.adapter import signed_query
from app.adapters.vnpay.simulator import build_router

__all__ = ["SPEC", "signed_query"]

_adapter: GatewayAdapter = _impl.adapter  # mypy checks the adapter against the protocol here

SPEC = GatewaySpec(
    adapter=_adapter,
    simulator=build_router,
    reconciliation=ColumnMapping(
        "vnp_Amount", "vnp_TxnRef", "vnp_TransactionNo", "vnp_TransactionStatus", frozenset({"00"}), 100
    ),
    display_name="VNPAY",
    receipt_name="VNPay",
    example_credentials={"tmn_code": "TESTTMN1", "hash_secret": "SECRETKEYFORTESTVECTORS000000001"},
)
