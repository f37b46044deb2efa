"""OnePay (vpc_, domestic and international)."""

from __future__ import annotations

from app.adapters.common.spec import ColumnMapping, GatewaySpec
from app.adapters.onepay import adapter, simulator

__all__ = ["SPEC"]

SPEC = GatewaySpec(  # mypy checks the adapter against the GatewayAdapter protocol here
    adapter.adapter,
    simulator.build_router,
    reconciliation=ColumnMapping(
        "vpc_Amount", "vpc_MerchTxnRef", "vpc_TransactionNo", "vpc_TxnResponseCode", frozenset({"0"}), 100
    ),
    display_name="OnePay",
    receipt_name="OnePay",
    example_credentials={
        "merchant": "TESTONEPAY",
        "access_code": "6BEB2546",
        "hash_secret": "A3EFDFABA8653DF2342E8DAC29B51AF0",
    },
)
