"""The built-in sandbox gateway: a complete, signed, offline gateway for integrators and tests.

Wire format (ours, deliberately simple but signed like a real gateway):

- Checkout: GET ``{pay_url}?merchant_id&reference&amount&description&return_url&sig`` where
  ``sig`` = hex HMAC-SHA256(secret, the query string before ``&sig=``).
- Callback (IPN): POST JSON ``{merchant_id, reference, amount, status, transaction_id, paid_at}``
  with header ``X-Sandbox-Signature`` = hex HMAC-SHA256(secret, raw body). ``status``:
  ``success`` | ``failed`` | ``cancelled``.
- Browser return: GET ``?reference&status&transaction_id&amount&sig`` signed like the checkout.
- Query: POST JSON ``{merchant_id, reference, sig}`` (sig over ``merchant_id|reference``) to
  ``{api_url}/query``; the answer ``{reference, status (success|failed|cancelled|pending|not_found),
  amount, transaction_id, sig}`` is signed over ``reference|status|amount|transaction_id``.
- Refund: POST ``{api_url}/refund`` ``{merchant_id, refund_id, transaction_id, amount, sig}``
  (sig over ``merchant_id|refund_id|transaction_id|amount``) → ``{refund_id, status, sig}``.
- Acknowledgement: 200 ``{"received": true}``; 401 bad signature; 404 unknown reference;
  422 amount mismatch; 503 (retry) when we could not process.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import urlencode

import orjson

from app.adapters.base import (
    HOSTED_PAGE,
    Account,
    AckVerdict,
    AttemptRef,
    Capability,
    CheckoutRequest,
    CheckoutResult,
    CredentialsError,
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
)
from app.adapters.common.wire import json_object
from app.adapters.sandbox.wire import Callback, QueryAnswer, RefundAnswer, Return

STATUS_MAP: dict[str, Outcome] = {
    "success": Outcome.succeeded,
    "failed": Outcome.failed,
    "cancelled": Outcome.cancelled,
    "pending": Outcome.pending,
    "not_found": Outcome.failed,
}


def sign(secret: str, message: str) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def verify(secret: str, message: str, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, message), signature.lower())


def signed_query(secret: str, params: list[tuple[str, str]]) -> str:
    query = urlencode(params)
    return f"{query}&sig={sign(secret, query)}"


def split_signed_query(query_string: str) -> tuple[str, str] | None:
    """``a=1&b=2&sig=xx`` → (``a=1&b=2``, ``xx``); None when unsigned."""
    head, sep, sig = query_string.rpartition("&sig=")
    if not sep or "&" in sig:
        return None
    return head, sig


class SandboxAdapter:
    name: ClassVar[str] = "sandbox"
    capabilities: ClassVar[frozenset[Capability]] = HOSTED_PAGE | {Capability.query, Capability.refund}
    credential_fields: ClassVar[tuple[str, ...]] = ()
    min_amount: ClassVar[int] = 1
    local_checkout: ClassVar[bool] = True  # built here: no call to the gateway
    max_amount: ClassVar[int | None] = 1_000_000_000

    def validate_account(
        self, credentials: Mapping[str, Any], settings: Mapping[str, Any]
    ) -> tuple[dict[str, str], dict[str, Any]]:
        creds = {
            "merchant_id": str(credentials.get("merchant_id") or "SBX" + secrets.token_hex(6).upper()),
            "secret": str(credentials.get("secret") or secrets.token_urlsafe(32)),
        }
        errors = {}
        for key in ("pay_url", "api_url"):
            value = settings.get(key)
            if not isinstance(value, str) or not value.startswith(("http://", "https://")):
                errors[f"settings.{key}"] = "must be an absolute http(s) URL"
        if errors:
            raise CredentialsError(errors)
        return creds, {"pay_url": settings["pay_url"], "api_url": settings["api_url"]}

    def default_settings(self, simulator_base_url: str | None) -> dict[str, Any]:
        base = simulator_base_url or "http://127.0.0.1:8000/sandbox/sandbox"
        return {"pay_url": f"{base}/pay", "api_url": f"{base}/api"}

    async def create_checkout(self, account: Account, request: CheckoutRequest, http: Any) -> CheckoutResult:
        params = [
            ("merchant_id", account.credentials["merchant_id"]),
            ("reference", request.reference),
            ("amount", str(request.amount)),
            ("description", request.description[:200]),
            ("return_url", account.return_url),
        ]
        url = f"{account.settings['pay_url']}?{signed_query(account.credentials['secret'], params)}"
        return CheckoutResult(checkout_url=url, raw_request=url.split("&sig=")[0])

    def parse_callback(self, account: Account, request: InboundRequest) -> Notification:
        signature = request.headers.get("x-sandbox-signature", "")
        if not verify(account.credentials["secret"], request.body.decode("latin-1"), signature):
            return Notification(verified=False)
        data = json_object(request.body, "sandbox callback")
        callback = Callback.parse(data)
        paid_at = None
        if isinstance(callback.paid_at, str):
            try:
                paid_at = datetime.fromisoformat(callback.paid_at)
            except ValueError:
                paid_at = None
        return Notification(
            verified=True,
            reference=callback.reference,
            amount=callback.amount,
            outcome=STATUS_MAP.get(callback.status, Outcome.unknown),
            provider_transaction_id=str(callback.transaction_id or "") or None,
            code=callback.status,
            paid_at=paid_at,
            fields={k: v for k, v in data.items() if k != "sig"},
        )

    def acknowledge(self, account: Account, notification: Notification | None, verdict: AckVerdict) -> Reply:
        status = {
            AckVerdict.accepted: 200,
            AckVerdict.already_processed: 200,
            AckVerdict.invalid_signature: 401,
            AckVerdict.not_found: 404,
            AckVerdict.amount_mismatch: 422,
            AckVerdict.error: 503,
        }[verdict]
        return Reply(
            status_code=status, body=orjson.dumps({"received": status == 200, "verdict": verdict.value})
        )

    def parse_return(self, account: Account, request: InboundRequest) -> Notification:
        parts = split_signed_query(request.query_string)
        if parts is None or not verify(account.credentials["secret"], parts[0], parts[1]):
            return Notification(verified=False)
        fields = dict(request.query_items())
        back = Return.parse(fields)
        try:
            amount: int | None = int(back.amount)
        except ValueError:
            amount = None
        return Notification(
            verified=True,
            reference=back.reference,
            amount=amount,
            outcome=STATUS_MAP.get(back.status or "", Outcome.unknown),
            provider_transaction_id=back.transaction_id or None,
            code=back.status,
            fields=fields,
        )

    async def query(self, account: Account, attempt: AttemptRef, http: Any) -> QueryResult:
        merchant, secret = account.credentials["merchant_id"], account.credentials["secret"]
        payload = {"merchant_id": merchant, "reference": attempt.reference}
        payload["sig"] = sign(secret, f"{merchant}|{attempt.reference}")
        data, raw = await call_json(http, f"{account.settings['api_url']}/query", payload)
        answer = QueryAnswer.parse(data)
        status, amount, txn = answer.status, answer.amount, str(answer.transaction_id or "")
        message = f"{answer.reference}|{status}|{amount if amount is not None else ''}|{txn}"
        if not verify(secret, message, answer.sig):
            raise GatewayTechnicalError("sandbox query answer has a bad signature")
        return QueryResult(
            outcome=STATUS_MAP.get(status, Outcome.unknown),
            amount=amount if isinstance(amount, int) else None,
            provider_transaction_id=txn or None,
            code=status,
            raw=raw,
        )

    async def refund(self, account: Account, request: RefundRequest, http: Any) -> RefundResult:
        merchant, secret = account.credentials["merchant_id"], account.credentials["secret"]
        txn = request.attempt.provider_transaction_id or ""
        payload: dict[str, Any] = {
            "merchant_id": merchant,
            "refund_id": request.refund_reference,
            "transaction_id": txn,
            "amount": request.amount,
        }
        payload["sig"] = sign(secret, f"{merchant}|{request.refund_reference}|{txn}|{request.amount}")
        data, raw = await call_json(http, f"{account.settings['api_url']}/refund", payload)
        answer = RefundAnswer.parse(data)
        status = answer.status
        if not verify(secret, f"{answer.refund_id}|{status}", answer.sig):
            raise GatewayTechnicalError("sandbox refund answer has a bad signature")
        mapped = {
            "succeeded": RefundStatus.succeeded,
            "failed": RefundStatus.failed,
            "pending": RefundStatus.pending,
        }
        return RefundResult(
            status=mapped.get(status, RefundStatus.unknown),
            provider_refund_id=str(answer.refund_id),
            code=status,
            raw=raw,
        )

    async def query_refund(
        self, account: Account, request: RefundRequest, wire: Mapping[str, str], http: Any
    ) -> RefundResult:
        # Sandbox refunds settle synchronously; asking again repeats the (idempotent) refund call.
        return await self.refund(account, request, http)


adapter = SandboxAdapter()
