"""The operator dashboard (HTML, Vietnamese): login with the operator token, KPI table and chart,
recent payments, stuck attempts, dead webhooks (redeliver), unmatched bank credits, reconciliation runs.

No script at all: a strict CSP, sorting and filters as query parameters, the chart as inline SVG.
A session is an HttpOnly, SameSite=Strict cookie holding a signed, expiring token; every POST
carries a CSRF token (double-submit before login, bound to the session after).
"""

from __future__ import annotations

import secrets
from datetime import date, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.exceptions import HTTPException

from app.deps import ContainerDep
from app.errors import ProblemError
from app.i18n import status_vi
from app.services.operations import jobs as job_service
from app.services.reporting import dashboard as service
from app.services.reporting import reports
from app.services.reporting.payment_detail import payment_detail
from app.text import display_value, format_vnd
from app.vntime import VN_TZ

router = APIRouter(prefix="/admin", tags=["admin"], include_in_schema=False)

SESSION_COOKIE = "pb_admin_session"
LOGIN_CSRF_COOKIE = "pb_admin_login"
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
SORT_KEYS = {
    "code": lambda r: r.key,
    "name": lambda r: r.name,
    "bills_with_fee": lambda r: r.figures.bills_with_fee,
    "bills_paid": lambda r: r.figures.bills_paid,
    "bills_paid_online": lambda r: r.figures.bills_paid_online,
    "online_rate": lambda r: r.figures.online_rate if r.figures.online_rate is not None else -1.0,
    "amount_paid": lambda r: r.figures.amount_paid,
    "amount_paid_online": lambda r: r.figures.amount_paid_online,
}

_env = Environment(
    loader=PackageLoader("app", "templates"),
    autoescape=select_autoescape(["html"]),
    finalize=display_value,  # no bidi controls in anything shown
)
_env.filters["vnd"] = format_vnd


def _local(value: datetime | None) -> str:
    return value.astimezone(VN_TZ).strftime("%d/%m/%Y %H:%M") if value else ""


def _pct(value: float | None) -> str:
    return f"{value * 100:.1f}%".replace(".", ",") if value is not None else "—"


_env.filters["local"] = _local
_env.filters["pct"] = _pct
_env.filters["vi"] = status_vi


def _secure(request: Request) -> bool:
    container = request.app.state.container
    return bool(container.settings.public_base_url.startswith("https://") or request.url.scheme == "https")


def _render(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = _env.get_template(f"dashboard/{template}").render(**context)
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)


async def operator_session(request: Request, container: ContainerDep) -> str:
    """The session nonce; without a valid session, a redirect to the login form."""
    nonce = await service.verify_session(container, request.cookies.get(SESSION_COOKIE))
    if nonce is None:
        raise HTTPException(303, "Log in first.", headers={"Location": "/admin/login"})
    return nonce


Session = Annotated[str, Depends(operator_session)]


def _page(template: str, container: ContainerDep, nonce: str, active: str, **context: Any) -> HTMLResponse:
    return _render(template, csrf=service.csrf_token(container, nonce), active=active, **context)


# ---------------------------------------------------------------------------- login


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, container: ContainerDep) -> Response:
    """The login form (a fresh CSRF cookie for it)."""
    if not container.settings.admin_token.get_secret_value():
        return _render("login.html", status=503, disabled=True, csrf="")
    csrf = secrets.token_urlsafe(24)
    response = _render("login.html", csrf=csrf, error=request.query_params.get("error"))
    response.set_cookie(
        LOGIN_CSRF_COOKIE, csrf, httponly=True, samesite="strict", secure=_secure(request), path="/admin"
    )
    return response


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    container: ContainerDep,
    token: Annotated[str, Form(max_length=512)],
    csrf: Annotated[str, Form(max_length=100)],
) -> Response:
    """Check the operator token; on success a session cookie and the dashboard."""
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not secrets.compare_digest(cookie.encode(), csrf.encode()):
        return RedirectResponse("/admin/login?error=csrf", status_code=303)
    if not service.check_operator_token(container, token):
        # Only failures are braked (the operator's brake): the right token always logs in.
        try:
            container.operator_limiter.refuse(request.client.host if request.client else "unknown")
        except ProblemError:
            return RedirectResponse("/admin/login?error=rate", status_code=303)
        return RedirectResponse("/admin/login?error=token", status_code=303)
    response = RedirectResponse("/admin/", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        await service.issue_session(container),
        max_age=int(service.SESSION_TTL.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        path="/admin",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/admin")
    return response


@router.post("/logout")
async def logout(
    container: ContainerDep, nonce: Session, csrf: Annotated[str, Form(max_length=100)]
) -> Response:
    """End the session, server-side: a saved copy of the cookie no longer works."""
    response = RedirectResponse("/admin/login", status_code=303)
    if service.check_csrf(container, nonce, csrf):
        await service.end_session(container, nonce)
        response.delete_cookie(SESSION_COOKIE, path="/admin")
    return response


# ---------------------------------------------------------------------------- KPI


def _default_period(today: date) -> tuple[date, date]:
    return date(today.year, 1, 1), today


def _chart(rows: list[reports.ReportRow]) -> dict[str, Any]:
    """Geometry of the horizontal bar chart: online rate per agency, a tick at its target."""
    left, width, bar, gap = 180, 420, 18, 8
    bars = []
    for index, row in enumerate(rows):
        rate = row.figures.online_rate or 0.0
        target = float(row.target_rate) if row.target_rate is not None else None
        y = 10 + index * (bar + gap)
        bars.append(
            {
                "label": row.name if len(row.name) <= 28 else row.name[:27] + "…",
                "y": y,
                "text_y": y + bar - 4,
                "width": round(rate * width, 1),
                "rate": _pct(row.figures.online_rate),
                "target_x": round(left + target * width, 1) if target is not None else None,
                "ok": row.meets_target,
            }
        )
    height = 20 + len(rows) * (bar + gap)
    return {
        "left": left,
        "width": width,
        "bar": bar,
        "height": height,
        "bars": bars,
        "total": left + width + 70,
        "narrow": _narrow_chart(rows),
    }


def _narrow_chart(rows: list[reports.ReportRow]) -> dict[str, Any]:
    """The same chart for a phone (shown below 640 px): each agency's name above its bar, 340 px wide."""
    width, bar, row_height = 270, 14, 40
    bars = []
    for index, row in enumerate(rows):
        rate = row.figures.online_rate or 0.0
        target = float(row.target_rate) if row.target_rate is not None else None
        top = 6 + index * row_height
        bars.append(
            {
                "label": row.name if len(row.name) <= 44 else row.name[:43] + "…",
                "label_y": top + 12,
                "y": top + 18,
                "text_y": top + 18 + bar - 3,
                "width": round(rate * width, 1),
                "rate": _pct(row.figures.online_rate),
                "target_x": round(target * width, 1) if target is not None else None,
                "ok": row.meets_target,
            }
        )
    return {"width": width, "bar": bar, "height": 10 + len(rows) * row_height, "bars": bars, "total": 340}


@router.get("/", response_class=HTMLResponse)
async def kpi(
    container: ContainerDep,
    nonce: Session,
    from_: Annotated[date | None, Query(alias="from")] = None,
    to: date | None = None,
    agency_code: Annotated[str | None, Query(max_length=64)] = None,
    sort: str = "code",
    dir: str = "asc",
) -> Response:
    """KPI: online rate against target per agency, rolled up, sortable, with a bar chart."""
    start, end = _default_period(container.clock().astimezone(VN_TZ).date())
    start, end = from_ or start, to or end
    error = None
    try:
        report = await reports.online_payment_report(
            container.db, start=start, end=end, agency_code=agency_code or None, group_by="agency"
        )
    except ProblemError as exc:
        error, report = exc.detail, None
    rows = list(report.rows) if report else []
    key = SORT_KEYS.get(sort, SORT_KEYS["code"])
    rows.sort(key=key, reverse=dir == "desc")
    base = {"from": start.isoformat(), "to": end.isoformat(), "agency_code": agency_code or ""}

    def sort_url(column: str) -> str:
        flip = "desc" if column == sort and dir == "asc" else "asc"
        return "/admin/?" + urlencode({**base, "sort": column, "dir": flip})

    return _page(
        "kpi.html",
        container,
        nonce,
        "kpi",
        report=report,
        rows=rows,
        chart=_chart(rows),
        error=error,
        start=start,
        end=end,
        agency_code=agency_code or "",
        sort=sort,
        dir=dir,
        sort_url=sort_url,
        drill=lambda code: "/admin/?" + urlencode({**base, "agency_code": code}),
    )


# ---------------------------------------------------------------------------- operations


@router.get("/payments", response_class=HTMLResponse)
async def payments(
    container: ContainerDep,
    nonce: Session,
    status: Annotated[str | None, Query(max_length=24)] = None,
    channel: Annotated[str | None, Query(max_length=16)] = None,
    agency_code: Annotated[str | None, Query(max_length=64)] = None,
    dossier_code: Annotated[str | None, Query(max_length=100)] = None,
    provider: Annotated[str | None, Query(max_length=32)] = None,
) -> Response:
    """The newest payments, filtered."""
    filters = service.PaymentFilters(
        status=status or None,
        channel=channel or None,
        agency_code=agency_code or None,
        dossier_code=dossier_code or None,
        provider=provider or None,
    )
    items = await service.recent_payments(container, filters)
    return _page(
        "payments.html",
        container,
        nonce,
        "payments",
        items=items,
        f=filters,
        statuses=service.PAYMENT_STATUSES,
    )


@router.get("/attempts", response_class=HTMLResponse)
async def attempts(container: ContainerDep, nonce: Session) -> Response:
    """Attempts stuck in pending or unknown."""
    items = await service.stuck_attempts(container)
    minutes = int(service.STUCK_AFTER.total_seconds() // 60)
    return _page("attempts.html", container, nonce, "attempts", items=items, minutes=minutes)


@router.get("/webhooks", response_class=HTMLResponse)
async def dead_webhooks(container: ContainerDep, nonce: Session, done: str | None = None) -> Response:
    """Dead webhook deliveries, each with a redeliver button."""
    items = await service.dead_deliveries(container)
    return _page("webhooks.html", container, nonce, "webhooks", items=items, done=done)


@router.post("/webhooks/{event_id}/redeliver")
async def redeliver(
    event_id: str, container: ContainerDep, nonce: Session, csrf: Annotated[str, Form(max_length=100)]
) -> Response:
    """Redeliver a dead event (CSRF-checked), then back to the list."""
    if not service.check_csrf(container, nonce, csrf):
        return _page("webhooks.html", container, nonce, "webhooks", items=[], error="csrf", status=403)
    try:
        await service.redeliver(container, event_id)
    except ProblemError as exc:
        items = await service.dead_deliveries(container)
        return _page("webhooks.html", container, nonce, "webhooks", items=items, error=exc.detail)
    return RedirectResponse("/admin/webhooks?" + urlencode({"done": event_id}), status_code=303)


@router.get("/credits", response_class=HTMLResponse)
async def credits(container: ContainerDep, nonce: Session) -> Response:
    """Verified bank credits and gateway notifications that matched no bill or the wrong amount."""
    items = await service.unmatched_credits(container)
    return _page("credits.html", container, nonce, "credits", items=items)


@router.get("/reconciliation", response_class=HTMLResponse)
async def reconciliation_runs(container: ContainerDep, nonce: Session) -> Response:
    """Reconciliation runs: each gateway file compared with our records, with its counts."""
    runs = await service.reconciliation_runs(container)
    return _page("reconciliation.html", container, nonce, "reconciliation", runs=runs)


@router.get("/payments/{payment_id}", response_class=HTMLResponse)
async def payment_page(
    payment_id: Annotated[str, Path(max_length=40, pattern=r"^[A-Za-z0-9_]+$")],
    container: ContainerDep,
    nonce: Session,
) -> Response:
    """One payment in full: items, attempts, callbacks, events with their webhook tries, receipts, refunds."""
    detail = await payment_detail(container, payment_id)
    status = 404 if detail is None else 200
    context = {"detail": detail, "payment_id": payment_id, "status": status}
    return _page("payment.html", container, nonce, "payments", **context)


@router.get("/jobs", response_class=HTMLResponse)
async def jobs_page(container: ContainerDep, nonce: Session) -> Response:
    """Long work (imports, reconciliation files, bulk redelivery) with progress bars; the page
    reloads itself every 2 s while one is still running."""
    items = await job_service.list_jobs(container, limit=50)
    running = any(job["status"] in ("queued", "running") for job in items)
    return _page("jobs.html", container, nonce, "jobs", items=items, running=running)
