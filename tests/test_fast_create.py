"""The one-statement create (app/services/fast_create.py) against the general path.

The common case takes the fast path; these tests prove that it writes the same rows
and answers the same bytes as the general path, and that everything uncommon (replays, reused
keys, duplicate bills, a catalogue changed behind the cache's back) is still answered by the
general path.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from app.services.payments import fast_create
from tests.factories import World, bill, make_account, make_world
from tests.test_gateways_e2e import CREDENTIALS


@pytest.fixture
async def world(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> World:
    return await make_world(client, admin_headers)


@pytest.fixture
def taken(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """One entry per create: True when the fast path answered it."""
    seen: list[bool] = []
    original = fast_create.try_create

    async def spy(*args: Any, **kwargs: Any) -> Any:
        answer = await original(*args, **kwargs)
        seen.append(answer is not None)
        return answer

    monkeypatch.setattr(fast_create, "try_create", spy)
    return seen


async def _sql(app: FastAPI, statement: str, **params: Any) -> list[Any]:
    async with app.state.container.db.transaction() as session:
        result = await session.execute(text(statement), params)
        return list(result.all()) if result.returns_rows else []


@pytest.mark.parametrize("provider", [None, "sandbox"])
async def test_common_case_answers_what_a_get_returns(
    client: httpx.AsyncClient, app: FastAPI, world: World, taken: list[bool], provider: str | None
) -> None:
    body = bill(
        provider=provider,
        payer={"name": "Trần Thị B", "phone": "0901234567", "id_number": "001099000002", "email": "b@x.vn"},
        metadata={"zeta": 1, "a": {"long_key": [1, {"yy": True, "b": "x"}], "c": None}},
    )
    headers = {**world.headers, "Idempotency-Key": "fast-1"}
    created = await client.post("/v1/payments", json=body, headers=headers)
    assert created.status_code == 201, created.text
    assert taken == [True]
    got = await client.get(f"/v1/payments/{created.json()['id']}", headers=world.headers)
    assert got.status_code == 200
    assert got.content == created.content  # byte for byte, jsonb key order included
    again = await client.post("/v1/payments", json=body, headers=headers)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.content == created.content
    assert taken[-1] is False  # the replay went down the general path


async def test_fast_and_general_paths_write_the_same_rows(
    client: httpx.AsyncClient,
    app: FastAPI,
    world: World,
    taken: list[bool],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    items = [
        {"revenue_type_code": "2771", "amount": 50000, "description": "Trích lục"},
        {"revenue_type_code": "2716", "amount": 20000},
    ]
    fast = await client.post(
        "/v1/payments",
        json=bill(provider="sandbox", items=items, metadata={"k": "v"}),
        headers={**world.headers, "Idempotency-Key": "same-rows-1"},
    )

    async def general_only(*args: Any, **kwargs: Any) -> None:
        return None  # as if the fast path declined: the general path answers

    monkeypatch.setattr(fast_create, "try_create", general_only)
    slow = await client.post(
        "/v1/payments",
        json=bill(provider="sandbox", items=items, metadata={"k": "v"}),
        headers={**world.headers, "Idempotency-Key": "same-rows-2"},
    )
    assert fast.status_code == slow.status_code == 201
    assert taken == [True]
    ids = {"fast": fast.json()["id"], "slow": slow.json()["id"]}
    differ = {"id", "dossier_code", "checkout_token", "created_at", "updated_at", "expires_at"}
    rows = {}
    for name, payment_id in ids.items():
        [payment] = await _sql(app, "SELECT * FROM payments WHERE id = :id", id=payment_id)
        item_rows = await _sql(
            app,
            "SELECT position, revenue_type_id, revenue_type_code, amount, description "
            "FROM payment_items WHERE payment_id = :id ORDER BY position",
            id=payment_id,
        )
        [attempt] = await _sql(app, "SELECT * FROM attempts WHERE payment_id = :id", id=payment_id)
        [record] = await _sql(
            app,
            "SELECT state, response_status, response_body, resource_id, scope FROM idempotency_records "
            "WHERE resource_id = :id",
            id=payment_id,
        )
        assert record.state == "completed" and record.response_status == 201
        assert record.response_body == (fast if name == "fast" else slow).text
        attempt_cols = {
            k: v
            for k, v in attempt._mapping.items()
            if k not in {"id", "payment_id", "reference", "checkout_url", "raw_request"}
            and not k.endswith("_at")
        }
        rows[name] = (
            {k: v for k, v in payment._mapping.items() if k not in differ},
            [tuple(r) for r in item_rows],
            attempt_cols,
        )
        assert attempt.checkout_url.startswith("http://paybridge.test/sandbox/sandbox/pay?")
        assert attempt.next_check_at is not None  # the sandbox can be queried: the resolver will look
    assert rows["fast"] == rows["slow"]


async def test_duplicate_bill_and_reused_key_go_down_the_general_path(
    client: httpx.AsyncClient, world: World, taken: list[bool]
) -> None:
    body = bill(provider="sandbox")
    first = await client.post("/v1/payments", json=body, headers={**world.headers, "Idempotency-Key": "d-1"})
    assert first.status_code == 201
    dup = await client.post("/v1/payments", json=body, headers={**world.headers, "Idempotency-Key": "d-2"})
    assert dup.status_code == 409
    assert dup.json()["code"] == "duplicate_bill"
    assert dup.json()["payment_id"] == first.json()["id"]
    replay = await client.post("/v1/payments", json=body, headers={**world.headers, "Idempotency-Key": "d-2"})
    assert replay.status_code == 409 and replay.content == dup.content
    reused = await client.post(
        "/v1/payments", json=bill(), headers={**world.headers, "Idempotency-Key": "d-1"}
    )
    assert reused.status_code == 422 and reused.json()["code"] == "idempotency_key_reused"
    assert taken[1:] == [False, False, False]


async def test_a_revenue_type_withdrawn_behind_the_cache_is_refused(
    client: httpx.AsyncClient, app: FastAPI, world: World, taken: list[bool]
) -> None:
    first = await client.post(
        "/v1/payments", json=bill(provider="sandbox"), headers={**world.headers, "Idempotency-Key": "w-1"}
    )
    assert first.status_code == 201  # the cache now holds 2771
    # Another process withdraws the code: no commit through this process's ORM, the cache is warm.
    await _sql(
        app, "UPDATE revenue_types SET valid_from = '2000-01-01', valid_to = '2000-01-01' WHERE code = '2771'"
    )
    refused = await client.post(
        "/v1/payments", json=bill(provider="sandbox"), headers={**world.headers, "Idempotency-Key": "w-2"}
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "revenue_type_unknown"
    assert taken == [True, False]
    [[count]] = await _sql(app, "SELECT count(*) FROM payments")
    assert count == 1


async def test_an_account_disabled_behind_the_cache_is_not_used(
    client: httpx.AsyncClient, app: FastAPI, world: World, taken: list[bool]
) -> None:
    ok = await client.post(
        "/v1/payments", json=bill(provider="sandbox"), headers={**world.headers, "Idempotency-Key": "a-1"}
    )
    assert ok.status_code == 201
    await _sql(
        app, "UPDATE provider_accounts SET enabled = false WHERE id = :id", id=world.sandbox_account_id
    )
    refused = await client.post(
        "/v1/payments", json=bill(provider="sandbox"), headers={**world.headers, "Idempotency-Key": "a-2"}
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "provider_unavailable"
    assert taken == [True, False]


async def test_a_gateway_that_must_be_called_takes_the_general_path(
    client: httpx.AsyncClient, app: FastAPI, admin_headers: dict[str, str], world: World, taken: list[bool]
) -> None:
    await make_account(client, admin_headers, "momo", credentials=CREDENTIALS["momo"])
    r = await client.post(
        "/v1/payments", json=bill(provider="momo"), headers={**world.headers, "Idempotency-Key": "m-1"}
    )
    assert r.status_code == 201, r.text
    assert r.json()["attempts"][0]["provider"] == "momo"
    assert taken == [False]


async def test_floats_in_metadata_take_the_general_path(
    client: httpx.AsyncClient, app: FastAPI, world: World, taken: list[bool]
) -> None:
    r = await client.post(
        "/v1/payments",
        json=bill(metadata={"rate": 1e5, "x": 0.1}),
        headers={**world.headers, "Idempotency-Key": "f-1"},
    )
    assert r.status_code == 201
    got = await client.get(f"/v1/payments/{r.json()['id']}", headers=world.headers)
    assert got.json()["metadata"] == r.json()["metadata"]
    assert taken == [False]


def test_jsonb_order_matches_postgresql() -> None:
    value = {"email": 1, "name": 2, "phone": 3, "ab": {"ccc": 1, "b": [{"zz": 1, "a": 2}]}, "é": 0}
    ordered = fast_create.jsonb_order(value)
    assert list(ordered) == ["ab", "é", "name", "email", "phone"]
    assert list(ordered["ab"]) == ["b", "ccc"]
    assert list(ordered["ab"]["b"][0]) == ["a", "zz"]


async def test_an_unknown_provider_is_refused_and_the_refusal_kept_for_the_key(
    client: httpx.AsyncClient, world: World, taken: list[bool]
) -> None:
    headers = {**world.headers, "Idempotency-Key": "u-1"}
    body = bill(provider="nosuchpay")
    first = await client.post("/v1/payments", json=body, headers=headers)
    assert first.status_code == 422 and first.json()["code"] == "validation_error"
    again = await client.post("/v1/payments", json=body, headers=headers)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.content == first.content
    assert taken == [False, False]
