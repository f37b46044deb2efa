"""Nothing happens twice under concurrency: the issue's two 50-way races, on both databases."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from app.models import Payment
from tests.factories import World, bill, make_world


@pytest.fixture
async def world(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> World:
    return await make_world(client, admin_headers)


async def _payments(app: FastAPI) -> int:
    async with app.state.container.db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(Payment)) or 0)


async def test_50_concurrent_identical_creates_make_one_payment(
    client: httpx.AsyncClient, app: FastAPI, world: World
) -> None:
    body = bill(provider="sandbox")
    headers = {**world.headers, "Idempotency-Key": "same-key-50"}
    responses = await asyncio.gather(
        *[client.post("/v1/payments", json=body, headers=headers) for _ in range(50)]
    )
    assert [r.status_code for r in responses] == [201] * 50
    replayed = [r for r in responses if r.headers.get("Idempotent-Replayed") == "true"]
    assert len(replayed) == 49
    assert len({r.content for r in responses}) == 1
    assert await _payments(app) == 1


async def test_50_concurrent_keys_for_one_bill_make_one_payment(
    client: httpx.AsyncClient, app: FastAPI, world: World
) -> None:
    body = bill(dossier_code="HS-RACE", bill_code="B-RACE")
    responses = await asyncio.gather(
        *[
            client.post("/v1/payments", json=body, headers={**world.headers, "Idempotency-Key": f"race-{i}"})
            for i in range(50)
        ]
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] + [409] * 49
    winner = next(r for r in responses if r.status_code == 201).json()["id"]
    for r in responses:
        if r.status_code == 409:
            assert r.json()["code"] == "duplicate_bill"
            assert r.json()["payment_id"] == winner
    assert await _payments(app) == 1
