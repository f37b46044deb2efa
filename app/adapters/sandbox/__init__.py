"""The built-in sandbox gateway (ours): adapter and simulator."""

from __future__ import annotations

from app.adapters.base import GatewayAdapter
from app.adapters.common.reconciliation import ColumnMapping
from app.adapters.common.spec import GatewaySpec
from app.adapters.sandbox import adapter as _impl
from app.adapters.sandbox.adapter import SandboxAdapter, sign
from app.adapters.sandbox.simulator import build_router

__all__ = ["SPEC", "SandboxAdapter", "sign"]

_adapter: GatewayAdapter = _impl.adapter  # mypy checks the adapter against the protocol here

SPEC = GatewaySpec(
    adapter=_adapter,
    simulator=build_router,
    reconciliation=ColumnMapping("amount", "reference", "transaction_id", "status", frozenset({"success"})),
    display_name="Sandbox (thử nghiệm)",
    receipt_name="Cổng thử nghiệm (sandbox)",
)
