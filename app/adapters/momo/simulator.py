"""MoMo's side of the v2 API, for tests and sandbox mode.

Serves the real paths under its mount point: ``/v2/gateway/api/create`` (verifies our signature
exactly as MoMo does: a bad one is resultCode 13), the hosted page at the returned ``payUrl``
(Pay / Fail / Cancel), the signed IPN to the ``ipnUrl`` of the create request, the signed browser
redirect, and query, refund and refund query. The raw strings are written out field by field, as
in MoMo's documentation, independently of the adapter's signing code.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from app.adapters.base import Account
from app.adapters.common.pages import checkout_page, notice_page
from app.adapters.common.simulation import SimulatorContext
from app.text import format_vnd

_ORDER_ID = re.compile(r"^[0-9a-zA-Z]([-_.]*[0-9a-zA-Z]+)*$")
_OUTCOME_CODES = {"success": 0, "failed": 1001, "cancelled": 1006}
_MESSAGES = {
    0: "Successful.",
    13: "Merchant authentication failed.",
    20: "Bad format request.",
    22: "The transaction amount is out of range.",
    41: "Duplicated orderId.",
    42: "Invalid orderId or orderId is not found.",
    1000: "Transaction is initiated, waiting for user confirmation.",
    1001: "Transaction failed due to insufficient funds.",
    1006: "Transaction failed because user has denied to confirm the payment.",
    1081: "Refund rejected. The original transaction might have been refunded.",
    1088: "Refund rejected. The original payment transaction is ineligible to be refunded",
}


def _hmac(secret: str, raw: str) -> str:
    return hmac.new(secret.encode(), raw.encode(), hashlib.sha256).hexdigest()


def _create_raw(ak: str, b: dict[str, Any]) -> str:
    return (
        f"accessKey={ak}&amount={b['amount']}&extraData={b['extraData']}&ipnUrl={b['ipnUrl']}"
        f"&orderId={b['orderId']}&orderInfo={b['orderInfo']}&partnerCode={b['partnerCode']}"
        f"&redirectUrl={b['redirectUrl']}&requestId={b['requestId']}&requestType={b['requestType']}"
    )


def _ipn_raw(ak: str, b: dict[str, Any]) -> str:
    return (
        f"accessKey={ak}&amount={b['amount']}&extraData={b['extraData']}&message={b['message']}"
        f"&orderId={b['orderId']}&orderInfo={b['orderInfo']}&orderType={b['orderType']}"
        f"&partnerCode={b['partnerCode']}&payType={b['payType']}&requestId={b['requestId']}"
        f"&responseTime={b['responseTime']}&resultCode={b['resultCode']}&transId={b['transId']}"
    )


def _query_raw(ak: str, b: dict[str, Any]) -> str:
    return f"accessKey={ak}&orderId={b['orderId']}&partnerCode={b['partnerCode']}&requestId={b['requestId']}"


def _refund_raw(ak: str, b: dict[str, Any]) -> str:
    return (
        f"accessKey={ak}&amount={b['amount']}&description={b['description']}&orderId={b['orderId']}"
        f"&partnerCode={b['partnerCode']}&requestId={b['requestId']}&transId={b['transId']}"
    )


def build_router(ctx: SimulatorContext) -> APIRouter:
    router = APIRouter(tags=["simulator: momo"])
    state = ctx.store("momo")
    orders: dict[str, dict[str, Any]] = state.setdefault("orders", {})  # "partner/orderId" → order
    tokens: dict[str, str] = state.setdefault("tokens", {})
    replies: dict[str, tuple[int, dict[str, Any]]] = state.setdefault("replies", {})  # requestId replay
    used_order_ids: set[str] = state.setdefault("order_ids", set())

    def now_ms() -> int:
        return int(ctx.clock().timestamp() * 1000)

    def next_trans_id() -> int:
        state["seq"] = int(state.get("seq", 0)) + 1
        return 4_100_000_000 + int(state["seq"])

    def answer(body: dict[str, Any], code: int, status: int = 200, **extra: Any) -> JSONResponse:
        out = {
            "partnerCode": body.get("partnerCode"),
            "requestId": body.get("requestId"),
            "orderId": body.get("orderId"),
            **extra,
            "resultCode": code,
            "message": _MESSAGES.get(code, "Error."),
            "responseTime": now_ms(),
        }
        return JSONResponse(out, status_code=status)

    async def authenticate(
        request: Request, fields: tuple[str, ...], raw: Callable[[str, dict[str, Any]], str]
    ) -> tuple[dict[str, Any], Account | Response]:
        """The JSON body and its merchant, or the error answer MoMo would give."""
        try:
            body = await request.json()
        except ValueError:
            return {}, answer({}, 20, 400)
        if not isinstance(body, dict) or any(body.get(f) is None for f in (*fields, "signature")):
            return {}, answer(body if isinstance(body, dict) else {}, 20, 400)
        account = await ctx.find_account("momo", "partner_code", str(body["partnerCode"]))
        if account is None:
            return body, answer(body, 13, 401)
        expected = _hmac(account.credentials["secret_key"], raw(account.credentials["access_key"], body))
        if not hmac.compare_digest(expected, str(body["signature"])):
            return body, answer(body, 13, 401)
        return body, account

    async def new_request(
        request: Request, fields: tuple[str, ...], raw: Callable[[str, dict[str, Any]], str]
    ) -> tuple[dict[str, Any], str] | Response:
        """A signed request's body and its replay key (partner/requestId); or the answer to give:
        the refusal, or the stored answer of a requestId already seen."""
        body, account = await authenticate(request, fields, raw)
        if not isinstance(account, Account):
            return account
        replay_key = f"{body['partnerCode']}/{body['requestId']}"
        if replay_key in replies:
            status, stored = replies[replay_key]
            return JSONResponse(stored, status_code=status)
        return body, replay_key

    @router.post("/v2/gateway/api/create")
    async def create(request: Request) -> Response:
        fields = ("partnerCode", "requestId", "amount", "orderId", "orderInfo", "redirectUrl", "ipnUrl")
        fresh = await new_request(request, (*fields, "requestType", "extraData"), _create_raw)
        if isinstance(fresh, Response):
            return fresh
        body, replay_key = fresh
        amount = str(body["amount"])
        if not amount.isdigit() or body["requestType"] not in ("captureWallet", "payWithATM"):
            return answer(body, 20, 400)
        if not 1_000 <= int(amount) <= 50_000_000:
            return answer(body, 22, 400)
        if not _ORDER_ID.match(str(body["orderId"])):
            return answer(body, 20, 400)
        key = f"{body['partnerCode']}/{body['orderId']}"
        if key in used_order_ids:
            return answer(body, 41, 400)
        token = secrets.token_urlsafe(16)
        used_order_ids.add(key)
        tokens[token] = key
        orders[key] = {
            **body,
            "amount": int(amount),
            "resultCode": 1000,
            "transId": 0,
            "refunds": [],
            "ipn": [],
        }
        pay = f"{ctx.url('momo')}/v2/gateway/pay?t={token}"
        payload = {
            "partnerCode": body["partnerCode"],
            "requestId": body["requestId"],
            "orderId": body["orderId"],
            "amount": int(amount),
            "responseTime": now_ms(),
            "message": _MESSAGES[0],
            "resultCode": 0,
            "payUrl": pay,
            "deeplink": f"momo://app?action=payWithApp&t={token}",
            "qrCodeUrl": f"{ctx.url('momo')}/v2/gateway/app?isScanQr=true&t={token}",
        }
        replies[replay_key] = (200, payload)
        return JSONResponse(payload)

    @router.get("/v2/gateway/pay", response_class=HTMLResponse)
    async def pay_page(t: str = "") -> HTMLResponse:
        order = orders.get(tokens.get(t, ""))
        if order is None:
            return notice_page(
                "Không tìm thấy giao dịch", "Liên kết thanh toán không hợp lệ.", status_code=404
            )
        if order["resultCode"] != 1000:
            return notice_page("MoMo", f"Đã xử lý (resultCode {order['resultCode']}).")
        rows = [
            ("Mã đơn hàng", str(order["orderId"])),
            ("Số tiền", format_vnd(order["amount"])),
            ("Nội dung", str(order["orderInfo"])),
        ]
        return checkout_page("Thanh toán qua Ví MoMo (giả lập)", rows, action=f"?t={t}")

    @router.post("/v2/gateway/pay")
    async def pay(request: Request, t: str = "") -> Response:
        order = orders.get(tokens.get(t, ""))
        chosen = await ctx.settlement(
            request,
            "momo",
            order,
            outcomes=_OUTCOME_CODES,
            open_when=("resultCode", 1000),
            merchant=("partner_code", "partnerCode"),
        )
        if isinstance(chosen, HTMLResponse):
            return chosen
        outcome, account, order = chosen
        code = _OUTCOME_CODES[outcome]
        order.update(resultCode=code, transId=next_trans_id(), lastUpdated=now_ms())
        ipn = {
            "partnerCode": order["partnerCode"],
            "orderId": order["orderId"],
            "requestId": order["requestId"],
            "amount": order["amount"],
            "orderInfo": order["orderInfo"],
            "orderType": "momo_wallet",
            "transId": order["transId"],
            "resultCode": code,
            "message": _MESSAGES[code],
            "payType": "qr",
            "responseTime": now_ms(),
            "extraData": order["extraData"],
        }
        ipn["signature"] = _hmac(
            account.credentials["secret_key"], _ipn_raw(account.credentials["access_key"], ipn)
        )
        order["ipn"].append(await ctx.call_back(str(order["ipnUrl"]), ipn))
        target = str(order["redirectUrl"])
        return RedirectResponse(f"{target}{'&' if '?' in target else '?'}{urlencode(ipn)}", status_code=303)

    async def queried_order(request: Request) -> tuple[dict[str, Any], dict[str, Any]] | Response:
        """A signed query's body and the order it names; or the answer refusing it."""
        body, account = await authenticate(request, ("partnerCode", "requestId", "orderId"), _query_raw)
        if not isinstance(account, Account):
            return account
        order = orders.get(f"{body['partnerCode']}/{body['orderId']}")
        if order is None:
            return answer(body, 42, 400)
        return body, order

    @router.post("/v2/gateway/api/query")
    async def query(request: Request) -> Response:
        found = await queried_order(request)
        if isinstance(found, Response):
            return found
        body, order = found
        return answer(
            body,
            int(order["resultCode"]),
            extraData=order["extraData"],
            amount=order["amount"],
            transId=order["transId"],
            payType="qr" if order["transId"] else "",
            refundTrans=[r for r in order["refunds"] if r["resultCode"] == 0],
            lastUpdated=order.get("lastUpdated", now_ms()),
        )

    @router.post("/v2/gateway/api/refund")
    async def refund(request: Request) -> Response:
        fields = ("partnerCode", "orderId", "requestId", "amount", "transId", "description")
        fresh = await new_request(request, fields, _refund_raw)
        if isinstance(fresh, Response):
            return fresh
        body, replay_key = fresh
        amount, trans_id = str(body["amount"]), str(body["transId"])
        if not amount.isdigit() or not trans_id.isdigit() or not _ORDER_ID.match(str(body["orderId"])):
            return answer(body, 20, 400)
        if not 1_000 <= int(amount) <= 50_000_000:
            return answer(body, 22, 400)
        paid = next(
            (
                o
                for o in orders.values()
                if o["partnerCode"] == body["partnerCode"] and o["transId"] == int(trans_id)
            ),
            None,
        )
        if paid is None:
            return answer(body, 42, 400)
        if paid["resultCode"] != 0:
            return answer(body, 1088, 400)
        key = f"{body['partnerCode']}/{body['orderId']}"
        if key in used_order_ids:
            return answer(body, 41, 400)
        refunded = sum(int(r["amount"]) for r in paid["refunds"] if r["resultCode"] == 0)
        if refunded + int(amount) > int(paid["amount"]):
            return answer(body, 1081, 400)
        used_order_ids.add(key)
        entry = {
            "orderId": body["orderId"],
            "amount": int(amount),
            "resultCode": 0,
            "transId": next_trans_id(),
            "createdTime": now_ms(),
        }
        paid["refunds"].append(entry)
        reply = answer(body, 0, amount=int(amount), transId=entry["transId"])
        replies[replay_key] = (200, _json_of(reply))
        return reply

    @router.post("/v2/gateway/api/refund/query")
    async def refund_query(request: Request) -> Response:
        found = await queried_order(request)
        if isinstance(found, Response):
            return found
        body, order = found
        return answer(body, 0, refundTrans=list(order["refunds"]))

    return router


def _json_of(response: JSONResponse) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(bytes(response.body))
    return data
