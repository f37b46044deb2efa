"""The operator dashboard on a phone and in Vietnamese: a payment's detail page (items, attempts,
callbacks, events with webhook tries, receipts, refunds), statuses in Vietnamese, and every page
fitting a 390 px wide screen without sideways scrolling of the page itself."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.config import Settings
from app.main import create_app
from tests.conftest import ADMIN_TOKEN
from tests.factories import World, make_world
from tests.live_server import CHROMIUM_ARGS, chromium_or_skip, live_server
from tests.test_refunds import paid, refund


async def _login(client: httpx.AsyncClient) -> None:
    form = await client.get("/admin/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None
    r = await client.post("/admin/login", data={"token": ADMIN_TOKEN, "csrf": csrf.group(1)})
    assert r.status_code == 303


@pytest.fixture
async def story(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> dict[str, Any]:
    """A payment paid in the sandbox, with its receipts issued and a partial refund asked for."""
    world: World = await make_world(client, admin_headers, webhook_url="https://portal.example.gov.vn/hooks")
    payment = await paid(client, world)
    assert (
        await client.get(f"/v1/payments/{payment['id']}/receipt", headers=world.headers)
    ).status_code == 200
    r = await refund(client, world, payment["id"], 10000, reason="Nộp thừa")
    assert r.status_code in (201, 202), r.text
    return {"payment": payment, "refund": r.json(), "world": world}


async def test_payment_detail_shows_every_part(client: httpx.AsyncClient, story: dict[str, Any]) -> None:
    await _login(client)
    payment = story["payment"]
    listing = await client.get("/admin/payments")
    assert f'href="/admin/payments/{payment["id"]}"' in listing.text
    assert "Thành công" in listing.text and ">succeeded<" not in listing.text  # statuses in Vietnamese
    page = await client.get(f"/admin/payments/{payment['id']}")
    assert page.status_code == 200
    html = page.text
    assert payment["id"] in html
    assert "2771" in html and "50.000" in html  # the item, amount in VND
    reference = payment["attempts"][0]["reference"]
    assert reference in html  # the attempt
    callbacks = html.split('data-testid="callbacks-table"')[1].split("</table>")[0]
    assert "Hợp lệ" in callbacks and "Đã ghi nhận" in callbacks  # the sandbox IPN, verified and applied
    events = html.split('data-testid="events-table"')[1].split("</table>")[0]
    assert "payment.succeeded" in events
    receipts = html.split('data-testid="receipts-table"')[1].split("</table>")[0]
    assert "Chưa lập biên lai" not in receipts and "01BLP0-001" in receipts
    refunds = html.split('data-testid="refunds-table"')[1].split("</table>")[0]
    assert story["refund"]["id"] in refunds and "Nộp thừa" in refunds and "10.000" in refunds
    assert "partially_refunded" not in refunds and "succeeded" not in refunds


async def test_unknown_payment_is_a_404_page(client: httpx.AsyncClient) -> None:
    await _login(client)
    r = await client.get("/admin/payments/pay_doesnotexist")
    assert r.status_code == 404 and "Không tìm thấy giao dịch" in r.text
    assert (await client.get("/admin/payments/pay_x%3Cscript%3E")).status_code == 422


async def test_detail_needs_a_session(client: httpx.AsyncClient, story: dict[str, Any]) -> None:
    r = await client.get(f"/admin/payments/{story['payment']['id']}")
    assert r.status_code == 303 and r.headers["location"] == "/admin/login"


@pytest.mark.browser
async def test_phone_390px_every_page_fits_and_detail_opens(
    app: FastAPI, settings: Settings, story: dict[str, Any]
) -> None:
    executable = chromium_or_skip()
    from playwright.async_api import async_playwright

    payment_id = story["payment"]["id"]
    with live_server(create_app(settings, start_workers=False)) as base:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
            try:
                page = await browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2)
                errors: list[str] = []
                page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
                await page.goto(base + "/admin/login")
                await page.fill("#token", ADMIN_TOKEN)
                await page.click("button[type=submit]")
                await page.wait_for_url(base + "/admin/")
                for path in (
                    "/admin/",
                    "/admin/payments",
                    "/admin/attempts",
                    "/admin/webhooks",
                    "/admin/credits",
                    "/admin/reconciliation",
                    f"/admin/payments/{payment_id}",
                ):
                    await page.goto(base + path)
                    width = await page.evaluate("document.documentElement.scrollWidth")
                    assert width <= 390, f"{path} is {width} px wide on a 390 px screen"
                # The KPI chart: the phone variant is shown, within the screen.
                await page.goto(base + "/admin/?from=2026-01-01&to=2026-12-31")
                narrow = page.get_by_test_id("kpi-chart-narrow")
                if await narrow.count():
                    assert await narrow.is_visible()
                    assert not await page.get_by_test_id("kpi-chart").is_visible()
                    box = await narrow.bounding_box()
                    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
                # A payment row opens its detail.
                await page.goto(base + "/admin/payments")
                await page.locator(f'tr[data-payment="{payment_id}"] a').click()
                await page.wait_for_url(base + f"/admin/payments/{payment_id}")
                assert payment_id in await page.get_by_test_id("payment-title").inner_text()
                status = await page.get_by_test_id("payment-status").inner_text()
                assert status == "Hoàn tiền một phần"  # paid 50,000, 10,000 refunded
                await page.screenshot(path="/tmp/dashboard-390.png", full_page=True)
                assert errors == []
            finally:
                await browser.close()
