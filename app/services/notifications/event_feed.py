"""The event feed: a client's events in commit order (``events.seq``, kept in commit order by the
event-stream lock of ``app.stores.events``), for portals that cannot take webhooks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.container import Container
from app.errors import BadRequest
from app.services.notifications.events import event_envelope
from app.stores import events as store

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


class UnknownAfter(BadRequest):
    code, title = "invalid_after", "Unknown event in `after`"


@dataclass(frozen=True)
class FeedPage:
    events: list[dict[str, Any]]
    next_after: str | None


async def list_events(container: Container, client_id: str, *, after: str | None, limit: int) -> FeedPage:
    """The client's events after ``after`` (exclusive), oldest first, at most ``limit``.

    ``next_after`` is the last id returned, or ``after`` itself when nothing is new, so a portal
    can always store it and poll with it. Another client's event id is as unknown as a made-up one.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError("limit out of range")
    async with container.db.session() as session:
        rows = await store.after(session, client_id, after, limit)
    if rows is None:
        raise UnknownAfter(f"`after` must be the id of one of your events; {after!r} is not.")
    return FeedPage([event_envelope(e) for e in rows], rows[-1].id if rows else after)
