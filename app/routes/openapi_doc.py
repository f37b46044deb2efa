"""The finishing touches of ``/openapi.json`` that FastAPI cannot derive from the routes.

- ``Idempotency-Key`` is documented as required where it is (the routes take it as optional so that
  a missing key gets its own 400 ``idempotency_key_missing`` instead of a generic 422).
- Examples for bodies that are not pydantic models (CSV and JSON imports, the checkout form, HTML
  pages, CSV exports, plain dicts), and a model's own example copied onto each request/response
  that uses it, so every tool shows one.
- The OpenAPI 3.1 ``webhooks``: each event paybridge POSTs to a client's ``webhook_url``.
- FastAPI's own ``HTTPValidationError`` schemas are dropped: paybridge answers problem+json.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, FastAPI, Header
from fastapi.responses import Response
from pydantic import BaseModel

from app.schemas import examples as ex
from app.schemas.events import DuplicatePaidEvent, PaymentEvent, RefundEvent

IDEMPOTENT_OPERATIONS = {("post", "/v1/payments"), ("post", "/v1/payments/{payment_id}/refunds")}

_RECEIPT = {
    "payment_id": ex.PAYMENT["id"],
    "payment_status": "succeeded",
    "amount": 50000,
    "refunded_amount": 0,
    "receipts": [
        {
            "id": "rct_01JD3Z7A8B9C0D1E2F3G4H5J6K",
            "payment_id": ex.PAYMENT["id"],
            "kind": "le_phi",
            "kind_label": "Lệ phí",
            "form_number": "01BLP0-001",
            "symbol": "AA-26E",
            "number": "0000123",
            "sequence": 123,
            "amount": 50000,
            "currency": "VND",
            "amount_in_words": "Năm mươi nghìn đồng",
            "issued_at": "2026-11-21T02:57:42+00:00",
            "agency": {"code": "000.00.31.H56", "name": "Sở Tư pháp"},
            "payer": {"name": "Nguyễn Văn A"},
            "items": ex.PAYMENT["items"],
            "payment": {"provider": "vnpay", "paid_at": "2026-11-21T02:57:41Z"},
            "gateway_receipt": None,
        }
    ],
}
_UNMATCHED = {
    "id": 12,
    "provider": "vietqr",
    "provider_account_id": "pa_01JD2C3D4E5F6G7H8J9K0M1N2P",
    "reason": "unknown_reference",
    "reference": "PB0000UNKNOWN000",
    "amount": 50000,
    "description": "PB0000UNKNOWN000 nop le phi",
    "bank_transaction_id": "FT24326000123",
    "account_number": "7111",
    "received_at": "2026-11-21T04:00:00+00:00",
    "resolved_at": None,
    "resolution_note": None,
}
_PAGE = '<!doctype html><html lang="vi"><head><title>Thanh toán lệ phí</title></head><body>…</body></html>'
_REPORT_CSV = (
    "\ufeffkey,name,level,scope,bills_with_fee,bills_paid_online,online_rate,target_rate,meets_target\n"
    "000.00.31.H56,Sở Tư pháp,department,subtree,1200,420,0.35,0.3,true\n"
    "TOTAL,Tổng cộng,,,1200,420,0.35,0.3,true\n"
)
_RECONCILIATION_CSV = (
    "line_number,status,reference,provider_transaction_id,their_amount,our_amount,detail\n"
    "14,amount_mismatch,PB7K2M9Q4X8WZ3TA,14638290,55000,50000,the file says 55000 VND\n"
)
_PROBLEM_DOC = {
    "type": "https://paybridge.example.gov.vn/problems/duplicate_bill",
    "code": "duplicate_bill",
    "status": 409,
    "title": "Duplicate bill",
    "meaning": "This agency already has an open or paid payment for the same dossier and bill.",
    "fix": "Use the payment in `payment_id` (`GET /v1/payments/{payment_id}`).",
}

# (method, path, status or "request", media type) → example.
EXAMPLES: dict[tuple[str, str, str, str], Any] = {
    ("get", "/healthz", "200", "application/json"): {"status": "ok"},
    ("get", "/readyz", "200", "application/json"): {"status": "ready", "database_revision": "0002"},
    ("get", "/v1/providers", "200", "application/json"): {"data": [ex.PROVIDER]},
    ("get", "/admin/v1/provider-accounts", "200", "application/json"): {"data": [ex.PROVIDER_ACCOUNT]},
    ("get", "/admin/v1/unmatched-credits", "200", "application/json"): {
        "data": [_UNMATCHED],
        "next_cursor": None,
    },
    ("post", "/admin/v1/unmatched-credits/{credit_id}/resolve", "200", "application/json"): {
        **_UNMATCHED,
        "resolved_at": "2026-11-22T02:00:00+00:00",
        "resolution_note": "Refunded to the payer on 2026-11-22",
    },
    ("get", "/checkout/{token}", "200", "text/html"): _PAGE,
    ("post", "/checkout/{token}", "200", "text/html"): _PAGE,
    ("get", "/checkout/{token}/go", "200", "text/html"): _PAGE,
    ("get", "/checkout/{token}/result", "200", "text/html"): _PAGE,
    ("post", "/checkout/{token}", "request", "application/x-www-form-urlencoded"): {
        "provider": "vnpay",
        "csrf": "the value of the page's hidden csrf field",
    },
    ("get", "/v1/reports/online-payment", "200", "text/csv"): _REPORT_CSV,
    ("get", "/v1/payments/{payment_id}/receipt", "200", "application/json"): _RECEIPT,
    ("get", "/v1/payments/{payment_id}/receipt", "200", "text/html"): _PAGE,
    ("get", "/admin/v1/reconciliations/{run_id}", "200", "text/csv"): _RECONCILIATION_CSV,
    ("get", "/problems", "200", "application/json"): {"data": [_PROBLEM_DOC]},
    ("get", "/problems/{code}", "200", "application/json"): _PROBLEM_DOC,
    ("get", "/problems", "200", "text/html"): _PAGE,
    ("get", "/problems/{code}", "200", "text/html"): _PAGE,
    ("post", "/admin/v1/agencies:import", "request", "text/csv"): (
        "code,name,level,parent_code\n000.00.00.H56,UBND tỉnh Đồng Nai,province,\n"
        "000.00.31.H56,Sở Tư pháp,department,000.00.00.H56\n"
    ),
    ("post", "/admin/v1/agencies:import", "request", "application/json"): [
        {"code": "000.00.31.H56", "name": "Sở Tư pháp", "level": "department", "parent_code": "000.00.00.H56"}
    ],
    ("post", "/admin/v1/revenue-types:import", "request", "text/csv"): (
        "code,group_code,name,kind,chapter,valid_from,valid_to\n"
        "2771,2750,Lệ phí hộ tịch,le_phi,,2017-01-01,\n"
    ),
    ("post", "/admin/v1/revenue-types:import", "request", "application/json"): [
        {
            "code": "2771",
            "group_code": "2750",
            "name": "Lệ phí hộ tịch",
            "kind": "le_phi",
            "valid_from": "2017-01-01",
        }
    ],
    ("post", "/admin/v1/reconciliations", "request", "multipart/form-data"): {
        "provider": "vnpay",
        "account_id": ex.PROVIDER_ACCOUNT["id"],
        "date": "2026-11-21",
        "file": "(the gateway's CSV file)",
    },
    ("post", "/admin/v1/reconciliations", "request", "text/csv"): (
        "vnp_TxnRef,vnp_TransactionNo,vnp_Amount,vnp_ResponseCode\nPB7K2M9Q4X8WZ3TA,14638290,5500000,00\n"
    ),
}


def _component_example(spec: dict[str, Any], schema: dict[str, Any]) -> Any:
    """The example of the model a media type's schema points to (directly, or as ``X | None``)."""
    refs = [schema.get("$ref")] + [s.get("$ref") for s in schema.get("anyOf", []) if isinstance(s, dict)]
    for ref in refs:
        if ref:
            component = spec["components"]["schemas"].get(ref.rsplit("/", 1)[1], {})
            if "example" in component:
                return component["example"]
            if component.get("examples"):
                return component["examples"][0]
    return None


def _model_examples() -> dict[str, dict[str, Any]]:
    """Each request/response model's own ``example``/``examples``, by class name, as written."""
    found: dict[str, dict[str, Any]] = {}
    pending: list[type[BaseModel]] = [BaseModel]
    while pending:
        for model in pending.pop().__subclasses__():
            pending.append(model)
            extra = model.model_config.get("json_schema_extra")
            if model.__module__.startswith("app.schemas.") and isinstance(extra, dict):
                found[model.__name__] = {k: v for k, v in extra.items() if k in ("example", "examples")}
    return found


def _restore_nulls(spec: dict[str, Any]) -> None:
    """FastAPI drops every ``None`` from the document it builds, examples included (a payment's
    ``"bill_code": null`` vanishes and the example no longer matches its schema): put the models'
    examples back as written."""
    schemas = spec.get("components", {}).get("schemas", {})
    for name, examples in _model_examples().items():
        if name in schemas:
            schemas[name].update(examples)


def _add_examples(spec: dict[str, Any]) -> None:
    for path, item in spec.get("paths", {}).items():
        for method, operation in item.items():
            body = operation.get("requestBody")
            for media_type, media in (body or {}).get("content", {}).items():
                key = (method, path, "request", media_type)
                example = EXAMPLES.get(key, _component_example(spec, media.get("schema", {})))
                if example is not None and "example" not in media and "examples" not in media:
                    media["example"] = example
            for status, response in operation.get("responses", {}).items():
                for media_type, media in (response.get("content") or {}).items():
                    example = EXAMPLES.get((method, path, status, media_type))
                    if example is None:
                        example = _component_example(spec, media.get("schema", {}))
                    if example is not None and "example" not in media and "examples" not in media:
                        media["example"] = example
                    if media_type == "application/pdf":
                        media.setdefault("schema", {"type": "string", "format": "binary"})


def _require_idempotency_keys(spec: dict[str, Any]) -> None:
    for method, path in IDEMPOTENT_OPERATIONS:
        operation = spec["paths"].get(path, {}).get(method, {})
        for parameter in operation.get("parameters", []):
            if parameter.get("in") == "header" and parameter.get("name") == "Idempotency-Key":
                parameter["required"] = True


def _drop_webhook_validation_answers(spec: dict[str, Any]) -> None:
    """A portal does not answer a webhook with FastAPI's 422: only 2xx or a retry matters."""
    for item in spec.get("webhooks", {}).values():
        for operation in item.values():
            operation.get("responses", {}).pop("422", None)


def _drop_unused_validation_schemas(spec: dict[str, Any]) -> None:
    schemas = spec.get("components", {}).get("schemas", {})
    text = str({k: v for k, v in spec.items() if k != "components"}) + str(
        {k: v for k, v in schemas.items() if k not in ("HTTPValidationError", "ValidationError")}
    )
    if "#/components/schemas/HTTPValidationError" not in text:
        schemas.pop("HTTPValidationError", None)
        if "#/components/schemas/ValidationError" not in text:
            schemas.pop("ValidationError", None)


def document_openapi(app: FastAPI) -> None:
    """Wrap ``app.openapi`` with the steps above (once; the result is cached like FastAPI's)."""
    app.webhooks.include_router(webhooks)
    build = app.openapi
    finished: dict[str, dict[str, Any]] = {}

    def openapi() -> dict[str, Any]:
        if "spec" not in finished:
            spec = build()
            _require_idempotency_keys(spec)
            _restore_nulls(spec)
            _add_webhook_examples(spec)
            _add_examples(spec)
            _drop_webhook_validation_answers(spec)
            _drop_unused_validation_schemas(spec)
            finished["spec"] = spec
        return finished["spec"]

    app.openapi = openapi  # type: ignore[method-assign]


# ---------------------------------------------------------------------------- webhooks

webhooks = APIRouter()

_DELIVERY: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Any 2xx within 10 s is a delivery. Anything else (or no answer) is retried with "
        "backoff for about three days; deduplicate by `webhook-id`."
    }
}
WebhookId = Annotated[
    str,
    Header(alias="webhook-id", description="The event id (`evt_…`); the same on every retry of the event"),
]
WebhookTimestamp = Annotated[
    str, Header(alias="webhook-timestamp", description="Unix seconds when this try was sent")
]
WebhookSignature = Annotated[
    str,
    Header(
        alias="webhook-signature",
        description='`v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` with the client\'s webhook '
        "secret (Standard Webhooks); space-separated when two secrets sign during a rotation",
    ),
]


def _event(type_: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"id": ex.EVENT["id"], "type": type_, "created_at": ex.EVENT["created_at"], "data": data}


# The example payload of each event (set on the webhook after FastAPI built the document, so that
# its nulls survive, see _restore_nulls).
WEBHOOK_EXAMPLES: dict[str, dict[str, Any]] = {}


def _payment_event_body(type_: str, status: str, **changes: Any) -> Any:
    WEBHOOK_EXAMPLES[type_] = _event(type_, {**ex.PAYMENT, "status": status, **changes})
    return Body()


def _add_webhook_examples(spec: dict[str, Any]) -> None:
    for type_, example in WEBHOOK_EXAMPLES.items():
        operation = spec.get("webhooks", {}).get(type_, {}).get("post", {})
        media = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if media is not None:
            media["example"] = example


_UNPAID = {
    "paid_at": None,
    "attempts": [{**ex.ATTEMPT, "status": "pending", "provider_transaction_id": None}],
}


@webhooks.post(
    "payment.succeeded", summary="A payment was paid", responses=_DELIVERY, response_class=Response
)
def payment_succeeded(
    event: Annotated[PaymentEvent, _payment_event_body("payment.succeeded", "succeeded")],
    webhook_id: WebhookId,
    webhook_timestamp: WebhookTimestamp,
    webhook_signature: WebhookSignature,
) -> None:
    """The citizen paid: `data` is the payment, `status` `succeeded`. Mark the dossier's fee paid."""


@webhooks.post(
    "payment.expired", summary="A payment expired unpaid", responses=_DELIVERY, response_class=Response
)
def payment_expired(
    event: Annotated[PaymentEvent, _payment_event_body("payment.expired", "expired", **_UNPAID)],
    webhook_id: WebhookId,
    webhook_timestamp: WebhookTimestamp,
    webhook_signature: WebhookSignature,
) -> None:
    """`expires_at` passed without a payment; the bill can be created again."""


@webhooks.post(
    "payment.cancelled", summary="A payment was cancelled", responses=_DELIVERY, response_class=Response
)
def payment_cancelled(
    event: Annotated[PaymentEvent, _payment_event_body("payment.cancelled", "cancelled", **_UNPAID)],
    webhook_id: WebhookId,
    webhook_timestamp: WebhookTimestamp,
    webhook_signature: WebhookSignature,
) -> None:
    """The payment was cancelled through the API (or by the citizen at the gateway) before it was paid."""


@webhooks.post(
    "payment.refunded", summary="A payment was refunded in full", responses=_DELIVERY, response_class=Response
)
def payment_refunded(
    event: Annotated[
        PaymentEvent, _payment_event_body("payment.refunded", "refunded", refunded_amount=50000)
    ],
    webhook_id: WebhookId,
    webhook_timestamp: WebhookTimestamp,
    webhook_signature: WebhookSignature,
) -> None:
    """All of the payment's money went back to the payer (`refunded_amount` = `amount`)."""


def _duplicate_paid_body() -> Any:
    data = {**ex.PAYMENT, "duplicate_transaction_id": "FT24326000456", "amount": 50000}
    WEBHOOK_EXAMPLES["payment.duplicate_paid"] = _event("payment.duplicate_paid", data)
    return Body()


@webhooks.post(
    "payment.duplicate_paid", summary="A bill was paid twice", responses=_DELIVERY, response_class=Response
)
def payment_duplicate_paid(
    event: Annotated[
        DuplicatePaidEvent,
        _duplicate_paid_body(),
    ],
    webhook_id: WebhookId,
    webhook_timestamp: WebhookTimestamp,
    webhook_signature: WebhookSignature,
) -> None:
    """The citizen paid an already paid bill again. The extra money is refunded automatically (a
    `refund.succeeded` or `refund.failed` follows); nothing changes for the dossier."""


def _refund_body(type_: str, **changes: Any) -> Any:
    WEBHOOK_EXAMPLES[type_] = _event(type_, {**ex.REFUND, **changes})
    return Body()


@webhooks.post(
    "refund.succeeded", summary="A refund was paid out", responses=_DELIVERY, response_class=Response
)
def refund_succeeded(
    event: Annotated[RefundEvent, _refund_body("refund.succeeded")],
    webhook_id: WebhookId,
    webhook_timestamp: WebhookTimestamp,
    webhook_signature: WebhookSignature,
) -> None:
    """The money went back to the payer: `data` is the refund with the payment's amounts."""


@webhooks.post("refund.failed", summary="A refund failed", responses=_DELIVERY, response_class=Response)
def refund_failed(
    event: Annotated[
        RefundEvent,
        _refund_body(
            "refund.failed",
            status="failed",
            provider_refund_id=None,
            failure_code="94",
            failure_message="Giao dịch hoàn trả bị từ chối",
            payment={"status": "succeeded", "amount": 50000, "refunded_amount": 0},
        ),
    ],
    webhook_id: WebhookId,
    webhook_timestamp: WebhookTimestamp,
    webhook_signature: WebhookSignature,
) -> None:
    """The gateway refused the refund (`failure_code`, `failure_message`); the payment is unchanged."""
