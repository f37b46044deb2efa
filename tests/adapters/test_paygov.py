"""PayGov adapter: checksums against hashes computed here by plain concatenation, callback and
return verification, receipts, and the simulator end to end."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest

from app.adapters.base import (
    Account,
    AckVerdict,
    AttemptRef,
    Capability,
    GatewayAdapter,
    GatewayLogicalError,
    GatewayTechnicalError,
    InboundRequest,
    NotSupported,
    Outcome,
    Payer,
)
from app.adapters.paygov.adapter import adapter
from tests.adapters.national_harness import SIM_BASE, NationalHarness, checkout_request
from tests.support import Clock

SECRET = "pg-secret-key"
REF = "PB01KAB3CDEFGH23"
T0 = datetime(2026, 11, 21, 3, 0, 0, tzinfo=UTC)
CREDS = {"partner_code": "HN001", "access_key": "AK-123", "secret_key": SECRET, "service_code": "DVC"}
ACCOUNT = Account(
    "acc_1",
    CREDS,
    {
        "endpoint": "https://paygov.test/create",
        "receipt_url": "https://paygov.test/receipt",
        "access_token": "jwt",
    }
    | {"lgsp_access_token": "lgsp"},
    "https://paybridge.test/v1/callbacks/paygov/acc_1",
    "https://paybridge.test/v1/returns/paygov/acc_1",
)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def client(answer: Callable[[httpx.Request], httpx.Response], seen: list[httpx.Request]) -> httpx.AsyncClient:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(request)

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


def callback(**changes: Any) -> dict[str, Any]:
    m: dict[str, Any] = {
        "amount": 50000,
        "orderId": REF,
        "orderInfo": "Le phi ho tich",
        "requestCode": "20261121100000" + REF,
        "transactionNo": "0012345678",
        "payDate": "20261121100512",
        "paygate": "NAPAS",
        "errorCode": "00",
        "type": "ATM",
        "transactionCode": "PGABC123",
    } | changes
    m["checksum"] = sha(
        SECRET + str(m["amount"]) + m["orderId"] + m["orderInfo"] + m["requestCode"] + m["transactionNo"]
        + m["payDate"] + m["paygate"] + m["errorCode"] + m["type"] + m["transactionCode"]
    )  # fmt: skip
    return m


def post(body: dict[str, Any]) -> InboundRequest:
    return InboundRequest("POST", "", {"content-type": "application/json"}, json.dumps(body).encode())


def test_contract_and_no_query() -> None:
    assert isinstance(adapter, GatewayAdapter)
    assert Capability.query not in adapter.capabilities and Capability.refund not in adapter.capabilities


async def test_create_checksum_is_plain_concatenation() -> None:
    seen: list[httpx.Request] = []
    answer = {"error_code": "00", "data": {"url": "https://paygov.test/pay/1"}}
    async with client(lambda r: httpx.Response(200, json=answer), seen) as http:
        result = await adapter.create_checkout(ACCOUNT, checkout_request(created_at=T0), http)
    sent = json.loads(seen[0].content)
    request_code = "20261121100000PB01KAB3CDEFGH23"
    assert sent["checksum"] == sha(
        "pg-secret-key" + "AK-123" + "HN001" + "PB01KAB3CDEFGH23" + request_code + "50000"
    )
    assert sent["orderInfo"] == "Le phi cap ban sao trich luc ho tich"  # no diacritics
    assert (sent["serviceCode"], sent["returnUrl"], sent["ipAddress"]) == (
        "DVC",
        ACCOUNT.return_url,
        "203.0.113.7",
    )
    assert seen[0].headers["authorization"] == "Bearer jwt" and seen[0].headers["lgspaccesstoken"] == "lgsp"
    assert result.checkout_url == "https://paygov.test/pay/1" and result.wire == {"requestCode": request_code}
    assert "AK-123" not in (result.raw_request or "") and SECRET not in (result.raw_request or "")


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"error_code": "02", "error_message": "Invalid checksum"}, GatewayLogicalError),
        ({"error_code": "00", "data": {}}, GatewayTechnicalError),
        ({"something": "else"}, GatewayTechnicalError),
    ],
)
async def test_create_refusals(body: dict[str, Any], error: type[Exception]) -> None:
    async with client(lambda r: httpx.Response(200, json=body), []) as http:
        with pytest.raises(error):
            await adapter.create_checkout(ACCOUNT, checkout_request(created_at=T0), http)


def test_callback_verified_mapped_and_tampering_rejected() -> None:
    note = adapter.parse_callback(ACCOUNT, post(callback()))
    assert note.verified and note.outcome is Outcome.succeeded
    assert (note.reference, note.amount, note.provider_transaction_id) == (REF, 50000, "PGABC123")
    assert note.paid_at == datetime(2026, 11, 21, 3, 5, 12, tzinfo=UTC)
    declined = adapter.parse_callback(ACCOUNT, post(callback(errorCode="51")))
    assert declined.verified and declined.outcome is Outcome.failed
    assert adapter.parse_callback(ACCOUNT, post(callback(amount="40000"))).amount == 40000
    assert not adapter.parse_callback(ACCOUNT, post(callback() | {"amount": 5000000})).verified
    assert not adapter.parse_callback(
        ACCOUNT, post(callback() | {"errorCode": "00", "checksum": "0" * 64})
    ).verified
    with pytest.raises(GatewayTechnicalError):
        adapter.parse_callback(ACCOUNT, InboundRequest("POST", "", {}, b"[1]"))


@pytest.mark.parametrize(
    ("verdict", "code"),
    [(AckVerdict.accepted, "SUCCESSFUL"), (AckVerdict.already_processed, "SUCCESSFUL")]
    + [(v, "FAILED") for v in (AckVerdict.invalid_signature, AckVerdict.not_found, AckVerdict.error)],
)
def test_acknowledge(verdict: AckVerdict, code: str) -> None:
    body = json.loads(adapter.acknowledge(ACCOUNT, None, verdict).body)
    assert body["error_code"] == code and isinstance(body["error_message"], str)


def test_return_uses_the_callback_verification() -> None:
    query = str(httpx.QueryParams(callback()))
    assert adapter.parse_return(ACCOUNT, InboundRequest("GET", query, {}, b"")).verified
    forged = str(httpx.QueryParams(callback() | {"errorCode": "24"}))
    assert not adapter.parse_return(ACCOUNT, InboundRequest("GET", forged, {}, b"")).verified


async def test_query_is_not_supported() -> None:
    with pytest.raises(NotSupported):
        await adapter.query(ACCOUNT, AttemptRef(REF, 50000, T0), httpx.AsyncClient())


async def test_receipt_request() -> None:
    seen: list[httpx.Request] = []
    answer = {"error_code": "00", "data": {"transactionReceipt": "https://paygov.test/r/1.pdf"}}
    async with client(lambda r: httpx.Response(200, json=answer), seen) as http:
        url = await adapter.request_receipt(
            ACCOUNT,
            transaction_codes=["PGABC123"],
            payer=Payer("Nguyễn Văn Ân", id_number="001099012345", address="Hà Nội"),
            doc_code="H26-0001",
            decision_date=date(2026, 11, 20),
            procedure_name="Cấp bản sao trích lục",
            other_info={"MaHoSo": "H26-0001"},
            http=http,
        )
    assert url == "https://paygov.test/r/1.pdf"
    sent = json.loads(seen[0].content)
    assert json.loads(base64.b64decode(sent["paids"])) == ["PGABC123"]
    assert json.loads(base64.b64decode(sent["otherInfo"])) == {"MaHoSo": "H26-0001"}
    assert sent["decisionDate"] == "20-11-2026"
    assert sent["checksum"] == sha(SECRET + "AK-123" + "HN001" + "001099012345" + "H26-0001" + sent["paids"])


# --- end to end through the simulator --------------------------------------------------------


@pytest.fixture
async def sim(clock: Clock) -> AsyncIterator[NationalHarness]:
    harness = NationalHarness("paygov", adapter, clock)
    yield harness
    await harness.aclose()


async def test_end_to_end(sim: NationalHarness, clock: Clock) -> None:
    account = sim.add_account(CREDS)
    result = await adapter.create_checkout(account, checkout_request(created_at=T0), sim.http)
    assert (result.checkout_url or "").startswith(f"{SIM_BASE}/paygov/pay/")
    page = await sim.http.get(result.checkout_url or "")
    assert page.status_code == 200 and "50.000" in page.text
    clock.advance(minutes=3)
    done = await sim.http.post(result.checkout_url or "", data={"outcome": "success"})
    assert done.status_code == 303

    [captured] = sim.callbacks
    note = captured.notification
    assert note is not None and note.verified and note.outcome is Outcome.succeeded
    assert (note.reference, note.amount, note.paid_at) == (
        REF,
        50000,
        datetime(2026, 11, 21, 3, 3, tzinfo=UTC),
    )
    assert (
        json.loads(sim.ctx.store("paygov")["orders"][REF]["callbacks"][0]["body"])["error_code"]
        == "SUCCESSFUL"
    )

    location = httpx.URL(done.headers["location"])
    assert str(location).startswith(account.return_url)
    back = adapter.parse_return(account, InboundRequest("GET", location.query.decode(), {}, b""))
    assert back.verified and back.outcome is Outcome.succeeded

    url = await adapter.request_receipt(
        account,
        transaction_codes=[note.provider_transaction_id or ""],
        payer=Payer("Nguyễn Văn Ân"),
        doc_code="H26-0001",
        decision_date=date(2026, 11, 21),
        procedure_name="Cap ban sao",
        http=sim.http,
    )
    assert (await sim.http.get(url)).content.startswith(b"%PDF-")
    with pytest.raises(GatewayLogicalError):
        await adapter.request_receipt(
            account,
            transaction_codes=["PGUNKNOWN"],
            payer=Payer("X"),
            doc_code="H26-0001",
            decision_date=date(2026, 11, 21),
            procedure_name="x",
            http=sim.http,
        )
    tampered = json.loads(captured.request.body) | {"amount": 1000}
    assert not adapter.parse_callback(account, post(tampered)).verified


async def test_end_to_end_cancel_and_bad_checksum(sim: NationalHarness) -> None:
    account = sim.add_account(CREDS)
    result = await adapter.create_checkout(account, checkout_request(created_at=T0), sim.http)
    await sim.http.post(result.checkout_url or "", data={"outcome": "cancelled"})
    note = sim.callbacks[0].notification
    assert note is not None and note.verified and note.outcome is Outcome.failed and note.code == "24"
    wrong = Account("x", CREDS | {"secret_key": "nope"}, account.settings, "", account.return_url)
    with pytest.raises(GatewayLogicalError) as caught:
        await adapter.create_checkout(wrong, checkout_request("PB01KAB3CDEFGH24", created_at=T0), sim.http)
    assert caught.value.code == "02"
