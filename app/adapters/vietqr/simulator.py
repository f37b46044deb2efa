"""A bank for VietQR: a transfer credits the agency's account and the bank sends the signed
credit notification (``X-Signature`` HMAC-SHA256 over the raw body) to the account's IPN URL.

- ``POST /transfer`` JSON ``{bank_bin, account_number, amount, description}`` → the notification
  is sent; answers ``{bank_transaction_id, notified_status, notified_body}``.
- ``GET /pay?qr=<payload>``: a citizen's banking-app screen for a QR (amount and description
  editable, as in real apps); its form POSTs to ``/pay`` and does the same transfer.
"""

from __future__ import annotations

import html
import secrets
from typing import Any

import httpx
import orjson
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from app.adapters.base import VN_TZ
from app.adapters.common.pages import notice_page, page
from app.adapters.common.simulation import SimulatorContext, form_fields, json_body
from app.adapters.emvco import EmvcoError, parse_vietqr
from app.adapters.vietqr.adapter import sign
from app.text import format_vnd

PROVIDER = "vietqr"


def build_router(ctx: SimulatorContext) -> APIRouter:
    router = APIRouter()
    credits: list[dict[str, Any]] = ctx.store(PROVIDER).setdefault("credits", [])

    async def transfer(
        bank_bin: str, account_number: str, amount: int, description: str
    ) -> dict[str, Any] | None:
        account = await ctx.find_account(PROVIDER, "account_number", account_number)
        if account is None or account.credentials.get("bank_bin") != bank_bin:
            return None
        notification = {
            "account_number": account_number,
            "amount": amount,
            "description": description,
            "bank_transaction_id": f"FT{secrets.token_hex(6).upper()}",
            "credited_at": ctx.clock().astimezone(VN_TZ).isoformat(timespec="seconds"),
        }
        body = orjson.dumps(notification)
        headers = {
            "Content-Type": "application/json",
            "X-Signature": sign(account.credentials["notify_secret"], body),
        }
        result: dict[str, Any] = {"bank_transaction_id": notification["bank_transaction_id"]}
        try:
            sent = await ctx.http().post(account.callback_url, content=body, headers=headers)
            result |= {"notified_status": sent.status_code, "notified_body": sent.text}
        except httpx.HTTPError as exc:
            result |= {"notified_status": None, "notified_body": type(exc).__name__}
        credits.append({**notification, **result})
        return result

    @router.post("/transfer")
    async def transfer_api(request: Request) -> Response:
        message = await json_body(request) or {}
        amount, description = message.get("amount"), message.get("description")
        bank_bin, account_number = message.get("bank_bin"), message.get("account_number")
        if (
            isinstance(amount, bool)
            or not isinstance(amount, int)
            or amount <= 0
            or not all(isinstance(v, str) and v for v in (description, bank_bin, account_number))
        ):
            return Response(
                orjson.dumps({"error": "invalid_request"}), status_code=400, media_type="application/json"
            )
        result = await transfer(str(bank_bin), str(account_number), amount, str(description))
        if result is None:
            return Response(
                orjson.dumps({"error": "unknown_account"}), status_code=404, media_type="application/json"
            )
        return Response(orjson.dumps(result), media_type="application/json")

    @router.get("/pay", response_class=HTMLResponse)
    async def show(qr: str = "") -> HTMLResponse:
        try:
            data = parse_vietqr(qr)
        except EmvcoError as exc:
            return notice_page("Ma QR khong hop le", str(exc), status_code=400)
        amount = data.amount or 0
        body = (
            f"<p>Ngân hàng (BIN): {html.escape(data.bank_bin)}</p>"
            f"<p>Tài khoản: {html.escape(data.account)}</p>"
            f'<form method="post"><input type="hidden" name="bank_bin" value="{html.escape(data.bank_bin)}">'
            f'<input type="hidden" name="account_number" value="{html.escape(data.account)}">'
            f'<label>Số tiền <input name="amount" value="{amount}"></label>'
            f'<label>Nội dung <input name="description" value="{html.escape(data.purpose or "")}"></label>'
            "<button>Chuyển tiền</button></form>"
        )
        return page("Ngân hàng mô phỏng — chuyển khoản VietQR", body)

    @router.post("/pay", response_class=HTMLResponse)
    async def pay(request: Request) -> HTMLResponse:
        form = await form_fields(request)
        raw_amount = form.get("amount", "")
        if not raw_amount.isdigit() or int(raw_amount) <= 0:
            return notice_page("So tien khong hop le", raw_amount, status_code=400)
        result = await transfer(
            form.get("bank_bin", ""),
            form.get("account_number", ""),
            int(raw_amount),
            form.get("description", ""),
        )
        if result is None:
            return notice_page("Tai khoan khong ton tai", form.get("account_number", ""), status_code=404)
        body = (
            f"<p>Đã chuyển {html.escape(format_vnd(int(raw_amount)))}.</p>"
            f"<p>Mã giao dịch: {html.escape(result['bank_transaction_id'])}</p>"
        )
        return page("Chuyển khoản thành công", body)

    return router
