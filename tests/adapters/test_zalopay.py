"""ZaloPay adapter and simulator: vectors, traps, mapping tables, round trips, the full loop."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

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
from app.adapters.zalopay.adapter import (
    RETURN_FIELDS,
    adapter,
    app_trans_id,
    create_hmac_input,
    mac,
    reference_from_app_trans_id,
    refund_id,
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

# vectors.json, provider "zalopay" (copied, never read at run time).
CREATE_VECTOR: dict[str, Any] = {
    "inputs": {
        "app_id": 553,
        "app_trans_id": "200904_000234",
        "app_user": "user123",
        "amount": 10000,
        "app_time": 1599202366026,
        "embed_data": "{}",
        "item": "[]",
    },
    "secret": "9phuAOYhan4urywHTh0ndEXiV3pKHr5Q",
    "hmac_input": "553|200904_000234|user123|10000|1599202366026|{}|[]",
    "mac": "7e95836a9feace32458f23416feea423172ef0a098f27a668a1e10788b5a6838",
}
CALLBACK_VECTOR: dict[str, Any] = {
    "data": '{"app_id":2553,"app_trans_id":"200904_2553_1598435687208","app_time":1599189392817,'
    '"app_user":"demo","amount":10000,"embed_data":"{\\"merchantinfo\\":\\"embeddata123\\",'
    '\\"promotioninfo\\":\\"\\"}","item":"[{\\"itemid\\":\\"knb\\",\\"itemname\\":\\"kim nguyen bao\\",'
    '\\"itemprice\\":198400,\\"itemquantity\\":1}]","zp_trans_id":200904000000389,"server_time":1599189413498,'
    '"channel":38,"merchant_user_id":"7ZMSl3nEg5sOUJzOLSoUFT8xKNQVaLOLXHB--8Eytqc","user_fee_amount":0,'
    '"discount_amount":0}',
    "mac": "d8d33baf449b31d7f9b94fa50d7c942c08cd4d83f28fa185557da21acb104f67",
    "secret": "kLtgPl8HHhfvMuDHPwKfgfsY4Ydm9eIz",
    "handler_reply": {"return_code": 1, "return_message": "success"},
}
CREDS = {"app_id": "2553", "key1": "PcY4iZIKFCIdgZvA6ueMcMHHUbRLYjPL", "key2": CALLBACK_VECTOR["secret"]}
VN_TEXT = "aăâđêôơưàảãáạằẳẵắặầẩẫấậèẻẽéẹềểễếệìỉĩíịòỏõóọồổỗốộờởỡớợùủũúụừửữứựỳỷỹýỵĐÂ ~*!'()&=+%#|\"\\{}"


@pytest.fixture
def account() -> Account:
    return make_account(adapter, CREDS)


@pytest.fixture
async def sim(account: Account, clock: Clock) -> AsyncIterator[SimHarness]:
    harness = SimHarness("zalopay", adapter, account, "app_id", clock)
    yield harness
    await harness.aclose()


def callback(data: str, key: str = CREDS["key2"], **extra: Any) -> InboundRequest:
    body = {"data": data, "mac": hmac.new(key.encode(), data.encode(), hashlib.sha256).hexdigest(), "type": 1}
    return InboundRequest(
        "POST", "", {"content-type": "application/json"}, json.dumps({**body, **extra}).encode()
    )


def mock_client(handler: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


def form_of(request: httpx.Request) -> dict[str, str]:
    return dict(parse_qsl(request.content.decode(), keep_blank_values=True))


# --- vectors -------------------------------------------------------------------------------


def test_vector_create_order_hmac_input_and_mac() -> None:
    assert create_hmac_input(CREATE_VECTOR["inputs"]) == CREATE_VECTOR["hmac_input"]
    assert mac(CREATE_VECTOR["secret"], CREATE_VECTOR["hmac_input"]) == CREATE_VECTOR["mac"]


def test_vector_callback_verify_and_handler_reply(account: Account) -> None:
    request = InboundRequest(
        "POST",
        "",
        {"content-type": "application/json"},
        json.dumps({"data": CALLBACK_VECTOR["data"], "mac": CALLBACK_VECTOR["mac"], "type": 1}).encode(),
    )
    note = adapter.parse_callback(account, request)
    assert note.verified and note.outcome is Outcome.succeeded
    assert note.reference == "2553_1598435687208" and note.amount == 10000
    assert note.provider_transaction_id == "200904000000389"
    assert note.paid_at == datetime.fromtimestamp(1599189413.498, tz=UTC)
    reply = adapter.acknowledge(account, note, AckVerdict.accepted)
    assert reply.status_code == 200 and json.loads(reply.body) == CALLBACK_VECTOR["handler_reply"]


def test_adapter_satisfies_the_contract() -> None:
    assert isinstance(adapter, GatewayAdapter)
    assert adapter.default_settings(None) == {"endpoint": "https://sb-openapi.zalopay.vn"}
    assert adapter.default_settings("http://x/sandbox/zalopay/") == {"endpoint": "http://x/sandbox/zalopay"}
    with pytest.raises(CredentialsError) as exc:
        adapter.validate_account({"app_id": "abc", "key1": "k"}, {"endpoint": "nope"})
    assert set(exc.value.errors) == {"credentials.key2"}
    with pytest.raises(CredentialsError) as exc2:
        adapter.validate_account({**CREDS, "app_id": "abc"}, {"endpoint": "nope"})
    assert set(exc2.value.errors) == {"credentials.app_id", "settings.endpoint"}


# --- traps (GATEWAYS.md) -------------------------------------------------------------------


async def test_trap_zalopay_sign_exact_json_text_of_item_and_embed_data(
    account: Account, sim: SimHarness
) -> None:
    await adapter.create_checkout(account, checkout_request(), sim.client)
    sent = form_of(sim.transport.requests[0])
    assert sent["item"] == "[]"
    assert json.loads(sent["embed_data"]) == {"redirecturl": account.return_url}
    text = "|".join(
        sent[n] for n in ("app_id", "app_trans_id", "app_user", "amount", "app_time", "embed_data", "item")
    )
    assert sent["mac"] == mac(CREDS["key1"], text)
    # Same JSON value, different text (spaces): the mac no longer matches and ZaloPay says -402.
    respaced = {**sent, "embed_data": json.dumps(json.loads(sent["embed_data"]), indent=1)}
    assert json.loads(respaced["embed_data"]) == json.loads(sent["embed_data"])
    answer = await sim.client.post(f"{SIM_ORIGIN}/sandbox/zalopay/v2/create", data=respaced)
    assert (answer.json()["return_code"], answer.json()["sub_return_code"]) == (2, -402)


def test_trap_zalopay_verify_mac_before_parsing_data(account: Account) -> None:
    # A bad mac over text that is not even JSON: rejected, never parsed (no error raised).
    forged = InboundRequest(
        "POST", "", {}, json.dumps({"data": "{not json", "mac": "00", "type": 1}).encode()
    )
    assert adapter.parse_callback(account, forged).verified is False
    # The same text with a valid mac is parsed, and only then found to be garbage.
    with pytest.raises(GatewayTechnicalError):
        adapter.parse_callback(account, callback("{not json"))
    # A mac made with key1 (the wrong key) is rejected.
    assert (
        adapter.parse_callback(account, callback(CALLBACK_VECTOR["data"], key=CREDS["key1"])).verified
        is False
    )


async def test_trap_zalopay_app_trans_id_date_is_gmt7(
    account: Account, sim: SimHarness, clock: Clock
) -> None:
    late = datetime(2026, 11, 21, 23, 30, tzinfo=UTC)  # already 22 November in Vietnam
    assert app_trans_id(late, "PB7K2M9Q4X1Z8C3V") == "261122_PB7K2M9Q4X1Z8C3V"
    assert app_trans_id(datetime(2026, 11, 21, 16, 59, tzinfo=UTC), "R") == "261121_R"
    clock.now = late
    result = await adapter.create_checkout(account, checkout_request(created_at=late), sim.client)
    assert result.wire["app_trans_id"] == "261122_PB7K2M9Q4X1Z8C3V"
    assert result.wire["app_time"] == str(int(late.timestamp() * 1000))
    # The simulator, like ZaloPay, refuses a UTC-dated id at that moment.
    sent = form_of(sim.transport.requests[0])
    utc_dated = {**sent, "app_trans_id": "261121_PB7K2M9Q4X1Z8C3W"}
    text = "|".join(utc_dated[n] for n in ("app_id", "app_trans_id", "app_user", "amount", "app_time"))
    utc_dated["mac"] = mac(CREDS["key1"], f"{text}|{sent['embed_data']}|{sent['item']}")
    answer = await sim.client.post(f"{SIM_ORIGIN}/sandbox/zalopay/v2/create", data=utc_dated)
    assert (answer.json()["return_code"], answer.json()["sub_return_code"]) == (2, -401)


def test_trap_zalopay_reference_is_app_trans_id_without_date_prefix() -> None:
    assert reference_from_app_trans_id("261122_PB7K2M9Q4X1Z8C3V") == "PB7K2M9Q4X1Z8C3V"
    assert reference_from_app_trans_id("200904_2553_1598435687208") == "2553_1598435687208"
    assert reference_from_app_trans_id("PB7K2M9Q4X1Z8C3V") is None
    assert reference_from_app_trans_id("2611_X") is None


def test_trap_zalopay_refund_id_is_yymmdd_appid_xxx_in_gmt7() -> None:
    assert refund_id(datetime(2026, 11, 21, 23, 30, tzinfo=UTC), "2553", "RF-0001") == "261122_2553_RF0001"
    assert len(refund_id(datetime(2026, 1, 1, tzinfo=UTC), "2553", "X" * 80)) == 45


async def test_trap_zalopay_query_mac_ends_with_key1(account: Account) -> None:
    seen: list[dict[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(form_of(request))
        return httpx.Response(200, json={"return_code": 3, "return_message": "pending"})

    attempt = AttemptRef("R1", 1000, datetime(2026, 11, 21, tzinfo=UTC), {"app_trans_id": "261121_R1"})
    await adapter.query(account, attempt, mock_client(handler))
    assert seen[0]["mac"] == mac(CREDS["key1"], f"2553|261121_R1|{CREDS['key1']}")
    assert CREDS["key1"] not in json.dumps(seen)  # the key is signed, never sent


def test_trap_zalopay_callback_answers(account: Account) -> None:
    answers = {v: json.loads(adapter.acknowledge(account, None, v).body) for v in AckVerdict}
    assert answers[AckVerdict.accepted] == {"return_code": 1, "return_message": "success"}
    assert answers[AckVerdict.already_processed] == {"return_code": 1, "return_message": "success"}
    assert answers[AckVerdict.invalid_signature]["return_code"] == -1
    assert answers[AckVerdict.error]["return_code"] == 0  # ZaloPay calls back again
    assert answers[AckVerdict.not_found]["return_code"] == -1
    assert answers[AckVerdict.amount_mismatch]["return_code"] == -1


# --- result codes ---------------------------------------------------------------------------

QUERY_TABLE: list[tuple[dict[str, Any], Outcome | type[Exception]]] = [
    (
        {"return_code": 1, "amount": 50000, "zp_trans_id": 261121000000001, "server_time": 1},
        Outcome.succeeded,
    ),
    ({"return_code": 3, "is_processing": True}, Outcome.pending),
    ({"return_code": 3, "is_processing": False}, Outcome.pending),
    ({"return_code": 2, "sub_return_code": -1}, Outcome.failed),
    ({"return_code": 2}, Outcome.failed),
    ({"return_code": 2, "sub_return_code": -54}, Outcome.expired),
    ({"return_code": 2, "sub_return_code": -49}, Outcome.cancelled),
    ({"return_code": 2, "sub_return_code": -401}, GatewayLogicalError),
    ({"return_code": 2, "sub_return_code": -402}, GatewayLogicalError),
    ({"return_code": 2, "sub_return_code": -429}, GatewayTechnicalError),
    ({"return_code": 2, "sub_return_code": -500}, GatewayTechnicalError),
    ({"return_code": 2, "sub_return_code": -999}, GatewayTechnicalError),
    ({"return_code": 7}, Outcome.unknown),
    ({"return_code": "x"}, Outcome.unknown),
]


@pytest.mark.parametrize(("answer", "expected"), QUERY_TABLE)
async def test_query_mapping(account: Account, answer: dict[str, Any], expected: Any) -> None:
    http = mock_client(lambda r: httpx.Response(200, json=answer))
    attempt = AttemptRef("R1", 50000, datetime(2026, 11, 21, tzinfo=UTC))
    if isinstance(expected, Outcome):
        result = await adapter.query(account, attempt, http)
        assert result.outcome is expected
        if expected is Outcome.succeeded:
            assert (result.amount, result.provider_transaction_id) == (50000, "261121000000001")
    else:
        with pytest.raises(expected):
            await adapter.query(account, attempt, http)


REFUND_TABLE: list[tuple[dict[str, Any], RefundStatus | type[Exception]]] = [
    ({"return_code": 1}, RefundStatus.succeeded),
    ({"return_code": 3, "refund_id": 1}, RefundStatus.pending),
    ({"return_code": 2, "sub_return_code": -13}, RefundStatus.failed),
    ({"return_code": 2, "sub_return_code": -500}, GatewayTechnicalError),
    ({"return_code": 9}, GatewayTechnicalError),
]


@pytest.mark.parametrize(("answer", "expected"), REFUND_TABLE)
async def test_refund_and_refund_query_mapping(
    account: Account, answer: dict[str, Any], expected: Any
) -> None:
    http = mock_client(lambda r: httpx.Response(200, json=answer))
    attempt = AttemptRef("R1", 50000, datetime(2026, 11, 21, tzinfo=UTC), {}, "261121000000001")
    refund = RefundRequest("RF1", attempt, 50000, True, "hoàn", datetime(2026, 11, 21, tzinfo=UTC))
    for call in (adapter.refund(account, refund, http), adapter.query_refund(account, refund, {}, http)):
        if isinstance(expected, RefundStatus):
            assert (await call).status is expected
        else:
            with pytest.raises(expected):
                await call


def test_return_status_mapping(account: Account) -> None:
    for status, outcome in (("1", Outcome.succeeded), ("-49", Outcome.cancelled), ("2", Outcome.unknown)):
        params = {"appid": "2553", "apptransid": "261121_R1", "pmcid": "38", "bankcode": ""}
        params.update(amount="50000", discountamount="0", status=status)
        params["checksum"] = mac(CREDS["key2"], "|".join(params[n] for n in RETURN_FIELDS))
        note = adapter.parse_return(account, InboundRequest("GET", urlencode(params), {}, b""))
        assert note.verified and note.outcome is outcome and note.reference == "R1"


# --- hypothesis round trips -----------------------------------------------------------------

texts = st.text(alphabet=st.sampled_from(VN_TEXT), max_size=60)


@settings(max_examples=60, deadline=None)
@given(
    description=texts, merchant_info=texts, amount=st.integers(1_000, 10**9), position=st.integers(0, 10**6)
)
def test_callback_round_trip_and_any_tamper_rejected(
    description: str, merchant_info: str, amount: int, position: int
) -> None:
    account = make_account(adapter, CREDS)
    embed = json.dumps(
        {"redirecturl": "https://a.vn/r?x=1&y=2", "merchantinfo": merchant_info}, ensure_ascii=False
    )
    data = json.dumps(
        {"app_id": 2553, "app_trans_id": "261121_PB1", "amount": amount, "embed_data": embed, "item": "[]",
         "description": description, "zp_trans_id": 261121000000001, "server_time": 1},
        ensure_ascii=False,
    )  # fmt: skip
    note = adapter.parse_callback(account, callback(data))
    assert note.verified and note.amount == amount and note.reference == "PB1"
    i = position % len(data)
    tampered = data[:i] + ("0" if data[i] != "0" else "1") + data[i + 1 :]
    good_mac = json.loads(callback(data).body)["mac"]
    forged = InboundRequest(
        "POST", "", {}, json.dumps({"data": tampered, "mac": good_mac, "type": 1}).encode()
    )
    assert adapter.parse_callback(account, forged).verified is False


@settings(max_examples=60, deadline=None)
@given(
    bankcode=st.sampled_from(["", "VTB", "CC"]),
    amount=st.integers(1_000, 10**9),
    field=st.sampled_from(RETURN_FIELDS),
)
def test_return_checksum_round_trip_and_any_tamper_rejected(bankcode: str, amount: int, field: str) -> None:
    account = make_account(adapter, CREDS)
    params = {"appid": "2553", "apptransid": "261121_PB1", "pmcid": "38", "bankcode": bankcode,
              "amount": str(amount), "discountamount": "0", "status": "1"}  # fmt: skip
    params["checksum"] = mac(CREDS["key2"], "|".join(params[n] for n in RETURN_FIELDS))
    assert adapter.parse_return(account, InboundRequest("GET", urlencode(params), {}, b"")).verified
    params[field] += "9"
    assert adapter.parse_return(account, InboundRequest("GET", urlencode(params), {}, b"")).verified is False


# --- network failures and the simulator's own verification -----------------------------------


@pytest.mark.parametrize(
    "failure",
    [
        lambda r: (_ for _ in ()).throw(httpx.ReadTimeout("slow", request=r)),
        lambda r: (_ for _ in ()).throw(httpx.ConnectError("down", request=r)),
        lambda r: httpx.Response(503, text="unavailable"),
        lambda r: httpx.Response(200, text="<html>maintenance</html>"),
        lambda r: httpx.Response(200, json=[1, 2]),
    ],
)
async def test_technical_failures(account: Account, failure: Any) -> None:
    http = mock_client(failure)
    attempt = AttemptRef("R1", 50000, datetime(2026, 11, 21, tzinfo=UTC), {}, "261121000000001")
    refund = RefundRequest("RF1", attempt, 50000, True, "hoàn", datetime(2026, 11, 21, tzinfo=UTC))
    with pytest.raises(GatewayTechnicalError):
        await adapter.create_checkout(account, checkout_request(), http)
    with pytest.raises(GatewayTechnicalError):
        await adapter.query(account, attempt, http)
    with pytest.raises(GatewayTechnicalError):
        await adapter.refund(account, refund, http)
    with pytest.raises(GatewayTechnicalError):
        await adapter.query_refund(account, refund, {}, http)


async def test_create_with_bad_mac_is_rejected_by_the_simulator(sim: SimHarness) -> None:
    forged = make_account(adapter, {**CREDS, "key1": "not-key1"})
    with pytest.raises(GatewayLogicalError) as exc:
        await adapter.create_checkout(forged, checkout_request(), sim.client)
    assert exc.value.code == "-402"
    assert sim.ctx.store("zalopay")["orders"] == {}


async def test_duplicate_app_trans_id_is_a_logical_error(account: Account, sim: SimHarness) -> None:
    await adapter.create_checkout(account, checkout_request(), sim.client)
    with pytest.raises(GatewayLogicalError) as exc:
        await adapter.create_checkout(account, checkout_request(), sim.client)
    assert exc.value.code == "-68"


# --- the full loop --------------------------------------------------------------------------


async def pay(sim: SimHarness, url: str, outcome: str) -> httpx.Response:
    page = await sim.client.get(url)
    assert page.status_code == 200 and 'value="cancelled"' in page.text and "<script" not in page.text
    return await sim.client.post(url, data={"outcome": outcome})


async def test_full_loop_pay_callback_query_refund(account: Account, sim: SimHarness) -> None:
    request = checkout_request(description="Lệ phí <i>hộ tịch</i>")
    result = await adapter.create_checkout(account, request, sim.client)
    assert result.wire["app_trans_id"] == "261121_" + request.reference and result.wire["zp_trans_token"]
    sent = form_of(sim.transport.requests[0])
    assert sent["callback_url"] == account.callback_url and sent["amount"] == "50000"
    page = (await sim.client.get(result.checkout_url or "")).text
    # Markup never reaches ZaloPay: the description is sent as words (the page shows it as text).
    assert sent["description"] == "Lệ phí i hộ tịch /i"
    assert "Lệ phí i hộ tịch /i" in page and "<i>" not in page

    redirect = await pay(sim, result.checkout_url or "", "success")
    assert redirect.status_code == 303 and redirect.headers["location"].startswith(account.return_url + "?")
    assert len(sim.received) == 1
    note = adapter.parse_callback(account, inbound(sim.received[0]))
    assert note.verified and note.outcome is Outcome.succeeded and note.reference == request.reference
    assert note.amount == 50000 and note.provider_transaction_id
    order = next(iter(sim.ctx.store("zalopay")["orders"].values()))
    assert json.loads(order["callbacks"][0]["body"]) == {"return_code": 1, "return_message": "success"}
    back = adapter.parse_return(account, browser_return(redirect.headers["location"]))
    assert back.verified and back.outcome is Outcome.succeeded and back.reference == request.reference

    attempt = AttemptRef(
        request.reference, 50000, request.created_at, result.wire, note.provider_transaction_id
    )
    status = await adapter.query(account, attempt, sim.client)
    assert status.outcome is Outcome.succeeded and status.amount == 50000
    assert status.provider_transaction_id == note.provider_transaction_id

    refund = RefundRequest("RFD-0001", attempt, 20000, False, "Hoàn phí nộp thừa", request.created_at)
    started = await adapter.refund(account, refund, sim.client)
    assert started.status is RefundStatus.pending and started.wire["m_refund_id"] == "261121_2553_RFD0001"
    again = await adapter.refund(account, refund, sim.client)  # retried: same answer, no second refund
    assert again.wire == started.wire
    done = await adapter.query_refund(account, refund, started.wire, sim.client)
    assert done.status is RefundStatus.succeeded
    too_much = RefundRequest("RFD-0002", attempt, 40000, False, "quá số đã trả", request.created_at)
    assert (await adapter.refund(account, too_much, sim.client)).status is RefundStatus.failed


@pytest.mark.parametrize(
    ("choice", "outcome"), [("failed", Outcome.failed), ("cancelled", Outcome.cancelled)]
)
async def test_trap_zalopay_callback_only_for_paid_orders(
    account: Account, sim: SimHarness, choice: str, outcome: Outcome
) -> None:
    request = checkout_request()
    result = await adapter.create_checkout(account, request, sim.client)
    redirect = await pay(sim, result.checkout_url or "", choice)
    assert sim.received == []  # no callback for an unpaid order
    assert adapter.parse_return(account, browser_return(redirect.headers["location"])).verified
    status = await adapter.query(
        account, AttemptRef(request.reference, 50000, request.created_at, result.wire), sim.client
    )
    assert status.outcome is outcome
