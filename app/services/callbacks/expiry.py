"""Expiry: pending payments past ``expires_at`` expire — after asking the gateway about any open
attempt, since a citizen may have paid a second before the deadline."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from app.container import Container
from app.domain import transitions as T
from app.domain.states import ATTEMPT_OPEN, AttemptStatus
from app.services.callbacks.resolver import resolve_attempt
from app.services.notifications.events import emit_event
from app.services.payments.views import renderer
from app.stores import payments, retry_transient
from app.stores.transitions import apply

log = logging.getLogger("paybridge.expiry")

BATCH = 100
# If a gateway cannot be reached, wait this long past the deadline before expiring anyway
# (the attempt stays `unknown` for the resolver, and a late success is still accepted).
GRACE_WHEN_UNREACHABLE = timedelta(hours=1)


async def expire_due(container: Container) -> int:
    now = container.clock()
    async with container.db.session() as session:
        ids = await payments.overdue_pending(session, now, BATCH)
    expired = 0
    for payment_id in ids:
        if await expire_payment(container, payment_id):
            expired += 1
    return expired


async def expire_payment(container: Container, payment_id: str) -> bool:
    async with container.db.session() as session:
        open_attempts = await payments.attempt_ids(session, payment_id, ATTEMPT_OPEN)
        expires_at = await payments.expires_at(session, payment_id)
    for attempt_id in open_attempts:
        await resolve_attempt(container, attempt_id)
    return await retry_transient(lambda: _expire(container, payment_id, open_attempts, expires_at))


async def _expire(
    container: Container, payment_id: str, open_attempts: list[str], expires_at: datetime | None
) -> bool:
    now = container.clock()
    async with container.db.transaction() as session:
        still_unknown = await payments.attempt_ids(session, payment_id, (AttemptStatus.unknown,))
        if still_unknown and expires_at is not None and now < expires_at + GRACE_WHEN_UNREACHABLE:
            return False  # try again on a later pass
        # Lock order: the payment (its compare-and-set locks the row), then its attempts.
        if not await apply(session, T.EXPIRE, payment_id, now=now):
            return False  # paid (or cancelled) meanwhile
        for attempt_id in open_attempts:
            await apply(session, T.ATTEMPT_EXPIRE, attempt_id, now=now)
        client_id = await payments.client_of(session, payment_id)
        data = await renderer(container.settings.public_base_url)(session, payment_id)
        await emit_event(
            session,
            type=T.EXPIRE.event or "",
            client_id=client_id,
            payment_id=payment_id,
            data=data,
            now=now,
        )
    return True
