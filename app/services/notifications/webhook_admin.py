"""The operator's side of webhooks: list deliveries and their tries, redeliver an event, rotate
a client's signing secret. (Sending is :mod:`app.services.notifications.webhooks`.)"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.container import Container
from app.errors import Conflict, NotFound
from app.models import WebhookAttemptLog, WebhookDelivery
from app.progress import Progress, no_progress
from app.security import new_webhook_secret
from app.stores import clients, events, outbox

log = logging.getLogger("paybridge.webhooks")


class EventNotFound(NotFound):
    code, title = "event_not_found", "Event not found"


class ClientNotFound(NotFound):
    code, title = "client_not_found", "Client not found"


class NoWebhookUrl(Conflict):
    code, title = "no_webhook_url", "Client has no webhook URL"


DELIVERY_FILTERS = ("pending", "delivered", "dead", "failing")


@dataclass(frozen=True)
class DeliveryView:
    id: int
    event_id: str
    event_type: str
    client_id: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


def _view(delivery: WebhookDelivery, event_type: str) -> DeliveryView:
    return DeliveryView(
        id=delivery.id,
        event_id=delivery.event_id,
        event_type=event_type,
        client_id=delivery.client_id,
        status=delivery.status,
        attempts=delivery.attempts,
        next_attempt_at=delivery.next_attempt_at if delivery.status == "pending" else None,
        last_status_code=delivery.last_status_code,
        last_error=delivery.last_error,
        created_at=delivery.created_at,
        delivered_at=delivery.delivered_at,
    )


async def list_deliveries(
    container: Container, *, client_id: str | None, status: str | None, limit: int, cursor: int | None
) -> tuple[list[DeliveryView], int | None]:
    """Deliveries, newest first; ``failing`` = dead, or pending after at least one failed try."""
    async with container.db.session() as session:
        if client_id is not None and not await clients.exists(session, client_id):
            raise ClientNotFound(f"No client {client_id}.")
        rows = await outbox.page(
            session, client_id=client_id, status=status, before_id=cursor, limit=limit + 1
        )
    views = [_view(delivery, event_type) for delivery, event_type in rows[:limit]]
    return views, (views[-1].id if len(rows) > limit else None)


async def event_deliveries(
    container: Container, event_id: str
) -> tuple[DeliveryView | None, list[WebhookAttemptLog]]:
    """An event's delivery and its tries, oldest first."""
    async with container.db.session() as session:
        event_type = await events.type_of(session, event_id)
        if event_type is None:
            raise EventNotFound(f"No event {event_id}.")
        delivery = await outbox.of_event(session, event_id)
        if delivery is None:
            return None, []
        tries = await outbox.tries(session, delivery.id)
    return _view(delivery, event_type), tries


async def redeliver(container: Container, event_id: str) -> DeliveryView:
    """Make an event's delivery due now. A dead or delivered one starts a fresh schedule; a
    pending one keeps its count (a try in flight loses its lease and its result is ignored);
    an event emitted while the client had no webhook URL gets its first delivery row."""
    now = container.clock()
    async with container.db.transaction() as session:
        event = await events.get(session, event_id)
        if event is None:
            raise EventNotFound(f"No event {event_id}.")
        if not await clients.webhook_url(session, event.client_id):
            raise NoWebhookUrl("Set the client's webhook_url first; the event stays on the event feed.")
        delivery = await outbox.of_event(session, event_id, lock=True)
        if delivery is None:
            delivery = WebhookDelivery(
                event_id=event.id, client_id=event.client_id, attempts=0, created_at=now
            )
        elif delivery.status != "pending":
            delivery.attempts = 0
        delivery.status = "pending"
        delivery.next_attempt_at = now
        delivery.delivered_at = None
        await outbox.save(session, delivery)
        view = _view(delivery, event.type)
    log.info("webhook redelivery requested", extra={"event_id": event_id, "delivery_id": view.id})
    return view


async def rotate_webhook_secret(
    container: Container, client_id: str, *, grace: timedelta
) -> tuple[str, datetime | None]:
    """A new signing secret (returned once); the old one keeps signing until ``now + grace``.
    Rotating again within a grace period drops the oldest secret."""
    now = container.clock()
    secret = new_webhook_secret()
    async with container.db.transaction() as session:
        client = await clients.get(session, client_id, lock=True)
        if client is None:
            raise ClientNotFound(f"No client {client_id}.")
        expires = now + grace if grace > timedelta(0) else None
        client.previous_webhook_secret_enc = client.webhook_secret_enc if expires else None
        client.previous_webhook_secret_expires_at = expires
        client.webhook_secret_enc = container.vault.encrypt(secret)
        client.updated_at = now
    log.info("webhook secret rotated", extra={"client_id": client_id})
    return secret, expires


async def redeliver_dead(
    container: Container, *, client_id: str | None, progress: Progress = no_progress
) -> int:
    """Redeliver every dead delivery (of one client, or of all): after a portal's outage, one call
    instead of one per event. Each is :func:`redeliver`; returns how many were made due."""
    async with container.db.session() as session:
        if client_id is not None and not await clients.exists(session, client_id):
            raise ClientNotFound(f"No client {client_id}.")
        event_ids = await outbox.dead_event_ids(session, client_id)
    await progress(0, len(event_ids))
    for done, event_id in enumerate(event_ids, start=1):
        await redeliver(container, event_id)
        await progress(done, len(event_ids))
    return len(event_ids)
