"""Operator API for webhooks: failing deliveries, the tries log, redelivery, secret rotation."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from app.deps import AdminDep, ContainerDep
from app.schemas.webhooks import (
    DeliveryOut,
    DeliveryPage,
    EventDeliveries,
    RotateOut,
    TryOut,
    WebhookSecretRotateIn,
)
from app.services.notifications import webhooks

router = APIRouter(prefix="/admin/v1", tags=["admin"], dependencies=[AdminDep])

StatusFilter = Literal["pending", "delivered", "dead", "failing"]


Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[int | None, Query(ge=1, description="`next_cursor` of the previous page")]


async def _deliveries(
    container: ContainerDep,
    client_id: str | None,
    status: StatusFilter | None,
    limit: int,
    cursor: int | None,
) -> DeliveryPage:
    views, next_id = await webhooks.list_deliveries(
        container, client_id=client_id, status=status, limit=limit, cursor=cursor
    )
    return DeliveryPage(
        data=[DeliveryOut.model_validate(v) for v in views],
        next_cursor=str(next_id) if next_id is not None else None,
    )


@router.get("/clients/{client_id}/deliveries", response_model=DeliveryPage, summary="A client's deliveries")
async def client_deliveries(
    client_id: str,
    container: ContainerDep,
    status: StatusFilter | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> DeliveryPage:
    """A client's webhook deliveries, newest first; `status=failing` = dead or retrying."""
    return await _deliveries(container, client_id, status, limit, cursor)


@router.get("/deliveries", response_model=DeliveryPage, summary="Deliveries of every client")
async def all_deliveries(
    container: ContainerDep,
    status: StatusFilter | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> DeliveryPage:
    """Webhook deliveries of all clients, newest first (e.g. `status=dead`: the dead letters)."""
    return await _deliveries(container, None, status, limit, cursor)


@router.get("/events/{event_id}/deliveries", response_model=EventDeliveries, summary="An event's tries")
async def event_tries(event_id: str, container: ContainerDep) -> EventDeliveries:
    """An event's delivery and every try: time, status code, latency, the start of the answer."""
    view, tries = await webhooks.event_deliveries(container, event_id)
    return EventDeliveries(
        event_id=event_id,
        delivery=DeliveryOut.model_validate(view) if view else None,
        tries=[TryOut.model_validate(t) for t in tries],
    )


@router.post(
    "/events/{event_id}/redeliver",
    response_model=DeliveryOut,
    status_code=202,
    summary="Send an event again",
    responses={409: {"description": "The client has no webhook URL (`no_webhook_url`)"}},
)
async def redeliver(event_id: str, container: ContainerDep) -> DeliveryOut:
    """Make the event's delivery due now (a dead one starts a fresh retry schedule)."""
    return DeliveryOut.model_validate(await webhooks.redeliver(container, event_id))


@router.post(
    "/clients/{client_id}/webhook-secret",
    response_model=RotateOut,
    summary="Rotate a client's webhook secret",
)
async def rotate_secret(
    client_id: str, container: ContainerDep, response: Response, body: WebhookSecretRotateIn | None = None
) -> RotateOut:
    """A new signing secret, shown once; the old one also signs until the grace period ends."""
    response.headers["Cache-Control"] = "no-store"
    grace = timedelta(seconds=(body or WebhookSecretRotateIn()).grace_seconds)
    secret, expires = await webhooks.rotate_webhook_secret(container, client_id, grace=grace)
    return RotateOut(client_id=client_id, webhook_secret=secret, previous_secret_expires_at=expires)
