"""The dispatcher's throughput path: claim-ahead pipelining, the raw PostgreSQL statements, the
per-host guard verdict."""

from __future__ import annotations

import collections
from datetime import timedelta

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from app.models import Event, WebhookAttemptLog, WebhookDelivery
from app.services.notifications import url_guard, webhooks
from app.services.notifications.events import event_envelope
from tests.support import Clock, RoutingTransport
from tests.test_webhooks import PORTAL, Receiver, container_of, delivery_of, emit, make_client


async def test_one_call_drains_several_batches_each_event_once(
    app: FastAPI, outbound: RoutingTransport, monkeypatch: pytest.MonkeyPatch
) -> None:
    container = container_of(app)
    client_id, _ = await make_client(container)
    sent: collections.Counter[str] = collections.Counter()

    def portal(request: httpx.Request) -> httpx.Response:
        sent[request.headers["webhook-id"]] += 1
        return httpx.Response(204)

    outbound.handle(PORTAL, portal)
    events = [await emit(container, client_id) for _ in range(23)]
    claims: list[int] = []
    original = webhooks.claim_due

    async def counting(c: object, *, limit: int) -> list[webhooks.Claim]:
        batch = await original(container, limit=limit)
        claims.append(len(batch))
        return batch

    monkeypatch.setattr(webhooks, "claim_due", counting)
    monkeypatch.setattr(webhooks, "CONCURRENCY", 3)
    assert await webhooks.dispatch_due(container, limit=5) == 23
    assert len(claims) >= 5 and sum(claims) == 23, claims
    assert set(sent) == set(events) and max(sent.values()) == 1
    for event_id in events:
        assert (await delivery_of(container, event_id)).status == "delivered"
    assert await webhooks.dispatch_due(container, limit=5) == 0


async def test_claim_ahead_stays_within_the_lease(
    app: FastAPI, outbound: RoutingTransport, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With 15 s sends a 60 s lease covers 4 rounds: the one in flight and 2 more after the
    claim ahead (one spare), so a claim ahead takes at most 2 × CONCURRENCY minus the unsent."""
    container = container_of(app)
    client_id, _ = await make_client(container)
    outbound.handle(PORTAL, Receiver(200))
    for _ in range(30):
        await emit(container, client_id)
    limits: list[int] = []
    original = webhooks.claim_due

    async def spying(c: object, *, limit: int) -> list[webhooks.Claim]:
        limits.append(limit)
        return await original(container, limit=limit)

    monkeypatch.setattr(webhooks, "claim_due", spying)
    monkeypatch.setattr(webhooks, "CONCURRENCY", 2)
    monkeypatch.setattr(webhooks, "SEND_TIMEOUT_SECONDS", 15.0)
    assert await webhooks.dispatch_due(container, limit=8) == 30
    assert limits[0] == 8 and len(limits) > 1
    assert all(limit <= 2 * 2 for limit in limits[1:]), limits


async def test_body_is_the_event_feed_envelope(app: FastAPI, outbound: RoutingTransport) -> None:
    container = container_of(app)
    client_id, _ = await make_client(container)
    receiver = Receiver(200)
    outbound.handle(PORTAL, receiver)
    event_id = await emit(container, client_id)
    assert await webhooks.dispatch_due(container) == 1
    async with container.db.session() as session:
        event = await session.scalar(select(Event).where(Event.id == event_id))
    assert event is not None
    assert receiver.requests[0].content == orjson.dumps(event_envelope(event))


async def test_answer_with_nul_bytes_is_recorded(app: FastAPI, outbound: RoutingTransport) -> None:
    """PostgreSQL text cannot hold NUL: the stored prefix replaces it instead of failing the write."""
    container = container_of(app)
    client_id, _ = await make_client(container)
    outbound.handle(PORTAL, Receiver(200, body=b"ok\x00done"))
    event_id = await emit(container, client_id)
    assert await webhooks.dispatch_due(container) == 1
    delivery = await delivery_of(container, event_id)
    assert delivery.status == "delivered"
    async with container.db.session() as session:
        logged = (
            await session.scalars(
                select(WebhookAttemptLog.response_body).where(WebhookAttemptLog.delivery_id == delivery.id)
            )
        ).all()
    assert logged == ["ok\ufffddone"]


async def test_retry_and_dead_values_through_the_batch_statement(
    app: FastAPI, outbound: RoutingTransport, clock: Clock
) -> None:
    """A failed try keeps the row pending with the next time and the error; a delivery on the next
    try clears the error; both tries are logged (one statement per group on either database)."""
    container = container_of(app)
    client_id, _ = await make_client(container)
    outbound.handle(PORTAL, Receiver(503, 200))
    event_id = await emit(container, client_id)
    first_try = clock.now
    assert await webhooks.dispatch_due(container) == 1
    row = await delivery_of(container, event_id)
    assert (row.status, row.attempts, row.last_status_code, row.last_error) == ("pending", 1, 503, "HTTP 503")
    assert row.next_attempt_at == first_try + timedelta(seconds=5)
    assert row.delivered_at is None
    clock.advance(seconds=5)
    assert await webhooks.dispatch_due(container) == 1
    row = await delivery_of(container, event_id)
    assert (row.status, row.attempts, row.last_status_code, row.last_error) == ("delivered", 2, 200, None)
    assert row.delivered_at == clock.now
    async with container.db.session() as session:
        codes = (
            await session.scalars(
                select(WebhookAttemptLog.status_code)
                .where(WebhookAttemptLog.delivery_id == row.id)
                .order_by(WebhookAttemptLog.id)
            )
        ).all()
    assert codes == [503, 200]


async def test_private_address_check_runs_once_per_host_per_dispatch(
    app: FastAPI, outbound: RoutingTransport, monkeypatch: pytest.MonkeyPatch
) -> None:
    container = container_of(app)
    container.settings.allow_private_webhooks = False
    client_id, _ = await make_client(container)
    outbound.handle(PORTAL, Receiver(200))
    checked: list[str] = []

    async def resolve(host: str) -> list[str]:
        checked.append(host)
        return ["93.184.216.34"]

    monkeypatch.setattr(url_guard, "system_resolve", resolve)
    events = [await emit(container, client_id) for _ in range(6)]
    try:
        assert await webhooks.dispatch_due(container) == 6
    finally:
        container.settings.allow_private_webhooks = True
    assert checked == ["portal.example"]
    for event_id in events:
        assert (await delivery_of(container, event_id)).status == "delivered"


async def test_host_resolving_privately_is_refused_for_every_delivery(
    app: FastAPI, outbound: RoutingTransport, monkeypatch: pytest.MonkeyPatch
) -> None:
    container = container_of(app)
    container.settings.allow_private_webhooks = False
    client_id, _ = await make_client(container)
    outbound.handle(PORTAL, Receiver(200))

    async def resolve(host: str) -> list[str]:
        return ["10.0.0.7"]

    monkeypatch.setattr(url_guard, "system_resolve", resolve)
    events = [await emit(container, client_id) for _ in range(3)]
    try:
        assert await webhooks.dispatch_due(container) == 3
    finally:
        container.settings.allow_private_webhooks = True
    assert outbound.requests == []
    for event_id in events:
        row = await delivery_of(container, event_id)
        assert row.status == "pending" and row.last_error is not None
        assert row.last_error.startswith("refused: host resolves to a non-public address")
    async with container.db.session() as session:
        assert len((await session.scalars(select(WebhookDelivery))).all()) == 3
