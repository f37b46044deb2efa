"""The two-statement callback path (``fast_callbacks``, PostgreSQL) against the ORM path: the same
rows, event and outbox row after a success; a replay changes nothing; races fall back to the ORM
path and end as it would; a changed account is never verified with stale credentials. On SQLite
the fast path is absent and the same behaviour is asserted of the ORM path."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update

from app.adapters.sandbox import sign
from app.models import Attempt, Event, InboundCallback, Payment, ProviderAccount, WebhookDelivery
from app.services.callbacks import fast as fast_callbacks
from app.services.callbacks import pipeline as callbacks
from app.stores import callbacks as callback_store
from tests.conftest import BASE_URL
from tests.factories import World, create, make_world
from tests.payment_oracle import orm_visible_payment_resource


@pytest.fixture
async def world(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> World:
    return await make_world(client, admin_headers, webhook_url="https://portal.example.gov.vn/hooks")


@pytest.fixture
def orm_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every callback that went down the ORM path (after the raw store)."""
    calls: list[str] = []
    original = callbacks.after_store

    async def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append("orm")
        return await original(*args, **kwargs)

    monkeypatch.setattr(callbacks, "after_store", spy)
    return calls


async def _secret(app: FastAPI, account_id: str) -> tuple[str, str]:
    container = app.state.container
    async with container.db.session() as session:
        row = await session.get(ProviderAccount, account_id)
    assert row is not None
    creds = container.vault.decrypt_json(row.credentials_enc)
    return creds["merchant_id"], creds["secret"]


async def _ipn(client: httpx.AsyncClient, world: World, secret: str, body: dict[str, Any]) -> httpx.Response:
    raw = orjson.dumps(body)
    return await client.post(
        f"/v1/callbacks/sandbox/{world.sandbox_account_id}",
        content=raw,
        headers={"Content-Type": "application/json", "X-Sandbox-Signature": sign(secret, raw.decode())},
    )


async def _payment(client: httpx.AsyncClient, world: World) -> dict[str, Any]:
    r = await create(
        client,
        world,
        provider="sandbox",
        amount=80000,
        items=[
            {"revenue_type_code": "2771", "amount": 50000, "description": "Bản sao"},
            {"revenue_type_code": "2771", "amount": 30000},
        ],
        metadata={"z": 1, "a": [1, "b"]},
    )
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


def _success(merchant: str, p: dict[str, Any], txn: str = "T1") -> dict[str, Any]:
    return {
        "merchant_id": merchant,
        "reference": p["attempts"][-1]["reference"],
        "amount": p["amount"],
        "status": "success",
        "transaction_id": txn,
        "paid_at": "2026-11-21T10:01:02+07:00",
    }


_ATTEMPT_COLS = (
    "status",
    "provider_transaction_id",
    "failure_code",
    "failure_message",
    "completed_at",
    "updated_at",
    "next_check_at",
    "duplicate_paid",
    "late",
)
_PAYMENT_COLS = ("status", "channel", "paid_at", "updated_at", "refunded_amount")
_CALLBACK_COLS = (
    "verified",
    "verdict",
    "needs_review",
    "amount",
    "outcome",
    "response_status",
    "response_body",
    "processed_at",
)


async def _state(app: FastAPI, payment_id: str) -> dict[str, Any]:
    """Everything an IPN writes for this payment, without ids that differ between payments."""
    async with app.state.container.db.session() as session:
        payment = await session.get(Payment, payment_id)
        assert payment is not None
        attempts = (await session.scalars(select(Attempt).where(Attempt.payment_id == payment_id))).all()
        events = (await session.scalars(select(Event).where(Event.payment_id == payment_id))).all()
        deliveries = (
            await session.scalars(
                select(WebhookDelivery).where(WebhookDelivery.event_id.in_([e.id for e in events]))
            )
        ).all()
        refs = [a.reference for a in attempts]
        cbs = (
            await session.scalars(
                select(InboundCallback)
                .where(InboundCallback.reference.in_(refs))
                .order_by(InboundCallback.id)
            )
        ).all()
        rendered = await orm_visible_payment_resource(session, payment_id, BASE_URL, lambda _p: True)
    assert rendered is not None
    return {
        "payment": {c: getattr(payment, c) for c in _PAYMENT_COLS},
        "succeeded_attempt": [a.id for a in attempts].index(payment.succeeded_attempt_id)
        if payment.succeeded_attempt_id
        else None,
        "attempts": [{c: getattr(a, c) for c in _ATTEMPT_COLS} for a in attempts],
        "events": [(e.type, e.created_at, e.client_id) for e in events],
        "event_data": [e.data for e in events],
        "rendered": rendered,
        "deliveries": [
            (d.status, d.attempts, d.next_attempt_at, d.created_at, d.client_id) for d in deliveries
        ],
        "callbacks": [
            {
                **{c: getattr(cb, c) for c in _CALLBACK_COLS},
                "matched": cb.attempt_id in [a.id for a in attempts],
            }
            for cb in cbs
        ],
    }


def _orm_only(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    """Send the success down the general path (it handles late and duplicate successes)."""

    async def not_here(*_args: Any) -> None:
        return None

    monkeypatch.setattr(fast_callbacks, "_apply_success", not_here)


async def test_success_writes_what_the_orm_path_writes(
    client: httpx.AsyncClient,
    app: FastAPI,
    world: World,
    orm_calls: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    merchant, secret = await _secret(app, world.sandbox_account_id)
    fast, slow = await _payment(client, world), await _payment(client, world)
    # The first callback of an account fills the credentials cache (ORM path); warm it.
    warm = await _payment(client, world)
    assert (await _ipn(client, world, secret, _success(merchant, warm))).status_code == 200
    orm_calls.clear()

    r = await _ipn(client, world, secret, _success(merchant, fast))
    assert r.status_code == 200 and orjson.loads(r.content) == {"received": True, "verdict": "accepted"}
    assert orm_calls == []
    with monkeypatch.context() as m:
        _orm_only(app, m)
        r2 = await _ipn(client, world, secret, _success(merchant, slow))
    assert r2.content == r.content

    got, want = await _state(app, fast["id"]), await _state(app, slow["id"])
    assert got["payment"]["status"] == "succeeded" and got["events"][0][0] == "payment.succeeded"
    assert len(got["deliveries"]) == 1 and got["callbacks"][0]["verdict"] == "accepted"
    # The event carries the resource exactly as a read after the commit renders it.
    assert got["event_data"] == [got["rendered"]]
    for key in ("payment", "succeeded_attempt", "attempts", "events", "deliveries", "callbacks"):
        assert got[key] == want[key], key
    # Same shape of event data too (ids and URLs differ between the two payments).
    assert sorted(got["event_data"][0]) == sorted(want["event_data"][0])
    assert got["event_data"][0]["attempts"][0]["provider_transaction_id"] == "T1"
    assert got["event_data"][0]["paid_at"] == "2026-11-21T03:01:02+00:00"
    # The GET after it shows what the event said.
    shown = (await client.get(f"/v1/payments/{fast['id']}", headers=world.headers)).json()
    assert shown == got["event_data"][0]


async def test_replay_changes_nothing(
    client: httpx.AsyncClient, app: FastAPI, world: World, orm_calls: list[str]
) -> None:
    merchant, secret = await _secret(app, world.sandbox_account_id)
    p = await _payment(client, world)
    body = _success(merchant, p)
    assert (await _ipn(client, world, secret, body)).status_code == 200
    before = await _state(app, p["id"])
    again = await _ipn(client, world, secret, body)
    assert again.status_code == 200 and orjson.loads(again.content)["verdict"] == "already_processed"
    after = await _state(app, p["id"])
    for key in ("payment", "attempts", "events", "event_data", "deliveries"):
        assert after[key] == before[key], key
    assert [c["verdict"] for c in after["callbacks"]] == ["accepted", "already_processed"]
    # A second payment under another transaction id is the ORM path's business (duplicate money).
    second = await _ipn(client, world, secret, _success(merchant, p, txn="T2"))
    assert second.status_code == 200
    async with app.state.container.db.session() as session:
        types = (await session.scalars(select(Event.type).where(Event.payment_id == p["id"]))).all()
    assert sorted(types) == ["payment.duplicate_paid", "payment.succeeded"]


class _HookedPool:
    """The raw pool, with a hook run just before the success statement is sent."""

    def __init__(self, pool: asyncpg.Pool, hook: Callable[[], Awaitable[None]]) -> None:
        self.pool, self.hook, self.hooked = pool, hook, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.pool, name)

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[Any]:
        async with self.pool.acquire() as conn:
            yield _HookedConnection(conn, self)


class _HookedConnection:
    def __init__(self, conn: asyncpg.Connection, pool: _HookedPool) -> None:
        self.conn, self.pool = conn, pool

    def __getattr__(self, name: str) -> Any:
        return getattr(self.conn, name)

    async def fetch(self, sql: str, *args: Any) -> Any:
        if sql is callback_store.APPLY_SUCCESSES:
            self.pool.hooked += 1
            await self.pool.hook()
        return await self.conn.fetch(sql, *args)


async def test_a_cancel_between_read_and_write_falls_back_to_a_late_success(
    client: httpx.AsyncClient,
    app: FastAPI,
    world: World,
    orm_calls: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    merchant, secret = await _secret(app, world.sandbox_account_id)
    p = await _payment(client, world)
    db = app.state.container.db
    real = await db.raw()

    async def cancel() -> None:
        r = await client.post(f"/v1/payments/{p['id']}/cancel", headers=world.headers)
        assert r.status_code == 200, r.text

    hooked = _HookedPool(real, cancel)

    async def raw() -> Any:
        return hooked

    monkeypatch.setattr(db, "raw", raw)
    fast_callbacks.forget_accounts(app.state.container)
    warm = await _payment(client, world)
    assert (await _ipn(client, world, secret, _success(merchant, warm))).status_code == 200
    orm_calls.clear()
    hooked.hooked = 0
    monkeypatch.setattr(hooked, "hook", cancel)

    r = await _ipn(client, world, secret, _success(merchant, p))
    assert r.status_code == 200 and orjson.loads(r.content)["verdict"] == "accepted"
    assert hooked.hooked == 1 and orm_calls == ["orm"]
    state = await _state(app, p["id"])
    assert state["payment"]["status"] == "succeeded"
    assert state["attempts"][0]["late"] is True and state["attempts"][0]["status"] == "succeeded"
    assert sorted(t for t, _, _ in state["events"]) == ["payment.cancelled", "payment.succeeded"]
    assert len(state["deliveries"]) == 2
    assert [c["verdict"] for c in state["callbacks"]] == ["accepted"]


async def test_a_payment_cas_lost_mid_statement_commits_nothing_of_it(
    client: httpx.AsyncClient,
    app: FastAPI,
    world: World,
    orm_calls: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The attempt's compare-and-set takes, the payment's loses (a cancel commits while the
    statement waits for the payment row): the statement fails whole, the ORM path decides."""
    merchant, secret = await _secret(app, world.sandbox_account_id)
    p = await _payment(client, world)
    db = app.state.container.db
    real = await db.raw()
    warm = await _payment(client, world)
    assert (await _ipn(client, world, secret, _success(merchant, warm))).status_code == 200
    orm_calls.clear()
    blocker = await real.acquire()
    tx = blocker.transaction()
    release: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def hold_payment_row() -> None:
        await tx.start()
        await blocker.execute(
            "UPDATE payments SET status = 'cancelled', updated_at = now() WHERE id = $1", p["id"]
        )

        async def commit_when_waited_on() -> None:
            for _ in range(500):
                waiting = await real.fetchval(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE wait_event_type = 'Lock' AND datname = current_database()"
                )
                if waiting:
                    break
                await asyncio.sleep(0.01)
            await tx.commit()
            release.set_result(None)

        asyncio.get_running_loop().create_task(commit_when_waited_on())

    hooked = _HookedPool(real, hold_payment_row)
    # The fingerprint check reads the snapshot before the cancel commits, so the attempt's CAS
    # takes; the payment's then waits for the row, sees it cancelled, and the statement fails.

    async def raw() -> Any:
        return hooked

    monkeypatch.setattr(db, "raw", raw)
    try:
        r = await _ipn(client, world, secret, _success(merchant, p))
    finally:
        await release
        await real.release(blocker)
    assert hooked.hooked == 1 and orm_calls == ["orm"]
    assert r.status_code == 200 and orjson.loads(r.content)["verdict"] == "accepted"
    state = await _state(app, p["id"])
    # The ORM path saw the cancelled payment: a late success, one event, one outbox row.
    assert state["payment"]["status"] == "succeeded"
    assert state["attempts"][0]["late"] is True
    assert [t for t, _, _ in state["events"]] == ["payment.succeeded"]
    assert len(state["deliveries"]) == 1
    assert [c["verdict"] for c in state["callbacks"]] == ["accepted"]


async def test_changed_account_credentials_are_never_used_stale(
    client: httpx.AsyncClient, app: FastAPI, world: World, orm_calls: list[str]
) -> None:
    merchant, secret = await _secret(app, world.sandbox_account_id)
    container = app.state.container
    warm = await _payment(client, world)
    assert (await _ipn(client, world, secret, _success(merchant, warm))).status_code == 200
    # Another process rotates the secret (a raw write: no local invalidation reaches the cache).
    new_secret = "n" * 32
    async with container.db.transaction() as session:
        await session.execute(
            update(ProviderAccount)
            .where(ProviderAccount.id == world.sandbox_account_id)
            .values(
                credentials_enc=container.vault.encrypt_json({"merchant_id": merchant, "secret": new_secret})
            )
        )
    p = await _payment(client, world)
    stale = await _ipn(client, world, secret, _success(merchant, p))
    assert stale.status_code == 401
    fresh = await _ipn(client, world, new_secret, _success(merchant, p))
    assert fresh.status_code == 200 and orjson.loads(fresh.content)["verdict"] == "accepted"
    async with container.db.session() as session:
        verdicts = (
            await session.scalars(
                select(InboundCallback.verdict)
                .where(InboundCallback.reference == p["attempts"][0]["reference"])
                .order_by(InboundCallback.id)
            )
        ).all()
        stored = await session.scalar(select(func.count()).select_from(InboundCallback))
    assert list(verdicts) == ["accepted"]  # the stale one was unverified: no reference kept
    assert stored == 3


async def test_failure_and_unknown_reference_take_the_orm_path(
    client: httpx.AsyncClient, app: FastAPI, world: World, orm_calls: list[str]
) -> None:
    merchant, secret = await _secret(app, world.sandbox_account_id)
    p = await _payment(client, world)
    failed = {**_success(merchant, p), "status": "failed"}
    assert (await _ipn(client, world, secret, failed)).status_code == 200
    unknown = {**_success(merchant, p), "reference": "PBNOSUCHREF0000"}
    assert (await _ipn(client, world, secret, unknown)).status_code == 404
    wrong = {**_success(merchant, p), "amount": 1}
    assert (await _ipn(client, world, secret, wrong)).status_code == 422
    assert orm_calls == ["orm", "orm", "orm"]
    state = await _state(app, p["id"])
    assert state["payment"]["status"] == "pending" and state["attempts"][0]["status"] == "failed"
    assert state["events"] == []


async def test_a_burst_of_successes_for_one_client_each_commit_once(
    client: httpx.AsyncClient,
    app: FastAPI,
    world: World,
    orm_calls: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Concurrent callbacks for one client are written together (group commit on PostgreSQL):
    each payment paid once, one event and one outbox row each, the same attempt twice in the
    burst still once, two attempts of one payment: one success and one duplicate_paid."""
    merchant, secret = await _secret(app, world.sandbox_account_id)
    warm = await _payment(client, world)
    assert (await _ipn(client, world, secret, _success(merchant, warm))).status_code == 200
    payments = [await _payment(client, world) for _ in range(12)]
    twice = payments[0]
    two_tabs = payments[1]
    second = (
        await client.post(
            f"/v1/payments/{two_tabs['id']}/attempts", json={"provider": "sandbox"}, headers=world.headers
        )
    ).json()
    bodies = [_success(merchant, p, txn=f"T{n}") for n, p in enumerate(payments)]
    bodies.append(_success(merchant, twice, txn="T0"))  # the same callback again
    bodies.append(_success(merchant, second, txn="TX2"))  # the citizen's other tab
    orm_calls.clear()
    batches: list[int] = []
    write = fast_callbacks._Committer._write

    async def counted(self: Any, pool: Any, batch: list[Any]) -> Any:
        batches.append(len(batch))
        return await write(self, pool, batch)

    monkeypatch.setattr(fast_callbacks._Committer, "_write", counted)
    replies = await asyncio.gather(*(_ipn(client, world, secret, b) for b in bodies))
    assert [r.status_code for r in replies] == [200] * len(bodies)
    verdicts = sorted(orjson.loads(r.content)["verdict"] for r in replies)
    assert verdicts == ["accepted"] * (len(bodies) - 1) + ["already_processed"]
    # Only the repeated callback and the second tab are left to the ORM path; the rest were
    # written together, several to a statement.
    assert len(orm_calls) <= 2
    assert sum(batches) >= len(payments) and max(batches) > 1
    async with app.state.container.db.session() as session:
        events = (
            await session.scalars(
                select(Event).where(Event.payment_id.in_([p["id"] for p in payments])).order_by(Event.seq)
            )
        ).all()
        deliveries = await session.scalar(
            select(func.count())
            .select_from(WebhookDelivery)
            .where(WebhookDelivery.event_id.in_([e.id for e in events]))
        )
    kinds = sorted((e.payment_id, e.type) for e in events)
    want = sorted(
        [(p["id"], "payment.succeeded") for p in payments] + [(two_tabs["id"], "payment.duplicate_paid")]
    )
    assert kinds == want
    assert deliveries == len(events)
    for p in payments:
        state = await _state(app, p["id"])
        assert state["payment"]["status"] == "succeeded"
        succeeded = [e for e in events if e.payment_id == p["id"] and e.type == "payment.succeeded"]
        # The event says what a read after the commit shows, except what the duplicate changed later.
        if p is not two_tabs:
            assert succeeded[0].data == state["rendered"]
    feed = (await client.get("/v1/events", headers=world.headers, params={"limit": 500})).json()
    ids = [e["id"] for e in feed["data"]]
    assert [e.id for e in events] == [i for i in ids if i in {e.id for e in events}]


async def test_a_parser_crash_still_finds_the_callback_stored(
    client: httpx.AsyncClient, app: FastAPI, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parsing before the store (PostgreSQL, warm credentials) never costs the raw row: a parser
    that crashes is met again after the store, exactly as on the ORM path."""
    from app.adapters.sandbox import SandboxAdapter

    merchant, secret = await _secret(app, world.sandbox_account_id)
    warm = await _payment(client, world)
    assert (await _ipn(client, world, secret, _success(merchant, warm))).status_code == 200
    p = await _payment(client, world)

    def crash(self: Any, account: Any, request: Any) -> Any:
        raise RuntimeError("parser bug")

    monkeypatch.setattr(SandboxAdapter, "parse_callback", crash)
    crashed = await _ipn(client, world, secret, _success(merchant, p))
    assert crashed.status_code == 500
    async with app.state.container.db.session() as session:
        rows = (await session.scalars(select(InboundCallback).order_by(InboundCallback.id))).all()
    assert len(rows) == 2 and rows[-1].body == orjson.dumps(_success(merchant, p))
    assert rows[-1].verdict is None
    state = await _state(app, p["id"])
    assert state["payment"]["status"] == "pending" and state["events"] == []
