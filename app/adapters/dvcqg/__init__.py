"""The DVCQG payment platform (Cổng Dịch vụ công quốc gia), PhienBan 1.0.6."""

from __future__ import annotations

from app.adapters.base import GatewayAdapter
from app.adapters.common.reconciliation import ColumnMapping
from app.adapters.common.spec import GatewaySpec
from app.adapters.dvcqg import adapter as _impl
from app.adapters.dvcqg.adapter import lookup_ok, lookup_reply
from app.adapters.dvcqg.simulator import build_router

__all__ = ["SPEC", "lookup_ok", "lookup_reply"]

_adapter: GatewayAdapter = _impl.adapter  # mypy checks the adapter against the protocol here

SPEC = GatewaySpec(
    adapter=_adapter,
    simulator=build_router,
    reconciliation=ColumnMapping("SoTien", "MaThamChieu", "MaGiaoDich", "TrangThaiGD", frozenset({"1"})),
    display_name="Cổng Dịch vụ công quốc gia",
    receipt_name="Nền tảng thanh toán Cổng DVCQG",
    example_credentials={"partner_code": "H56DEMO", "secret": "dvcqg-shared-secret-0123456789"},
)
