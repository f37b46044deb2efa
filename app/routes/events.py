"""Client API: the event feed (`GET /v1/events`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from app.deps import ContainerDep, CurrentClient
from app.services.notifications.event_feed import DEFAULT_LIMIT, MAX_LIMIT, list_events

router = APIRouter(prefix="/v1", tags=["events"])


class EventOut(BaseModel):
    id: str = Field(examples=["evt_01JD3Z6Q7W8X9Y0Z1A2B3C4D5E"])
    type: str = Field(examples=["payment.succeeded"])
    created_at: str = Field(description="RFC 3339, UTC", examples=["2026-11-21T03:00:00+00:00"])
    data: dict[str, Any] = Field(description="The resource as `GET` returned it when the event happened.")


class EventPage(BaseModel):
    data: list[EventOut]
    next_after: str | None = Field(
        description="Pass as `after` next time: the last id here, or your `after` when nothing is new."
    )


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
