"""What a gateway's simulator gets from its host (mounted under /sandbox/{provider})."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

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
