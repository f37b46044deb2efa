"""Expiry: pending payments past ``expires_at`` expire — after asking the gateway about any open
attempt, since a citizen may have paid a second before the deadline."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select

from app.container import Container
from app.models import Attempt, Payment
from app.services.callbacks.resolver import resolve_attempt
from app.services.notifications.events import emit_event
from app.services.payments.transitions import cas_attempt, cas_payment
from app.services.payments.views import renderer

log = logging.getLogger("paybridge.expiry")

BATCH = 100
# If a gateway cannot be reached, wait this long past the deadline before expiring anyway
# (the attempt stays `unknown` for the resolver, and a late success is still accepted).
GRACE_WHEN_UNREACHABLE = timedelta(hours=1)


async def expire_due(container: Container) -> int:
    now = container.clock()
    async with container.db.session() as session:
        stmt = (
            select(Payment.id)
            .where(Payment.status == "pending", Payment.expires_at <= now)
            .order_by(Payment.expires_at)
            .limit(BATCH)
        )
        ids = list((await session.scalars(stmt)).all())
    expired = 0
    for payment_id in ids:
        if await expire_payment(container, payment_id):
            expired += 1
    return expired


async def expire_payment(container: Container, payment_id: str) -> bool:
    async with container.db.session() as session:
        open_attempts = list(
            (
                await session.scalars(
                    select(Attempt.id).where(
                        Attempt.payment_id == payment_id, Attempt.status.in_(("pending", "unknown"))
                    )
                )
            ).all()
        )
        expires_at = await session.scalar(select(Payment.expires_at).where(Payment.id == payment_id))
    for attempt_id in open_attempts:
        await resolve_attempt(container, attempt_id)
    now = container.clock()
    async with container.db.transaction() as session:
        still_unknown = (
            await session.scalars(
                select(Attempt.id).where(Attempt.payment_id == payment_id, Attempt.status == "unknown")
            )
        ).all()
        if still_unknown and expires_at is not None and now < expires_at + GRACE_WHEN_UNREACHABLE:
            return False  # try again on a later pass
        if not await cas_payment(session, payment_id, ("pending",), {"status": "expired", "updated_at": now}):
            return False  # paid (or cancelled) meanwhile
        for attempt_id in open_attempts:
            await cas_attempt(
                session,
                attempt_id,
                ("pending",),
                {"status": "expired", "completed_at": now, "updated_at": now},
            )
        payment = (await session.execute(select(Payment).where(Payment.id == payment_id))).scalar_one()
        data = await renderer(container.settings.public_base_url)(session, payment_id)
        await emit_event(
            session,
            type="payment.expired",
            client_id=payment.client_id,
            payment_id=payment_id,
            data=data,
            now=now,
        )
    return True
