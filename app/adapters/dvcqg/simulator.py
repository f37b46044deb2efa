"""DVCQG platform simulator: INIT, the hosted payment page, the signed callback, QUERY, GET_BILL.

It checks ``MaXacThuc`` like the platform and insists that QUERY/GET_BILL repeat the INIT's
exact ``ThoiGianGD``. Account setting ``simulator_wrapped: true`` makes it answer INIT in the
wrapped ``{error_code, message}`` shape. GET_BILL answers a PDF body, or ``{UrlBienLai}`` when
called with ``?format=json``. Its own result codes: 00 paid, 51 declined, 24 cancelled,
09 pending; 01 unknown partner, 02 bad checksum, 03 bad message, 04 duplicate, 05 not found,
06 ThoiGianGD mismatch, 07 not paid.
"""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import orjson
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.adapters.base import Account
from app.adapters.common.pages import checkout_page, minimal_pdf, notice_page
from app.adapters.common.simulation import SimulatorContext, json_body
from app.adapters.common.wire import text_value as wire_text
from app.adapters.dvcqg.adapter import (
    CALLBACK_FIELDS,
    INIT_FIELDS,
    QUERY_FIELDS,
    RETURN_FIELDS,
    checksum,
    checksum_ok,
)
from app.text import format_vnd

PROVIDER = "dvcqg"
_RESULTS = {
    "success": ("00", "1", "paid"),
    "failed": ("51", "4", "failed"),
    "cancelled": ("24", "4", "cancelled"),
}


def _json(data: dict[str, Any]) -> Response:
    return Response(orjson.dumps(data), media_type="application/json")


def _items_total(items: list[Any]) -> int | None:
    amounts = [item.get("SoTien") if isinstance(item, dict) else None for item in items]
    if not all(isinstance(a, int) and not isinstance(a, bool) and a > 0 for a in amounts):
        return None
    return sum(a for a in amounts if isinstance(a, int))


def _fail(code: str, text: str) -> dict[str, Any]:
    return {"MaLoi": code, "MoTaLoi": text}


def build_router(ctx: SimulatorContext) -> APIRouter:
    router = APIRouter()
    orders: dict[str, dict[str, Any]] = ctx.store(PROVIDER)

    async def account_of(message: dict[str, Any]) -> Account | None:
        return await ctx.find_account(PROVIDER, "partner_code", wire_text(message.get("MaDoiTac")))

    def init_answer(account: Account | None, data: dict[str, Any]) -> Response:
        if account is None or not account.settings.get("simulator_wrapped"):
            return _json(data)
        if data["MaLoi"] != "00":
            return _json({"error_code": "-1", "message": data["MoTaLoi"]})
        return _json({"error_code": "0", "message": orjson.dumps(data).decode()})

    @router.post("/init")
    async def init(request: Request) -> Response:
        message = await json_body(request)
        if message is None:
            return _json(_fail("03", "Du lieu khong hop le"))
        account = await account_of(message)
        if account is None:
            return _json(_fail("01", "Ma doi tac khong ton tai"))
        if not checksum_ok(message, INIT_FIELDS, account.credentials["secret"]):
            return init_answer(account, _fail("02", "Sai ma xac thuc"))
        bill, amount = message.get("ThongTinBienLai"), message.get("SoTien")
        items = bill.get("PhiLePhi") if isinstance(bill, dict) else None
        time_text = wire_text(message.get("ThoiGianGD"))
        if (
            message.get("LoaiBanTin") != "INIT"
            or not isinstance(amount, int)
            or amount <= 0
            or not (len(time_text) == 14 and time_text.isdigit())
            or not isinstance(items, list)
            or _items_total(items) != amount
        ):
            return init_answer(account, _fail("03", "Du lieu khong hop le"))
        reference = wire_text(message.get("MaThamChieu"))
        if not reference or reference in orders:
            return init_answer(account, _fail("04", "Ma tham chieu da ton tai"))
        orders[reference] = {
            "partner": account.credentials["partner_code"],
            "amount": amount,
            "time": time_text,
            "info": wire_text(message.get("ThongTinGiaoDich")),
            "bill": bill,
            "status": "pending",
            "code": "09",
            "state": "3",
            "txn": "",
            "callbacks": [],
        }
        url = f"{ctx.url(PROVIDER)}/pay/{reference}"
        return init_answer(account, {"MaLoi": "00", "MoTaLoi": "Thanh cong", "UrlThanhToan": url})

    @router.get("/pay/{reference}", response_class=HTMLResponse)
    async def show(reference: str) -> HTMLResponse:
        order = orders.get(reference)
        if order is None:
            return notice_page("Khong tim thay giao dich", reference, status_code=404)
        rows = [
            ("Mã tham chiếu", reference),
            ("Số tiền", format_vnd(order["amount"])),
            ("Nội dung", order["info"]),
            ("Trạng thái", order["status"]),
        ]
        return checkout_page("Cổng DVCQG — thanh toán (mô phỏng)", rows)

    @router.post("/pay/{reference}", response_model=None)
    async def pay(reference: str, request: Request) -> Response:
        order = orders.get(reference)
        chosen = await ctx.settlement(
            request,
            PROVIDER,
            order,
            outcomes=_RESULTS,
            open_when=("status", "pending"),
            merchant=("partner_code", "partner"),
        )
        if isinstance(chosen, HTMLResponse):
            return chosen
        outcome, account, order = chosen
        code, state, status = _RESULTS[outcome]
        order.update(code=code, state=state, status=status, txn=f"DVC{secrets.token_hex(6).upper()}")
        callback = result_message(order, reference, "NOTIFY")
        callback["MaXacThuc"] = checksum(callback, CALLBACK_FIELDS, account.credentials["secret"])
        order["callbacks"].append(await ctx.call_back(account.callback_url, callback))
        back = {"data": reference, "responseCode": code}
        back["secureCode"] = checksum(back, RETURN_FIELDS, account.credentials["secret"])
        return RedirectResponse(str(httpx.URL(account.return_url).copy_merge_params(back)), status_code=303)

    def result_message(order: dict[str, Any], reference: str, kind: str) -> dict[str, Any]:
        return {
            "LoaiBanTin": kind,
            "MaLoi": order["code"],
            "MaDoiTac": order["partner"],
            "MaThamChieu": reference,
            "SoTien": order["amount"],
            "MaTienTe": "VND",
            "MaGiaoDich": order["txn"],
            "MaNganHang": "970403" if order["txn"] else "",
            "ThoiGianGD": order["time"],
            "ThongTinGiaoDich": order["info"],
        }

    async def checked(request: Request, kind: str) -> tuple[Account | None, dict[str, Any]]:
        """The account and order of a QUERY/GET_BILL, or an error answer in the dict."""
        message = await json_body(request)
        if message is None or message.get("LoaiBanTin") != kind:
            return None, _fail("03", "Du lieu khong hop le")
        account = await account_of(message)
        if account is None:
            return None, _fail("01", "Ma doi tac khong ton tai")
        if not checksum_ok(message, QUERY_FIELDS, account.credentials["secret"]):
            return None, _fail("02", "Sai ma xac thuc")
        reference = wire_text(message.get("MaThamChieu"))
        order = orders.get(reference)
        if order is None or order["partner"] != account.credentials["partner_code"]:
            return None, _fail("05", "Khong tim thay giao dich")
        if message.get("ThoiGianGD") != order["time"]:
            return None, _fail("06", "ThoiGianGD khong khop voi giao dich khoi tao")
        return account, {"reference": reference, **order}

    @router.post("/query")
    async def query(request: Request) -> Response:
        account, order = await checked(request, "QUERY")
        if account is None:
            return _json(order)
        answer = result_message(order, order["reference"], "QUERY")
        answer["MaXacThuc"] = checksum(answer, CALLBACK_FIELDS, account.credentials["secret"])
        answer["TrangThaiGD"] = order["state"]
        return _json(answer)

    @router.post("/bill")
    async def bill(request: Request) -> Response:
        account, order = await checked(request, "GET_BILL")
        if account is None:
            return _json(order)
        if order["status"] != "paid":
            return _json(_fail("07", "Giao dich chua thanh toan"))
        if request.query_params.get("format") == "json":
            return _json({"MaLoi": "00", "UrlBienLai": f"{ctx.url(PROVIDER)}/bill/{order['reference']}.pdf"})
        return Response(receipt(order["reference"]), media_type="application/pdf")

    def receipt(reference: str) -> bytes:
        order = orders[reference]
        return minimal_pdf(
            ["BIEN LAI THU TIEN (mo phong)", f"Ma tham chieu: {reference}", f"So tien: {order['amount']} VND"]
        )

    @router.get("/bill/{reference}.pdf", response_model=None)
    async def bill_pdf(reference: str) -> Response:
        if orders.get(reference, {}).get("status") != "paid":
            return notice_page("Khong tim thay bien lai", reference, status_code=404)
        return Response(receipt(reference), media_type="application/pdf")

    return router
