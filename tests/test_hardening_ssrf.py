"""SSRF through IPv6 spellings that carry an IPv4 address (NAT64, 6to4, Teredo, IPv4-compatible,
-mapped and -translated): refused when a webhook URL is configured, updated, and before each send."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from app.services.notifications import url_guard, webhooks
from tests.factories import PROVINCE, create, ensure_agencies, make_world
from tests.support import RoutingTransport

# Each carries a loopback, private, link-local (cloud metadata) or CGNAT IPv4 address.
HIDDEN_PRIVATE = [
    "64:ff9b::7f00:1",  # NAT64 well-known prefix → 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # → 169.254.169.254 (metadata service)
    "64:ff9b::10.0.0.5",  # → 10.0.0.5, dotted spelling
    "64:ff9b:1::7f00:1",  # NAT64 local-use prefix (RFC 8215)
    "64:ff9b:1:a00:5::",  # local-use prefix, /48 layout (RFC 6052) of 10.0.0.5
    "::ffff:0:7f00:1",  # IPv4-translated → 127.0.0.1
    "::ffff:0:c0a8:101",  # → 192.168.1.1
    "::7f00:1",  # IPv4-compatible → 127.0.0.1
    "::a9fe:a9fe",  # → 169.254.169.254
    "::ffff:7f00:1",  # IPv4-mapped → 127.0.0.1
    "::ffff:100.64.0.1",  # → CGNAT
    "2002:7f00:1::",  # 6to4 → 127.0.0.1
    "2002:a9fe:a9fe::1",  # → 169.254.169.254
    "2002:c0a8:101:1::1",  # → 192.168.1.1
    "2001:0:7f00:1::1",  # Teredo with a loopback server
    "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # Teredo whose client is 10.0.0.1 (obfuscated)
]
# The same forms around public IPv4 addresses stay public where the outer address is global.
STILL_PUBLIC = ["64:ff9b::808:808", "::ffff:8.8.8.8", "2002:808:808::1", "2001:4860:4860::8888"]


@pytest.mark.parametrize("address", HIDDEN_PRIVATE)
def test_ipv6_forms_carrying_a_private_ipv4_are_not_public(address: str) -> None:
    assert not url_guard.is_public_address(address)
    assert url_guard.literal_problem(f"https://[{address}]/hooks") is not None


@pytest.mark.parametrize("address", STILL_PUBLIC)
def test_ipv6_forms_carrying_a_public_ipv4_stay_public(address: str) -> None:
    assert url_guard.is_public_address(address)


@pytest.mark.parametrize(
    "address",
    ["64:ff9b::7f00:1", "::ffff:0:7f00:1", "::7f00:1", "2002:7f00:1::", "64:ff9b::a9fe:a9fe"],
)
async def test_issue_examples_are_refused_at_creation_and_update(
    client: httpx.AsyncClient, admin_headers: dict[str, str], app: FastAPI, address: str
) -> None:
    app.state.container.settings.allow_private_webhooks = False
    await ensure_agencies(client, admin_headers)
    url = f"https://[{address}]/hooks"
    body = {"name": "Cổng", "agency_codes": [PROVINCE], "webhook_url": url}
    r = await client.post("/admin/v1/clients", json=body, headers=admin_headers)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "webhook_url"

    body["webhook_url"] = "https://portal.example.gov.vn/hooks"
    r = await client.post("/admin/v1/clients", json=body, headers=admin_headers)
    assert r.status_code == 201, r.text
    r = await client.patch(
        f"/admin/v1/clients/{r.json()['id']}", json={"webhook_url": url}, headers=admin_headers
    )
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "webhook_url"


async def test_a_name_resolving_to_a_nat64_address_is_not_called(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    app: FastAPI,
    outbound: RoutingTransport,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dns = {"portal.example.gov.vn": ["14.160.0.10"]}

    async def resolve(host: str) -> list[str]:
        return dns.get(host, [])

    monkeypatch.setattr(url_guard, "system_resolve", resolve)
    container = app.state.container
    container.settings.allow_private_webhooks = False
    hits: list[httpx.Request] = []

    def portal(request: httpx.Request) -> httpx.Response:
        hits.append(request)
        return httpx.Response(204)

    outbound.handle("https://portal.example.gov.vn", portal)
    world = await make_world(client, admin_headers, webhook_url="https://portal.example.gov.vn/hooks")
    payment = (await create(client, world, provider="sandbox")).json()
    r = await client.post(f"/v1/payments/{payment['id']}/cancel", headers=world.headers)
    assert r.status_code == 200
    # The name now answers an AAAA record that a NAT64 gateway turns into the metadata service.
    dns["portal.example.gov.vn"] = ["64:ff9b::a9fe:a9fe"]
    assert await webhooks.dispatch_due(container) == 1
    assert hits == []
    r = await client.get(f"/admin/v1/clients/{world.client_id}/deliveries", headers=admin_headers)
    [delivery] = r.json()["data"]
    assert delivery["status"] == "pending" and "64:ff9b::a9fe:a9fe" in delivery["last_error"]
