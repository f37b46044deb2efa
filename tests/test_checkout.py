"""The hosted checkout page: Vietnamese first, the bill, the gateways, CSRF, CSP, QR hand-off."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.factories import PROVINCE, World, create, make_account, make_world


@pytest.fixture
async def world(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> World:
    return await make_world(client, admin_headers)


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF field"
    return match.group(1)


async def test_page_shows_the_bill_in_vietnamese(client: httpx.AsyncClient, world: World) -> None:
    p = (
        await create(
            client,
            world,
            items=[
                {"revenue_type_code": "2771", "amount": 50000, "description": "Cấp bản sao trích lục"},
                {"revenue_type_code": "2716", "amount": 1234567},
            ],
        )
    ).json()
    r = await client.get(p["checkout_url"])
    assert r.status_code == 200
    html = r.text
    assert '<html lang="vi">' in html
    assert "Sở Tư pháp tỉnh Thử" in html and p["dossier_code"] in html
    assert "Cấp bản sao trích lục" in html and "Phí chứng thực" in html
    assert "1.284.567 ₫" in html  # the total, Vietnamese grouping
    assert "50.000 ₫" in html
    assert 'data-testid="provider-sandbox"' in html
    assert "Chọn phương thức thanh toán" in html
    assert 'name="viewport"' in html
    english = await client.get(p["checkout_url"] + "?lang=en")
    assert '<html lang="en">' in english.text and "Choose how to pay" in english.text


async def test_page_is_locked_down(client: httpx.AsyncClient, world: World) -> None:
    p = (await create(client, world)).json()
    r = await client.get(p["checkout_url"])
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "script-src" not in csp
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert "https://" not in re.sub(r'href="https://portal[^"]*"', "", r.text)  # no third-party resources
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    css = await client.get("/static/checkout.css")
    assert css.status_code == 200 and "max-width" in css.text


async def test_unknown_token_is_a_404_page(client: httpx.AsyncClient) -> None:
    r = await client.get("/checkout/not-a-real-token")
    assert r.status_code == 404 and "text/html" in r.headers["content-type"]


async def test_choosing_without_csrf_is_refused(client: httpx.AsyncClient, world: World) -> None:
    p = (await create(client, world)).json()
    await client.get(p["checkout_url"])
    r = await client.post(p["checkout_url"], data={"provider": "sandbox", "csrf": "forged"})
    assert r.status_code == 403
    got = (await client.get(f"/v1/payments/{p['id']}", headers=world.headers)).json()
    assert got["attempts"] == []


async def test_choose_gateway_pay_and_see_the_result(client: httpx.AsyncClient, world: World) -> None:
    p = (await create(client, world)).json()
    page = await client.get(p["checkout_url"])
    r = await client.post(p["checkout_url"], data={"provider": "sandbox", "csrf": _csrf(page.text)})
    assert r.status_code == 303 and "/go?" in r.headers["location"]
    go = await client.get(r.headers["location"])
    match = re.search(r'http-equiv="refresh" content="0;url=([^"]+)"', go.text)
    assert match, go.text
    gateway_url = match.group(1).replace("&amp;", "&")
    assert gateway_url.startswith("http://paybridge.test/sandbox/sandbox/pay?")
    await client.get(gateway_url)
    done = await client.post(gateway_url, data={"outcome": "success"})
    back = await client.get(done.headers["location"])
    result = await client.get(back.headers["location"])
    assert 'data-status="succeeded"' in result.text
    assert "Thanh toán thành công" in result.text
    assert 'href="https://portal.example.gov.vn/ho-so/123"' in result.text
    # The page of a paid bill no longer offers gateways.
    again = await client.get(p["checkout_url"])
    assert 'data-testid="provider-sandbox"' not in again.text
    assert "Thanh toán thành công" in again.text


async def test_failed_payment_can_choose_again(client: httpx.AsyncClient, world: World) -> None:
    p = (await create(client, world, provider="sandbox")).json()
    await client.get(p["checkout_url"])
    done = await client.post(p["checkout_url"], data={"outcome": "failed"})
    back = await client.get(done.headers["location"])
    result = await client.get(back.headers["location"])
    assert 'data-testid="retry"' in result.text
    page = await client.get(result.text.split('data-testid="retry"')[0].rsplit('href="', 1)[1].split('"')[0])
    assert 'data-testid="attempt-failed"' in page.text


async def test_vietqr_shows_a_qr_code(
    client: httpx.AsyncClient, world: World, admin_headers: dict[str, str]
) -> None:
    creds = {
        "bank_bin": "970436",
        "account_number": "0011001234567",
        "account_name": "KHO BAC DEMO",
        "notify_secret": "n0tify-secret-0123456789",
    }
    await make_account(client, admin_headers, "vietqr", agency_code=PROVINCE, credentials=creds)
    p = (await create(client, world)).json()
    page = await client.get(p["checkout_url"])
    assert 'data-testid="provider-vietqr"' in page.text
    r = await client.post(p["checkout_url"], data={"provider": "vietqr", "csrf": _csrf(page.text)})
    go = await client.get(r.headers["location"])
    assert "<svg" in go.text and 'data-testid="qr"' in go.text
    got = (await client.get(f"/v1/payments/{p['id']}", headers=world.headers)).json()
    assert got["attempts"][0]["reference"] in go.text
