"""The payment resource read in one statement (``app.stores.payments``) against an independent
ORM reading (``tests.payment_oracle``) and known answers: same bytes for every shape of payment,
same scope check, and inside a transaction the same view of that transaction's uncommitted
writes."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
from fastapi import FastAPI
from sqlalchemy import update

from app.models import Attempt, Payment
from app.services.payments.views import load_payment_resource, load_visible_payment_resource, payment_resource
from app.stores.payments import fetch_rows
from tests.conftest import BASE_URL
from tests.factories import World, create, make_client, make_world, pay_in_sandbox
from tests.payment_oracle import orm_visible_payment_resource


async def _world(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> World:
    return await make_world(client, admin_headers, webhook_url="https://portal.example.gov.vn/hooks")


async def _orm(app: FastAPI, payment_id: str) -> dict[str, Any] | None:
    async with app.state.container.db.session() as session:
        return await orm_visible_payment_resource(session, payment_id, BASE_URL, lambda _p: True)


async def _shapes(client: httpx.AsyncClient, world: World) -> list[str]:
    """Payments in the shapes the resource can take: pending (sandbox checkout), two items with
    metadata and no bill code, paid, failed then retried, cancelled, paid at the counter."""
    ids = []
    r = await create(client, world, provider="sandbox")
    ids.append(r.json()["id"])
    r = await create(
        client,
        world,
        provider="sandbox",
        bill_code="HD-9",
        amount=80000,
        items=[
            {"revenue_type_code": "2771", "amount": 50000, "description": "Bản sao"},
            {"revenue_type_code": "2771", "amount": 30000},
        ],
        metadata={"z": 1, "a": {"nested": [1, 2, "ba"]}, "tên": "Nguyễn"},
        payer={"name": "Trần Thị B", "phone": "0900000000", "email": "b@example.vn"},
    )
    assert r.status_code == 201, r.text
    ids.append(r.json()["id"])
    paid = (await create(client, world, provider="sandbox")).json()
    await pay_in_sandbox(client, paid["checkout_url"])
    ids.append(paid["id"])
    retried = (await create(client, world, provider="sandbox")).json()
    await pay_in_sandbox(client, retried["checkout_url"], "failed")
    r = await client.post(
        f"/v1/payments/{retried['id']}/attempts", json={"provider": "sandbox"}, headers=world.headers
    )
    assert r.status_code == 201, r.text
    ids.append(retried["id"])
    cancelled = (await create(client, world)).json()
    r = await client.post(f"/v1/payments/{cancelled['id']}/cancel", headers=world.headers)
    assert r.status_code == 200, r.text
    ids.append(cancelled["id"])
    counter = (await create(client, world)).json()
    r = await client.post(
        f"/v1/payments/{counter['id']}/offline",
        json={"method": "cash", "receipt_number": "BL-1", "paid_at": "2026-11-21T09:30:00+07:00"},
        headers=world.headers,
    )
    assert r.status_code == 200, r.text
    ids.append(counter["id"])
    return ids


async def test_get_bytes_equal_the_orm_rendering(
    client: httpx.AsyncClient, app: FastAPI, admin_headers: dict[str, str]
) -> None:
    world = await _world(client, admin_headers)
    ids = await _shapes(client, world)
    for payment_id in ids:
        r = await client.get(f"/v1/payments/{payment_id}", headers=world.headers)
        assert r.status_code == 200, r.text
        expected = await _orm(app, payment_id)
        assert expected is not None
        assert r.content == orjson.dumps(expected)
    shown = [(await client.get(f"/v1/payments/{i}", headers=world.headers)).json() for i in ids]
    assert [p["status"] for p in shown] == [
        "pending",
        "pending",
        "succeeded",
        "pending",
        "cancelled",
        "succeeded",
    ]
    assert [len(p["attempts"]) for p in shown[:4]] == [1, 1, 1, 2]
    assert [i["amount"] for i in shown[1]["items"]] == [50000, 30000]
    assert shown[1]["metadata"] == {"z": 1, "a": {"nested": [1, 2, "ba"]}, "tên": "Nguyễn"}


async def test_raw_rows_render_like_the_orm(
    client: httpx.AsyncClient, app: FastAPI, admin_headers: dict[str, str]
) -> None:
    world = await _world(client, admin_headers)
    ids = await _shapes(client, world)
    pool = await app.state.container.db.raw()
    for payment_id in ids:
        expected = await _orm(app, payment_id)
        async with app.state.container.db.session() as session:
            via_session = await load_payment_resource(session, payment_id, BASE_URL)
        assert orjson.dumps(via_session) == orjson.dumps(expected)
        rows = await fetch_rows(pool, payment_id)
        assert rows is not None
        assert orjson.dumps(payment_resource(rows, BASE_URL)) == orjson.dumps(expected)


async def test_other_clients_payment_and_unknown_id_are_not_found(
    client: httpx.AsyncClient, app: FastAPI, admin_headers: dict[str, str]
) -> None:
    world = await _world(client, admin_headers)
    p = (await create(client, world, provider="sandbox")).json()
    from tests.factories import OTHER_PROVINCE

    other_key, _, _ = await make_client(client, admin_headers, agency_codes=[OTHER_PROVINCE])
    other = {"Authorization": f"Bearer {other_key}"}
    for headers, payment_id in ((other, p["id"]), (world.headers, "pay_nosuchpayment")):
        r = await client.get(f"/v1/payments/{payment_id}", headers=headers)
        assert r.status_code == 404
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["code"] == "not_found"
    async with app.state.container.db.session() as session:
        hidden = await load_visible_payment_resource(session, p["id"], BASE_URL, lambda _p: False)
    assert hidden is None


async def test_inside_a_transaction_the_uncommitted_writes_are_seen(
    client: httpx.AsyncClient, app: FastAPI, admin_headers: dict[str, str]
) -> None:
    world = await _world(client, admin_headers)
    p = (await create(client, world, provider="sandbox")).json()
    db = app.state.container.db
    async with db.transaction() as session:
        await session.execute(update(Payment).where(Payment.id == p["id"]).values(description="đổi"))
        await session.execute(update(Attempt).where(Attempt.payment_id == p["id"]).values(status="unknown"))
        inside = await load_payment_resource(session, p["id"], BASE_URL)
        orm_inside = await orm_visible_payment_resource(session, p["id"], BASE_URL, lambda _p: True)
        assert inside["description"] == "đổi" and inside["attempts"][0]["status"] == "unknown"
        assert orjson.dumps(inside) == orjson.dumps(orm_inside)
        await session.rollback()
    after = (await client.get(f"/v1/payments/{p['id']}", headers=world.headers)).json()
    assert after["description"] == p["description"] and after["attempts"][0]["status"] == "pending"
