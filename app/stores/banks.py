"""Banks (by NAPAS BIN): the statements (what a valid row is, and what an import changes, are in
``app.services.catalogue.catalog``)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Bank


async def get(session: AsyncSession, bin_: str) -> Bank | None:
    return await session.get(Bank, bin_)


async def by_bins(session: AsyncSession, bins: Collection[str]) -> dict[str, Bank]:
    """The banks with these BINs, by BIN (unknown BINs absent)."""
    rows = await session.scalars(select(Bank).where(Bank.bin.in_(bins)))
    return {bank.bin: bank for bank in rows.all()}


async def page(session: AsyncSession, *, after: str | None, limit: int) -> list[Bank]:
    """Up to ``limit`` banks by BIN, after the BIN ``after``."""
    stmt = select(Bank).order_by(Bank.bin).limit(limit)
    if after is not None:
        stmt = stmt.where(Bank.bin > after)
    return list((await session.scalars(stmt)).all())


def add_all(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """New banks, written when the transaction commits."""
    session.add_all([Bank(**values) for values in rows])
