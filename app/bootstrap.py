"""Build a :class:`Container` from settings (the app's lifespan, the worker and the CLI share it)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

import httpx

from app import __version__
from app.config import Settings
from app.container import Container, system_clock
from app.db import Database
from app.metrics import Metrics
from app.migrate import head_revision
from app.security import Vault


def default_http(settings: Settings) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(settings.gateway_timeout_seconds, connect=5.0),
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        follow_redirects=False,
        headers={"User-Agent": f"paybridge/{__version__}"},
    )


def make_container(
    settings: Settings,
    *,
    http: httpx.AsyncClient | None = None,
    metrics: Metrics | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Container:
    return Container(
        settings=settings,
        db=Database(settings.database_url, pool_size=settings.db_pool_size),
        http=http or default_http(settings),
        vault=Vault(settings.fernet_keys()),
        metrics=metrics or Metrics(),
        clock=clock or system_clock,
        expected_revision=head_revision(),
    )


async def close_container(container: Container, *, grace_seconds: float = 10.0) -> None:
    """Let background work started by requests (jobs) finish for a moment, then stop it: a job
    stopped here is taken over by a worker once its lease ends, and starts again from the top."""
    pending = set(container.background)
    if pending:
        _, unfinished = await asyncio.wait(pending, timeout=grace_seconds)
        for task in unfinished:
            task.cancel()
        await asyncio.gather(*unfinished, return_exceptions=True)
    await container.http.aclose()
    await container.db.dispose()
