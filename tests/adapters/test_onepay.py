"""OnePay adapter and simulator: published vector, signing properties, every GATEWAYS.md trap,
code mapping, and the full loop through the simulator."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import app.adapters.onepay.adapter as onepay
from app.adapters.base import (
    Account,
    AckVerdict,
    AttemptRef,
    CheckoutRequest,
    CredentialsError,
    GatewayAdapter,
    GatewayTechnicalError,
    InboundRequest,
    NotSupported,
    Outcome,
    Payer,
    RefundRequest,
    RefundStatus,
)
from app.adapters.onepay.simulator import build_router
from app.adapters.phpurl import php_query
from app.adapters.registry import get_adapter
from tests.adapters.sim_harness import SimHarness, make_account, to_response

adapter = onepay.adapter
NO_HTTP = cast(httpx.AsyncClient, None)  # creating a checkout URL needs no network

# vectors.json → provider "onepay", operation "return_from_phpviet_test" (copied).
VECTOR_PARAMS = {
    "vpc_AdditionData": "970436",
    "vpc_Amount": "100",
    "vpc_Command": "pay",
    "vpc_CurrencyCode": "VND",
    "vpc_Locale": "vn",
    "vpc_MerchTxnRef": "201803210919102006754784",
    "vpc_Merchant": "ONEPAY",
    "vpc_OrderInfo": "JSECURETEST01",
    "vpc_TransactionNo": "1625746",
    "vpc_TxnResponseCode": "0",
    "vpc_Version": "2",
    "vpc_SecureHash": "0331F9D8E0CD9A6BC581B74721658DFD9A5A219145F92DED700C13E4843BB3B0",
}
VECTOR_SECRET = "A3EFDFABA8653DF2342E8DAC29B51AF0"
VECTOR_HASH_DATA = (
    "vpc_AdditionData=970436&vpc_Amount=100&vpc_Command=pay&vpc_CurrencyCode=VND&vpc_Locale=vn"
    "&vpc_MerchTxnRef=201803210919102006754784&vpc_Merchant=ONEPAY&vpc_OrderInfo=JSECURETEST01"
    "&vpc_TransactionNo=1625746&vpc_TxnResponseCode=0&vpc_Version=2"
)

SECRET = "6D0870CDE5F24F34F3915FB0045120DB"
CREDS = {"merchant": "TESTONEPAY", "access_code": "6BEB2546", "hash_secret": SECRET}
API_USER = {"user": "op01", "password": "op123456"}
SPECIAL = "~*!'()&=+%# "
TEXT = st.text(
    alphabet=st.sampled_from("Lệ phí hộ tịch Đăng ký ĐƯỢC" + SPECIAL + "abcXYZ019:/.-_"), max_size=40
)


def account_for(creds: dict[str, str] | None = None, settings_: dict[str, Any] | None = None) -> Account:
    return make_account("onepay", creds or CREDS, settings_ or adapter.default_settings(None))


def checkout_request(**overrides: Any) -> CheckoutRequest:
    created = datetime(2026, 11, 21, 3, 0, 0, tzinfo=UTC)
    values: dict[str, Any] = {
        "reference": "PB7K2M9QX4T8N1ZA",
        "payment_id": "pay_1",
        "amount": 150_000,
        "description": "Lệ phí hộ tịch (bản sao) & trích lục ~ * rất dài dài dài",
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


def return_fields(**overrides: str) -> dict[str, str]:
    fields = {
        "vpc_AdditionData": "970436",
        "vpc_Amount": "15000000",
        "vpc_Command": "pay",
        "vpc_CurrencyCode": "VND",
        "vpc_Locale": "vn",
        "vpc_MerchTxnRef": "PB7K2M9QX4T8N1ZA",
        "vpc_Merchant": CREDS["merchant"],
        "vpc_Message": "Approved",
        "vpc_OrderInfo": "Le phi ho tich",
        "vpc_TransactionNo": "1625746",
        "vpc_TxnResponseCode": "0",
        "vpc_Version": "2",
    }
    fields.update(overrides)
    return fields


def inbound(fields: dict[str, str], secret: str = SECRET, *, upper: bool = True) -> InboundRequest:
    digest = onepay.sign(secret, onepay.hash_data(fields))
    query = php_query([*fields.items(), ("vpc_SecureHash", digest if upper else digest.lower())])
    return InboundRequest(method="GET", query_string=query, headers={}, body=b"")


# --- published vector -------------------------------------------------------------------------


def test_vector_return_from_phpviet_test() -> None:
    assert onepay.hash_data(VECTOR_PARAMS) == VECTOR_HASH_DATA
    assert onepay.sign(VECTOR_SECRET, VECTOR_HASH_DATA) == VECTOR_PARAMS["vpc_SecureHash"]
    account = account_for({"merchant": "ONEPAY", "access_code": "D67342C2", "hash_secret": VECTOR_SECRET})
    query = php_query(VECTOR_PARAMS.items())
    note = adapter.parse_return(account, InboundRequest("GET", query, {}, b""))
    assert note.verified and note.outcome is Outcome.succeeded and note.amount == 1
    assert note.reference == "201803210919102006754784" and note.provider_transaction_id == "1625746"


# --- contract ---------------------------------------------------------------------------------


def test_registry_protocol_and_validation() -> None:
    assert get_adapter("onepay") is adapter and isinstance(adapter, GatewayAdapter)
    creds, settings_ = adapter.validate_account(CREDS, {})
    assert creds == CREDS and "user" not in creds
    assert settings_["pay_url"] == "https://mtf.onepay.vn/paygate/vpcpay.op"
    assert settings_["query_url"] == "https://mtf.onepay.vn/msp/api/v1/vpc/invoices/queries"
    creds, _ = adapter.validate_account({**CREDS, **API_USER}, {})
    assert creds["user"] == "op01"
    sim = adapter.default_settings("http://127.0.0.1:8000/sandbox/onepay")
    assert sim["pay_url"] == "http://127.0.0.1:8000/sandbox/onepay/paygate/vpcpay.op"
    assert sim["query_url"] == "http://127.0.0.1:8000/sandbox/onepay/msp/api/v1/vpc/invoices/queries"
    with pytest.raises(CredentialsError) as err:
        adapter.validate_account({**CREDS, "hash_secret": "NOTHEX", "user": "op01"}, {"query_url": "nope"})
    assert set(err.value.errors) == {"credentials.hash_secret", "credentials.password", "settings.query_url"}
    with pytest.raises(CredentialsError):
        adapter.validate_account({**CREDS, "hash_secret": "ABC"}, {})  # odd length never decodes


# --- signing properties -----------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    info=TEXT.filter(bool),
    message=TEXT,
    user_field=TEXT,
    tamper_key=st.sampled_from(sorted(return_fields())),
    data=st.data(),
)
def test_property_sign_then_verify_and_any_tamper_rejected(
    info: str, message: str, user_field: str, tamper_key: str, data: st.DataObject
) -> None:
    fields = return_fields(vpc_OrderInfo=info, vpc_Message=message, user_Note=user_field)
    note = adapter.parse_callback(account_for(), inbound(fields))
    assert note.verified and note.amount == 150_000 and note.fields["vpc_OrderInfo"] == info
    new_value = data.draw(TEXT.filter(lambda v: v != fields[tamper_key] and v != ""))
    digest = onepay.sign(SECRET, onepay.hash_data(fields))
    tampered = php_query([*{**fields, tamper_key: new_value}.items(), ("vpc_SecureHash", digest)])
    assert not adapter.parse_callback(account_for(), InboundRequest("GET", tampered, {}, b"")).verified


# --- traps (GATEWAYS.md) ----------------------------------------------------------------------


def test_trap_onepay_sort_is_ascii_merchtxnref_before_merchant() -> None:
    data = onepay.hash_data({"vpc_Merchant": "M", "vpc_MerchTxnRef": "R", "vpc_Amount": "100", "user_x": "u"})
    assert data == "user_x=u&vpc_Amount=100&vpc_MerchTxnRef=R&vpc_Merchant=M"
    assert sorted(["vpc_Merchant", "vpc_MerchTxnRef"], key=str.lower) == ["vpc_Merchant", "vpc_MerchTxnRef"]


def test_trap_onepay_secret_is_hex_decoded() -> None:
    data = VECTOR_HASH_DATA
    as_text = hmac.new(VECTOR_SECRET.encode(), data.encode(), hashlib.sha256).hexdigest().upper()
    assert onepay.sign(VECTOR_SECRET, data) != as_text
    assert onepay.sign(VECTOR_SECRET, data) == VECTOR_PARAMS["vpc_SecureHash"]


def test_trap_onepay_uppercase_hex_case_insensitive_compare() -> None:
    digest = onepay.sign(SECRET, "x")
    assert digest == digest.upper() and len(digest) == 64
    assert adapter.parse_return(account_for(), inbound(return_fields(), upper=False)).verified
    assert adapter.parse_return(account_for(), inbound(return_fields())).verified


def test_trap_onepay_empty_values_and_foreign_keys_are_not_signed() -> None:
    fields = return_fields(vpc_CardNum="", Title="ignored", AgainLink="https://x")
    assert "vpc_CardNum" not in onepay.hash_data(fields) and "Title" not in onepay.hash_data(fields)
    assert adapter.parse_return(account_for(), inbound(fields)).verified


async def test_trap_onepay_title_and_againlink_sent_but_unsigned() -> None:
    result = await adapter.create_checkout(account_for(), checkout_request(), NO_HTTP)
    assert result.checkout_url is not None and result.raw_request is not None
    params = dict(parse_qsl(urlsplit(result.checkout_url).query))
    assert params["Title"] == "UBND xa Thu Nghiem" and params["AgainLink"] == account_for().return_url
    assert "Title" not in result.raw_request and "AgainLink" not in result.raw_request
    assert params["vpc_SecureHash"] == onepay.sign(SECRET, result.raw_request)


async def test_trap_onepay_field_limits_and_ticket_no() -> None:
    result = await adapter.create_checkout(account_for(), checkout_request(), NO_HTTP)
    assert result.checkout_url is not None
    params = dict(parse_qsl(urlsplit(result.checkout_url).query))
    assert len(params["vpc_OrderInfo"]) <= 34 and params["vpc_OrderInfo"].isascii()
    assert not set("()&/?") & set(params["vpc_OrderInfo"])
    assert params["vpc_TicketNo"] == "203.0.113.7" and params["vpc_MerchTxnRef"] == "PB7K2M9QX4T8N1ZA"
    assert result.wire == {"vpc_MerchTxnRef": "PB7K2M9QX4T8N1ZA"}
    assert "vpc_SecureHashType" not in params


async def test_trap_amount_times_100() -> None:
    result = await adapter.create_checkout(account_for(), checkout_request(amount=150_000), NO_HTTP)
    assert result.checkout_url is not None
    assert dict(parse_qsl(urlsplit(result.checkout_url).query))["vpc_Amount"] == "15000000"
    for raw in ("15000050", "1.5e7", "", "-100"):
        note = adapter.parse_return(account_for(), inbound(return_fields(vpc_Amount=raw)))
        assert not note.verified and note.amount is None


def test_trap_ipn_answer_is_responsecode_body() -> None:
    good = adapter.parse_callback(account_for(), inbound(return_fields()))
    bad = adapter.parse_callback(account_for(), inbound(return_fields(), secret="00" * 16))
    for verdict in AckVerdict:
        reply = adapter.acknowledge(account_for(), good, verdict)
        ok = verdict in {AckVerdict.accepted, AckVerdict.already_processed}
        assert reply.body == (
            b"responsecode=1&desc=confirm-success" if ok else b"responsecode=0&desc=confirm-fail"
        )
        assert reply.media_type == "text/plain" and reply.status_code == 200
        assert adapter.acknowledge(account_for(), bad, verdict).body == b"responsecode=0&desc=confirm-fail"


def test_repeated_key_or_other_merchant_never_verifies() -> None:
    good = inbound(return_fields())
    assert not adapter.parse_return(
        account_for(), replace(good, query_string=good.query_string + "&vpc_Amount=1")
    ).verified
    assert not adapter.parse_return(account_for(), inbound(return_fields(vpc_Merchant="OTHER"))).verified


# --- code mapping -----------------------------------------------------------------------------


def test_every_code_maps_and_unknown_is_unknown() -> None:
    assert onepay.outcome_of("0") is Outcome.succeeded
    assert onepay.outcome_of("99") is Outcome.cancelled
    assert onepay.outcome_of("253") is Outcome.expired
    assert onepay.outcome_of("300") is Outcome.pending
    for code, (outcome, message) in onepay.RESPONSE_CODES.items():
        assert outcome is not Outcome.unknown and message
        note = adapter.parse_return(account_for(), inbound(return_fields(vpc_TxnResponseCode=code)))
        assert note.verified and note.outcome is outcome
    for code in ("42", "f", "00", ""):
        assert onepay.outcome_of(code) is Outcome.unknown


# --- through the simulator --------------------------------------------------------------------


@pytest.fixture
async def sim() -> AsyncIterator[SimHarness]:
    harness = SimHarness("onepay", build_router)

    def answer_ipn(request: InboundRequest) -> httpx.Response:
        account = next(iter(harness.accounts.values()))
        note = adapter.parse_callback(account, request)
        verdict = AckVerdict.accepted if note.verified else AckVerdict.invalid_signature
        return to_response(adapter.acknowledge(account, note, verdict))

    harness.reply = answer_ipn
    yield harness
    await harness.aclose()


def sim_account(sim: SimHarness, creds: dict[str, str] | None = None) -> Account:
    account = make_account("onepay", creds or {**CREDS, **API_USER}, adapter.default_settings(sim.base_url))
    return sim.add_account("merchant", account)


async def pay(sim: SimHarness, url: str, outcome: str) -> httpx.Response:
    page = await sim.http.get(url)
    assert page.status_code == 200, page.text
    response = await sim.http.post(url, data={"outcome": outcome})
    assert response.status_code == 303, response.text
    return response


async def test_full_loop_pay_ipn_query_refund_query_refund(sim: SimHarness) -> None:
    account = sim_account(sim)
    request = checkout_request()
    result = await adapter.create_checkout(account, request, sim.http)
    assert result.checkout_url is not None and result.checkout_url.startswith(sim.base_url)
    attempt = AttemptRef(request.reference, request.amount, request.created_at, wire=result.wire)
    assert (await adapter.query(account, attempt, sim.http)).code == "DRExists=N"
    page = await sim.http.get(result.checkout_url)
    assert "150.000 ₫" in page.text and 'data-testid="cancel"' in page.text
    assert (await adapter.query(account, attempt, sim.http)).outcome is Outcome.pending  # "100" in progress

    redirect = await pay(sim, result.checkout_url, "success")
    ipn = adapter.parse_callback(account, sim.callbacks[-1])
    assert ipn.verified and ipn.outcome is Outcome.succeeded and ipn.amount == 150_000
    assert sim.store["transactions"][f"TESTONEPAY|{request.reference}"]["ipn"]["confirmed"] is True
    back = adapter.parse_return(
        account, InboundRequest("GET", urlsplit(redirect.headers["location"]).query, {}, b"")
    )
    assert back.verified and back.outcome is Outcome.succeeded and back.message == "Giao dịch thành công"

    status = await adapter.query(account, attempt, sim.http)
    assert status.outcome is Outcome.succeeded and status.amount == 150_000
    assert status.provider_transaction_id == ipn.provider_transaction_id

    refund = RefundRequest("RF1", attempt, 50_000, False, "Hoàn phí", sim.clock())
    first = await adapter.refund(account, refund, sim.http)
    assert first.status is RefundStatus.succeeded and first.wire == {"vpc_MerchTxnRef": "RF1"}
    again = await adapter.query_refund(account, refund, first.wire, sim.http)
    assert again.status is RefundStatus.succeeded and again.code == "0"
    duplicate = await adapter.refund(account, refund, sim.http)  # same refund ref: never a second refund
    assert duplicate.status is RefundStatus.failed
    too_much = RefundRequest("RF2", attempt, 100_001, False, "x", sim.clock())
    assert (await adapter.refund(account, too_much, sim.http)).status is RefundStatus.failed
    missing = RefundRequest("RF3", attempt, 1, False, "x", sim.clock())
    assert (await adapter.query_refund(account, missing, {}, sim.http)).status is RefundStatus.failed


async def test_cancelled_payment_and_refund_refused(sim: SimHarness) -> None:
    account = sim_account(sim)
    request = checkout_request()
    result = await adapter.create_checkout(account, request, sim.http)
    assert result.checkout_url is not None
    await pay(sim, result.checkout_url, "cancelled")
    assert adapter.parse_callback(account, sim.callbacks[-1]).outcome is Outcome.cancelled
    attempt = AttemptRef(request.reference, request.amount, request.created_at, wire=result.wire)
    assert (await adapter.query(account, attempt, sim.http)).outcome is Outcome.cancelled
    refund = RefundRequest("RF1", attempt, 150_000, True, "x", sim.clock())
    assert (await adapter.refund(account, refund, sim.http)).status is RefundStatus.failed
    assert (await sim.http.get(result.checkout_url)).status_code == 400  # settled: cannot pay again


async def test_simulator_rejects_bad_hash_and_unknown_merchant(sim: SimHarness) -> None:
    account = sim_account(sim)
    result = await adapter.create_checkout(account, checkout_request(), sim.http)
    assert result.checkout_url is not None
    tampered = result.checkout_url.replace("vpc_Amount=15000000", "vpc_Amount=100")
    assert "vpc_SecureHash" in (await sim.http.get(tampered)).text
    # Title/AgainLink are unsigned: changing them does not break the hash.
    assert (await sim.http.get(result.checkout_url.replace("Title=UBND", "Title=Other"))).status_code == 200
    text_secret = {**CREDS, **API_USER, "hash_secret": SECRET.lower()}
    lower = await adapter.create_checkout(
        replace(account, credentials=text_secret), checkout_request(), sim.http
    )
    assert lower.checkout_url is not None
    assert (await sim.http.get(lower.checkout_url)).status_code == 200  # hex is case-insensitive
    stranger = replace(account, credentials={**CREDS, "merchant": "NOBODY"})
    url = (await adapter.create_checkout(stranger, checkout_request(), sim.http)).checkout_url
    assert url is not None and (await sim.http.get(url)).status_code == 400


async def test_query_and_refund_need_the_api_user(sim: SimHarness) -> None:
    account = sim_account(sim, dict(CREDS))
    attempt = AttemptRef("PB1", 1000, datetime(2026, 11, 21, tzinfo=UTC))
    with pytest.raises(NotSupported):
        await adapter.query(account, attempt, sim.http)
    with pytest.raises(NotSupported):
        await adapter.refund(
            account, RefundRequest("RF1", attempt, 1000, True, "x", attempt.created_at), sim.http
        )
    wrong = replace(account, credentials={**CREDS, "user": "op01", "password": "wrong"})
    sim.add_account("merchant", replace(account, credentials={**CREDS, **API_USER}))
    with pytest.raises(GatewayTechnicalError):  # the simulator answers unsigned
        await adapter.query(wrong, attempt, sim.http)


# --- technical failures -----------------------------------------------------------------------


def signed_text(**fields: str) -> str:
    return php_query([*fields.items(), ("vpc_SecureHash", onepay.sign(SECRET, onepay.hash_data(fields)))])


API_ACCOUNT = account_for(
    {**CREDS, **API_USER},
    {"pay_url": "https://op.test/p", "query_url": "https://op.test/q", "refund_url": "https://op.test/r"},
)
ATTEMPT = AttemptRef("PB7K2M9QX4T8N1ZA", 150_000, datetime(2026, 11, 21, 3, 0, tzinfo=UTC))


async def test_query_request_is_signed_form_without_secrets_in_url() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            text=signed_text(
                vpc_DRExists="Y",
                vpc_MerchTxnRef="PB7K2M9QX4T8N1ZA",
                vpc_Amount="15000000",
                vpc_TxnResponseCode="0",
            ),
        )

    result = await adapter.query(
        API_ACCOUNT, ATTEMPT, httpx.AsyncClient(transport=httpx.MockTransport(handler))
    )
    assert result.outcome is Outcome.succeeded and result.amount == 150_000
    sent = dict(parse_qsl(seen[0].content.decode()))
    assert seen[0].url.query == b"" and "op123456" not in str(seen[0].url)
    assert sent["vpc_Command"] == "queryDR" and sent["vpc_User"] == "op01"
    assert sent["vpc_SecureHash"] == onepay.sign(SECRET, onepay.hash_data(sent))


@pytest.mark.parametrize(
    "handler",
    [
        pytest.param(lambda r: (_ for _ in ()).throw(httpx.ReadTimeout("slow", request=r)), id="timeout"),
        pytest.param(lambda r: httpx.Response(503, text="unavailable"), id="5xx"),
        pytest.param(lambda r: httpx.Response(200, text="{not json"), id="bad-json"),
        pytest.param(lambda r: httpx.Response(200, text="<html>&&&"), id="garbage"),
        pytest.param(
            lambda r: httpx.Response(200, text="vpc_DRExists=Y&vpc_TxnResponseCode=0"), id="unsigned"
        ),
        pytest.param(
            lambda r: httpx.Response(
                200, text=signed_text(vpc_DRExists="Y", vpc_TxnResponseCode="0") + "&vpc_Amount=1"
            ),
            id="bad-signature",
        ),
        pytest.param(
            lambda r: httpx.Response(
                200, text=signed_text(vpc_DRExists="Y", vpc_MerchTxnRef="OTHER", vpc_TxnResponseCode="0")
            ),
            id="other-txn",
        ),
    ],
)
async def test_technical_failures(handler: Any) -> None:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    with pytest.raises(GatewayTechnicalError):
        await adapter.query(API_ACCOUNT, ATTEMPT, http)
