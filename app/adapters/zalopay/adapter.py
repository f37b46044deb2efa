"""ZaloPay API v2, byte for byte.

Requests are form-encoded (the v2 API takes ``application/x-www-form-urlencoded`` or JSON; the
form keeps every value a plain string, so what we sign is exactly what we send). Every ``mac`` is
HMAC-SHA256 hex over ``|``-joined texts: key1 for our requests, key2 for what ZaloPay sends us.

Decisions:

- ``app_trans_id`` = ``yymmdd`` (GMT+7 date of the attempt) + ``_`` + our reference; ``app_time``
  is the attempt's creation time in unix ms. Both go into ``wire``.
- Callback answers: 1 "success" for accepted and already_processed; -1 for a bad mac; 0 for
  ``error`` (ZaloPay calls back again, up to 3 times); -1 for not_found and amount_mismatch: a retry
  cannot fix either, the raw callback is kept for an operator, and a non-1 answer shows up as a
  failed callback in ZaloPay's merchant portal too.
- Browser return ``status``: 1 → succeeded, -49 → cancelled; anything else → unknown (the return is
  only a hint; the status query decides).
- Query ``return_code`` 2 is "failed" only when ``sub_return_code`` is not a request error:
  -401/-402 (bad request / bad mac) → logical error, -429/-500/-999 → technical; -54 → expired.
- Refunds are asynchronous: ``return_code`` 3 → pending; ``m_refund_id`` and ``timestamp`` derive
  from our refund reference and request time, so a retry repeats the same signed request.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urlencode, urlsplit

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
    gmt7,
    require_amount,
    require_fields,
)
from app.adapters.common.freetext import safe_text
from app.adapters.common.wire import endpoint_url, integer_value, json_object
from app.adapters.zalopay.wire import Answer, Envelope, PaidOrder, ReturnParams

PUBLIC_TEST_ENDPOINT = "https://sb-openapi.zalopay.vn"
RETURN_FIELDS = ("appid", "apptransid", "pmcid", "bankcode", "amount", "discountamount", "status")
DESCRIPTION_MAX = 256
REFUND_DESCRIPTION_MAX = 100
REQUEST_ERRORS = frozenset({-401, -402})  # bad request / bad app or mac: our fault, clearly
TECHNICAL_SUBCODES = frozenset({-429, -500, -999})  # rate limit / system error / maintenance


def mac(key: str, text: str) -> str:
    """HMAC-SHA256 hex of ``text`` (UTF-8)."""
    return hmac.new(key.encode("utf-8"), text.encode("utf-8"), hashlib.sha256).hexdigest()


def mac_ok(key: str, text: str, given: object) -> bool:
    return isinstance(given, str) and bool(given) and hmac.compare_digest(mac(key, text), given.lower())


def create_hmac_input(params: Mapping[str, Any]) -> str:
    """``app_id|app_trans_id|app_user|amount|app_time|embed_data|item`` over the exact texts."""
    names = ("app_id", "app_trans_id", "app_user", "amount", "app_time", "embed_data", "item")
    return "|".join(str(params[n]) for n in names)


def app_trans_id(created_at: datetime, reference: str) -> str:
    """``yymmdd_`` in Vietnam's date (GMT+7, whatever the server's zone) + our reference."""
    return f"{gmt7(created_at, '%y%m%d')}_{reference}"


def reference_from_app_trans_id(value: str) -> str | None:
    prefix, sep, rest = value.partition("_")
    return rest if sep and len(prefix) == 6 and prefix.isdigit() and rest else None


class ZalopayAdapter:
    """ZaloPay v2: create → order_url, key2-signed callback, query, async refund + refund query."""

    name: ClassVar[str] = "zalopay"
    capabilities: ClassVar[frozenset[Capability]] = (
        HOSTED_PAGE | {Capability.api_create, Capability.query} | API_REFUNDS
    )
    credential_fields: ClassVar[tuple[str, ...]] = ("app_id", "key1", "key2")
    min_amount: ClassVar[int] = 1_000
    local_checkout: ClassVar[bool] = False  # a call to the gateway
    max_amount: ClassVar[int | None] = None

    def validate_account(
        self, credentials: Mapping[str, Any], settings: Mapping[str, Any]
    ) -> tuple[dict[str, str], dict[str, Any]]:
        creds = require_fields(credentials, self.credential_fields)
        errors: dict[str, str] = {}
        if not creds["app_id"].isdigit():
            errors["credentials.app_id"] = "must be digits"
        endpoint = settings.get("endpoint")
        if not isinstance(endpoint, str) or urlsplit(endpoint.strip()).scheme not in ("http", "https"):
            errors["settings.endpoint"] = "must be an http(s) URL"
        for name in ("app_user", "bank_code"):
            if settings.get(name) is not None and not isinstance(settings.get(name), str):
                errors[f"settings.{name}"] = "must be a string"
        if errors:
            raise CredentialsError(errors)
        out = dict(settings)
        out["endpoint"] = str(endpoint).strip().rstrip("/")
        return creds, out

    def default_settings(self, simulator_base_url: str | None) -> dict[str, Any]:
        base = simulator_base_url.rstrip("/") if simulator_base_url else PUBLIC_TEST_ENDPOINT
        return {"endpoint": base}

    async def create_checkout(
        self, account: Account, request: CheckoutRequest, http: httpx.AsyncClient
    ) -> CheckoutResult:
        require_amount(self, request.amount, f"ZaloPay takes at least {self.min_amount:,} VND")
        creds = account.credentials
        embed: dict[str, str] = {"redirecturl": account.return_url} if account.return_url else {}
        params: dict[str, str] = {
            "app_id": creds["app_id"],
            "app_user": str(account.settings.get("app_user") or request.agency_code)[:50],
            "app_trans_id": app_trans_id(request.created_at, request.reference),
            "app_time": str(int(request.created_at.timestamp() * 1000)),
            "amount": str(request.amount),
            "item": "[]",
            "embed_data": orjson.dumps(embed).decode(),
            "description": safe_text(request.description, DESCRIPTION_MAX, unaccented=False)
            or f"Thanh toan {request.reference}",
            "bank_code": str(account.settings.get("bank_code") or ""),
            "callback_url": account.callback_url,
        }
        params["mac"] = mac(creds["key1"], create_hmac_input(params))
        data, raw = await call_json(http, endpoint_url(account, "/v2/create"), params, form=True)
        answer = Answer.parse(data)
        if answer.return_code != 1:
            _raise_for(answer, "create")
        order_url = answer.order_url
        if not isinstance(order_url, str) or not order_url:
            raise GatewayTechnicalError("ZaloPay answered return_code 1 without an order_url")
        wire = {"app_trans_id": params["app_trans_id"], "app_time": params["app_time"]}
        for name, token in (("zp_trans_token", answer.zp_trans_token), ("order_token", answer.order_token)):
            if isinstance(token, str):
                wire[name] = token
        qr = answer.qr_code
        return CheckoutResult(
            checkout_url=order_url,
            qr_payload=qr if isinstance(qr, str) and qr else None,
            wire=wire,
            raw_request=urlencode(params),
            raw_response=raw,
        )

    def parse_callback(self, account: Account, request: InboundRequest) -> Notification:
        envelope = Envelope.parse(json_object(request.body, "ZaloPay callback body"))
        if not isinstance(envelope.data, str):
            raise GatewayTechnicalError("ZaloPay callback has no data text")
        # Verify over the raw data text BEFORE parsing it: nothing unverified is ever interpreted.
        if not mac_ok(account.credentials["key2"], envelope.data, envelope.mac):
            return Notification(verified=False, fields={"type": envelope.type})
        data = json_object(envelope.data.encode(), "ZaloPay callback data")
        paid = PaidOrder.parse(data)
        if paid.app_id != account.credentials["app_id"]:
            return Notification(verified=False, fields={"type": envelope.type})
        is_order = envelope.type == 1
        return Notification(
            verified=True,
            reference=reference_from_app_trans_id(paid.app_trans_id),
            amount=paid.amount,
            # ZaloPay calls back only for paid orders (type 1); type 2 is an agreement binding.
            outcome=Outcome.succeeded if is_order else Outcome.unknown,
            provider_transaction_id=str(paid.zp_trans_id) if paid.zp_trans_id else None,
            code="1" if is_order else None,
            paid_at=_from_ms(paid.server_time) if paid.server_time and is_order else None,
            fields={**data, "type": envelope.type},
        )

    def parse_return(self, account: Account, request: InboundRequest) -> Notification:
        params = dict(request.query_items())
        back = ReturnParams.parse(params)
        text = "|".join(params.get(name, "") for name in RETURN_FIELDS)  # the raw values it signs
        reference = reference_from_app_trans_id(back.apptransid)
        ok = back.appid == account.credentials["app_id"] and mac_ok(
            account.credentials["key2"], text, back.checksum
        )
        if not ok:
            return Notification(verified=False, reference=reference, fields=params)
        outcome = {"1": Outcome.succeeded, "-49": Outcome.cancelled}.get(back.status, Outcome.unknown)
        return Notification(
            verified=True, reference=reference, amount=integer_value(back.amount), outcome=outcome,
            code=back.status, fields=params,
        )  # fmt: skip

    def acknowledge(self, account: Account, notification: Notification | None, verdict: AckVerdict) -> Reply:
        code, message = {
            AckVerdict.accepted: (1, "success"),
            AckVerdict.already_processed: (1, "success"),
            AckVerdict.invalid_signature: (-1, "mac not equal"),
            AckVerdict.not_found: (-1, "order not found"),
            AckVerdict.amount_mismatch: (-1, "amount mismatch"),
            AckVerdict.error: (0, "temporary error, retry"),
        }[verdict]
        return Reply(status_code=200, body=orjson.dumps({"return_code": code, "return_message": message}))

    async def query(self, account: Account, attempt: AttemptRef, http: httpx.AsyncClient) -> QueryResult:
        creds = account.credentials
        trans = attempt.wire.get("app_trans_id") or app_trans_id(attempt.created_at, attempt.reference)
        params = {"app_id": creds["app_id"], "app_trans_id": trans}
        params["mac"] = mac(creds["key1"], f"{creds['app_id']}|{trans}|{creds['key1']}")
        data, raw = await call_json(http, endpoint_url(account, "/v2/query"), params, form=True)
        answer = Answer.parse(data)
        code, sub = answer.return_code, answer.sub_return_code
        if code == 1:
            outcome = Outcome.succeeded
        elif code == 3:
            outcome = Outcome.pending
        elif code == 2:
            if sub in REQUEST_ERRORS or sub in TECHNICAL_SUBCODES:
                _raise_for(answer, "query")
            outcome = {-54: Outcome.expired, -49: Outcome.cancelled}.get(sub or 0, Outcome.failed)
        else:
            outcome = Outcome.unknown
        stamp = answer.server_time
        return QueryResult(
            outcome=outcome,
            amount=answer.amount,
            provider_transaction_id=str(answer.zp_trans_id) if answer.zp_trans_id else None,
            code=str(code) if sub is None else f"{code}/{sub}",
            message=_message(answer),
            paid_at=_from_ms(stamp) if outcome is Outcome.succeeded and stamp else None,
            raw=raw,
        )

    async def refund(self, account: Account, request: RefundRequest, http: httpx.AsyncClient) -> RefundResult:
        creds = account.credentials
        zp_trans_id = request.attempt.provider_transaction_id
        if not zp_trans_id or not zp_trans_id.isdigit():
            raise GatewayLogicalError(
                "no ZaloPay zp_trans_id recorded for this payment", code="missing_trans_id"
            )
        m_refund_id = refund_id(request.requested_at, creds["app_id"], request.refund_reference)
        params = {
            "app_id": creds["app_id"],
            "m_refund_id": m_refund_id,
            "zp_trans_id": zp_trans_id,
            "amount": str(request.amount),
            "timestamp": str(int(request.requested_at.timestamp() * 1000)),
            "description": safe_text(request.reason, REFUND_DESCRIPTION_MAX, unaccented=False),
        }
        text = "|".join(params[n] for n in ("app_id", "zp_trans_id", "amount", "description", "timestamp"))
        params["mac"] = mac(creds["key1"], text)
        data, raw = await call_json(http, endpoint_url(account, "/v2/refund"), params, form=True)
        answer = Answer.parse(data)
        status = _refund_status(answer)
        refund_no = answer.refund_id
        wire = {"m_refund_id": m_refund_id}
        if refund_no:
            wire["refund_id"] = str(refund_no)
        return RefundResult(
            status=status, provider_refund_id=wire.get("refund_id"), code=_code(answer),
            message=_message(answer), wire=wire, raw=raw,
        )  # fmt: skip

    async def query_refund(
        self, account: Account, request: RefundRequest, wire: Mapping[str, str], http: httpx.AsyncClient
    ) -> RefundResult:
        creds = account.credentials
        m_refund_id = wire.get("m_refund_id") or refund_id(
            request.requested_at, creds["app_id"], request.refund_reference
        )
        timestamp = str(int(time.time() * 1000))
        params = {"app_id": creds["app_id"], "m_refund_id": m_refund_id, "timestamp": timestamp}
        params["mac"] = mac(creds["key1"], f"{creds['app_id']}|{m_refund_id}|{timestamp}")
        data, raw = await call_json(http, endpoint_url(account, "/v2/query_refund"), params, form=True)
        answer = Answer.parse(data)
        return RefundResult(
            status=_refund_status(answer), provider_refund_id=wire.get("refund_id"), code=_code(answer),
            message=_message(answer), wire=dict(wire), raw=raw,
        )  # fmt: skip


def refund_id(requested_at: datetime, app_id: str, refund_reference: str) -> str:
    """``yymmdd_appid_xxx`` (GMT+7 date); at most 45 characters."""
    cleaned = re.sub(r"[^0-9A-Za-z]", "", refund_reference)
    if not cleaned:
        raise GatewayLogicalError("refund reference has no usable characters", code="bad_refund_reference")
    head = f"{gmt7(requested_at, '%y%m%d')}_{app_id}_"
    return head + cleaned[: max(1, 45 - len(head))]


def _refund_status(answer: Answer) -> RefundStatus:
    code, sub = answer.return_code, answer.sub_return_code
    if code == 1:
        return RefundStatus.succeeded
    if code == 3:
        return RefundStatus.pending
    if code == 2:
        if sub in TECHNICAL_SUBCODES:
            _raise_for(answer, "refund")
        return RefundStatus.failed
    raise GatewayTechnicalError(f"ZaloPay refund answer has unexpected return_code {code!r}")


def _raise_for(answer: Answer, what: str) -> None:
    code, sub = answer.return_code, answer.sub_return_code
    if code == 2 and sub not in TECHNICAL_SUBCODES:
        raise GatewayLogicalError(_message(answer) or f"ZaloPay refused the {what}", code=str(sub or code))
    raise GatewayTechnicalError(
        f"ZaloPay {what}: outcome unknown (return_code {code}, sub_return_code {sub})"
    )


def _from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _code(answer: Answer) -> str:
    code, sub = answer.return_code, answer.sub_return_code
    return f"{code}" if sub is None else f"{code}/{sub}"


def _message(answer: Answer) -> str | None:
    for message in (answer.sub_return_message, answer.return_message):
        if isinstance(message, str) and message:
            return message
    return None


adapter = ZalopayAdapter()
