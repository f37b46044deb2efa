"""The DVCQG payment platform (Cổng Dịch vụ công quốc gia), PhienBan 1.0.6."""

from __future__ import annotations

from app.adapters.common.spec import ColumnMapping, GatewaySpec
from app.adapters.dvcqg import adapter, simulator
from app.adapters.dvcqg.adapter import lookup_ok, lookup_reply

__all__ = ["SPEC", "lookup_ok", "lookup_reply"]

SPEC = GatewaySpec(  # mypy checks the adapter against the GatewayAdapter protocol here
    adapter.adapter,
    simulator.build_router,
    reconciliation=ColumnMapping("SoTien", "MaThamChieu", "MaGiaoDich", "TrangThaiGD", frozenset({"1"})),
    display_name="Cổng Dịch vụ công quốc gia",
    receipt_name="Nền tảng thanh toán Cổng DVCQG",
    example_credentials={"partner_code": "H56DEMO", "secret": "dvcqg-shared-secret-0123456789"},
)
