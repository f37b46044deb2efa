"""The resolver and expiry: lost callbacks, hanging or garbled gateways, unknown outcomes."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from app.models import Attempt, Event
from app.services.callbacks.expiry import expire_due
from app.services.callbacks.resolver import GIVE_UP_AFTER, next_check, resolve_due
from tests.conftest import BASE_URL
from tests.factories import World, create, make_account, make_world
from tests.support import Clock, RoutingTransport


class Filter(httpx.AsyncBaseTransport):
    """Wraps the app's own transport: drops or rewrites some requests like a broken network."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.drop_callbacks = False
        self.seen: Counter[str] = Counter()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.drop_callbacks and request.url.path.startswith("/v1/callbacks/"):
            raise httpx.ConnectError("IPN lost", request=request)
        if request.url.path.endswith("/api/query"):
            self.seen[orjson.loads(request.content)["reference"]] += 1
        return await self.inner.handle_async_request(request)


@pytest.fixture
def net(app: FastAPI, outbound: RoutingTransport) -> Filter:
    wrapped = Filter(httpx.ASGITransport(app=app))
    outbound.mount(BASE_URL, wrapped)
    return wrapped


@pytest.fixture
async def world(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> World:
    return await make_world(client, admin_headers)


async def _attempt(app: FastAPI, payment_id: str) -> Attempt:
    async with app.state.container.db.session() as session:
        attempt: Attempt = (
            await session.scalars(select(Attempt).where(Attempt.payment_id == payment_id))
        ).one()
        return attempt


def test_backoff_spreads_out_and_stops_after_three_days() -> None:
    from datetime import UTC, datetime

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    now, gaps = t0, []
    for checks in range(1, 40):
        nxt = next_check(t0, checks, now)
        if nxt is None:
            break
        gaps.append(nxt - now)
        now = nxt
    assert gaps[0] == timedelta(minutes=2)
    assert gaps == sorted(gaps)
    assert now <= t0 + GIVE_UP_AFTER
    assert next_check(t0, 99, t0 + GIVE_UP_AFTER) is None


async def test_lost_ipn_is_settled_by_the_resolver(
    client: httpx.AsyncClient, app: FastAPI, world: World, net: Filter, clock: Clock
) -> None:
    p = (await create(client, world, provider="sandbox")).json()
    net.drop_callbacks = True
    await client.get(p["checkout_url"])
    await client.post(p["checkout_url"], data={"outcome": "success"})
    assert (await client.get(f"/v1/payments/{p['id']}", headers=world.headers)).json()["status"] == "pending"
    container = app.state.container
    assert await resolve_due(container) == 0  # not due yet: first check after about a minute
    clock.advance(seconds=61)
    assert await resolve_due(container) == 1
    got = (await client.get(f"/v1/payments/{p['id']}", headers=world.headers)).json()
    assert got["status"] == "succeeded"
    assert got["attempts"][0]["provider_transaction_id"].startswith("SBXT")


async def test_hanging_gateway_query_reschedules(
    client: httpx.AsyncClient,
    app: FastAPI,
    admin_headers: dict[str, str],
    world: World,
    outbound: RoutingTransport,
    clock: Clock,
) -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("gateway hangs", request=request)

    outbound.handle("http://hung.gateway", hang)
    await make_account(
        client,
        admin_headers,
        "sandbox",
        agency_code="000.00.31.H56",
        settings={"pay_url": "http://hung.gateway/pay", "api_url": "http://hung.gateway/api"},
    )
    p = (await create(client, world, provider="sandbox")).json()
    clock.advance(seconds=61)
    assert await resolve_due(app.state.container) == 1
    attempt = await _attempt(app, p["id"])
    assert attempt.status == "pending" and attempt.check_count == 1
    assert attempt.next_check_at == clock.now + timedelta(minutes=2)


async def test_garbage_answer_is_unknown_never_guessed(
    client: httpx.AsyncClient,
    app: FastAPI,
    admin_headers: dict[str, str],
    world: World,
    outbound: RoutingTransport,
    clock: Clock,
) -> None:
    outbound.handle("http://garbled.gateway", lambda r: httpx.Response(200, text="<html>maintenance</html>"))
    await make_account(
        client,
        admin_headers,
        "sandbox",
        agency_code="000.00.31.H56",
        settings={"pay_url": "http://garbled.gateway/pay", "api_url": "http://garbled.gateway/api"},
    )
    p = (await create(client, world, provider="sandbox")).json()
    clock.advance(seconds=61)
    await resolve_due(app.state.container)
    attempt = await _attempt(app, p["id"])
    assert attempt.status == "pending" and attempt.check_count == 1


async def test_create_timeout_makes_the_attempt_unknown(
    client: httpx.AsyncClient,
    app: FastAPI,
    admin_headers: dict[str, str],
    world: World,
    outbound: RoutingTransport,
    clock: Clock,
) -> None:
    calls: list[str] = []

    def slow(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        raise httpx.ReadTimeout("no answer", request=request)

    outbound.handle("http://momo.slow", slow)
    await make_account(
        client,
        admin_headers,
        "momo",
        agency_code="000.00.31.H56",
        credentials={"partner_code": "MOMOX", "access_key": "ak", "secret_key": "sk"},
        settings={"endpoint": "http://momo.slow"},
    )
    r = await create(client, world, provider="momo")
    assert r.status_code == 201
    p = r.json()
    assert p["status"] == "pending"
    assert p["attempts"][0]["status"] == "unknown"
    assert p["attempts"][0]["failure_code"] == "gateway_unreachable"
    # The citizen can still pay: the hosted page lets them pick again.
    assert p["checkout_url"].startswith(f"{BASE_URL}/checkout/")
    clock.advance(seconds=61)
    await resolve_due(app.state.container)
    assert any(path.endswith("/query") for path in calls)
    assert (await _attempt(app, p["id"])).status == "unknown"


async def test_expiry_asks_the_gateway_first(
    client: httpx.AsyncClient, app: FastAPI, world: World, net: Filter, clock: Clock
) -> None:
    paid = (await create(client, world, provider="sandbox", expires_in_seconds=120)).json()
    unpaid = (await create(client, world, expires_in_seconds=120)).json()
    net.drop_callbacks = True
    await client.get(paid["checkout_url"])
    await client.post(paid["checkout_url"], data={"outcome": "success"})  # paid a second before expiry
    clock.advance(seconds=121)
    assert await expire_due(app.state.container) == 1
    statuses = {
        p["id"]: (await client.get(f"/v1/payments/{p['id']}", headers=world.headers)).json()["status"]
        for p in (paid, unpaid)
    }
    assert statuses == {paid["id"]: "succeeded", unpaid["id"]: "expired"}
    async with app.state.container.db.session() as session:
        types = sorted((await session.scalars(select(Event.type))).all())
    assert types == ["payment.expired", "payment.succeeded"]


async def test_two_resolvers_never_query_one_attempt_twice(
    client: httpx.AsyncClient, app: FastAPI, world: World, net: Filter, clock: Clock
) -> None:
    payments = [(await create(client, world, provider="sandbox")).json() for _ in range(24)]
    clock.advance(seconds=61)
    container = app.state.container
    counts = await asyncio.gather(resolve_due(container), resolve_due(container), resolve_due(container))
    assert sum(counts) == 24
    refs = [p["attempts"][0]["reference"] for p in payments]
    assert all(net.seen[r] == 1 for r in refs), net.seen
