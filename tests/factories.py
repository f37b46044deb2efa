"""Building blocks for tests, through the real operator and client APIs."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import httpx

PROVINCE = "000.00.00.H56"
DEPARTMENT = "000.00.31.H56"
OTHER_PROVINCE = "000.00.00.H34"

_counter = itertools.count(1)


@dataclass
class World:
    api_key: str
    client_id: str
    webhook_secret: str
    sandbox_account_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


async def ensure_agencies(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    listed = (await client.get("/admin/v1/agencies", headers=admin, params={"limit": 500})).json()["data"]
    have = {a["code"] for a in listed}
    for code, name, level, parent in (
        (PROVINCE, "UBND tỉnh Thử", "province", None),
        (DEPARTMENT, "Sở Tư pháp tỉnh Thử", "department", PROVINCE),
        (OTHER_PROVINCE, "UBND tỉnh Khác", "province", None),
    ):
        if code in have:
            continue
        body: dict[str, Any] = {"code": code, "name": name, "level": level}
        if parent:
            body["parent_code"] = parent
        r = await client.post("/admin/v1/agencies", json=body, headers=admin)
        assert r.status_code == 201, r.text


async def make_client(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    *,
    agency_codes: list[str] | None = None,
    webhook_url: str | None = None,
    name: str | None = None,
) -> tuple[str, str, str]:
    body: dict[str, Any] = {
        "name": name or f"Cổng DVC thử {next(_counter)}",
        "agency_codes": agency_codes or [PROVINCE],
    }
    if webhook_url:
        body["webhook_url"] = webhook_url
    r = await client.post("/admin/v1/clients", json=body, headers=admin)
    assert r.status_code == 201, r.text
    data = r.json()
    return data["api_key"], data["id"], data["webhook_secret"]


async def make_account(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    provider: str = "sandbox",
    *,
    agency_code: str = PROVINCE,
    credentials: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "agency_code": agency_code,
        "provider": provider,
        "credentials": credentials or {},
    }
    if settings is not None:
        body["settings"] = settings
    r = await client.post("/admin/v1/provider-accounts", json=body, headers=admin)
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


async def make_world(
    client: httpx.AsyncClient, admin: dict[str, str], *, webhook_url: str | None = None
) -> World:
    await ensure_agencies(client, admin)
    account = await make_account(client, admin, "sandbox")
    key, client_id, secret = await make_client(client, admin, webhook_url=webhook_url)
    return World(api_key=key, client_id=client_id, webhook_secret=secret, sandbox_account_id=account["id"])


def bill(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "agency_code": DEPARTMENT,
        "dossier_code": f"{DEPARTMENT}-261121-{next(_counter):04d}",
        "procedure_code": "1.001234",
        "description": "Lệ phí hộ tịch",
        "payer": {"name": "Nguyễn Văn A", "id_number": "001099000001"},
        "items": [{"revenue_type_code": "2771", "amount": 50000, "description": "Cấp bản sao trích lục"}],
        "return_url": "https://portal.example.gov.vn/ho-so/123",
        "expires_in_seconds": 900,
    }
    body.update(overrides)
    return body


async def create(
    client: httpx.AsyncClient, world: World, key: str | None = None, **overrides: Any
) -> httpx.Response:
    headers = {**world.headers, "Idempotency-Key": key or f"k-{next(_counter)}"}
    return await client.post("/v1/payments", json=bill(**overrides), headers=headers)


async def pay_in_sandbox(
    client: httpx.AsyncClient, checkout_url: str, outcome: str = "success"
) -> httpx.Response:
    """What the citizen's browser does on the sandbox gateway page (the simulator then calls us)."""
    page = await client.get(checkout_url)
    assert page.status_code == 200, page.text
    return await client.post(checkout_url, data={"outcome": outcome})
