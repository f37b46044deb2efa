"""OnePay (vpc_, domestic and international)."""

from __future__ import annotations

from app.adapters.base import GatewayAdapter
from app.adapters.common.reconciliation import ColumnMapping
from app.adapters.common.spec import GatewaySpec
from app.adapters.onepay import adapter as _impl
from app.adapters.onepay.simulator import build_router

__all__ = ["SPEC"]

_adapter: GatewayAdapter = _impl.adapter  # mypy checks the adapter against the protocol here

SPEC = GatewaySpec(
    adapter=_adapter,
    simulator=build_router,
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
