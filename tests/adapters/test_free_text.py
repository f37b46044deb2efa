"""Every gateway request that carries free text, with hostile text (issue 19, item 8).

Each request is checked with an independent reference implementation of the gateway's signing,
written here from the gateway's own samples (not with our signing code), and the free-text field
is checked against the gateway's documented character set and length. For the gateways whose
IPN echoes the text into a signed string, an IPN signed by the reference is accepted.
"""

from __future__ import annotations

import asyncio
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Callable
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit

import httpx
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from app.adapters.base import Account, InboundRequest, Outcome
from app.adapters.common.freetext import safe_text
from app.adapters.emvco import parse_vietqr
from app.adapters.registry import get_spec
from tests.adapters.momo_zalo_harness import checkout_request, make_account

ISSUE_TEXT = "Lệ phí: bản sao #2 (x) ~*!' 50%"
HOSTILE = st.text(
    alphabet=st.sampled_from(
        [
            *"Lệ phí bản sao đĐăâêôơư ABCxyz0189 ~*!'()&=|%#+;?/:.,-_\"<>\\\t\n\r\x00\u202e\u200f",
            "😀",
            "中",
            "\u0301",
        ]
    ),
    max_size=300,
)
# What VNPay documents for vnp_OrderInfo: unaccented letters, digits, spaces, a few marks.
VNPAY_SAFE = re.compile(r"[A-Za-z0-9 .,:\-_/#]*")


def _account(name: str) -> Account:
    spec = get_spec(name)
    return make_account(spec.adapter, dict(spec.example_credentials))


def _run_checkout(
    name: str, description: str, answer: dict[str, object]
) -> tuple[str | None, httpx.Request | None]:
    """Create a checkout at ``name`` with ``description``; the gateway (if called) answers ``answer``."""
    sent: list[httpx.Request] = []

    def gateway(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json=answer)

    async def go() -> str | None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(gateway)) as http:
            result = await get_spec(name).adapter.create_checkout(
                _account(name), checkout_request(description=description), http
            )
        return result.checkout_url or result.qr_payload

    url = asyncio.run(go())
    return url, (sent[0] if sent else None)


# --- reference URL encoders: the four that VNPay's merchants use -----------------------------


def php_urlencode(value: str) -> str:  # PHP urlencode: only A-Za-z0-9-_. unencoded
    return quote_plus(value, safe="").replace("~", "%7E")


def java_urlencoder(value: str) -> str:  # java.net.URLEncoder.encode(value, UTF_8)
    return quote_plus(value, safe="*").replace("~", "%7E")


def js_encode_uri_component(value: str) -> str:  # encodeURIComponent(v).replace(/%20/g, "+")
    return quote(value, safe="!~*'()").replace("%20", "+")


ENCODERS: dict[str, Callable[[str], str]] = {
    "php": php_urlencode,
    "python": quote_plus,  # VNPay's own Python sample (vnpay_python/vnpay.py)
    "java": java_urlencoder,
    "javascript": js_encode_uri_component,
}


def vnpay_reference_hash(params: dict[str, str], secret: str, encode: Callable[[str], str]) -> str:
    """VNPay's samples: sorted keys, ``key=encode(value)`` joined by ``&``, HMAC-SHA512 hex."""
    data = "&".join(f"{k}={encode(v)}" for k, v in sorted(params.items()))
    return hmac.new(secret.encode(), data.encode(), hashlib.sha512).hexdigest()


def test_the_reference_encoders_disagree_on_the_issue_text() -> None:
    """Why the rule exists: the four libraries sign the issue's description four ways."""
    hashes = {
        name: vnpay_reference_hash({"vnp_OrderInfo": ISSUE_TEXT}, "s", enc) for name, enc in ENCODERS.items()
    }
    assert len(set(hashes.values())) == 4


@settings(max_examples=80, deadline=None)
@given(description=HOSTILE)
@example(description=ISSUE_TEXT)
def test_vnpay_pay_url_signs_alike_in_every_client_library_and_their_ipn_is_accepted(
    description: str,
) -> None:
    secret = get_spec("vnpay").example_credentials["hash_secret"]
    url, _ = _run_checkout("vnpay", description, {})
    assert url is not None
    items = parse_qsl(urlsplit(url).query, keep_blank_values=True)
    params = dict(items)
    sent_hash = params.pop("vnp_SecureHash")
    info = params["vnp_OrderInfo"]
    assert VNPAY_SAFE.fullmatch(info) and 0 < len(info) <= 255, info
    for name, encode in ENCODERS.items():
        assert vnpay_reference_hash(params, secret, encode) == sent_hash, name

    # VNPay's IPN echoes vnp_OrderInfo; signed by any of those libraries, we accept it.
    ipn = {
        "vnp_Amount": params["vnp_Amount"],
        "vnp_BankCode": "NCB",
        "vnp_BankTranNo": "VNP14422574",
        "vnp_CardType": "ATM",
        "vnp_OrderInfo": info,
        "vnp_PayDate": "20261121103000",
        "vnp_ResponseCode": "00",
        "vnp_TmnCode": params["vnp_TmnCode"],
        "vnp_TransactionNo": "14422574",
        "vnp_TransactionStatus": "00",
        "vnp_TxnRef": params["vnp_TxnRef"],
    }
    for encode in ENCODERS.values():
        digest = vnpay_reference_hash(ipn, secret, encode)
        query = urlencode([*sorted(ipn.items()), ("vnp_SecureHash", digest)], quote_via=quote)
        note = get_spec("vnpay").adapter.parse_callback(
            _account("vnpay"), InboundRequest("GET", query, {}, b"")
        )
        assert note.verified and note.outcome is Outcome.succeeded


def test_vnpay_the_issue_description_is_sent_as_plain_words() -> None:
    url, _ = _run_checkout("vnpay", ISSUE_TEXT, {})
    assert url is not None
    assert dict(parse_qsl(urlsplit(url).query))["vnp_OrderInfo"] == "Le phi: ban sao #2 x 50"


def onepay_reference_hash(params: dict[str, str], hex_secret: str) -> str:
    """OnePay's PHP sample: ksort; vpc_/user_ keys with non-empty values; raw k=v&…; HMAC-SHA256
    keyed with pack('H*', secret); strtoupper."""
    data = "&".join(
        f"{k}={v}"
        for k, v in sorted(params.items())
        if v and k.startswith(("vpc_", "user_")) and k != "vpc_SecureHash"
    )
    return hmac.new(bytes.fromhex(hex_secret), data.encode(), hashlib.sha256).hexdigest().upper()


@settings(max_examples=80, deadline=None)
@given(description=HOSTILE)
@example(description=ISSUE_TEXT)
def test_onepay_order_info_is_short_plain_and_signed_as_onepay_checks_it(description: str) -> None:
    secret = get_spec("onepay").example_credentials["hash_secret"]
    url, _ = _run_checkout("onepay", description, {})
    assert url is not None
    params = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))  # PHP's $_GET
    info = params["vpc_OrderInfo"]
    assert re.fullmatch(r"[A-Za-z0-9 .,:\-_]{1,34}", info), info
    assert onepay_reference_hash(params, secret) == params["vpc_SecureHash"]
    ipn = {
        k: params[k]
        for k in ("vpc_Merchant", "vpc_MerchTxnRef", "vpc_OrderInfo", "vpc_Amount", "vpc_Version")
    }
    ipn |= {"vpc_Command": "pay", "vpc_TxnResponseCode": "0", "vpc_TransactionNo": "1234567"}
    query = urlencode({**ipn, "vpc_SecureHash": onepay_reference_hash(ipn, secret)})
    note = get_spec("onepay").adapter.parse_callback(
        _account("onepay"), InboundRequest("GET", query, {}, b"")
    )
    assert note.verified and note.outcome is Outcome.succeeded


def momo_reference_signature(body: dict[str, str], access_key: str, secret_key: str) -> str:
    """MoMo's create sample: the fixed alphabetical raw string, HMAC-SHA256 (UTF-8), hex."""
    raw = (
        f"accessKey={access_key}&amount={body['amount']}&extraData={body['extraData']}"
        f"&ipnUrl={body['ipnUrl']}&orderId={body['orderId']}&orderInfo={body['orderInfo']}"
        f"&partnerCode={body['partnerCode']}&redirectUrl={body['redirectUrl']}"
        f"&requestId={body['requestId']}&requestType={body['requestType']}"
    )
    return hmac.new(secret_key.encode(), raw.encode(), hashlib.sha256).hexdigest()


@settings(max_examples=80, deadline=None)
@given(description=HOSTILE)
@example(description=ISSUE_TEXT)
def test_momo_order_info_cannot_shift_fields_of_the_signed_string(description: str) -> None:
    creds = get_spec("momo").example_credentials
    _, sent = _run_checkout(
        "momo", description, {"resultCode": 0, "payUrl": "https://test-payment.momo.vn/x"}
    )
    assert sent is not None
    body = json.loads(sent.content)
    info = body["orderInfo"]
    assert 0 < len(info) <= 200 and not set(info) & set("&=|%~*!'()<>\"\\\x00\u202e"), info
    assert info == " ".join(info.split())
    assert momo_reference_signature(body, creds["access_key"], creds["secret_key"]) == body["signature"]


def test_momo_keeps_vietnamese_words() -> None:
    _, sent = _run_checkout("momo", ISSUE_TEXT, {"resultCode": 0, "payUrl": "https://test-payment.momo.vn/x"})
    assert sent is not None and json.loads(sent.content)["orderInfo"] == "Lệ phí: bản sao #2 x 50"


@settings(max_examples=80, deadline=None)
@given(description=HOSTILE)
@example(description=ISSUE_TEXT)
def test_zalopay_description_is_plain_and_the_order_mac_verifies(description: str) -> None:
    key1 = get_spec("zalopay").example_credentials["key1"]
    _, sent = _run_checkout(
        "zalopay", description, {"return_code": 1, "order_url": "https://qcgateway.zalopay.vn/x"}
    )
    assert sent is not None
    form = dict(parse_qsl(sent.content.decode(), keep_blank_values=True))
    text = form["description"]
    assert 0 < len(text) <= 256 and not set(text) & set("|&=%~*!'()<>\"\\\x00\u202e"), text
    names = ("app_id", "app_trans_id", "app_user", "amount", "app_time", "embed_data", "item")
    expected = hmac.new(key1.encode(), "|".join(form[n] for n in names).encode(), hashlib.sha256).hexdigest()
    assert form["mac"] == expected


@settings(max_examples=80, deadline=None)
@given(description=HOSTILE)
@example(description=ISSUE_TEXT)
def test_dvcqg_init_text_is_unaccented_and_its_checksum_verifies(description: str) -> None:
    secret = get_spec("dvcqg").example_credentials["secret"]
    _, sent = _run_checkout("dvcqg", description, {"MaLoi": "00", "UrlThanhToan": "https://dvcqg.test/pay"})
    assert sent is not None
    message = json.loads(sent.content)
    info = message["ThongTinGiaoDich"]
    assert VNPAY_SAFE.fullmatch(info) and 0 < len(info) <= 255, info
    order = [
        "LoaiBanTin",
        "PhienBan",
        "MaDoiTac",
        "MaThamChieu",
        "SoTien",
        "LoaiHinhThanhToan",
        "MaKenhThanhToan",
        "MaThietBi",
        "NgonNgu",
        "MaTienTe",
        "MaNganHang",
        "ThongTinGiaoDich",
        "ThoiGianGD",
        "Ip",
    ]
    joined = "|".join([*(str(message[k]) for k in order), secret])
    assert message["MaXacThuc"] == hashlib.sha256(joined.encode()).hexdigest()


@settings(max_examples=80, deadline=None)
@given(description=HOSTILE)
@example(description=ISSUE_TEXT)
def test_paygov_order_info_is_unaccented_and_a_callback_echoing_it_verifies(description: str) -> None:
    creds = get_spec("paygov").example_credentials
    _, sent = _run_checkout("paygov", description, {"data": {"url": "https://paygov.test/pay"}})
    assert sent is not None
    message = json.loads(sent.content)
    info = message["orderInfo"]
    assert VNPAY_SAFE.fullmatch(info) and 0 < len(info) <= 255, info
    concat = "".join(
        str(message[k]) for k in ("accessKey", "partnerCode", "orderId", "requestCode", "amount")
    )
    assert message["checksum"] == hashlib.sha256((creds["secret_key"] + concat).encode()).hexdigest()
    callback = {
        "amount": message["amount"],
        "orderId": message["orderId"],
        "orderInfo": info,
        "requestCode": message["requestCode"],
        "transactionNo": "TXN1",
        "payDate": "20261121103000",
        "paygate": "NAPAS",
        "errorCode": "00",
        "type": "PAY",
        "transactionCode": "TC1",
    }
    callback["checksum"] = hashlib.sha256(
        (creds["secret_key"] + "".join(str(v) for v in callback.values())).encode()
    ).hexdigest()
    note = get_spec("paygov").adapter.parse_callback(
        _account("paygov"), InboundRequest("POST", "", {}, json.dumps(callback).encode())
    )
    assert note.verified and note.outcome is Outcome.succeeded


@settings(max_examples=80, deadline=None)
@given(description=HOSTILE)
@example(description=ISSUE_TEXT)
def test_vietqr_purpose_is_ascii_words_with_our_reference_and_the_crc_verifies(description: str) -> None:
    payload, _ = _run_checkout("vietqr", description, {})
    assert payload is not None and payload.isascii()
    body, crc = payload[:-4], payload[-4:]
    assert body.endswith("6304") and f"{binascii.crc_hqx(body.encode(), 0xFFFF):04X}" == crc
    parsed = parse_vietqr(payload)
    assert parsed is not None
    purpose = parsed.purpose or ""
    assert re.fullmatch(r"[A-Za-z0-9 ]{1,25}", purpose) and purpose.startswith(checkout_request().reference)


@pytest.mark.parametrize(
    ("text", "unaccented", "expected"),
    [
        (ISSUE_TEXT, True, "Le phi: ban sao #2 x 50"),
        (ISSUE_TEXT, False, "Lệ phí: bản sao #2 x 50"),
        ("a\u202eb\x00c\td", True, "a b c d"),
        ("  ", True, ""),
        ("Đường 1/2", True, "Duong 1/2"),
    ],
)
def test_safe_text(text: str, unaccented: bool, expected: str) -> None:
    assert safe_text(text, 255, unaccented=unaccented) == expected


def test_safe_text_cuts_at_the_limit_without_a_trailing_space() -> None:
    assert safe_text("abc def", 4) == "abc"
    assert len(safe_text("x" * 500, 255)) == 255
