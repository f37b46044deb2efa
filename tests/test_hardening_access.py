"""Access: who may call what. Missing, disabled, rotated-out and guessed keys; another client's
payment; operator routes with a client key; the brake on guessing; where return_url and webhook
URLs may point; the headers of pages a browser renders."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.errors import TooManyRequests
from app.ratelimit import FailedAuthLimiter
from app.services.notifications import url_guard, webhooks
from tests.conftest import BASE_URL
from tests.factories import OTHER_PROVINCE, PROVINCE, World, create, ensure_agencies, make_client, make_world
from tests.support import Clock, RoutingTransport


def _problem(r: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = r.json()
    if code is not None:
        assert body["code"] == code
    return body


@pytest.fixture
async def world(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> World:
    return await make_world(client, admin_headers)


async def test_missing_unknown_disabled_and_rotated_keys_are_401(
    client: httpx.AsyncClient, admin_headers: dict[str, str], world: World, clock: Clock
) -> None:
    r = await client.get("/v1/payments")
    _problem(r, 401, "unauthorized")
    assert r.headers["www-authenticate"] == "Bearer"
    _problem(await client.get("/v1/payments", headers={"Authorization": "Basic eDp5"}), 401)
    _problem(await client.get("/v1/payments", headers={"Authorization": "Bearer pbk_guess"}), 401)
    assert (await client.get("/v1/payments", headers=world.headers)).status_code == 200

    # A rotated-out key works through its grace period, then never again; the new one works.
    r = await client.post(
        f"/admin/v1/clients/{world.client_id}/keys", json={"grace_seconds": 60}, headers=admin_headers
    )
    new_headers = {"Authorization": f"Bearer {r.json()['api_key']}"}
    assert (await client.get("/v1/payments", headers=world.headers)).status_code == 200
    clock.advance(seconds=61)
    _problem(await client.get("/v1/payments", headers=world.headers), 401)
    assert (await client.get("/v1/payments", headers=new_headers)).status_code == 200

    # A disabled client is locked out with every key, and back when enabled.
    url = f"/admin/v1/clients/{world.client_id}"
    assert (await client.patch(url, json={"enabled": False}, headers=admin_headers)).status_code == 200
    _problem(await client.get("/v1/payments", headers=new_headers), 401)
    assert (await client.patch(url, json={"enabled": True}, headers=admin_headers)).status_code == 200
    assert (await client.get("/v1/payments", headers=new_headers)).status_code == 200


async def test_another_clients_payment_is_404_and_operator_routes_refuse_client_keys(
    client: httpx.AsyncClient, admin_headers: dict[str, str], world: World
) -> None:
    mine = (await create(client, world, provider="sandbox")).json()
    other_key, _, _ = await make_client(client, admin_headers, agency_codes=[OTHER_PROVINCE])
    other = {"Authorization": f"Bearer {other_key}"}
    for method, path in (
        ("GET", f"/v1/payments/{mine['id']}"),
        ("POST", f"/v1/payments/{mine['id']}/cancel"),
        ("POST", f"/v1/payments/{mine['id']}/attempts"),
        ("GET", f"/v1/payments/{mine['id']}/receipt"),
    ):
        kw: dict[str, Any] = {"json": {"provider": "sandbox"}} if path.endswith("attempts") else {}
        r = await client.request(method, path, headers=other, **kw)
        assert r.status_code == 404, (path, r.text)
        assert mine["id"] not in r.text or "No " in r.json()["detail"]
    assert (await client.get("/v1/payments", headers=other)).json()["data"] == []
    assert (await client.get(f"/v1/payments/{mine['id']}", headers=world.headers)).status_code == 200

    for method, path in (
        ("GET", "/admin/v1/clients"),
        ("POST", "/admin/v1/agencies"),
        ("GET", "/admin/v1/deliveries"),
    ):
        _problem(await client.request(method, path, headers=world.headers, json={}), 401, "unauthorized")


async def test_repeated_bad_keys_from_one_address_are_rate_limited(app: FastAPI, world: World) -> None:
    async def get(address: str, key: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as c:
            return await c.get("/v1/payments", headers={"Authorization": f"Bearer {key}"})

    limit = app.state.container.auth_limiter.limit
    for i in range(limit):
        _problem(await get("203.0.113.7", f"pbk_wrong_{i}"), 401)
    r = await get("203.0.113.7", "pbk_wrong_again")
    _problem(r, 429, "rate_limited")
    assert 1 <= int(r.headers["retry-after"]) <= 60
    # Only failures are braked: the right key from the same address (a portal behind the same NAT) passes.
    assert (await get("203.0.113.7", world.api_key)).status_code == 200
    # Other addresses are not affected.
    assert (await get("198.51.100.9", world.api_key)).status_code == 200


def test_limiter_window_slides_and_memory_is_bounded() -> None:
    now = [1000.0]
    limiter = FailedAuthLimiter(limit=3, window_seconds=60, clock=lambda: now[0])
    for _ in range(3):
        limiter.check("a")
        limiter.fail("a")
    with pytest.raises(TooManyRequests) as caught:
        limiter.check("a")
    assert caught.value.headers["Retry-After"] == "61"
    now[0] += 30
    with pytest.raises(TooManyRequests) as caught:
        limiter.check("a")
    assert caught.value.headers["Retry-After"] == "31"
    now[0] += 31
    limiter.check("a")  # the window slid past the failures
    for i in range(30_000):
        limiter.fail(f"10.0.{i // 256}.{i % 256}")
    assert len(limiter) <= limiter.max_addresses


async def test_return_url_only_to_registered_hosts(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await ensure_agencies(client, admin_headers)
    r = await client.post(
        "/admin/v1/clients",
        json={"name": "Cổng", "agency_codes": [PROVINCE], "allowed_hosts": ["portal.example.gov.vn"]},
        headers=admin_headers,
    )
    world = World(r.json()["api_key"], r.json()["id"], r.json()["webhook_secret"], "")
    for url in (
        "https://evil.example/phish",
        "https://portal.example.gov.vn.evil.example/x",
        "https://portal.example.gov.vn@evil.example/x",
        "javascript:alert(1)",
        "//evil.example/x",
        "http://portal.example.gov.vn/x",
    ):
        body = _problem(await create(client, world, return_url=url), 422, "validation_error")
        assert body["errors"][0]["field"] == "return_url", url
    assert (
        await create(client, world, return_url="https://portal.example.gov.vn/ho-so/1")
    ).status_code == 201


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/h",
        "https://10.1.2.3/h",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/h",
        "https://[::ffff:192.168.1.1]/h",
        "https://localhost/h",
        "https://100.64.0.1/h",
        "https://0.0.0.0/h",
    ],
)
async def test_webhook_url_into_a_private_network_is_refused_when_configured(
    client: httpx.AsyncClient, admin_headers: dict[str, str], app: FastAPI, url: str
) -> None:
    app.state.container.settings.allow_private_webhooks = False
    await ensure_agencies(client, admin_headers)
    body = {"name": "Cổng", "agency_codes": [PROVINCE], "webhook_url": url}
    problem = _problem(await client.post("/admin/v1/clients", json=body, headers=admin_headers), 422)
    assert problem["errors"][0]["field"] == "webhook_url"
    # Allowed on purpose (a portal inside the province network) when the setting says so.
    app.state.container.settings.allow_private_webhooks = True
    assert (await client.post("/admin/v1/clients", json=body, headers=admin_headers)).status_code == 201


async def test_webhook_host_resolving_privately_is_refused_at_configuration_and_at_send(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    app: FastAPI,
    outbound: RoutingTransport,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dns = {"portal.example.gov.vn": ["14.160.0.10"], "rebind.example": ["10.0.0.5"]}

    async def resolve(host: str) -> list[str]:
        return dns.get(host, [])

    monkeypatch.setattr(url_guard, "system_resolve", resolve)
    container = app.state.container
    container.settings.allow_private_webhooks = False
    await ensure_agencies(client, admin_headers)
    body = {"name": "Cổng", "agency_codes": [PROVINCE], "webhook_url": "https://rebind.example/h"}
    problem = _problem(await client.post("/admin/v1/clients", json=body, headers=admin_headers), 422)
    assert "10.0.0.5" in problem["errors"][0]["message"]

    hits: list[httpx.Request] = []

    def portal(request: httpx.Request) -> httpx.Response:
        hits.append(request)
        return httpx.Response(204)

    outbound.handle("https://portal.example.gov.vn", portal)
    world = await make_world(client, admin_headers, webhook_url="https://portal.example.gov.vn/hooks")
    payment = (await create(client, world, provider="sandbox")).json()
    assert (
        await client.post(f"/v1/payments/{payment['id']}/cancel", headers=world.headers)
    ).status_code == 200
    # The portal's name now points into our network (DNS rebinding): nothing is sent.
    dns["portal.example.gov.vn"] = ["192.168.0.10"]
    assert await webhooks.dispatch_due(container) == 1
    assert hits == []
    r = await client.get(f"/admin/v1/clients/{world.client_id}/deliveries", headers=admin_headers)
    [delivery] = r.json()["data"]
    assert delivery["status"] == "pending" and "192.168.0.10" in delivery["last_error"]
    # Back to a public address: the retry is delivered.
    dns["portal.example.gov.vn"] = ["14.160.0.10"]
    container.clock.advance(seconds=6)
    assert await webhooks.dispatch_due(container) == 1
    assert len(hits) == 1


def test_address_classification() -> None:
    for address in (
        "127.0.0.1",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "::1",
        "fc00::1",
        "fe80::1",
        "::ffff:10.0.0.1",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
    ):
        assert not url_guard.is_public_address(address), address
    for address in ("8.8.8.8", "1.1.1.1", "2001:4860:4860::8888", "14.160.0.1"):
        assert url_guard.is_public_address(address), address


# Resources a page loads or posts to (scripts, images, styles, forms) — links are navigation.
_EXTERNAL = re.compile(
    r"""(?:\bsrc|\baction|<link[^>]*\bhref)\s*=\s*["']?(?:https?:)?//(?!paybridge\.test)""", re.I
)


def _assert_locked_down(r: httpx.Response) -> None:
    csp = r.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";") if d.strip())
    assert directives["default-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    for name, value in directives.items():
        assert "http" not in value and "*" not in value, (name, value)  # no third-party origin
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] in ("no-referrer", "same-origin")
    assert not _EXTERNAL.search(r.text), _EXTERNAL.search(r.text)


async def test_hosted_pages_send_csp_and_no_third_party_resources(
    client: httpx.AsyncClient, world: World
) -> None:
    payment = (await create(client, world)).json()
    page = await client.get(payment["checkout_url"])
    assert page.status_code == 200
    _assert_locked_down(page)
    sandbox = (await create(client, world, provider="sandbox")).json()
    result = await client.get(f"/checkout/{payment['checkout_url'].rsplit('/', 1)[-1]}/result")
    if result.status_code == 200:
        _assert_locked_down(result)
    assert sandbox["checkout_url"]


async def test_operator_dashboard_sends_csp(client: httpx.AsyncClient) -> None:
    page = await client.get("/admin/login")
    assert page.status_code == 200
    _assert_locked_down(page)


async def test_operator_token_guessing_is_rate_limited(client: httpx.AsyncClient) -> None:
    bad = {"Authorization": "Bearer not-the-operator-token"}
    statuses = [(await client.get("/admin/v1/agencies", headers=bad)).status_code for _ in range(21)]
    assert statuses[:20] == [401] * 20
    assert statuses[20] == 429
    r = await client.get("/admin/v1/agencies", headers=bad)
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
