"""OnePay (vpc_ 3-party, domestic and international): signed redirect, GET IPN and return,
QueryDR and refund.

- Hash: keep ``vpc_*``/``user_*`` keys with non-empty values except ``vpc_SecureHash``; sort by
  key in ASCII order (``vpc_MerchTxnRef`` < ``vpc_Merchant``); raw ``k=v`` joined by ``&``;
  HMAC-SHA256 keyed with the HEX-DECODED secret; UPPERCASE hex, compared case-insensitively.
  ``Title`` and ``AgainLink`` are sent but not signed.
- QueryDR: POST form to ``query_url`` (documented MSP endpoint
  ``https://mtf.onepay.vn/msp/api/v1/vpc/invoices/queries``; the classic ``Vpcdps.op`` is
  retired) with ``vpc_Command=queryDR`` signed the same way; the ``k=v&…`` answer must carry a
  valid ``vpc_SecureHash``. ``vpc_DRExists=N`` → pending (nothing paid yet).
- Refund: POST form to ``refund_url`` (``/msp/api/v1/vpc/refunds``) with ``vpc_Command=refund``,
  a new ``vpc_MerchTxnRef`` and ``vpc_OrgMerchTxnRef`` = the payment's. QueryDR and refund need
  OnePay's API user (``vpc_User``/``vpc_Password``): optional credentials ``user``/``password``
  (secrets, so credentials rather than settings); without them both raise :class:`NotSupported`.
- Limits: no documented minimum (OnePay's own sample pays ``vpc_Amount=100`` = 1 VND);
  ``vpc_Amount`` is at most 10 digits in OnePay's VPC forms, so at most 99,999,999 VND.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar
from urllib.parse import parse_qsl

import httpx
import orjson

from app.adapters.base import (
    API_REFUNDS,
    HOSTED_PAGE,
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
    NotSupported,
    Outcome,
    QueryResult,
    RefundRequest,
    RefundResult,
    RefundStatus,
    Reply,
    hundredths_to_vnd,
    post,
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
from app.adapters.onepay.wire import PaymentNotice
from app.adapters.phpurl import php_query
from app.text import to_ascii

PUBLIC_PAY_URL = "https://mtf.onepay.vn/paygate/vpcpay.op"
PUBLIC_QUERY_URL = "https://mtf.onepay.vn/msp/api/v1/vpc/invoices/queries"
PUBLIC_REFUND_URL = "https://mtf.onepay.vn/msp/api/v1/vpc/refunds"
PAY_PATH = "/paygate/vpcpay.op"
QUERY_PATH = "/msp/api/v1/vpc/invoices/queries"
REFUND_PATH = "/msp/api/v1/vpc/refunds"
HASH_FIELD = "vpc_SecureHash"
HASH_TYPE_FIELD = "vpc_SecureHashType"
MERCH_TXN_REF_MAX = 40
ORDER_INFO_MAX = 34
# OnePay refuses ()/&?#% in vpc_OrderInfo: fewer marks than VNPay's safe set.
ORDER_INFO_PUNCTUATION = ".,:-_"

# vpc_TxnResponseCode → outcome, message. Digits 1–9 mean different things on the domestic and
# international gateways, but every one of them is a decline.
RESPONSE_CODES: dict[str, tuple[Outcome, str]] = {
    "0": (Outcome.succeeded, "Giao dịch thành công"),
    "1": (Outcome.failed, "Ngân hàng từ chối giao dịch"),
    "2": (Outcome.failed, "Ngân hàng từ chối giao dịch"),
    "3": (Outcome.failed, "Mã đơn vị không tồn tại / ngân hàng không phản hồi"),
    "4": (Outcome.failed, "Access code không đúng / thẻ hết hạn"),
    "5": (Outcome.failed, "Số tiền không hợp lệ / không đủ số dư"),
    "6": (Outcome.failed, "Mã tiền tệ không tồn tại / lỗi kết nối ngân hàng"),
    "7": (Outcome.failed, "Lỗi không xác định"),
    "8": (Outcome.failed, "Số thẻ không đúng / loại giao dịch không hỗ trợ"),
    "9": (Outcome.failed, "Tên chủ thẻ không đúng / ngân hàng từ chối"),
    "10": (Outcome.failed, "Thẻ hết hạn hoặc bị khóa"),
    "11": (Outcome.failed, "Thẻ chưa đăng ký dịch vụ thanh toán trực tuyến"),
    "12": (Outcome.failed, "Ngày phát hành hoặc hết hạn không đúng"),
    "13": (Outcome.failed, "Vượt quá hạn mức thanh toán"),
    "21": (Outcome.failed, "Số dư không đủ"),
    "22": (Outcome.failed, "Thông tin tài khoản không đúng"),
    "23": (Outcome.failed, "Tài khoản bị khóa"),
    "24": (Outcome.failed, "Thông tin thẻ không đúng"),
    "25": (Outcome.failed, "OTP không đúng"),
    "253": (Outcome.expired, "Quá thời gian thanh toán"),
    "99": (Outcome.cancelled, "Người dùng hủy giao dịch"),
    "100": (Outcome.pending, "Giao dịch đang tiến hành, chưa thanh toán"),
    "300": (Outcome.pending, "Giao dịch đang chờ xử lý"),
    "A": (Outcome.failed, "Giao dịch bị hủy bỏ (aborted)"),
    "B": (Outcome.failed, "Bị chặn bởi quy tắc xác thực 3-D Secure"),
    "C": (Outcome.cancelled, "Giao dịch đã bị hủy"),
    "D": (Outcome.pending, "Giao dịch hoãn, đang chờ xử lý"),
    "F": (Outcome.failed, "Xác thực 3-D Secure không thành công"),
    "I": (Outcome.failed, "Mã bảo mật thẻ (CSC) không đúng"),
    "L": (Outcome.failed, "Giao dịch bị khóa"),
    "N": (Outcome.failed, "Chủ thẻ chưa đăng ký xác thực"),
    "P": (Outcome.pending, "Giao dịch đang chờ xử lý"),
    "R": (Outcome.failed, "Vượt quá số lần thử"),
    "S": (Outcome.failed, "Trùng thông tin đơn hàng"),
    "T": (Outcome.failed, "Xác thực địa chỉ không thành công"),
    "U": (Outcome.failed, "Mã bảo mật thẻ không đúng"),
    "V": (Outcome.failed, "Xác thực địa chỉ và mã bảo mật không thành công"),
    "Z": (Outcome.failed, "Giao dịch bị chặn bởi quy tắc chống gian lận của OnePay"),
}

_REFUND_STATUS: dict[Outcome, RefundStatus] = {
    Outcome.succeeded: RefundStatus.succeeded,
    Outcome.pending: RefundStatus.pending,
    Outcome.failed: RefundStatus.failed,
    Outcome.cancelled: RefundStatus.failed,
    Outcome.expired: RefundStatus.failed,
}

_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})+")


def outcome_of(code: str) -> Outcome:
    return RESPONSE_CODES.get(code, (Outcome.unknown, ""))[0]


def hash_data(params: Mapping[str, str]) -> str:
    """``k=v&…`` over non-empty ``vpc_*``/``user_*`` keys except vpc_SecureHash, ASCII-sorted, raw."""
    keys = sorted(
        (k for k, v in params.items() if k.startswith(("vpc_", "user_")) and k != HASH_FIELD and v != ""),
        key=lambda k: k.encode("utf-8"),
    )
    return "&".join(f"{k}={params[k]}" for k in keys)


def sign(hex_secret: str, data: str) -> str:
    """HMAC-SHA256 keyed with the hex-decoded secret, UPPERCASE hex."""
    return hmac.new(bytes.fromhex(hex_secret), data.encode("utf-8"), hashlib.sha256).hexdigest().upper()


def signed(params: Mapping[str, str], hex_secret: str) -> dict[str, str]:
    """The params with their vpc_SecureHash."""
    return {**params, HASH_FIELD: sign(hex_secret, hash_data(params))}


def verify_items(items: Iterable[tuple[str, str]], hex_secret: str) -> tuple[bool, dict[str, str]]:
    """(verified, every received field except the hash). A repeated key never verifies; a
    vpc_SecureHashType that some OnePay versions echo is retried without, as their samples do."""
    fields, received, repeated = split_signed(items, HASH_FIELD)
    if repeated or not received:
        return False, fields
    if same_hex(sign(hex_secret, hash_data(fields)), received):
        return True, fields
    if HASH_TYPE_FIELD in fields:
        rest = {k: v for k, v in fields.items() if k != HASH_TYPE_FIELD}
        return same_hex(sign(hex_secret, hash_data(rest)), received), fields
    return False, fields


def order_info(description: str, fallback: str) -> str:
    """ASCII, without the characters OnePay refuses, at most 34 characters."""
    text = safe_text(description, ORDER_INFO_MAX, punctuation=ORDER_INFO_PUNCTUATION)
    return text or fallback[:ORDER_INFO_MAX]


class OnepayAdapter(RedirectNotifications):
    """OnePay: signed redirect, GET IPN/return, QueryDR, refund (with the API user)."""

    name: ClassVar[str] = "onepay"
    capabilities: ClassVar[frozenset[Capability]] = HOSTED_PAGE | {Capability.query} | API_REFUNDS
    credential_fields: ClassVar[tuple[str, ...]] = ("merchant", "access_code", "hash_secret")
    merchant_field, merchant_credential, amount_field = "vpc_Merchant", "merchant", "vpc_Amount"
    min_amount: ClassVar[int] = 1
    local_checkout: ClassVar[bool] = True  # built here: no call to the gateway
    max_amount: ClassVar[int | None] = 99_999_999

    def validate_account(
        self, credentials: Mapping[str, Any], settings: Mapping[str, Any]
    ) -> tuple[dict[str, str], dict[str, Any]]:
        creds = require_fields(credentials, self.credential_fields)
        errors: dict[str, str] = {}
        if not re.fullmatch(r"[A-Za-z0-9_]{1,16}", creds["merchant"]):
            errors["credentials.merchant"] = "must be OnePay's merchant id (letters, digits, _; ≤ 16)"
        if not re.fullmatch(r"[A-Za-z0-9]{1,16}", creds["access_code"]):
            errors["credentials.access_code"] = "must be letters and digits"
        if not _HEX.fullmatch(creds["hash_secret"]):
            errors["credentials.hash_secret"] = "must be hexadecimal (an even number of 0-9A-F)"
        user, password = credentials.get("user"), credentials.get("password")
        if bool(user) != bool(password):
            errors["credentials.user" if not user else "credentials.password"] = (
                "user and password go together"
            )
        elif user and password:
            creds.update(require_fields(credentials, ("user", "password")))
        defaults = self.default_settings(None)
        out: dict[str, Any] = absolute_urls(settings, defaults, errors)
        if errors:
            raise CredentialsError(errors)
        return creds, out

    def default_settings(self, simulator_base_url: str | None) -> dict[str, Any]:
        if simulator_base_url:
            base = simulator_base_url.rstrip("/")
            return {
                "pay_url": base + PAY_PATH,
                "query_url": base + QUERY_PATH,
                "refund_url": base + REFUND_PATH,
            }
        return {"pay_url": PUBLIC_PAY_URL, "query_url": PUBLIC_QUERY_URL, "refund_url": PUBLIC_REFUND_URL}

    async def create_checkout(
        self, account: Account, request: CheckoutRequest, http: httpx.AsyncClient
    ) -> CheckoutResult:
        require_amount(self, request.amount, "amount outside OnePay's limits")
        if len(request.reference) > MERCH_TXN_REF_MAX:
            raise GatewayLogicalError("vpc_MerchTxnRef is at most 40 characters", code="reference_too_long")
        creds = account.credentials
        params = {
            "vpc_Version": "2",
            "vpc_Command": "pay",
            "vpc_AccessCode": creds["access_code"],
            "vpc_Merchant": creds["merchant"],
            "vpc_MerchTxnRef": request.reference,
            "vpc_OrderInfo": order_info(request.description, request.reference),
            "vpc_Amount": str(request.amount * 100),
            "vpc_Currency": "VND",
            "vpc_Locale": locale(request.locale),
            "vpc_ReturnURL": account.return_url,
            "vpc_TicketNo": request.client_ip,
        }
        data = hash_data(params)
        unsigned = [
            ("Title", to_ascii(request.agency_name)[:255] or "OnePay"),
            ("AgainLink", account.return_url),
        ]
        pairs = [*sorted(params.items()), *unsigned, (HASH_FIELD, sign(creds["hash_secret"], data))]
        url = f"{account.settings['pay_url']}?{php_query(pairs)}"
        return CheckoutResult(checkout_url=url, wire={"vpc_MerchTxnRef": request.reference}, raw_request=data)

    _verify = staticmethod(verify_items)

    def _verified(self, fields: dict[str, str], amount: int) -> Notification:
        notice = PaymentNotice.parse(fields)
        code = notice.vpc_TxnResponseCode
        known = RESPONSE_CODES.get(code)
        return Notification(
            verified=True,
            reference=notice.vpc_MerchTxnRef or None,
            amount=amount,
            outcome=outcome_of(code),
            provider_transaction_id=notice.vpc_TransactionNo or None,
            code=code,
            message=known[1] if known else notice.vpc_Message,
            fields=fields,
        )

    def acknowledge(self, account: Account, notification: Notification | None, verdict: AckVerdict) -> Reply:
        ok = verdict in {AckVerdict.accepted, AckVerdict.already_processed}
        if notification is not None and not notification.verified:
            ok = False
        body = b"responsecode=1&desc=confirm-success" if ok else b"responsecode=0&desc=confirm-fail"
        return Reply(status_code=200, body=body, media_type="text/plain")

    async def query(self, account: Account, attempt: AttemptRef, http: httpx.AsyncClient) -> QueryResult:
        reference = attempt.wire.get("vpc_MerchTxnRef") or attempt.reference
        answer, raw = await self._query_dr(account, reference, http)
        if answer.vpc_DRExists != "Y":
            return QueryResult(
                outcome=Outcome.pending, code="DRExists=N", message="Không có giao dịch", raw=raw
            )
        code = answer.vpc_TxnResponseCode
        known = RESPONSE_CODES.get(code)
        return QueryResult(
            outcome=outcome_of(code),
            amount=hundredths_to_vnd(answer.vpc_Amount),
            provider_transaction_id=answer.vpc_TransactionNo or None,
            code=code,
            message=known[1] if known else answer.vpc_Message,
            raw=raw,
        )

    def _api_user(self, account: Account) -> dict[str, str]:
        user, password = account.credentials.get("user"), account.credentials.get("password")
        if not user or not password:
            raise NotSupported("OnePay QueryDR and refund need the API user (credentials user and password)")
        return {"vpc_User": user, "vpc_Password": password}

    async def _query_dr(
        self, account: Account, merch_txn_ref: str, http: httpx.AsyncClient
    ) -> tuple[PaymentNotice, str]:
        creds = account.credentials
        params = {
            "vpc_Command": "queryDR",
            "vpc_Version": "2",
            "vpc_MerchTxnRef": merch_txn_ref,
            "vpc_Merchant": creds["merchant"],
            "vpc_AccessCode": creds["access_code"],
            **self._api_user(account),
        }
        answer, raw = await _signed_call(http, account, "query_url", params, "QueryDR")
        if answer.vpc_DRExists == "Y" and answer.vpc_MerchTxnRef != merch_txn_ref:
            raise GatewayTechnicalError("OnePay QueryDR answered about another transaction")
        return answer, raw

    async def refund(self, account: Account, request: RefundRequest, http: httpx.AsyncClient) -> RefundResult:
        creds, attempt = account.credentials, request.attempt
        refund_ref = _refund_ref(request.refund_reference)
        params = {
            "vpc_Command": "refund",
            "vpc_Version": "2",
            "vpc_Merchant": creds["merchant"],
            "vpc_AccessCode": creds["access_code"],
            "vpc_MerchTxnRef": refund_ref,
            "vpc_OrgMerchTxnRef": attempt.wire.get("vpc_MerchTxnRef") or attempt.reference,
            "vpc_Amount": str(request.amount * 100),
            "vpc_Operator": safe_text(request.requested_by, 32, punctuation=ORDER_INFO_PUNCTUATION)
            or "paybridge",
            **self._api_user(account),
        }
        answer, raw = await _signed_call(http, account, "refund_url", params, "refund")
        code = answer.vpc_TxnResponseCode
        status = (
            RefundStatus.succeeded if code == "0" else RefundStatus.failed if code else RefundStatus.unknown
        )
        return RefundResult(
            status=status,
            provider_refund_id=answer.vpc_TransactionNo or None,
            code=code or None,
            message=answer.vpc_Message or None,
            wire={"vpc_MerchTxnRef": refund_ref},
            raw=raw,
        )

    async def query_refund(
        self, account: Account, request: RefundRequest, wire: Mapping[str, str], http: httpx.AsyncClient
    ) -> RefundResult:
        """QueryDR on the refund's own vpc_MerchTxnRef (DRExists=N: the refund never happened)."""
        refund_ref = wire.get("vpc_MerchTxnRef") or _refund_ref(request.refund_reference)
        answer, raw = await self._query_dr(account, refund_ref, http)
        if answer.vpc_DRExists != "Y":
            return RefundResult(status=RefundStatus.failed, code="DRExists=N", wire=dict(wire), raw=raw)
        code = answer.vpc_TxnResponseCode
        return RefundResult(
            status=_REFUND_STATUS.get(outcome_of(code), RefundStatus.unknown),
            provider_refund_id=answer.vpc_TransactionNo or None,
            code=code,
            message=answer.vpc_Message or None,
            wire=dict(wire),
            raw=raw,
        )


def _refund_ref(refund_reference: str) -> str:
    """Our refund id as a vpc_MerchTxnRef: letters and digits, at most 40 (hashed when longer)."""
    plain = re.sub(r"[^A-Za-z0-9]", "", refund_reference)
    if plain and len(plain) <= MERCH_TXN_REF_MAX and plain == refund_reference:
        return plain
    return "R" + hashlib.sha256(refund_reference.encode("utf-8")).hexdigest()[:32].upper()


async def _signed_call(
    http: httpx.AsyncClient, account: Account, url_setting: str, params: Mapping[str, str], what: str
) -> tuple[PaymentNotice, str]:
    """POST ``params`` signed to the account's ``url_setting``; the answer's hash must verify."""
    secret = account.credentials["hash_secret"]
    data, raw = await _call_form(http, account.settings[url_setting], signed(params, secret))
    verified, fields = verify_items(data.items(), secret)
    if not verified:
        raise GatewayTechnicalError(f"OnePay {what} answer has a bad or missing signature")
    return PaymentNotice.parse(fields), raw


async def _call_form(
    http: httpx.AsyncClient, url: str, form: Mapping[str, str]
) -> tuple[dict[str, str], str]:
    """POST a form; parse a ``k=v&…`` (or JSON object) answer. Technical failures → GatewayTechnicalError."""
    response = await post(http, url, php_query(form.items()).encode(), _FORM)
    raw = response.text
    body = raw.strip()
    if body.startswith("{"):
        try:
            obj = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise GatewayTechnicalError("gateway answered malformed JSON") from exc
        if not isinstance(obj, dict) or not all(isinstance(v, str) for v in obj.values()):
            raise GatewayTechnicalError("gateway answered JSON that is not a flat object of strings")
        return obj, raw
    try:
        pairs = parse_qsl(body, keep_blank_values=True, strict_parsing=True)
    except ValueError as exc:
        raise GatewayTechnicalError(f"gateway answered garbage (HTTP {response.status_code})") from exc
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise GatewayTechnicalError("gateway answered a repeated field")
    return dict(pairs), raw


_FORM = {"Content-Type": "application/x-www-form-urlencoded"}

adapter = OnepayAdapter()
