"""VNPay's side of the protocol: the hosted pay page, the signed IPN and browser return, and the
querydr/refund API — verifying our signatures the way VNPay does and signing its answers.

Pay page (``PAY_PATH``): VNPay recomputes the hash from the decoded query, over the non-empty
``vnp_*`` params except vnp_SecureHash/vnp_SecureHashType, PHP-urlencoded; a mismatch shows its
error page with code 70 (Sai chữ ký). A POST of ``outcome`` (success|failed|cancelled) settles
the transaction, GETs the signed IPN to the merchant's callback URL, records the answer and
303-redirects the browser to vnp_ReturnUrl with the same signed params.
API (``API_PATH``): querydr and refund with VNPay's codes (02 unknown TmnCode, 03 bad data, 91
unknown transaction, 94 duplicate request id / refund in progress, 95 not refundable, 97 bad
checksum). A refund answers TransactionStatus 05 (processing) and settles after
``REFUND_SETTLE_SECONDS`` of the simulator's clock.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import httpx
import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from app.adapters.base import VN_TZ, Account, gmt7
from app.adapters.common.pages import error_page
from app.adapters.common.simulation import SimulatorContext, hosted_pay_routes, with_query
from app.adapters.phpurl import php_query
from app.adapters.vnpay.adapter import (
    API_CODES,
    API_PATH,
    PAY_PATH,
    QUERY_HASH_FIELDS,
    QUERY_RESPONSE_HASH_FIELDS,
    REFUND_HASH_FIELDS,
    REFUND_RESPONSE_HASH_FIELDS,
    VERSION,
    pipe_sign,
    text,
    verify_pipe,
)
from app.text import format_vnd

PROVIDER = "vnpay"
REFUND_SETTLE_SECONDS = 60
TITLE = "VNPAY — Cổng thanh toán (mô phỏng)"
_PAY_REQUIRED = (
    "vnp_Version", "vnp_Command", "vnp_TmnCode", "vnp_Amount", "vnp_CurrCode", "vnp_CreateDate",
    "vnp_ExpireDate", "vnp_IpAddr", "vnp_Locale", "vnp_OrderInfo", "vnp_OrderType", "vnp_ReturnUrl",
    "vnp_TxnRef", "vnp_SecureHash",
)  # fmt: skip
# outcome → (vnp_ResponseCode, vnp_TransactionStatus)
_OUTCOMES = {"success": ("00", "00"), "failed": ("51", "02"), "cancelled": ("24", "02")}


def gateway_hash(params: dict[str, str], secret: str) -> str:
    """What VNPay computes over a pay request: non-empty vnp_* except the two hash fields."""
    kept = sorted(
        (k, v)
        for k, v in params.items()
        if k.startswith("vnp_") and k not in {"vnp_SecureHash", "vnp_SecureHashType"} and v != ""
    )
    data = php_query(kept)
    return hmac.new(secret.encode("utf-8"), data.encode("utf-8"), hashlib.sha512).hexdigest()


def _wire_time(raw: str) -> datetime | None:
    try:
        return datetime.strptime(raw, "%Y%m%d%H%M%S").replace(tzinfo=VN_TZ)
    except ValueError:
        return None


def _rsp_code(response: httpx.Response) -> dict[str, Any]:
    """The RspCode the merchant answered the IPN with (None: not a JSON object)."""
    try:
        parsed = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return {"RspCode": None}
    return {"RspCode": parsed.get("RspCode") if isinstance(parsed, dict) else None}


def build_router(ctx: SimulatorContext) -> APIRouter:
    router = APIRouter()
    store = ctx.store(PROVIDER)
    txns: dict[str, dict[str, Any]] = store.setdefault("transactions", {})
    request_ids: set[str] = store.setdefault("request_ids", set())

    def next_number() -> str:
        store["counter"] = store.get("counter", 14_000_000) + 1
        return str(store["counter"])

    async def checked_pay(request: Request) -> tuple[dict[str, str], Account, dict[str, Any]] | Response:
        items = parse_qsl(request.url.query, keep_blank_values=True)
        params = dict(items)
        if len(params) != len(items) or any(not params.get(k) for k in _PAY_REQUIRED):
            return error_page(TITLE, "03", "Dữ liệu gửi sang không đúng định dạng")
        account = await ctx.find_account(PROVIDER, "tmn_code", params["vnp_TmnCode"])
        if account is None:
            return error_page(TITLE, "02", "Merchant không hợp lệ (kiểm tra lại vnp_TmnCode)")
        expected = gateway_hash(params, account.credentials["hash_secret"])
        if not hmac.compare_digest(expected.encode(), params["vnp_SecureHash"].lower().encode("utf-8")):
            return error_page(TITLE, "70", "Sai chữ ký (vnp_SecureHash)")
        amount = params["vnp_Amount"]
        expire, created = _wire_time(params["vnp_ExpireDate"]), _wire_time(params["vnp_CreateDate"])
        if (
            params["vnp_Version"] != VERSION
            or params["vnp_Command"] != "pay"
            or params["vnp_CurrCode"] != "VND"
            or params["vnp_Locale"] not in {"vn", "en"}
            or expire is None
            or created is None
        ):
            return error_page(TITLE, "03", "Dữ liệu gửi sang không đúng định dạng")
        if not amount.isdigit() or int(amount) % 100 or not 5_000 <= int(amount) // 100 < 1_000_000_000:
            return error_page(TITLE, "03", "Số tiền không hợp lệ: từ 5,000 VND đến dưới 1 tỷ đồng")
        if ctx.clock() > expire:
            return error_page(TITLE, "11", "Giao dịch đã quá thời gian chờ thanh toán")
        key = f"{params['vnp_TmnCode']}|{params['vnp_TxnRef']}"
        txn = txns.setdefault(
            key,
            {
                "tmn_code": params["vnp_TmnCode"],
                "txn_ref": params["vnp_TxnRef"],
                "amount": amount,
                "order_info": params["vnp_OrderInfo"],
                "bank_code": params.get("vnp_BankCode", ""),
                "create_date": params["vnp_CreateDate"],
                "status": "01",
                "response_code": "",
                "transaction_no": "",
                "pay_date": "",
                "transaction_type": "01",
                "refunds": [],
            },
        )
        if txn["status"] != "01" or txn["amount"] != amount or txn["create_date"] != params["vnp_CreateDate"]:
            return error_page(TITLE, "01", "Giao dịch đã tồn tại")
        return params, account, txn

    def pay_rows(params: dict[str, str]) -> list[tuple[str, str]]:
        return [
            ("Nhà cung cấp (vnp_TmnCode)", params["vnp_TmnCode"]),
            ("Mã giao dịch (vnp_TxnRef)", params["vnp_TxnRef"]),
            ("Nội dung", params["vnp_OrderInfo"]),
            ("Số tiền", format_vnd(int(params["vnp_Amount"]) // 100)),
        ]

    async def pay_outcome(
        params: dict[str, str], account: Account, txn: dict[str, Any], outcome: str
    ) -> Response:
        code, status = _OUTCOMES[outcome]
        paid = code == "00"
        txn.update(
            response_code=code,
            status=status,
            transaction_no=next_number() if paid else "0",
            pay_date=gmt7(ctx.clock()),
            bank_code=txn["bank_code"] or "NCB",
        )
        result = {
            "vnp_Amount": txn["amount"],
            "vnp_BankCode": txn["bank_code"],
            "vnp_BankTranNo": f"VNP{txn['transaction_no']}" if paid else "",
            "vnp_CardType": "ATM",
            "vnp_OrderInfo": txn["order_info"],
            "vnp_PayDate": txn["pay_date"],
            "vnp_ResponseCode": code,
            "vnp_TmnCode": txn["tmn_code"],
            "vnp_TransactionNo": txn["transaction_no"],
            "vnp_TransactionStatus": status,
            "vnp_TxnRef": txn["txn_ref"],
        }
        # VNPay signs what it sends, empty values included.
        data = php_query(sorted(result.items()))
        secret = account.credentials["hash_secret"]
        digest = hmac.new(secret.encode(), data.encode(), hashlib.sha512).hexdigest()
        query = f"{data}&vnp_SecureHash={digest}"
        txn["ipn"] = await ctx.ipn_get(with_query(account.callback_url, query), _rsp_code)
        return RedirectResponse(with_query(params["vnp_ReturnUrl"], query), status_code=303)

    hosted_pay_routes(
        router,
        PAY_PATH,
        TITLE,
        check=checked_pay,
        rows=pay_rows,
        outcomes=_OUTCOMES,
        bad_outcome=lambda: error_page(TITLE, "03", "outcome phải là success, failed hoặc cancelled"),
        settle=pay_outcome,
    )

    @router.post(API_PATH, include_in_schema=False)
    async def api(request: Request) -> Response:
        try:
            data = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            data = None
        if not isinstance(data, dict) or data.get("vnp_Command") not in {"querydr", "refund"}:
            return JSONResponse({"vnp_ResponseCode": "03", "vnp_Message": API_CODES["03"]})
        command = data["vnp_Command"]
        account = await ctx.find_account(PROVIDER, "tmn_code", text(data.get("vnp_TmnCode")))
        if account is None:
            return JSONResponse({"vnp_ResponseCode": "02", "vnp_Message": API_CODES["02"]})
        secret = account.credentials["hash_secret"]
        fields = QUERY_HASH_FIELDS if command == "querydr" else REFUND_HASH_FIELDS
        optional = {"vnp_TransactionNo"}
        if (
            any(not text(data.get(f)) for f in fields if f not in optional)
            or data.get("vnp_Version") != VERSION
        ):
            return answer(secret, data, "03")
        if not verify_pipe(secret, data, fields):
            return answer(secret, data, "97")
        request_key = f"{account.id}|{text(data['vnp_RequestId'])}"
        if request_key in request_ids:
            return answer(secret, data, "94")
        request_ids.add(request_key)
        txn = txns.get(f"{text(data['vnp_TmnCode'])}|{text(data['vnp_TxnRef'])}")
        if txn is None or txn["create_date"] != text(data["vnp_TransactionDate"]):
            return answer(secret, data, "91")
        if command == "querydr":
            return answer(secret, data, "00", txn)
        return refund(secret, data, txn)

    def refund(secret: str, data: dict[str, Any], txn: dict[str, Any]) -> Response:
        number = text(data.get("vnp_TransactionNo"))
        if number and number != txn["transaction_no"]:
            return answer(secret, data, "91")
        if txn["response_code"] != "00":
            return answer(secret, data, "95")
        settle(txn)
        if txn["status"] == "05":
            return answer(secret, data, "94", txn)
        amount = text(data["vnp_Amount"])
        remaining = int(txn["amount"]) - sum(int(r["amount"]) for r in txn["refunds"])
        kind = text(data["vnp_TransactionType"])
        if (
            not amount.isdigit()
            or int(amount) % 100
            or not 0 < int(amount) <= remaining
            or kind not in {"02", "03"}
            or (kind == "02" and int(amount) != remaining)
        ):
            return answer(secret, data, "03", txn)
        txn["refunds"].append(
            {"amount": amount, "at": ctx.clock().isoformat(), "by": text(data["vnp_CreateBy"])}
        )
        txn.update(transaction_type=kind, status="05")
        return answer(secret, data, "00", txn, amount=amount)

    def settle(txn: dict[str, Any]) -> None:
        """A refund in processing (05) completes after REFUND_SETTLE_SECONDS."""
        if txn["status"] == "05" and txn["refunds"]:
            since = datetime.fromisoformat(txn["refunds"][-1]["at"])
            if ctx.clock() >= since + timedelta(seconds=REFUND_SETTLE_SECONDS):
                txn["status"] = "00"

    def answer(
        secret: str, data: dict[str, Any], code: str, txn: dict[str, Any] | None = None, *, amount: str = ""
    ) -> JSONResponse:
        command = text(data.get("vnp_Command"))
        if txn is not None:
            settle(txn)
        t = txn or {}
        body: dict[str, str] = {
            "vnp_ResponseId": secrets.token_hex(16),
            "vnp_Command": command,
            "vnp_ResponseCode": code,
            "vnp_Message": API_CODES[code],
            "vnp_TmnCode": text(data.get("vnp_TmnCode")),
            "vnp_TxnRef": text(data.get("vnp_TxnRef")),
            "vnp_Amount": amount or t.get("amount", ""),
            "vnp_OrderInfo": t.get("order_info", ""),
            "vnp_BankCode": t.get("bank_code", ""),
            "vnp_PayDate": t.get("pay_date", ""),
            "vnp_TransactionNo": t.get("transaction_no", ""),
            "vnp_TransactionType": t.get("transaction_type", ""),
            "vnp_TransactionStatus": t.get("status", ""),
        }
        order: tuple[str, ...] = REFUND_RESPONSE_HASH_FIELDS
        if command == "querydr":
            body.update(vnp_PromotionCode="", vnp_PromotionAmount="")
            order = QUERY_RESPONSE_HASH_FIELDS
        body["vnp_SecureHash"] = pipe_sign(secret, body, order)
        return JSONResponse(body)

    return router
