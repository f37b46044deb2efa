"""Events and the transactional outbox: the statements.

Order of a client's feed is ``events.seq``. A sequence value is taken at INSERT but becomes
visible at COMMIT, so two concurrent transactions can commit out of order: a reader could see
seq 11, advance past it, and never see seq 10 committed a moment later. :func:`lock_event_stream`
closes that gap: every transaction that appends an event for a client first takes a
transaction-scoped advisory lock for that client, so appends for one client are serialised from
the INSERT to the COMMIT and one client's seqs become visible in order (other clients are not held
up; the feed filters by client, so a gap in the global sequence never matters). In the lock order
it comes last: after the payment and its attempts.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import insert, literal, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Client, Event, WebhookDelivery


def stream_lock_key(client_id: str) -> int:
    """A stable signed 64-bit advisory-lock key for one client's event stream."""
    digest = hashlib.sha256(b"paybridge.events:" + client_id.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def lock_event_stream(session: AsyncSession, client_id: str) -> None:
    """Serialise event appends for ``client_id`` until this transaction ends.

    Call it before the event row is inserted (:func:`append` does). It is re-entrant within a
    transaction, and released by COMMIT or ROLLBACK.
    """
    await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": stream_lock_key(client_id)})


async def append(session: AsyncSession, values: dict[str, Any], now: datetime) -> None:
    """Insert the event and — iff the client takes webhooks right now — its outbox row, in the
    caller's transaction (one INSERT … SELECT, no read first)."""
    await lock_event_stream(session, values["client_id"])
    await session.execute(insert(Event).values(**values))
    when = literal(now, WebhookDelivery.__table__.c.next_attempt_at.type)
    await session.execute(
        insert(WebhookDelivery).from_select(
            ["event_id", "client_id", "status", "attempts", "next_attempt_at", "created_at"],
            select(literal(values["id"]), Client.id, literal("pending"), literal(0), when, when).where(
                Client.id == values["client_id"], Client.webhook_url.is_not(None), Client.webhook_url != ""
            ),
        )
    )


async def after(
    session: AsyncSession, client_id: str, after_id: str | None, limit: int
) -> list[Event] | None:
    """The client's events after ``after_id`` (exclusive) by seq, at most ``limit``; None when
    ``after_id`` is not one of the client's events."""
    after_seq = 0
    if after_id is not None:
        seq = await session.scalar(
            select(Event.seq).where(Event.id == after_id, Event.client_id == client_id)
        )
        if seq is None:
            return None
        after_seq = seq
    rows = await session.scalars(
        select(Event)
        .where(Event.client_id == client_id, Event.seq > after_seq)
        .order_by(Event.seq)
        .limit(limit)
    )
    return list(rows.all())


async def get(session: AsyncSession, event_id: str) -> Event | None:
    event: Event | None = await session.scalar(select(Event).where(Event.id == event_id))
    return event


async def type_of(session: AsyncSession, event_id: str) -> str | None:
    event_type: str | None = await session.scalar(select(Event.type).where(Event.id == event_id))
    return event_type
