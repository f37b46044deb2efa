"""Client API: refunds and e-receipts; operator API: confirming manual refunds."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from app.deps import AdminDep, ContainerDep, CurrentClient
from app.errors import ProblemError
from app.routes.docs import AUTH_PROBLEMS, problems
from app.schemas.refunds import ConfirmIn, RefundCreate, RefundOut
from app.services.after_payment import receipts, refunds
from app.services.after_payment.receipt_pdf import payment_method, render_pdf
from app.text import display_value, format_vnd

client_router = APIRouter(tags=["payments"])
admin_router = APIRouter(prefix="/admin/v1", tags=["admin"], dependencies=[AdminDep])

_env = Environment(
    loader=PackageLoader("app", "templates"),
    autoescape=select_autoescape(["html"]),
    finalize=display_value,  # no bidi controls in anything shown
)
_env.filters["vnd"] = format_vnd
_env.filters["local"] = receipts.local_time
_env.globals["method"] = payment_method

RECEIPT_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "Cache-Control": "private, no-store",
    "Referrer-Policy": "no-referrer",
}


class NotAcceptable(ProblemError):
    status, code, title = 406, "not_acceptable", "Not acceptable"


NOT_FOUND = "`not_found`: no such payment among your agencies'."


@client_router.post(
    "/v1/payments/{payment_id}/refunds",
    status_code=201,
    response_model=RefundOut,
    summary="Refund a paid payment",
    responses={
        201: {"description": "Created (or, with `Idempotent-Replayed: true`, the first response again)"},
        **problems(
            {
                **AUTH_PROBLEMS,
                400: "`idempotency_key_missing`: no Idempotency-Key header; `bad_request`: malformed key.",
                404: NOT_FOUND,
                409: "`refund_not_allowed`: the payment is not paid, or was collected at the counter; "
                "`idempotency_request_in_progress`: the first request with this key is still running.",
                422: "`refund_exceeds_remaining`: more than what remains unrefunded (`remaining` says how "
                "much does; `errors[0].field` is `amount`); `validation_error`: bad amount or reason; "
                "`idempotency_key_reused`: same key, different body.",
            }
        ),
    },
)
async def create_refund(
    payment_id: str,
    body: RefundCreate,
    request: Request,
    principal: CurrentClient,
    container: ContainerDep,
    idempotency_key: Annotated[
        str | None,
        Header(alias="Idempotency-Key", description="1–255 printable ASCII characters; kept ≥ 24 h"),
    ] = None,
) -> Response:
    """Refund all or part of a paid payment through its gateway (or manually where it has no refund API)."""
    stored = await refunds.create_refund(
        container,
        principal,
        payment_id,
        refunds.RefundAsk(amount=body.amount, reason=body.reason),
        idempotency_key=idempotency_key,
        client_ip=request.client.host if request.client else "127.0.0.1",
    )
    headers = {"Idempotent-Replayed": "true"} if stored.replayed else {}
    media = "application/json" if stored.status < 400 else "application/problem+json"
    return Response(stored.body, status_code=stored.status, media_type=media, headers=headers)


@client_router.get(
    "/v1/refunds/{refund_id}",
    response_model=RefundOut,
    summary="Get a refund",
    responses=problems({**AUTH_PROBLEMS, 404: "`not_found`: no such refund among your agencies'."}),
)
async def get_refund(refund_id: str, principal: CurrentClient, container: ContainerDep) -> dict[str, Any]:
    """One refund and where its payment stands."""
    return await refunds.get_refund(container, principal, refund_id)


_OFFERED = ("application/json", "application/pdf", "text/html")


def _negotiate(accept: str | None) -> str:
    """The best of JSON, PDF and HTML for an Accept header (JSON when none is given; ties: first listed)."""
    if not accept:
        return "application/json"
    best, best_q = None, 0.0
    for part in accept.split(","):
        media, *params = (p.strip().lower() for p in part.split(";"))
        q = 1.0
        for param in params:
            if param.startswith("q="):
                try:
                    q = float(param[2:])
                except ValueError:
                    q = 0.0
        if media in _OFFERED:
            choice = media
        elif media in ("*/*", "application/*"):
            choice = "application/json"
        elif media == "text/*":
            choice = "text/html"
        else:
            continue
        if q > best_q:
            best, best_q = choice, q
    if best is None:
        raise NotAcceptable("This receipt is available as application/json, application/pdf or text/html.")
    return best


@client_router.get(
    "/v1/payments/{payment_id}/receipt",
    summary="E-receipt (biên lai điện tử) of a paid payment",
    responses={
        200: {
            "description": "One receipt per kind of revenue (phí, lệ phí, …), numbered in the agency's "
            "series.",
            "content": {"application/json": {}, "application/pdf": {}, "text/html": {}},
        },
        **problems(
            {
                **AUTH_PROBLEMS,
                404: NOT_FOUND,
                406: "`not_acceptable`: ask for application/json, application/pdf or text/html.",
                409: "`receipt_unavailable`: the payment is not paid.",
            }
        ),
    },
)
async def get_receipt(
    payment_id: str,
    principal: CurrentClient,
    container: ContainerDep,
    accept: Annotated[
        str | None, Header(description="application/json (default), application/pdf, text/html")
    ] = None,
) -> Response:
    """The payment's e-receipts as JSON, PDF or HTML (issued on first request, the same ever after)."""
    media = _negotiate(accept)
    bundle = await receipts.get_receipts(container, principal, payment_id)
    if media == "application/pdf":
        pdf = await asyncio.to_thread(render_pdf, bundle)
        disposition = f'inline; filename="bien-lai-{payment_id}.pdf"'
        return Response(pdf, media_type="application/pdf", headers={"Content-Disposition": disposition})
    if media == "text/html":
        html = _env.get_template("receipt.html").render(bundle=bundle)
        return HTMLResponse(html, headers=RECEIPT_HEADERS)
    return Response(orjson.dumps(bundle), media_type="application/json")


@client_router.get(
    "/v1/payments/{payment_id}/receipt/gateway",
    summary="The gateway's own receipt file",
    response_class=Response,
    responses={
        200: {"description": "The PDF the gateway issued", "content": {"application/pdf": {}}},
        **problems(
            {**AUTH_PROBLEMS, 404: "`not_found`: no such payment, or the gateway sent no receipt file."}
        ),
    },
)
async def get_gateway_receipt(payment_id: str, principal: CurrentClient, container: ContainerDep) -> Response:
    """The receipt PDF that the gateway itself issued (DVCQG GET_BILL), when it sent a file."""
    pdf = await receipts.gateway_receipt_pdf(container, principal, payment_id)
    return Response(pdf, media_type="application/pdf")


@admin_router.post(
    "/refunds/{refund_id}/confirm",
    response_model=RefundOut,
    summary="Confirm a manual refund",
    responses=problems(
        {
            401: "`unauthorized`: missing or wrong operator token.",
            404: "`not_found`: no such refund.",
            409: "`refund_not_confirmable`: not an open manual refund (nor a gateway refund left unknown).",
            503: "`admin_disabled`: PAYBRIDGE_ADMIN_TOKEN is not set.",
        }
    ),
)
async def confirm_refund(refund_id: str, body: ConfirmIn, container: ContainerDep) -> dict[str, Any]:
    """Record that a manual refund was paid out (or not) — for gateways without a refund API."""
    return await refunds.confirm_manual(container, refund_id, succeeded=body.succeeded, note=body.note)
