"""The brake on guessing refuses guesses, never a valid credential: after 20+ bad keys from one
address (an attacker behind the same NAT or the same untrusted proxy as a portal), a valid API key,
the operator token and a dashboard login from that address still succeed, while further bad guesses
get 429. Client keys and the operator token are braked separately."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import ADMIN_TOKEN, BASE_URL
from tests.factories import World, make_world

ADDRESS = "203.0.113.7"


@pytest.fixture
async def world(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> World:
    return await make_world(client, admin_headers)


def _from(app: FastAPI, address: str = ADDRESS) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url=BASE_URL)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_bad_keys_brake_guesses_but_not_a_valid_key_or_the_operator(app: FastAPI, world: World) -> None:
    async with _from(app) as c:
        statuses = [
            (await c.get("/v1/payments", headers=_bearer(f"pbk_wrong_{i}"))).status_code for i in range(25)
        ]
        assert statuses[:20] == [401] * 20 and set(statuses[20:]) == {429}
        # The portal behind the same address, with its valid key: served.
        for _ in range(3):
            r = await c.get("/v1/payments", headers=world.headers)
            assert r.status_code == 200, r.text
        # The operator from the same address: served (its own brake, and a valid token anyway).
        r = await c.get("/admin/v1/agencies", headers=_bearer(ADMIN_TOKEN))
        assert r.status_code == 200, r.text
        # A bad operator token is counted on the operator's brake, which client guesses did not fill.
        r = await c.get("/admin/v1/agencies", headers=_bearer("not-the-operator-token"))
        assert r.status_code == 401
        # The guesser is still braked, with Retry-After.
        r = await c.get("/v1/payments", headers=_bearer("pbk_wrong_again"))
        assert r.status_code == 429 and r.json()["code"] == "rate_limited"
        assert 1 <= int(r.headers["retry-after"]) <= 60
        # An over-long key is a failure too, and braked as one.
        assert (await c.get("/v1/payments", headers=_bearer("x" * 300))).status_code == 429


async def test_bad_operator_tokens_brake_guesses_but_not_the_operator_or_clients(
    app: FastAPI, world: World
) -> None:
    async with _from(app) as c:
        statuses = [
            (await c.get("/admin/v1/agencies", headers=_bearer(f"guess-{i}"))).status_code for i in range(22)
        ]
        assert statuses[:20] == [401] * 20 and set(statuses[20:]) == {429}
        assert (await c.get("/admin/v1/agencies", headers=_bearer(ADMIN_TOKEN))).status_code == 200
        assert (await c.get("/v1/payments", headers=world.headers)).status_code == 200
        # A client's wrong key is judged on the client brake, which the operator guesses did not fill.
        assert (await c.get("/v1/payments", headers=_bearer("pbk_wrong"))).status_code == 401
        assert (await c.get("/admin/v1/agencies", headers=_bearer("guess-again"))).status_code == 429


async def _login(c: httpx.AsyncClient, token: str) -> httpx.Response:
    page = await c.get("/admin/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None, page.text
    return await c.post("/admin/login", data={"token": token, "csrf": csrf.group(1)})


async def test_dashboard_login_is_braked_for_guesses_only(app: FastAPI) -> None:
    async with _from(app) as c:
        for _ in range(20):
            r = await _login(c, "wrong-token")
            assert r.status_code == 303 and r.headers["location"].endswith("error=token")
        r = await _login(c, "wrong-token")
        assert r.status_code == 303 and r.headers["location"].endswith("error=rate")
        r = await _login(c, ADMIN_TOKEN)
        assert r.status_code == 303 and r.headers["location"] == "/admin/", r.headers
