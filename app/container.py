"""What one running app holds: settings, database, HTTP client, vault, metrics, clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from app.config import Settings
from app.db import Database
from app.metrics import Metrics
from app.ratelimit import FailedAuthLimiter
from app.security import Vault


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Container:
    settings: Settings
    db: Database
    http: httpx.AsyncClient
    vault: Vault
    metrics: Metrics
    clock: Callable[[], datetime] = field(default=system_clock)
    # The migration head this code expects (readyz compares the database to it).
    expected_revision: str | None = None
    auth_limiter: FailedAuthLimiter = field(default_factory=FailedAuthLimiter)
    # In-process caches of the services, by name (they live and die with this app, never in
    # module globals): e.g. the IPN path's decrypted gateway accounts and per-client committers.
    caches: dict[str, Any] = field(default_factory=dict)
