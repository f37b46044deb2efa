"""One payment as an operator investigates it: the bill and its items, every attempt at a gateway,
the raw callbacks those attempts received (metadata and verdict, never the body), the events it
produced with each webhook try, its receipts and its refunds. Read only; one snapshot per table."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from app.container import Container
from app.models import (
    Agency,
    Attempt,
    Client,
    Event,
    InboundCallback,
    Payment,
    PaymentItem,
    Receipt,
    Refund,
    RevenueType,
    WebhookAttemptLog,
    WebhookDelivery,
)

CALLBACKS_SHOWN = 100


@dataclass
class PaymentDetail:
    payment: Payment
    agency_code: str
    agency_name: str
    client_name: str
    items: list[dict[str, Any]] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    callbacks: list[InboundCallback] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    receipts: list[Receipt] = field(default_factory=list)
    refunds: list[Refund] = field(default_factory=list)


async def payment_detail(container: Container, payment_id: str) -> PaymentDetail | None:
    """Everything recorded about one payment, or None when there is no such payment."""
    async with container.db.session() as session:
        head = (
            await session.execute(
                select(Payment, Agency.code, Agency.name, Client.name)
                .join(Agency, Agency.id == Payment.agency_id)
                .join(Client, Client.id == Payment.client_id)
                .where(Payment.id == payment_id)
            )
        ).first()
        if head is None:
            return None
        payment, agency_code, agency_name, client_name = head
        detail = PaymentDetail(payment, agency_code, agency_name, client_name)
        items = await session.execute(
            select(PaymentItem, RevenueType.name)
            .join(RevenueType, RevenueType.id == PaymentItem.revenue_type_id)
            .where(PaymentItem.payment_id == payment_id)
            .order_by(PaymentItem.position)
        )
        detail.items = [
            {
                "code": item.revenue_type_code,
                "name": name,
                "amount": item.amount,
                "description": item.description,
            }
            for item, name in items
        ]
        detail.attempts = list(
            await session.scalars(
                select(Attempt)
                .where(Attempt.payment_id == payment_id)
                .order_by(Attempt.created_at, Attempt.id)
            )
        )
        attempt_ids = [a.id for a in detail.attempts]
        references = [a.reference for a in detail.attempts]
        if attempt_ids:
            detail.callbacks = list(
                await session.scalars(
                    select(InboundCallback)
                    .where(
                        InboundCallback.attempt_id.in_(attempt_ids)
                        | InboundCallback.reference.in_(references)
                    )
                    .order_by(InboundCallback.received_at.desc(), InboundCallback.id.desc())
                    .limit(CALLBACKS_SHOWN)
                )
            )
        events = list(
            await session.execute(
                select(Event, WebhookDelivery)
                .outerjoin(WebhookDelivery, WebhookDelivery.event_id == Event.id)
                .where(Event.payment_id == payment_id)
                .order_by(Event.seq)
            )
        )
        delivery_ids = [d.id for _, d in events if d is not None]
        tries: dict[int, list[WebhookAttemptLog]] = {}
        if delivery_ids:
            for log in await session.scalars(
                select(WebhookAttemptLog)
                .where(WebhookAttemptLog.delivery_id.in_(delivery_ids))
                .order_by(WebhookAttemptLog.attempted_at, WebhookAttemptLog.id)
            ):
                tries.setdefault(log.delivery_id, []).append(log)
        detail.events = [
            {"event": event, "delivery": delivery, "tries": tries.get(delivery.id, []) if delivery else []}
            for event, delivery in events
        ]
        detail.receipts = list(
            await session.scalars(
                select(Receipt).where(Receipt.payment_id == payment_id).order_by(Receipt.issued_at)
            )
        )
        detail.refunds = list(
            await session.scalars(
                select(Refund).where(Refund.payment_id == payment_id).order_by(Refund.created_at)
            )
        )
    return detail
