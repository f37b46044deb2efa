"""Banks: seeded from the NAPAS list, readable by clients."""

from __future__ import annotations

import httpx
import pytest

H = dict[str, str]


@pytest.fixture
async def key(client: httpx.AsyncClient, admin_headers: H) -> H:
    await client.post(
        "/admin/v1/agencies",
        json={"code": "000.00.00.H56", "name": "Tỉnh", "level": "province"},
        headers=admin_headers,
    )
    r = await client.post(
        "/admin/v1/clients", json={"name": "Portal", "agency_codes": ["000.00.00.H56"]}, headers=admin_headers
    )
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['api_key']}"}


async def test_banks_list(client: httpx.AsyncClient, key: H) -> None:
    r = await client.get("/v1/banks", headers=key)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["next_cursor"] is None
    by_bin = {b["bin"]: b for b in body["data"]}
    assert len(by_bin) == 19
    assert by_bin["970436"] == {
        "bin": "970436",
        "sbv_code": "203",
        "short_name": "Vietcombank",
        "name": "Ngân hàng TMCP Ngoại thương Việt Nam",
    }
    assert [b["bin"] for b in body["data"]] == sorted(by_bin)


async def test_banks_paginate(client: httpx.AsyncClient, key: H) -> None:
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": "5", **({"cursor": cursor} if cursor else {})}
        body = (await client.get("/v1/banks", params=params, headers=key)).json()
        assert len(body["data"]) <= 5
        seen += [b["bin"] for b in body["data"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 19 and seen == sorted(set(seen))
    assert (await client.get("/v1/banks", params={"limit": "501"}, headers=key)).status_code == 422


async def test_banks_need_a_key(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/banks", headers={"Authorization": "Bearer pbk_not-a-real-key"})
    assert r.status_code == 401
    assert r.json()["code"] == "unauthorized"
