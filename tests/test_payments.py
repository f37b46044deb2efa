"""Payments core: create, idempotency, validation, one bill one payment, read, list, cancel, offline."""

from __future__ import annotations

from typing import Any, cast

import httpx
import pytest

from tests.factories import DEPARTMENT, OTHER_PROVINCE, World, bill, create, make_client, make_world


@pytest.fixture
async def world(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> World:
    return await make_world(client, admin_headers)


async def test_create_returns_the_payment(client: httpx.AsyncClient, world: World) -> None:
    r = await create(client, world)
    assert r.status_code == 201, r.text
    p = r.json()
    assert p["status"] == "pending"
    assert p["amount"] == 50000 and isinstance(p["amount"], int)
    assert p["currency"] == "VND"
    assert p["agency_code"] == DEPARTMENT
    assert p["items"][0]["revenue_type_name"] == "Lệ phí hộ tịch"
    assert p["attempts"] == []
    # No provider named: the hosted checkout page, behind an unguessable token.
    assert p["checkout_url"].startswith("http://paybridge.test/checkout/")
    assert len(p["checkout_url"].rsplit("/", 1)[1]) >= 32
    assert "Idempotent-Replayed" not in r.headers


async def test_create_with_provider_gives_gateway_checkout(client: httpx.AsyncClient, world: World) -> None:
    p = (await create(client, world, provider="sandbox")).json()
    assert p["provider"] == "sandbox"
    [attempt] = p["attempts"]
    assert attempt["status"] == "pending"
    assert attempt["reference"].startswith("PB") and len(attempt["reference"]) == 16
    assert attempt["reference"].isalnum() and attempt["reference"].isupper()
    assert p["checkout_url"].startswith("http://paybridge.test/sandbox/sandbox/pay?")
    assert f"reference={attempt['reference']}" in p["checkout_url"]


async def test_same_key_same_body_replays_first_response(client: httpx.AsyncClient, world: World) -> None:
    body = bill()
    headers = {**world.headers, "Idempotency-Key": "abc-123"}
    first = await client.post("/v1/payments", json=body, headers=headers)
    again = await client.post("/v1/payments", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.content == first.content


async def test_same_key_different_body_is_422(client: httpx.AsyncClient, world: World) -> None:
    headers = {**world.headers, "Idempotency-Key": "abc-124"}
    await client.post("/v1/payments", json=bill(), headers=headers)
    r = await client.post("/v1/payments", json=bill(), headers=headers)  # a new dossier code
    assert r.status_code == 422
    assert r.json()["code"] == "idempotency_key_reused"


async def test_keys_are_scoped_per_client(
    client: httpx.AsyncClient, world: World, admin_headers: dict[str, str]
) -> None:
    other_key, _, _ = await make_client(client, admin_headers)
    body = bill()
    a = await client.post("/v1/payments", json=body, headers={**world.headers, "Idempotency-Key": "shared"})
    b = await client.post(
        "/v1/payments",
        json=bill(),
        headers={"Authorization": f"Bearer {other_key}", "Idempotency-Key": "shared"},
    )
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]


@pytest.mark.parametrize(
    ("key", "code", "status"),
    [
        (None, "idempotency_key_missing", 400),
        ("has space", "bad_request", 400),
        ("x" * 256, "bad_request", 400),
    ],
)
async def test_idempotency_key_required_and_ascii(
    client: httpx.AsyncClient, world: World, key: str | None, code: str, status: int
) -> None:
    headers = dict(world.headers)
    if key is not None:
        headers["Idempotency-Key"] = key
    r = await client.post("/v1/payments", json=bill(), headers=headers)
    assert r.status_code == status
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == code


async def test_business_errors_are_replayed_too(client: httpx.AsyncClient, world: World) -> None:
    headers = {**world.headers, "Idempotency-Key": "err-1"}
    body = bill(items=[{"revenue_type_code": "9999", "amount": 1000}])
    first = await client.post("/v1/payments", json=body, headers=headers)
    again = await client.post("/v1/payments", json=body, headers=headers)
    assert first.status_code == again.status_code == 422
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["content-type"] == "application/problem+json"


async def test_unknown_revenue_type_names_the_item(client: httpx.AsyncClient, world: World) -> None:
    r = await create(
        client,
        world,
        items=[{"revenue_type_code": "2771", "amount": 1000}, {"revenue_type_code": "0000", "amount": 1000}],
    )
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "revenue_type_unknown"
    assert body["errors"] == [{"field": "items[1].revenue_type_code", "message": "unknown or inactive"}]


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"items": []}, "items"),
        ({"items": [{"revenue_type_code": "2771", "amount": 0}]}, "items[0].amount"),
        ({"items": [{"revenue_type_code": "2771", "amount": -5}]}, "items[0].amount"),
        ({"items": [{"revenue_type_code": "2771", "amount": 50000.0}]}, "items[0].amount"),
        ({"items": [{"revenue_type_code": "2771", "amount": "50000"}]}, "items[0].amount"),
        ({"amount": 60000}, "amount"),
        ({"payer": {"name": "   "}}, "payer.name"),
        ({"return_url": "http://portal.example.gov.vn/x"}, "return_url"),
        ({"return_url": "/relative"}, "return_url"),
        ({"expires_in_seconds": 5}, "expires_in_seconds"),
        ({"currency": "USD"}, "currency"),
        ({"agency_code": OTHER_PROVINCE}, "agency_code"),
        ({"agency_code": "999.99.99.Z99"}, "agency_code"),
        ({"provider": "nopay"}, "provider"),
    ],
)
async def test_validation_errors_name_the_field(
    client: httpx.AsyncClient, world: World, override: dict[str, object], field: str
) -> None:
    r = await create(client, world, **cast(dict[str, Any], override))
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == "validation_error"
    fields = [e["field"] for e in body["errors"]]
    assert any(f == field or f.startswith(field) for f in fields), fields


async def test_items_that_do_not_add_up_say_so(client: httpx.AsyncClient, world: World) -> None:
    r = await create(client, world, amount=1)
    assert "does not equal the sum" in r.json()["detail"]


async def test_amount_over_gateway_limit(client: httpx.AsyncClient, world: World) -> None:
    r = await create(
        client, world, provider="sandbox", items=[{"revenue_type_code": "2771", "amount": 2_000_000_000}]
    )
    assert r.status_code == 422
    assert r.json()["code"] == "validation_error"


async def test_provider_without_account_is_provider_unavailable(
    client: httpx.AsyncClient, world: World
) -> None:
    r = await create(client, world, provider="vnpay")
    assert r.status_code == 422
    assert r.json()["code"] == "provider_unavailable"


async def test_duplicate_bill_names_the_existing_payment(client: httpx.AsyncClient, world: World) -> None:
    first = (await create(client, world, dossier_code="HS-1", bill_code="B1")).json()
    r = await create(client, world, dossier_code="HS-1", bill_code="B1")
    assert r.status_code == 409
    assert r.json()["code"] == "duplicate_bill"
    assert r.json()["payment_id"] == first["id"]
    # Another bill of the same dossier is fine; so is the same bill once the first is cancelled.
    assert (await create(client, world, dossier_code="HS-1", bill_code="B2")).status_code == 201
    assert (await client.post(f"/v1/payments/{first['id']}/cancel", headers=world.headers)).status_code == 200
    assert (await create(client, world, dossier_code="HS-1", bill_code="B1")).status_code == 201


async def test_null_bill_code_is_one_bill(client: httpx.AsyncClient, world: World) -> None:
    assert (await create(client, world, dossier_code="HS-2")).status_code == 201
    r = await create(client, world, dossier_code="HS-2")
    assert r.status_code == 409 and r.json()["code"] == "duplicate_bill"


async def test_get_list_and_scope(
    client: httpx.AsyncClient, world: World, admin_headers: dict[str, str]
) -> None:
    created = [(await create(client, world, dossier_code=f"L-{i}")).json() for i in range(5)]
    got = await client.get(f"/v1/payments/{created[0]['id']}", headers=world.headers)
    assert got.status_code == 200 and got.json()["id"] == created[0]["id"]

    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/payments", params=params, headers=world.headers)).json()
        seen += [p["id"] for p in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [p["id"] for p in reversed(created)]
    filtered = (
        await client.get("/v1/payments", params={"dossier_code": "L-3"}, headers=world.headers)
    ).json()
    assert [p["dossier_code"] for p in filtered["data"]] == ["L-3"]

    # Another province's client sees none of it: 404, not 403.
    other_key, _, _ = await make_client(client, admin_headers, agency_codes=[OTHER_PROVINCE])
    other = {"Authorization": f"Bearer {other_key}"}
    assert (await client.get(f"/v1/payments/{created[0]['id']}", headers=other)).status_code == 404
    assert (await client.get("/v1/payments", headers=other)).json()["data"] == []
    bad = await client.get("/v1/payments", params={"cursor": "!!"}, headers=world.headers)
    assert bad.status_code == 422


async def test_cancel_then_cancel_again(client: httpx.AsyncClient, world: World) -> None:
    p = (await create(client, world, provider="sandbox")).json()
    r = await client.post(f"/v1/payments/{p['id']}/cancel", headers=world.headers)
    assert r.status_code == 200
    assert r.json()["status"] == "cancelled"
    assert r.json()["attempts"][0]["status"] == "cancelled"
    again = await client.post(f"/v1/payments/{p['id']}/cancel", headers=world.headers)
    assert again.status_code == 409 and again.json()["code"] == "invalid_state"


async def test_offline_payment_is_paid_not_online(client: httpx.AsyncClient, world: World) -> None:
    p = (await create(client, world)).json()
    r = await client.post(
        f"/v1/payments/{p['id']}/offline",
        json={"method": "cash", "paid_at": "2026-11-21T09:30:00+07:00", "receipt_number": "BL-0001"},
        headers=world.headers,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "succeeded" and body["channel"] == "offline"
    assert body["offline"]["receipt_number"] == "BL-0001"
    assert body["paid_at"].startswith("2026-11-21T02:30:00")
    again = await client.post(
        f"/v1/payments/{p['id']}/offline",
        json={"method": "cash", "paid_at": "2026-11-21T09:30:00+07:00"},
        headers=world.headers,
    )
    assert again.status_code == 409


async def test_switch_gateway_opens_a_new_attempt(client: httpx.AsyncClient, world: World) -> None:
    p = (await create(client, world)).json()
    r = await client.post(
        f"/v1/payments/{p['id']}/attempts", json={"provider": "sandbox"}, headers=world.headers
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert len(body["attempts"]) == 1 and body["provider"] == "sandbox"
    assert body["checkout_url"] == body["attempts"][0]["checkout_url"]
    r2 = await client.post(
        f"/v1/payments/{p['id']}/attempts", json={"provider": "momo"}, headers=world.headers
    )
    assert r2.status_code == 422 and r2.json()["code"] == "provider_unavailable"


async def test_no_or_bad_api_key_is_401(client: httpx.AsyncClient, world: World) -> None:
    r = await client.post("/v1/payments", json=bill(), headers={"Idempotency-Key": "x"})
    assert r.status_code == 401 and r.json()["code"] == "unauthorized"
    r = await client.get("/v1/payments", headers={"Authorization": "Bearer pbk_nope"})
    assert r.status_code == 401


async def test_openapi_documents_payment_errors(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    op = spec["paths"]["/v1/payments"]["post"]
    text = str(op["responses"])
    for code in (
        "idempotency_key_missing",
        "idempotency_key_reused",
        "idempotency_request_in_progress",
        "duplicate_bill",
        "revenue_type_unknown",
        "provider_unavailable",
        "validation_error",
    ):
        assert code in text, code
    assert op["requestBody"]["content"]["application/json"]["schema"]
