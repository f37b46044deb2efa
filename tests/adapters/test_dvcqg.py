"""DVCQG adapter: checksums against hashes computed here from the documented field orders,
both INIT answer shapes, TrangThaiGD mapping, the ThoiGianGD trap, and the simulator end to end."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from app.adapters.base import (
    Account,
    AckVerdict,
    AttemptRef,
    Beneficiary,
    Capability,
    CredentialsError,
    GatewayAdapter,
    GatewayLogicalError,
    GatewayTechnicalError,
    InboundRequest,
    LineItem,
    NotSupported,
    Outcome,
    RefundRequest,
)
from app.adapters.dvcqg.adapter import adapter, bill_block, lookup_ok, lookup_reply
from tests.adapters.national_harness import SIM_BASE, NationalHarness, checkout_request
from tests.support import Clock

SECRET = "s3cr3t-dvcqg"
REF = "PB01KAB3CDEFGH23"
T0 = datetime(2026, 11, 21, 3, 0, 0, tzinfo=UTC)  # 10:00:00 in Hà Nội
ACCOUNT = Account(
    id="acc_1",
    credentials={"partner_code": "PBR001", "secret": SECRET},
    settings={
        "init_url": "https://dvc.test/init",
        "query_url": "https://dvc.test/query",
        "bill_url": "https://dvc.test/bill",
        "access_token": "lgsp-token",
    },
    callback_url="https://paybridge.test/v1/callbacks/dvcqg/acc_1",
    return_url="https://paybridge.test/v1/returns/dvcqg/acc_1",
)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def client(answer: Callable[[httpx.Request], httpx.Response], seen: list[httpx.Request]) -> httpx.AsyncClient:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(request)

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


def json_answer(body: Any, status: int = 200) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(status, json=body)


def inbound(body: dict[str, Any]) -> InboundRequest:
    return InboundRequest("POST", "", {"content-type": "application/json"}, json.dumps(body).encode())


def signed_callback(**changes: Any) -> dict[str, Any]:
    message: dict[str, Any] = {
        "LoaiBanTin": "NOTIFY",
        "MaLoi": "00",
        "MaDoiTac": "PBR001",
        "MaThamChieu": REF,
        "SoTien": 50000,
        "MaTienTe": "VND",
        "MaGiaoDich": "DVC123",
        "MaNganHang": "970403",
        "ThoiGianGD": "20261121100000",
        "ThongTinGiaoDich": "Le phi ho tich",
    } | changes
    m = message
    message["MaXacThuc"] = sha(
        f"{m['LoaiBanTin']}|{m['MaLoi']}|{m['MaDoiTac']}|{m['MaThamChieu']}|{m['SoTien']}|{m['MaTienTe']}|"
        f"{m['MaGiaoDich']}|{m['MaNganHang']}|{m['ThoiGianGD']}|{m['ThongTinGiaoDich']}|{SECRET}"
    )
    return message


def test_satisfies_the_contract() -> None:
    assert isinstance(adapter, GatewayAdapter)
    assert Capability.query in adapter.capabilities and Capability.refund not in adapter.capabilities


async def test_init_checksum_and_message() -> None:
    seen: list[httpx.Request] = []
    async with client(json_answer({"MaLoi": "00", "UrlThanhToan": "https://dvc.test/pay/1"}), seen) as http:
        result = await adapter.create_checkout(ACCOUNT, checkout_request(created_at=T0), http)
    sent = json.loads(seen[0].content)
    expected = sha(
        "INIT|1.0.6|PBR001|PB01KAB3CDEFGH23|50000|PAY|1|1|vi-VN|VND|PAYMENT|"
        "Le phi cap ban sao trich luc ho tich|20261121100000|203.0.113.7|s3cr3t-dvcqg"
    )
    assert sent["MaXacThuc"] == expected
    assert sent["SoTien"] == 50000 and sent["ThoiGianGD"] == "20261121100000"
    assert seen[0].headers["authorization"] == "Bearer lgsp-token"
    assert result.checkout_url == "https://dvc.test/pay/1"
    assert result.wire == {"ThoiGianGD": "20261121100000"}
    assert SECRET not in (result.raw_request or "")


@pytest.fixture
def foreign_tz(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "America/Los_Angeles")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("foreign_tz")
async def test_thoigiangd_is_gmt7_whatever_the_server_timezone() -> None:
    assert time.localtime().tm_gmtoff != 7 * 3600
    new_york = datetime(2026, 11, 20, 22, 0, 0, tzinfo=ZoneInfo("America/New_York"))  # = T0
    seen: list[httpx.Request] = []
    async with client(json_answer({"MaLoi": "00", "UrlThanhToan": "https://dvc.test/pay/1"}), seen) as http:
        result = await adapter.create_checkout(ACCOUNT, checkout_request(created_at=new_york), http)
    assert result.wire["ThoiGianGD"] == "20261121100000"
    assert json.loads(seen[0].content)["ThoiGianGD"] == "20261121100000"


@pytest.mark.parametrize(
    "body",
    [
        {"MaLoi": "00", "MoTaLoi": "OK", "UrlThanhToan": "https://dvc.test/pay/9"},
        {"error_code": "0", "message": json.dumps({"MaLoi": "00", "UrlThanhToan": "https://dvc.test/pay/9"})},
        {"error_code": 0, "message": json.dumps({"UrlThanhToan": "https://dvc.test/pay/9"})},
    ],
)
async def test_both_init_answer_shapes(body: dict[str, Any]) -> None:
    async with client(json_answer(body), []) as http:
        result = await adapter.create_checkout(ACCOUNT, checkout_request(created_at=T0), http)
    assert result.checkout_url == "https://dvc.test/pay/9"


@pytest.mark.parametrize(
    ("body", "status", "error", "code"),
    [
        ({"MaLoi": "02", "MoTaLoi": "Sai ma xac thuc"}, 200, GatewayLogicalError, "02"),
        ({"error_code": "-1", "message": "Doi tac bi khoa"}, 200, GatewayLogicalError, "-1"),
        (
            {"error_code": "0", "message": json.dumps({"MaLoi": "04", "MoTaLoi": "Trung"})},
            200,
            GatewayLogicalError,
            "04",
        ),
        ({"error_code": "0", "message": "not json"}, 200, GatewayTechnicalError, None),
        ({"MaLoi": "00"}, 200, GatewayTechnicalError, None),
        ({"unexpected": True}, 400, GatewayTechnicalError, None),
        ({"MaLoi": "00", "UrlThanhToan": "https://x"}, 502, GatewayTechnicalError, None),
    ],
)
async def test_init_refusals_and_garbage(
    body: Any, status: int, error: type[Exception], code: str | None
) -> None:
    async with client(json_answer(body, status), []) as http:
        with pytest.raises(error) as caught:
            await adapter.create_checkout(ACCOUNT, checkout_request(created_at=T0), http)
    if code is not None:
        assert isinstance(caught.value, GatewayLogicalError) and caught.value.code == code


def test_bill_block_is_complete() -> None:
    beneficiary = Beneficiary(
        "7111000123", "Kho bac Nha nuoc Dong Da", bank_bin="970415", treasury_code="0011"
    )
    block = bill_block(checkout_request(created_at=T0, beneficiary=beneficiary))
    assert block["MaDichVu"] == "2"
    assert block["PhiLePhi"] == [
        {"LoaiPhiLePhi": "2", "MaPhiLePhi": "LP-HT-01", "TenPhiLePhi": "Lệ phí hộ tịch", "SoTien": 8000},
        {"LoaiPhiLePhi": "1", "MaPhiLePhi": "P-SAO-01", "TenPhiLePhi": "Phí cấp bản sao", "SoTien": 42000},
    ]
    assert block["DSKhoanNop"] == [
        {"NoiDung": "Lệ phí hộ tịch", "SoTien": 8000},
        {"NoiDung": "Phí sao y 3 bản", "SoTien": 42000},
    ]
    assert (block["TKThuHuong"], block["MaNHThuHuong"], block["TenTKThuHuong"], block["KhoBac"]) == (
        "7111000123", "970415", "Kho bac Nha nuoc Dong Da", "0011"
    )  # fmt: skip
    assert block["TaiKhoanThuNSNN"] == "7111000123"
    assert (block["MaDonVi"], block["TenDonVi"], block["MaHoSo"], block["MaTTHC"]) == (
        "000.00.19.H26", "UBND phường Láng", "000.00.19.H26-261121-0001", "1.001193"
    )  # fmt: skip
    assert (block["HoTenNguoiNop"], block["SoCMNDNguoiNop"]) == ("Nguyễn Văn Ân", "001099012345")
    assert "SoQD" not in block


def test_bill_block_for_fines_and_refusals() -> None:
    fine = [LineItem("PHAT-GT", "Phạt vi phạm giao thông", "phat", 800_000)]
    block = bill_block(checkout_request(created_at=T0, items=fine))
    assert block["MaDichVu"] == "1" and block["PhiLePhi"][0]["LoaiPhiLePhi"] == "1"
    assert (block["MaLoaiHinhThuPhat"], block["SoQD"], block["TenNguoiViPham"]) == (
        "PHAT-GT", "000.00.19.H26-261121-0001", "Nguyễn Văn Ân"
    )  # fmt: skip
    mixed = [*fine, LineItem("LP-HT-01", "Lệ phí hộ tịch", "le_phi", 8_000)]
    with pytest.raises(GatewayLogicalError) as caught:
        bill_block(checkout_request(created_at=T0, items=mixed))
    assert caught.value.code == "mixed_service"
    split = {"LP-HT-01": Beneficiary("1", "A"), "P-SAO-01": Beneficiary("2", "B")}
    with pytest.raises(GatewayLogicalError) as caught:
        bill_block(checkout_request(created_at=T0, beneficiaries=split))
    assert caught.value.code == "split_beneficiaries_unsupported"
    same = {"LP-HT-01": Beneficiary("1", "A"), "P-SAO-01": Beneficiary("1", "A")}
    assert bill_block(checkout_request(created_at=T0, beneficiaries=same))["TKThuHuong"] == "1"


def test_callback_checksum_verified_and_mapped() -> None:
    note = adapter.parse_callback(ACCOUNT, inbound(signed_callback()))
    assert note.verified and note.outcome is Outcome.succeeded
    assert (note.reference, note.amount, note.provider_transaction_id, note.code) == (
        REF,
        50000,
        "DVC123",
        "00",
    )
    failed = adapter.parse_callback(ACCOUNT, inbound(signed_callback(MaLoi="24")))
    assert failed.verified and failed.outcome is Outcome.failed
    short = adapter.parse_callback(ACCOUNT, inbound(signed_callback(SoTien="40000")))
    assert short.verified and short.amount == 40000  # the pipeline sees the wrong amount


def test_tampered_or_foreign_callback_is_not_verified() -> None:
    tampered = signed_callback() | {"SoTien": 5000000}
    assert not adapter.parse_callback(ACCOUNT, inbound(tampered)).verified
    assert not adapter.parse_callback(ACCOUNT, inbound(signed_callback(MaDoiTac="OTHER"))).verified
    assert not adapter.parse_callback(ACCOUNT, inbound(signed_callback() | {"MaXacThuc": None})).verified
    with pytest.raises(GatewayTechnicalError):
        adapter.parse_callback(ACCOUNT, InboundRequest("POST", "", {}, b"not json"))


@pytest.mark.parametrize(
    ("verdict", "code"),
    [
        (AckVerdict.accepted, "00"),
        (AckVerdict.already_processed, "00"),
        (AckVerdict.invalid_signature, "99"),
        (AckVerdict.not_found, "99"),
        (AckVerdict.amount_mismatch, "99"),
        (AckVerdict.error, "99"),
    ],
)
def test_acknowledge(verdict: AckVerdict, code: str) -> None:
    note = adapter.parse_callback(ACCOUNT, inbound(signed_callback()))
    reply = adapter.acknowledge(ACCOUNT, note, verdict)
    body = json.loads(reply.body)
    assert set(body) == {"MaLoi", "MoTaLoi", "MaDoiTac", "MaThamChieu", "ThoiGianGD", "MaXacThuc"}
    assert (body["MaLoi"], body["MaDoiTac"], body["MaThamChieu"], body["ThoiGianGD"]) == (
        code, "PBR001", REF, "20261121100000"
    )  # fmt: skip
    assert body["MaXacThuc"] == sha(f"{code}|PBR001|{REF}|20261121100000|{SECRET}")


def test_return_secure_code() -> None:
    good = sha(f"{REF}|00|{SECRET}")
    note = adapter.parse_return(
        ACCOUNT, InboundRequest("GET", f"data={REF}&responseCode=00&secureCode={good}", {}, b"")
    )
    assert note.verified and note.outcome is Outcome.succeeded and note.reference == REF
    forged = InboundRequest(
        "GET", f"data={REF}&responseCode=00&secureCode={sha(f'{REF}|24|{SECRET}')}", {}, b""
    )
    assert not adapter.parse_return(ACCOUNT, forged).verified


def query_answer(state: str, code: str = "00", **changes: Any) -> dict[str, Any]:
    return signed_callback(LoaiBanTin="QUERY", MaLoi=code) | {"TrangThaiGD": state} | changes


ATTEMPT = AttemptRef(REF, 50000, T0, wire={"ThoiGianGD": "20261121100000"})


@pytest.mark.parametrize(
    ("state", "code", "outcome"),
    [
        ("1", "00", Outcome.succeeded),
        ("3", "09", Outcome.pending),
        ("4", "51", Outcome.failed),
        ("7", "00", Outcome.unknown),
    ],
)
async def test_query_checksum_and_trangthaigd(state: str, code: str, outcome: Outcome) -> None:
    seen: list[httpx.Request] = []
    async with client(json_answer(query_answer(state, code)), seen) as http:
        result = await adapter.query(ACCOUNT, ATTEMPT, http)
    sent = json.loads(seen[0].content)
    assert sent["MaXacThuc"] == sha(f"QUERY|1.0.6|PBR001|{REF}|20261121100000|{SECRET}")
    assert result.outcome is outcome and result.amount == 50000 and result.provider_transaction_id == "DVC123"


async def test_query_answer_must_verify_and_match() -> None:
    forged = query_answer("1") | {"SoTien": 1}
    async with client(json_answer(forged), []) as http:
        with pytest.raises(GatewayTechnicalError):
            await adapter.query(ACCOUNT, ATTEMPT, http)
    other = signed_callback(LoaiBanTin="QUERY", MaThamChieu="PB0000000000000X") | {"TrangThaiGD": "1"}
    async with client(json_answer(other), []) as http:
        with pytest.raises(GatewayTechnicalError):
            await adapter.query(ACCOUNT, ATTEMPT, http)
    async with client(json_answer({"MaLoi": "05", "MoTaLoi": "Khong tim thay"}), []) as http:
        with pytest.raises(GatewayLogicalError):
            await adapter.query(ACCOUNT, ATTEMPT, http)


async def test_get_bill_checksum_and_both_answers() -> None:
    seen: list[httpx.Request] = []
    pdf = b"%PDF-1.4\n...%%EOF"
    async with client(
        lambda r: httpx.Response(200, content=pdf, headers={"content-type": "application/pdf"}), seen
    ) as http:
        assert await adapter.get_bill(ACCOUNT, ATTEMPT, http) == (pdf, None)
    sent = json.loads(seen[0].content)
    assert sent["LoaiBanTin"] == "GET_BILL" and sent["ThoiGianGD"] == "20261121100000"
    assert sent["MaXacThuc"] == sha(f"GET_BILL|1.0.6|PBR001|{REF}|20261121100000|{SECRET}")
    async with client(json_answer({"MaLoi": "00", "UrlBienLai": "https://dvc.test/bl/1.pdf"}), []) as http:
        assert await adapter.get_bill(ACCOUNT, ATTEMPT, http) == (None, "https://dvc.test/bl/1.pdf")
    async with client(json_answer({"MaLoi": "07", "MoTaLoi": "Chua thanh toan"}), []) as http:
        with pytest.raises(GatewayLogicalError):
            await adapter.get_bill(ACCOUNT, ATTEMPT, http)


async def test_refunds_not_supported() -> None:
    request = RefundRequest("rf_1", ATTEMPT, 50000, True, "duplicate", T0)
    with pytest.raises(NotSupported):
        await adapter.refund(ACCOUNT, request, httpx.AsyncClient())


def test_validate_account() -> None:
    creds, settings = adapter.validate_account(
        {"partner_code": " PBR001 ", "secret": "x"}, adapter.default_settings("http://sim.test/sandbox/dvcqg")
    )
    assert creds == {"partner_code": "PBR001", "secret": "x"}
    assert settings["query_url"] == "http://sim.test/sandbox/dvcqg/query" and settings["access_token"] is None
    with pytest.raises(CredentialsError) as caught:
        adapter.validate_account({"partner_code": "P"}, {"init_url": "ftp://x"})
    assert set(caught.value.errors) == {
        "credentials.secret", "settings.init_url", "settings.query_url", "settings.bill_url"
    }  # fmt: skip


def test_bill_lookup_helpers() -> None:
    lookup = {"LoaiBanTin": "TRA_CUU_HS", "PhienBan": "1.0.6", "MaDoiTac": "PBR001", "MaHoSo": "H26-0001"}
    lookup |= {"ThoiGianGD": "20261121100500"}
    lookup["MaXacThuc"] = sha(f"TRA_CUU_HS|1.0.6|PBR001|H26-0001|20261121100500|{SECRET}")
    assert lookup_ok(ACCOUNT, lookup)
    assert not lookup_ok(ACCOUNT, lookup | {"MaHoSo": "H26-0002"})
    outer = json.loads(lookup_reply(ACCOUNT, lookup, checkout_request(created_at=T0)).body)
    inner = json.loads(outer["message"])
    assert outer["error_code"] == "0" and inner["ThongTinBienLai"]["MaHoSo"] == "000.00.19.H26-261121-0001"
    assert inner["MaXacThuc"] == sha(
        f"00|PBR001|000.00.19.H26-261121-0001|{REF}|50000|20261121100500|{SECRET}"
    )
    assert json.loads(lookup_reply(ACCOUNT, lookup, None).body)["error_code"] == "-1"


# --- end to end through the simulator --------------------------------------------------------


@pytest.fixture
async def sim(clock: Clock) -> AsyncIterator[NationalHarness]:
    harness = NationalHarness("dvcqg", adapter, clock)
    yield harness
    await harness.aclose()


async def test_end_to_end_success(sim: NationalHarness) -> None:
    account = sim.add_account({"partner_code": "PBR001", "secret": SECRET})
    request = checkout_request(created_at=T0)
    result = await adapter.create_checkout(account, request, sim.http)
    assert (result.checkout_url or "").startswith(f"{SIM_BASE}/dvcqg/pay/")
    attempt = AttemptRef(REF, request.amount, request.created_at, wire=result.wire)
    assert (await adapter.query(account, attempt, sim.http)).outcome is Outcome.pending

    page = await sim.http.get(result.checkout_url or "")
    assert page.status_code == 200 and REF in page.text and "50.000" in page.text
    done = await sim.http.post(result.checkout_url or "", data={"outcome": "success"})
    assert done.status_code == 303

    [captured] = sim.callbacks
    note = captured.notification
    assert note is not None and note.verified and note.outcome is Outcome.succeeded
    assert (note.reference, note.amount) == (REF, 50000)
    assert json.loads(sim.ctx.store("dvcqg")[REF]["callbacks"][0]["body"])["MaLoi"] == "00"

    location = httpx.URL(done.headers["location"])
    assert str(location).startswith(account.return_url)
    back = adapter.parse_return(account, InboundRequest("GET", location.query.decode(), {}, b""))
    assert back.verified and back.outcome is Outcome.succeeded and back.reference == REF

    status = await adapter.query(account, attempt, sim.http)
    assert (
        status.outcome is Outcome.succeeded and status.provider_transaction_id == note.provider_transaction_id
    )

    pdf, url = await adapter.get_bill(account, attempt, sim.http)
    assert url is None and pdf is not None and pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    json_account = sim.add_account(
        {"partner_code": "PBR001", "secret": SECRET},
        {"bill_url": f"{SIM_BASE}/dvcqg/bill?format=json"},
        account_id="acc_json",
    )
    pdf, url = await adapter.get_bill(json_account, attempt, sim.http)
    assert pdf is None and url is not None
    assert (await sim.http.get(url)).content.startswith(b"%PDF-")

    tampered = json.loads(captured.request.body) | {"SoTien": 1000}
    assert not adapter.parse_callback(account, inbound(tampered)).verified


async def test_end_to_end_failure_and_wrapped_shape(sim: NationalHarness) -> None:
    account = sim.add_account({"partner_code": "PBR002", "secret": SECRET}, {"simulator_wrapped": True})
    request = checkout_request(created_at=T0)
    result = await adapter.create_checkout(account, request, sim.http)
    assert "error_code" in (result.raw_response or "")
    await sim.http.post(result.checkout_url or "", data={"outcome": "failed"})
    note = sim.callbacks[0].notification
    assert note is not None and note.verified and note.outcome is Outcome.failed
    attempt = AttemptRef(REF, request.amount, request.created_at, wire=result.wire)
    assert (await adapter.query(account, attempt, sim.http)).outcome is Outcome.failed
    with pytest.raises(GatewayLogicalError):
        await adapter.get_bill(account, attempt, sim.http)


async def test_simulator_rejects_a_wrong_checksum(sim: NationalHarness) -> None:
    sim.add_account({"partner_code": "PBR001", "secret": SECRET})
    wrong = Account(
        "acc_x",
        {"partner_code": "PBR001", "secret": "not-the-secret"},
        sim.accounts["acc_1"].settings,
        "",
        "",
    )
    with pytest.raises(GatewayLogicalError) as caught:
        await adapter.create_checkout(wrong, checkout_request(created_at=T0), sim.http)
    assert caught.value.code == "02"


async def test_trap_query_repeats_original_thoigiangd(sim: NationalHarness, clock: Clock) -> None:
    account = sim.add_account({"partner_code": "PBR001", "secret": SECRET})
    request = checkout_request(created_at=T0)
    result = await adapter.create_checkout(account, request, sim.http)
    clock.advance(minutes=20)
    # The stored attempt row was written a second later than the INIT: only the wire string is exact.
    stored = AttemptRef(REF, request.amount, T0 + timedelta(seconds=1), wire=result.wire)
    assert (await adapter.query(account, stored, sim.http)).outcome is Outcome.pending
    sent = [json.loads(r.content) for r in sim.transport.requests if r.url.path.endswith("/query")]
    assert sent[-1]["ThoiGianGD"] == "20261121100000" == result.wire["ThoiGianGD"]
    await sim.http.post(result.checkout_url or "", data={"outcome": "success"})
    pdf, _ = await adapter.get_bill(account, stored, sim.http)
    assert pdf is not None
    sent = [json.loads(r.content) for r in sim.transport.requests if r.url.path.endswith("/bill")]
    assert sent[-1]["ThoiGianGD"] == "20261121100000"
    # Re-deriving the time from the stored row instead is refused by the platform.
    with pytest.raises(GatewayLogicalError) as caught:
        await adapter.query(account, AttemptRef(REF, request.amount, stored.created_at), sim.http)
    assert caught.value.code == "06"
