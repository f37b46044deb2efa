"""VNPay (vnp_Version 2.1.0): signed redirect, GET IPN and browser return, querydr and refund.

- Pay URL / IPN / return: keys in byte order, ``urlencode(k)=urlencode(v)`` (PHP's urlencode)
  joined by ``&``, HMAC-SHA512 with the UTF-8 secret, lowercase hex. The query string sent is
  exactly the hashed string plus ``&vnp_SecureHash=``; empty params and vnp_SecureHashType are
  never sent. Times are GMT+7 ``yyyyMMddHHmmss``; amounts are VND × 100.
- querydr / refund: POST JSON to ``api_url``, HMAC-SHA512 over raw values joined by ``|``; the
  answer's signature is verified (a bad one is a technical error: the outcome is unknown).
- querydr 91 (not found) → pending: VNPay has no transaction, so nothing was paid yet.
- Refund: 02 full / 03 partial, ``vnp_TransactionDate`` = the original vnp_CreateDate (``wire``);
  94 (a refund already in progress) → pending; 91/95/02/03 → failed. VNPay has no refund query:
  :meth:`VnpayAdapter.query_refund` reads querydr's vnp_TransactionType/Status.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx
import orjson

from app.adapters.base import (
    API_REFUNDS,
    HOSTED_PAGE,
    VN_TZ,
    Account,
    AckVerdict,
    AttemptRef,
    Capability,
    CheckoutRequest,
    CheckoutResult,
    CredentialsError,
    GatewayLogicalError,
    GatewayTechnicalError,
    Notification,
    Outcome,
    QueryResult,
    RefundRequest,
    RefundResult,
    RefundStatus,
    Reply,
    call_json,
    gmt7,
    hundredths_to_vnd,
    require_amount,
    require_fields,
)
from app.adapters.common.freetext import safe_text
from app.adapters.common.querystring import (
    RedirectNotifications,
    absolute_urls,
    locale,
    same_hex,
    split_signed,
)
from app.adapters.phpurl import php_query
from app.adapters.vnpay.wire import ApiAnswer, PaymentNotice

PUBLIC_PAY_URL = "https://sandbox.vnpayment.vn/paymentv2/vpcpay.html"
PUBLIC_API_URL = "https://sandbox.vnpayment.vn/merchant_webapi/api/transaction"
# The simulator serves the same paths under its mount point.
PAY_PATH = "/paymentv2/vpcpay.html"
API_PATH = "/merchant_webapi/api/transaction"

_TMN = re.compile(r"[A-Za-z0-9]{8}")
_REQUEST_ID = re.compile(r"[A-Za-z0-9]{1,32}")

# What we answer VNPay's IPN, by the pipeline's verdict (HTTP 200 always).
IPN_REPLIES: dict[AckVerdict, tuple[str, str]] = {
    AckVerdict.invalid_signature: ("97", "Invalid Checksum"),
    AckVerdict.not_found: ("01", "Order not found"),
    AckVerdict.amount_mismatch: ("04", "Invalid amount"),
    AckVerdict.already_processed: ("02", "Order already confirmed"),
    AckVerdict.accepted: ("00", "Confirm Success"),
    AckVerdict.error: ("99", "Unknow error"),
}

VERSION = "2.1.0"
# vnp_OrderInfo: "Alphanumeric[1,255]", unaccented Vietnamese without special characters
# (VNPay integration guide): app.adapters.common.freetext.
ORDER_INFO_MAX = 255
HASH_FIELD = "vnp_SecureHash"
HASH_TYPE_FIELD = "vnp_SecureHashType"

QUERY_HASH_FIELDS = (
    "vnp_RequestId", "vnp_Version", "vnp_Command", "vnp_TmnCode", "vnp_TxnRef",
    "vnp_TransactionDate", "vnp_CreateDate", "vnp_IpAddr", "vnp_OrderInfo",
)  # fmt: skip
REFUND_HASH_FIELDS = (
    "vnp_RequestId", "vnp_Version", "vnp_Command", "vnp_TmnCode", "vnp_TransactionType", "vnp_TxnRef",
    "vnp_Amount", "vnp_TransactionNo", "vnp_TransactionDate", "vnp_CreateBy", "vnp_CreateDate",
    "vnp_IpAddr", "vnp_OrderInfo",
)  # fmt: skip
QUERY_RESPONSE_HASH_FIELDS = (
    "vnp_ResponseId", "vnp_Command", "vnp_ResponseCode", "vnp_Message", "vnp_TmnCode", "vnp_TxnRef",
    "vnp_Amount", "vnp_BankCode", "vnp_PayDate", "vnp_TransactionNo", "vnp_TransactionType",
    "vnp_TransactionStatus", "vnp_OrderInfo", "vnp_PromotionCode", "vnp_PromotionAmount",
)  # fmt: skip
REFUND_RESPONSE_HASH_FIELDS = QUERY_RESPONSE_HASH_FIELDS[:-2]

# vnp_ResponseCode of a payment (IPN / return) → outcome, message.
RESPONSE_CODES: dict[str, tuple[Outcome, str]] = {
    "00": (Outcome.succeeded, "Giao dịch thành công"),
    "07": (Outcome.pending, "Trừ tiền thành công, giao dịch bị nghi ngờ (chờ merchant xác nhận)"),
    "09": (Outcome.failed, "Thẻ/tài khoản chưa đăng ký InternetBanking"),
    "10": (Outcome.failed, "Xác thực thông tin thẻ/tài khoản sai quá 3 lần"),
    "11": (Outcome.expired, "Đã hết hạn chờ thanh toán"),
    "12": (Outcome.failed, "Thẻ/tài khoản bị khóa"),
    "13": (Outcome.failed, "Nhập sai mật khẩu xác thực giao dịch (OTP)"),
    "24": (Outcome.cancelled, "Khách hàng hủy giao dịch"),
    "51": (Outcome.failed, "Tài khoản không đủ số dư"),
    "65": (Outcome.failed, "Tài khoản vượt quá hạn mức giao dịch trong ngày"),
    "75": (Outcome.failed, "Ngân hàng thanh toán đang bảo trì"),
    "79": (Outcome.failed, "Nhập sai mật khẩu thanh toán quá số lần quy định"),
    "99": (Outcome.failed, "Các lỗi khác"),
}

# vnp_TransactionStatus → outcome of the *payment*, message. 05/06/09 describe a refund of a
# payment that did succeed (vnp_TransactionType 02/03), so the payment itself is succeeded.
TRANSACTION_STATUSES: dict[str, tuple[Outcome, str]] = {
    "00": (Outcome.succeeded, "Giao dịch thành công"),
    "01": (Outcome.pending, "Giao dịch chưa hoàn tất"),
    "02": (Outcome.failed, "Giao dịch bị lỗi"),
    "04": (Outcome.failed, "Giao dịch đảo (khách bị trừ tiền tại ngân hàng nhưng GD không thành công)"),
    "05": (Outcome.succeeded, "VNPAY đang xử lý giao dịch hoàn tiền"),
    "06": (Outcome.succeeded, "VNPAY đã gửi yêu cầu hoàn tiền sang ngân hàng"),
    "07": (Outcome.pending, "Giao dịch bị nghi ngờ gian lận"),
    "09": (Outcome.succeeded, "Giao dịch hoàn trả bị từ chối"),
}

# vnp_TransactionStatus of a refund transaction (type 02/03) → refund status.
REFUND_STATUSES: dict[str, RefundStatus] = {
    "00": RefundStatus.succeeded,
    "05": RefundStatus.pending,
    "06": RefundStatus.pending,
    "09": RefundStatus.failed,
}

# querydr / refund API vnp_ResponseCode → message.
API_CODES: dict[str, str] = {
    "00": "Yêu cầu thành công",
    "02": "Mã định danh kết nối không hợp lệ (kiểm tra TmnCode)",
    "03": "Dữ liệu gửi sang không đúng định dạng",
    "91": "Không tìm thấy giao dịch yêu cầu",
    "94": "Yêu cầu trùng lặp trong thời gian giới hạn của API",
    "95": "Giao dịch không thành công bên VNPAY, VNPAY từ chối xử lý yêu cầu",
    "97": "Checksum không hợp lệ",
    "99": "Các lỗi khác",
}


def payment_outcome(response_code: str, transaction_status: str) -> Outcome:
    """IPN/return outcome: paid means ResponseCode 00 AND TransactionStatus 00."""
    by_code = RESPONSE_CODES.get(response_code)
    by_status = TRANSACTION_STATUSES.get(transaction_status)
    if by_code is None or by_status is None:
        return Outcome.unknown
    if response_code == "00":
        return by_status[0] if transaction_status in {"00", "01", "02", "04", "07"} else Outcome.unknown
    if transaction_status == "00":
        return Outcome.unknown  # a failure code on a transaction marked successful: ask, never guess
    return by_code[0]


def hash_data(params: Mapping[str, str]) -> str:
    """The string VNPay signs: keys in byte order, both sides PHP-urlencoded."""
    return php_query(sorted(params.items(), key=lambda kv: kv[0].encode("utf-8")))


def hmac_sha512(secret: str, data: str) -> str:
    return hmac.new(secret.encode("utf-8"), data.encode("utf-8"), hashlib.sha512).hexdigest()


def signed_query(params: Mapping[str, str], secret: str) -> str:
    """The query string sent: exactly the hashed string, then ``&vnp_SecureHash=``."""
    data = hash_data(params)
    return f"{data}&{HASH_FIELD}={hmac_sha512(secret, data)}"


def verify_items(items: Iterable[tuple[str, str]], secret: str) -> tuple[bool, dict[str, str]]:
    """Verify an IPN/return: every ``vnp_*`` field except the two hash fields. Empty values are
    hashed as received first, then (if that fails and one is present) without them.
    Returns (verified, the vnp_* fields). A repeated key is never verified."""
    received_fields, received, repeated = split_signed(items, HASH_FIELD, ignore=(HASH_TYPE_FIELD,))
    fields = {k: v for k, v in received_fields.items() if k.startswith("vnp_")}
    if repeated or not received or not fields:
        return False, fields
    if same_hex(hmac_sha512(secret, hash_data(fields)), received):
        return True, fields
    non_empty = {k: v for k, v in fields.items() if v != ""}
    if len(non_empty) != len(fields) and same_hex(hmac_sha512(secret, hash_data(non_empty)), received):
        return True, fields
    return False, fields


def text(value: Any) -> str:
    """A JSON value as VNPay hashes it: raw string, integer digits, missing → ``""``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | str):
        return str(value)
    return repr(value)


def pipe_sign(secret: str, values: Mapping[str, Any], order: Sequence[str]) -> str:
    return hmac_sha512(secret, "|".join(text(values.get(name)) for name in order))


def verify_pipe(secret: str, values: Mapping[str, Any], order: Sequence[str]) -> bool:
    return same_hex(pipe_sign(secret, values, order), text(values.get(HASH_FIELD)))


def parse_time(raw: str) -> datetime | None:
    """yyyyMMddHHmmss in GMT+7 → aware datetime (None when absent or malformed)."""
    if len(raw) != 14 or not (raw.isascii() and raw.isdigit()):
        return None
    try:  # by hand: strptime costs a tenth of an IPN's parsing
        return datetime(
            int(raw[0:4]),
            int(raw[4:6]),
            int(raw[6:8]),
            int(raw[8:10]),
            int(raw[10:12]),
            int(raw[12:14]),
            tzinfo=VN_TZ,
        )
    except ValueError:
        return None


class VnpayAdapter(RedirectNotifications):
    """VNPay: signed redirect, GET IPN, querydr and refund (no separate refund query)."""

    name: ClassVar[str] = "vnpay"
    capabilities: ClassVar[frozenset[Capability]] = HOSTED_PAGE | {Capability.query} | API_REFUNDS
    credential_fields: ClassVar[tuple[str, ...]] = ("tmn_code", "hash_secret")
    merchant_field, merchant_credential, amount_field = "vnp_TmnCode", "tmn_code", "vnp_Amount"
    # VNPay: "Số tiền hợp lệ từ 5,000 VND đến dưới 1 tỷ đồng" (≥ 5,000 and < 1,000,000,000 VND).
    min_amount: ClassVar[int] = 5_000
    local_checkout: ClassVar[bool] = True  # built here: no call to the gateway
    max_amount: ClassVar[int | None] = 999_999_999

    def validate_account(
        self, credentials: Mapping[str, Any], settings: Mapping[str, Any]
    ) -> tuple[dict[str, str], dict[str, Any]]:
        creds = require_fields(credentials, self.credential_fields)
        errors: dict[str, str] = {}
        if not _TMN.fullmatch(creds["tmn_code"]):
            errors["credentials.tmn_code"] = "must be 8 letters or digits"
        if any(ch.isspace() for ch in creds["hash_secret"]) or len(creds["hash_secret"]) < 8:
            errors["credentials.hash_secret"] = "must be at least 8 characters without spaces"
        defaults = self.default_settings(None)
        out: dict[str, Any] = absolute_urls(settings, defaults, errors)
        order_type = settings.get("order_type", "other")
        if not isinstance(order_type, str) or not order_type.isascii() or not order_type.strip():
            errors["settings.order_type"] = "must be a VNPay order type code"
        out["order_type"] = order_type
        server_ip = settings.get("server_ip", "127.0.0.1")
        if not isinstance(server_ip, str) or not server_ip.strip():
            errors["settings.server_ip"] = "must be this server's IP address"
        out["server_ip"] = server_ip
        if errors:
            raise CredentialsError(errors)
        return creds, out

    def default_settings(self, simulator_base_url: str | None) -> dict[str, Any]:
        if simulator_base_url:
            base = simulator_base_url.rstrip("/")
            return {"pay_url": base + PAY_PATH, "api_url": base + API_PATH}
        return {"pay_url": PUBLIC_PAY_URL, "api_url": PUBLIC_API_URL}

    async def create_checkout(
        self, account: Account, request: CheckoutRequest, http: httpx.AsyncClient
    ) -> CheckoutResult:
        require_amount(self, request.amount, "VNPay accepts 5,000 VND up to 999,999,999 VND")
        create_date = gmt7(request.created_at)
        params = {
            "vnp_Version": VERSION,
            "vnp_Command": "pay",
            "vnp_TmnCode": account.credentials["tmn_code"],
            "vnp_Amount": str(request.amount * 100),
            "vnp_CurrCode": "VND",
            "vnp_BankCode": request.bank_code or "",
            "vnp_CreateDate": create_date,
            "vnp_ExpireDate": gmt7(request.expires_at),
            "vnp_IpAddr": request.client_ip,
            "vnp_Locale": locale(request.locale),
            "vnp_OrderInfo": safe_text(request.description, ORDER_INFO_MAX)
            or f"Thanh toan {request.reference}",
            "vnp_OrderType": str(account.settings.get("order_type") or "other"),
            "vnp_ReturnUrl": account.return_url,
            "vnp_TxnRef": request.reference,
        }
        # Never send an empty parameter (VNPay drops it before hashing, so the hash would break).
        params = {k: v for k, v in params.items() if v != ""}
        url = f"{account.settings['pay_url']}?{signed_query(params, account.credentials['hash_secret'])}"
        return CheckoutResult(
            checkout_url=url, wire={"vnp_CreateDate": create_date}, raw_request=hash_data(params)
        )

    _verify = staticmethod(verify_items)

    def _verified(self, fields: dict[str, str], amount: int) -> Notification:
        notice = PaymentNotice.parse(fields)
        code = notice.vnp_ResponseCode
        known = RESPONSE_CODES.get(code)
        return Notification(
            verified=True,
            reference=notice.vnp_TxnRef or None,
            amount=amount,
            outcome=payment_outcome(code, notice.vnp_TransactionStatus),
            provider_transaction_id=_transaction_no(notice.vnp_TransactionNo),
            code=code,
            message=known[1] if known else None,
            paid_at=parse_time(notice.vnp_PayDate),
            fields=fields,
        )

    def acknowledge(self, account: Account, notification: Notification | None, verdict: AckVerdict) -> Reply:
        # The ladder's first rung holds whatever the pipeline says: an unverified IPN is 97.
        if notification is not None and not notification.verified:
            verdict = AckVerdict.invalid_signature
        code, message = IPN_REPLIES[verdict]
        return Reply(status_code=200, body=orjson.dumps({"RspCode": code, "Message": message}))

    async def query(self, account: Account, attempt: AttemptRef, http: httpx.AsyncClient) -> QueryResult:
        answer, raw = await self._querydr(account, attempt, http)
        code = answer.vnp_ResponseCode
        if code == "91":
            # Never reached VNPay's page (or not yet): nothing was paid. The caller's own expiry
            # clock turns a stale pending attempt into expired.
            return QueryResult(outcome=Outcome.pending, code=code, message=API_CODES[code], raw=raw)
        self._raise_for_query_code(answer)
        status, kind = answer.vnp_TransactionStatus, answer.vnp_TransactionType
        outcome = TRANSACTION_STATUSES.get(status, (Outcome.unknown, ""))[0]
        if kind not in {"01", "02", "03"} or (kind == "01" and status in {"05", "06", "09"}):
            outcome = Outcome.unknown
        elif kind in {"02", "03"} and status in TRANSACTION_STATUSES:
            outcome = Outcome.succeeded  # only a paid transaction can carry a refund
        return QueryResult(
            outcome=outcome,
            amount=hundredths_to_vnd(answer.vnp_Amount),
            provider_transaction_id=_transaction_no(answer.vnp_TransactionNo),
            code=status,
            message=TRANSACTION_STATUSES.get(status, (None, answer.vnp_Message))[1],
            paid_at=parse_time(answer.vnp_PayDate),
            raw=raw,
        )

    async def _querydr(
        self, account: Account, attempt: AttemptRef, http: httpx.AsyncClient
    ) -> tuple[ApiAnswer, str]:
        creds = account.credentials
        payload: dict[str, Any] = {
            "vnp_RequestId": secrets.token_hex(16),
            "vnp_Version": VERSION,
            "vnp_Command": "querydr",
            "vnp_TmnCode": creds["tmn_code"],
            "vnp_TxnRef": attempt.reference,
            "vnp_OrderInfo": f"Truy van giao dich {attempt.reference}",
            "vnp_TransactionDate": _transaction_date(attempt),
            "vnp_CreateDate": gmt7(datetime.now(UTC)),
            "vnp_IpAddr": str(account.settings.get("server_ip") or "127.0.0.1"),
        }
        payload[HASH_FIELD] = pipe_sign(creds["hash_secret"], payload, QUERY_HASH_FIELDS)
        data, raw = await call_json(http, account.settings["api_url"], payload)
        if not verify_pipe(creds["hash_secret"], data, QUERY_RESPONSE_HASH_FIELDS):
            raise GatewayTechnicalError("VNPay querydr answer has a bad or missing signature")
        answer = ApiAnswer.parse(data)
        if answer.vnp_ResponseCode == "00" and answer.vnp_TxnRef != attempt.reference:
            raise GatewayTechnicalError("VNPay querydr answered about another transaction")
        return answer, raw

    @staticmethod
    def _raise_for_query_code(answer: ApiAnswer) -> None:
        """querydr: 02/03 → logical (our request is wrong); 94/97/99/unrecognised → technical."""
        code = answer.vnp_ResponseCode
        if code == "00":
            return
        message = API_CODES.get(code) or answer.vnp_Message or "unrecognised answer"
        if code in {"02", "03"}:
            raise GatewayLogicalError(f"VNPay rejected the query: {message}", code=code)
        raise GatewayTechnicalError(f"VNPay querydr answered {code or 'no code'}: {message}")

    async def refund(self, account: Account, request: RefundRequest, http: httpx.AsyncClient) -> RefundResult:
        creds, attempt = account.credentials, request.attempt
        payload: dict[str, Any] = {
            "vnp_RequestId": _refund_request_id(request.refund_reference),
            "vnp_Version": VERSION,
            "vnp_Command": "refund",
            "vnp_TmnCode": creds["tmn_code"],
            "vnp_TransactionType": "02" if request.full else "03",
            "vnp_TxnRef": attempt.reference,
            "vnp_Amount": request.amount * 100,
            "vnp_OrderInfo": safe_text(request.reason, ORDER_INFO_MAX) or f"Hoan tien {attempt.reference}",
            "vnp_TransactionNo": attempt.provider_transaction_id or "",
            "vnp_TransactionDate": _transaction_date(attempt),
            "vnp_CreateBy": safe_text(request.requested_by, 250) or "paybridge",
            "vnp_CreateDate": gmt7(request.requested_at),
            "vnp_IpAddr": request.client_ip,
        }
        payload[HASH_FIELD] = pipe_sign(creds["hash_secret"], payload, REFUND_HASH_FIELDS)
        wire = {k: str(payload[k]) for k in ("vnp_RequestId", "vnp_CreateDate", "vnp_TransactionType")}
        data, raw = await call_json(http, account.settings["api_url"], payload)
        if not verify_pipe(creds["hash_secret"], data, REFUND_RESPONSE_HASH_FIELDS):
            raise GatewayTechnicalError("VNPay refund answer has a bad or missing signature")
        answer = ApiAnswer.parse(data)
        code = answer.vnp_ResponseCode
        message = API_CODES.get(code) or answer.vnp_Message or None
        refund_id = answer.vnp_TransactionNo or None
        if code == "00":
            status = REFUND_STATUSES.get(answer.vnp_TransactionStatus, RefundStatus.pending)
        elif code == "94":
            status = RefundStatus.pending  # a refund for this transaction is already being processed
        elif code in {"02", "03", "91", "95"}:
            status = RefundStatus.failed
        else:  # 97 / 99 / unrecognised: whether VNPay took the refund is unknown
            raise GatewayTechnicalError(f"VNPay refund answered {code or 'no code'}: {message}")
        return RefundResult(
            status=status, provider_refund_id=refund_id, code=code, message=message, wire=wire, raw=raw
        )

    async def query_refund(
        self, account: Account, request: RefundRequest, wire: Mapping[str, str], http: httpx.AsyncClient
    ) -> RefundResult:
        """VNPay has no refund query: querydr on the original payment shows the refund
        (vnp_TransactionType 02/03) and its vnp_TransactionStatus (05/06 in progress, 09 rejected)."""
        answer, raw = await self._querydr(account, request.attempt, http)
        code = answer.vnp_ResponseCode
        if code == "91":
            return RefundResult(
                status=RefundStatus.failed, code=code, message=API_CODES[code], wire=wire, raw=raw
            )
        self._raise_for_query_code(answer)
        kind, status = answer.vnp_TransactionType, answer.vnp_TransactionStatus
        if kind in {"02", "03"}:
            result = REFUND_STATUSES.get(status, RefundStatus.unknown)
        elif kind == "01" and status in TRANSACTION_STATUSES:
            result = RefundStatus.pending  # the refund is not visible on the payment yet
        else:
            result = RefundStatus.unknown
        message = TRANSACTION_STATUSES.get(status, (None, answer.vnp_Message))[1]
        return RefundResult(status=result, code=status, message=message or None, wire=wire, raw=raw)


def _transaction_no(value: str) -> str | None:
    """VNPay's transaction number; it sends "0" when there is none."""
    return value if value not in {"", "0"} else None


def _transaction_date(attempt: AttemptRef) -> str:
    """The original vnp_CreateDate, exactly as sent (falls back to the attempt's creation time)."""
    return attempt.wire.get("vnp_CreateDate") or gmt7(attempt.created_at)


def _refund_request_id(refund_reference: str) -> str:
    """From our refund id (≤ 32 chars): a retried refund is a duplicate (94), never a second refund."""
    if _REQUEST_ID.fullmatch(refund_reference):
        return refund_reference
    return hashlib.sha256(refund_reference.encode("utf-8")).hexdigest()[:32]


adapter = VnpayAdapter()
