"""Data access per aggregate: the statements, built from the models and the transition
declarations (``app.domain.transitions``), run on PostgreSQL. No business rules here; services
hold the rules and call stores.

- :mod:`transitions` — compare-and-set statements for every declared transition, and the row
  locks that give every path that changes a payment and its attempts one lock order.
"""

from __future__ import annotations

import asyncpg

from app.db import Database


async def pool_of(db: Database) -> asyncpg.Pool:
    """The raw asyncpg pool (PostgreSQL is the only engine: there always is one)."""
    pool = await db.raw()
    if pool is None:
        raise RuntimeError("paybridge runs on PostgreSQL only")
    return pool
