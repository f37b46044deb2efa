"""Beneficiary accounts: operator API and resolution up the agency tree."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from app.services.catalogue.catalog import resolve_beneficiary
from app.stores.agencies import by_code

H = dict[str, str]
PROVINCE = "000.00.00.H56"
DISTRICT = "000.31.00.H56"
COMMUNE = "000.31.25.H56"


async def tree(client: httpx.AsyncClient, admin: H) -> None:
    for code, level, parent in (
        (PROVINCE, "province", None),
        (DISTRICT, "district", PROVINCE),
        (COMMUNE, "commune", DISTRICT),
    ):
        body = {"code": code, "name": code, "level": level, "parent_code": parent}
        assert (await client.post("/admin/v1/agencies", json=body, headers=admin)).status_code == 201


async def put(client: httpx.AsyncClient, admin: H, code: str, number: str, **extra: Any) -> httpx.Response:
    body = {
        "account_number": number,
        "bank_bin": "970436",
        "account_name": f"KBNN {number}",
        "treasury_code": "0011",
        **extra,
    }
    return await client.put(f"/admin/v1/agencies/{code}/beneficiary-accounts", json=body, headers=admin)


async def resolved(app: FastAPI, code: str, revenue_type: str | None) -> str | None:
    async with app.state.container.db.session() as session:
        agency = await by_code(session, code)
        assert agency is not None
        account = await resolve_beneficiary(session, agency, revenue_type)
        return account.account_number if account else None


async def test_nearest_level_wins_and_exact_type_beats_default_within_a_level(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: H
) -> None:
    await tree(client, admin_headers)
    assert await resolved(app, COMMUNE, "2771") is None
    assert (await put(client, admin_headers, PROVINCE, "P-DEFAULT")).status_code == 201
    assert (await put(client, admin_headers, PROVINCE, "P-2771", revenue_type_code="2771")).status_code == 201
    assert await resolved(app, COMMUNE, "2771") == "P-2771"
    assert await resolved(app, COMMUNE, "2764") == "P-DEFAULT"
    assert await resolved(app, COMMUNE, None) == "P-DEFAULT"
    # A nearer level's default beats a farther level's exact match.
    await put(client, admin_headers, DISTRICT, "D-DEFAULT")
    assert await resolved(app, COMMUNE, "2771") == "D-DEFAULT"
    assert await resolved(app, PROVINCE, "2771") == "P-2771"
    await put(client, admin_headers, COMMUNE, "C-2771", revenue_type_code="2771")
    assert await resolved(app, COMMUNE, "2771") == "C-2771"
    assert await resolved(app, COMMUNE, "2764") == "D-DEFAULT"


async def test_put_replaces_and_list_shows_inherited_default(
    client: httpx.AsyncClient, admin_headers: H
) -> None:
    await tree(client, admin_headers)
    await put(client, admin_headers, PROVINCE, "111")
    r = await put(client, admin_headers, PROVINCE, "222", bank_bin="970418")
    assert r.status_code == 200, r.text
    assert (r.json()["account_number"], r.json()["bank_bin"], r.json()["revenue_type_code"]) == (
        "222",
        "970418",
        None,
    )
    await put(client, admin_headers, PROVINCE, "333", revenue_type_code="2771")
    body = (
        await client.get(f"/admin/v1/agencies/{PROVINCE}/beneficiary-accounts", headers=admin_headers)
    ).json()
    assert [(a["revenue_type_code"], a["account_number"]) for a in body["data"]] == [
        (None, "222"),
        ("2771", "333"),
    ]
    assert body["effective_default"]["account_number"] == "222"
    body = (
        await client.get(f"/admin/v1/agencies/{COMMUNE}/beneficiary-accounts", headers=admin_headers)
    ).json()
    assert body["data"] == []
    assert (body["effective_default"]["agency_code"], body["effective_default"]["account_number"]) == (
        PROVINCE,
        "222",
    )


async def test_bad_beneficiary_is_422_and_unknown_agency_404(
    client: httpx.AsyncClient, admin_headers: H
) -> None:
    await tree(client, admin_headers)
    for extra, field in (
        ({"bank_bin": "999999"}, "bank_bin"),
        ({"revenue_type_code": "9999"}, "revenue_type_code"),
        ({"account_name": ""}, "account_name"),
        ({"treasury_code": "00 11"}, "treasury_code"),
    ):
        r = await put(client, admin_headers, PROVINCE, "123", **extra)
        assert r.status_code == 422, r.text
        assert field in [e["field"] for e in r.json()["errors"]]
    r = await put(client, admin_headers, PROVINCE, "12 34")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "account_number"
    assert (await put(client, admin_headers, "000.00.99.H56", "123")).status_code == 404
    body = (
        await client.get(f"/admin/v1/agencies/{PROVINCE}/beneficiary-accounts", headers=admin_headers)
    ).json()
    assert body == {"data": [], "next_cursor": None, "effective_default": None}
