"""PayGov (the NAPAS national payment hub for public services), reached through the LGSP.

Checksums are lowercase hex SHA-256 of a plain concatenation (no separator), secret first:

- create (documented): ``secretKey+accessKey+partnerCode+orderId+requestCode+amount``.
- callback and browser return (ASSUMED — the documents list the fields but not the order): the
  secret, then the callback fields in their documented order, ``CALLBACK_FIELDS``:
  ``secretKey+amount+orderId+orderInfo+requestCode+transactionNo+payDate+paygate+errorCode+type
  +transactionCode``. The browser return is assumed to carry the same fields as query parameters.
- receipt (ASSUMED): ``secretKey+accessKey+partnerCode+payerId+docCode+paids`` where ``paids`` is
  the base64 text exactly as sent.

Other choices: ``orderId`` is our reference; ``requestCode`` is ``yyyyMMddHHmmss`` (GMT+7 of the
attempt) + reference, kept in ``wire``. ``errorCode`` "00" → succeeded, anything else → failed.
``provider_transaction_id`` is ``transactionCode`` (what a receipt request lists in ``paids``).
Optional settings ``access_token`` (``Authorization: Bearer``) and ``lgsp_access_token``
(``lgspaccesstoken``) for the LGSP. PayGov documents no status query and no refund API, so both
raise :class:`NotSupported` and are not declared. Limits: from 1 000 VND, no upper limit of ours.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, ClassVar

import httpx
import orjson

from app.adapters.base import (
    HOSTED_PAGE,
    VN_TZ,
    Account,
    AckVerdict,
    Capability,
    CheckoutRequest,
    CheckoutResult,
    GatewayLogicalError,
    GatewayReceipt,
    GatewayTechnicalError,
    InboundRequest,
    Notification,
    Outcome,
    Payer,
    ReceiptRequest,
    Reply,
    call_json,
    gmt7,
)
from app.adapters.common.freetext import safe_text
from app.adapters.common.national import (
    LGSP_TOKENS,
    NationalAccounts,
    checksum_matches,
    http_url,
    lgsp_headers,
    sha256_checksum,
)
from app.adapters.common.unsupported import NoRefundApi, NoStatusQuery
from app.adapters.common.wire import json_object
from app.adapters.paygov.wire import Answer, Result

CREATE_FIELDS = ("accessKey", "partnerCode", "orderId", "requestCode", "amount")
CALLBACK_FIELDS = (
    "amount", "orderId", "orderInfo", "requestCode", "transactionNo", "payDate", "paygate", "errorCode",
    "type", "transactionCode",
)  # fmt: skip
RECEIPT_FIELDS = ("accessKey", "partnerCode", "payerId", "docCode", "paids")


def checksum(message: Mapping[str, Any], fields: Sequence[str], secret_key: str) -> str:
    return sha256_checksum(message, fields, secret_key, separator="", secret_first=True)


def checksum_ok(message: Mapping[str, Any], fields: Sequence[str], secret_key: str) -> bool:
    return checksum_matches(message.get("checksum"), checksum(message, fields, secret_key))


def b64_json(value: Any) -> str:
    return base64.b64encode(orjson.dumps(value)).decode("ascii")


def _pay_date(value: str) -> datetime | None:
    try:
        return datetime.strptime(value, "%Y%m%d%H%M%S").replace(tzinfo=VN_TZ)
    except ValueError:
        return None


class PaygovAdapter(NationalAccounts, NoStatusQuery, NoRefundApi):
    name: ClassVar[str] = "paygov"
    capabilities: ClassVar[frozenset[Capability]] = HOSTED_PAGE | {Capability.api_create}
    credential_fields: ClassVar[tuple[str, ...]] = (
        "partner_code",
        "access_key",
        "secret_key",
        "service_code",
    )
    endpoints: ClassVar[Mapping[str, str]] = {"endpoint": "/create", "receipt_url": "/receipt"}
    token_settings: ClassVar[tuple[str, ...]] = tuple(LGSP_TOKENS)
    no_query_reason: ClassVar[str] = "PayGov documents no status query"
    no_refund_reason: ClassVar[str] = "PayGov has no refund API"

    @staticmethod
    def _data(answer: Answer) -> dict[str, Any]:
        if isinstance(answer.data, dict):
            return answer.data
        code = answer.error_code or answer.errorCode
        text = answer.error_message or answer.message
        if code and code != "00":
            raise GatewayLogicalError(text or "refused", code=code)
        raise GatewayTechnicalError("PayGov answer holds no data")

    async def create_checkout(
        self, account: Account, request: CheckoutRequest, http: httpx.AsyncClient
    ) -> CheckoutResult:
        creds = account.credentials
        message: dict[str, Any] = {
            "partnerCode": creds["partner_code"],
            "accessKey": creds["access_key"],
            "serviceCode": creds["service_code"],
            "returnUrl": account.return_url,
            "orderId": request.reference,
            "amount": request.amount,
            "orderInfo": safe_text(request.description, 255)  # "without diacritics"
            or f"Thanh toan {request.reference}",
            "requestCode": gmt7(request.created_at) + request.reference,
            "ipAddress": request.client_ip,
        }
        message["checksum"] = checksum(message, CREATE_FIELDS, creds["secret_key"])
        answer, raw = await call_json(
            http, account.settings["endpoint"], message, headers=lgsp_headers(account.settings)
        )
        url = http_url(self._data(Answer.parse(answer)).get("url"))
        if url is None:
            raise GatewayTechnicalError("PayGov answer holds no data.url")
        return CheckoutResult(
            checkout_url=url,
            wire={"requestCode": message["requestCode"]},
            raw_request=orjson.dumps({k: v for k, v in message.items() if k != "accessKey"}).decode(),
            raw_response=raw,
        )

    def _notification(self, account: Account, message: Mapping[str, Any]) -> Notification:
        fields = {k: v for k, v in message.items() if k != "checksum"}
        if not checksum_ok(message, CALLBACK_FIELDS, account.credentials["secret_key"]):
            return Notification(verified=False, fields=fields)
        result = Result.parse(message)
        ok = result.errorCode == "00"
        return Notification(
            verified=True,
            reference=result.orderId or None,
            amount=result.amount,
            outcome=Outcome.succeeded if ok else Outcome.failed,
            provider_transaction_id=result.transactionCode or None,
            code=result.errorCode,
            paid_at=_pay_date(result.payDate) if ok else None,
            fields=fields,
        )

    def parse_callback(self, account: Account, request: InboundRequest) -> Notification:
        return self._notification(account, json_object(request.body, "callback body"))

    def acknowledge(self, account: Account, notification: Notification | None, verdict: AckVerdict) -> Reply:
        ok = verdict in (AckVerdict.accepted, AckVerdict.already_processed)
        body = {"error_code": "SUCCESSFUL" if ok else "FAILED", "error_message": str(verdict)}
        return Reply(status_code=200, body=orjson.dumps(body))

    def parse_return(self, account: Account, request: InboundRequest) -> Notification:
        return self._notification(account, dict(request.query_items()))

    async def fetch_receipt(
        self, account: Account, request: ReceiptRequest, http: httpx.AsyncClient
    ) -> GatewayReceipt:
        """:class:`ReceiptSource`: PayGov's receipt for the attempt's transaction (a PDF URL)."""
        url = await self.request_receipt(
            account,
            transaction_codes=[request.attempt.provider_transaction_id or request.attempt.reference],
            payer=request.payer,
            doc_code=request.dossier_code,
            decision_date=request.decided_on,
            procedure_name=request.procedure_name,
            http=http,
        )
        return GatewayReceipt(url=url)

    async def request_receipt(
        self,
        account: Account,
        *,
        transaction_codes: Sequence[str],
        payer: Payer,
        doc_code: str,
        decision_date: date,
        procedure_name: str,
        other_info: Mapping[str, Any] | None = None,
        payer_district: str = "",
        payer_province: str = "",
        http: httpx.AsyncClient,
    ) -> str:
        """Ask PayGov for the e-receipt of paid transactions; returns ``transactionReceipt`` (a PDF URL)."""
        if not transaction_codes:
            raise GatewayLogicalError("no transaction to put on a receipt", code="no_transactions")
        creds = account.credentials
        message: dict[str, Any] = {
            "partnerCode": creds["partner_code"],
            "accessKey": creds["access_key"],
            "payerId": payer.id_number or "",
            "payerName": payer.name,
            "payerAddress": payer.address or "",
            "payerDistrict": payer_district,
            "payerProvince": payer_province,
            "docCode": doc_code,
            "decisionDate": decision_date.strftime("%d-%m-%Y"),
            "procedureName": procedure_name,
            "paids": b64_json(list(transaction_codes)),
            "otherInfo": b64_json(dict(other_info or {})),
        }
        message["checksum"] = checksum(message, RECEIPT_FIELDS, creds["secret_key"])
        answer, _ = await call_json(
            http, account.settings["receipt_url"], message, headers=lgsp_headers(account.settings)
        )
        parsed = Answer.parse(answer)
        given = parsed.transactionReceipt if "transactionReceipt" in answer else None
        if given is None:
            given = self._data(parsed).get("transactionReceipt")
        url = http_url(given)
        if url is None:
            raise GatewayTechnicalError("PayGov answer holds no transactionReceipt URL")
        return url


adapter = PaygovAdapter()
