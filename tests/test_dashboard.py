"""The operator dashboard: login and session, the KPI page, operations lists, redelivery, a browser run."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from app.config import Settings
from app.container import Container
from app.ids import new_id
from app.main import create_app
from app.models import Attempt, Event, InboundCallback, Payment, ProviderAccount, WebhookDelivery
from app.models.money import ReconciliationRun
from tests.conftest import ADMIN_TOKEN
from tests.factories import make_account, make_client
from tests.live_server import CHROMIUM_ARGS, chromium_or_skip, live_server
from tests.support import Clock
from tests.test_reports import BILLS, DEPT, PROV, _agencies, insert_bills

KPI_2026 = "/admin/?from=2026-01-01&to=2026-12-31"


async def _dead_delivery(container: Container, client_id: str) -> str:
    """An event whose webhook delivery gave up (dead), as the dispatcher leaves it."""
    event_id = new_id("evt")
    async with container.db.transaction() as session:
        payment_id = await session.scalar(select(Payment.id).limit(1))
        session.add(
            Event(
                id=event_id,
                type="payment.succeeded",
                client_id=client_id,
                payment_id=payment_id,
                data={"id": payment_id},
            )
        )
        await session.flush()
        session.add(
            WebhookDelivery(
                event_id=event_id,
                client_id=client_id,
                status="dead",
                attempts=12,
                last_status_code=500,
                last_error="HTTP 500",
            )
        )
    return event_id


async def _stuck_and_unmatched(container: Container, now: datetime) -> None:
    async with container.db.transaction() as session:
        payment_id = await session.scalar(select(Payment.id).where(Payment.status == "pending").limit(1))
        for status, age in (("unknown", 1), ("pending", 120), ("pending", 5)):
            session.add(
                Attempt(
                    id=new_id("att"),
                    payment_id=payment_id,
                    provider="vnpay",
                    reference=f"STUCK-{status}-{age}",
                    status=status,
                    amount=70_000,
                    created_at=now - timedelta(minutes=age),
                )
            )
        # As the callback pipeline leaves them: only verified, unattributable money needs review.
        for verified, verdict, ref, review, resolved in (
            (True, "not_found", "CREDIT-NF", True, None),
            (True, "amount_mismatch", "CREDIT-AM", True, None),
            (True, "not_found", "CREDIT-DONE", True, now),
            (False, "invalid_signature", "FORGED", False, None),
            (True, "accepted", "FINE", False, None),
        ):
            session.add(
                InboundCallback(
                    provider="vietqr",
                    kind="ipn",
                    method="POST",
                    verified=verified,
                    verdict=verdict,
                    reference=ref,
                    amount=123_000,
                    body=b'{"description": "' + ref.encode() + b' chuyen tien"}',
                    needs_review=review,
                    resolved_at=resolved,
                    received_at=now,
                )
            )
        account = await session.scalar(select(ProviderAccount.id).limit(1))
        session.add(
            ReconciliationRun(
                id=new_id("rec"),
                provider="sandbox",
                provider_account_id=account,
                day=date(2026, 5, 10),
                file_sha256="ab" * 32,
                filename="sandbox-2026-05-10.csv",
                row_count=3,
                counts={"matched": 2, "missing_here": 1},
                created_at=now,
            )
        )


@pytest.fixture
async def setup(
    client: httpx.AsyncClient, app: FastAPI, admin_headers: dict[str, str], clock: Clock
) -> dict[str, Any]:
    await _agencies(client, admin_headers)
    await client.put(
        f"/admin/v1/agencies/{PROV}/targets/2026", json={"online_payment_rate": "0.30"}, headers=admin_headers
    )
    _, client_id, _ = await make_client(
        client,
        admin_headers,
        agency_codes=[PROV],
        webhook_url="https://portal.example.gov.vn/hooks",
        name="Cổng DVC tỉnh",
    )
    await make_account(client, admin_headers, "sandbox", agency_code=PROV)
    container: Container = app.state.container
    await insert_bills(container, client_id, BILLS)
    event_id = await _dead_delivery(container, client_id)
    await _stuck_and_unmatched(container, clock())
    return {"client_id": client_id, "event_id": event_id}


async def _login(client: httpx.AsyncClient, token: str = ADMIN_TOKEN) -> httpx.Response:
    form = await client.get("/admin/login")
    assert form.status_code == 200
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None
    return await client.post("/admin/login", data={"token": token, "csrf": csrf.group(1)})


def _csrf(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


async def test_pages_need_a_session(client: httpx.AsyncClient) -> None:
    pages = ("/admin/", "/admin/payments", "/admin/attempts", "/admin/webhooks", "/admin/credits")
    for path in (*pages, "/admin/reconciliation"):
        r = await client.get(path)
        assert r.status_code == 303 and r.headers["location"] == "/admin/login", path
    client.cookies.set("pb_admin_session", "1700000000.abc.forged", path="/admin")
    assert (await client.get("/admin/")).status_code == 303


async def test_login_sets_a_strict_session_cookie(client: httpx.AsyncClient, clock: Clock) -> None:
    r = await _login(client, "wrong-token")
    assert r.status_code == 303 and r.headers["location"] == "/admin/login?error=token"
    assert "pb_admin_session" not in r.headers.get("set-cookie", "")
    r = await client.post("/admin/login", data={"token": ADMIN_TOKEN, "csrf": "not-the-cookie"})
    assert r.headers["location"] == "/admin/login?error=csrf"
    r = await _login(client)
    assert r.status_code == 303 and r.headers["location"] == "/admin/"
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("pb_admin_session="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/admin" in cookie
    assert ADMIN_TOKEN not in cookie
    page = await client.get(KPI_2026)
    assert page.status_code == 200
    assert page.headers["x-frame-options"] == "DENY"
    assert "script-src" not in page.headers["content-security-policy"]
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "<script" not in page.text
    clock.advance(hours=9)  # sessions last 8 hours
    assert (await client.get(KPI_2026)).status_code == 303


async def test_secure_cookie_behind_https(settings_factory: Callable[..., Settings], clock: Clock) -> None:
    application = create_app(
        settings_factory(public_base_url="https://pay.example.gov.vn"), clock=clock, start_workers=False
    )
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="https://pay.example.gov.vn") as c:
            r = await _login(c)
            assert "Secure" in next(x for x in r.headers.get_list("set-cookie") if "pb_admin_session" in x)


async def test_login_off_without_admin_token(settings_factory: Callable[..., Settings]) -> None:
    application = create_app(settings_factory(admin_token=""), start_workers=False)
    async with (
        application.router.lifespan_context(application),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://t") as c,
    ):
        r = await c.get("/admin/login")
        assert r.status_code == 503 and "PAYBRIDGE_ADMIN_TOKEN" in r.text
        c.cookies.set("pb_admin_session", "x.y.z", path="/admin")
        assert (await c.get("/admin/")).status_code == 303


async def test_kpi_page_table_chart_and_sorting(client: httpx.AsyncClient, setup: dict[str, Any]) -> None:
    await _login(client)
    page = await client.get(KPI_2026 + f"&agency_code={PROV}&sort=online_rate&dir=desc")
    assert page.status_code == 200
    wide = page.text.split('data-testid="kpi-chart"')[1].split("</svg>")[0]
    narrow = page.text.split('data-testid="kpi-chart-narrow"')[1].split("</svg>")[0]
    for chart in (wide, narrow):  # the desktop chart and the phone one show the same bars
        assert chart.count('class="bar"') == 3
        assert chart.count('class="target"') == 3  # every row has a target (own or inherited)
    body = page.text.split("<tbody>")[1].split("</tbody>")[0]
    order = re.findall(r"<tr>\s*<td>(?:<a [^>]*>)?([0-9A-Z.]+)", body)
    assert order == [PROV, DEPT, "000.00.41.H99"]  # 100%, 62.5%, 33.3%
    assert "58,3%" in page.text and "400.000 ₫" in page.text  # the total row
    asc = await client.get(KPI_2026 + f"&agency_code={PROV}&sort=online_rate&dir=asc")
    assert (
        re.findall(r"<tr>\s*<td>(?:<a [^>]*>)?([0-9A-Z.]+)", asc.text.split("<tbody>")[1])[0]
        == "000.00.41.H99"
    )
    bad = await client.get("/admin/?from=2026-05-01&to=2026-01-01")
    assert bad.status_code == 200 and 'class="error"' in bad.text


async def test_operations_lists(client: httpx.AsyncClient, setup: dict[str, Any]) -> None:
    await _login(client)
    payments = await client.get("/admin/payments", params={"status": "pending", "agency_code": DEPT})
    rows = payments.text.split("<tbody>")[1].split("</tbody>")[0].count("<tr data-payment=")
    assert rows == 2  # the department's two pending bills (one of them exempt)
    offline = await client.get("/admin/payments", params={"channel": "offline"})
    assert offline.text.split("<tbody>")[1].count("<tr data-payment=") == 2
    assert offline.text.count(">Tại quầy<") == 2  # the channel in Vietnamese
    attempts = await client.get("/admin/attempts")
    assert "STUCK-unknown-1" in attempts.text and "STUCK-pending-120" in attempts.text
    assert "STUCK-pending-5" not in attempts.text
    credits = await client.get("/admin/credits")
    assert "CREDIT-NF" in credits.text and "CREDIT-AM" in credits.text
    assert "CREDIT-NF chuyen tien" in credits.text
    assert "FORGED" not in credits.text and "FINE" not in credits.text and "CREDIT-DONE" not in credits.text
    runs = await client.get("/admin/reconciliation")
    assert "sandbox-2026-05-10.csv" in runs.text and "Cổng có, hệ thống chưa ghi nhận: 1" in runs.text


async def test_redeliver_needs_csrf_then_makes_the_delivery_due(
    client: httpx.AsyncClient, app: FastAPI, setup: dict[str, Any]
) -> None:
    await _login(client)
    page = await client.get("/admin/webhooks")
    assert setup["event_id"] in page.text and "Cổng DVC tỉnh" in page.text
    url = f"/admin/webhooks/{setup['event_id']}/redeliver"
    assert (await client.post(url, data={"csrf": "forged"})).status_code == 403
    status = await _delivery_status(app, setup["event_id"])
    assert status == "dead"
    r = await client.post(url, data={"csrf": _csrf(page)})
    assert r.status_code == 303
    assert await _delivery_status(app, setup["event_id"]) == "pending"
    after = await client.get(r.headers["location"])
    assert 'data-testid="redelivered"' in after.text and f'data-event="{setup["event_id"]}"' not in after.text
    missing = await client.post("/admin/webhooks/evt_missing/redeliver", data={"csrf": _csrf(page)})
    assert missing.status_code == 200 and 'class="error"' in missing.text


async def test_logout(client: httpx.AsyncClient) -> None:
    await _login(client)
    page = await client.get(KPI_2026)
    r = await client.post("/admin/logout", data={"csrf": _csrf(page)})
    assert r.status_code == 303
    assert (await client.get(KPI_2026)).status_code == 303


async def _delivery_status(app: FastAPI, event_id: str) -> str | None:
    async with app.state.container.db.session() as session:
        status: str | None = await session.scalar(
            select(WebhookDelivery.status).where(WebhookDelivery.event_id == event_id)
        )
        return status


@pytest.mark.browser
async def test_browser_login_chart_and_redeliver(
    app: FastAPI, settings: Settings, setup: dict[str, Any]
) -> None:
    executable = chromium_or_skip()
    from playwright.async_api import async_playwright

    live_app = create_app(settings, start_workers=False)
    with live_server(live_app) as base:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
            try:
                page = await browser.new_page()
                errors: list[str] = []
                page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
                await page.goto(base + "/admin/")
                assert page.url.endswith("/admin/login")
                await page.fill("#token", ADMIN_TOKEN)
                await page.click("button[type=submit]")
                await page.wait_for_url(base + "/admin/")
                await page.goto(base + KPI_2026 + f"&agency_code={PROV}")
                chart = page.get_by_test_id("kpi-chart")
                assert await chart.is_visible()
                assert await chart.locator("rect.bar").count() == 3
                assert await page.get_by_test_id("total-rate").inner_text() == "58,3%"
                await page.click("text=Webhook lỗi")
                row = page.locator(f'tr[data-event="{setup["event_id"]}"]')
                await row.get_by_test_id("redeliver").click()
                await page.get_by_test_id("redelivered").wait_for()
                assert await page.locator(f'tr[data-event="{setup["event_id"]}"]').count() == 0
                assert errors == []  # nothing refused by the CSP, no broken asset
            finally:
                await browser.close()
    assert await _delivery_status(app, setup["event_id"]) == "pending"
