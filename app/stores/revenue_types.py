"""Revenue-type codes (versioned validity periods): the statements (the rules — what a period may
be, which write supersedes which, the version numbers — are in ``app.services.catalogue.catalog``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import RevenueType


def _covers(on: date) -> ColumnElement[bool]:
    return and_(RevenueType.valid_from <= on, or_(RevenueType.valid_to.is_(None), RevenueType.valid_to >= on))


async def in_force(session: AsyncSession, codes: Collection[str], on: date) -> Sequence[RevenueType]:
    """The current periods of these codes whose validity covers ``on``."""
    stmt = select(RevenueType).where(
        RevenueType.code.in_(set(codes)), RevenueType.is_current.is_(True), _covers(on)
    )
    return (await session.scalars(stmt)).all()


async def exists(session: AsyncSession, code: str) -> bool:
    """Whether any version of ``code`` was ever written."""
    found = await session.scalar(select(RevenueType.id).where(RevenueType.code == code).limit(1))
    return found is not None


async def history(session: AsyncSession, code: str) -> list[RevenueType]:
    """Every version of ``code`` ever written, oldest first."""
    rows = await session.scalars(
        select(RevenueType).where(RevenueType.code == code).order_by(RevenueType.version)
    )
    return list(rows.all())


async def max_versions(session: AsyncSession, codes: Collection[str]) -> dict[str, int]:
    """The highest version written of each of these codes (codes never written absent)."""
    rows = await session.execute(
        select(RevenueType.code, func.max(RevenueType.version))
        .where(RevenueType.code.in_(codes))
        .group_by(RevenueType.code)
    )
    return {code: int(version) for code, version in rows}


async def current(session: AsyncSession, codes: Collection[str]) -> Sequence[RevenueType]:
    """The current periods of these codes."""
    stmt = select(RevenueType).where(RevenueType.code.in_(codes), RevenueType.is_current.is_(True))
    return (await session.scalars(stmt)).all()


async def write_versions(
    session: AsyncSession, retired: Sequence[RevenueType], new: Sequence[dict[str, Any]]
) -> list[RevenueType]:
    """Mark ``retired`` periods no longer current and add the ``new`` versions, in one flush."""
    for row in retired:
        row.is_current = False
    rows = [RevenueType(**values) for values in new]
    session.add_all(rows)
    await session.flush()
    return rows


async def page(
    session: AsyncSession,
    *,
    words: Sequence[str],
    kind: str | None,
    active_on: date | None,
    after: tuple[str, date] | None,
    limit: int,
) -> list[RevenueType]:
    """Up to ``limit`` current periods by (code, valid_from) after ``after``: whose search text
    contains every one of ``words`` (already folded), of ``kind``, valid on ``active_on``."""
    stmt = select(RevenueType).where(RevenueType.is_current.is_(True))
    for word in words:
        stmt = stmt.where(RevenueType.search_text.contains(word, autoescape=True))
    if kind is not None:
        stmt = stmt.where(RevenueType.kind == kind)
    if active_on is not None:
        stmt = stmt.where(_covers(active_on))
    if after is not None:
        after_code, after_from = after
        stmt = stmt.where(
            or_(
                RevenueType.code > after_code,
                and_(RevenueType.code == after_code, RevenueType.valid_from > after_from),
            )
        )
    stmt = stmt.order_by(RevenueType.code, RevenueType.valid_from).limit(limit)
    return list((await session.scalars(stmt)).all())
