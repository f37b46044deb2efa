"""Client API: payments."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response

from app.deps import ContainerDep, CurrentClient, container_of
from app.errors import NotFound
from app.routes.docs import AUTH_PROBLEMS, problems
from app.schemas.payments import AttemptCreate, OfflineCreate, PaymentCreate, PaymentList, PaymentOut
from app.services.payments import lifecycle as service
from app.services.payments import views as payment_views
from app.stores import pool_of

router = APIRouter(prefix="/v1/payments", tags=["payments"])

PaymentStatus = Literal["pending", "succeeded", "partially_refunded", "refunded", "expired", "cancelled"]


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else "127.0.0.1"


@router.post(
    "",
    status_code=201,
    response_model=PaymentOut,
    summary="Create a payment for a bill",
    responses={
        201: {"description": "Created (or, with `Idempotent-Replayed: true`, the first response again)"},
        **problems(
            {
                **AUTH_PROBLEMS,
                400: "`idempotency_key_missing`: no Idempotency-Key header; `bad_request`: malformed key.",
                409: "`duplicate_bill`: an open or paid payment exists for this (agency, dossier, bill) — "
                "`payment_id` names it; `idempotency_request_in_progress`: the first request with this key "
                "is still running.",
                422: "`validation_error` (fields in `errors`; items that do not add up, amounts out of "
                "bounds, agency outside your scope); `revenue_type_unknown`: a code unknown or not in "
                "force today; `idempotency_key_reused`: same key, different body; `provider_unavailable`: "
                "no account for that gateway at this agency.",
            }
        ),
    },
)
async def create_payment(
    body: PaymentCreate,
    request: Request,
    principal: CurrentClient,
    container: ContainerDep,
    idempotency_key: Annotated[
        str | None,
        Header(alias="Idempotency-Key", description="1–255 printable ASCII characters; kept ≥ 24 h"),
    ] = None,
) -> Response:
    """Create the payment for a dossier's bill; a retry with the same Idempotency-Key replays the answer."""
    stored = await service.create_payment(
        container, principal, body, idempotency_key=idempotency_key, client_ip=_client_ip(request)
    )
    headers = {"Idempotent-Replayed": "true"} if stored.replayed else {}
    media = "application/json" if stored.status < 400 else "application/problem+json"
    return Response(stored.body, status_code=stored.status, media_type=media, headers=headers)


@router.get(
    "",
    response_model=PaymentList,
    summary="List payments",
    responses=problems({**AUTH_PROBLEMS, 422: "`validation_error`: bad filter or cursor."}),
)
async def list_payments(
    principal: CurrentClient,
    container: ContainerDep,
    dossier_code: str | None = None,
    status: PaymentStatus | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    """Your agencies' payments, newest first, filtered by dossier, status and creation time."""
    data, next_cursor = await service.list_payments(
        container,
        principal,
        dossier_code=dossier_code,
        status=status,
        created_from=created_from,
        created_to=created_to,
        limit=limit,
        cursor=cursor,
    )
    return {"data": data, "next_cursor": next_cursor}


@router.get(
    "/{payment_id}",
    response_model=PaymentOut,
    summary="Get a payment",
    responses=problems({**AUTH_PROBLEMS, 404: "`not_found`: no such payment among your agencies'."}),
)
async def get_payment(payment_id: str, principal: CurrentClient, request: Request) -> Response:
    """One payment with its line items and attempts."""
    container = container_of(request)  # no dependency to solve on a hot route
    # Serialised once with orjson (the resource already has PaymentOut's shape; see the schema).
    # One statement on the raw pool.
    found = await payment_views.visible_resource(
        await pool_of(container.db), payment_id, container.settings.public_base_url, principal.covers
    )
    if found is None:
        raise NotFound("No such payment.")
    resource = found
    return Response(orjson.dumps(resource), media_type="application/json")


@router.post(
    "/{payment_id}/attempts",
    status_code=201,
    response_model=PaymentOut,
    summary="Switch gateway: open a new attempt",
    responses=problems(
        {
            **AUTH_PROBLEMS,
            404: "`not_found`: no such payment among your agencies'.",
            409: "`invalid_state`: the payment is no longer pending.",
            422: "`provider_unavailable`: no account for that gateway; `validation_error`: unknown provider.",
        }
    ),
)
async def add_attempt(
    payment_id: str, body: AttemptCreate, request: Request, principal: CurrentClient, container: ContainerDep
) -> dict[str, Any]:
    """Open an attempt at another gateway; the answer carries its checkout URL or QR payload."""
    return await service.add_attempt(
        container, principal, payment_id, body.provider, client_ip=_client_ip(request)
    )


@router.post(
    "/{payment_id}/cancel",
    response_model=PaymentOut,
    summary="Cancel a pending payment",
    responses=problems(
        {
            **AUTH_PROBLEMS,
            404: "`not_found`: no such payment among your agencies'.",
            409: "`invalid_state`: the payment is no longer pending.",
        }
    ),
)
async def cancel_payment(
    payment_id: str, principal: CurrentClient, container: ContainerDep
) -> dict[str, Any]:
    """Cancel a pending payment (a gateway success that still arrives is accepted and flagged late)."""
    return await service.cancel_payment(container, principal, payment_id)


@router.post(
    "/{payment_id}/offline",
    response_model=PaymentOut,
    summary="Record a payment collected at the counter",
    responses=problems(
        {
            **AUTH_PROBLEMS,
            404: "`not_found`: no such payment among your agencies'.",
            409: "`invalid_state`: the payment is no longer pending.",
            422: "`validation_error`: bad method or paid_at.",
        }
    ),
)
async def record_offline(
    payment_id: str, body: OfflineCreate, principal: CurrentClient, container: ContainerDep
) -> dict[str, Any]:
    """Mark a pending payment paid at the counter (cash, bank transfer, POS): paid, not online."""
    return await service.record_offline(container, principal, payment_id, body)
