"""What a simulator gets from its host, and the registry of simulators."""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from fastapi import APIRouter

from app.adapters.base import Account

# (provider, credential field, value) → the merchant account holding that credential, if any.
# The real gateway knows its merchants' secrets and IPN addresses; the simulator asks this.
FindAccount = Callable[[str, str, str], Awaitable[Account | None]]


@dataclass
class SimulatorContext:
    http: Callable[[], httpx.AsyncClient]  # for the simulator's own calls (callbacks to us)
    find_account: FindAccount
    clock: Callable[[], datetime]
    base_url: str  # where the simulators are mounted, e.g. http://127.0.0.1:8000/sandbox
    # In-memory state of each simulator (its orders, transactions, refunds), by provider.
    state: dict[str, dict[str, Any]] = field(default_factory=dict)

    def store(self, provider: str) -> dict[str, Any]:
        return self.state.setdefault(provider, {})

    def url(self, provider: str) -> str:
        return f"{self.base_url}/{provider}"


# provider → "module:function" building its router; mounted at /sandbox/{provider}.
_SIMULATORS: dict[str, str] = {
    "sandbox": "app.simulators.sandbox:build_router",
    "vnpay": "app.simulators.vnpay:build_router",
    "momo": "app.simulators.momo:build_router",
    "zalopay": "app.simulators.zalopay:build_router",
    "onepay": "app.simulators.onepay:build_router",
    "dvcqg": "app.simulators.dvcqg:build_router",
    "paygov": "app.simulators.paygov:build_router",
    "vietqr": "app.simulators.vietqr:build_router",
}

SIMULATED_PROVIDERS: tuple[str, ...] = tuple(_SIMULATORS)


def build_simulator(provider: str, ctx: SimulatorContext) -> APIRouter:
    module_name, attr = _SIMULATORS[provider].split(":")
    builder: Callable[[SimulatorContext], APIRouter] = getattr(importlib.import_module(module_name), attr)
    return builder(ctx)
