"""Property: any interleaving of callbacks (duplicate, out of order, late), cancels, expiries and
counter payments never yields two successes, never loses a success, and never moves a payment
backwards."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app.adapters.sandbox import sign
from app.models import Event, ProviderAccount
from app.services.callbacks.expiry import expire_payment
from tests.factories import make_world

RANK = {"pending": 0, "cancelled": 1, "expired": 1, "succeeded": 2, "partially_refunded": 3, "refunded": 3}

op = st.one_of(
    st.tuples(st.just("callback"), st.integers(0, 2), st.sampled_from(["success", "failed", "cancelled"])),
    st.tuples(st.just("cancel")),
    st.tuples(st.just("expire")),
    st.tuples(st.just("offline")),
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(op, min_size=1, max_size=10))
async def test_any_interleaving_keeps_the_invariants(
    client: httpx.AsyncClient, app: FastAPI, admin_headers: dict[str, str], ops: list[tuple[Any, ...]]
) -> None:
    container = app.state.container
    if not hasattr(app.state, "world"):
        app.state.world = await make_world(client, admin_headers)
        async with container.db.session() as session:
            row = await session.get(ProviderAccount, app.state.world.sandbox_account_id)
        app.state.creds = container.vault.decrypt_json(row.credentials_enc)
    world, creds = app.state.world, app.state.creds
    headers = world.headers
    from tests.factories import create

    payment = (await create(client, world, provider="sandbox")).json()
    pid = payment["id"]
    for _ in range(2):
        await client.post(f"/v1/payments/{pid}/attempts", json={"provider": "sandbox"}, headers=headers)
    attempts = (await client.get(f"/v1/payments/{pid}", headers=headers)).json()["attempts"]
    references = [a["reference"] for a in attempts]

    success_sent: list[int] = []
    last_rank = 0
    for step in ops:
        if step[0] == "callback":
            _, index, status = step
            if index >= len(references):
                continue
            body = orjson.dumps(
                {
                    "merchant_id": creds["merchant_id"],
                    "reference": references[index],
                    "amount": payment["amount"],
                    "status": status,
                    "transaction_id": f"T{index}",
                }
            )
            r = await client.post(
                f"/v1/callbacks/sandbox/{world.sandbox_account_id}",
                content=body,
                headers={"X-Sandbox-Signature": sign(creds["secret"], body.decode())},
            )
            assert r.status_code == 200, r.text
            if status == "success":
                success_sent.append(index)
        elif step[0] == "cancel":
            r = await client.post(f"/v1/payments/{pid}/cancel", headers=headers)
            assert r.status_code in (200, 409)
        elif step[0] == "expire":
            await expire_payment(container, pid)
        elif step[0] == "offline":
            r = await client.post(
                f"/v1/payments/{pid}/offline",
                json={"method": "cash", "paid_at": "2026-11-21T09:00:00+07:00"},
                headers=headers,
            )
            assert r.status_code in (200, 409)

        state = (await client.get(f"/v1/payments/{pid}", headers=headers)).json()
        rank = RANK[state["status"]]
        assert rank >= last_rank, f"moved backwards to {state['status']}"
        last_rank = rank
        winners = [a for a in state["attempts"] if a["status"] == "succeeded" and not a["duplicate_paid"]]
        assert len(winners) <= 1, "two successes"
        if success_sent:
            assert state["status"] == "succeeded", "a success was lost"
            paid_attempts = {references[i] for i in success_sent}
            recorded = {a["reference"] for a in state["attempts"] if a["status"] == "succeeded"}
            assert recorded == paid_attempts, "a gateway success was not recorded"

    async with container.db.session() as session:
        types = list((await session.scalars(select(Event.type).where(Event.payment_id == pid))).all())
    assert types.count("payment.succeeded") <= 1
    distinct_successes = len(set(success_sent))
    paid_offline = state["channel"] == "offline"
    if distinct_successes:
        expected_duplicates = distinct_successes - (0 if paid_offline else 1)
        assert types.count("payment.duplicate_paid") == expected_duplicates
    assert types.count("payment.cancelled") <= 1 and types.count("payment.expired") <= 1
