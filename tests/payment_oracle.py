"""A test oracle: the payment resource read through the ORM, query by query, and rendered by the
one renderer. The application reads a payment in one statement (``app.stores.payments``); tests
check that statement's rows against this independent reading."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Agency, Attempt, Payment, PaymentItem, RevenueType
from app.services.payments.views import payment_resource
from app.stores.payments import AttemptRow, ItemRow, PaymentRow, PaymentRows


async def orm_visible_payment_resource(
    session: AsyncSession, payment_id: str, base_url: str, visible: Callable[[str], bool]
) -> dict[str, Any] | None:
    row = (
        await session.execute(
            select(Payment, Agency.code, Agency.path)
            .join(Agency, Agency.id == Payment.agency_id)
            .where(Payment.id == payment_id)
            .execution_options(populate_existing=True)
        )
    ).first()
    if row is None or not visible(row.path):
        return None
    items = (
        await session.execute(
            select(PaymentItem, RevenueType.name)
            .join(RevenueType, RevenueType.id == PaymentItem.revenue_type_id)
            .where(PaymentItem.payment_id == payment_id)
            .order_by(PaymentItem.position)
        )
    ).all()
    attempts = (
        await session.scalars(
            select(Attempt)
            .where(Attempt.payment_id == payment_id)
            .order_by(Attempt.created_at, Attempt.id)
            .execution_options(populate_existing=True)
        )
    ).all()
    rows = PaymentRows(
        PaymentRow.from_object(row.Payment),
        row.code,
        row.path,
        [ItemRow(i.revenue_type_code, name, i.amount, i.description) for i, name in items],
        [AttemptRow.from_object(a) for a in attempts],
    )
    return payment_resource(rows, base_url)
