"""ZaloPay's side of the v2 API, for tests and sandbox mode.

Serves ``/v2/create`` (form or JSON; a bad ``mac`` is return_code 2 / sub_return_code -402, and the
``yymmdd`` of ``app_trans_id`` must be today's GMT+7 date), the hosted page at ``order_url``, the
key2-signed callback (only for paid orders, as ZaloPay does), the checksummed browser redirect,
``/v2/query``, ``/v2/refund`` and ``/v2/query_refund``. Refunds are asynchronous: accepted as
processing (return_code 3), they complete by the time their status is first queried.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from app.adapters.base import Account, gmt7
from app.adapters.common.pages import checkout_page, notice_page
from app.adapters.common.simulation import SimulatorContext
from app.text import format_vnd

_TRANS_ID = re.compile(r"^(\d{6})_[0-9A-Za-z_\-.]+$")
_STATUS = {"success": 1, "failed": 2, "cancelled": -49}


def _mac(key: str, text: str) -> str:
    return hmac.new(key.encode(), text.encode(), hashlib.sha256).hexdigest()


def _fail(sub: int, message: str) -> JSONResponse:
    return JSONResponse(
        {
            "return_code": 2,
            "return_message": "Giao dịch thất bại",
            "sub_return_code": sub,
            "sub_return_message": message,
        }
    )


async def _params(request: Request) -> dict[str, str]:
    """Form or JSON body as texts (JSON numbers become their decimal text)."""
    raw = await request.body()
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            data = json.loads(raw)
        except ValueError:
            return {}
        return (
            {k: v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}
            if isinstance(data, dict)
            else {}
        )
    return dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))


def build_router(ctx: SimulatorContext) -> APIRouter:
    router = APIRouter(tags=["simulator: zalopay"])
    state = ctx.store("zalopay")
    orders: dict[str, dict[str, Any]] = state.setdefault("orders", {})  # "app_id/app_trans_id" → order
    tokens: dict[str, str] = state.setdefault("tokens", {})
    refunds: dict[str, dict[str, Any]] = state.setdefault("refunds", {})  # "app_id/m_refund_id" → refund

    def now_ms() -> int:
        return int(ctx.clock().timestamp() * 1000)

    def seq() -> int:
        state["seq"] = int(state.get("seq", 0)) + 1
        return int(state["seq"])

    async def merchant(
        params: dict[str, str], names: tuple[str, ...], text: Callable[[Account], str]
    ) -> Account | JSONResponse:
        if any(name not in params for name in (*names, "mac")):
            return _fail(-401, "ILLEGAL_DATA_REQUEST")
        account = await ctx.find_account("zalopay", "app_id", params["app_id"])
        if account is None:
            return _fail(-402, "ILLEGAL_APP_REQUEST")
        if not hmac.compare_digest(_mac(account.credentials["key1"], text(account)), params["mac"]):
            return _fail(-402, "ILLEGAL_SIGNATURE_REQUEST")
        return account

    @router.post("/v2/create")
    async def create(request: Request) -> Response:
        p = await _params(request)
        names = (
            "app_id",
            "app_user",
            "app_trans_id",
            "app_time",
            "amount",
            "item",
            "embed_data",
            "description",
        )
        signed = ("app_id", "app_trans_id", "app_user", "amount", "app_time", "embed_data", "item")
        text = "|".join(p.get(n, "") for n in signed)
        account = await merchant(p, names, lambda _: text)
        if not isinstance(account, Account):
            return account
        match = _TRANS_ID.match(p["app_trans_id"])
        if not match or len(p["app_trans_id"]) > 40 or match.group(1) != gmt7(ctx.clock(), "%y%m%d"):
            return _fail(-401, "app_trans_id must start with today's yymmdd (GMT+7)")
        try:
            embed, item = json.loads(p["embed_data"]), json.loads(p["item"])
        except ValueError:
            return _fail(-401, "ILLEGAL_DATA_REQUEST")
        if (
            not p["amount"].isdigit()
            or int(p["amount"]) <= 0
            or not isinstance(embed, dict)
            or not isinstance(item, list)
        ):
            return _fail(-401, "ILLEGAL_DATA_REQUEST")
        key = f"{p['app_id']}/{p['app_trans_id']}"
        if key in orders:
            return _fail(-68, "DUPLICATE_APPS_TRANS_ID")
        token = secrets.token_urlsafe(16)
        tokens[token] = key
        orders[key] = {
            **p,
            "amount": int(p["amount"]),
            "status": 3,
            "callback_url": p.get("callback_url") or account.callback_url,
            "redirect_url": str(embed.get("redirecturl") or account.return_url),
            "callbacks": [],
            "refunded": 0,
        }
        return JSONResponse(
            {
                "return_code": 1,
                "return_message": "Giao dịch thành công",
                "sub_return_code": 1,
                "sub_return_message": "Giao dịch thành công",
                "zp_trans_token": token,
                "order_url": f"{ctx.url('zalopay')}/pay?order={token}",
                "order_token": token,
            }
        )

    @router.get("/pay", response_class=HTMLResponse)
    async def pay_page(order: str = "") -> HTMLResponse:
        found = orders.get(tokens.get(order, ""))
        if found is None:
            return notice_page(
                "Không tìm thấy đơn hàng", "Liên kết thanh toán không hợp lệ.", status_code=404
            )
        if found["status"] != 3:
            return notice_page("ZaloPay", f"Đã xử lý (status {found['status']}).")
        rows = [
            ("Mã giao dịch", found["app_trans_id"]),
            ("Số tiền", format_vnd(found["amount"])),
            ("Nội dung", found["description"]),
        ]
        return checkout_page("Thanh toán qua ZaloPay (giả lập)", rows, action=f"?order={order}")

    @router.post("/pay")
    async def pay(request: Request, order: str = "") -> Response:
        found = orders.get(tokens.get(order, ""))
        chosen = await ctx.settlement(
            request,
            "zalopay",
            found,
            outcomes=_STATUS,
            open_when=("status", 3),
            merchant=("app_id", "app_id"),
        )
        if isinstance(chosen, HTMLResponse):
            return chosen
        outcome, account, found = chosen
        status = _STATUS[outcome]
        found.update(status=status, server_time=now_ms())
        if status == 1:
            found["zp_trans_id"] = int(f"{gmt7(ctx.clock(), '%y%m%d')}{seq():09d}")
            await _callback(ctx, account, found)
        query = {
            "appid": found["app_id"],
            "apptransid": found["app_trans_id"],
            "pmcid": "38" if status == 1 else "",
            "bankcode": found.get("bank_code", ""),
            "amount": str(found["amount"]),
            "discountamount": "0",
            "status": str(status),
        }
        query["checksum"] = _mac(account.credentials["key2"], "|".join(query.values()))
        target = found["redirect_url"]
        return RedirectResponse(f"{target}{'&' if '?' in target else '?'}{urlencode(query)}", status_code=303)

    @router.post("/v2/query")
    async def query(request: Request) -> Response:
        p = await _params(request)
        account = await merchant(
            p,
            ("app_id", "app_trans_id"),
            lambda a: f"{p['app_id']}|{p['app_trans_id']}|{a.credentials['key1']}",
        )
        if not isinstance(account, Account):
            return account
        found = orders.get(f"{p['app_id']}/{p['app_trans_id']}")
        if found is None:
            return _fail(-101, "ORDER_NOT_FOUND")
        if found["status"] == 2:
            return _fail(-1, "Giao dịch thất bại")
        if found["status"] == -49:
            return _fail(-49, "Giao dịch bị hủy")
        paid = found["status"] == 1
        return JSONResponse(
            {
                "return_code": 1 if paid else 3,
                "return_message": "Giao dịch thành công" if paid else "Giao dịch chưa thanh toán",
                "sub_return_code": 1 if paid else 3,
                "sub_return_message": "",
                "is_processing": False,
                "amount": found["amount"],
                "discount_amount": 0,
                "zp_trans_id": found.get("zp_trans_id", 0),
                "server_time": found.get("server_time", now_ms()),
            }
        )

    @router.post("/v2/refund")
    async def refund(request: Request) -> Response:
        p = await _params(request)
        names = ("app_id", "zp_trans_id", "amount", "description", "timestamp")
        text = "|".join(p.get(n, "") for n in names)
        account = await merchant(p, (*names, "m_refund_id"), lambda _: text)
        if not isinstance(account, Account):
            return account
        key = f"{p['app_id']}/{p['m_refund_id']}"
        if key in refunds:  # a retried request: same answer, no second refund
            return JSONResponse(refunds[key]["answer"])
        if not re.fullmatch(rf"\d{{6}}_{re.escape(p['app_id'])}_[0-9A-Za-z]+", p["m_refund_id"]):
            return _fail(-401, "m_refund_id must be yymmdd_appid_xxx")
        if not p["amount"].isdigit() or not p["zp_trans_id"].isdigit():
            return _fail(-401, "ILLEGAL_DATA_REQUEST")
        paid = next((o for o in orders.values() if str(o.get("zp_trans_id")) == p["zp_trans_id"]), None)
        if paid is None or paid["app_id"] != p["app_id"] or paid["status"] != 1:
            return _fail(-101, "ZP_TRANS_ID_NOT_FOUND")
        if paid["refunded"] + int(p["amount"]) > paid["amount"]:
            return _fail(-13, "REFUND_AMOUNT_EXCEEDS_PAID_AMOUNT")
        paid["refunded"] += int(p["amount"])
        answer = {
            "return_code": 3,
            "return_message": "Đang xử lý",
            "sub_return_code": 3,
            "sub_return_message": "Giao dịch đang được xử lý",
            "refund_id": int(f"{gmt7(ctx.clock(), '%y%m%d')}{seq():09d}"),
        }
        refunds[key] = {"status": 3, "amount": int(p["amount"]), "answer": answer}
        return JSONResponse(answer)

    @router.post("/v2/query_refund")
    async def query_refund(request: Request) -> Response:
        p = await _params(request)
        text = f"{p.get('app_id', '')}|{p.get('m_refund_id', '')}|{p.get('timestamp', '')}"
        account = await merchant(p, ("app_id", "m_refund_id", "timestamp"), lambda _: text)
        if not isinstance(account, Account):
            return account
        found = refunds.get(f"{p['app_id']}/{p['m_refund_id']}")
        if found is None:
            return _fail(-101, "REFUND_NOT_FOUND")
        found["status"] = 1  # asynchronous refunds finish by the first status query
        return JSONResponse(
            {
                "return_code": 1,
                "return_message": "Giao dịch thành công",
                "sub_return_code": 1,
                "sub_return_message": "",
            }
        )

    return router


async def _callback(ctx: SimulatorContext, account: Account, order: dict[str, Any]) -> None:
    """POST the key2-signed callback to the order's callback_url and record the answer."""
    data = json.dumps(
        {
            "app_id": int(order["app_id"]),
            "app_trans_id": order["app_trans_id"],
            "app_time": int(order["app_time"]),
            "app_user": order["app_user"],
            "amount": order["amount"],
            "embed_data": order["embed_data"],
            "item": order["item"],
            "zp_trans_id": order["zp_trans_id"],
            "server_time": order["server_time"],
            "channel": 38,
            "merchant_user_id": "sim-" + hashlib.sha256(order["app_user"].encode()).hexdigest()[:24],
            "user_fee_amount": 0,
            "discount_amount": 0,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )
    envelope = {"data": data, "mac": _mac(account.credentials["key2"], data), "type": 1}
    order["callbacks"].append(await ctx.call_back(order["callback_url"], envelope))
