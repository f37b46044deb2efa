"""VietQR (NAPAS 247 bank transfer, EMVCo QR)."""

from __future__ import annotations

from app.adapters.base import GatewayAdapter
from app.adapters.common.reconciliation import ColumnMapping
from app.adapters.common.spec import GatewaySpec
from app.adapters.vietqr import adapter as _impl
from app.adapters.vietqr.simulator import build_router

__all__ = ["SPEC"]

_adapter: GatewayAdapter = _impl.adapter  # mypy checks the adapter against the protocol here

SPEC = GatewaySpec(
    adapter=_adapter,
    simulator=build_router,
    reconciliation=ColumnMapping(
        "amount", "description", "bank_transaction_id", reference_pattern=r"(PB[0-9A-Z]{14})"
    ),
    display_name="VietQR (chuyển khoản NAPAS 247)",
    receipt_name="Chuyển khoản VietQR",
    example_credentials={
        "bank_bin": "970436",
        "account_number": "0011001234567",
        "account_name": "KHO BAC DEMO",
        "notify_secret": "n0tify-secret-0123456789",
    },
)
