"""The event log and the transactional outbox.

:func:`emit_event` is called inside the transaction that makes a state change: the event row and,
when the client takes webhooks, its delivery row commit (or roll back) together with it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.states import EventType
from app.ids import new_id
from app.models import Event
from app.stores import events as store

EVENT_TYPES = tuple(EventType)


async def emit_event(
    session: AsyncSession,
    *,
    type: str,
    client_id: str,
    data: dict[str, Any],
    now: datetime,
    payment_id: str | None = None,
) -> Event:
    """Append an event and its outbox row in the caller's transaction."""
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type!r}")
    values: dict[str, Any] = {
        "id": new_id("evt"),
        "type": type,
        "client_id": client_id,
        "payment_id": payment_id,
        "data": data,
        "created_at": now,
    }
    await store.append(session, values, now)
    return Event(**values)  # as written (its ``seq`` is not loaded)


def event_envelope(event: Event) -> dict[str, Any]:
    """The JSON body of a webhook and of an event-feed entry: ``{id, type, created_at, data}``."""
    return {
        "id": event.id,
        "type": event.type,
        "created_at": event.created_at.isoformat(),
        "data": event.data,
    }
