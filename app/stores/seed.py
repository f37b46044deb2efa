"""The seed's reads and writes: the reference catalogues as shipped (which banks and revenue-type
codes are there, add the missing ones, their counts) and the demo set-up's lookups. (Its client
and payment reads are in ``app.stores.clients`` and ``app.stores.payments``.)"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Agency, Attempt, Bank, Payment, ProviderAccount, RevenueType


async def bank_bins(session: AsyncSession) -> set[str]:
    return set((await session.scalars(select(Bank.bin))).all())


async def revenue_type_codes(session: AsyncSession) -> set[str]:
    return set((await session.scalars(select(RevenueType.code).distinct())).all())


def add_banks(session: AsyncSession, rows: Iterable[dict[str, Any]]) -> None:
    """New banks, written when the transaction commits."""
    session.add_all([Bank(**values) for values in rows])


def add_revenue_types(session: AsyncSession, rows: Iterable[dict[str, Any]]) -> None:
    """New revenue-type versions, written when the transaction commits."""
    session.add_all([RevenueType(**values) for values in rows])


async def catalogue_size(session: AsyncSession) -> tuple[int, int]:
    """(banks, distinct revenue-type codes)."""
    banks = await session.scalar(select(func.count()).select_from(Bank))
    codes = await session.scalar(select(func.count(func.distinct(RevenueType.code))))
    return int(banks or 0), int(codes or 0)


async def count(session: AsyncSession, model: Any) -> int:
    return int((await session.scalar(select(func.count()).select_from(model))) or 0)


async def agency_codes(session: AsyncSession) -> set[str]:
    return set((await session.scalars(select(Agency.code))).all())


async def set_account_settings(session: AsyncSession, account_id: str, settings: dict[str, Any]) -> None:
    await session.execute(
        update(ProviderAccount).where(ProviderAccount.id == account_id).values(settings=settings)
    )


async def untouched_payment(
    session: AsyncSession, client_id: str, dossier_prefix: str, expiring_after: datetime
) -> str | None:
    """The client's newest payment of a dossier starting with ``dossier_prefix`` that is pending,
    without a gateway or any attempt, and expires after ``expiring_after``; or None."""
    stmt = (
        select(Payment.id)
        .where(
            Payment.client_id == client_id,
            Payment.dossier_code.startswith(dossier_prefix),
            Payment.status == "pending",
            Payment.provider.is_(None),
            Payment.expires_at > expiring_after,
            ~select(Attempt.id).where(Attempt.payment_id == Payment.id).exists(),
        )
        .order_by(Payment.created_at.desc())
        .limit(1)
    )
    payment_id: str | None = await session.scalar(stmt)
    return payment_id
