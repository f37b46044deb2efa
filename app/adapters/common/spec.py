"""One typed description of a gateway: everything the rest of paybridge needs to know about it.

A gateway package (``app/adapters/<name>/``) builds one :class:`GatewaySpec` in its
``__init__``; ``app/adapters/registry.py`` lists the specs, in the order the checkout page shows
them. Nothing else in the code names gateways: the providers list, receipts, reconciliation
files, the simulators' mounting and the end-to-end tests all read the registry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from fastapi import APIRouter

from app.adapters.base import GatewayAdapter
from app.adapters.common.reconciliation import ColumnMapping

__all__ = ["ColumnMapping", "GatewaySpec", "SimulatorBuilder"]
from app.adapters.common.simulation import SimulatorContext

SimulatorBuilder = Callable[[SimulatorContext], APIRouter]


@dataclass(frozen=True)
class GatewaySpec:
    """A gateway: its adapter, its simulator, its file layout and its names."""

    adapter: GatewayAdapter  # checked against the protocol by mypy where each spec is built
    simulator: SimulatorBuilder  # the gateway's side, mounted under /sandbox/<name>
    reconciliation: ColumnMapping  # the built-in layout of its transaction file
    display_name: str  # shown to clients and on the checkout page
    receipt_name: str  # "Thanh toán trực tuyến qua <receipt_name>" on the e-receipt
    # Credentials its simulator accepts (the public test values of its documents or samples):
    # sandbox mode's examples and the end-to-end tests use them.
    example_credentials: Mapping[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.adapter.name
