"""OnePay's side of the protocol: the hosted pay page, the signed IPN and browser return, and the
QueryDR/refund API — verifying our signatures the way OnePay does and signing its answers.

Pay page (``PAY_PATH``): hash over non-empty ``vpc_*``/``user_*`` except vpc_SecureHash, ASCII
order, raw values, HMAC-SHA256 keyed with the hex-decoded secret, compared case-insensitively;
``Title``/``AgainLink`` are ignored. A mismatch shows the error page. A POST of ``outcome``
settles the transaction (0 approved, 1 declined, 99 cancelled), GETs the signed IPN to the
merchant's callback URL (OnePay expects ``responsecode=1&desc=confirm-success``), records the
answer and 303-redirects to vpc_ReturnURL with the same signed params.
QueryDR (``QUERY_PATH``) and refund (``REFUND_PATH``): form POSTs signed the same way and
authenticated by vpc_User/vpc_Password; signed ``k=v&…`` answers. Simulator convention: a
request it cannot authenticate gets an *unsigned* answer (vpc_TxnResponseCode=7).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any
from urllib.parse import parse_qsl

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response

from app.adapters.base import Account
from app.adapters.common.pages import error_page
from app.adapters.common.simulation import SimulatorContext, hosted_pay_routes, with_query
from app.adapters.onepay.adapter import PAY_PATH, QUERY_PATH, REFUND_PATH
from app.adapters.phpurl import php_query
from app.text import format_vnd

PROVIDER = "onepay"
TITLE = "OnePay — Cổng thanh toán (mô phỏng)"
_PAY_REQUIRED = (
    "vpc_Version", "vpc_Command", "vpc_AccessCode", "vpc_Merchant", "vpc_MerchTxnRef", "vpc_OrderInfo",
    "vpc_Amount", "vpc_Currency", "vpc_Locale", "vpc_ReturnURL", "vpc_TicketNo", "vpc_SecureHash",
)  # fmt: skip
# outcome → (vpc_TxnResponseCode, vpc_Message)
_OUTCOMES = {
    "success": ("0", "Approved"),
    "failed": ("1", "Bank Declined"),
    "cancelled": ("99", "User Cancel"),
}


def gateway_hash(params: dict[str, str], hex_secret: str) -> str:
    """What OnePay computes: non-empty vpc_/user_ keys except vpc_SecureHash, sorted, raw."""
    data = "&".join(
        f"{k}={v}"
        for k, v in sorted(params.items())
        if k.startswith(("vpc_", "user_")) and k != "vpc_SecureHash" and v != ""
    )
    return hmac.new(bytes.fromhex(hex_secret), data.encode("utf-8"), hashlib.sha256).hexdigest().upper()


def _hash_ok(params: dict[str, str], hex_secret: str) -> bool:
    received = params.get("vpc_SecureHash", "").upper().encode("utf-8")
    return hmac.compare_digest(gateway_hash(params, hex_secret).encode(), received)


def _signed_text(params: dict[str, str], hex_secret: str) -> str:
    return php_query([*params.items(), ("vpc_SecureHash", gateway_hash(params, hex_secret))])


def _unsigned(message: str) -> PlainTextResponse:
    return PlainTextResponse(php_query([("vpc_TxnResponseCode", "7"), ("vpc_Message", message)]))


def _confirmation(response: httpx.Response) -> dict[str, Any]:
    """Whether the merchant confirmed the IPN (``responsecode=1``)."""
    return {"confirmed": response.status_code == 200 and "responsecode=1" in response.text}


def build_router(ctx: SimulatorContext) -> APIRouter:
    router = APIRouter()
    store = ctx.store(PROVIDER)
    txns: dict[str, dict[str, Any]] = store.setdefault("transactions", {})

    def next_number() -> str:
        store["counter"] = store.get("counter", 1_600_000) + 1
        return str(store["counter"])

    async def merchant(params: dict[str, str]) -> Account | None:
        account = await ctx.find_account(PROVIDER, "merchant", params.get("vpc_Merchant", ""))
        if account is None or account.credentials.get("access_code") != params.get("vpc_AccessCode"):
            return None
        return account

    async def checked_pay(request: Request) -> tuple[dict[str, str], Account, dict[str, Any]] | Response:
        items = parse_qsl(request.url.query, keep_blank_values=True)
        params = dict(items)
        if len(params) != len(items) or any(not params.get(k) for k in _PAY_REQUIRED):
            return error_page(TITLE, "7", "Thiếu tham số hoặc tham số lặp lại")
        account = await merchant(params)
        if account is None:
            return error_page(TITLE, "3", "Mã đơn vị hoặc access code không tồn tại")
        if not _hash_ok(params, account.credentials["hash_secret"]):
            return error_page(TITLE, "7", "Sai chữ ký (vpc_SecureHash)")
        amount = params["vpc_Amount"]
        if not amount.isdigit() or int(amount) % 100 or int(amount) == 0 or len(amount) > 10:
            return error_page(TITLE, "5", "Số tiền không hợp lệ")
        if (
            params["vpc_Version"] != "2"
            or params["vpc_Command"] != "pay"
            or params["vpc_Currency"] != "VND"
            or params["vpc_Locale"] not in {"vn", "en"}
            or len(params["vpc_MerchTxnRef"]) > 40
            or len(params["vpc_OrderInfo"]) > 34
        ):
            return error_page(TITLE, "7", "Tham số không hợp lệ")
        key = f"{params['vpc_Merchant']}|{params['vpc_MerchTxnRef']}"
        txn = txns.setdefault(
            key,
            {
                "command": "pay",
                "merchant": params["vpc_Merchant"],
                "ref": params["vpc_MerchTxnRef"],
                "amount": amount,
                "order_info": params["vpc_OrderInfo"],
                "locale": params["vpc_Locale"],
                "code": "100",
                "message": "In progress",
                "transaction_no": "",
                "refunded": 0,
            },
        )
        if txn["command"] != "pay" or txn["code"] != "100" or txn["amount"] != amount:
            return error_page(TITLE, "S", "Giao dịch đã tồn tại")
        return params, account, txn

    def pay_rows(params: dict[str, str]) -> list[tuple[str, str]]:
        return [
            ("Đơn vị (vpc_Merchant)", params["vpc_Merchant"]),
            ("Mã giao dịch (vpc_MerchTxnRef)", params["vpc_MerchTxnRef"]),
            ("Nội dung", params["vpc_OrderInfo"]),
            ("Số tiền", format_vnd(int(params["vpc_Amount"]) // 100)),
        ]

    async def pay_outcome(
        params: dict[str, str], account: Account, txn: dict[str, Any], outcome: str
    ) -> Response:
        code, message = _OUTCOMES[outcome]
        txn.update(code=code, message=message, transaction_no=next_number())
        result = {
            "vpc_AdditionData": "970436",
            "vpc_Amount": txn["amount"],
            "vpc_Command": "pay",
            "vpc_CurrencyCode": "VND",
            "vpc_Locale": txn["locale"],
            "vpc_MerchTxnRef": txn["ref"],
            "vpc_Merchant": txn["merchant"],
            "vpc_Message": message,
            "vpc_OrderInfo": txn["order_info"],
            "vpc_TransactionNo": txn["transaction_no"],
            "vpc_TxnResponseCode": code,
            "vpc_Version": "2",
        }
        query = _signed_text(result, account.credentials["hash_secret"])
        txn["ipn"] = await ctx.ipn_get(with_query(account.callback_url, query), _confirmation)
        return RedirectResponse(with_query(params["vpc_ReturnURL"], query), status_code=303)

    hosted_pay_routes(
        router,
        PAY_PATH,
        TITLE,
        check=checked_pay,
        rows=pay_rows,
        outcomes=_OUTCOMES,
        bad_outcome=lambda: error_page(TITLE, "7", "outcome phải là success, failed hoặc cancelled"),
        settle=pay_outcome,
    )

    async def checked_api(request: Request, command: str) -> tuple[dict[str, str], str] | Response:
        items = parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
        params = dict(items)
        if len(params) != len(items) or params.get("vpc_Command") != command:
            return _unsigned("Tham số không hợp lệ")
        account = await merchant(params)
        if account is None:
            return _unsigned("Mã đơn vị hoặc access code không tồn tại")
        secret = account.credentials["hash_secret"]
        if not _hash_ok(params, secret):
            return _unsigned("Sai chữ ký (vpc_SecureHash)")
        user, password = account.credentials.get("user"), account.credentials.get("password")
        if not user or params.get("vpc_User") != user or params.get("vpc_Password") != password:
            return _unsigned("Sai vpc_User hoặc vpc_Password")
        return params, secret

    @router.post(QUERY_PATH, include_in_schema=False)
    async def query(request: Request) -> Response:
        checked = await checked_api(request, "queryDR")
        if isinstance(checked, Response):
            return checked
        params, secret = checked
        txn = txns.get(f"{params['vpc_Merchant']}|{params.get('vpc_MerchTxnRef', '')}")
        answer = {"vpc_Command": "queryDR", "vpc_DRExists": "N", "vpc_Merchant": params["vpc_Merchant"]}
        answer["vpc_MerchTxnRef"] = params.get("vpc_MerchTxnRef", "")
        if txn is not None:
            answer.update(
                vpc_DRExists="Y",
                vpc_Amount=txn["amount"],
                vpc_Command=txn["command"],
                vpc_Message=txn["message"],
                vpc_OrderInfo=txn["order_info"],
                vpc_TransactionNo=txn["transaction_no"],
                vpc_TxnResponseCode=txn["code"],
            )
        return PlainTextResponse(_signed_text(answer, secret))

    @router.post(REFUND_PATH, include_in_schema=False)
    async def refund(request: Request) -> Response:
        checked = await checked_api(request, "refund")
        if isinstance(checked, Response):
            return checked
        params, secret = checked
        merchant_id, ref = params["vpc_Merchant"], params.get("vpc_MerchTxnRef", "")
        original = txns.get(f"{merchant_id}|{params.get('vpc_OrgMerchTxnRef', '')}")
        amount = params.get("vpc_Amount", "")
        code, message = "0", "Approved"
        if not ref or f"{merchant_id}|{ref}" in txns:
            code, message = "7", "vpc_MerchTxnRef đã tồn tại"
        elif original is None or original["command"] != "pay" or original["code"] != "0":
            code, message = "1", "Giao dịch gốc không tồn tại hoặc chưa thành công"
        elif (
            not amount.isdigit()
            or int(amount) % 100
            or not 0 < int(amount) <= int(original["amount"]) - original["refunded"]
        ):
            code, message = "5", "Số tiền hoàn không hợp lệ"
        number = ""
        if code == "0" and original is not None:
            number = next_number()
            original["refunded"] += int(amount)
            txns[f"{merchant_id}|{ref}"] = {
                "command": "refund",
                "merchant": merchant_id,
                "ref": ref,
                "amount": amount,
                "order_info": original["order_info"],
                "code": "0",
                "message": "Approved",
                "transaction_no": number,
            }
        answer = {
            "vpc_Amount": amount,
            "vpc_Command": "refund",
            "vpc_MerchTxnRef": ref,
            "vpc_Merchant": merchant_id,
            "vpc_Message": message,
            "vpc_OrgMerchTxnRef": params.get("vpc_OrgMerchTxnRef", ""),
            "vpc_TransactionNo": number,
            "vpc_TxnResponseCode": code,
            "vpc_Version": "2",
        }
        return PlainTextResponse(_signed_text(answer, secret))

    return router
