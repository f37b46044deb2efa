"""`GET /v1/events`: a client's events in order, paged by `after`, never another client's."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.container import Container
from app.ids import new_id
from app.models import ApiKey, Client, Event
from app.security import hash_api_key, new_api_key, new_webhook_secret
from app.services.notifications.event_feed import MAX_LIMIT
from app.services.notifications.events import emit_event
from app.stores.events import lock_event_stream, stream_lock_key


def container_of(app: FastAPI) -> Container:
    container: Container = app.state.container
    return container


async def make_client(container: Container, *, webhook_url: str | None = None) -> tuple[str, dict[str, str]]:
    """A client and the headers that authenticate as it."""
    client_id, key = new_id("cli"), new_api_key()
    now = container.clock()
    async with container.db.transaction() as session:
        session.add(
            Client(
                id=client_id,
                name="Một cửa " + client_id[-4:],
                webhook_url=webhook_url,
                webhook_secret_enc=container.vault.encrypt(new_webhook_secret()),
                allowed_hosts=[],
                created_at=now,
                updated_at=now,
            )
        )
        await session.flush()
        session.add(ApiKey(client_id=client_id, key_hash=hash_api_key(key), prefix=key[:8], created_at=now))
    return client_id, {"Authorization": f"Bearer {key}"}


async def emit(session: AsyncSession, container: Container, client_id: str, n: int) -> str:
    event = await emit_event(
        session,
        type="payment.succeeded",
        client_id=client_id,
        data={"id": f"pay_{n}", "amount": 10000 * n, "status": "succeeded"},
        now=container.clock(),
    )
    await session.flush()  # take the seq now (the gap test depends on when)
    return event.id


async def emit_many(container: Container, client_id: str, count: int, start: int = 0) -> list[str]:
    ids = []
    for n in range(start, start + count):
        async with container.db.transaction() as session:
            ids.append(await emit(session, container, client_id, n))
    return ids


async def test_events_in_order_paged_by_after(app: FastAPI, client: httpx.AsyncClient) -> None:
    container = container_of(app)
    a_id, a_headers = await make_client(container, webhook_url="https://portal-a.example/hook")
    b_id, _ = await make_client(container)
    expected = []
    for n in range(5):  # interleaved with another client's events
        expected += await emit_many(container, a_id, 1, start=n)
        await emit_many(container, b_id, 1, start=n)

    r = await client.get("/v1/events", headers=a_headers, params={"limit": 2})
    assert r.status_code == 200, r.text
    page = r.json()
    assert [e["id"] for e in page["data"]] == expected[:2]
    assert page["next_after"] == expected[1]
    first = page["data"][0]
    assert set(first) == {"id", "type", "created_at", "data"}
    assert first["type"] == "payment.succeeded" and first["data"] == {
        "id": "pay_0",
        "amount": 0,
        "status": "succeeded",
    }
    assert first["created_at"] == container.clock().isoformat()

    seen = [e["id"] for e in page["data"]]
    after = page["next_after"]
    while True:
        page = (await client.get("/v1/events", headers=a_headers, params={"after": after, "limit": 2})).json()
        if not page["data"]:
            assert page["next_after"] == after  # nothing new: keep polling with the same `after`
            break
        seen += [e["id"] for e in page["data"]]
        after = page["next_after"]
    assert seen == expected

    # A new event shows up after the stored position, and only it.
    (new,) = await emit_many(container, a_id, 1, start=9)
    page = (await client.get("/v1/events", headers=a_headers, params={"after": after})).json()
    assert [e["id"] for e in page["data"]] == [new]


async def test_feed_never_shows_another_clients_events(app: FastAPI, client: httpx.AsyncClient) -> None:
    container = container_of(app)
    a_id, a_headers = await make_client(container)
    b_id, b_headers = await make_client(container)
    a_events = await emit_many(container, a_id, 3)
    b_events = await emit_many(container, b_id, 2)

    assert [e["id"] for e in (await client.get("/v1/events", headers=a_headers)).json()["data"]] == a_events
    assert [e["id"] for e in (await client.get("/v1/events", headers=b_headers)).json()["data"]] == b_events
    # Another client's event id as `after` is as unknown as a made-up one: nothing leaks.
    for after in (a_events[0], "evt_doesnotexist"):
        r = await client.get("/v1/events", headers=b_headers, params={"after": after})
        assert r.status_code == 400
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["code"] == "invalid_after"
    r = await client.get("/v1/events")
    assert r.status_code == 401


async def test_empty_feed_and_limit_bounds(app: FastAPI, client: httpx.AsyncClient) -> None:
    container = container_of(app)
    a_id, headers = await make_client(container)
    assert (await client.get("/v1/events", headers=headers)).json() == {"data": [], "next_after": None}
    await emit_many(container, a_id, 3)
    r = await client.get("/v1/events", headers=headers, params={"after": ""})  # unset position
    assert r.status_code == 200 and len(r.json()["data"]) == 3
    for bad in (0, -1, MAX_LIMIT + 1, "x"):
        r = await client.get("/v1/events", headers=headers, params={"limit": bad})
        assert r.status_code == 422, bad
        assert r.json()["code"] == "validation_error"
    r = await client.get("/v1/events", headers=headers, params={"limit": MAX_LIMIT})
    assert r.status_code == 200 and len(r.json()["data"]) == 3
    r = await client.get("/v1/events", headers=headers, params={"limit": 1})
    assert len(r.json()["data"]) == 1
    r = await client.get("/v1/events", headers=headers, params={"after": "e" * 65})
    assert r.status_code == 422


async def test_feed_default_limit_is_fifty(app: FastAPI, client: httpx.AsyncClient) -> None:
    container = container_of(app)
    a_id, headers = await make_client(container)
    async with container.db.transaction() as session:
        ids = [await emit(session, container, a_id, n) for n in range(55)]
    page = (await client.get("/v1/events", headers=headers)).json()
    assert [e["id"] for e in page["data"]] == ids[:50]
    page = (await client.get("/v1/events", headers=headers, params={"after": page["next_after"]})).json()
    assert [e["id"] for e in page["data"]] == ids[50:]


def test_stream_lock_key_is_stable_and_per_client() -> None:
    assert stream_lock_key("cli_A") == stream_lock_key("cli_A")
    assert stream_lock_key("cli_A") != stream_lock_key("cli_B")
    assert -(2**63) <= stream_lock_key("cli_A") < 2**63


async def test_commit_order_gap_is_closed_by_the_stream_lock(app: FastAPI, client: httpx.AsyncClient) -> None:
    """Two transactions append events for one client; the one with the lower seq commits last.
    Without the lock a reader would see the higher seq first and skip the lower one forever."""
    container = container_of(app)
    a_id, headers = await make_client(container)
    other_id, _ = await make_client(container)
    first_inserted = asyncio.Event()
    release_first = asyncio.Event()

    async def slow_writer() -> str:
        async with container.db.transaction() as session:
            await lock_event_stream(session, a_id)
            event_id = await emit(session, container, a_id, 1)  # takes its seq now
            first_inserted.set()
            await release_first.wait()
        return event_id

    async def fast_writer() -> str:
        await first_inserted.wait()
        async with container.db.transaction() as session:
            await lock_event_stream(session, a_id)
            return await emit(session, container, a_id, 2)

    slow = asyncio.create_task(slow_writer())
    fast = asyncio.create_task(fast_writer())
    await first_inserted.wait()
    # Another client's stream is not held up by a's lock.
    (other_event,) = await asyncio.wait_for(emit_many_locked(container, other_id), timeout=5)
    await asyncio.sleep(0.3)
    assert not fast.done(), "the second append did not wait for the first"
    polled = (await client.get("/v1/events", headers=headers)).json()
    assert polled["data"] == []  # neither visible yet: a reader cannot skip the lower seq
    release_first.set()
    slow_id, fast_id = await slow, await fast
    page = (await client.get("/v1/events", headers=headers)).json()
    assert [e["id"] for e in page["data"]] == [slow_id, fast_id]
    async with container.db.session() as session:
        seqs = {row.id: row.seq for row in await session.execute(select(Event.id, Event.seq))}
    assert seqs[slow_id] < seqs[fast_id]
    assert other_event in seqs


async def emit_many_locked(container: Container, client_id: str) -> list[str]:
    async with container.db.transaction() as session:
        await lock_event_stream(session, client_id)
        return [await emit(session, container, client_id, 7)]
