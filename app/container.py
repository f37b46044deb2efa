"""What one running app holds: settings, database, HTTP client, vault, metrics, clock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

import httpx

from app.config import Settings
from app.db import Database
from app.metrics import Metrics
from app.ratelimit import FailedAuthLimiter
from app.security import Vault

C = TypeVar("C")


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
    # Failed API keys, and failed operator tokens (API and dashboard login): separate brakes.
    auth_limiter: FailedAuthLimiter = field(default_factory=FailedAuthLimiter)
    # Work started by a request that outlives it (operator jobs); awaited or cancelled at shutdown.
    background: set[asyncio.Task[Any]] = field(default_factory=set)
    # In-process caches of this app, by name (never module globals): see :meth:`cache`.
    _caches: dict[str, object] = field(default_factory=dict, repr=False)

    def cache(self, name: str, make: Callable[[], C]) -> C:
        """The app's cache called ``name``, made by ``make`` on first use. The service that owns
        a cache names it and makes it (services/access/auth.py: API keys; services/catalogue/cache.py:
        catalogue rows; services/callbacks/fast.py: the IPN path's decrypted gateway accounts and
        per-client committers), so each app (and each test's app) has its own, dropped with it."""
        found = self._caches.get(name)
        if found is None:
            found = self._caches[name] = make()
        return cast(C, found)

    operator_limiter: FailedAuthLimiter = field(default_factory=FailedAuthLimiter)
