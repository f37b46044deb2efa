"""PayGov simulator: create (checksum checked), hosted page, signed callback, browser return,
and the e-receipt endpoint. Error codes: 00 ok, 01 unknown partner or access key, 02 bad
checksum, 03 bad request (incl. diacritics in orderInfo), 04 duplicate orderId, 05 a paid
transaction code not found. Payment results: 00 paid, 51 declined, 24 cancelled."""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from datetime import datetime
from typing import Any

import httpx
import orjson
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.adapters.base import VN_TZ, Account
from app.adapters.common.pages import checkout_page, minimal_pdf, notice_page
from app.adapters.common.simulation import SimulatorContext, json_body
from app.adapters.common.wire import text_value as wire_text
from app.adapters.paygov.adapter import CALLBACK_FIELDS, CREATE_FIELDS, RECEIPT_FIELDS, checksum, checksum_ok
from app.text import format_vnd

PROVIDER = "paygov"
_RESULTS = {"success": ("00", "paid"), "failed": ("51", "failed"), "cancelled": ("24", "cancelled")}


def _answer(code: str, text: str, data: dict[str, Any] | None = None) -> Response:
    body: dict[str, Any] = {"error_code": code, "error_message": text}
    if data is not None:
        body["data"] = data
    return Response(orjson.dumps(body), media_type="application/json")


def _b64_json(text: Any) -> Any:
    try:
        return orjson.loads(base64.b64decode(wire_text(text), validate=True))
    except (binascii.Error, orjson.JSONDecodeError):
        return None


def build_router(ctx: SimulatorContext) -> APIRouter:
    router = APIRouter()
    state = ctx.store(PROVIDER)
    orders: dict[str, dict[str, Any]] = state.setdefault("orders", {})
    receipts: dict[str, dict[str, Any]] = state.setdefault("receipts", {})

    async def authenticated(
        request: Request, fields: tuple[str, ...]
    ) -> tuple[dict[str, Any], Account] | Response:
        """The JSON message and its partner's account, when the access key and checksum hold."""
        message = await json_body(request)
        if message is None:
            return _answer("03", "Invalid request")
        account = await ctx.find_account(PROVIDER, "partner_code", wire_text(message.get("partnerCode")))
        given = wire_text(message.get("accessKey"))
        if account is None or not hmac.compare_digest(
            given.encode(), account.credentials["access_key"].encode()
        ):
            return _answer("01", "Invalid partner or access key")
        if not checksum_ok(message, fields, account.credentials["secret_key"]):
            return _answer("02", "Invalid checksum")
        return message, account

    @router.post("/create")
    async def create(request: Request) -> Response:
        checked = await authenticated(request, CREATE_FIELDS)
        if not isinstance(checked, tuple):
            return checked
        message, account = checked
        amount, info = message.get("amount"), wire_text(message.get("orderInfo"))
        order_id, return_url = wire_text(message.get("orderId")), wire_text(message.get("returnUrl"))
        if (
            not isinstance(amount, int)
            or amount <= 0
            or not info.isascii()
            or not order_id
            or message.get("serviceCode") != account.credentials["service_code"]
            or httpx.URL(return_url).scheme not in ("http", "https")
        ):
            return _answer("03", "Invalid request")
        if order_id in orders:
            return _answer("04", "Duplicate orderId")
        orders[order_id] = {
            "partner": account.credentials["partner_code"],
            "amount": amount,
            "info": info,
            "requestCode": wire_text(message.get("requestCode")),
            "returnUrl": return_url,
            "status": "pending",
            "callbacks": [],
        }
        return _answer("00", "Success", {"url": f"{ctx.url(PROVIDER)}/pay/{order_id}"})

    @router.get("/pay/{order_id}", response_class=HTMLResponse)
    async def show(order_id: str) -> HTMLResponse:
        order = orders.get(order_id)
        if order is None:
            return notice_page("Khong tim thay don hang", order_id, status_code=404)
        rows = [("Đơn hàng", order_id), ("Số tiền", format_vnd(order["amount"])), ("Nội dung", order["info"])]
        return checkout_page("PayGov — thanh toán (mô phỏng)", rows)

    @router.post("/pay/{order_id}", response_model=None)
    async def pay(order_id: str, request: Request) -> Response:
        order = orders.get(order_id)
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
        code, status = _RESULTS[outcome]
        transaction_code = f"PG{secrets.token_hex(6).upper()}"
        order.update(status=status, transactionCode=transaction_code)
        callback: dict[str, Any] = {
            "amount": order["amount"],
            "orderId": order_id,
            "orderInfo": order["info"],
            "requestCode": order["requestCode"],
            "transactionNo": str(secrets.randbelow(10**10)).zfill(10),
            "payDate": ctx.clock().astimezone(VN_TZ).strftime("%Y%m%d%H%M%S"),
            "paygate": "NAPAS",
            "errorCode": code,
            "type": "ATM",
            "transactionCode": transaction_code,
        }
        callback["checksum"] = checksum(callback, CALLBACK_FIELDS, account.credentials["secret_key"])
        order["callbacks"].append(await ctx.call_back(account.callback_url, callback))
        params = {k: wire_text(v) for k, v in callback.items()}
        return RedirectResponse(str(httpx.URL(order["returnUrl"]).copy_merge_params(params)), status_code=303)

    @router.post("/receipt")
    async def receipt(request: Request) -> Response:
        checked = await authenticated(request, RECEIPT_FIELDS)
        if not isinstance(checked, tuple):
            return checked
        message, account = checked
        paids = _b64_json(message.get("paids"))
        other = _b64_json(message.get("otherInfo"))
        try:
            datetime.strptime(wire_text(message.get("decisionDate")), "%d-%m-%Y")
        except ValueError:
            return _answer("03", "Invalid decisionDate")
        if not (isinstance(paids, list) and paids and isinstance(other, dict)):
            return _answer("03", "Invalid paids or otherInfo")
        paid = {
            o["transactionCode"]
            for o in orders.values()
            if o["status"] == "paid" and o["partner"] == account.credentials["partner_code"]
        }
        if not all(isinstance(code, str) and code in paid for code in paids):
            return _answer("05", "Transaction not found or not paid")
        receipt_id = secrets.token_hex(8)
        receipts[receipt_id] = {"paids": paids, "payer": wire_text(message.get("payerName"))}
        url = f"{ctx.url(PROVIDER)}/receipt/{receipt_id}.pdf"
        return _answer("00", "Success", {"transactionReceipt": url})

    @router.get("/receipt/{receipt_id}.pdf", response_model=None)
    async def receipt_pdf(receipt_id: str) -> Response:
        found = receipts.get(receipt_id)
        if found is None:
            return notice_page("Khong tim thay bien lai", "", status_code=404)
        lines = ["BIEN LAI DIEN TU PAYGOV (mo phong)", f"Nguoi nop: {found['payer']}"]
        lines += [f"Giao dich: {code}" for code in found["paids"]]
        return Response(minimal_pdf(lines), media_type="application/pdf")

    return router
