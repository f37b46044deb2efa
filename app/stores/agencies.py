"""Agencies and their online-payment-rate targets: the statements (the rules — valid codes, where
a node may move, which target applies — are in ``app.services.catalogue.agencies``).

The tree is stored with a materialised path (``/ROOT/…/CODE/``): a subtree is one prefix match on
``path``, and moving a node re-paths its subtree in one UPDATE.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Row, String, func, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Agency, AgencyTarget


def path_codes(path: str) -> list[str]:
    """``/A/B/C/`` → ``["A", "B", "C"]`` (root first)."""
    return [part for part in path.split("/") if part]


def in_subtrees(paths: Sequence[str]) -> ColumnElement[bool]:
    """Agencies at or below any of these paths."""
    return or_(*(Agency.path.startswith(p, autoescape=True) for p in paths))


# ---------------------------------------------------------------------------- reads


async def by_code(session: AsyncSession, code: str) -> Agency | None:
    """The agency with this national identifier code, or None."""
    result: Agency | None = await session.scalar(select(Agency).where(Agency.code == code))
    return result


async def by_id(session: AsyncSession, agency_id: int) -> Agency | None:
    return await session.get(Agency, agency_id)


async def path_of(session: AsyncSession, code: str) -> str | None:
    """The path of the agency with this code, or None."""
    path: str | None = await session.scalar(select(Agency.path).where(Agency.code == code))
    return path


async def ancestors(session: AsyncSession, agency: Agency) -> list[Agency]:
    """The agency itself first, then its parent, and so on up to the root (from ``path``)."""
    codes = list(reversed(path_codes(agency.path)))
    rows = (await session.scalars(select(Agency).where(Agency.code.in_(codes)))).all()
    by_code = {row.code: row for row in rows}
    return [by_code[c] for c in codes if c in by_code]


async def batch(
    session: AsyncSession,
    *,
    scope: Sequence[str] | None,
    parent_id: int | None,
    under: str | None,
    after: str | None,
    size: int,
) -> Sequence[Agency]:
    """Up to ``size`` agencies in tree order (by path) after the path ``after``: within the
    subtrees ``scope`` (all when None), children of ``parent_id``, below the path ``under``."""
    stmt = select(Agency).order_by(Agency.path)
    if scope is not None:
        stmt = stmt.where(in_subtrees(scope))
    if parent_id is not None:
        stmt = stmt.where(Agency.parent_id == parent_id)
    if under is not None:
        stmt = stmt.where(Agency.path.startswith(under, autoescape=True))
    if after is not None:
        stmt = stmt.where(Agency.path > after)
    return (await session.scalars(stmt.limit(size))).all()


async def nodes(session: AsyncSession) -> Sequence[Row[int, str, str, str, str]]:
    """Every agency as (id, code, path, name, level)."""
    result = await session.execute(select(Agency.id, Agency.code, Agency.path, Agency.name, Agency.level))
    return result.all()


# ---------------------------------------------------------------------------- writes


async def create(session: AsyncSession, values: dict[str, Any]) -> Agency:
    """One new agency (flushed: it has its id)."""
    return (await insert_many(session, [values]))[0]


async def insert_many(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> list[Agency]:
    """New agencies, in one flush (with any other pending change of the session)."""
    agencies = [Agency(**values) for values in rows]
    session.add_all(agencies)
    await session.flush()
    return agencies


async def update_node(
    session: AsyncSession, agency: Agency, values: dict[str, Any], *, new_path: str | None = None
) -> None:
    """Set ``values`` on a loaded agency and flush; with ``new_path``, then re-path its subtree.
    The agency's own ``path`` attribute is not refreshed: read it again."""
    for key, value in values.items():
        setattr(agency, key, value)
    await session.flush()
    if new_path is not None:
        await move_subtree(session, agency.path, new_path)


async def move_subtree(session: AsyncSession, old_path: str, new_path: str) -> None:
    """Re-path a node and everything below it (one UPDATE; the node's own row included)."""
    await session.execute(
        update(Agency)
        .where(Agency.path.startswith(old_path, autoescape=True))
        .values(path=literal(new_path, String) + func.substr(Agency.path, len(old_path) + 1, type_=String))
        .execution_options(synchronize_session=False)
    )


async def update_by_code(session: AsyncSession, code: str, values: dict[str, Any]) -> None:
    await session.execute(
        update(Agency)
        .where(Agency.code == code)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


# ---------------------------------------------------------------------------- targets


async def put_target(session: AsyncSession, agency_id: int, year: int, rate: Decimal) -> AgencyTarget:
    """Set (or replace) an agency's target for a year (flushed)."""
    target = await session.scalar(
        select(AgencyTarget).where(AgencyTarget.agency_id == agency_id, AgencyTarget.year == year)
    )
    if target is None:
        target = AgencyTarget(agency_id=agency_id, year=year, online_payment_rate=rate)
        session.add(target)
    else:
        target.online_payment_rate = rate
    await session.flush()
    return target


async def targets_of(session: AsyncSession, agency_id: int) -> list[AgencyTarget]:
    """The agency's own targets, by year."""
    rows = await session.scalars(
        select(AgencyTarget).where(AgencyTarget.agency_id == agency_id).order_by(AgencyTarget.year)
    )
    return list(rows.all())


async def targets_in(session: AsyncSession, agency_ids: Sequence[int], year: int) -> dict[int, Decimal]:
    """The targets for ``year`` of these agencies, by agency id (agencies without one absent)."""
    rows = (
        await session.scalars(
            select(AgencyTarget).where(AgencyTarget.agency_id.in_(agency_ids), AgencyTarget.year == year)
        )
    ).all()
    return {row.agency_id: row.online_payment_rate for row in rows}
