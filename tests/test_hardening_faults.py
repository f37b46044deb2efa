"""Faults: the database goes away mid-request and comes back; a gateway hangs or answers garbage;
a webhook worker dies mid-batch. Nothing half-written, nothing lost, nothing sent twice."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from app.config import Settings
from app.models import Attempt, Event, Payment, PaymentItem, WebhookDelivery
from app.services.callbacks.resolver import resolve_due
from app.services.notifications import webhooks
from tests.conftest import BASE_URL
from tests.factories import World, bill, create, ensure_agencies, make_account, make_client, make_world
from tests.support import Clock, RoutingTransport
from tests.test_gateways_e2e import CREDENTIALS

PORTAL = "https://portal.example.gov.vn"


async def _terminate_backends(db_url: str) -> int:
    """Kill every other connection to this test database (never the shared server itself)."""
    engine = create_async_engine(db_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            killed = await conn.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
    finally:
        await engine.dispose()
    return int(killed or 0)


class Gate(httpx.AsyncBaseTransport):
    """The app's own host, with a hook run after a matching request was answered."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.after: dict[str, Callable[[httpx.Request], Any]] = {}
        self.drop_callbacks = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.drop_callbacks and request.url.path.startswith("/v1/callbacks/"):
            raise httpx.ConnectError("IPN lost", request=request)
        response = await self.inner.handle_async_request(request)
        await response.aread()
        for suffix, hook in self.after.items():
            if request.url.path.endswith(suffix):
                result = hook(request)
                if asyncio.iscoroutine(result):
                    await result
        return response


def _problem_503(r: httpx.Response) -> None:
    assert r.status_code == 503, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "database_unavailable" and r.headers["retry-after"]
    assert r.headers["x-request-id"]


async def _consistent(app: FastAPI) -> list[Payment]:
    """Every payment whole: items add up to its amount, every attempt belongs to a payment."""
    async with app.state.container.db.session() as session:
        payments = list((await session.scalars(select(Payment))).all())
        for payment in payments:
            total = await session.scalar(
                select(func.sum(PaymentItem.amount)).where(PaymentItem.payment_id == payment.id)
            )
            assert total == payment.amount, payment.id
        orphans = await session.scalar(
            select(func.count()).select_from(Attempt).where(Attempt.payment_id.not_in(select(Payment.id)))
        )
        assert orphans == 0
    return payments


async def _create_while_the_database_dies(
    client: httpx.AsyncClient,
    app: FastAPI,
    admin_headers: dict[str, str],
    outbound: RoutingTransport,
    db_url: str,
) -> tuple[World, dict[str, Any], dict[str, str]]:
    gate = Gate(httpx.ASGITransport(app=app))
    outbound.mount(BASE_URL, gate)
    await ensure_agencies(client, admin_headers)
    await make_account(client, admin_headers, "momo", credentials=CREDENTIALS["momo"])
    key, client_id, secret = await make_client(client, admin_headers)
    world = World(key, client_id, secret, "")
    killed: list[int] = []

    async def kill(_: httpx.Request) -> None:
        if not killed:
            killed.append(await _terminate_backends(db_url))

    # MoMo has answered (no transaction was open meanwhile, by design); before we record its
    # answer, the database drops every connection.
    gate.after["/v2/gateway/api/create"] = kill
    body = bill(provider="momo")
    headers = {**world.headers, "Idempotency-Key": "db-dies-1"}
    r = await client.post("/v1/payments", json=body, headers=headers)
    assert killed and killed[0] >= 1
    _problem_503(r)
    return world, body, headers


async def test_database_killed_mid_create_is_503_with_no_partial_rows_and_service_resumes(
    client: httpx.AsyncClient,
    app: FastAPI,
    admin_headers: dict[str, str],
    outbound: RoutingTransport,
    db_url: str,
) -> None:
    world, _, _ = await _create_while_the_database_dies(client, app, admin_headers, outbound, db_url)
    [payment] = await _consistent(app)  # committed whole before the gateway call, or not at all
    # The database is back: the service answers and creates again without a restart.
    got = await client.get(f"/v1/payments/{payment.id}", headers=world.headers)
    assert got.status_code == 200 and got.json()["amount"] == payment.amount
    r = await create(client, world, provider="momo")
    assert r.status_code == 201, r.text
    assert len(await _consistent(app)) == 2


async def test_same_key_retry_after_the_database_died_returns_the_payment(
    client: httpx.AsyncClient,
    app: FastAPI,
    admin_headers: dict[str, str],
    outbound: RoutingTransport,
    db_url: str,
) -> None:
    _, body, headers = await _create_while_the_database_dies(client, app, admin_headers, outbound, db_url)
    r = await client.post("/v1/payments", json=body, headers=headers)
    assert r.status_code == 201, r.text
    again = await client.post("/v1/payments", json=body, headers=headers)
    assert again.status_code == 201 and again.json()["id"] == r.json()["id"]
    assert [p.id for p in await _consistent(app)] == [r.json()["id"]]


async def test_dead_pooled_connections_cost_at_most_one_503(
    client: httpx.AsyncClient, app: FastAPI, admin_headers: dict[str, str], db_url: str
) -> None:
    world = await make_world(client, admin_headers)
    assert (await client.get("/v1/payments", headers=world.headers)).status_code == 200
    assert await _terminate_backends(db_url) >= 1
    statuses = [(await client.get("/v1/payments", headers=world.headers)).status_code for _ in range(3)]
    assert statuses in ([200, 200, 200], [503, 200, 200]), statuses


@pytest.fixture
def settings(settings_factory: Callable[..., Settings]) -> Settings:
    return settings_factory(gateway_timeout_seconds=0.5)


@pytest.mark.parametrize("fault", ["hangs", "answers garbage"])
async def test_gateway_fault_leaves_unknown_and_the_resolver_settles_it(
    client: httpx.AsyncClient,
    app: FastAPI,
    admin_headers: dict[str, str],
    outbound: RoutingTransport,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
    fault: str,
) -> None:
    """The create reaches MoMo, but its answer never comes back in time (or comes back garbled).
    The attempt is `unknown`, logged; the citizen pays anyway; the IPN is lost too; the resolver
    asks MoMo and settles the payment."""
    app_transport = httpx.ASGITransport(app=app)
    pay_urls: list[str] = []

    async def flaky(request: httpx.Request) -> httpx.Response:
        upstream = request.url.copy_with(
            scheme="http", host="paybridge.test", path="/sandbox/momo" + request.url.path
        )
        forwarded = httpx.Request(request.method, upstream, headers=request.headers, content=request.content)
        response = await app_transport.handle_async_request(forwarded)
        await response.aread()
        if request.url.path.endswith("/api/create"):
            pay_urls.append(orjson.loads(response.content)["payUrl"])
            if fault == "hangs":
                await asyncio.sleep(30)  # far past the gateway timeout
            return httpx.Response(200, text="<html>Service Temporarily Unavailable</html>")
        return httpx.Response(response.status_code, headers=response.headers, content=response.content)

    outbound.handle("https://momo.flaky", flaky)
    gate = Gate(app_transport)
    gate.drop_callbacks = True
    outbound.mount(BASE_URL, gate)
    await ensure_agencies(client, admin_headers)
    await make_account(
        client,
        admin_headers,
        "momo",
        credentials=CREDENTIALS["momo"],
        settings={"endpoint": "https://momo.flaky"},
    )
    key, client_id, secret = await make_client(client, admin_headers)
    world = World(key, client_id, secret, "")
    caplog.set_level(logging.INFO, logger="paybridge")

    started = asyncio.get_running_loop().time()
    r = await create(client, world, provider="momo")
    assert asyncio.get_running_loop().time() - started < 5
    assert r.status_code == 201, r.text
    payment = r.json()
    assert payment["attempts"][0]["status"] == "unknown"
    assert any("unknown" in rec.getMessage() for rec in caplog.records if rec.name.startswith("paybridge"))

    [pay_url] = pay_urls
    await client.get(pay_url)
    await client.post(pay_url, data={"outcome": "success"})  # its IPN is lost on the way
    assert (await client.get(f"/v1/payments/{payment['id']}", headers=world.headers)).json()[
        "status"
    ] == "pending"
    clock.advance(minutes=2)
    await resolve_due(app.state.container)
    got = (await client.get(f"/v1/payments/{payment['id']}", headers=world.headers)).json()
    assert got["status"] == "succeeded" and got["attempts"][0]["status"] == "succeeded"
    async with app.state.container.db.session() as session:
        events = (await session.scalars(select(Event.type).where(Event.payment_id == payment["id"]))).all()
    assert events == ["payment.succeeded"]


async def test_worker_killed_mid_batch_loses_nothing_and_sends_nothing_twice(
    client: httpx.AsyncClient,
    app: FastAPI,
    admin_headers: dict[str, str],
    outbound: RoutingTransport,
    clock: Clock,
) -> None:
    """A batch of 12: the portal answers the first six, then the worker dies with six requests in
    flight. After the lease, each event is delivered — and answered 2xx — exactly once."""
    delivered: Counter[str] = Counter()
    answered_before_kill = asyncio.Event()
    stall = True

    async def portal(request: httpx.Request) -> httpx.Response:
        event_id = request.headers["webhook-id"]
        if stall and len(delivered) >= 6:
            answered_before_kill.set()
            await asyncio.sleep(60)  # the worker dies before this answer
        delivered[event_id] += 1
        return httpx.Response(204)

    outbound.handle(PORTAL, portal)
    world = await make_world(client, admin_headers, webhook_url=PORTAL + "/hooks")
    for _ in range(12):
        payment = (await create(client, world)).json()
        assert (
            await client.post(f"/v1/payments/{payment['id']}/cancel", headers=world.headers)
        ).status_code == 200
    container = app.state.container
    original_concurrency = webhooks.CONCURRENCY
    webhooks.CONCURRENCY = 1  # one at a time, so "the first six" is well defined
    try:
        worker = asyncio.create_task(webhooks.dispatch_due(container, limit=50))
        await asyncio.wait_for(answered_before_kill.wait(), timeout=10)
        await asyncio.sleep(0.05)
        worker.cancel()  # killed
        with pytest.raises(asyncio.CancelledError):
            await worker
    finally:
        webhooks.CONCURRENCY = original_concurrency
    stall = False
    async with container.db.session() as session:
        rows = (await session.scalars(select(WebhookDelivery))).all()
    assert len(rows) == 12
    assert sum(r.status == "delivered" for r in rows) == 6
    assert await webhooks.dispatch_due(container) == 0  # the rest are still leased
    clock.advance(seconds=webhooks.LEASE.total_seconds() + 1)
    assert await webhooks.dispatch_due(container) == 6
    async with container.db.session() as session:
        rows = (await session.scalars(select(WebhookDelivery))).all()
        events = (await session.scalars(select(Event.id))).all()
    assert all(r.status == "delivered" for r in rows)
    assert set(delivered) == set(events) and len(events) == 12
    assert max(delivered.values()) == 1, "an event was answered twice"


async def test_a_worker_killed_after_the_portal_acted_delivers_again_with_the_same_webhook_id(
    client: httpx.AsyncClient,
    app: FastAPI,
    admin_headers: dict[str, str],
    outbound: RoutingTransport,
    clock: Clock,
) -> None:
    """Webhooks are at-least-once, as SECURITY.md says: when the worker dies after the portal
    processed an event but before the 2xx was recorded, the event is sent again after the lease,
    with the same ``webhook-id`` and body, so a receiver that deduplicates by ``webhook-id`` acts once."""
    seen: list[tuple[str, bytes]] = []
    acted = asyncio.Event()
    stall = True

    async def portal(request: httpx.Request) -> httpx.Response:
        seen.append((request.headers["webhook-id"], request.content))
        if stall:
            acted.set()  # the portal has acted on the event ...
            await asyncio.sleep(60)  # ... and the worker dies before reading its 2xx
        return httpx.Response(204)

    outbound.handle(PORTAL, portal)
    world = await make_world(client, admin_headers, webhook_url=PORTAL + "/hooks")
    payment = (await create(client, world)).json()
    r = await client.post(f"/v1/payments/{payment['id']}/cancel", headers=world.headers)
    assert r.status_code == 200
    container = app.state.container
    worker = asyncio.create_task(webhooks.dispatch_due(container, limit=50))
    await asyncio.wait_for(acted.wait(), timeout=10)
    worker.cancel()  # killed
    with pytest.raises(asyncio.CancelledError):
        await worker
    stall = False
    clock.advance(seconds=webhooks.LEASE.total_seconds() + 1)
    assert await webhooks.dispatch_due(container) == 1
    assert len(seen) == 2  # delivered twice: at-least-once, not exactly-once
    (first_id, first_body), (second_id, second_body) = seen
    assert first_id == second_id and first_body == second_body
    async with container.db.session() as session:
        [event_id] = (await session.scalars(select(Event.id))).all()
    assert first_id == event_id
