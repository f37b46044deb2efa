"""The built-in sandbox gateway (ours): adapter and simulator."""

from __future__ import annotations

from app.adapters.common.spec import ColumnMapping, GatewaySpec
from app.adapters.sandbox import adapter, simulator
from app.adapters.sandbox.adapter import SandboxAdapter, sign

__all__ = ["SPEC", "SandboxAdapter", "sign"]

SPEC = GatewaySpec(  # mypy checks the adapter against the GatewayAdapter protocol here
    adapter.adapter,
    simulator.build_router,
    reconciliation=ColumnMapping("amount", "reference", "transaction_id", "status", frozenset({"success"})),
    display_name="Sandbox (thử nghiệm)",
    receipt_name="Cổng thử nghiệm (sandbox)",
)
