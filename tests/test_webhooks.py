"""Webhooks to portals: outbox dispatch, Standard Webhooks signatures, retries, leases, operators."""

from __future__ import annotations

import asyncio
import base64
import collections
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select, update
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from app.config import Settings
from app.container import Container
from app.ids import new_id
from app.main import create_app
from app.models import Client, WebhookDelivery
from app.security import new_webhook_secret
from app.services.notifications import webhook_signing, webhooks
from app.services.notifications.events import emit_event
from app.workers import job_specs
from tests.support import Clock, RoutingTransport

PORTAL = "https://portal.example"
HOOK_URL = PORTAL + "/paybridge/hooks"


# ---------------------------------------------------------------------------- helpers


def container_of(app: FastAPI) -> Container:
    container: Container = app.state.container
    return container


async def make_client(container: Container, *, webhook_url: str | None = HOOK_URL) -> tuple[str, str]:
    secret = new_webhook_secret()
    client_id = new_id("cli")
    now = container.clock()
    async with container.db.transaction() as session:
        session.add(
            Client(
                id=client_id,
                name="Cổng dịch vụ công tỉnh",
                webhook_url=webhook_url,
                webhook_secret_enc=container.vault.encrypt(secret),
                allowed_hosts=[],
                created_at=now,
                updated_at=now,
            )
        )
    return client_id, secret


async def emit(container: Container, client_id: str, type: str = "payment.succeeded") -> str:
    async with container.db.transaction() as session:
        event = await emit_event(
            session,
            type=type,
            client_id=client_id,
            data={
                "id": new_id("pay"),
                "status": "succeeded",
                "amount": 50000,
                "payer": {"name": "Nguyễn Văn A"},
            },
            now=container.clock(),
        )
    return event.id


async def delivery_of(container: Container, event_id: str) -> WebhookDelivery:
    async with container.db.session() as session:
        row = await session.scalar(select(WebhookDelivery).where(WebhookDelivery.event_id == event_id))
    assert row is not None
    return row


class Receiver:
    """A fake portal: answers the scripted statuses in turn (then the last one), keeps requests."""

    def __init__(self, *statuses: int, body: bytes = b"ok", delay: float = 0.0) -> None:
        self.statuses = list(statuses) or [200]
        self.body = body
        self.delay = delay
        self.requests: list[httpx.Request] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.delay:
            await asyncio.sleep(self.delay)
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return httpx.Response(status, content=self.body)


@asynccontextmanager
async def another_app(
    settings: Settings, outbound: RoutingTransport, clock: Clock
) -> AsyncIterator[Container]:
    """A second paybridge process on the same database (a restart, or a second worker)."""
    application = create_app(
        settings,
        http_factory=lambda s: httpx.AsyncClient(transport=outbound, timeout=s.gateway_timeout_seconds),
        clock=clock,
        start_workers=False,
    )
    async with application.router.lifespan_context(application):
        yield container_of(application)


def verify(secret: str, request: httpx.Request) -> Any:
    return Webhook(secret).verify(request.content, dict(request.headers))


def real_time(clock: Clock) -> None:
    # The standardwebhooks library checks the timestamp against the real clock (5 min tolerance).
    clock.now = datetime.now(UTC)


# ---------------------------------------------------------------------------- schedule and signing


def test_schedule_is_about_three_days_then_dead() -> None:
    total = sum(webhooks.RETRY_DELAYS, timedelta())
    assert timedelta(days=2.75) <= total <= timedelta(days=3.25)
    assert webhooks.next_delay(1) == timedelta(seconds=5)
    assert webhooks.next_delay(2) == timedelta(minutes=5)
    assert webhooks.next_delay(webhooks.MAX_TRIES - 1) == webhooks.RETRY_DELAYS[-1]
    assert webhooks.next_delay(webhooks.MAX_TRIES) is None
    delays = list(webhooks.RETRY_DELAYS)
    assert delays == sorted(delays)


@given(
    body=st.text(max_size=300),
    msg_id=st.from_regex(r"evt_[0-9A-Z]{26}", fullmatch=True),
    key=st.binary(min_size=16, max_size=64),
)
def test_signature_verifies_with_the_library_and_not_when_tampered(
    body: str, msg_id: str, key: bytes
) -> None:
    secret = "whsec_" + base64.b64encode(key).decode()
    raw = orjson.dumps({"id": msg_id, "data": body})
    headers = webhook_signing.signed_headers(msg_id, datetime.now(UTC), raw, (secret,))
    assert Webhook(secret).verify(raw, headers) == orjson.loads(raw)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(raw + b" ", headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(raw, {**headers, "webhook-id": msg_id + "X"})
    other = "whsec_" + base64.b64encode(bytes(b ^ 1 for b in key)).decode()
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(raw, headers)


# ---------------------------------------------------------------------------- delivery


async def test_webhook_signed_and_verified_by_standardwebhooks(
    app: FastAPI, outbound: RoutingTransport, clock: Clock
) -> None:
    real_time(clock)
    container = container_of(app)
    client_id, secret = await make_client(container)
    seen: list[Any] = []

    def portal(request: httpx.Request) -> httpx.Response:
        try:
            seen.append(verify(secret, request))
        except WebhookVerificationError:
            return httpx.Response(401)
        return httpx.Response(204)

    outbound.handle(PORTAL, portal)
    event_id = await emit(container, client_id)
    assert await webhooks.dispatch_due(container) == 1

    delivery = await delivery_of(container, event_id)
    assert delivery.status == "delivered" and delivery.last_status_code == 204
    assert len(seen) == 1 and seen[0]["id"] == event_id and seen[0]["type"] == "payment.succeeded"
    assert seen[0]["data"]["payer"]["name"] == "Nguyễn Văn A"
    request = outbound.requests[-1]
    assert request.url == HOOK_URL
    assert request.headers["webhook-id"] == event_id
    assert request.headers["content-type"] == "application/json"
    assert request.headers["webhook-signature"].startswith("v1,")
    assert int(request.headers["webhook-timestamp"]) == int(clock.now.timestamp())


async def test_500_then_200_is_delivered_on_the_retry(
    app: FastAPI,
    client: httpx.AsyncClient,
    outbound: RoutingTransport,
    clock: Clock,
    admin_headers: dict[str, str],
) -> None:
    container = container_of(app)
    client_id, _ = await make_client(container)
    portal = Receiver(500, 200, body=b"x" * 5000)
    outbound.handle(PORTAL, portal)
    event_id = await emit(container, client_id)

    assert await webhooks.dispatch_due(container) == 1
    delivery = await delivery_of(container, event_id)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
    assert delivery.next_attempt_at == clock.now + timedelta(seconds=5)
    assert await webhooks.dispatch_due(container) == 0  # not due yet

    clock.advance(seconds=5)
    assert await webhooks.dispatch_due(container) == 1
    delivery = await delivery_of(container, event_id)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 2, 200)
    assert delivery.delivered_at == clock.now and delivery.last_error is None
    assert [r.headers["webhook-id"] for r in portal.requests] == [event_id, event_id]
    assert portal.requests[0].content == portal.requests[1].content

    r = await client.get(f"/admin/v1/events/{event_id}/deliveries", headers=admin_headers)
    assert r.status_code == 200, r.text
    tries = r.json()["tries"]
    assert [t["status_code"] for t in tries] == [500, 200]
    assert all(t["latency_ms"] is not None and t["latency_ms"] >= 0 for t in tries)
    assert len(tries[0]["response_body"]) == webhooks.MAX_STORED_BODY  # truncated
    assert tries[0]["error"] == "HTTP 500"
    assert r.json()["delivery"]["status"] == "delivered"
    metrics = (await client.get("/metrics")).text
    assert 'paybridge_webhook_deliveries_total{outcome="retry"} 1.0' in metrics
    assert 'paybridge_webhook_deliveries_total{outcome="delivered"} 1.0' in metrics


async def exhaust(container: Container, clock: Clock, event_id: str) -> list[datetime]:
    """Run the dispatcher at exactly each scheduled time until the delivery is dead."""
    tried_at: list[datetime] = []
    for tries in range(1, webhooks.MAX_TRIES + 1):
        assert await webhooks.dispatch_due(container) == 1, f"try {tries} was not due"
        tried_at.append(clock.now)
        delivery = await delivery_of(container, event_id)
        assert delivery.attempts == tries
        delay = webhooks.next_delay(tries)
        if delay is None:
            assert delivery.status == "dead"
            break
        assert delivery.status == "pending"
        assert delivery.next_attempt_at == clock.now + delay
        clock.advance(seconds=delay.total_seconds() - 1)
        assert await webhooks.dispatch_due(container) == 0, "tried before its time"
        clock.advance(seconds=1)
    return tried_at


async def test_receiver_down_is_retried_on_schedule_then_dead(
    app: FastAPI, client: httpx.AsyncClient, clock: Clock, admin_headers: dict[str, str]
) -> None:
    container = container_of(app)
    client_id, _ = await make_client(container)  # nothing answers at portal.example
    event_id = await emit(container, client_id)
    start = clock.now

    tried_at = await exhaust(container, clock, event_id)
    assert len(tried_at) == webhooks.MAX_TRIES
    assert tried_at[-1] - start == sum(webhooks.RETRY_DELAYS, timedelta())
    delivery = await delivery_of(container, event_id)
    assert delivery.status == "dead" and delivery.last_status_code is None
    assert delivery.last_error is not None and delivery.last_error.startswith("ConnectError")
    clock.advance(days=30)
    assert await webhooks.dispatch_due(container) == 0  # dead stays dead

    r = await client.get("/admin/v1/deliveries", params={"status": "dead"}, headers=admin_headers)
    assert [d["event_id"] for d in r.json()["data"]] == [event_id]
    assert r.json()["data"][0]["next_attempt_at"] is None
    metrics = (await client.get("/metrics")).text
    assert f'paybridge_webhook_deliveries_total{{outcome="retry"}} {webhooks.MAX_TRIES - 1}.0' in metrics
    assert 'paybridge_webhook_deliveries_total{outcome="dead"} 1.0' in metrics


async def test_operator_redelivers_a_dead_event(
    app: FastAPI,
    client: httpx.AsyncClient,
    outbound: RoutingTransport,
    clock: Clock,
    admin_headers: dict[str, str],
) -> None:
    container = container_of(app)
    client_id, _ = await make_client(container)
    event_id = await emit(container, client_id)
    await exhaust(container, clock, event_id)

    portal = Receiver(200)
    outbound.handle(PORTAL, portal)
    r = await client.post(f"/admin/v1/events/{event_id}/redeliver")
    assert r.status_code == 401
    r = await client.post(f"/admin/v1/events/{event_id}/redeliver", headers=admin_headers)
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "pending" and r.json()["attempts"] == 0
    assert await webhooks.dispatch_due(container) == 1
    delivery = await delivery_of(container, event_id)
    assert delivery.status == "delivered" and delivery.attempts == 1
    assert len(portal.requests) == 1

    # A delivered event can be sent again on request (the portal lost it); same webhook-id.
    r = await client.post(f"/admin/v1/events/{event_id}/redeliver", headers=admin_headers)
    assert r.status_code == 202
    assert await webhooks.dispatch_due(container) == 1
    assert [q.headers["webhook-id"] for q in portal.requests] == [event_id, event_id]

    r = await client.post("/admin/v1/events/evt_nope/redeliver", headers=admin_headers)
    assert r.status_code == 404 and r.json()["code"] == "event_not_found"


async def test_redeliver_creates_a_delivery_for_an_event_emitted_without_url(
    app: FastAPI, client: httpx.AsyncClient, outbound: RoutingTransport, admin_headers: dict[str, str]
) -> None:
    container = container_of(app)
    client_id, _ = await make_client(container, webhook_url=None)
    event_id = await emit(container, client_id)
    r = await client.get(f"/admin/v1/events/{event_id}/deliveries", headers=admin_headers)
    assert r.json() == {"event_id": event_id, "delivery": None, "tries": []}
    r = await client.post(f"/admin/v1/events/{event_id}/redeliver", headers=admin_headers)
    assert r.status_code == 409 and r.json()["code"] == "no_webhook_url"

    async with container.db.transaction() as session:
        await session.execute(update(Client).where(Client.id == client_id).values(webhook_url=HOOK_URL))
    outbound.handle(PORTAL, Receiver(200))
    r = await client.post(f"/admin/v1/events/{event_id}/redeliver", headers=admin_headers)
    assert r.status_code == 202
    assert await webhooks.dispatch_due(container) == 1
    assert (await delivery_of(container, event_id)).status == "delivered"


async def test_url_removed_before_sending_marks_dead_without_a_request(
    app: FastAPI, outbound: RoutingTransport
) -> None:
    container = container_of(app)
    client_id, _ = await make_client(container)
    event_id = await emit(container, client_id)
    async with container.db.transaction() as session:
        await session.execute(update(Client).where(Client.id == client_id).values(webhook_url=None))
    assert await webhooks.dispatch_due(container) == 1
    delivery = await delivery_of(container, event_id)
    assert (delivery.status, delivery.last_error) == ("dead", "no webhook_url")
    assert outbound.requests == []


async def test_redirect_is_not_followed_and_not_a_delivery(app: FastAPI, outbound: RoutingTransport) -> None:
    container = container_of(app)
    client_id, _ = await make_client(container)
    elsewhere = Receiver(200)
    outbound.handle("http://169.254.169.254", elsewhere)

    def portal(request: httpx.Request) -> httpx.Response:
        return httpx.Response(307, headers={"Location": "http://169.254.169.254/latest"})

    outbound.handle(PORTAL, portal)
    event_id = await emit(container, client_id)
    assert await webhooks.dispatch_due(container) == 1
    delivery = await delivery_of(container, event_id)
    assert (delivery.status, delivery.last_status_code, delivery.last_error) == ("pending", 307, "HTTP 307")
    assert elsewhere.requests == []


async def test_slow_receiver_times_out_and_is_retried(
    app: FastAPI, outbound: RoutingTransport, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(webhooks, "SEND_TIMEOUT_SECONDS", 0.05)
    container = container_of(app)
    client_id, _ = await make_client(container)
    outbound.handle(PORTAL, Receiver(200, delay=2.0))
    event_id = await emit(container, client_id)
    assert await webhooks.dispatch_due(container) == 1
    delivery = await delivery_of(container, event_id)
    assert delivery.status == "pending" and delivery.last_status_code is None
    assert delivery.last_error == "no answer within 0.05 s"


# ---------------------------------------------------------------------------- crashes and concurrency


async def test_killed_between_commit_and_send_delivers_after_restart(
    settings: Settings, outbound: RoutingTransport, clock: Clock
) -> None:
    portal = Receiver(200)
    outbound.handle(PORTAL, portal)
    async with another_app(settings, outbound, clock) as first:
        client_id, _ = await make_client(first)
        event_id = await emit(first, client_id)
        # The process dies here: the state change and its outbox row are committed, nothing sent.
    assert portal.requests == []
    async with another_app(settings, outbound, clock) as restarted:
        assert await webhooks.dispatch_due(restarted) == 1
        assert (await delivery_of(restarted, event_id)).status == "delivered"
    assert [r.headers["webhook-id"] for r in portal.requests] == [event_id]


async def test_killed_after_claiming_is_retried_after_the_lease(
    settings: Settings, outbound: RoutingTransport, clock: Clock
) -> None:
    portal = Receiver(200)
    outbound.handle(PORTAL, portal)
    async with another_app(settings, outbound, clock) as first:
        client_id, _ = await make_client(first)
        event_id = await emit(first, client_id)
        (stale,) = await webhooks.claim_due(first)
        # The process dies mid-send: the row is leased, no result recorded.
    async with another_app(settings, outbound, clock) as restarted:
        assert await webhooks.dispatch_due(restarted) == 0  # still leased
        clock.advance(seconds=webhooks.LEASE.total_seconds())
        assert await webhooks.dispatch_due(restarted) == 1
        delivery = await delivery_of(restarted, event_id)
        assert (delivery.status, delivery.attempts) == ("delivered", 2)
        # A worker that lost its lease cannot overwrite the result of the one that took over.
        failed = webhooks.TryResult(attempted_at=clock.now, status_code=503, error="HTTP 503")
        assert await webhooks.record(restarted, stale, failed) == "stale"
        assert (await delivery_of(restarted, event_id)).status == "delivered"
    assert len(portal.requests) == 1


async def test_two_dispatchers_deliver_each_event_once(
    settings: Settings, outbound: RoutingTransport, clock: Clock
) -> None:
    """Two worker processes at once: SKIP LOCKED shares the due rows between them."""
    portal = Receiver(200, delay=0.005)
    outbound.handle(PORTAL, portal)
    async with another_app(settings, outbound, clock) as one, another_app(settings, outbound, clock) as two:
        client_id, _ = await make_client(one)
        event_ids = [await emit(one, client_id) for _ in range(120)]
        handled = collections.Counter[str]()
        while True:
            a, b = await asyncio.gather(
                webhooks.dispatch_due(one, limit=15), webhooks.dispatch_due(two, limit=15)
            )
            handled.update(one=a, two=b)
            if a == b == 0:
                break
        for event_id in event_ids:
            assert (await delivery_of(one, event_id)).status == "delivered"
    counts = collections.Counter(r.headers["webhook-id"] for r in portal.requests)
    assert set(counts) == set(event_ids)
    assert max(counts.values()) == 1, "an event was sent twice"
    assert handled["one"] > 0 and handled["two"] > 0 and handled.total() == 120


async def test_dispatcher_is_a_registered_worker_job(app: FastAPI, outbound: RoutingTransport) -> None:
    (spec,) = [s for s in job_specs() if s.name == "webhooks"]
    container = container_of(app)
    client_id, _ = await make_client(container)
    outbound.handle(PORTAL, Receiver(200))
    event_id = await emit(container, client_id)
    assert await spec.run(container) == 1
    assert (await delivery_of(container, event_id)).status == "delivered"
    assert await spec.run(container) == 0


# ---------------------------------------------------------------------------- rotation and listing


async def test_rotated_secret_both_sign_during_grace_then_only_the_new(
    app: FastAPI,
    client: httpx.AsyncClient,
    outbound: RoutingTransport,
    clock: Clock,
    admin_headers: dict[str, str],
) -> None:
    real_time(clock)
    container = container_of(app)
    client_id, old_secret = await make_client(container)
    portal = Receiver(200)
    outbound.handle(PORTAL, portal)

    r = await client.post(
        f"/admin/v1/clients/{client_id}/webhook-secret", json={"grace_seconds": 120}, headers=admin_headers
    )
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    new_secret = r.json()["webhook_secret"]
    assert new_secret.startswith("whsec_") and new_secret != old_secret

    await emit(container, client_id)
    await webhooks.dispatch_due(container)
    during = portal.requests[-1]
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    assert verify(new_secret, during) and verify(old_secret, during)

    clock.advance(seconds=121)
    await emit(container, client_id)
    await webhooks.dispatch_due(container)
    after = portal.requests[-1]
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    assert verify(new_secret, after)
    with pytest.raises(WebhookVerificationError):
        verify(old_secret, after)

    r = await client.post("/admin/v1/clients/cli_nope/webhook-secret", headers=admin_headers)
    assert r.status_code == 404 and r.json()["code"] == "client_not_found"
    r = await client.post(
        f"/admin/v1/clients/{client_id}/webhook-secret", json={"grace_seconds": -1}, headers=admin_headers
    )
    assert r.status_code == 422


async def test_operator_lists_a_clients_failing_deliveries(
    app: FastAPI, client: httpx.AsyncClient, outbound: RoutingTransport, admin_headers: dict[str, str]
) -> None:
    container = container_of(app)
    failing_client, _ = await make_client(container, webhook_url="https://down.example/hook")
    ok_client, _ = await make_client(container)
    outbound.handle(PORTAL, Receiver(200))
    failing = [await emit(container, failing_client) for _ in range(3)]
    delivered = await emit(container, ok_client)
    await webhooks.dispatch_due(container)

    url = f"/admin/v1/clients/{failing_client}/deliveries"
    r = await client.get(url, params={"status": "failing", "limit": 2}, headers=admin_headers)
    assert r.status_code == 200, r.text
    page = r.json()
    assert [d["event_id"] for d in page["data"]] == failing[::-1][:2]
    assert page["data"][0]["last_error"].startswith("ConnectError") and page["data"][0]["attempts"] == 1
    r = await client.get(
        url, params={"status": "failing", "cursor": page["next_cursor"]}, headers=admin_headers
    )
    assert [d["event_id"] for d in r.json()["data"]] == [failing[0]] and r.json()["next_cursor"] is None

    r = await client.get(
        f"/admin/v1/clients/{ok_client}/deliveries", params={"status": "failing"}, headers=admin_headers
    )
    assert r.json()["data"] == []
    r = await client.get("/admin/v1/deliveries", params={"status": "delivered"}, headers=admin_headers)
    assert [d["event_id"] for d in r.json()["data"]] == [delivered]
    r = await client.get("/admin/v1/clients/cli_nope/deliveries", headers=admin_headers)
    assert r.status_code == 404
    r = await client.get("/admin/v1/deliveries", params={"status": "bogus"}, headers=admin_headers)
    assert r.status_code == 422
