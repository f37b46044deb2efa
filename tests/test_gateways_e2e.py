"""Every gateway end to end through the app: create → the gateway's own page (its simulator,
mounted in sandbox mode) → pay → its signed callback → `succeeded` → event and outbox row."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from app.adapters.base import Capability
from app.adapters.registry import SPECS
from app.models import Event, InboundCallback, WebhookDelivery
from app.services.notifications.webhooks import dispatch_due
from tests.factories import PROVINCE, create, ensure_agencies, make_account, make_client
from tests.factories import World as _World
from tests.support import Clock, RoutingTransport

# The e2e table is the registry: every gateway whose checkout is a page runs the full flow against
# its own simulator with the credentials its spec declares; a QR-only gateway (no page to pay on)
# has its own tests below, named in QR_FLOW_TESTS. tests/adapters/test_registry.py fails when a
# registered gateway is covered by neither.
PAGE_FLOW: tuple[str, ...] = tuple(
    spec.name for spec in SPECS if Capability.redirect in spec.adapter.capabilities
)
QR_FLOW_TESTS: dict[str, tuple[str, ...]] = {
    "vietqr": (
        "test_vietqr_payload_and_bank_credit",
        "test_vietqr_bank_credits_matched_duplicated_short_and_unmatched",
    ),
}
EXAMPLE_CREDENTIALS: dict[str, dict[str, Any]] = {spec.name: dict(spec.example_credentials) for spec in SPECS}
# The page-flow gateways whose merchant holds credentials of its own (other test modules
# parametrize over these; the sandbox generates its own).
CREDENTIALS: dict[str, dict[str, Any]] = {
    name: EXAMPLE_CREDENTIALS[name] for name in PAGE_FLOW if EXAMPLE_CREDENTIALS[name]
}


async def _world(
    client: httpx.AsyncClient, admin: dict[str, str], provider: str
) -> tuple[_World, dict[str, Any]]:
    await ensure_agencies(client, admin)
    account = await make_account(client, admin, provider, credentials=EXAMPLE_CREDENTIALS[provider])
    key, client_id, secret = await make_client(
        client, admin, webhook_url="https://portal.example.gov.vn/hooks"
    )
    return _World(api_key=key, client_id=client_id, webhook_secret=secret, sandbox_account_id=""), account


@pytest.mark.parametrize("provider", PAGE_FLOW)
async def test_pay_end_to_end_against_the_simulator(
    client: httpx.AsyncClient,
    app: FastAPI,
    admin_headers: dict[str, str],
    provider: str,
    outbound: RoutingTransport,
    clock: Clock,
) -> None:
    world, account = await _world(client, admin_headers, provider)
    assert account["callback_url"] == f"http://paybridge.test/v1/callbacks/{provider}/{account['id']}"
    r = await create(client, world, provider=provider)
    assert r.status_code == 201, r.text
    payment = r.json()
    attempt = payment["attempts"][0]
    assert attempt["status"] == "pending", attempt
    checkout = payment["checkout_url"]
    assert checkout and checkout.startswith(f"http://paybridge.test/sandbox/{provider}/"), checkout

    page = await client.get(checkout)
    assert page.status_code == 200, page.text
    assert "50.000" in page.text or "50,000" in page.text or "50000" in page.text
    done = await client.post(checkout, data={"outcome": "success"})
    assert done.status_code in (302, 303), done.text

    got = (await client.get(f"/v1/payments/{payment['id']}", headers=world.headers)).json()
    assert got["status"] == "succeeded", got
    assert got["attempts"][0]["status"] == "succeeded"
    async with app.state.container.db.session() as session:
        events = (await session.scalars(select(Event).where(Event.payment_id == payment["id"]))).all()
        assert [e.type for e in events] == ["payment.succeeded"]
        delivery = await session.scalar(
            select(WebhookDelivery).where(WebhookDelivery.event_id == events[0].id)
        )
        assert delivery is not None
        [ipn] = (await session.scalars(select(InboundCallback).where(InboundCallback.kind == "ipn"))).all()
        assert ipn.verified is True and ipn.verdict == "accepted"

    # The portal hears about it: one signed webhook, verifiable with the standardwebhooks library.
    received: list[httpx.Request] = []

    def portal(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(204)

    outbound.handle("https://portal.example.gov.vn", portal)
    clock.now = datetime.now(UTC)  # the library checks the signature's timestamp against real time
    await dispatch_due(app.state.container)
    [hook] = received
    event = Webhook(world.webhook_secret).verify(hook.content, dict(hook.headers))
    assert event["type"] == "payment.succeeded" and event["data"]["id"] == payment["id"]
    assert hook.headers["webhook-id"] == events[0].id

    # The gateway repeats its callback: nothing changes, and it is told so in its own format.
    replay = await client.request(
        ipn.method,
        f"/v1/callbacks/{provider}/{account['id']}" + (f"?{ipn.query_string}" if ipn.query_string else ""),
        content=ipn.body,
        headers={k: v for k, v in ipn.headers.items() if k != "content-length"},
    )
    assert replay.status_code < 500
    async with app.state.container.db.session() as session:
        verdicts = (
            await session.scalars(select(InboundCallback.verdict).where(InboundCallback.kind == "ipn"))
        ).all()
        count = len((await session.scalars(select(Event.id).where(Event.payment_id == payment["id"]))).all())
    assert verdicts == ["accepted", "already_processed"]
    assert count == 1

    # The browser comes back through our return URL to the hosted result page.
    back = await client.get(done.headers["location"])
    assert back.status_code == 303, back.text
    assert back.headers["location"].endswith("/result")
    result = await client.get(back.headers["location"])
    assert 'data-status="succeeded"' in result.text


@pytest.mark.parametrize("provider", PAGE_FLOW)
async def test_tampered_callback_changes_nothing(
    client: httpx.AsyncClient, app: FastAPI, admin_headers: dict[str, str], provider: str
) -> None:
    world, account = await _world(client, admin_headers, provider)
    payment = (await create(client, world, provider=provider)).json()
    checkout = payment["checkout_url"]
    await client.get(checkout)
    # Capture the real callback, then replay it tampered (amount digits changed) on a fresh payment.
    await client.post(checkout, data={"outcome": "success"})
    async with app.state.container.db.session() as session:
        ipn = (await session.scalars(select(InboundCallback).where(InboundCallback.kind == "ipn"))).one()
    fresh = (await create(client, world, provider=provider)).json()
    ref_old = payment["attempts"][0]["reference"]
    ref_new = fresh["attempts"][0]["reference"]
    body = ipn.body.replace(ref_old.encode(), ref_new.encode())
    query = ipn.query_string.replace(ref_old, ref_new)
    r = await client.request(
        ipn.method,
        f"/v1/callbacks/{provider}/{account['id']}" + (f"?{query}" if query else ""),
        content=body,
        headers={k: v for k, v in ipn.headers.items() if k != "content-length"},
    )
    assert r.status_code < 500
    got = (await client.get(f"/v1/payments/{fresh['id']}", headers=world.headers)).json()
    assert got["status"] == "pending"
    async with app.state.container.db.session() as session:
        last = (
            await session.scalars(select(InboundCallback).order_by(InboundCallback.id.desc()).limit(1))
        ).one()
    assert last.verified is False and last.verdict == "invalid_signature"


async def test_vietqr_payload_and_bank_credit(
    client: httpx.AsyncClient, app: FastAPI, admin_headers: dict[str, str]
) -> None:
    from app.adapters.emvco import parse_vietqr

    await ensure_agencies(client, admin_headers)
    account = await make_account(
        client, admin_headers, "vietqr", agency_code=PROVINCE, credentials=EXAMPLE_CREDENTIALS["vietqr"]
    )
    key, client_id, secret = await make_client(client, admin_headers)
    world = _World(api_key=key, client_id=client_id, webhook_secret=secret, sandbox_account_id="")
    payment = (await create(client, world, provider="vietqr")).json()
    qr = payment["qr_payload"]
    assert qr, payment
    parsed = parse_vietqr(qr)
    assert parsed is not None
    assert payment["attempts"][0]["reference"] in qr
    assert qr.isascii()
    assert account["callback_url"].endswith(account["id"])


async def test_vietqr_bank_credits_matched_duplicated_short_and_unmatched(
    client: httpx.AsyncClient, app: FastAPI, admin_headers: dict[str, str]
) -> None:
    await ensure_agencies(client, admin_headers)
    creds = {
        "bank_bin": "970436",
        "account_number": "0011009999999",
        "account_name": "KHO BAC DEMO",
        "notify_secret": "n0tify-secret-0123456789",
    }
    await make_account(client, admin_headers, "vietqr", agency_code=PROVINCE, credentials=creds)
    key, client_id, secret = await make_client(client, admin_headers)
    world = _World(api_key=key, client_id=client_id, webhook_secret=secret, sandbox_account_id="")

    async def transfer(amount: int, description: str) -> dict[str, Any]:
        r = await client.post(
            "/sandbox/vietqr/transfer",
            json={
                "bank_bin": "970436",
                "account_number": "0011009999999",
                "amount": amount,
                "description": description,
            },
        )
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()
        assert data["notified_status"] == 200, data
        return data

    paid = (await create(client, world, provider="vietqr")).json()
    ref = paid["attempts"][0]["reference"]
    # The citizen's banking app lower-cases and spaces the reference, with words around it.
    spaced = " ".join([ref[:6].lower(), ref[6:11], ref[11:]])
    await transfer(50000, f"Chuyển tiền lệ phí {spaced} nguyen van a")
    got = (await client.get(f"/v1/payments/{paid['id']}", headers=world.headers)).json()
    assert got["status"] == "succeeded", got

    # The same reference paid a second time (a second transfer): kept, flagged, told to the portal.
    await transfer(50000, f"{ref} lan 2")
    # A short transfer for another bill, and one with no reference at all.
    short = (await create(client, world, provider="vietqr")).json()
    await transfer(20000, short["attempts"][0]["reference"])
    await transfer(70000, "ung ho quy")
    assert (await client.get(f"/v1/payments/{short['id']}", headers=world.headers)).json()[
        "status"
    ] == "pending"

    listed = (await client.get("/admin/v1/unmatched-credits", headers=admin_headers)).json()["data"]
    reasons = sorted(item["reason"] for item in listed)
    assert reasons == ["amount_mismatch", "not_found", "second_payment"]
    async with app.state.container.db.session() as session:
        types = sorted(
            (await session.scalars(select(Event.type).where(Event.payment_id == paid["id"]))).all()
        )
    assert types == ["payment.duplicate_paid", "payment.succeeded"]

    first = listed[0]["id"]
    done = await client.post(
        f"/admin/v1/unmatched-credits/{first}/resolve",
        json={"note": "returned to payer"},
        headers=admin_headers,
    )
    assert done.status_code == 200 and done.json()["resolution_note"] == "returned to payer"
    again = await client.post(
        f"/admin/v1/unmatched-credits/{first}/resolve", json={"note": "x"}, headers=admin_headers
    )
    assert again.status_code == 409
    remaining = (await client.get("/admin/v1/unmatched-credits", headers=admin_headers)).json()["data"]
    assert len(remaining) == 2


async def test_dvcqg_bill_lookup_pull_model(
    client: httpx.AsyncClient, app: FastAPI, admin_headers: dict[str, str]
) -> None:
    import app.adapters.dvcqg.adapter as dvcqg

    world, account = await _world(client, admin_headers, "dvcqg")
    secret = CREDENTIALS["dvcqg"]["secret"]
    url = f"/v1/dvcqg/{account['id']}/bill-lookup"

    def lookup(dossier: str, *, key: str = secret) -> dict[str, Any]:
        msg: dict[str, Any] = {
            "LoaiBanTin": "TRACUU",
            "PhienBan": "1.0.6",
            "MaDoiTac": CREDENTIALS["dvcqg"]["partner_code"],
            "MaHoSo": dossier,
            "ThoiGianGD": "20261121100000",
        }
        msg["MaXacThuc"] = dvcqg.checksum(msg, dvcqg.LOOKUP_FIELDS, key)
        return msg

    unpaid = (await create(client, world, dossier_code="HS-PULL-1")).json()
    r = await client.post(url, json=lookup("HS-PULL-1"))
    assert r.status_code == 200 and r.json()["error_code"] == "0", r.text
    inner = orjson.loads(r.json()["message"])
    assert inner["MaHoSo"] == "HS-PULL-1" and inner["SoTien"] == 50000
    assert inner["ThongTinBienLai"]["MaHoSo"] == "HS-PULL-1"
    assert inner["MaXacThuc"] == dvcqg.checksum(inner, dvcqg.LOOKUP_ANSWER_FIELDS, secret)
    # The platform pays against that reference: it is one of our attempts now, reused on a second lookup.
    again = orjson.loads((await client.post(url, json=lookup("HS-PULL-1"))).json()["message"])
    assert again["MaThamChieu"] == inner["MaThamChieu"]
    got = (await client.get(f"/v1/payments/{unpaid['id']}", headers=world.headers)).json()
    assert [a["reference"] for a in got["attempts"]] == [inner["MaThamChieu"]]

    # Unknown and already-paid dossiers are answered distinctly; a bad checksum changes nothing.
    assert (await client.post(url, json=lookup("HS-NOPE"))).json()["error_code"] == "-1"
    paid = (await create(client, world, dossier_code="HS-PULL-2")).json()
    await client.post(
        f"/v1/payments/{paid['id']}/offline",
        json={"method": "cash", "paid_at": "2026-11-21T09:00:00+07:00"},
        headers=world.headers,
    )
    assert (await client.post(url, json=lookup("HS-PULL-2"))).json()["error_code"] == "-2"
    forged = await client.post(url, json=lookup("HS-PULL-1", key="wrong"))
    assert forged.status_code == 401 and forged.json()["error_code"] == "97"
    async with app.state.container.db.session() as session:
        verdicts = (
            await session.scalars(
                select(InboundCallback.verdict)
                .where(InboundCallback.kind == "lookup")
                .order_by(InboundCallback.id)
            )
        ).all()
    assert verdicts == ["bill_found", "bill_found", "not_found", "already_paid", "invalid_signature"]
