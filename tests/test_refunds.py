"""Refunds: partial and full, never beyond what remains (also under concurrency), idempotent,
through the gateway (unknown answers resolved by the refund query) or manual with an operator."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from app.adapters.sandbox import sign
from app.models import Event, Payment, ProviderAccount, Refund
from app.services.after_payment.refund_jobs import refund_duplicates_due, resolve_refunds_due
from tests.factories import (
    World,
    create,
    ensure_agencies,
    make_account,
    make_client,
    make_world,
    pay_in_sandbox,
)
from tests.support import Clock

_keys = itertools.count(1)


@pytest.fixture
async def world(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> World:
    return await make_world(client, admin_headers)


async def paid(client: httpx.AsyncClient, world: World, **kw: Any) -> dict[str, Any]:
    r = await create(client, world, provider="sandbox", **kw)
    assert r.status_code == 201, r.text
    await pay_in_sandbox(client, r.json()["checkout_url"])
    got: dict[str, Any] = (await client.get(f"/v1/payments/{r.json()['id']}", headers=world.headers)).json()
    assert got["status"] == "succeeded", got
    return got


async def refund(
    client: httpx.AsyncClient, world: World, payment_id: str, amount: int, key: str | None = None, **kw: Any
) -> httpx.Response:
    headers = {**world.headers, "Idempotency-Key": key or f"r-{next(_keys)}"}
    body = {"amount": amount, "reason": kw.get("reason", "Hồ sơ bị từ chối")}
    return await client.post(f"/v1/payments/{payment_id}/refunds", json=body, headers=headers)


async def events(app: FastAPI, payment_id: str) -> list[str]:
    async with app.state.container.db.session() as session:
        rows = await session.scalars(
            select(Event.type).where(Event.payment_id == payment_id).order_by(Event.seq)
        )
        return list(rows.all())


async def test_partial_then_full_refund(client: httpx.AsyncClient, app: FastAPI, world: World) -> None:
    p = await paid(client, world)
    r = await refund(client, world, p["id"], 20000)
    assert r.status_code == 201, r.text
    first = r.json()
    assert first["status"] == "succeeded" and first["amount"] == 20000 and first["method"] == "gateway"
    assert first["payment"] == {"status": "partially_refunded", "amount": 50000, "refunded_amount": 20000}
    got = (await client.get(f"/v1/payments/{p['id']}", headers=world.headers)).json()
    assert got["status"] == "partially_refunded" and got["refunded_amount"] == 20000

    r = await refund(client, world, p["id"], 30000)
    assert r.status_code == 201 and r.json()["status"] == "succeeded"
    got = (await client.get(f"/v1/payments/{p['id']}", headers=world.headers)).json()
    assert got["status"] == "refunded" and got["refunded_amount"] == 50000
    assert await events(app, p["id"]) == [
        "payment.succeeded",
        "refund.succeeded",
        "refund.succeeded",
        "payment.refunded",
    ]
    again = await client.get(f"/v1/refunds/{first['id']}", headers=world.headers)
    assert again.status_code == 200 and again.json()["id"] == first["id"]
    assert again.json()["payment"]["status"] == "refunded"


async def test_refund_over_remaining_is_422(client: httpx.AsyncClient, world: World) -> None:
    p = await paid(client, world)
    assert (await refund(client, world, p["id"], 20000)).status_code == 201
    r = await refund(client, world, p["id"], 30001)
    assert r.status_code == 422
    problem = r.json()
    assert problem["code"] == "refund_exceeds_remaining" and problem["remaining"] == 30000
    assert problem["errors"][0]["field"] == "amount"
    for bad in (0, -5, 1.5, "100"):
        r = await client.post(
            f"/v1/payments/{p['id']}/refunds",
            json={"amount": bad, "reason": "x"},
            headers={**world.headers, "Idempotency-Key": f"bad-{bad}"},
        )
        assert r.status_code == 422 and r.json()["code"] == "validation_error", bad


async def test_idempotent_refund(client: httpx.AsyncClient, app: FastAPI, world: World) -> None:
    p = await paid(client, world)
    first = await refund(client, world, p["id"], 10000, key="refund-once")
    second = await refund(client, world, p["id"], 10000, key="refund-once")
    assert first.status_code == second.status_code == 201
    assert second.headers["Idempotent-Replayed"] == "true" and second.content == first.content
    reused = await refund(client, world, p["id"], 12000, key="refund-once")
    assert reused.status_code == 422 and reused.json()["code"] == "idempotency_key_reused"
    missing = await client.post(
        f"/v1/payments/{p['id']}/refunds", json={"amount": 1, "reason": "x"}, headers=world.headers
    )
    assert missing.status_code == 400 and missing.json()["code"] == "idempotency_key_missing"
    async with app.state.container.db.session() as session:
        assert len((await session.scalars(select(Refund.id))).all()) == 1


async def test_unpaid_and_foreign_payments(
    client: httpx.AsyncClient, admin_headers: dict[str, str], world: World
) -> None:
    pending = (await create(client, world, provider="sandbox")).json()
    r = await refund(client, world, pending["id"], 1000)
    assert r.status_code == 409 and r.json()["code"] == "refund_not_allowed"
    p = await paid(client, world)
    done = (await refund(client, world, p["id"], 1000)).json()
    key, _, _ = await make_client(client, admin_headers, agency_codes=["000.00.00.H34"])
    other = {"Authorization": f"Bearer {key}"}
    r = await client.post(
        f"/v1/payments/{p['id']}/refunds",
        json={"amount": 1, "reason": "x"},
        headers={**other, "Idempotency-Key": "o"},
    )
    assert r.status_code == 404
    assert (await client.get(f"/v1/refunds/{done['id']}", headers=other)).status_code == 404
    assert (await client.get("/v1/refunds/rfd_nope", headers=world.headers)).status_code == 404


async def test_concurrent_refunds_never_exceed_the_paid_amount(
    client: httpx.AsyncClient, app: FastAPI, world: World
) -> None:
    p = await paid(client, world)
    responses = await asyncio.gather(*[refund(client, world, p["id"], 7000) for _ in range(20)])
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] * 7 + [422] * 13, codes  # 7 × 7000 = 49000 ≤ 50000 < 8 × 7000
    assert all(r.json()["status"] == "succeeded" for r in responses if r.status_code == 201)
    async with app.state.container.db.session() as session:
        payment = (await session.scalars(select(Payment).where(Payment.id == p["id"]))).one()
        total = sum((await session.scalars(select(Refund.amount).where(Refund.status == "succeeded"))).all())
    assert payment.refunded_amount == total == 49000 and payment.status == "partially_refunded"
    last = await refund(client, world, p["id"], 1000)
    assert last.status_code == 201
    assert (await refund(client, world, p["id"], 1)).status_code == 422


class FlakyRefunds(httpx.AsyncBaseTransport):
    """The sandbox gateway, whose refund endpoint times out ``failures`` times first."""

    def __init__(self, inner: httpx.AsyncBaseTransport, failures: int) -> None:
        self.inner, self.failures = inner, failures

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/api/refund") and self.failures > 0:
            self.failures -= 1
            raise httpx.ReadTimeout("simulated timeout", request=request)
        return await self.inner.handle_async_request(request)


async def test_unknown_refund_is_resolved_by_the_refund_query(
    client: httpx.AsyncClient, app: FastAPI, world: World, outbound: Any, clock: Clock
) -> None:
    p = await paid(client, world)
    outbound.mount("http://paybridge.test", FlakyRefunds(httpx.ASGITransport(app=app), failures=1))
    r = await refund(client, world, p["id"], 50000)
    assert r.status_code == 201 and r.json()["status"] == "unknown"
    assert r.json()["payment"]["status"] == "succeeded"
    # Its amount stays reserved while the outcome is unknown.
    blocked = await refund(client, world, p["id"], 1)
    assert blocked.status_code == 422 and blocked.json()["remaining"] == 0
    container = app.state.container
    assert await resolve_refunds_due(container) == 0  # not due yet
    clock.advance(minutes=3)
    assert await resolve_refunds_due(container) == 1
    got = (await client.get(f"/v1/refunds/{r.json()['id']}", headers=world.headers)).json()
    assert got["status"] == "succeeded" and got["payment"]["status"] == "refunded"
    assert await events(app, p["id"]) == ["payment.succeeded", "refund.succeeded", "payment.refunded"]


async def _sandbox_secret(app: FastAPI, account_id: str) -> tuple[str, str]:
    container = app.state.container
    async with container.db.session() as session:
        row = await session.get(ProviderAccount, account_id)
    assert row is not None
    creds = container.vault.decrypt_json(row.credentials_enc)
    return str(creds["merchant_id"]), str(creds["secret"])


async def test_gateway_refusal_fails_the_refund_and_releases_the_amount(
    client: httpx.AsyncClient, app: FastAPI, world: World
) -> None:
    p = await paid(client, world)
    txn = p["attempts"][0]["provider_transaction_id"]
    merchant, secret = await _sandbox_secret(app, world.sandbox_account_id)
    # Someone refunds the whole transaction at the gateway behind our back.
    body: dict[str, Any] = {
        "merchant_id": merchant,
        "refund_id": "ELSEWHERE",
        "transaction_id": txn,
        "amount": 50000,
    }
    body["sig"] = sign(secret, f"{merchant}|ELSEWHERE|{txn}|50000")
    assert (await client.post("/sandbox/sandbox/api/refund", json=body)).json()["status"] == "succeeded"
    r = await refund(client, world, p["id"], 20000)
    assert r.status_code == 201 and r.json()["status"] == "failed"
    assert r.json()["payment"] == {"status": "succeeded", "amount": 50000, "refunded_amount": 0}
    assert await events(app, p["id"]) == ["payment.succeeded", "refund.failed"]
    # Nothing is reserved by a failed refund.
    assert (await refund(client, world, p["id"], 50000)).json()["status"] == "failed"


DVCQG = {"partner_code": "H56DEMO", "secret": "dvcqg-shared-secret-0123456789"}


async def paid_at_dvcqg(client: httpx.AsyncClient, admin: dict[str, str]) -> tuple[World, dict[str, Any]]:
    await ensure_agencies(client, admin)
    await make_account(client, admin, "dvcqg", credentials=DVCQG)
    key, client_id, secret = await make_client(client, admin)
    world = World(api_key=key, client_id=client_id, webhook_secret=secret, sandbox_account_id="")
    payment = (await create(client, world, provider="dvcqg")).json()
    await client.get(payment["checkout_url"])
    done = await client.post(payment["checkout_url"], data={"outcome": "success"})
    assert done.status_code in (302, 303), done.text
    got = (await client.get(f"/v1/payments/{payment['id']}", headers=world.headers)).json()
    assert got["status"] == "succeeded"
    return world, got


async def test_manual_refund_waits_for_the_operator(
    client: httpx.AsyncClient, app: FastAPI, admin_headers: dict[str, str]
) -> None:
    world, p = await paid_at_dvcqg(client, admin_headers)
    r = await refund(client, world, p["id"], 50000)
    assert r.status_code == 201, r.text
    manual = r.json()
    assert manual["method"] == "manual" and manual["status"] == "pending"
    assert manual["payment"]["status"] == "succeeded"
    url = f"/admin/v1/refunds/{manual['id']}/confirm"
    assert (await client.post(url, json={"succeeded": True, "note": "x"})).status_code == 401
    done = await client.post(
        url, json={"succeeded": True, "note": "Đã chuyển khoản UNC 123"}, headers=admin_headers
    )
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "succeeded" and done.json()["operator_note"] == "Đã chuyển khoản UNC 123"
    assert done.json()["payment"]["status"] == "refunded"
    again = await client.post(url, json={"succeeded": False, "note": "oops"}, headers=admin_headers)
    assert again.status_code == 409 and again.json()["code"] == "refund_not_confirmable"
    assert await events(app, p["id"]) == ["payment.succeeded", "refund.succeeded", "payment.refunded"]


async def test_rejected_manual_refund_fails(
    client: httpx.AsyncClient, app: FastAPI, admin_headers: dict[str, str]
) -> None:
    world, p = await paid_at_dvcqg(client, admin_headers)
    manual = (await refund(client, world, p["id"], 10000)).json()
    r = await client.post(
        f"/admin/v1/refunds/{manual['id']}/confirm",
        json={"succeeded": False, "note": "Sai tài khoản"},
        headers=admin_headers,
    )
    assert r.json()["status"] == "failed" and r.json()["payment"]["refunded_amount"] == 0
    assert (await refund(client, world, p["id"], 50000)).json()["status"] == "pending"


async def test_duplicate_payment_is_refunded_automatically(
    client: httpx.AsyncClient, app: FastAPI, world: World
) -> None:
    r = await create(client, world, provider="sandbox")
    first = r.json()["checkout_url"]
    # The citizen opens a second attempt, then pays both.
    second = await client.post(
        f"/v1/payments/{r.json()['id']}/attempts", json={"provider": "sandbox"}, headers=world.headers
    )
    assert second.status_code == 201, second.text
    await pay_in_sandbox(client, first)
    await pay_in_sandbox(client, second.json()["attempts"][-1]["checkout_url"])
    got = (await client.get(f"/v1/payments/{r.json()['id']}", headers=world.headers)).json()
    dup = [a for a in got["attempts"] if a["duplicate_paid"]]
    assert got["status"] == "succeeded" and len(dup) == 1
    container = app.state.container
    assert await refund_duplicates_due(container) == 1
    assert await refund_duplicates_due(container) == 0  # once only
    async with container.db.session() as session:
        [row] = (await session.scalars(select(Refund))).all()
    assert row.attempt_id == dup[0]["id"] and row.origin == "duplicate_paid"
    assert row.status == "succeeded" and row.amount == 50000
    got = (await client.get(f"/v1/payments/{r.json()['id']}", headers=world.headers)).json()
    # The bill's own money is untouched: the duplicate was never part of it.
    assert got["status"] == "succeeded" and got["refunded_amount"] == 0
    assert (await events(app, got["id"]))[-1] == "refund.succeeded"
    assert orjson.loads(orjson.dumps(got))["amount"] == 50000


async def settled(
    client: httpx.AsyncClient, app: FastAPI, world: World, refund_id: str, clock: Clock
) -> dict[str, Any]:
    """The refund once the resolver has asked the gateway about it (some answer "processing" first)."""
    for _ in range(6):
        got: dict[str, Any] = (await client.get(f"/v1/refunds/{refund_id}", headers=world.headers)).json()
        if got["status"] not in ("pending", "unknown"):
            return got
        clock.advance(minutes=11)
        await resolve_refunds_due(app.state.container)
    raise AssertionError(f"refund never settled: {got}")


@pytest.mark.parametrize("provider", ["momo", "onepay", "vnpay", "zalopay"])
async def test_refunds_through_each_gateway_simulator(
    client: httpx.AsyncClient, app: FastAPI, admin_headers: dict[str, str], provider: str, clock: Clock
) -> None:
    from tests.test_gateways_e2e import CREDENTIALS

    await ensure_agencies(client, admin_headers)
    credentials = dict(CREDENTIALS[provider])
    if provider == "onepay":  # OnePay's refund API authenticates its API user
        credentials.update(user="op01", password="op123456")
    await make_account(client, admin_headers, provider, credentials=credentials)
    key, client_id, secret = await make_client(client, admin_headers)
    world = World(api_key=key, client_id=client_id, webhook_secret=secret, sandbox_account_id="")
    payment = (await create(client, world, provider=provider)).json()
    await client.get(payment["checkout_url"])
    assert (await client.post(payment["checkout_url"], data={"outcome": "success"})).status_code in (302, 303)
    partial = await refund(client, world, payment["id"], 20000)
    assert partial.status_code == 201, partial.text
    assert partial.json()["method"] == "gateway"
    first = await settled(client, app, world, partial.json()["id"], clock)
    assert first["status"] == "succeeded", first
    assert first["payment"] == {"status": "partially_refunded", "amount": 50000, "refunded_amount": 20000}
    rest = await refund(client, world, payment["id"], 30000)
    second = await settled(client, app, world, rest.json()["id"], clock)
    assert second["status"] == "succeeded", second
    assert second["payment"] == {"status": "refunded", "amount": 50000, "refunded_amount": 50000}
    assert (await events(app, payment["id"]))[-1] == "payment.refunded"
