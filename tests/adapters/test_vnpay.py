"""VNPay adapter and simulator: published vector, signing properties, every GATEWAYS.md trap,
code mapping, and the full loop through the simulator."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from urllib.parse import parse_qsl, quote_plus, urlsplit

import httpx
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import app.adapters.vnpay.adapter as vnpay
from app.adapters.base import (
    VN_TZ,
    Account,
    AckVerdict,
    AttemptRef,
    CheckoutRequest,
    CredentialsError,
    GatewayAdapter,
    GatewayLogicalError,
    GatewayTechnicalError,
    InboundRequest,
    Outcome,
    Payer,
    RefundRequest,
    RefundStatus,
)
from app.adapters.phpurl import php_urlencode
from app.adapters.registry import get_adapter
from app.adapters.vnpay.simulator import build_router
from tests.adapters.sim_harness import SimHarness, make_account, to_response

adapter = vnpay.adapter
NO_HTTP = cast(httpx.AsyncClient, None)  # creating a checkout URL needs no network

# vectors.json → provider "vnpay", operation "pay_url_create" (copied: tests never read shared docs).
VECTOR_INPUTS = {
    "vnp_Amount": "15000000",
    "vnp_BankCode": "NCB",
    "vnp_Command": "pay",
    "vnp_CreateDate": "20240521101112",
    "vnp_CurrCode": "VND",
    "vnp_ExpireDate": "20240521102612",
    "vnp_IpAddr": "127.0.0.1",
    "vnp_Locale": "vn",
    "vnp_OrderInfo": "Thanh toan GD:7543",
    "vnp_OrderType": "other",
    "vnp_ReturnUrl": "https://merchant.example/vnpay_return",
    "vnp_TmnCode": "TESTTMN1",
    "vnp_TxnRef": "7543",
    "vnp_Version": "2.1.0",
}
VECTOR_SECRET = "SECRETKEYFORTESTVECTORS000000001"
VECTOR_HASH_DATA = (
    "vnp_Amount=15000000&vnp_BankCode=NCB&vnp_Command=pay&vnp_CreateDate=20240521101112&vnp_CurrCode=VND"
    "&vnp_ExpireDate=20240521102612&vnp_IpAddr=127.0.0.1&vnp_Locale=vn&vnp_OrderInfo=Thanh+toan+GD%3A7543"
    "&vnp_OrderType=other&vnp_ReturnUrl=https%3A%2F%2Fmerchant.example%2Fvnpay_return&vnp_TmnCode=TESTTMN1"
    "&vnp_TxnRef=7543&vnp_Version=2.1.0"
)
VECTOR_HASH = (
    "a59a904cac0dbf844499037274ea1a3cdc4cb303ab6ab749b9507ea9c248f8b1"
    "1506a55a9d3b7be270124ea2eaee93fcbf303525ddaee4ecff84140b3054fbc9"
)
VECTOR_URL = (
    f"https://sandbox.vnpayment.vn/paymentv2/vpcpay.html?{VECTOR_HASH_DATA}&vnp_SecureHash={VECTOR_HASH}"
)

SECRET = "VNPAYSECRETFORTESTS0123456789ABC"
CREDS = {"tmn_code": "PBTEST01", "hash_secret": SECRET}
SPECIAL = "~*!'()&=+%# "
VIETNAMESE = "Lệ phí hộ tịch Đăng ký khai sinh ĐƯỢC ưu tiên ồ ạt"
TEXT = st.text(alphabet=st.sampled_from(VIETNAMESE + SPECIAL + "abcXYZ0129:/.-_"), max_size=40)


def account_for(settings: dict[str, Any] | None = None) -> Account:
    return make_account("vnpay", CREDS, settings or adapter.default_settings(None))


def checkout_request(**overrides: Any) -> CheckoutRequest:
    created = datetime(2026, 11, 21, 3, 0, 0, tzinfo=UTC)
    values: dict[str, Any] = {
        "reference": "PB7K2M9QX4T8N1ZA",
        "payment_id": "pay_1",
        "amount": 150_000,
        "description": "Lệ phí hộ tịch ~ *",
        "created_at": created,
        "expires_at": created + timedelta(minutes=15),
        "client_ip": "203.0.113.7",
        "locale": "vi",
        "payer": Payer(name="Nguyễn Văn A"),
        "items": (),
        "agency_code": "000.00.31.H56",
        "agency_name": "UBND xã Thử Nghiệm",
        "dossier_code": "H56-261121-0001",
    }
    values.update(overrides)
    return CheckoutRequest(**values)


def inbound_from_url(url: str) -> InboundRequest:
    return InboundRequest(method="GET", query_string=urlsplit(url).query, headers={}, body=b"")


def signed_ipn(fields: dict[str, str], secret: str = SECRET, *, drop_empty: bool = False) -> InboundRequest:
    hashed = {k: v for k, v in fields.items() if v != ""} if drop_empty else fields
    digest = vnpay.hmac_sha512(secret, vnpay.hash_data(hashed))
    query = f"{vnpay.hash_data(fields)}&vnp_SecureHash={digest}"
    return InboundRequest(method="GET", query_string=query, headers={}, body=b"")


def ipn_fields(**overrides: str) -> dict[str, str]:
    fields = {
        "vnp_Amount": "15000000",
        "vnp_BankCode": "NCB",
        "vnp_BankTranNo": "VNP14226112",
        "vnp_CardType": "ATM",
        "vnp_OrderInfo": "Le phi ho tich",
        "vnp_PayDate": "20261121101500",
        "vnp_ResponseCode": "00",
        "vnp_TmnCode": CREDS["tmn_code"],
        "vnp_TransactionNo": "14226112",
        "vnp_TransactionStatus": "00",
        "vnp_TxnRef": "PB7K2M9QX4T8N1ZA",
    }
    fields.update(overrides)
    return fields


# --- published vector -------------------------------------------------------------------------


def test_vector_pay_url_create_hash_data_and_secure_hash() -> None:
    assert vnpay.hash_data(VECTOR_INPUTS) == VECTOR_HASH_DATA
    assert vnpay.hmac_sha512(VECTOR_SECRET, VECTOR_HASH_DATA) == VECTOR_HASH


async def test_vector_pay_url_create_full_url_from_create_checkout() -> None:
    account = make_account(
        "vnpay",
        {"tmn_code": "TESTTMN1", "hash_secret": VECTOR_SECRET},
        {**adapter.default_settings(None), "order_type": "other"},
    )
    account = replace(account, return_url="https://merchant.example/vnpay_return")
    created = datetime(2024, 5, 21, 10, 11, 12, tzinfo=VN_TZ)
    request = checkout_request(
        reference="7543",
        amount=150_000,
        description="Thanh toan GD:7543",
        created_at=created,
        expires_at=created + timedelta(minutes=15),
        client_ip="127.0.0.1",
        bank_code="NCB",
    )
    result = await adapter.create_checkout(account, request, NO_HTTP)
    assert result.checkout_url == VECTOR_URL
    assert result.wire == {"vnp_CreateDate": "20240521101112"}
    assert result.raw_request == VECTOR_HASH_DATA


# --- contract ---------------------------------------------------------------------------------


def test_registry_and_protocol() -> None:
    assert get_adapter("vnpay") is adapter
    assert isinstance(adapter, GatewayAdapter)
    assert (adapter.min_amount, adapter.max_amount) == (5_000, 999_999_999)


def test_validate_account_and_default_settings() -> None:
    creds, settings_ = adapter.validate_account({"tmn_code": " PBTEST01 ", "hash_secret": SECRET}, {})
    assert creds == CREDS
    assert settings_["pay_url"] == "https://sandbox.vnpayment.vn/paymentv2/vpcpay.html"
    assert settings_["api_url"] == "https://sandbox.vnpayment.vn/merchant_webapi/api/transaction"
    sim = adapter.default_settings("http://127.0.0.1:8000/sandbox/vnpay")
    assert sim == {
        "pay_url": "http://127.0.0.1:8000/sandbox/vnpay/paymentv2/vpcpay.html",
        "api_url": "http://127.0.0.1:8000/sandbox/vnpay/merchant_webapi/api/transaction",
    }
    with pytest.raises(CredentialsError) as err:
        adapter.validate_account({"tmn_code": "short", "hash_secret": ""}, {"pay_url": "ftp://x"})
    assert set(err.value.errors) == {"credentials.hash_secret"}
    with pytest.raises(CredentialsError) as err:
        adapter.validate_account({"tmn_code": "short", "hash_secret": SECRET}, {"pay_url": "ftp://x"})
    assert set(err.value.errors) == {"credentials.tmn_code", "settings.pay_url"}


async def test_amount_outside_limits_is_refused() -> None:
    for amount in (4_999, 1_000_000_000):
        with pytest.raises(GatewayLogicalError):
            await adapter.create_checkout(account_for(), checkout_request(amount=amount), NO_HTTP)


# --- signing properties -----------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    order_info=TEXT.filter(lambda s: s != ""),
    bank_code=st.sampled_from(["", "NCB", "VNPAYQR"]),
    bank_tran_no=TEXT,
    tamper_key=st.sampled_from(sorted(ipn_fields())),
    data=st.data(),
)
def test_property_sign_then_verify_and_any_tamper_rejected(
    order_info: str, bank_code: str, bank_tran_no: str, tamper_key: str, data: st.DataObject
) -> None:
    fields = ipn_fields(vnp_OrderInfo=order_info, vnp_BankCode=bank_code, vnp_BankTranNo=bank_tran_no)
    note = adapter.parse_callback(account_for(), signed_ipn(fields))
    assert note.verified and note.amount == 150_000 and note.outcome is Outcome.succeeded
    assert note.fields["vnp_OrderInfo"] == order_info
    new_value = data.draw(TEXT.filter(lambda v: v != fields[tamper_key]))
    digest = vnpay.hmac_sha512(SECRET, vnpay.hash_data(fields))
    tampered = {**fields, tamper_key: new_value}
    query = f"{vnpay.hash_data(tampered)}&vnp_SecureHash={digest}"
    assert not adapter.parse_callback(account_for(), InboundRequest("GET", query, {}, b"")).verified


@settings(max_examples=60, deadline=None)
@given(description=TEXT, bank=st.sampled_from([None, "NCB"]))
def test_property_checkout_url_verifies_like_a_return(description: str, bank: str | None) -> None:
    import asyncio

    result = asyncio.run(
        adapter.create_checkout(
            account_for(), checkout_request(description=description, bank_code=bank), NO_HTTP
        )
    )
    assert result.checkout_url is not None
    items = parse_qsl(urlsplit(result.checkout_url).query, keep_blank_values=True)
    assert all(v != "" for _, v in items)
    ok, fields = vnpay.verify_items(items, SECRET)
    assert ok and fields["vnp_OrderInfo"].isascii()


# --- traps (GATEWAYS.md) ----------------------------------------------------------------------


def test_trap_php_urlencode_tilde_and_star() -> None:
    assert php_urlencode("a~b*c d!'()") == "a%7Eb%2Ac+d%21%27%28%29"
    assert php_urlencode("Lệ") == "L%E1%BB%87"
    assert quote_plus("~") == "~"  # the trap: Python's quote_plus would be wrong here
    assert vnpay.hash_data({"vnp_OrderInfo": "x~*y"}) == "vnp_OrderInfo=x%7E%2Ay"


async def test_trap_characters_encoders_disagree_on_are_never_sent(sim: SimHarness) -> None:
    account = sim_account(sim)
    result = await adapter.create_checkout(
        account, checkout_request(description="Phi ~ * ! ( ) 50%"), sim.http
    )
    assert result.checkout_url is not None
    sent = dict(parse_qsl(urlsplit(result.checkout_url).query))
    assert sent["vnp_OrderInfo"] == "Phi 50"
    assert (await sim.http.get(result.checkout_url)).status_code == 200


async def test_trap_never_send_empty_params_or_securehashtype(sim: SimHarness) -> None:
    account = sim_account(sim)
    result = await adapter.create_checkout(account, checkout_request(bank_code=None), sim.http)
    assert result.checkout_url is not None
    keys = [k for k, _ in parse_qsl(urlsplit(result.checkout_url).query, keep_blank_values=True)]
    assert "vnp_BankCode" not in keys and "vnp_SecureHashType" not in keys
    assert (await sim.http.get(result.checkout_url)).status_code == 200
    # What a naive client does: send the empty param and hash it → VNPay's error 70.
    params = dict(parse_qsl(urlsplit(result.checkout_url).query))
    params.pop("vnp_SecureHash")
    params["vnp_BankCode"] = ""
    naive = f"{account.settings['pay_url']}?{vnpay.signed_query(params, SECRET)}"
    page = await sim.http.get(naive)
    assert page.status_code == 400 and "70" in page.text
    params.pop("vnp_BankCode")
    params["vnp_SecureHashType"] = "HmacSHA512"
    page = await sim.http.get(f"{account.settings['pay_url']}?{vnpay.signed_query(params, SECRET)}")
    assert page.status_code == 400 and "70" in page.text


def test_trap_gmt7_whatever_server_timezone() -> None:
    import asyncio

    old = os.environ.get("TZ")
    try:
        for zone in ("America/New_York", "UTC", "Asia/Tokyo"):
            os.environ["TZ"] = zone
            time.tzset()
            created = datetime(2026, 11, 20, 20, 30, 5, tzinfo=UTC)
            request = checkout_request(created_at=created, expires_at=created + timedelta(minutes=15))
            result = asyncio.run(adapter.create_checkout(account_for(), request, NO_HTTP))
            assert result.checkout_url is not None
            params = dict(parse_qsl(urlsplit(result.checkout_url).query))
            assert params["vnp_CreateDate"] == "20261121033005"
            assert params["vnp_ExpireDate"] == gmt7_plus(request.expires_at) == "20261121034505"
            assert result.wire["vnp_CreateDate"] == "20261121033005"
    finally:
        if old is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = old
        time.tzset()


def gmt7_plus(moment: datetime) -> str:
    return (moment.astimezone(UTC) + timedelta(hours=7)).strftime("%Y%m%d%H%M%S")


def test_trap_empty_values_hash_retry_without_empties() -> None:
    fields = ipn_fields(vnp_BankTranNo="", vnp_CardType="")
    as_received = adapter.parse_callback(account_for(), signed_ipn(fields))
    without_empties = adapter.parse_callback(account_for(), signed_ipn(fields, drop_empty=True))
    assert as_received.verified and without_empties.verified
    assert without_empties.fields["vnp_BankTranNo"] == ""
    wrong = adapter.parse_callback(account_for(), signed_ipn(fields, secret="another-secret-entirely"))
    assert not wrong.verified
    # The retry drops only empty fields: a hash that leaves out a non-empty one never verifies.
    digest = vnpay.hmac_sha512(
        SECRET, vnpay.hash_data({k: v for k, v in fields.items() if k != "vnp_OrderInfo"})
    )
    query = f"{vnpay.hash_data(fields)}&vnp_SecureHash={digest}"
    assert not adapter.parse_callback(account_for(), InboundRequest("GET", query, {}, b"")).verified


async def test_trap_amount_times_100() -> None:
    result = await adapter.create_checkout(account_for(), checkout_request(amount=150_000), NO_HTTP)
    assert result.checkout_url is not None
    assert dict(parse_qsl(urlsplit(result.checkout_url).query))["vnp_Amount"] == "15000000"
    assert adapter.parse_callback(account_for(), signed_ipn(ipn_fields())).amount == 150_000
    for raw in ("1500050", "15000000.0", "-100", "", "1e7"):
        note = adapter.parse_callback(account_for(), signed_ipn(ipn_fields(vnp_Amount=raw)))
        assert not note.verified and note.amount is None


def test_trap_verify_every_vnp_field_except_the_hash_fields() -> None:
    fields = ipn_fields(vnp_NewField="added by VNPay")
    inbound = signed_ipn(fields)
    with_type = InboundRequest("GET", inbound.query_string + "&vnp_SecureHashType=HmacSHA512", {}, b"")
    assert adapter.parse_callback(account_for(), with_type).verified
    dropped = inbound.query_string.replace("&vnp_NewField=added+by+VNPay", "")
    assert not adapter.parse_callback(account_for(), InboundRequest("GET", dropped, {}, b"")).verified
    duplicated = InboundRequest("GET", inbound.query_string + "&vnp_TxnRef=OTHER", {}, b"")
    assert not adapter.parse_callback(account_for(), duplicated).verified
    other_tmn = signed_ipn(ipn_fields(vnp_TmnCode="OTHERTMN"))
    assert not adapter.parse_callback(account_for(), other_tmn).verified


def test_trap_paid_means_response_code_00_and_transaction_status_00() -> None:
    cases = {("00", "00"): Outcome.succeeded, ("00", "01"): Outcome.pending, ("00", "02"): Outcome.failed}
    cases |= {("24", "02"): Outcome.cancelled, ("51", "00"): Outcome.unknown, ("11", "02"): Outcome.expired}
    for (code, status), outcome in cases.items():
        fields = ipn_fields(vnp_ResponseCode=code, vnp_TransactionStatus=status)
        assert adapter.parse_callback(account_for(), signed_ipn(fields)).outcome is outcome, (code, status)


def test_trap_ipn_rspcode_ladder_order() -> None:
    verified = adapter.parse_callback(account_for(), signed_ipn(ipn_fields()))
    expected = {
        AckVerdict.invalid_signature: "97",
        AckVerdict.not_found: "01",
        AckVerdict.amount_mismatch: "04",
        AckVerdict.already_processed: "02",
        AckVerdict.accepted: "00",
        AckVerdict.error: "99",
    }
    for verdict, code in expected.items():
        reply = adapter.acknowledge(account_for(), verified, verdict)
        assert reply.status_code == 200 and reply.media_type == "application/json"
        assert orjson.loads(reply.body)["RspCode"] == code
    # The first rung wins: an unverified IPN is 97 whatever else the pipeline concluded.
    unverified = adapter.parse_callback(account_for(), signed_ipn(ipn_fields(), secret="wrong-secret-123"))
    for verdict in AckVerdict:
        assert orjson.loads(adapter.acknowledge(account_for(), unverified, verdict).body)["RspCode"] == "97"


def test_trap_query_string_sent_is_the_hashed_string() -> None:
    import asyncio

    result = asyncio.run(adapter.create_checkout(account_for(), checkout_request(), NO_HTTP))
    assert result.checkout_url is not None and result.raw_request is not None
    query = urlsplit(result.checkout_url).query
    head, _, digest = query.rpartition("&vnp_SecureHash=")
    assert head == result.raw_request and digest == vnpay.hmac_sha512(SECRET, head)
    assert digest == digest.lower() and len(digest) == 128


async def test_trap_querydr_transaction_date_is_the_original_create_date(sim: SimHarness) -> None:
    account = sim_account(sim)
    request = checkout_request()
    result = await adapter.create_checkout(account, request, sim.http)
    assert result.checkout_url is not None
    await pay(sim, result.checkout_url, "success")
    good = AttemptRef(request.reference, request.amount, request.created_at, wire=result.wire)
    assert (await adapter.query(account, good, sim.http)).outcome is Outcome.succeeded
    wrong = replace(good, wire={"vnp_CreateDate": "20261121100001"})
    answer = await adapter.query(account, wrong, sim.http)
    assert answer.outcome is Outcome.pending and answer.code == "91"


# --- code mapping -----------------------------------------------------------------------------


def test_every_documented_response_code_maps() -> None:
    documented = {"00", "07", "09", "10", "11", "12", "13", "24", "51", "65", "75", "79", "99"}
    assert set(vnpay.RESPONSE_CODES) == documented
    for code in documented - {"00"}:
        outcome = vnpay.payment_outcome(code, "02")
        assert outcome is vnpay.RESPONSE_CODES[code][0] and outcome is not Outcome.unknown
    assert vnpay.payment_outcome("24", "02") is Outcome.cancelled
    assert vnpay.payment_outcome("07", "07") is Outcome.pending
    assert set(vnpay.TRANSACTION_STATUSES) == {"00", "01", "02", "04", "05", "06", "07", "09"}
    assert set(vnpay.API_CODES) >= {"00", "91", "94", "97", "99"}


def test_unknown_codes_map_to_unknown() -> None:
    assert vnpay.payment_outcome("42", "00") is Outcome.unknown
    assert vnpay.payment_outcome("00", "42") is Outcome.unknown
    note = adapter.parse_callback(account_for(), signed_ipn(ipn_fields(vnp_ResponseCode="X1")))
    assert note.verified and note.outcome is Outcome.unknown


# --- through the simulator --------------------------------------------------------------------


def sim_account(sim: SimHarness) -> Account:
    account = make_account("vnpay", CREDS, adapter.default_settings(sim.base_url))
    return sim.add_account("tmn_code", account)


@pytest.fixture
async def sim() -> AsyncIterator[SimHarness]:
    harness = SimHarness("vnpay", build_router)

    def answer_ipn(inbound: InboundRequest) -> httpx.Response:
        account = next(iter(harness.accounts.values()))
        note = adapter.parse_callback(account, inbound)
        verdict = AckVerdict.accepted if note.verified else AckVerdict.invalid_signature
        return to_response(adapter.acknowledge(account, note, verdict))

    harness.reply = answer_ipn
    yield harness
    await harness.aclose()


async def pay(sim: SimHarness, url: str, outcome: str) -> httpx.Response:
    page = await sim.http.get(url)
    assert page.status_code == 200, page.text
    response = await sim.http.post(url, data={"outcome": outcome})
    assert response.status_code == 303, response.text
    return response


async def test_full_loop_pay_ipn_query_refund_query_refund(sim: SimHarness) -> None:
    account = sim_account(sim)
    request = checkout_request(description="Lệ phí hộ tịch <b>&amp;</b>")
    result = await adapter.create_checkout(account, request, sim.http)
    assert result.checkout_url is not None and result.checkout_url.startswith(sim.base_url)
    page = await sim.http.get(result.checkout_url)
    assert "150.000 ₫" in page.text and "<b>" not in page.text and 'data-testid="pay"' in page.text
    attempt = AttemptRef(request.reference, request.amount, request.created_at, wire=result.wire)
    assert (await adapter.query(account, attempt, sim.http)).outcome is Outcome.pending  # page opened only

    redirect = await pay(sim, result.checkout_url, "success")
    assert len(sim.callbacks) == 1
    ipn = adapter.parse_callback(account, sim.callbacks[0])
    assert ipn.verified and ipn.outcome is Outcome.succeeded and ipn.amount == 150_000
    assert ipn.reference == request.reference and ipn.provider_transaction_id
    assert ipn.paid_at == datetime(2026, 11, 21, 10, 0, 0, tzinfo=VN_TZ)
    txn = sim.store["transactions"][f"PBTEST01|{request.reference}"]
    assert txn["ipn"]["RspCode"] == "00"
    location = redirect.headers["location"]
    assert location.startswith(account.return_url + "?")
    back = adapter.parse_return(account, inbound_from_url(location))
    assert back.verified and back.outcome is Outcome.succeeded

    status = await adapter.query(account, attempt, sim.http)
    assert status.outcome is Outcome.succeeded and status.amount == 150_000
    assert status.provider_transaction_id == ipn.provider_transaction_id

    attempt = replace(attempt, provider_transaction_id=ipn.provider_transaction_id)
    refund = RefundRequest("RF1", attempt, 50_000, False, "Hoàn phí", sim.clock())
    first = await adapter.refund(account, refund, sim.http)
    assert first.status is RefundStatus.pending and first.code == "00"
    assert first.wire["vnp_TransactionType"] == "03" and first.wire["vnp_RequestId"] == "RF1"
    again = await adapter.query_refund(account, refund, first.wire, sim.http)
    assert again.status is RefundStatus.pending and again.code == "05"
    retried = await adapter.refund(
        account, refund, sim.http
    )  # same request id: a duplicate, not a 2nd refund
    assert retried.status is RefundStatus.pending and retried.code == "94"
    assert len(txn["refunds"]) == 1
    sim.clock.advance(seconds=61)
    done = await adapter.query_refund(account, refund, first.wire, sim.http)
    assert done.status is RefundStatus.succeeded
    assert (
        await adapter.query(account, attempt, sim.http)
    ).outcome is Outcome.succeeded  # still a paid payment
    rest = RefundRequest("RF2", attempt, 100_001, False, "Hoàn phần còn lại", sim.clock())
    too_much = await adapter.refund(account, rest, sim.http)
    assert too_much.status is RefundStatus.failed and too_much.code == "03"


async def test_full_refund_is_type_02_with_the_original_create_date(sim: SimHarness) -> None:
    account = sim_account(sim)
    request = checkout_request(reference="PBFULLREFUND0001")
    result = await adapter.create_checkout(account, request, sim.http)
    assert result.checkout_url is not None
    await pay(sim, result.checkout_url, "success")
    attempt = AttemptRef(request.reference, request.amount, request.created_at, wire=result.wire)
    refund = RefundRequest("refund/with-odd-id", attempt, 150_000, True, "Hủy hồ sơ", sim.clock())
    answer = await adapter.refund(account, refund, sim.http)
    assert answer.status is RefundStatus.pending and answer.wire["vnp_TransactionType"] == "02"
    assert len(answer.wire["vnp_RequestId"]) == 32 and answer.wire["vnp_RequestId"].isalnum()
    sim.clock.advance(minutes=5)
    assert (
        await adapter.query_refund(account, refund, answer.wire, sim.http)
    ).status is RefundStatus.succeeded


@pytest.mark.parametrize(
    ("outcome", "expected", "code"),
    [("failed", Outcome.failed, "51"), ("cancelled", Outcome.cancelled, "24")],
)
async def test_unsuccessful_payments_send_signed_ipn_and_refund_is_refused(
    sim: SimHarness, outcome: str, expected: Outcome, code: str
) -> None:
    account = sim_account(sim)
    request = checkout_request()
    result = await adapter.create_checkout(account, request, sim.http)
    assert result.checkout_url is not None
    await pay(sim, result.checkout_url, outcome)
    ipn = adapter.parse_callback(account, sim.callbacks[-1])
    assert (
        ipn.verified and ipn.outcome is expected and ipn.code == code and ipn.fields["vnp_BankTranNo"] == ""
    )
    assert ipn.provider_transaction_id is None
    attempt = AttemptRef(request.reference, request.amount, request.created_at, wire=result.wire)
    assert (await adapter.query(account, attempt, sim.http)).outcome is Outcome.failed
    refund = RefundRequest("RF9", attempt, 150_000, True, "x", sim.clock())
    refused = await adapter.refund(account, refund, sim.http)
    assert refused.status is RefundStatus.failed and refused.code == "95"
    page = await sim.http.get(result.checkout_url)  # a settled TxnRef cannot be paid again
    assert page.status_code == 400


async def test_simulator_rejects_what_vnpay_rejects(sim: SimHarness) -> None:
    account = sim_account(sim)
    result = await adapter.create_checkout(account, checkout_request(), sim.http)
    assert result.checkout_url is not None
    tampered = result.checkout_url.replace("vnp_Amount=15000000", "vnp_Amount=1500000")
    assert "70" in (await sim.http.get(tampered)).text
    stranger = await adapter.create_checkout(
        replace(account, credentials={**CREDS, "tmn_code": "NOBODY01"}), checkout_request(), sim.http
    )
    assert stranger.checkout_url is not None
    assert "vnp_TmnCode" in (await sim.http.get(stranger.checkout_url)).text
    sim.clock.advance(minutes=16)
    expired = await sim.http.get(result.checkout_url)
    assert expired.status_code == 400 and "11" in expired.text
    assert sim.callbacks == []


# --- technical failures -----------------------------------------------------------------------


def api_account() -> Account:
    return account_for(
        {"pay_url": "https://vnpay.test/pay", "api_url": "https://vnpay.test/api", "server_ip": "10.0.0.1"}
    )


def signed_answer(command: str, **fields: str) -> dict[str, str]:
    body = {
        "vnp_ResponseId": "r1",
        "vnp_Command": command,
        "vnp_TmnCode": CREDS["tmn_code"],
        "vnp_TxnRef": "PB7K2M9QX4T8N1ZA",
    }
    body.update(fields)
    order = vnpay.QUERY_RESPONSE_HASH_FIELDS if command == "querydr" else vnpay.REFUND_RESPONSE_HASH_FIELDS
    body["vnp_SecureHash"] = vnpay.pipe_sign(SECRET, body, order)
    return body


def client(handler: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


ATTEMPT = AttemptRef(
    "PB7K2M9QX4T8N1ZA",
    150_000,
    datetime(2026, 11, 21, 3, 0, tzinfo=UTC),
    wire={"vnp_CreateDate": "20261121100000"},
)


def test_querydr_request_is_signed_over_the_documented_fields() -> None:
    import asyncio

    seen: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(orjson.loads(request.content))
        return httpx.Response(
            200,
            json=signed_answer(
                "querydr",
                vnp_ResponseCode="00",
                vnp_Amount="15000000",
                vnp_TransactionType="01",
                vnp_TransactionStatus="00",
            ),
        )

    result = asyncio.run(adapter.query(api_account(), ATTEMPT, client(handler)))
    assert result.outcome is Outcome.succeeded and result.amount == 150_000
    sent = seen[0]
    assert sent["vnp_TransactionDate"] == "20261121100000" and sent["vnp_IpAddr"] == "10.0.0.1"
    pipe = "|".join(str(sent[name]) for name in vnpay.QUERY_HASH_FIELDS)
    assert sent["vnp_SecureHash"] == vnpay.hmac_sha512(SECRET, pipe)
    assert sent["vnp_Command"] == "querydr" and sent["vnp_Version"] == "2.1.0"


@pytest.mark.parametrize(
    "handler",
    [
        pytest.param(lambda r: (_ for _ in ()).throw(httpx.ReadTimeout("slow", request=r)), id="timeout"),
        pytest.param(lambda r: (_ for _ in ()).throw(httpx.ConnectError("down", request=r)), id="connect"),
        pytest.param(lambda r: httpx.Response(502, text="bad gateway"), id="5xx"),
        pytest.param(lambda r: httpx.Response(200, text="<html>oops</html>"), id="non-json"),
        pytest.param(lambda r: httpx.Response(200, json=[1, 2]), id="json-array"),
        pytest.param(
            lambda r: httpx.Response(
                200,
                json={
                    **signed_answer(
                        "querydr", vnp_ResponseCode="00", vnp_TransactionStatus="00", vnp_TransactionType="01"
                    ),
                    "vnp_Amount": "99900",
                },
            ),
            id="bad-signature",
        ),
        pytest.param(
            lambda r: httpx.Response(200, json={"vnp_ResponseCode": "00", "vnp_TransactionStatus": "00"}),
            id="unsigned",
        ),
        pytest.param(
            lambda r: httpx.Response(200, json=signed_answer("querydr", vnp_ResponseCode="97")), id="97"
        ),
        pytest.param(
            lambda r: httpx.Response(200, json=signed_answer("querydr", vnp_ResponseCode="94")), id="94"
        ),
        pytest.param(
            lambda r: httpx.Response(200, json=signed_answer("querydr", vnp_ResponseCode="99")), id="99"
        ),
        pytest.param(
            lambda r: httpx.Response(
                200,
                json=signed_answer(
                    "querydr",
                    vnp_ResponseCode="00",
                    vnp_TxnRef="OTHER",
                    vnp_TransactionStatus="00",
                    vnp_TransactionType="01",
                ),
            ),
            id="other-txn",
        ),
    ],
)
async def test_query_technical_failures(handler: Any) -> None:
    with pytest.raises(GatewayTechnicalError):
        await adapter.query(api_account(), ATTEMPT, client(handler))
    with pytest.raises(GatewayTechnicalError):
        refund = RefundRequest("RF1", ATTEMPT, 1000, False, "x", ATTEMPT.created_at)
        await adapter.refund(api_account(), refund, client(handler))


async def test_query_logical_rejection_and_unknown_status() -> None:
    rejected = client(lambda r: httpx.Response(200, json=signed_answer("querydr", vnp_ResponseCode="03")))
    with pytest.raises(GatewayLogicalError):
        await adapter.query(api_account(), ATTEMPT, rejected)
    odd = client(
        lambda r: httpx.Response(
            200,
            json=signed_answer(
                "querydr",
                vnp_ResponseCode="00",
                vnp_Amount="15000000",
                vnp_TransactionType="01",
                vnp_TransactionStatus="88",
            ),
        )
    )
    assert (await adapter.query(api_account(), ATTEMPT, odd)).outcome is Outcome.unknown


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("20261121153045", (2026, 11, 21, 15, 30, 45)),
        ("20260230000000", None),  # 30 February
        ("20261121246000", None),  # hour 24
        ("2026112115304", None),  # 13 digits (strptime would take it as 15:30:04)
        ("2026112115304x", None),
        ("２０２６１１２１１５３０４５", None),  # full-width digits
        ("", None),
    ],
)
def test_parse_time_reads_exactly_fourteen_ascii_digits_in_gmt7(
    raw: str, expected: tuple[int, int, int, int, int, int] | None
) -> None:
    from app.adapters.vnpay.adapter import parse_time
    from app.vntime import VN_TZ

    parsed = parse_time(raw)
    assert parsed == (datetime(*expected, tzinfo=VN_TZ) if expected else None)
