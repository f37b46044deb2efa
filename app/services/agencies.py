"""Agencies: a tree keyed by mã định danh, stored with a materialised path (``/ROOT/…/CODE/``)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Agency


def path_codes(path: str) -> list[str]:
    """``/A/B/C/`` → ``["A", "B", "C"]`` (root first)."""
    return [part for part in path.split("/") if part]


def parent_code_of(agency: Agency) -> str | None:
    codes = path_codes(agency.path)
    return codes[-2] if len(codes) > 1 else None


async def get_agency_by_code(session: AsyncSession, code: str) -> Agency | None:
    """The agency with this national identifier code, or None."""
    result: Agency | None = await session.scalar(select(Agency).where(Agency.code == code))
    return result


async def ancestors(session: AsyncSession, agency: Agency) -> list[Agency]:
    """The agency itself first, then its parent, and so on up to the root (from ``path``)."""
    codes = list(reversed(path_codes(agency.path)))
    rows = (await session.scalars(select(Agency).where(Agency.code.in_(codes)))).all()
    by_code = {row.code: row for row in rows}
    return [by_code[c] for c in codes if c in by_code]
