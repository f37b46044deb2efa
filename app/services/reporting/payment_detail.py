"""One payment as an operator investigates it: the bill and its items, every attempt at a gateway,
the raw callbacks those attempts received (metadata and verdict, never the body), the events it
produced with each webhook try, its receipts and its refunds. Read only; one snapshot per table."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.container import Container
from app.models import Attempt, InboundCallback, Payment, Receipt, Refund, WebhookAttemptLog
from app.stores import reports as store

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
        head = await store.payment_head(session, payment_id)
        if head is None:
            return None
        payment, agency_code, agency_name, client_name = head
        detail = PaymentDetail(payment, agency_code, agency_name, client_name)
        detail.items = [
            {
                "code": item.revenue_type_code,
                "name": name,
                "amount": item.amount,
                "description": item.description,
            }
            for item, name in await store.items_with_names(session, payment_id)
        ]
        detail.attempts = await store.attempts(session, payment_id)
        attempt_ids = [a.id for a in detail.attempts]
        references = [a.reference for a in detail.attempts]
        if attempt_ids:
            detail.callbacks = await store.callbacks(session, attempt_ids, references, CALLBACKS_SHOWN)
        events = await store.events_with_deliveries(session, payment_id)
        delivery_ids = [d.id for _, d in events if d is not None]
        tries: dict[int, list[WebhookAttemptLog]] = {}
        if delivery_ids:
            for log in await store.delivery_tries(session, delivery_ids):
                tries.setdefault(log.delivery_id, []).append(log)
        detail.events = [
            {"event": event, "delivery": delivery, "tries": tries.get(delivery.id, []) if delivery else []}
            for event, delivery in events
        ]
        detail.receipts = await store.receipts_by_issue(session, payment_id)
        detail.refunds = await store.refunds_by_creation(session, payment_id)
    return detail
