"""One lock order for every path that changes a payment and its attempts (issue 19, item 1).

Cancel, record-offline and expiry lock the payment row, then its attempts; a gateway's success
must do the same, or the two wait for each other and PostgreSQL kills one with a deadlock (a
cancel answered 500; an IPN answered a problem+json 500 instead of the gateway's own reply).
Here valid IPNs race cancels, counter payments and expiries, many rounds through the ASGI app
and a real connection pool, and every race must end in exactly one consistent state.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from app.adapters.sandbox import sign
from app.models import Attempt, Event, InboundCallback, Payment, ProviderAccount
from app.services.callbacks.expiry import expire_payment
from tests.factories import World, create, make_world

ROUNDS = 12
PER_ROUND = 8  # payments raced at once in a round


@pytest.fixture
async def world(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> World:
    return await make_world(client, admin_headers, webhook_url="https://portal.example.gov.vn/hooks")


async def _secret(app: FastAPI, account_id: str) -> tuple[str, str]:
    container = app.state.container
    async with container.db.session() as session:
        row = await session.get(ProviderAccount, account_id)
    assert row is not None
    creds = container.vault.decrypt_json(row.credentials_enc)
    return creds["merchant_id"], creds["secret"]


async def _state(app: FastAPI, payment_id: str) -> dict[str, Any]:
    async with app.state.container.db.session() as session:
        payment = await session.get(Payment, payment_id)
        assert payment is not None
        attempts = (await session.scalars(select(Attempt).where(Attempt.payment_id == payment_id))).all()
        events = (
            await session.scalars(select(Event).where(Event.payment_id == payment_id).order_by(Event.seq))
        ).all()
        verdicts = (
            await session.scalars(
                select(InboundCallback.verdict).where(InboundCallback.reference == attempts[0].reference)
            )
        ).all()
    return {
        "status": payment.status,
        "channel": payment.channel,
        "attempt": (attempts[0].status, attempts[0].late, attempts[0].duplicate_paid),
        "events": [e.type for e in events],
        "verdicts": list(verdicts),
    }


async def test_ipns_racing_cancel_offline_and_expiry_never_deadlock(
    client: httpx.AsyncClient, app: FastAPI, world: World
) -> None:
    merchant, secret = await _secret(app, world.sandbox_account_id)
    container = app.state.container
    statuses: list[int] = []
    outcomes: dict[str, int] = {}

    async def ipn(p: dict[str, Any]) -> httpx.Response:
        await asyncio.sleep(random.uniform(0, 0.006))  # spread the overlaps
        raw = orjson.dumps(
            {
                "merchant_id": merchant,
                "reference": p["attempts"][-1]["reference"],
                "amount": p["amount"],
                "status": "success",
                "transaction_id": f"T-{p['id']}",
                "paid_at": "2026-11-21T10:01:02+07:00",
            }
        )
        return await client.post(
            f"/v1/callbacks/sandbox/{world.sandbox_account_id}",
            content=raw,
            headers={"Content-Type": "application/json", "X-Sandbox-Signature": sign(secret, raw.decode())},
        )

    async def rival(kind: str, p: dict[str, Any]) -> int:
        await asyncio.sleep(random.uniform(0, 0.006))
        if kind == "cancel":
            r = await client.post(f"/v1/payments/{p['id']}/cancel", headers=world.headers)
        elif kind == "offline":
            r = await client.post(
                f"/v1/payments/{p['id']}/offline",
                json={"method": "cash", "paid_at": "2026-11-21T10:00:00+07:00", "receipt_number": "Q-1"},
                headers=world.headers,
            )
        else:
            return 200 if await expire_payment(container, p["id"]) else 409
        return r.status_code

    kinds = ("cancel", "offline", "expire")
    for round_no in range(ROUNDS):
        payments = []
        for _ in range(PER_ROUND):
            r = await create(client, world, provider="sandbox")
            assert r.status_code == 201, r.text
            payments.append(r.json())
        races = []
        for i, p in enumerate(payments):
            kind = kinds[(round_no + i) % 3]
            pair = [ipn(p), rival(kind, p)]
            races.append(asyncio.gather(*(pair if i % 2 else pair[::-1])))
        results = await asyncio.gather(*races)
        for i, (first, second) in enumerate(results):
            p, kind = payments[i], kinds[(round_no + i) % 3]
            pair_result: tuple[Any, Any] = (first, second) if i % 2 else (second, first)
            reply: httpx.Response = pair_result[0]
            rival_status: int = pair_result[1]
            statuses += [reply.status_code, rival_status]
            assert reply.status_code == 200, reply.text
            assert orjson.loads(reply.content)["verdict"] == "accepted"
            assert rival_status in (200, 409), (kind, rival_status)
            state = await _state(app, p["id"])
            # The callback was stored and got its verdict; the success is never lost.
            assert state["verdicts"] == ["accepted"]
            assert state["attempt"][0] == "succeeded"
            rival_won = rival_status == 200
            outcomes[f"{kind}:{'rival' if rival_won else 'ipn'}"] = (
                outcomes.get(f"{kind}:{'rival' if rival_won else 'ipn'}", 0) + 1
            )
            if not rival_won:
                assert state["status"] == "succeeded" and state["channel"] == "online"
                assert state["events"] == ["payment.succeeded"]
                assert state["attempt"] == ("succeeded", False, False)
            elif kind == "offline":  # paid at the counter first: the online money is a duplicate
                assert state["status"] == "succeeded" and state["channel"] == "offline"
                assert state["events"] == ["payment.succeeded", "payment.duplicate_paid"]
                assert state["attempt"] == ("succeeded", False, True)
            else:  # cancelled or expired first: the late success wins, flagged
                assert state["status"] == "succeeded" and state["channel"] == "online"
                assert state["events"] == [
                    f"payment.{'cancelled' if kind == 'cancel' else 'expired'}",
                    "payment.succeeded",
                ]
                assert state["attempt"] == ("succeeded", True, False)
    assert all(s < 500 for s in statuses)
    assert len(statuses) == 2 * ROUNDS * PER_ROUND
    print("race outcomes:", outcomes)


async def _holding_the_payment_lock(
    app: FastAPI, payment_id: str, attempt_id: str, rival: Any
) -> tuple[bool, Any]:
    """Lock the payment row as cancel/offline/expiry do (first), let ``rival`` run meanwhile, then
    try the attempt's lock as they would next. True: the attempt was free, i.e. the rival waits
    for the payment before it touches the attempt (the one lock order); then the rival finishes."""
    pool = await app.state.container.db.raw()
    async with pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        await conn.execute("SELECT 1 FROM payments WHERE id = $1 FOR UPDATE", payment_id)
        task = asyncio.create_task(rival())
        await asyncio.sleep(0.3)  # the rival runs until it blocks on a lock we hold
        try:
            await conn.execute("SELECT 1 FROM attempts WHERE id = $1 FOR UPDATE NOWAIT", attempt_id)
            attempt_free = True
        except asyncpg.LockNotAvailableError:
            attempt_free = False
        await tx.rollback()
    return attempt_free, await task


async def test_a_success_ipn_takes_the_payment_lock_before_the_attempt(
    client: httpx.AsyncClient, app: FastAPI, world: World
) -> None:
    """The IPN's one-statement path (a pending payment)."""
    merchant, secret = await _secret(app, world.sandbox_account_id)
    p = (await create(client, world, provider="sandbox")).json()
    attempt_free, reply = await _holding_the_payment_lock(
        app, p["id"], p["attempts"][0]["id"], lambda: _send_ipn(client, world, merchant, secret, p)
    )
    assert attempt_free
    assert reply.status_code == 200 and orjson.loads(reply.content)["verdict"] == "accepted"
    assert (await _state(app, p["id"]))["events"] == ["payment.succeeded"]


async def test_a_late_success_ipn_takes_the_payment_lock_before_the_attempt(
    client: httpx.AsyncClient, app: FastAPI, world: World
) -> None:
    """The general path (a cancelled payment: the late success is accepted and flagged)."""
    merchant, secret = await _secret(app, world.sandbox_account_id)
    p = (await create(client, world, provider="sandbox")).json()
    assert (await client.post(f"/v1/payments/{p['id']}/cancel", headers=world.headers)).status_code == 200
    attempt_free, reply = await _holding_the_payment_lock(
        app, p["id"], p["attempts"][0]["id"], lambda: _send_ipn(client, world, merchant, secret, p)
    )
    assert attempt_free
    assert reply.status_code == 200 and orjson.loads(reply.content)["verdict"] == "accepted"
    state = await _state(app, p["id"])
    assert state["events"] == ["payment.cancelled", "payment.succeeded"]
    assert state["attempt"] == ("succeeded", True, False)


async def _send_ipn(
    client: httpx.AsyncClient, world: World, merchant: str, secret: str, p: dict[str, Any]
) -> httpx.Response:
    raw = orjson.dumps(
        {
            "merchant_id": merchant,
            "reference": p["attempts"][-1]["reference"],
            "amount": p["amount"],
            "status": "success",
            "transaction_id": f"T-{p['id']}",
            "paid_at": "2026-11-21T10:01:02+07:00",
        }
    )
    return await client.post(
        f"/v1/callbacks/sandbox/{world.sandbox_account_id}",
        content=raw,
        headers={"Content-Type": "application/json", "X-Sandbox-Signature": sign(secret, raw.decode())},
    )
