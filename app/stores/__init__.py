"""Data access per aggregate: the statements, built from the models and the transition
declarations (``app.domain.transitions``), run on PostgreSQL. No business rules here; services
hold the rules and call stores.

- :mod:`transitions` — compare-and-set statements for every declared transition, and the row
  locks that give every path that changes a payment and its attempts one lock order.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg

from app.db import Database

log = logging.getLogger("paybridge.stores")
T = TypeVar("T")


async def pool_of(db: Database) -> asyncpg.Pool:
    """The raw asyncpg pool of ``db`` (created on first use)."""
    return await db.raw()


# Deadlock detected, serialization failure: the transaction was rolled back as a whole and may
# simply run again.
TRANSIENT_SQLSTATES = frozenset({"40P01", "40001"})
RETRIES = 5


def is_transient(exc: BaseException) -> bool:
    """A database error after which the whole transaction can safely run again (asyncpg's own
    exceptions, or SQLAlchemy's wrapping of them)."""
    for candidate in (exc, getattr(exc, "orig", None)):
        if getattr(candidate, "sqlstate", None) in TRANSIENT_SQLSTATES:
            return True
    return False


async def retry_transient(run: Callable[[], Awaitable[T]]) -> T:
    """Run ``run`` (one whole transaction), again after a deadlock or serialization failure, at
    most :data:`RETRIES` times. Every transition is a compare-and-set, so a rerun is harmless."""
    for attempt in range(RETRIES):
        try:
            return await run()
        except Exception as exc:
            if attempt == RETRIES - 1 or not is_transient(exc):
                raise
            log.info("transaction retried", extra={"error": type(exc).__name__, "attempt": attempt + 1})
            await asyncio.sleep(random.uniform(0.001, 0.01) * (attempt + 1))
    raise AssertionError("unreachable")
