"""The webhook outbox (``webhook_deliveries`` and their tries): the dispatcher's two statements —
lease due rows, settle tries — and the operator's reads and redelivery writes.

Each is one hand-written statement through the raw asyncpg pool: the lease is a ``FOR UPDATE SKIP
LOCKED`` select feeding an ``UPDATE … RETURNING`` joined to the event and the client; a settlement
is the attempt-log ``INSERT`` and the compare-and-set ``UPDATE`` over ``unnest`` arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import Database
from app.models import Event, WebhookAttemptLog, WebhookDelivery


class DueRow(NamedTuple):
    """A leased delivery with what sending it needs (its event and its client's settings)."""

    delivery_id: int
    tries: int
    event_id: str
    event_type: str
    event_created_at: datetime
    event_data: Any
    client_id: str
    client_enabled: bool
    webhook_url: str | None
    secret_enc: str
    previous_secret_enc: str | None
    previous_secret_expires_at: datetime | None


@dataclass(frozen=True)
class Settlement:
    """One try to log, and the row's new values if its lease ``(tries, leased_until)`` still holds.
    ``next_attempt_at`` and ``delivered_at`` are left as they are when ``None``."""

    delivery_id: int
    tries: int
    leased_until: datetime
    status: str
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    status_code: int | None
    error: str | None
    attempted_at: datetime
    latency_ms: int
    response_body: str | None


_PG_LEASE = """
WITH due AS (
    SELECT id FROM webhook_deliveries
    WHERE status = 'pending' AND next_attempt_at <= $1
    ORDER BY next_attempt_at, id
    LIMIT $2
    FOR UPDATE SKIP LOCKED
), leased AS (
    UPDATE webhook_deliveries d SET attempts = d.attempts + 1, next_attempt_at = $3
    FROM due WHERE d.id = due.id
    RETURNING d.id, d.attempts, d.event_id, d.client_id
)
SELECT l.id, l.attempts, e.id, e.type, e.created_at, e.data, c.id, c.enabled, c.webhook_url,
       c.webhook_secret_enc, c.previous_webhook_secret_enc, c.previous_webhook_secret_expires_at
FROM leased l
JOIN events e ON e.id = l.event_id
JOIN clients c ON c.id = l.client_id
ORDER BY l.id
"""

_PG_SETTLE = """
WITH tries AS (
    SELECT * FROM unnest($1::bigint[], $2::int[], $3::timestamptz[], $4::text[], $5::timestamptz[],
                         $6::timestamptz[], $7::int[], $8::text[])
        AS t(id, tries, leased_until, status, next_attempt_at, delivered_at, status_code, error)
), logged AS (
    INSERT INTO webhook_attempt_logs
        (delivery_id, attempted_at, status_code, latency_ms, error, response_body)
    SELECT * FROM unnest($1::bigint[], $9::timestamptz[], $7::int[], $10::int[], $8::text[], $11::text[])
)
UPDATE webhook_deliveries d
SET status = t.status,
    next_attempt_at = coalesce(t.next_attempt_at, d.next_attempt_at),
    delivered_at = coalesce(t.delivered_at, d.delivered_at),
    last_status_code = t.status_code,
    last_error = t.error
FROM tries t
WHERE d.id = t.id AND d.attempts = t.tries AND d.status = 'pending' AND d.next_attempt_at = t.leased_until
RETURNING d.id
"""


async def lease_due(db: Database, now: datetime, leased_until: datetime, limit: int) -> list[DueRow]:
    """Lease up to ``limit`` due rows (oldest due first): count a try, hide them until ``leased_until``."""
    pool = await db.raw()
    async with pool.acquire() as conn:
        records = await conn.fetch(_PG_LEASE, now, limit, leased_until)
    return [DueRow(*record) for record in records]


async def settle(db: Database, settlements: Sequence[Settlement]) -> set[int]:
    """Log every try and apply each row's new values where its lease still holds (compare-and-set
    on ``attempts`` and ``next_attempt_at``), in one transaction. Returns the ids settled."""
    if not settlements:
        return set()
    pool = await db.raw()
    s = settlements
    async with pool.acquire() as conn:
        records = await conn.fetch(
            _PG_SETTLE,
            [x.delivery_id for x in s],
            [x.tries for x in s],
            [x.leased_until for x in s],
            [x.status for x in s],
            [x.next_attempt_at for x in s],
            [x.delivered_at for x in s],
            [x.status_code for x in s],
            [x.error for x in s],
            [x.attempted_at for x in s],
            [x.latency_ms for x in s],
            [x.response_body for x in s],
        )
    return {record[0] for record in records}


# --- The operator's side (ORM session) ---------------------------------------------------------


async def page(
    session: AsyncSession, *, client_id: str | None, status: str | None, before_id: int | None, limit: int
) -> list[Any]:
    """(WebhookDelivery, event type) rows, newest first, at most ``limit``; ``status`` is a
    delivery status or ``failing`` (dead, or pending after at least one failed try)."""
    query = select(WebhookDelivery, Event.type).join(Event, Event.id == WebhookDelivery.event_id)
    if client_id is not None:
        query = query.where(WebhookDelivery.client_id == client_id)
    if status == "failing":
        query = query.where(
            (WebhookDelivery.status == "dead")
            | ((WebhookDelivery.status == "pending") & WebhookDelivery.last_error.is_not(None))
        )
    elif status is not None:
        query = query.where(WebhookDelivery.status == status)
    if before_id is not None:
        query = query.where(WebhookDelivery.id < before_id)
    return list((await session.execute(query.order_by(WebhookDelivery.id.desc()).limit(limit))).all())


async def of_event(session: AsyncSession, event_id: str, *, lock: bool = False) -> WebhookDelivery | None:
    """The event's delivery (``lock``: FOR UPDATE), or None."""
    query = select(WebhookDelivery).where(WebhookDelivery.event_id == event_id)
    delivery: WebhookDelivery | None = await session.scalar(query.with_for_update() if lock else query)
    return delivery


async def tries(session: AsyncSession, delivery_id: int) -> list[WebhookAttemptLog]:
    """The delivery's logged tries, oldest first."""
    query = (
        select(WebhookAttemptLog)
        .where(WebhookAttemptLog.delivery_id == delivery_id)
        .order_by(WebhookAttemptLog.id)
    )
    return list((await session.scalars(query)).all())


async def save(session: AsyncSession, delivery: WebhookDelivery) -> None:
    """Write a new or changed delivery now (within the caller's transaction)."""
    session.add(delivery)
    await session.flush()


async def dead_event_ids(session: AsyncSession, client_id: str | None) -> list[str]:
    """The events whose delivery is dead (of one client, or of all), oldest delivery first."""
    query = select(WebhookDelivery.event_id).where(WebhookDelivery.status == "dead")
    if client_id is not None:
        query = query.where(WebhookDelivery.client_id == client_id)
    return list(await session.scalars(query.order_by(WebhookDelivery.id)))
