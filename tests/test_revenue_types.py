"""Revenue-type codes: seeded search, versioning, validity dates, imports."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.services.catalogue.catalog import get_active_revenue_types

H = dict[str, str]
PROVINCE = "000.00.00.H56"


@pytest.fixture
async def key(client: httpx.AsyncClient, admin_headers: H) -> H:
    """A client's Authorization header (clients see the catalogue)."""
    r = await client.post(
        "/admin/v1/agencies",
        json={"code": PROVINCE, "name": "Tỉnh", "level": "province"},
        headers=admin_headers,
    )
    assert r.status_code == 201
    r = await client.post(
        "/admin/v1/clients", json={"name": "Portal", "agency_codes": [PROVINCE]}, headers=admin_headers
    )
    return {"Authorization": f"Bearer {r.json()['api_key']}"}


async def search(client: httpx.AsyncClient, key: H, **params: str) -> list[dict[str, Any]]:
    r = await client.get("/v1/revenue-types", params=params, headers=key)
    assert r.status_code == 200, r.text
    data: list[dict[str, Any]] = r.json()["data"]
    return data


async def put(client: httpx.AsyncClient, admin: H, code: str, **body: Any) -> httpx.Response:
    payload = {"group_code": "2750", "name": "Lệ phí hộ tịch", "kind": "le_phi", "valid_from": "2017-01-01"}
    payload.update(body)
    return await client.put(f"/admin/v1/revenue-types/{code}", json=payload, headers=admin)


@pytest.mark.parametrize(
    "q", ["ho tich", "hộ tịch", "HO TICH", "Hộ Tịch", "le phi ho tich", "2771", "  hộ   TỊCH "]
)
async def test_seeded_codes_found_with_or_without_diacritics(
    client: httpx.AsyncClient, key: H, q: str
) -> None:
    assert [r["code"] for r in await search(client, key, q=q)] == ["2771"]


async def test_search_by_words_and_kind(client: httpx.AsyncClient, key: H) -> None:
    found = {r["code"] for r in await search(client, key, q="chung thuc")}
    assert found == {"2716", "3057"}  # Phí chứng thực, Lệ phí chứng thực
    assert {r["code"] for r in await search(client, key, q="chung thuc", kind="le_phi")} == {"3057"}
    assert await search(client, key, q="phi xyz") == []
    assert {r["kind"] for r in await search(client, key, kind="phi", limit="500")} == {"phi"}
    r = await client.get("/v1/revenue-types", params={"kind": "fee"}, headers=key)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "kind"


async def test_list_pages_through_the_seeded_catalogue(client: httpx.AsyncClient, key: H) -> None:
    codes: list[str] = []
    cursor = None
    while True:
        r = await client.get(
            "/v1/revenue-types", params={"limit": 7, **({"cursor": cursor} if cursor else {})}, headers=key
        )
        codes += [row["code"] for row in r.json()["data"]]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    assert len(codes) == 32 and codes == sorted(set(codes))


async def test_update_creates_a_version_and_keeps_history(
    client: httpx.AsyncClient, admin_headers: H, key: H
) -> None:
    r = await put(client, admin_headers, "2771", name="Lệ phí đăng ký hộ tịch")
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["version"], body["name"], body["is_current"]) == (2, "Lệ phí đăng ký hộ tịch", True)
    assert [(v["version"], v["is_current"]) for v in body["versions"]] == [(1, False), (2, True)]
    assert body["versions"][0]["name"] == "Lệ phí hộ tịch"
    # The search sees the new name only, once.
    assert [r["name"] for r in await search(client, key, q="dang ky ho tich")] == ["Lệ phí đăng ký hộ tịch"]
    assert len(await search(client, key, q="2771")) == 1
    got = (await client.get("/v1/revenue-types/2771", headers=key)).json()
    assert got["version"] == 2 and len(got["versions"]) == 2
    # The same body again changes nothing.
    r = await put(client, admin_headers, "2771", name="Lệ phí đăng ký hộ tịch")
    assert r.status_code == 200
    assert len(r.json()["versions"]) == 2


async def test_validity_periods_and_active_on(client: httpx.AsyncClient, admin_headers: H, key: H) -> None:
    assert (await put(client, admin_headers, "2771", valid_to="2025-12-31")).status_code == 201
    r = await put(client, admin_headers, "2771", name="Lệ phí hộ tịch (mới)", valid_from="2026-01-01")
    assert r.status_code == 201, r.text
    old = (await client.get("/v1/revenue-types/2771", params={"active_on": "2025-06-01"}, headers=key)).json()
    new = (await client.get("/v1/revenue-types/2771", params={"active_on": "2026-06-01"}, headers=key)).json()
    assert (old["name"], old["valid_to"]) == ("Lệ phí hộ tịch", "2025-12-31")
    assert (new["name"], new["valid_to"]) == ("Lệ phí hộ tịch (mới)", None)
    r = await client.get("/v1/revenue-types/2771", params={"active_on": "2016-01-01"}, headers=key)
    assert r.status_code == 404
    assert [x["name"] for x in await search(client, key, q="2771", active_on="2025-06-01")] == [
        "Lệ phí hộ tịch"
    ]
    assert [x["valid_from"] for x in await search(client, key, q="2771")] == ["2017-01-01", "2026-01-01"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"valid_from": "2020-01-01"}, "valid_from"),  # starts inside the open 2017- period
        ({"valid_from": "2016-01-01", "valid_to": "2017-06-30"}, "valid_to"),  # runs into it
        ({"valid_from": "2016-01-01"}, "valid_to"),  # open-ended, covers it
    ],
)
async def test_overlapping_validity_is_422(
    client: httpx.AsyncClient, admin_headers: H, body: Any, field: str
) -> None:
    r = await put(client, admin_headers, "2771", **body)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == field
    assert "overlaps" in r.json()["errors"][0]["message"]


@pytest.mark.parametrize(
    ("code", "body", "field"),
    [
        ("27A1", {}, "code"),
        ("2771", {"kind": "fee"}, "kind"),
        ("2771", {"name": " "}, "name"),
        ("2771", {"group_code": "27"}, "group_code"),
        ("2771", {"valid_to": "2016-12-31"}, "valid_to"),
    ],
)
async def test_bad_revenue_type_is_422(
    client: httpx.AsyncClient, admin_headers: H, code: str, body: Any, field: str
) -> None:
    r = await put(client, admin_headers, code, **body)
    assert r.status_code == 422, r.text
    assert field in [e["field"] for e in r.json()["errors"]]


async def test_retired_code_stays_readable(client: httpx.AsyncClient, admin_headers: H, key: H) -> None:
    r = await put(
        client,
        admin_headers,
        "2107",
        group_code="2100",
        name="Phí tuyển dụng, dự thi nâng ngạch",
        kind="phi",
        valid_to="2020-12-31",
    )
    assert r.status_code == 201, r.text
    got = await client.get("/v1/revenue-types/2107", headers=key)
    assert got.status_code == 200
    assert got.json()["valid_to"] == "2020-12-31"
    assert await search(client, key, q="2107", active_on="2026-11-21") == []
    assert (await client.get("/v1/revenue-types/9999", headers=key)).status_code == 404


async def test_active_revenue_types_for_payments(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: H
) -> None:
    await put(
        client,
        admin_headers,
        "2107",
        group_code="2100",
        name="Phí tuyển dụng",
        kind="phi",
        valid_to="2020-12-31",
    )
    async with app.state.container.db.session() as session:
        found = await get_active_revenue_types(session, ["2771", "2107", "0000"], date(2026, 11, 21))
        assert set(found) == {"2771"} and found["2771"].is_current
        assert set(await get_active_revenue_types(session, ["2771", "2107"], date(2019, 1, 1))) == {
            "2771",
            "2107",
        }
        assert await get_active_revenue_types(session, [], date(2026, 1, 1)) == {}


IMPORT_CSV = """code,group_code,name,kind,chapter,valid_from,valid_to
9101,9100,Phí thử nghiệm A,phi,,2024-01-01,
9102,9100,"Lệ phí thử nghiệm, B",le_phi,418,2024-01-01,2024-12-31
9102,9100,Lệ phí thử nghiệm B mới,le_phi,418,2025-01-01,
2771,2750,Lệ phí hộ tịch,le_phi,,2017-01-01,
"""


async def test_import_csv_is_idempotent(client: httpx.AsyncClient, admin_headers: H, key: H) -> None:
    headers = {**admin_headers, "Content-Type": "text/csv; charset=utf-8"}
    r = await client.post("/admin/v1/revenue-types:import", content=IMPORT_CSV.encode(), headers=headers)
    assert r.status_code == 200, r.text
    assert r.json() == {"created": 3, "updated": 0, "unchanged": 1}
    r = await client.post("/admin/v1/revenue-types:import", content=IMPORT_CSV.encode(), headers=headers)
    assert r.json() == {"created": 0, "updated": 0, "unchanged": 4}
    assert [x["name"] for x in await search(client, key, q="thu nghiem b")] == [
        "Lệ phí thử nghiệm, B",
        "Lệ phí thử nghiệm B mới",
    ]
    detail = (await client.get("/v1/revenue-types/9102", headers=key)).json()
    assert detail["chapter"] == "418" and len(detail["versions"]) == 2


async def test_bad_import_lists_every_bad_line_and_imports_nothing(
    client: httpx.AsyncClient, admin_headers: H, key: H
) -> None:
    bad = [
        {"code": "9101", "group_code": "9100", "name": "Phí A", "kind": "phi", "valid_from": "2024-01-01"},
        {"code": "9102", "name": "Phí B", "kind": "tax", "valid_from": "2024-01-01"},
        {"code": "9103", "name": "", "kind": "phi", "valid_from": "2024-13-01"},
        {"code": "9101", "name": "Phí A khác", "kind": "phi", "valid_from": "2024-06-01"},  # overlaps row 1
        {
            "code": "2771",
            "name": "Lệ phí hộ tịch",
            "kind": "le_phi",
            "valid_from": "2020-01-01",
        },  # overlaps seed
        {
            "code": "9101",
            "name": "Phí A lặp",
            "kind": "phi",
            "valid_from": "2024-01-01",
        },  # duplicate of row 1
    ]
    r = await client.post("/admin/v1/revenue-types:import", json=bad, headers=admin_headers)
    assert r.status_code == 422, r.text
    errors = r.json()["errors"]
    assert {(e["line"], e["field"]) for e in errors} == {
        (2, "kind"),
        (3, "name"),
        (3, "valid_from"),
        (4, "valid_from"),
        (5, "valid_from"),
        (6, "valid_from"),
    }
    assert await search(client, key, q="9101") == []
    assert len((await client.get("/v1/revenue-types/2771", headers=key)).json()["versions"]) == 1


async def test_import_refuses_unreadable_files(client: httpx.AsyncClient, admin_headers: H) -> None:
    cases = (
        (b"{not json", "application/json"),
        (b"code,name\n2771,x", "application/json"),
        (b'{"rows": []}', "application/json"),
        (b"\xff\xfe", "text/csv"),
        (b"a", "image/png"),
    )
    for body, ctype in cases:
        r = await client.post(
            "/admin/v1/revenue-types:import", content=body, headers={**admin_headers, "Content-Type": ctype}
        )
        assert r.status_code == 422, (ctype, r.text)
        assert r.json()["code"] == "validation_error"


async def test_seed_loader_is_idempotent(app: FastAPI, client: httpx.AsyncClient, key: H) -> None:
    from app.services.operations.seed import load_reference_catalogues

    assert await load_reference_catalogues(app.state.container.db) == {"banks": 0, "revenue_types": 0}
    assert len(await search(client, key, limit="500")) == 32
