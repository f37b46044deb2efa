"""The event feed: a client's events in commit order, for portals that cannot take webhooks.

Order is ``events.seq``. On PostgreSQL a sequence value is taken at INSERT but becomes visible
at COMMIT, so two concurrent transactions can commit out of order: a reader could see seq 11,
advance past it, and never see seq 10 committed a moment later. :func:`lock_event_stream` closes
that gap: every transaction that appends an event for a client first takes a transaction-scoped
advisory lock for that client, so appends for one client are serialised from the INSERT to the
COMMIT and one client's seqs become visible in order (other clients are not held up; the feed
filters by client, so a gap in the global sequence never matters).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.container import Container
from app.errors import BadRequest
from app.models import Event

# Imported as a module: events.py imports this one for lock_event_stream (no cycle at import).
from app.services import events as event_log

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


class UnknownAfter(BadRequest):
    code, title = "invalid_after", "Unknown event in `after`"


@dataclass(frozen=True)
class FeedPage:
    events: list[dict[str, Any]]
    next_after: str | None


def stream_lock_key(client_id: str) -> int:
    """A stable signed 64-bit advisory-lock key for one client's event stream."""
    digest = hashlib.sha256(b"paybridge.events:" + client_id.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def lock_event_stream(session: AsyncSession, client_id: str) -> None:
    """Serialise event appends for ``client_id`` until this transaction ends (PostgreSQL only).

    Call it before the event row is inserted (``emit_event`` does). It is re-entrant within a
    transaction, and released by COMMIT or ROLLBACK.
    """
    await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": stream_lock_key(client_id)})


async def list_events(container: Container, client_id: str, *, after: str | None, limit: int) -> FeedPage:
    """The client's events after ``after`` (exclusive), oldest first, at most ``limit``.

    ``next_after`` is the last id returned, or ``after`` itself when nothing is new, so a portal
    can always store it and poll with it. Another client's event id is as unknown as a made-up one.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError("limit out of range")
    async with container.db.session() as session:
        after_seq = 0
        if after is not None:
            seq = await session.scalar(
                select(Event.seq).where(Event.id == after, Event.client_id == client_id)
            )
            if seq is None:
                raise UnknownAfter(f"`after` must be the id of one of your events; {after!r} is not.")
            after_seq = seq
        rows = (
            await session.scalars(
                select(Event)
                .where(Event.client_id == client_id, Event.seq > after_seq)
                .order_by(Event.seq)
                .limit(limit)
            )
        ).all()
    return FeedPage([event_log.event_envelope(e) for e in rows], rows[-1].id if rows else after)
