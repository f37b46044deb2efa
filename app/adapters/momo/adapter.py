"""MoMo payment API v2 (captureWallet / payWithATM), byte for byte.

Signing: HMAC-SHA256 (secret key, UTF-8), lowercase hex, over ``k=v&…`` of RAW values in a fixed
alphabetical field list that includes ``accessKey``; empty values stay as ``k=``.

Decisions (MoMo documents the codes, not what a merchant should do with each):

- ``9000`` (authorised) → succeeded: we only create 1-step payments (no ``autoCapture=false``), and
  MoMo's own remediation for 9000 on a 1-step payment is "mark this transaction as success".
- IPN answers: 204 (empty) for accepted / already_processed / not_found / amount_mismatch — a retry
  cannot change those, the raw callback is kept for an operator, and MoMo never reverses money on
  our answer; 400 for a bad signature (visible in MoMo's IPN log, retrying cannot fix a key
  mismatch); 503 for ``error`` so MoMo may deliver again (our status query resolves it regardless).
- The query answer carries no documented signature: we check that it echoes our partnerCode and
  orderId instead, and report its amount for the service's integrity check.
- Refund ``orderId``/``requestId`` derive from our refund reference, so a retried refund replays
  MoMo's idempotent answer instead of refunding twice.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

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
    InboundRequest,
    Notification,
    Outcome,
    QueryResult,
    RefundRequest,
    RefundResult,
    RefundStatus,
    Reply,
    call_json,
    require_amount,
    require_fields,
)
from app.adapters.common.freetext import safe_text
from app.adapters.common.wire import endpoint_url, integer_value, json_object
from app.adapters.momo.wire import RefundEntry, Result

PUBLIC_TEST_ENDPOINT = "https://test-payment.momo.vn"
CREATE_FIELDS = (
    "accessKey", "amount", "extraData", "ipnUrl", "orderId", "orderInfo",
    "partnerCode", "redirectUrl", "requestId", "requestType",
)  # fmt: skip
IPN_FIELDS = (
    "accessKey", "amount", "extraData", "message", "orderId", "orderInfo", "orderType",
    "partnerCode", "payType", "requestId", "responseTime", "resultCode", "transId",
)  # fmt: skip
QUERY_FIELDS = ("accessKey", "orderId", "partnerCode", "requestId")
REFUND_FIELDS = ("accessKey", "amount", "description", "orderId", "partnerCode", "requestId", "transId")
REQUEST_TYPES = ("captureWallet", "payWithATM")
MIN_AMOUNT, MAX_AMOUNT = 1_000, 50_000_000
ORDER_INFO_MAX = 200
_ORDER_ID = re.compile(r"^[0-9a-zA-Z]([-_.]*[0-9a-zA-Z]+)*$")

# resultCode → canonical outcome (payment IPN, redirect and query). Anything else → unknown.
RESULT_OUTCOMES: dict[int, Outcome] = {
    0: Outcome.succeeded,
    9000: Outcome.succeeded,  # authorised on a 1-step payment: see the module docstring
    1000: Outcome.pending,
    7000: Outcome.pending,
    7002: Outcome.pending,
    1001: Outcome.failed,  # insufficient funds
    1002: Outcome.failed,  # rejected by the issuer
    1004: Outcome.failed,  # over the payer's limit
    1007: Outcome.failed,  # payer account inactive
    1026: Outcome.failed,  # promotion rules
    4001: Outcome.failed,  # payer account restricted
    4002: Outcome.failed,  # payer not verified
    4100: Outcome.failed,  # payer failed to log in
    1003: Outcome.cancelled,  # cancelled after authorisation
    1006: Outcome.cancelled,  # payer denied the payment
    1017: Outcome.cancelled,  # cancelled by merchant
    1005: Outcome.expired,  # URL or QR expired
    99: Outcome.unknown,
}
# Create / refund codes after which the outcome is unknown (retry or query), not a clear "no".
TECHNICAL_CODES = frozenset({10, 40, 43, 99, 1000, 7000, 7002})
REFUND_PENDING = frozenset({1000, 7000, 7002})


def raw_signature(values: Mapping[str, Any], fields: Sequence[str]) -> str:
    """The string MoMo signs: ``k=v`` of raw (never URL-encoded) values, ``&``-joined, in order."""
    return "&".join(f"{name}={_text(values.get(name))}" for name in fields)


def sign(secret_key: str, values: Mapping[str, Any], fields: Sequence[str]) -> str:
    raw = raw_signature(values, fields).encode("utf-8")
    return hmac.new(secret_key.encode("utf-8"), raw, hashlib.sha256).hexdigest()


def verify(secret_key: str, values: Mapping[str, Any], fields: Sequence[str], signature: object) -> bool:
    if not isinstance(signature, str) or not signature:
        return False
    return hmac.compare_digest(sign(secret_key, values, fields), signature.lower())


def build_create_body(
    credentials: Mapping[str, str],
    *,
    request_id: str,
    order_id: str,
    amount: int,
    order_info: str,
    redirect_url: str,
    ipn_url: str,
    request_type: str = "captureWallet",
    extra_data: str = "",
    lang: str = "vi",
    partner_name: str | None = None,
    store_id: str | None = None,
) -> tuple[dict[str, Any], str]:
    """The create request body and the raw string signed (amount is sent as text, as MoMo's
    published sample does)."""
    values: dict[str, Any] = {
        "accessKey": credentials["access_key"],
        "amount": str(amount),
        "extraData": extra_data,
        "ipnUrl": ipn_url,
        "orderId": order_id,
        "orderInfo": order_info,
        "partnerCode": credentials["partner_code"],
        "redirectUrl": redirect_url,
        "requestId": request_id,
        "requestType": request_type,
    }
    body: dict[str, Any] = {"partnerCode": values["partnerCode"]}
    if partner_name:
        body["partnerName"] = partner_name
    if store_id:
        body["storeId"] = store_id
    for name in ("requestId", "amount", "orderId", "orderInfo", "redirectUrl", "ipnUrl"):
        body[name] = values[name]
    body["lang"] = lang
    for name in ("extraData", "requestType"):
        body[name] = values[name]
    body["signature"] = sign(credentials["secret_key"], values, CREATE_FIELDS)
    return body, raw_signature(values, CREATE_FIELDS)


class MomoAdapter:
    """MoMo AIO v2: create API → payUrl, JSON IPN (204), query, refund, refund query."""

    name: ClassVar[str] = "momo"
    capabilities: ClassVar[frozenset[Capability]] = (
        HOSTED_PAGE | {Capability.api_create, Capability.query} | API_REFUNDS
    )
    credential_fields: ClassVar[tuple[str, ...]] = ("partner_code", "access_key", "secret_key")
    min_amount: ClassVar[int] = MIN_AMOUNT
    local_checkout: ClassVar[bool] = False  # a call to the gateway
    max_amount: ClassVar[int | None] = MAX_AMOUNT

    def validate_account(
        self, credentials: Mapping[str, Any], settings: Mapping[str, Any]
    ) -> tuple[dict[str, str], dict[str, Any]]:
        creds = require_fields(credentials, self.credential_fields)
        endpoint = settings.get("endpoint")
        errors: dict[str, str] = {}
        if not isinstance(endpoint, str) or urlsplit(endpoint.strip()).scheme not in ("http", "https"):
            errors["settings.endpoint"] = "must be an http(s) URL"
        request_type = settings.get("request_type", "captureWallet")
        if request_type not in REQUEST_TYPES:
            errors["settings.request_type"] = f"must be one of {', '.join(REQUEST_TYPES)}"
        for name in ("partner_name", "store_id"):
            if settings.get(name) is not None and not isinstance(settings.get(name), str):
                errors[f"settings.{name}"] = "must be a string"
        if errors:
            raise CredentialsError(errors)
        out = dict(settings)
        out["endpoint"] = str(endpoint).strip().rstrip("/")
        out["request_type"] = request_type
        return creds, out

    def default_settings(self, simulator_base_url: str | None) -> dict[str, Any]:
        base = simulator_base_url.rstrip("/") if simulator_base_url else PUBLIC_TEST_ENDPOINT
        return {"endpoint": base, "request_type": "captureWallet"}

    async def create_checkout(
        self, account: Account, request: CheckoutRequest, http: httpx.AsyncClient
    ) -> CheckoutResult:
        require_amount(self, request.amount, f"MoMo takes {MIN_AMOUNT:,}–{MAX_AMOUNT:,} VND")
        creds = account.credentials
        request_type = str(account.settings.get("request_type", "captureWallet"))
        body, _raw = build_create_body(
            creds,
            request_id=request.reference,  # a retried create replays MoMo's idempotent answer
            order_id=request.reference,
            amount=request.amount,
            order_info=safe_text(request.description, ORDER_INFO_MAX, unaccented=False)
            or f"Thanh toan {request.reference}",
            redirect_url=account.return_url,
            ipn_url=account.callback_url,
            request_type=request_type,
            lang="en" if request.locale == "en" else "vi",
            partner_name=account.settings.get("partner_name"),
            store_id=account.settings.get("store_id"),
        )
        data, raw = await call_json(http, endpoint_url(account, "/v2/gateway/api/create"), body)
        answer = Result.parse(data)
        code = _result_code(answer)
        if code != 0:
            _raise_for(code, answer)
        _check_echo(data, creds["partner_code"], request.reference)
        pay_url = answer.payUrl
        if not isinstance(pay_url, str) or not pay_url:
            raise GatewayTechnicalError("MoMo answered resultCode 0 without a payUrl")
        return CheckoutResult(
            checkout_url=pay_url,
            wire={"requestId": body["requestId"], "orderId": body["orderId"], "requestType": request_type},
            raw_request=orjson.dumps(body).decode(),
            raw_response=raw,
        )

    def parse_callback(self, account: Account, request: InboundRequest) -> Notification:
        return self._notification(account, json_object(request.body, "MoMo IPN body"))

    def parse_return(self, account: Account, request: InboundRequest) -> Notification:
        return self._notification(account, dict(request.query_items()))

    def acknowledge(self, account: Account, notification: Notification | None, verdict: AckVerdict) -> Reply:
        if verdict is AckVerdict.invalid_signature:
            return Reply(status_code=400)
        if verdict is AckVerdict.error:
            return Reply(status_code=503)
        return Reply(status_code=204)

    async def query(self, account: Account, attempt: AttemptRef, http: httpx.AsyncClient) -> QueryResult:
        creds = account.credentials
        order_id = attempt.wire.get("orderId", attempt.reference)
        body = _signed(creds, {"orderId": order_id, "requestId": uuid.uuid4().hex}, QUERY_FIELDS)
        data, raw = await call_json(http, endpoint_url(account, "/v2/gateway/api/query"), body)
        answer = Result.parse(data)
        code = _result_code(answer)
        if code in {11, 12, 13, 20, 21, 22, 41, 42, 47}:
            raise GatewayLogicalError(answer.message or "MoMo refused the query", code=str(code))
        if code in {10, 40, 43}:
            raise GatewayTechnicalError(f"MoMo could not answer the query now (resultCode {code})")
        _check_echo(data, creds["partner_code"], order_id)
        outcome = RESULT_OUTCOMES.get(code, Outcome.unknown)
        stamp = answer.lastUpdated or answer.responseTime
        return QueryResult(
            outcome=outcome,
            amount=answer.amount,
            provider_transaction_id=str(answer.transId) if answer.transId else None,
            code=str(code),
            message=_message(data, answer),
            paid_at=_from_ms(stamp) if outcome is Outcome.succeeded and stamp else None,
            raw=raw,
        )

    async def refund(self, account: Account, request: RefundRequest, http: httpx.AsyncClient) -> RefundResult:
        require_amount(self, request.amount, f"MoMo takes {MIN_AMOUNT:,}–{MAX_AMOUNT:,} VND")
        trans_id = integer_value(request.attempt.provider_transaction_id)
        if trans_id is None:
            raise GatewayLogicalError("no MoMo transId recorded for this payment", code="missing_trans_id")
        payment_order = request.attempt.wire.get("orderId", request.attempt.reference)
        order_id = refund_order_id(request.refund_reference, payment_order)
        values = {
            "amount": request.amount,
            "description": safe_text(request.reason, ORDER_INFO_MAX, unaccented=False),
            "orderId": order_id,
            "requestId": order_id,
            "transId": trans_id,
        }
        body = _signed(account.credentials, values, REFUND_FIELDS)
        data, raw = await call_json(http, endpoint_url(account, "/v2/gateway/api/refund"), body)
        answer = Result.parse(data)
        code = _result_code(answer)
        wire = {"orderId": order_id, "requestId": order_id, "paymentOrderId": payment_order}
        if code in {10, 40, 43}:
            raise GatewayTechnicalError(f"MoMo could not take the refund now (resultCode {code})")
        if code == 0:
            status = RefundStatus.succeeded
        elif code in REFUND_PENDING:
            status = RefundStatus.pending
        elif code == 99:
            status = RefundStatus.unknown
        else:
            status = RefundStatus.failed
        refund_trans = answer.transId
        return RefundResult(
            status=status,
            provider_refund_id=str(refund_trans)
            if status is RefundStatus.succeeded and refund_trans
            else None,
            code=str(code),
            message=_message(data, answer),
            wire=wire,
            raw=raw,
        )

    async def query_refund(
        self, account: Account, request: RefundRequest, wire: Mapping[str, str], http: httpx.AsyncClient
    ) -> RefundResult:
        creds = account.credentials
        payment_order = wire.get("paymentOrderId") or request.attempt.wire.get(
            "orderId", request.attempt.reference
        )
        refund_order = wire.get("orderId") or refund_order_id(request.refund_reference, payment_order)
        body = _signed(creds, {"orderId": payment_order, "requestId": uuid.uuid4().hex}, QUERY_FIELDS)
        data, raw = await call_json(http, endpoint_url(account, "/v2/gateway/api/refund/query"), body)
        answer = Result.parse(data)
        code = _result_code(answer)
        if code != 0:
            if code in TECHNICAL_CODES:
                raise GatewayTechnicalError(f"MoMo could not answer the refund query (resultCode {code})")
            raise GatewayLogicalError(answer.message or "MoMo refused the refund query", code=str(code))
        _check_echo(data, creds["partner_code"], payment_order)
        entries = answer.refundTrans if isinstance(answer.refundTrans, list) else []
        listed = [RefundEntry.parse(e) for e in entries if isinstance(e, dict)]
        match = next((e for e in listed if e.orderId == refund_order), None)
        if match is None:
            return RefundResult(
                status=RefundStatus.unknown, message="refund not listed by MoMo", wire=wire, raw=raw
            )
        item_code = match.resultCode
        if item_code == 0:
            status = RefundStatus.succeeded
        elif item_code in REFUND_PENDING:
            status = RefundStatus.pending
        elif item_code is None or item_code == 99:
            status = RefundStatus.unknown
        else:
            status = RefundStatus.failed
        return RefundResult(
            status=status,
            provider_refund_id=str(match.transId) if match.transId else None,
            code=str(item_code),
            message=match.message or None,
            wire=wire,
            raw=raw,
        )

    def _notification(self, account: Account, data: Mapping[str, Any]) -> Notification:
        creds = account.credentials
        values = {**data, "accessKey": creds["access_key"]}
        ok = data.get("partnerCode") == creds["partner_code"] and verify(
            creds["secret_key"], values, IPN_FIELDS, data.get("signature")
        )
        notice = Result.parse(data)
        reference = notice.orderId or None
        if not ok:
            return Notification(verified=False, reference=reference, fields=dict(data))
        code = notice.resultCode
        outcome = RESULT_OUTCOMES.get(code, Outcome.unknown) if code is not None else Outcome.unknown
        stamp = notice.responseTime
        return Notification(
            verified=True,
            reference=reference,
            amount=notice.amount,
            outcome=outcome,
            provider_transaction_id=str(notice.transId) if notice.transId else None,
            code=str(code),
            message=_message(data, notice),
            paid_at=_from_ms(stamp) if outcome is Outcome.succeeded and stamp else None,
            fields=dict(data),
        )


def refund_order_id(refund_reference: str, payment_order_id: str) -> str:
    """A NEW MoMo orderId for a refund, derived from our refund reference (regex-safe)."""
    cleaned = re.sub(r"[^0-9A-Za-z]", "", refund_reference)[:48]
    order_id = f"RF{cleaned}"
    if not _ORDER_ID.match(order_id) or order_id == payment_order_id:
        raise GatewayLogicalError("refund reference cannot form a MoMo orderId", code="bad_refund_reference")
    return order_id


def _signed(creds: Mapping[str, str], values: Mapping[str, Any], fields: Sequence[str]) -> dict[str, Any]:
    full = {**values, "accessKey": creds["access_key"], "partnerCode": creds["partner_code"]}
    body = {k: v for k, v in full.items() if k != "accessKey"}
    body["lang"] = "vi"
    body["signature"] = sign(creds["secret_key"], full, fields)
    return body


def _raise_for(code: int, answer: Result) -> None:
    message = answer.message or f"MoMo resultCode {code}"
    if code in TECHNICAL_CODES:
        raise GatewayTechnicalError(f"MoMo outcome unknown (resultCode {code}): {message}")
    raise GatewayLogicalError(message, code=str(code))


def _check_echo(data: Mapping[str, Any], partner_code: str, order_id: str) -> None:
    if data.get("partnerCode", partner_code) != partner_code or data.get("orderId", order_id) != order_id:
        raise GatewayTechnicalError("MoMo answer does not match the request (partnerCode/orderId)")


def _result_code(answer: Result) -> int:
    code = answer.resultCode
    if code is None:
        raise GatewayTechnicalError("MoMo answer has no resultCode")
    return code


def _text(value: object) -> str:
    """A value as MoMo's signature string holds it (raw; booleans as JSON spells them)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _message(data: Mapping[str, Any], answer: Result) -> str | None:
    """MoMo's message as sent (absent → None)."""
    return answer.message if "message" in data and data["message"] is not None else None


def _from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


adapter = MomoAdapter()
