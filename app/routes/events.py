"""Client API: the event feed (`GET /v1/events`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from app.deps import ContainerDep, CurrentClient
from app.schemas.events import EventPage
from app.services.notifications.event_feed import DEFAULT_LIMIT, MAX_LIMIT, list_events

router = APIRouter(prefix="/v1", tags=["events"])


@router.get(
    "/events",
    response_model=EventPage,
    summary="The client's events in order",
    responses={400: {"description": "`after` is not one of your events (`invalid_after`)"}},
)
async def get_events(
    principal: CurrentClient,
    container: ContainerDep,
    after: Annotated[
        str | None, Query(max_length=64, description="Return events after this event id (exclusive).")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> dict[str, Any]:
    """The same events the webhooks carry, oldest first, for portals that cannot receive webhooks."""
    # An empty `after` (a portal's first poll with an unset position) means from the start.
    page = await list_events(container, principal.client_id, after=after or None, limit=limit)
    return {"data": page.events, "next_after": page.next_after}
