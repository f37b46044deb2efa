"""Agencies: the tree, its operator API, bulk import, targets, and operator authentication."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.config import Settings
from app.main import create_app
from app.stores.agencies import ancestors, by_code

H = dict[str, str]
PROVINCE = "000.00.00.H56"
DEPT = "000.00.31.H56"
DISTRICT = "000.31.00.H56"
COMMUNE = "000.31.25.H56"


async def make(
    client: httpx.AsyncClient, headers: H, code: str, name: str, level: str, parent: str | None
) -> Any:
    r = await client.post(
        "/admin/v1/agencies",
        json={"code": code, "name": name, "level": level, "parent_code": parent},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    return r.json()


async def tree(client: httpx.AsyncClient, headers: H) -> None:
    await make(client, headers, PROVINCE, "UBND tỉnh Đồng Nai", "province", None)
    await make(client, headers, DEPT, "Sở Tư pháp", "department", PROVINCE)
    await make(client, headers, DISTRICT, "UBND huyện Long Thành", "district", PROVINCE)
    await make(client, headers, COMMUNE, "UBND xã An Phước", "commune", DISTRICT)


async def codes(client: httpx.AsyncClient, headers: H, **params: str) -> list[str]:
    r = await client.get("/admin/v1/agencies", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return [a["code"] for a in r.json()["data"]]


async def test_tree_paths_children_and_subtree(client: httpx.AsyncClient, admin_headers: H) -> None:
    await tree(client, admin_headers)
    body = (await client.get("/admin/v1/agencies", headers=admin_headers)).json()
    by_code = {a["code"]: a for a in body["data"]}
    assert by_code[COMMUNE]["path"] == f"/{PROVINCE}/{DISTRICT}/{COMMUNE}/"
    assert by_code[COMMUNE]["parent_code"] == DISTRICT
    assert by_code[PROVINCE]["parent_code"] is None
    assert body["next_cursor"] is None
    assert sorted(await codes(client, admin_headers, parent_code=PROVINCE)) == sorted([DEPT, DISTRICT])
    assert await codes(client, admin_headers, under=DISTRICT) == [DISTRICT, COMMUNE]
    assert await codes(client, admin_headers, under="999.99.99.Z99") == []


async def test_ancestors_from_path(app: FastAPI, client: httpx.AsyncClient, admin_headers: H) -> None:
    await tree(client, admin_headers)
    async with app.state.container.db.session() as session:
        commune = await by_code(session, COMMUNE)
        assert commune is not None
        assert [a.code for a in await ancestors(session, commune)] == [COMMUNE, DISTRICT, PROVINCE]
        assert await by_code(session, "000.00.99.H56") is None


async def test_duplicate_code_is_409_conflict(client: httpx.AsyncClient, admin_headers: H) -> None:
    await make(client, admin_headers, PROVINCE, "Tỉnh", "province", None)
    r = await client.post(
        "/admin/v1/agencies",
        json={"code": PROVINCE, "name": "Again", "level": "province"},
        headers=admin_headers,
    )
    assert r.status_code == 409
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "conflict"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"code": DEPT, "name": "Sở", "level": "department", "parent_code": "000.00.00.X99"}, "parent_code"),
        ({"code": "H56-31", "name": "Sở", "level": "department"}, "code"),
        ({"code": "000.00.31", "name": "Sở", "level": "department"}, "code"),
        ({"code": DEPT, "name": "   ", "level": "department"}, "name"),
        ({"code": DEPT, "name": "Sở", "level": "ministry"}, "level"),
    ],
)
async def test_bad_agency_is_422_naming_the_field(
    client: httpx.AsyncClient, admin_headers: H, body: dict[str, str], field: str
) -> None:
    r = await client.post("/admin/v1/agencies", json=body, headers=admin_headers)
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "validation_error"
    assert field in [e["field"] for e in r.json()["errors"]]
    assert await codes(client, admin_headers) == []


async def test_move_repaths_subtree_and_refuses_cycles(client: httpx.AsyncClient, admin_headers: H) -> None:
    await tree(client, admin_headers)
    r = await client.patch(
        f"/admin/v1/agencies/{DISTRICT}", json={"parent_code": DEPT}, headers=admin_headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["path"] == f"/{PROVINCE}/{DEPT}/{DISTRICT}/"
    assert await codes(client, admin_headers, under=DEPT) == [DEPT, DISTRICT, COMMUNE]
    body = (await client.get("/admin/v1/agencies", params={"under": COMMUNE}, headers=admin_headers)).json()
    assert body["data"][0]["path"] == f"/{PROVINCE}/{DEPT}/{DISTRICT}/{COMMUNE}/"

    for parent in (COMMUNE, PROVINCE):  # under its own descendant, or under itself
        r = await client.patch(
            f"/admin/v1/agencies/{PROVINCE}", json={"parent_code": parent}, headers=admin_headers
        )
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "parent_code"

    r = await client.patch(
        f"/admin/v1/agencies/{DISTRICT}", json={"parent_code": None}, headers=admin_headers
    )
    assert r.json()["path"] == f"/{DISTRICT}/"
    assert await codes(client, admin_headers, under=PROVINCE) == [PROVINCE, DEPT]
    r = await client.patch(
        f"/admin/v1/agencies/{DEPT}", json={"name": "Sở Tư pháp tỉnh"}, headers=admin_headers
    )
    assert r.json()["name"] == "Sở Tư pháp tỉnh"
    r = await client.patch("/admin/v1/agencies/000.00.77.H56", json={"name": "x"}, headers=admin_headers)
    assert r.status_code == 404


async def test_search_ignores_case_and_diacritics(client: httpx.AsyncClient, admin_headers: H) -> None:
    await tree(client, admin_headers)
    for q in ("so tu phap", "SỞ TƯ PHÁP", "Tư Pháp"):
        assert await codes(client, admin_headers, q=q) == [DEPT]
    assert await codes(client, admin_headers, q="an phuoc") == [COMMUNE]


async def test_pagination_walks_every_agency_once(client: httpx.AsyncClient, admin_headers: H) -> None:
    await tree(client, admin_headers)
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        body = (await client.get("/admin/v1/agencies", params=params, headers=admin_headers)).json()
        seen += [a["code"] for a in body["data"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted([PROVINCE, DEPT, DISTRICT, COMMUNE])
    r = await client.get("/admin/v1/agencies", params={"cursor": "garbage!"}, headers=admin_headers)
    assert r.status_code == 422


GOOD_CSV = f"""code,name,level,parent_code
{COMMUNE},UBND xã An Phước,commune,{DISTRICT}
{PROVINCE},UBND tỉnh Đồng Nai,province,
{DISTRICT},UBND huyện Long Thành,district,{PROVINCE}
{DEPT},Sở Tư pháp,department,{PROVINCE}
"""


async def test_csv_import_and_reimport_changes_nothing(client: httpx.AsyncClient, admin_headers: H) -> None:
    headers = {**admin_headers, "Content-Type": "text/csv"}
    r = await client.post("/admin/v1/agencies:import", content=GOOD_CSV.encode(), headers=headers)
    assert r.status_code == 200, r.text
    assert r.json() == {"created": 4, "updated": 0, "unchanged": 0}
    before = (await client.get("/admin/v1/agencies", headers=admin_headers)).json()
    r = await client.post("/admin/v1/agencies:import", content=GOOD_CSV.encode(), headers=headers)
    assert r.json() == {"created": 0, "updated": 0, "unchanged": 4}
    assert (await client.get("/admin/v1/agencies", headers=admin_headers)).json() == before
    assert await codes(client, admin_headers, under=DISTRICT) == [DISTRICT, COMMUNE]


async def test_bad_csv_rejects_every_bad_line_and_imports_nothing(
    client: httpx.AsyncClient, admin_headers: H
) -> None:
    bad = f"""code,name,level,parent_code
{PROVINCE},UBND tỉnh Đồng Nai,province,
{DEPT},Sở Tư pháp,department,000.00.00.X01
not-a-code,Xã,commune,{PROVINCE}
{DISTRICT},,district,{PROVINCE}
{COMMUNE},Xã,village,{DISTRICT}
{PROVINCE},Duplicate,province,
"""
    r = await client.post(
        "/admin/v1/agencies:import",
        content=bad.encode(),
        headers={**admin_headers, "Content-Type": "text/csv"},
    )
    assert r.status_code == 422, r.text
    errors = r.json()["errors"]
    assert {(e["line"], e["field"]) for e in errors} == {
        (3, "parent_code"),
        (4, "code"),
        (5, "name"),
        (6, "level"),
        (7, "code"),
    }
    assert await codes(client, admin_headers) == []


async def test_json_import_with_cycle_is_rejected(client: httpx.AsyncClient, admin_headers: H) -> None:
    rows: list[dict[str, str | None]] = [
        {"code": PROVINCE, "name": "Tỉnh", "level": "province", "parent_code": COMMUNE},
        {"code": COMMUNE, "name": "Xã", "level": "commune", "parent_code": PROVINCE},
    ]
    r = await client.post("/admin/v1/agencies:import", json=rows, headers=admin_headers)
    assert r.status_code == 422
    assert {e["line"] for e in r.json()["errors"]} == {1, 2}
    rows[0]["parent_code"] = None
    r = await client.post("/admin/v1/agencies:import", json={"data": rows}, headers=admin_headers)
    assert r.json() == {"created": 2, "updated": 0, "unchanged": 0}
    # Re-importing with a new parent moves the subtree.
    moved = [*rows, {"code": DISTRICT, "name": "Huyện", "level": "district", "parent_code": PROVINCE}]
    moved[1] = {**rows[1], "parent_code": DISTRICT}
    r = await client.post("/admin/v1/agencies:import", json=moved, headers=admin_headers)
    assert r.json() == {"created": 1, "updated": 1, "unchanged": 1}
    assert await codes(client, admin_headers, under=DISTRICT) == [DISTRICT, COMMUNE]


async def test_targets(client: httpx.AsyncClient, admin_headers: H) -> None:
    await make(client, admin_headers, PROVINCE, "Tỉnh", "province", None)
    url = f"/admin/v1/agencies/{PROVINCE}/targets"
    r = await client.put(f"{url}/2026", json={"online_payment_rate": 0.30}, headers=admin_headers)
    assert r.status_code == 200, r.text
    assert r.json() == {"agency_code": PROVINCE, "year": 2026, "online_payment_rate": 0.3}
    await client.put(f"{url}/2026", json={"online_payment_rate": 0.45}, headers=admin_headers)
    await client.put(f"{url}/2025", json={"online_payment_rate": 0.2}, headers=admin_headers)
    data = (await client.get(url, headers=admin_headers)).json()["data"]
    assert [(t["year"], t["online_payment_rate"]) for t in data] == [(2025, 0.2), (2026, 0.45)]
    r = await client.put(f"{url}/2026", json={"online_payment_rate": 1.5}, headers=admin_headers)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "online_payment_rate"
    r = await client.put(
        "/admin/v1/agencies/000.00.11.H56/targets/2026",
        json={"online_payment_rate": 0.3},
        headers=admin_headers,
    )
    assert r.status_code == 404


async def test_operator_api_needs_the_admin_token(client: httpx.AsyncClient) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"Authorization": "Basic abc"}):
        r = await client.get("/admin/v1/agencies", headers=headers)
        assert r.status_code == 401
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["code"] == "unauthorized"


async def test_empty_admin_token_disables_operator_api(settings_factory: Callable[..., Settings]) -> None:
    app = create_app(settings_factory(admin_token=""), start_workers=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Bearer anything"}):
                r = await c.get("/admin/v1/agencies", headers=headers)
                assert r.status_code == 503
                assert r.json()["code"] == "admin_disabled"


async def test_client_route_without_key_is_401_problem(client: httpx.AsyncClient) -> None:
    for path in ("/v1/agencies", "/v1/banks", "/v1/revenue-types", "/v1/revenue-types/2771"):
        r = await client.get(path)
        assert r.status_code == 401
        assert r.headers["content-type"] == "application/problem+json"
        assert r.headers["www-authenticate"] == "Bearer"
        assert r.json()["code"] == "unauthorized"
