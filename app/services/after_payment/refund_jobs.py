"""Refund worker jobs: ask gateways about refunds left pending or unknown, and refund in full the
second payment of a bill that a citizen paid twice (``duplicate_paid``; manual where the gateway
has no refund API). Rows are claimed with a lease (``FOR UPDATE SKIP LOCKED``) and
gateways are called with no transaction open."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.container import Container
from app.domain.states import RefundMethod, RefundOrigin, RefundState
from app.ids import new_id, new_reference
from app.services.after_payment.refunds import execute_refund, refund_method
from app.services.callbacks.resolver import LEASE
from app.stores import refunds as store

BATCH = 20


async def _claim_due(container: Container, now: datetime) -> list[str]:
    async with container.db.transaction() as session:
        return await store.claim_due(session, now, now + LEASE, BATCH)


async def resolve_refunds_due(container: Container) -> int:
    """Worker job: ask the gateway about refunds left pending or unknown."""
    ids = await _claim_due(container, container.clock())
    for refund_id in ids:
        await execute_refund(container, refund_id)
    return len(ids)


async def _open_duplicate_refunds(container: Container) -> tuple[int, list[str]]:
    """Insert the refunds of not-yet-refunded duplicate attempts; (how many, those to send)."""
    now = container.clock()
    count = 0
    created: list[str] = []
    async with container.db.transaction() as session:
        for attempt, client_id in await store.unrefunded_duplicates(session, BATCH):
            method = refund_method(attempt.provider)
            values: dict[str, Any] = {
                "id": new_id("rfd"),
                "payment_id": attempt.payment_id,
                "attempt_id": attempt.id,
                "client_id": client_id,
                "provider": attempt.provider,
                "provider_account_id": attempt.provider_account_id,
                "reference": new_reference(),
                "idempotency_key": f"duplicate_paid:{attempt.id}",
                "origin": RefundOrigin.duplicate_paid,
                "method": method,
                "amount": attempt.amount,
                "full": True,
                "reason": "Hoàn tiền thanh toán trùng (duplicate payment)",
                "status": RefundState.pending,
                "wire": {},
                "check_count": 0,
                "next_check_at": now + LEASE if method == RefundMethod.gateway else None,
                "created_at": now,
                "updated_at": now,
            }
            new = await store.insert_once(session, values)
            count += new is not None
            if new is not None and method == RefundMethod.gateway:
                created.append(new)
    return count, created


async def refund_duplicates_due(container: Container) -> int:
    """Worker job: refund second payments of already-paid bills (manual where no refund API)."""
    count, to_send = await _open_duplicate_refunds(container)
    for refund_id in to_send:
        await execute_refund(container, refund_id)
    return count
