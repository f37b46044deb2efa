"""The callback pipeline, end to end through the sandbox gateway's simulator, and its failures."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from app.adapters.sandbox import sign
from app.models import Event, InboundCallback, WebhookDelivery
from tests.factories import World, create, make_world, pay_in_sandbox


@pytest.fixture
async def world(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> World:
    return await make_world(client, admin_headers, webhook_url="https://portal.example.gov.vn/hooks")


async def _rows(app: FastAPI, model: Any, *where: Any) -> list[Any]:
    async with app.state.container.db.session() as session:
        return list((await session.scalars(select(model).where(*where))).all())


async def _count(app: FastAPI, model: Any, *where: Any) -> int:
    async with app.state.container.db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def _secret(app: FastAPI, account_id: str) -> tuple[str, str]:
    from app.services.catalogue.gateway_accounts import find_account_by_credential

    container = app.state.container
    from app.models import ProviderAccount

    async with container.db.session() as session:
        row = await session.get(ProviderAccount, account_id)
    creds = container.vault.decrypt_json(row.credentials_enc)
    assert await find_account_by_credential(container, "sandbox", "merchant_id", creds["merchant_id"])
    return creds["merchant_id"], creds["secret"]


async def _ipn(
    client: httpx.AsyncClient,
    world: World,
    secret: str,
    body: dict[str, Any],
    *,
    signature: str | None = None,
) -> httpx.Response:
    raw = orjson.dumps(body)
    sig = signature if signature is not None else sign(secret, raw.decode())
    return await client.post(
        f"/v1/callbacks/sandbox/{world.sandbox_account_id}",
        content=raw,
        headers={"Content-Type": "application/json", "X-Sandbox-Signature": sig},
    )


async def _sandbox_payment(client: httpx.AsyncClient, world: World, **kw: Any) -> dict[str, Any]:
    r = await create(client, world, provider="sandbox", **kw)
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


async def test_pay_in_sandbox_succeeds_once_with_event_and_outbox(
    client: httpx.AsyncClient, app: FastAPI, world: World
) -> None:
    p = await _sandbox_payment(client, world)
    r = await pay_in_sandbox(client, p["checkout_url"])
    assert r.status_code == 303
    assert "/v1/returns/sandbox/" in r.headers["location"]
    got = (await client.get(f"/v1/payments/{p['id']}", headers=world.headers)).json()
    assert got["status"] == "succeeded" and got["channel"] == "online"
    assert got["attempts"][0]["status"] == "succeeded"
    assert got["attempts"][0]["provider_transaction_id"].startswith("SBXT")
    [event] = await _rows(app, Event, Event.payment_id == p["id"])
    assert event.type == "payment.succeeded" and event.data["status"] == "succeeded"
    assert await _count(app, WebhookDelivery, WebhookDelivery.event_id == event.id) == 1
    [cb] = await _rows(app, InboundCallback, InboundCallback.kind == "ipn")
    assert cb.verified is True and cb.verdict == "accepted" and cb.body.startswith(b"{")
    # The browser return lands on the hosted result page; it does not pay anything by itself.
    back = await client.get(r.headers["location"])
    assert back.status_code == 303 and back.headers["location"].endswith("/result")


async def test_bad_signature_changes_nothing_and_is_stored(
    client: httpx.AsyncClient, app: FastAPI, world: World
) -> None:
    p = await _sandbox_payment(client, world)
    merchant, secret = await _secret(app, world.sandbox_account_id)
    ref = p["attempts"][0]["reference"]
    body = {
        "merchant_id": merchant,
        "reference": ref,
        "amount": 50000,
        "status": "success",
        "transaction_id": "T1",
    }
    r = await _ipn(client, world, secret, body, signature="0" * 64)
    assert r.status_code == 401
    got = (await client.get(f"/v1/payments/{p['id']}", headers=world.headers)).json()
    assert got["status"] == "pending" and got["attempts"][0]["status"] == "pending"
    [cb] = await _rows(app, InboundCallback)
    assert cb.verified is False and cb.verdict == "invalid_signature"
    assert cb.body == orjson.dumps(body)
    assert await _count(app, Event) == 0


async def test_signature_of_another_account_is_rejected(
    client: httpx.AsyncClient, app: FastAPI, world: World, admin_headers: dict[str, str]
) -> None:
    from tests.factories import make_account

    other = await make_account(client, admin_headers, "sandbox")
    _, other_secret = await _secret(app, other["id"])
    p = await _sandbox_payment(client, world)
    merchant, _ = await _secret(app, world.sandbox_account_id)
    body = {
        "merchant_id": merchant,
        "reference": p["attempts"][0]["reference"],
        "amount": 50000,
        "status": "success",
    }
    assert (await _ipn(client, world, other_secret, body)).status_code == 401


async def test_unknown_reference_is_stored_and_acknowledged(
    client: httpx.AsyncClient, app: FastAPI, world: World
) -> None:
    merchant, secret = await _secret(app, world.sandbox_account_id)
    body = {"merchant_id": merchant, "reference": "PBNOSUCHREF00000", "amount": 1, "status": "success"}
    r = await _ipn(client, world, secret, body)
    assert r.status_code == 404
    [cb] = await _rows(app, InboundCallback)
    assert cb.verified is True and cb.verdict == "not_found" and cb.reference == "PBNOSUCHREF00000"


async def test_unknown_account_is_stored(client: httpx.AsyncClient, app: FastAPI, world: World) -> None:
    r = await client.post(
        "/v1/callbacks/sandbox/pa_nope", content=b"{}", headers={"X-Sandbox-Signature": "x"}
    )
    assert r.status_code == 404
    [cb] = await _rows(app, InboundCallback)
    assert cb.verdict == "unknown_account"


async def test_wrong_amount_changes_nothing(client: httpx.AsyncClient, app: FastAPI, world: World) -> None:
    p = await _sandbox_payment(client, world)
    merchant, secret = await _secret(app, world.sandbox_account_id)
    body = {
        "merchant_id": merchant,
        "reference": p["attempts"][0]["reference"],
        "amount": 5000,
        "status": "success",
    }
    r = await _ipn(client, world, secret, body)
    assert r.status_code == 422
    got = (await client.get(f"/v1/payments/{p['id']}", headers=world.headers)).json()
    assert got["status"] == "pending"
    [cb] = await _rows(app, InboundCallback)
    assert cb.verdict == "amount_mismatch"


async def test_duplicate_callback_changes_nothing(
    client: httpx.AsyncClient, app: FastAPI, world: World
) -> None:
    p = await _sandbox_payment(client, world)
    merchant, secret = await _secret(app, world.sandbox_account_id)
    body = {
        "merchant_id": merchant,
        "reference": p["attempts"][0]["reference"],
        "amount": 50000,
        "status": "success",
        "transaction_id": "T9",
    }
    first = await _ipn(client, world, secret, body)
    second = await _ipn(client, world, secret, body)
    assert first.status_code == second.status_code == 200
    assert orjson.loads(second.content)["verdict"] == "already_processed"
    assert await _count(app, Event, Event.type == "payment.succeeded") == 1
    # A late "failed" for an attempt that succeeded never moves it backwards.
    failed = {**body, "status": "failed"}
    await _ipn(client, world, secret, failed)
    got = (await client.get(f"/v1/payments/{p['id']}", headers=world.headers)).json()
    assert got["status"] == "succeeded" and got["attempts"][0]["status"] == "succeeded"


async def test_failed_then_success_on_another_attempt(
    client: httpx.AsyncClient, app: FastAPI, world: World
) -> None:
    p = await _sandbox_payment(client, world)
    await pay_in_sandbox(client, p["checkout_url"], "failed")
    got = (await client.get(f"/v1/payments/{p['id']}", headers=world.headers)).json()
    assert got["status"] == "pending" and got["attempts"][0]["status"] == "failed"
    again = (
        await client.post(
            f"/v1/payments/{p['id']}/attempts", json={"provider": "sandbox"}, headers=world.headers
        )
    ).json()
    await pay_in_sandbox(client, again["checkout_url"])
    got = (await client.get(f"/v1/payments/{p['id']}", headers=world.headers)).json()
    assert got["status"] == "succeeded"
    assert [a["status"] for a in got["attempts"]] == ["failed", "succeeded"]


async def test_late_success_after_cancel_is_accepted_and_flagged(
    client: httpx.AsyncClient, app: FastAPI, world: World
) -> None:
    p = await _sandbox_payment(client, world)
    assert (await client.post(f"/v1/payments/{p['id']}/cancel", headers=world.headers)).status_code == 200
    merchant, secret = await _secret(app, world.sandbox_account_id)
    body = {
        "merchant_id": merchant,
        "reference": p["attempts"][0]["reference"],
        "amount": 50000,
        "status": "success",
    }
    assert (await _ipn(client, world, secret, body)).status_code == 200
    got = (await client.get(f"/v1/payments/{p['id']}", headers=world.headers)).json()
    assert got["status"] == "succeeded"
    assert got["attempts"][0]["late"] is True
    types = [e.type for e in await _rows(app, Event, Event.payment_id == p["id"])]
    assert sorted(types) == ["payment.cancelled", "payment.succeeded"]


async def test_second_success_is_duplicate_paid_never_lost(
    client: httpx.AsyncClient, app: FastAPI, world: World
) -> None:
    p = await _sandbox_payment(client, world)
    second = (
        await client.post(
            f"/v1/payments/{p['id']}/attempts", json={"provider": "sandbox"}, headers=world.headers
        )
    ).json()
    # The citizen paid in two tabs.
    await pay_in_sandbox(client, p["checkout_url"])
    await pay_in_sandbox(client, second["attempts"][1]["checkout_url"])
    got = (await client.get(f"/v1/payments/{p['id']}", headers=world.headers)).json()
    assert got["status"] == "succeeded"
    statuses = [(a["status"], a["duplicate_paid"]) for a in got["attempts"]]
    assert statuses == [("succeeded", False), ("succeeded", True)]
    types = sorted(e.type for e in await _rows(app, Event, Event.payment_id == p["id"]))
    assert types == ["payment.duplicate_paid", "payment.succeeded"]


async def test_unparseable_body_is_stored_and_refused(
    client: httpx.AsyncClient, app: FastAPI, world: World
) -> None:
    _, secret = await _secret(app, world.sandbox_account_id)
    raw = b"\xff\xfe not json"
    r = await client.post(
        f"/v1/callbacks/sandbox/{world.sandbox_account_id}",
        content=raw,
        headers={"X-Sandbox-Signature": sign(secret, raw.decode("latin-1"))},
    )
    assert r.status_code == 401
    [cb] = await _rows(app, InboundCallback)
    assert cb.body == raw and cb.verified is False


async def test_forged_return_is_refused(client: httpx.AsyncClient, app: FastAPI, world: World) -> None:
    p = await _sandbox_payment(client, world)
    ref = p["attempts"][0]["reference"]
    r = await client.get(
        f"/v1/returns/sandbox/{world.sandbox_account_id}?reference={ref}&status=success&amount=50000&sig=00"
    )
    assert r.status_code == 400
    got = (await client.get(f"/v1/payments/{p['id']}", headers=world.headers)).json()
    assert got["status"] == "pending"
