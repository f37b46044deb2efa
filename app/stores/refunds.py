"""Refunds: the statements (the rules — what may be refunded, when — are in the services)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.states import REFUND_OPEN, AttemptStatus, RefundMethod, RefundOrigin
from app.models import Agency, Attempt, Payment, ProviderAccount, Refund


async def load(session: AsyncSession, refund_id: str) -> tuple[Refund, Payment]:
    """The refund and its payment, fresh."""
    row = (
        await session.execute(
            select(Refund, Payment)
            .join(Payment, Payment.id == Refund.payment_id)
            .where(Refund.id == refund_id)
            .execution_options(populate_existing=True)
        )
    ).one()
    return row.Refund, row.Payment


async def get(session: AsyncSession, refund_id: str) -> Refund | None:
    refund: Refund | None = await session.scalar(select(Refund).where(Refund.id == refund_id))
    return refund


async def visible(session: AsyncSession, refund_id: str) -> Any:
    """(Refund, Payment, agency path), or None."""
    return (
        await session.execute(
            select(Refund, Payment, Agency.path)
            .join(Payment, Payment.id == Refund.payment_id)
            .join(Agency, Agency.id == Payment.agency_id)
            .where(Refund.id == refund_id)
        )
    ).first()


async def payment_path(session: AsyncSession, payment_id: str) -> str | None:
    stmt = select(Agency.path).join(Payment, Payment.agency_id == Agency.id).where(Payment.id == payment_id)
    path: str | None = await session.scalar(stmt)
    return path


async def attempt(session: AsyncSession, attempt_id: str) -> Attempt:
    found: Attempt = (await session.execute(select(Attempt).where(Attempt.id == attempt_id))).scalar_one()
    return found


async def account(session: AsyncSession, account_id: str | None) -> ProviderAccount | None:
    return None if account_id is None else await session.get(ProviderAccount, account_id)


async def reserved_amount(session: AsyncSession, payment_id: str) -> int:
    """Client refunds of a payment still in flight (their money is spoken for)."""
    total = await session.scalar(
        select(func.coalesce(func.sum(Refund.amount), 0)).where(
            Refund.payment_id == payment_id,
            Refund.origin == RefundOrigin.client,
            Refund.status.in_(REFUND_OPEN),
        )
    )
    return int(total or 0)


async def insert(session: AsyncSession, values: dict[str, Any]) -> str:
    refund = Refund(**values)
    session.add(refund)
    await session.flush()
    return refund.id


async def claim_due(session: AsyncSession, now: datetime, until: datetime, limit: int) -> list[str]:
    """Lease (``FOR UPDATE SKIP LOCKED``) open gateway refunds due for a query, until ``until``."""
    stmt = (
        select(Refund.id)
        .where(
            Refund.method == RefundMethod.gateway, Refund.status.in_(REFUND_OPEN), Refund.next_check_at <= now
        )
        .order_by(Refund.next_check_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list((await session.scalars(stmt)).all())
    if ids:
        await session.execute(update(Refund).where(Refund.id.in_(ids)).values(next_check_at=until))
    return ids


async def unrefunded_duplicates(session: AsyncSession, limit: int) -> list[tuple[Attempt, str]]:
    """Succeeded attempts flagged ``duplicate_paid`` without their refund yet, with the client."""
    already = exists().where(Refund.attempt_id == Attempt.id, Refund.origin == RefundOrigin.duplicate_paid)
    rows = await session.execute(
        select(Attempt, Payment.client_id)
        .join(Payment, Payment.id == Attempt.payment_id)
        .where(Attempt.duplicate_paid.is_(True), Attempt.status == AttemptStatus.succeeded, ~already)
        .order_by(Attempt.completed_at)
        .limit(limit)
    )
    return [(row.Attempt, row.client_id) for row in rows]


async def insert_once(session: AsyncSession, values: dict[str, Any]) -> str | None:
    """Insert unless a refund with the same (payment, idempotency key) exists; its id, or None."""
    new: str | None = await session.scalar(
        pg_insert(Refund)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["payment_id", "idempotency_key"])
        .returning(Refund.id)
    )
    return new
