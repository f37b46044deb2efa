"""The schema's own bookkeeping: which Alembic revision the database is at."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


async def revisions(session: AsyncSession) -> list[str]:
    """The revision(s) in ``alembic_version`` (fails when the table is missing)."""
    rows = (await session.execute(text("SELECT version_num FROM alembic_version"))).all()
    return [row[0] for row in rows]
