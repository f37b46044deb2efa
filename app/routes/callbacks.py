"""Gateway-facing endpoints: IPN callbacks and browser returns, in each gateway's own format."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.adapters.base import InboundRequest
from app.adapters.registry import PROVIDERS
from app.deps import ContainerDep, container_of
from app.errors import NotFound
from app.services.callbacks.dvcqg_lookup import bill_lookup
from app.services.callbacks.fast import handle_callback
from app.services.callbacks.pipeline import handle_return

router = APIRouter(tags=["callbacks"])


async def _inbound(request: Request) -> InboundRequest:
    return InboundRequest(
        method=request.method,
        query_string=request.scope.get("query_string", b"").decode("latin-1"),
        headers={k.lower(): v for k, v in request.headers.items()},
        body=await request.body(),
    )


def _remote(request: Request) -> str | None:
    return request.client.host if request.client else None


# Our account ids are ``pa_`` + a ULID; anything else cannot name an account (and must not reach
# the database as is: a NUL byte or 10 KB of path is refused by PostgreSQL, not by us).
_ACCOUNT_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")
MALFORMED_ACCOUNT = "malformed"


class UnknownGateway(NotFound):
    code, title = "unknown_gateway", "Unknown gateway"


def _checked(provider: str, account_id: str) -> str:
    """The account id to look up and store; an unknown gateway has no protocol to answer in: 404."""
    if provider not in PROVIDERS:
        raise UnknownGateway(
            f"No gateway {provider[:32]!r}; callbacks go to /v1/callbacks/{{provider}}/{{account}}."
        )
    return account_id if _ACCOUNT_ID.fullmatch(account_id) else MALFORMED_ACCOUNT


async def callback(provider: str, account_id: str, request: Request) -> Response:
    """Where a gateway notifies us: stored raw, verified, applied once, answered in its own format."""
    container = container_of(request)  # no dependency to solve on a hot route
    account_id = _checked(provider, account_id)
    reply = await handle_callback(container, provider, account_id, await _inbound(request), _remote(request))
    return Response(reply.body, status_code=reply.status_code, media_type=reply.media_type)


async def browser_return(
    provider: str, account_id: str, request: Request, container: ContainerDep
) -> Response:
    """Where a gateway sends the citizen back: verified, never final on its own; shows the result page."""
    account_id = _checked(provider, account_id)
    result = await handle_return(container, provider, account_id, await _inbound(request), _remote(request))
    if result.checkout_token is None:
        return HTMLResponse(
            "<!doctype html><meta charset='utf-8'><title>paybridge</title>"
            "<h1>Không xác minh được kết quả thanh toán</h1>"
            "<p>We could not verify this payment result. If you paid, the agency will still receive it.</p>",
            status_code=400,
        )
    return RedirectResponse(f"/checkout/{result.checkout_token}/result", status_code=303)


# The two ways a gateway comes back, each answered on GET and POST:
# (path, endpoint, operation id prefix, summary, documented answers).
_INBOUND_ROUTES: tuple[tuple[str, Callable[..., Any], str, str, dict[int | str, dict[str, Any]]], ...] = (
    (
        "/v1/callbacks/{provider}/{account_id}",
        callback,
        "gateway_callback",
        "Gateway callback (IPN)",
        {200: {"description": "The gateway's own acknowledgement format"}},
    ),
    (
        "/v1/returns/{provider}/{account_id}",
        browser_return,
        "gateway_return",
        "Browser return from a gateway",
        {303: {"description": "To the hosted result page"}, 400: {"description": "Unverifiable return"}},
    ),
)
for _method in ("GET", "POST"):
    for _path, _endpoint, _operation, _summary, _responses in _INBOUND_ROUTES:
        router.add_api_route(
            _path,
            _endpoint,
            methods=[_method],
            operation_id=f"{_operation}_{_method.lower()}",
            summary=f"{_summary}, {_method}",
            response_class=Response,
            responses=_responses,
        )


@router.post(
    "/v1/dvcqg/{account_id}/bill-lookup",
    summary="DVCQG platform: look up an unpaid bill by dossier code",
    response_class=Response,
    responses={200: {"description": "Wrapped DVCQG answer: the bill (0), unknown (-1) or already paid (-2)"}},
)
async def dvcqg_bill_lookup(account_id: str, request: Request, container: ContainerDep) -> Response:
    """The national platform pulls a bill (MaHoSo) from us; authenticated by its MaXacThuc checksum."""
    account_id = _checked("dvcqg", account_id)
    reply = await bill_lookup(container, account_id, await _inbound(request), _remote(request))
    return Response(reply.body, status_code=reply.status_code, media_type=reply.media_type)
