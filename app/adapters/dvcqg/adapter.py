"""DVCQG payment platform (Nền tảng thanh toán của Cổng Dịch vụ công quốc gia), PhienBan 1.0.6.

JSON over POST. ``MaXacThuc`` = lowercase hex SHA-256 (plain hash) of ``|``-joined fields with
the shared secret last; the field orders are the ``*_FIELDS`` tuples below. Our choices where
the platform's documents are silent (each tested):

- ``PhiLePhi.LoaiPhiLePhi``: ``"2"`` for ``le_phi``, ``"1"`` (phí, the platform's generic charge)
  for every other kind. ``MaDichVu`` is ``"1"`` when every item is a fine (``phat``), ``"2"`` when
  none is; a mix cannot be one platform transaction and is refused (``mixed_service``). One
  beneficiary per transaction: ``request.beneficiary``, else the per-item beneficiaries when they
  are all the same account, else refused (``split_beneficiaries_unsupported``).
- Callback: ``MaLoi`` ``"00"`` → succeeded, anything else → failed (the platform sends one only
  for a finished transaction). Its ``ThoiGianGD`` may echo our INIT time, so it is not a payment
  time: ``paid_at`` stays None. A ``MaDoiTac`` other than this account's is unverified.
- Our answer to the callback: ``{MaLoi, MoTaLoi, MaDoiTac, MaThamChieu, ThoiGianGD, MaXacThuc}``,
  ``"00"`` for accepted/already_processed and ``"99"`` otherwise (no finer codes are documented);
  its ``MaXacThuc`` hashes ``MaLoi|MaDoiTac|MaThamChieu|ThoiGianGD|secret`` (``ANSWER_FIELDS``).
- Browser return ``?data&responseCode&secureCode``: ``secureCode`` is taken to hash
  ``data|responseCode|secret`` (the callback hash needs fields the return lacks). A hint only.
- Limits: from 1 000 VND (the smallest fee denomination); no upper limit of our own, the
  platform applies each bank's. Refunds are manual at the platform: no refund API.
- ``ThongTinBienLai`` (:func:`bill_block`): fine-only fields we hold no data for are sent empty;
  ``SoQD`` carries the dossier code and ``TenNguoiViPham`` the payer for fines.
- Bill lookup (pull model, our assumed shape): the platform POSTs ``{LoaiBanTin, PhienBan,
  MaDoiTac, MaHoSo, ThoiGianGD, MaXacThuc}`` hashed over ``LOOKUP_FIELDS`` (:func:`lookup_ok`);
  :func:`lookup_reply` answers the wrapped shape ``{error_code: "0", message: "<JSON text of
  {MaLoi, MaDoiTac, MaHoSo, MaThamChieu, SoTien, ThoiGianGD, ThongTinBienLai, MaXacThuc}>"}``
  (``MaXacThuc`` over ``LOOKUP_ANSWER_FIELDS``), or ``{error_code: "-1", message}`` for none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import httpx
import orjson

from app.adapters.base import (
    HOSTED_PAGE,
    Account,
    AckVerdict,
    AttemptRef,
    Beneficiary,
    Capability,
    CheckoutRequest,
    CheckoutResult,
    GatewayLogicalError,
    GatewayReceipt,
    GatewayTechnicalError,
    InboundRequest,
    Notification,
    Outcome,
    QueryResult,
    ReceiptRequest,
    Reply,
    call_json,
    gmt7,
    post,
)
from app.adapters.common.freetext import safe_text
from app.adapters.common.national import (
    NationalAccounts,
    checksum_matches,
    http_url,
    lgsp_headers,
    sha256_checksum,
)
from app.adapters.common.unsupported import NoRefundApi
from app.adapters.common.wire import json_object, text_value
from app.adapters.dvcqg.wire import Links, Lookup, Result, ReturnParams, Wrapped

PHIEN_BAN = "1.0.6"
INIT_FIELDS = (
    "LoaiBanTin", "PhienBan", "MaDoiTac", "MaThamChieu", "SoTien", "LoaiHinhThanhToan", "MaKenhThanhToan",
    "MaThietBi", "NgonNgu", "MaTienTe", "MaNganHang", "ThongTinGiaoDich", "ThoiGianGD", "Ip",
)  # fmt: skip
CALLBACK_FIELDS = (
    "LoaiBanTin", "MaLoi", "MaDoiTac", "MaThamChieu", "SoTien", "MaTienTe", "MaGiaoDich", "MaNganHang",
    "ThoiGianGD", "ThongTinGiaoDich",
)  # fmt: skip
QUERY_FIELDS = ("LoaiBanTin", "PhienBan", "MaDoiTac", "MaThamChieu", "ThoiGianGD")  # QUERY and GET_BILL
ANSWER_FIELDS = ("MaLoi", "MaDoiTac", "MaThamChieu", "ThoiGianGD")
RETURN_FIELDS = ("data", "responseCode")
LOOKUP_FIELDS = ("LoaiBanTin", "PhienBan", "MaDoiTac", "MaHoSo", "ThoiGianGD")
LOOKUP_ANSWER_FIELDS = ("MaLoi", "MaDoiTac", "MaHoSo", "MaThamChieu", "SoTien", "ThoiGianGD")
_TRANG_THAI = {"1": Outcome.succeeded, "3": Outcome.pending, "4": Outcome.failed}
_ANSWER_TEXT = {
    AckVerdict.accepted: "Thanh cong",
    AckVerdict.already_processed: "Giao dich da duoc xu ly",
    AckVerdict.invalid_signature: "Sai ma xac thuc",
    AckVerdict.not_found: "Khong tim thay giao dich",
    AckVerdict.amount_mismatch: "So tien khong khop",
    AckVerdict.error: "Loi xu ly, vui long gui lai",
}


def checksum(message: Mapping[str, Any], fields: Sequence[str], secret: str) -> str:
    """``MaXacThuc``: SHA-256 hex of the fields joined by ``|`` with the secret last."""
    return sha256_checksum(message, fields, secret, separator="|", secret_first=False)


def checksum_ok(
    message: Mapping[str, Any], fields: Sequence[str], secret: str, key: str = "MaXacThuc"
) -> bool:
    return checksum_matches(message.get(key), checksum(message, fields, secret))


def unwrap(data: dict[str, Any]) -> dict[str, Any]:
    """Accept ``{MaLoi, …}`` and ``{error_code: "0", message: "<JSON text>"}``; raise for a refusal."""
    if "error_code" in data and "MaLoi" not in data:
        wrapped = Wrapped.parse(data)
        if wrapped.error_code != "0":
            raise GatewayLogicalError(text_value(wrapped.message) or "refused", code=wrapped.error_code)
        inner: Any = wrapped.message
        if isinstance(inner, str):
            try:
                inner = orjson.loads(inner)
            except orjson.JSONDecodeError as exc:
                raise GatewayTechnicalError("wrapped message is not JSON") from exc
        if not isinstance(inner, dict):
            raise GatewayTechnicalError("wrapped message is not a JSON object")
        data = inner
    result = Result.parse(data)
    if data.get("MaLoi") is not None and result.MaLoi != "00" and "TrangThaiGD" not in data:
        raise GatewayLogicalError(result.MoTaLoi or "refused", code=result.MaLoi)
    return data


def _beneficiary(request: CheckoutRequest) -> Beneficiary | None:
    if request.beneficiary is not None:
        return request.beneficiary
    distinct = {(b.account_number, b.bank_bin, b.treasury_code): b for b in request.beneficiaries.values()}
    if len(distinct) > 1:
        raise GatewayLogicalError(
            "DVCQG credits one beneficiary account per transaction", code="split_beneficiaries_unsupported"
        )
    return next(iter(distinct.values()), None)


def bill_block(request: CheckoutRequest) -> dict[str, Any]:
    """The complete ``ThongTinBienLai`` for a checkout request (see the module docstring)."""
    fines = [item.kind == "phat" for item in request.items]
    if any(fines) and not all(fines):
        raise GatewayLogicalError("fines and fees cannot share one DVCQG transaction", code="mixed_service")
    if request.items and sum(item.amount for item in request.items) != request.amount:
        raise GatewayLogicalError("line items do not add up to the amount", code="items_mismatch")
    service = "1" if fines and all(fines) else "2"
    ben, payer = _beneficiary(request), request.payer
    block: dict[str, Any] = {
        "MaDichVu": service,
        "MaTTHC": request.procedure_code or "",
        "TenTTHC": request.description,
        "MaDVC": request.procedure_code or "",
        "TenDVC": request.description,
        "MaDonVi": request.agency_code,
        "TenDonVi": request.agency_name,
        "MaHoSo": request.dossier_code,
        "TKThuHuong": ben.account_number if ben else "",
        "MaNHThuHuong": (ben.bank_bin or "") if ben else "",
        "TenTKThuHuong": ben.account_name if ben else "",
        "PhiLePhi": [
            {
                "LoaiPhiLePhi": "2" if item.kind == "le_phi" else "1",
                "MaPhiLePhi": item.revenue_type_code,
                "TenPhiLePhi": item.revenue_type_name,
                "SoTien": item.amount,
            }
            for item in request.items
        ],
        "MaCoQuanQD": request.agency_code,
        "TenCoQuanQD": request.agency_name,
        "KhoBac": (ben.treasury_code or "") if ben else "",
        "TaiKhoanThuNSNN": ben.account_number if ben and ben.treasury_code else "",
        "NoiDungThanhToan": request.description,
        "HoTenNguoiNop": payer.name,
        "SoCMNDNguoiNop": payer.id_number or "",
        "DiaChiNguoiNop": payer.address or "",
        "HuyenNguoiNop": "",
        "TinhNguoiNop": "",
        "DSKhoanNop": [
            {"NoiDung": item.description or item.revenue_type_name, "SoTien": item.amount}
            for item in request.items
        ],
    }
    if service == "1":
        first = request.items[0]
        block |= {
            "MaLoaiHinhThuPhat": first.revenue_type_code,
            "TenLoaiHinhThuPhat": first.revenue_type_name,
            "SoQD": request.dossier_code,
            "NgayQD": "",
            "ThoiGianViPham": "",
            "DiaDiemViPham": "",
            "TenNguoiViPham": payer.name,
        }
    return block


def lookup_ok(account: Account, lookup: Mapping[str, Any]) -> bool:
    """Whether an inbound bill lookup is for this account and its ``MaXacThuc`` verifies."""
    ours = Lookup.parse(lookup).MaDoiTac == account.credentials["partner_code"]
    return ours and checksum_ok(lookup, LOOKUP_FIELDS, account.credentials["secret"])


def lookup_reply(account: Account, lookup: Mapping[str, Any], request: CheckoutRequest | None) -> Reply:
    """Answer a verified lookup with the bill to pay (``request``), or "not found" when None."""
    if request is None:
        return Reply(body=orjson.dumps({"error_code": "-1", "message": "Khong tim thay ho so"}))
    inner: dict[str, Any] = {
        "MaLoi": "00",
        "MaDoiTac": account.credentials["partner_code"],
        "MaHoSo": request.dossier_code,
        "MaThamChieu": request.reference,
        "SoTien": request.amount,
        "ThoiGianGD": Lookup.parse(lookup).ThoiGianGD,
        "ThongTinBienLai": bill_block(request),
    }
    inner["MaXacThuc"] = checksum(inner, LOOKUP_ANSWER_FIELDS, account.credentials["secret"])
    return Reply(body=orjson.dumps({"error_code": "0", "message": orjson.dumps(inner).decode()}))


class DvcqgAdapter(NationalAccounts, NoRefundApi):
    name: ClassVar[str] = "dvcqg"
    capabilities: ClassVar[frozenset[Capability]] = HOSTED_PAGE | {Capability.api_create, Capability.query}
    credential_fields: ClassVar[tuple[str, ...]] = ("partner_code", "secret")
    endpoints: ClassVar[Mapping[str, str]] = {"init_url": "/init", "query_url": "/query", "bill_url": "/bill"}
    token_settings: ClassVar[tuple[str, ...]] = ("access_token",)
    no_refund_reason: ClassVar[str] = "DVCQG refunds are handled manually at the platform"

    async def create_checkout(
        self, account: Account, request: CheckoutRequest, http: httpx.AsyncClient
    ) -> CheckoutResult:
        secret = account.credentials["secret"]
        message: dict[str, Any] = {
            "LoaiBanTin": "INIT",
            "PhienBan": PHIEN_BAN,
            "MaDoiTac": account.credentials["partner_code"],
            "MaThamChieu": request.reference,
            "SoTien": request.amount,
            "LoaiHinhThanhToan": "PAY",
            "MaKenhThanhToan": "1",
            "MaThietBi": "1",
            "NgonNgu": "vi-VN",
            "MaTienTe": "VND",
            "MaNganHang": "PAYMENT",
            "ThongTinGiaoDich": safe_text(request.description, 255) or f"Thanh toan {request.reference}",
            "ThoiGianGD": gmt7(request.created_at),
            "Ip": request.client_ip,
        }
        message["MaXacThuc"] = checksum(message, INIT_FIELDS, secret)
        message["ThongTinBienLai"] = bill_block(request)
        data, raw = await call_json(
            http, account.settings["init_url"], message, headers=lgsp_headers(account.settings)
        )
        url = http_url(Links.parse(unwrap(data)).UrlThanhToan)
        if url is None:
            raise GatewayTechnicalError("INIT answer holds no UrlThanhToan")
        return CheckoutResult(
            checkout_url=url,
            wire={"ThoiGianGD": message["ThoiGianGD"]},
            raw_request=orjson.dumps(message).decode(),
            raw_response=raw,
        )

    def parse_callback(self, account: Account, request: InboundRequest) -> Notification:
        data = json_object(request.body)
        fields = {k: v for k, v in data.items() if k != "MaXacThuc"}
        result = Result.parse(data)
        ours = result.MaDoiTac == account.credentials["partner_code"]
        if not (ours and checksum_ok(data, CALLBACK_FIELDS, account.credentials["secret"])):
            return Notification(verified=False, fields=fields)
        outcome = Outcome.succeeded if result.MaLoi == "00" else Outcome.failed
        if result.MaTienTe not in ("", "VND"):
            outcome = Outcome.unknown
        return Notification(
            verified=True,
            reference=result.MaThamChieu or None,
            amount=result.SoTien,
            outcome=outcome,
            provider_transaction_id=result.MaGiaoDich or None,
            code=result.MaLoi,
            message=result.MoTaLoi or None,
            fields=fields,
        )

    def acknowledge(self, account: Account, notification: Notification | None, verdict: AckVerdict) -> Reply:
        received = Result.parse(notification.fields if notification else {})
        ok = verdict in (AckVerdict.accepted, AckVerdict.already_processed)
        answer: dict[str, Any] = {
            "MaLoi": "00" if ok else "99",
            "MoTaLoi": _ANSWER_TEXT[verdict],
            "MaDoiTac": account.credentials["partner_code"],
            "MaThamChieu": (notification.reference if notification else None) or received.MaThamChieu,
            "ThoiGianGD": received.ThoiGianGD,
        }
        answer["MaXacThuc"] = checksum(answer, ANSWER_FIELDS, account.credentials["secret"])
        return Reply(status_code=200, body=orjson.dumps(answer))

    def parse_return(self, account: Account, request: InboundRequest) -> Notification:
        params = dict(request.query_items())
        fields = {k: v for k, v in params.items() if k != "secureCode"}
        if not checksum_ok(params, RETURN_FIELDS, account.credentials["secret"], key="secureCode"):
            return Notification(verified=False, fields=fields)
        back = ReturnParams.parse(params)
        code = back.responseCode
        return Notification(
            verified=True,
            reference=back.data or None,
            outcome=Outcome.succeeded if code == "00" else Outcome.failed,
            code=code,
            fields=fields,
        )

    def _lookup_message(self, account: Account, kind: str, attempt: AttemptRef) -> dict[str, Any]:
        message: dict[str, Any] = {
            "LoaiBanTin": kind,
            "PhienBan": PHIEN_BAN,
            "MaDoiTac": account.credentials["partner_code"],
            "MaThamChieu": attempt.reference,
            # The ORIGINAL string sent in INIT; re-deriving it is only a fallback for old rows.
            "ThoiGianGD": attempt.wire.get("ThoiGianGD") or gmt7(attempt.created_at),
        }
        message["MaXacThuc"] = checksum(message, QUERY_FIELDS, account.credentials["secret"])
        return message

    async def query(self, account: Account, attempt: AttemptRef, http: httpx.AsyncClient) -> QueryResult:
        message = self._lookup_message(account, "QUERY", attempt)
        data, raw = await call_json(
            http, account.settings["query_url"], message, headers=lgsp_headers(account.settings)
        )
        data = unwrap(data)
        if not checksum_ok(data, CALLBACK_FIELDS, account.credentials["secret"]):
            raise GatewayTechnicalError("QUERY answer checksum does not verify")
        answer = Result.parse(data)
        if answer.MaThamChieu != attempt.reference:
            raise GatewayTechnicalError("QUERY answer is about another transaction")
        state = answer.TrangThaiGD
        return QueryResult(
            outcome=_TRANG_THAI.get(state, Outcome.unknown),
            amount=answer.SoTien,
            provider_transaction_id=answer.MaGiaoDich or None,
            code=state or answer.MaLoi or None,
            message=answer.MoTaLoi or None,
            raw=raw,
        )

    async def fetch_receipt(
        self, account: Account, request: ReceiptRequest, http: httpx.AsyncClient
    ) -> GatewayReceipt:
        """:class:`ReceiptSource`: the platform's e-receipt through GET_BILL."""
        pdf, url = await self.get_bill(account, request.attempt, http)
        return GatewayReceipt(pdf=pdf, url=url)

    async def get_bill(
        self, account: Account, attempt: AttemptRef, http: httpx.AsyncClient
    ) -> tuple[bytes | None, str | None]:
        """GET_BILL: the e-receipt as ``(pdf_bytes, None)`` or ``(None, UrlBienLai)``."""
        message = self._lookup_message(account, "GET_BILL", attempt)
        headers = {"Content-Type": "application/json", **lgsp_headers(account.settings)}
        response = await post(http, account.settings["bill_url"], orjson.dumps(message), headers)
        if response.content.startswith(b"%PDF-"):
            return response.content, None
        url = http_url(Links.parse(unwrap(json_object(response.content))).UrlBienLai)
        if url is None:
            raise GatewayTechnicalError("GET_BILL answer holds neither a PDF nor UrlBienLai")
        return None, url


adapter = DvcqgAdapter()
