"""Refunds and receipts: the statements (the rules — what may be refunded, when; which receipts a
payment gets and how they are numbered — are in the services).

Receipts: a paid payment's e-receipts, one per kind of revenue, numbered from the agency's series
(:func:`take_number`: ``UPDATE … SET next_number = next_number + 1 RETURNING`` in the transaction
that inserts the receipt, so the series row lock serialises issuers and a rollback gives the number
back).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.states import REFUND_OPEN, AttemptStatus, RefundMethod, RefundOrigin
from app.models import (
    Agency,
    Attempt,
    Payment,
    PaymentItem,
    ProviderAccount,
    Receipt,
    ReceiptSeries,
    Refund,
    RevenueType,
)


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


# ---------------------------------------------------------------------------- receipts


async def payment_and_agency(session: AsyncSession, payment_id: str) -> tuple[Payment, Agency] | None:
    """The payment (fresh) and its agency, or None."""
    row = (
        await session.execute(
            select(Payment, Agency)
            .join(Agency, Agency.id == Payment.agency_id)
            .where(Payment.id == payment_id)
            .execution_options(populate_existing=True)
        )
    ).first()
    return None if row is None else (row.Payment, row.Agency)


async def lock_payment(session: AsyncSession, payment_id: str) -> Payment:
    """The payment, fresh, its row locked ``FOR UPDATE`` (one receipt issuer per payment)."""
    stmt = (
        select(Payment)
        .where(Payment.id == payment_id)
        .execution_options(populate_existing=True)
        .with_for_update()
    )
    payment: Payment = (await session.execute(stmt)).scalar_one()
    return payment


async def payment(session: AsyncSession, payment_id: str) -> Payment:
    found: Payment = (await session.execute(select(Payment).where(Payment.id == payment_id))).scalar_one()
    return found


async def agency(session: AsyncSession, agency_id: int) -> Agency:
    found: Agency = (await session.execute(select(Agency).where(Agency.id == agency_id))).scalar_one()
    return found


async def succeeded_attempt(session: AsyncSession, paid: Payment) -> Attempt | None:
    """The attempt that took the payment's money, if any (a counter payment has none)."""
    return await session.get(Attempt, paid.succeeded_attempt_id) if paid.succeeded_attempt_id else None


async def items_with_types(session: AsyncSession, payment_id: str) -> Sequence[Any]:
    """The payment's items with their revenue types, as ``(PaymentItem, RevenueType)`` rows by position."""
    return (
        await session.execute(
            select(PaymentItem, RevenueType)
            .join(RevenueType, RevenueType.id == PaymentItem.revenue_type_id)
            .where(PaymentItem.payment_id == payment_id)
            .order_by(PaymentItem.position)
        )
    ).all()


async def receipts(session: AsyncSession, payment_id: str) -> list[Receipt]:
    """The payment's receipts (fresh), by number."""
    rows = await session.scalars(
        select(Receipt)
        .where(Receipt.payment_id == payment_id)
        .order_by(Receipt.number, Receipt.kind)
        .execution_options(populate_existing=True)
    )
    return list(rows.all())


async def series_id(session: AsyncSession, values: dict[str, Any]) -> int:
    """The id of the series (agency, form number, symbol, year) of ``values``, created with them
    when it does not exist yet."""
    await session.execute(pg_insert(ReceiptSeries).values(**values).on_conflict_do_nothing())
    found = await session.scalar(
        select(ReceiptSeries.id).where(
            ReceiptSeries.agency_id == values["agency_id"],
            ReceiptSeries.form_number == values["form_number"],
            ReceiptSeries.symbol == values["symbol"],
            ReceiptSeries.year == values["year"],
        )
    )
    assert found is not None
    return int(found)


async def take_number(session: AsyncSession, series: int) -> tuple[int, str, str]:
    """The series' next number, taken (row-locked until the transaction ends), with its form
    number and symbol."""
    row = (
        await session.execute(
            update(ReceiptSeries)
            .where(ReceiptSeries.id == series)
            .values(next_number=ReceiptSeries.next_number + 1)
            .returning(ReceiptSeries.next_number, ReceiptSeries.form_number, ReceiptSeries.symbol)
        )
    ).one()
    return int(row.next_number) - 1, row.form_number, row.symbol


def add_receipt(session: AsyncSession, values: dict[str, Any]) -> None:
    """Insert a receipt (at the transaction's next flush)."""
    session.add(Receipt(**values))


async def set_gateway_receipt(
    session: AsyncSession, payment_id: str, url: str | None, info: dict[str, Any] | None, checked_at: datetime
) -> None:
    """Record on every receipt of the payment what the gateway's own receipt is (or that none was had)."""
    await session.execute(
        update(Receipt)
        .where(Receipt.payment_id == payment_id)
        .values(gateway_receipt_url=url, gateway_receipt=info, gateway_receipt_checked_at=checked_at)
    )
