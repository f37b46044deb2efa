"""The hosted checkout page citizens pay on: Vietnamese first, phone-sized, strict CSP, CSRF."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated, Any

import segno
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from app.deps import ContainerDep
from app.errors import NotFound, ProblemError
from app.i18n import strings
from app.security import constant_time_equals
from app.services.payments.checkout import CheckoutView, choose_provider, load_checkout
from app.text import display_value, format_vnd
from app.vntime import VN_TZ

router = APIRouter(prefix="/checkout", tags=["checkout"])

CSRF_COOKIE = "pb_csrf"
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    # The checkout token is in our URLs: never leak it to gateways through Referer.
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

_env = Environment(
    loader=PackageLoader("app", "templates"),
    autoescape=select_autoescape(["html"]),
    finalize=display_value,  # no bidi controls in anything shown
)
_env.filters["vnd"] = format_vnd


def _lang(request: Request) -> str:
    lang = request.query_params.get("lang", "vi")
    return lang if lang in ("vi", "en") else "vi"


def _render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    lang = _lang(request)
    other = "en" if lang == "vi" else "vi"
    html = _env.get_template(template).render(
        lang=lang, t=strings(lang), switch_url=f"{request.url.path}?lang={other}", **context
    )
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)


def _error(request: Request, exc: ProblemError) -> HTMLResponse:
    return _render(request, "error.html", status=exc.status, message=exc.detail)


async def _view(request: Request, container: ContainerDep, token: str) -> CheckoutView | HTMLResponse:
    """The checkout behind ``token``; or the error page when there is none."""
    try:
        return await load_checkout(container, token)
    except NotFound as exc:
        return _error(request, exc)


def _local(ts: str) -> str:
    return datetime.fromisoformat(ts).astimezone(VN_TZ).strftime("%H:%M %d/%m/%Y")


@router.get("/{token}", response_class=HTMLResponse, summary="Hosted checkout page")
async def checkout_page(token: str, request: Request, container: ContainerDep) -> Response:
    """The bill and the gateways the citizen can pay it with."""
    view = await _view(request, container, token)
    if isinstance(view, HTMLResponse):
        return view
    csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
    attempts = view.payment["attempts"]
    latest = attempts[-1] if attempts else None
    response = _render(
        request,
        "checkout.html",
        token=token,
        p=view.payment,
        agency_name=view.agency_name,
        providers=view.providers,
        csrf=csrf,
        expires_local=_local(view.payment["expires_at"]),
        failed_attempt=latest is not None and latest["status"] in ("failed", "cancelled"),
        processing=latest is not None and latest["status"] == "unknown",
    )
    response.set_cookie(
        CSRF_COOKIE,
        csrf,
        httponly=True,
        samesite="strict",
        secure=container.settings.public_base_url.startswith("https://"),
        path="/checkout",
        max_age=3600,
    )
    return response


@router.post("/{token}", response_class=HTMLResponse, summary="Choose a gateway")
async def choose(
    token: str,
    request: Request,
    container: ContainerDep,
    provider: Annotated[str, Form(max_length=32, description="The gateway the citizen chose")],
    csrf: Annotated[str, Form(max_length=100, description="The page's anti-forgery token (hidden field)")],
) -> Response:
    """Open an attempt at the chosen gateway and send the citizen on (CSRF-checked)."""
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if not cookie or not constant_time_equals(cookie, csrf):
        return _render(request, "error.html", status=403, message="CSRF check failed; reload the page.")
    client_ip = request.client.host if request.client else "127.0.0.1"
    try:
        payment = await choose_provider(
            container, token, provider, client_ip=client_ip, locale=_lang(request)
        )
    except ProblemError as exc:
        return _error(request, exc)
    return RedirectResponse(
        f"/checkout/{token}/go?lang={_lang(request)}&attempt={payment['attempts'][-1]['id']}", status_code=303
    )


@router.get("/{token}/go", response_class=HTMLResponse, summary="Hand-off to the gateway")
async def go(token: str, request: Request, container: ContainerDep, attempt: str = "") -> Response:
    """Redirect to the gateway's page, or show the VietQR code to scan."""
    view = await _view(request, container, token)
    if isinstance(view, HTMLResponse):
        return view
    chosen = next((a for a in view.payment["attempts"] if a["id"] == attempt), None)
    if chosen is None or view.payment["status"] != "pending":
        return RedirectResponse(f"/checkout/{token}/result?lang={_lang(request)}", status_code=303)
    if chosen["qr_payload"]:
        qr_svg = segno.make(chosen["qr_payload"], error="m").svg_inline(scale=4, border=2)
        return _render(
            request,
            "go.html",
            token=token,
            p=view.payment,
            url=None,
            qr_svg=qr_svg,
            reference=chosen["reference"],
        )
    if not chosen["checkout_url"]:
        return RedirectResponse(f"/checkout/{token}?lang={_lang(request)}", status_code=303)
    return _render(request, "go.html", token=token, p=view.payment, url=chosen["checkout_url"], qr_svg=None)


@router.get("/{token}/result", response_class=HTMLResponse, summary="Payment result page")
async def result(token: str, request: Request, container: ContainerDep) -> Response:
    """The outcome as we know it (a pending result refreshes itself while the gateway confirms)."""
    view = await _view(request, container, token)
    if isinstance(view, HTMLResponse):
        return view
    attempts = view.payment["attempts"]
    latest = attempts[-1] if attempts else None
    processing = (
        view.payment["status"] == "pending"
        and latest is not None
        and latest["status"] in ("pending", "unknown")
    )
    return _render(
        request,
        "result.html",
        token=token,
        p=view.payment,
        agency_name=view.agency_name,
        processing=processing,
    )
