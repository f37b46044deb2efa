"""MoMo adapter and simulator: vectors, traps, mapping table, round trips, the full loop."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.adapters.base import (
    Account,
    AckVerdict,
    AttemptRef,
    CredentialsError,
    GatewayAdapter,
    GatewayLogicalError,
    GatewayTechnicalError,
    InboundRequest,
    Outcome,
    RefundRequest,
    RefundStatus,
)
from app.adapters.momo.adapter import (
    IPN_FIELDS,
    RESULT_OUTCOMES,
    adapter,
    build_create_body,
    raw_signature,
    refund_order_id,
    sign,
)
from tests.adapters.momo_zalo_harness import (
    SIM_ORIGIN,
    SimHarness,
    browser_return,
    checkout_request,
    inbound,
    make_account,
)
from tests.support import Clock

# vectors.json: provider "momo", operation "create_captureWallet" (copied, never read at run time).
VECTOR: dict[str, Any] = {
    "inputs": {
        "accessKey": "F8BBA842ECF85",
        "amount": "50000",
        "extraData": "",
        "ipnUrl": "https://callback.url/notify",
        "orderId": "MOMO1716000000000",
        "orderInfo": "pay with MoMo",
        "partnerCode": "MOMO",
        "redirectUrl": "https://momo.vn/return",
        "requestId": "1716000000",
        "requestType": "captureWallet",
    },
    "secret": "K951B6PE1waDMi640xX08PD3vg6EkVlz",
    "rawSignature": "accessKey=F8BBA842ECF85&amount=50000&extraData=&ipnUrl=https://callback.url/notify"
    "&orderId=MOMO1716000000000&orderInfo=pay with MoMo&partnerCode=MOMO&redirectUrl=https://momo.vn/return"
    "&requestId=1716000000&requestType=captureWallet",
    "signature": "e3c9751bb802f0d5d5b257824abf61af0898dd4c1cbbff243dfd5c1ebe43a0fe",
    "request_body": {
        "partnerCode": "MOMO",
        "partnerName": "Test",
        "storeId": "MomoTestStore",
        "requestId": "1716000000",
        "amount": "50000",
        "orderId": "MOMO1716000000000",
        "orderInfo": "pay with MoMo",
        "redirectUrl": "https://momo.vn/return",
        "ipnUrl": "https://callback.url/notify",
        "lang": "vi",
        "extraData": "",
        "requestType": "captureWallet",
        "signature": "e3c9751bb802f0d5d5b257824abf61af0898dd4c1cbbff243dfd5c1ebe43a0fe",
    },
}
CREDS = {
    "partner_code": "MOMO",
    "access_key": "F8BBA842ECF85",
    "secret_key": "K951B6PE1waDMi640xX08PD3vg6EkVlz",
}
VN_TEXT = "aăâđêôơưàảãáạằẳẵắặầẩẫấậèẻẽéẹềểễếệìỉĩíịòỏõóọồổỗốộờởỡớợùủũúụừửữứựỳỷỹýỵĐÂ ~*!'()&=+%#?/:"


def hmac_hex(secret: str, text: str) -> str:
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


@pytest.fixture
def account() -> Account:
    return make_account(adapter, CREDS)


@pytest.fixture
async def sim(account: Account, clock: Clock) -> AsyncIterator[SimHarness]:
    harness = SimHarness("momo", adapter, account, "partner_code", clock)
    yield harness
    await harness.aclose()


def signed_ipn(account: Account, **overrides: Any) -> dict[str, Any]:
    ipn: dict[str, Any] = {
        "partnerCode": account.credentials["partner_code"],
        "orderId": "PB7K2M9Q4X1Z8C3V",
        "requestId": "PB7K2M9Q4X1Z8C3V",
        "amount": 50000,
        "orderInfo": "Lệ phí hộ tịch",
        "orderType": "momo_wallet",
        "transId": 4100000001,
        "resultCode": 0,
        "message": "Successful.",
        "payType": "qr",
        "responseTime": 1795230000000,
        "extraData": "",
    }
    ipn.update(overrides)
    ipn["signature"] = sign(
        account.credentials["secret_key"], {**ipn, "accessKey": CREDS["access_key"]}, IPN_FIELDS
    )
    return ipn


def ipn_request(body: dict[str, Any]) -> InboundRequest:
    return InboundRequest("POST", "", {"content-type": "application/json"}, json.dumps(body).encode())


def mock_client(handler: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


# --- vectors -------------------------------------------------------------------------------


def test_vector_create_capture_wallet_raw_signature_and_body() -> None:
    inputs = VECTOR["inputs"]
    body, raw = build_create_body(
        {
            "partner_code": inputs["partnerCode"],
            "access_key": inputs["accessKey"],
            "secret_key": VECTOR["secret"],
        },
        request_id=inputs["requestId"],
        order_id=inputs["orderId"],
        amount=int(inputs["amount"]),
        order_info=inputs["orderInfo"],
        redirect_url=inputs["redirectUrl"],
        ipn_url=inputs["ipnUrl"],
        request_type=inputs["requestType"],
        extra_data=inputs["extraData"],
        partner_name="Test",
        store_id="MomoTestStore",
    )
    assert raw == VECTOR["rawSignature"]
    assert body["signature"] == VECTOR["signature"]
    assert body == VECTOR["request_body"]
    assert list(body) == list(VECTOR["request_body"])  # field order as in MoMo's sample


def test_adapter_satisfies_the_contract() -> None:
    assert isinstance(adapter, GatewayAdapter)
    assert adapter.name == "momo"
    assert adapter.default_settings(None)["endpoint"] == "https://test-payment.momo.vn"
    assert adapter.default_settings("http://x/sandbox/momo")["endpoint"] == "http://x/sandbox/momo"


def test_validate_account_names_each_bad_field() -> None:
    with pytest.raises(CredentialsError) as exc:
        adapter.validate_account(
            {"partner_code": "MOMO"}, {"endpoint": "ftp://x", "request_type": "payWithCC"}
        )
    assert set(exc.value.errors) == {
        "credentials.access_key",
        "credentials.secret_key",
    }
    with pytest.raises(CredentialsError) as exc2:
        adapter.validate_account(CREDS, {"endpoint": "ftp://x", "request_type": "payWithCC"})
    assert set(exc2.value.errors) == {"settings.endpoint", "settings.request_type"}
    _, normalised = adapter.validate_account(CREDS, {"endpoint": "https://test-payment.momo.vn/"})
    assert normalised == {"endpoint": "https://test-payment.momo.vn", "request_type": "captureWallet"}


# --- traps (GATEWAYS.md) -------------------------------------------------------------------


def test_trap_momo_raw_values_not_urlencoded() -> None:
    values = {**VECTOR["inputs"], "orderInfo": "Lệ phí & phí = 100%", "redirectUrl": "https://a.vn/r?x=1&y=2"}
    raw = raw_signature(values, ("orderInfo", "redirectUrl"))
    assert raw == "orderInfo=Lệ phí & phí = 100%&redirectUrl=https://a.vn/r?x=1&y=2"
    assert sign("k", values, ("orderInfo",)) == hmac_hex("k", "orderInfo=Lệ phí & phí = 100%")
    assert sign("k", values, ("orderInfo",)) != hmac_hex("k", "orderInfo=L%E1%BB%87+ph%C3%AD+%26+ph%C3%AD")


def test_trap_momo_empty_values_kept() -> None:
    raw = raw_signature(VECTOR["inputs"], ("amount", "extraData", "ipnUrl"))
    assert raw == "amount=50000&extraData=&ipnUrl=https://callback.url/notify"
    dropped = hmac_hex(VECTOR["secret"], "amount=50000&ipnUrl=https://callback.url/notify")
    assert sign(VECTOR["secret"], VECTOR["inputs"], ("amount", "extraData", "ipnUrl")) != dropped


def test_trap_momo_access_key_inside_signature(account: Account) -> None:
    assert VECTOR["rawSignature"].startswith("accessKey=F8BBA842ECF85&")
    other = {**VECTOR["inputs"], "accessKey": "OTHERKEY"}
    assert sign(VECTOR["secret"], other, IPN_FIELDS[:2]) != sign(
        VECTOR["secret"], VECTOR["inputs"], IPN_FIELDS[:2]
    )
    # An IPN signed with a different accessKey (same secret) is rejected.
    body = signed_ipn(account)
    wrong = {**body, "accessKey": "OTHERKEY"}
    body["signature"] = sign(CREDS["secret_key"], wrong, IPN_FIELDS)
    assert adapter.parse_callback(account, ipn_request(body)).verified is False


async def test_trap_momo_amount_limits(account: Account, sim: SimHarness) -> None:
    for amount in (999, 50_000_001, 0, -1000):
        with pytest.raises(GatewayLogicalError) as exc:
            await adapter.create_checkout(account, checkout_request(amount=amount), sim.client)
        assert exc.value.code == "amount_out_of_range"
    assert sim.transport.requests == []  # refused before any call
    for i, amount in enumerate((1_000, 50_000_000)):
        result = await adapter.create_checkout(
            account, checkout_request(f"PB00000000000{i:03d}", amount), sim.client
        )
        assert result.checkout_url
    # The simulator enforces the same range as MoMo (resultCode 22) for a correctly signed body.
    body, _ = build_create_body(
        CREDS, request_id="R1", order_id="O1", amount=999, order_info="x",
        redirect_url="https://a/r", ipn_url="https://a/i",
    )  # fmt: skip
    answer = await sim.client.post(f"{SIM_ORIGIN}/sandbox/momo/v2/gateway/api/create", json=body)
    assert answer.json()["resultCode"] == 22


def test_trap_momo_refund_uses_a_new_order_id() -> None:
    assert refund_order_id("RF-2026-0001", "PB7K2M9Q4X1Z8C3V") == "RFRF20260001"
    assert refund_order_id("abc", "x") == refund_order_id("abc", "x")  # deterministic → idempotent retry
    with pytest.raises(GatewayLogicalError):
        refund_order_id("---", "RF")


def test_trap_momo_ipn_answer_is_204_without_body(account: Account) -> None:
    replies = {v: adapter.acknowledge(account, None, v) for v in AckVerdict}
    for verdict in (
        AckVerdict.accepted,
        AckVerdict.already_processed,
        AckVerdict.not_found,
        AckVerdict.amount_mismatch,
    ):
        assert (replies[verdict].status_code, replies[verdict].body) == (204, b"")
    assert replies[AckVerdict.invalid_signature].status_code == 400
    assert replies[AckVerdict.error].status_code == 503  # not 204: MoMo may deliver again


# --- result codes ---------------------------------------------------------------------------

MAPPING = [
    (0, Outcome.succeeded), (9000, Outcome.succeeded), (1000, Outcome.pending), (7000, Outcome.pending),
    (7002, Outcome.pending), (1001, Outcome.failed), (1002, Outcome.failed), (1004, Outcome.failed),
    (1007, Outcome.failed), (1026, Outcome.failed), (4001, Outcome.failed), (4002, Outcome.failed),
    (4100, Outcome.failed), (1003, Outcome.cancelled), (1006, Outcome.cancelled), (1017, Outcome.cancelled),
    (1005, Outcome.expired), (99, Outcome.unknown), (12345, Outcome.unknown), (8000, Outcome.unknown),
    (13, Outcome.unknown),
]  # fmt: skip


def test_mapping_table_is_fully_tested() -> None:
    assert set(RESULT_OUTCOMES) <= {code for code, _ in MAPPING}


@pytest.mark.parametrize(("code", "outcome"), MAPPING)
def test_ipn_result_code_mapping(account: Account, code: int, outcome: Outcome) -> None:
    note = adapter.parse_callback(account, ipn_request(signed_ipn(account, resultCode=code)))
    assert note.verified and note.outcome is outcome and note.code == str(code)
    assert note.reference == "PB7K2M9Q4X1Z8C3V" and note.amount == 50000
    assert note.provider_transaction_id == "4100000001"
    assert (note.paid_at is not None) is (outcome is Outcome.succeeded)


@pytest.mark.parametrize(("code", "outcome"), MAPPING)
async def test_query_result_code_mapping(account: Account, code: int, outcome: Outcome) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        sent = json.loads(request.content)
        answer = {"partnerCode": "MOMO", "orderId": sent["orderId"], "resultCode": code, "amount": 50000}
        return httpx.Response(200, json={**answer, "transId": 7, "responseTime": 1})

    attempt = AttemptRef(
        "PB7K2M9Q4X1Z8C3V", 50000, checkout_request().created_at, {"orderId": "PB7K2M9Q4X1Z8C3V"}
    )
    if code == 13:
        with pytest.raises(GatewayLogicalError):
            await adapter.query(account, attempt, mock_client(handler))
        return
    result = await adapter.query(account, attempt, mock_client(handler))
    assert result.outcome is outcome and result.code == str(code)


def test_unverified_ipn_is_not_trusted(account: Account) -> None:
    body = signed_ipn(account)
    assert adapter.parse_callback(account, ipn_request({**body, "partnerCode": "OTHER"})).verified is False
    no_sig = {k: v for k, v in body.items() if k != "signature"}
    assert adapter.parse_callback(account, ipn_request(no_sig)).verified is False
    with pytest.raises(GatewayTechnicalError):
        adapter.parse_callback(account, InboundRequest("POST", "", {}, b"<xml/>"))


# --- hypothesis round trips -----------------------------------------------------------------

texts = st.text(alphabet=st.sampled_from(VN_TEXT), max_size=60)


@settings(max_examples=60, deadline=None)
@given(
    order_info=texts,
    extra=st.sampled_from(["", "eyJ1c2VybmFtZSI6ICJtb21vIn0="]),
    amount=st.integers(1_000, 50_000_000),
    message=texts,
    field=st.sampled_from([f for f in IPN_FIELDS if f != "accessKey"] + ["signature"]),
)
def test_sign_verify_round_trip_and_any_tamper_rejected(
    order_info: str, extra: str, amount: int, message: str, field: str
) -> None:
    account = make_account(adapter, CREDS)
    body = signed_ipn(account, orderInfo=order_info, extraData=extra, amount=amount, message=message)
    assert adapter.parse_callback(account, ipn_request(body)).verified
    # The browser return carries the same fields as a (URL-encoded) query string.
    assert adapter.parse_return(account, InboundRequest("GET", urlencode(body), {}, b"")).verified
    value = body[field]
    body[field] = value + 1 if isinstance(value, int) else value + "x"
    assert adapter.parse_callback(account, ipn_request(body)).verified is False
    assert adapter.parse_return(account, InboundRequest("GET", urlencode(body), {}, b"")).verified is False


# --- network failures and the simulator's own verification -----------------------------------


@pytest.mark.parametrize(
    "failure",
    [
        lambda r: (_ for _ in ()).throw(httpx.ReadTimeout("slow", request=r)),
        lambda r: (_ for _ in ()).throw(httpx.ConnectError("down", request=r)),
        lambda r: httpx.Response(502, text="bad gateway"),
        lambda r: httpx.Response(200, text="<html>maintenance</html>"),
        lambda r: httpx.Response(200, json=["not", "an", "object"]),
        lambda r: httpx.Response(200, json={"message": "no resultCode"}),
    ],
)
async def test_technical_failures(account: Account, failure: Any) -> None:
    http = mock_client(failure)
    attempt = AttemptRef("PB7K2M9Q4X1Z8C3V", 50000, checkout_request().created_at, {}, "4100000001")
    refund = RefundRequest("RF1", attempt, 50000, True, "trả lại", checkout_request().created_at)
    with pytest.raises(GatewayTechnicalError):
        await adapter.create_checkout(account, checkout_request(), http)
    with pytest.raises(GatewayTechnicalError):
        await adapter.query(account, attempt, http)
    with pytest.raises(GatewayTechnicalError):
        await adapter.refund(account, refund, http)
    with pytest.raises(GatewayTechnicalError):
        await adapter.query_refund(account, refund, {}, http)


CREATE_ERRORS = [(7000, GatewayTechnicalError), (99, GatewayTechnicalError), (41, GatewayLogicalError)]


@pytest.mark.parametrize(
    ("code", "error"), [*CREATE_ERRORS, (22, GatewayLogicalError), (10, GatewayTechnicalError)]
)
async def test_create_result_codes(account: Account, code: int, error: type[Exception]) -> None:
    http = mock_client(lambda r: httpx.Response(400, json={"resultCode": code, "message": "no"}))
    with pytest.raises(error):
        await adapter.create_checkout(account, checkout_request(), http)


async def test_create_with_bad_signature_is_rejected_by_the_simulator(
    account: Account, sim: SimHarness
) -> None:
    forged = make_account(adapter, {**CREDS, "secret_key": "not-the-secret"})
    with pytest.raises(GatewayLogicalError) as exc:
        await adapter.create_checkout(forged, checkout_request(), sim.client)
    assert exc.value.code == "13"
    wrong_access = make_account(adapter, {**CREDS, "access_key": "WRONG"})
    with pytest.raises(GatewayLogicalError):
        await adapter.create_checkout(wrong_access, checkout_request(), sim.client)
    assert sim.ctx.store("momo")["orders"] == {}


# --- the full loop --------------------------------------------------------------------------


async def pay(sim: SimHarness, url: str, outcome: str) -> httpx.Response:
    page = await sim.client.get(url)
    assert page.status_code == 200 and 'value="success"' in page.text and "<script" not in page.text
    return await sim.client.post(url, data={"outcome": outcome})


async def test_full_loop_pay_callback_query_refund(account: Account, sim: SimHarness) -> None:
    request = checkout_request(description="Lệ phí <b>hộ tịch</b> & phí")
    result = await adapter.create_checkout(account, request, sim.client)
    assert result.wire == {
        "requestId": request.reference,
        "orderId": request.reference,
        "requestType": "captureWallet",
    }
    sent = json.loads(sim.transport.requests[0].content)
    assert sent["ipnUrl"] == account.callback_url and sent["redirectUrl"] == account.return_url
    assert sent["amount"] == "50000" and sent["orderId"] == request.reference
    page = (await sim.client.get(result.checkout_url or "")).text
    # Markup never reaches MoMo: orderInfo is sent as words (Vietnamese kept), the page shows text.
    assert "<b>" not in sent["orderInfo"] and "b hộ tịch" in page and "<b>hộ tịch" not in page

    redirect = await pay(sim, result.checkout_url or "", "success")
    assert redirect.status_code == 303
    assert len(sim.received) == 1
    note = adapter.parse_callback(account, inbound(sim.received[0]))
    assert note.verified and note.outcome is Outcome.succeeded and note.reference == request.reference
    assert note.amount == 50000 and note.provider_transaction_id
    order = next(iter(sim.ctx.store("momo")["orders"].values()))
    assert order["ipn"] == [{"status": 204, "body": ""}]
    back = adapter.parse_return(account, browser_return(redirect.headers["location"]))
    assert back.verified and back.outcome is Outcome.succeeded

    attempt = AttemptRef(
        request.reference, 50000, request.created_at, result.wire, note.provider_transaction_id
    )
    status = await adapter.query(account, attempt, sim.client)
    assert status.outcome is Outcome.succeeded and status.amount == 50000
    assert status.provider_transaction_id == note.provider_transaction_id

    refund = RefundRequest("RFD0001", attempt, 20000, False, "Hoàn phí nộp thừa", request.created_at)
    done = await adapter.refund(account, refund, sim.client)
    assert done.status is RefundStatus.succeeded and done.wire["orderId"] == "RFRFD0001"
    again = await adapter.refund(account, refund, sim.client)  # retried: replayed, not refunded twice
    assert again.status is RefundStatus.succeeded and again.provider_refund_id == done.provider_refund_id
    checked = await adapter.query_refund(account, refund, done.wire, sim.client)
    assert checked.status is RefundStatus.succeeded and checked.provider_refund_id == done.provider_refund_id
    too_much = RefundRequest("RFD0002", attempt, 40000, False, "quá số đã trả", request.created_at)
    refused = await adapter.refund(account, too_much, sim.client)
    assert refused.status is RefundStatus.failed and refused.code == "1081"
    unknown = await adapter.query_refund(account, too_much, refused.wire, sim.client)
    assert unknown.status is RefundStatus.unknown


@pytest.mark.parametrize(
    ("choice", "outcome"), [("failed", Outcome.failed), ("cancelled", Outcome.cancelled)]
)
async def test_full_loop_unpaid(account: Account, sim: SimHarness, choice: str, outcome: Outcome) -> None:
    request = checkout_request()
    result = await adapter.create_checkout(account, request, sim.client)
    redirect = await pay(sim, result.checkout_url or "", choice)
    note = adapter.parse_callback(account, inbound(sim.received[0]))
    assert note.verified and note.outcome is outcome
    assert adapter.parse_return(account, browser_return(redirect.headers["location"])).outcome is outcome
    status = await adapter.query(
        account, AttemptRef(request.reference, 50000, request.created_at, result.wire), sim.client
    )
    assert status.outcome is outcome
    assert (await sim.client.post(result.checkout_url or "", data={"outcome": "success"})).status_code == 409


async def test_simulator_records_a_rejected_ipn(account: Account, sim: SimHarness) -> None:
    sim.verdict = AckVerdict.error
    result = await adapter.create_checkout(account, checkout_request(), sim.client)
    await pay(sim, result.checkout_url or "", "success")
    order = next(iter(sim.ctx.store("momo")["orders"].values()))
    assert order["ipn"][0]["status"] == 503


async def test_query_unknown_order_is_a_logical_error(account: Account, sim: SimHarness) -> None:
    attempt = AttemptRef("NEVERCREATED0000", 50000, checkout_request().created_at, {})
    with pytest.raises(GatewayLogicalError) as exc:
        await adapter.query(account, attempt, sim.client)
    assert exc.value.code == "42"
