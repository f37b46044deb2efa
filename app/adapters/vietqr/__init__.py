"""VietQR (NAPAS 247 bank transfer, EMVCo QR)."""

from __future__ import annotations

from app.adapters.common.spec import ColumnMapping, GatewaySpec
from app.adapters.vietqr import adapter, simulator

__all__ = ["SPEC"]

SPEC = GatewaySpec(  # mypy checks the adapter against the GatewayAdapter protocol here
    adapter.adapter,
    simulator.build_router,
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
