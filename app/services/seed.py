"""Seed data: the reference catalogues (banks, revenue-type codes) and the demo set-up."""

from __future__ import annotations

import csv
from datetime import date
from importlib import resources
from typing import Any

from sqlalchemy import func, select

from app.config import Settings
from app.db import Database
from app.models import Bank, RevenueType
from app.text import fold


def _rows(name: str) -> list[dict[str, str]]:
    text = resources.files("app.data").joinpath(name).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


async def load_reference_catalogues(db: Database) -> dict[str, int]:
    """Insert banks and revenue-type codes that are not there yet; never touches existing rows."""
    added = {"banks": 0, "revenue_types": 0}
    async with db.transaction() as session:
        known_bins = set((await session.scalars(select(Bank.bin))).all())
        for row in _rows("banks.csv"):
            if row["bin"] in known_bins:
                continue
            session.add(
                Bank(
                    bin=row["bin"],
                    sbv_code=row["sbv_code"] or None,
                    short_name=row["short_name"],
                    name=row["name"],
                )
            )
            added["banks"] += 1
        known_codes = set((await session.scalars(select(RevenueType.code).distinct())).all())
        for row in _rows("revenue_types.csv"):
            if row["code"] in known_codes:
                continue
            session.add(
                RevenueType(
                    code=row["code"],
                    version=1,
                    group_code=row["group_code"] or None,
                    name=row["name"],
                    search_text=fold(f"{row['code']} {row['name']}"),
                    kind=row["kind"],
                    valid_from=date.fromisoformat(row["valid_from"]),
                    valid_to=None,
                    is_current=True,
                )
            )
            added["revenue_types"] += 1
    return added


async def seed_catalogues(settings: Settings) -> dict[str, int]:
    db = Database(settings.database_url)
    try:
        return await load_reference_catalogues(db)
    finally:
        await db.dispose()


async def count_rows(db: Database, model: Any) -> int:
    async with db.session() as session:
        return int((await session.scalar(select(func.count()).select_from(model))) or 0)
