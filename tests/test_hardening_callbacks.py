"""Hostile callbacks, for every gateway: a real signed IPN is captured (the network loses it),
then oversized, deeply nested, wrongly typed, non-UTF-8, duplicated-parameter, cross-account and
replayed variants are thrown at us. Each is answered in the gateway's own format (never a 500),
stored raw, and changes nothing; the untouched original then still works exactly once."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from app.adapters.base import AckVerdict
from app.models import Event, InboundCallback, Payment, ProviderAccount
from app.services.catalogue.gateway_accounts import adapter_for, present
from tests.conftest import BASE_URL
from tests.factories import DEPARTMENT, PROVINCE, World, create, ensure_agencies, make_account, make_client
from tests.support import RoutingTransport
from tests.test_gateways_e2e import CREDENTIALS

# A second merchant account per gateway: other identifiers, other secrets.
OTHER_CREDENTIALS: dict[str, dict[str, Any]] = {
    "vnpay": {"tmn_code": "OTHERTMN", "hash_secret": "OTHERSECRETFORTHEHARDENINGSUITE1"},
    "onepay": {
        "merchant": "OTHERONEPAY",
        "access_code": "7CAB1234",
        "hash_secret": "0F1E2D3C4B5A69788796A5B4C3D2E1F0",
    },
    "momo": {
        "partner_code": "MOMOOTHER",
        "access_key": "A1B2C3D4E5F60",
        "secret_key": "other-momo-secret-0123456789abcd",
    },
    "zalopay": {
        "app_id": "2554",
        "key1": "otherkey1otherkey1otherkey1other",
        "key2": "otherkey2otherkey2otherkey2other",
    },
    "dvcqg": {"partner_code": "H56OTHER", "secret": "dvcqg-other-secret-9876543210"},
    "paygov": {
        "partner_code": "H56PG2",
        "access_key": "pg-other-access",
        "secret_key": "pg-other-secret-9876543210",
        "service_code": "DVC",
    },
}


class Capture(httpx.AsyncBaseTransport):
    """The app's own host, except that gateway callbacks are recorded and lost on the way."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.lost: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/v1/callbacks/"):
            await request.aread()
            self.lost.append(request)
            raise httpx.ConnectError("IPN lost", request=request)
        return await self.inner.handle_async_request(request)


@dataclass
class Ipn:
    method: str
    path: str
    query: str
    body: bytes
    headers: dict[str, str]

    def send(self, client: httpx.AsyncClient, **changes: Any) -> Any:
        values = {**self.__dict__, **changes}
        url = values["path"] + (f"?{values['query']}" if values["query"] else "")
        headers = {k: v for k, v in values["headers"].items() if k not in ("content-length", "host")}
        return client.request(values["method"], url, content=values["body"], headers=headers)


async def _paid_but_lost(
    client: httpx.AsyncClient, capture: Capture, world: World, provider: str, agency: str
) -> tuple[dict[str, Any], Ipn]:
    r = await create(client, world, provider=provider, agency_code=agency)
    assert r.status_code == 201, r.text
    payment: dict[str, Any] = r.json()
    await client.get(payment["checkout_url"])
    before = len(capture.lost)
    await client.post(payment["checkout_url"], data={"outcome": "success"})
    assert len(capture.lost) == before + 1, "the simulator sent no IPN"
    req = capture.lost[-1]
    ipn = Ipn(req.method, req.url.path, req.url.query.decode(), req.content, dict(req.headers))
    return payment, ipn


async def _status(client: httpx.AsyncClient, world: World, payment_id: str) -> str:
    got = (await client.get(f"/v1/payments/{payment_id}", headers=world.headers)).json()
    return str(got["status"])


async def _counts(app: FastAPI) -> tuple[int, int]:
    async with app.state.container.db.session() as session:
        callbacks = await session.scalar(select(func.count()).select_from(InboundCallback))
        events = await session.scalar(select(func.count()).select_from(Event))
    return int(callbacks or 0), int(events or 0)


def _duplicated(ipn: Ipn) -> Ipn:
    """Every parameter sent twice, the second copy tampered (a parser taking the last one must
    not then verify; a parser taking the first must not act on the second)."""
    if ipn.query:
        items = parse_qsl(ipn.query, keep_blank_values=True)
        return Ipn(
            ipn.method, ipn.path, urlencode(items + [(k, v + "9") for k, v in items]), ipn.body, ipn.headers
        )
    try:
        data = orjson.loads(ipn.body)
    except orjson.JSONDecodeError:
        items = parse_qsl(ipn.body.decode(), keep_blank_values=True)
        body = urlencode(items + [(k, v + "9") for k, v in items]).encode()
        return Ipn(ipn.method, ipn.path, ipn.query, body, ipn.headers)
    assert isinstance(data, dict)
    extra = b"".join(b"," + orjson.dumps(k) + b":" + orjson.dumps(_tamper(v)) for k, v in data.items())
    return Ipn(ipn.method, ipn.path, ipn.query, ipn.body[:-1] + extra + b"}", ipn.headers)


def _tamper(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, str):
        return value + "9"
    return value


def _non_utf8(ipn: Ipn) -> Ipn:
    """Invalid UTF-8 inside the first signed value."""
    if ipn.query:
        at = ipn.query.index("=") + 1
        return Ipn(ipn.method, ipn.path, ipn.query[:at] + "%FF%FE" + ipn.query[at:], ipn.body, ipn.headers)
    at = ipn.body.index(b'":"') + 3 if b'":"' in ipn.body else ipn.body.index(b"=") + 1
    return Ipn(ipn.method, ipn.path, ipn.query, ipn.body[:at] + b"\xff\xfe" + ipn.body[at:], ipn.headers)


@pytest.mark.parametrize("provider", sorted(CREDENTIALS))
async def test_hostile_callbacks_are_answered_stored_and_change_nothing(
    client: httpx.AsyncClient,
    app: FastAPI,
    outbound: RoutingTransport,
    admin_headers: dict[str, str],
    provider: str,
) -> None:
    capture = Capture(httpx.ASGITransport(app=app))
    outbound.mount(BASE_URL, capture)
    await ensure_agencies(client, admin_headers)
    mine = await make_account(client, admin_headers, provider, credentials=CREDENTIALS[provider])
    # The other account is nearer to the department, so the department's bills go to it.
    other = await make_account(
        client, admin_headers, provider, agency_code=DEPARTMENT, credentials=OTHER_CREDENTIALS[provider]
    )
    key, client_id, secret = await make_client(client, admin_headers)
    world = World(api_key=key, client_id=client_id, webhook_secret=secret, sandbox_account_id="")
    payment, ipn = await _paid_but_lost(client, capture, world, provider, PROVINCE)
    other_payment, other_ipn = await _paid_but_lost(client, capture, world, provider, DEPARTMENT)
    assert ipn.path.endswith(mine["id"]) and other_ipn.path.endswith(other["id"])

    container = app.state.container
    async with container.db.session() as session:
        account = present(container, await session.get(ProviderAccount, mine["id"]))
    refused = adapter_for(provider).acknowledge(account, None, AckVerdict.invalid_signature)
    limit = container.settings.max_body_bytes
    nested = b'{"a":' * 20_000 + b"1" + b"}" * 20_000
    hostile: dict[str, Ipn] = {
        "duplicate parameters": _duplicated(ipn),
        "non-UTF-8 bytes": _non_utf8(ipn),
        "deeply nested JSON": Ipn("POST", ipn.path, "", nested, {"content-type": "application/json"}),
        "JSON that is not an object": Ipn(
            "POST", ipn.path, "", b"[1, 2, 3]", {"content-type": "application/json"}
        ),
        "XML": Ipn(
            "POST", ipn.path, "", b"<?xml version='1.0'?><a>1</a>", {"content-type": "application/xml"}
        ),
        "form": Ipn(
            "POST", ipn.path, "", b"a=1&a=2&b", {"content-type": "application/x-www-form-urlencoded"}
        ),
        "empty": Ipn(ipn.method, ipn.path, "", b"", {}),
        "signed by another account": Ipn(
            other_ipn.method, ipn.path, other_ipn.query, other_ipn.body, other_ipn.headers
        ),
    }
    for name, variant in hostile.items():
        stored_before, events_before = await _counts(app)
        r = await variant.send(client)
        assert r.status_code < 500, (name, r.status_code, r.text)
        assert (r.status_code, r.content) == (refused.status_code, refused.body), (name, r.text)
        stored_after, events_after = await _counts(app)
        assert (stored_after, events_after) == (stored_before + 1, events_before), name
        async with container.db.session() as session:
            last = await session.scalar(select(InboundCallback).order_by(InboundCallback.id.desc()).limit(1))
        assert last is not None and last.body == variant.body and last.verified is False, name
        assert await _status(client, world, payment["id"]) == "pending", name
        assert await _status(client, world, other_payment["id"]) == "pending", name

    # Over the size limit: refused before anything is read or stored.
    stored_before, _ = await _counts(app)
    r = await client.post(
        ipn.path, content=b"{" + b" " * limit + b"}", headers={"content-type": "application/json"}
    )
    assert r.status_code == 413 and r.headers["content-type"] == "application/problem+json"
    assert (await _counts(app))[0] == stored_before

    # The untouched originals were valid all along: each applies exactly once; replays change nothing.
    assert (await ipn.send(client)).status_code < 400
    assert await _status(client, world, payment["id"]) == "succeeded"
    assert await _status(client, world, other_payment["id"]) == "pending"
    for _ in range(3):
        assert (await ipn.send(client)).status_code < 500
    assert (await other_ipn.send(client)).status_code < 400
    async with container.db.session() as session:
        succeeded = await session.scalar(
            select(func.count()).select_from(Event).where(Event.type == "payment.succeeded")
        )
        verdicts = (
            await session.scalars(
                select(InboundCallback.verdict)
                .where(InboundCallback.verified.is_(True))
                .order_by(InboundCallback.id)
            )
        ).all()
        statuses = (await session.scalars(select(Payment.status).order_by(Payment.id))).all()
    assert succeeded == 2
    assert verdicts == ["accepted", "already_processed", "already_processed", "already_processed", "accepted"]
    assert sorted(statuses) == ["succeeded", "succeeded"]


async def test_oversized_chunked_body_without_length_is_refused(
    client: httpx.AsyncClient, app: FastAPI, admin_headers: dict[str, str]
) -> None:
    limit = app.state.container.settings.max_body_bytes

    async def chunks() -> Any:
        for _ in range(limit // 4096 + 2):
            yield b"x" * 4096

    r = await client.post("/v1/callbacks/sandbox/pa_any", content=chunks())
    assert r.status_code == 413
    assert r.json()["code"] == "payload_too_large" and r.headers["x-request-id"]
    async with app.state.container.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(InboundCallback)) == 0


async def test_signed_callback_with_a_nul_or_huge_reference_is_answered_not_a_500(
    client: httpx.AsyncClient, app: FastAPI, admin_headers: dict[str, str]
) -> None:
    from app.adapters.sandbox import sign
    from tests.factories import make_world

    world = await make_world(client, admin_headers)
    async with app.state.container.db.session() as session:
        row = await session.get(ProviderAccount, world.sandbox_account_id)
    creds = app.state.container.vault.decrypt_json(row.credentials_enc)
    for reference, amount in (("PB\x00" + "A" * 13, 50000), ("PB" + "A" * 5000, 50000), ("PBX", 10**30)):
        body = {
            "merchant_id": creds["merchant_id"],
            "reference": reference,
            "amount": amount,
            "status": "success",
        }
        raw = json.dumps(body, separators=(",", ":")).encode()
        for signature in (sign(creds["secret"], raw.decode()), "0" * 64):
            r = await client.post(
                f"/v1/callbacks/sandbox/{world.sandbox_account_id}",
                content=raw,
                headers={"Content-Type": "application/json", "X-Sandbox-Signature": signature},
            )
            assert 400 <= r.status_code < 500, r.text
    async with app.state.container.db.session() as session:
        rows = (await session.scalars(select(InboundCallback))).all()
        assert len(rows) == 6 and all(row.reference is None for row in rows)
        assert await session.scalar(select(func.count()).select_from(Event)) == 0


@pytest.mark.parametrize("path", ["/v1/callbacks/nosuchgateway/pa_1", "/v1/returns/%00/pa_1"])
async def test_unknown_gateway_is_a_problem_404(client: httpx.AsyncClient, path: str) -> None:
    r = await client.post(path, content=b"{}")
    assert r.status_code == 404 and r.json()["code"] == "unknown_gateway"


async def test_malformed_account_id_is_stored_and_answered_as_not_found(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    r = await client.post("/v1/callbacks/momo/" + "x" * 500, content=b'{"orderId": "\\u0000"}')
    assert r.status_code < 500
    async with app.state.container.db.session() as session:
        [row] = (await session.scalars(select(InboundCallback))).all()
    assert (row.provider_account_id, row.verdict) == ("malformed", "unknown_account")
