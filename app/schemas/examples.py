"""Example documents for the OpenAPI description: one realistic value per resource, reused by the
request/response models, their list pages and the webhook payloads, so the examples agree."""

from __future__ import annotations

from typing import Any

ATTEMPT: dict[str, Any] = {
    "id": "att_01JD3Z5KQ0M5N6P7Q8R9S0T1V2",
    "provider": "vnpay",
    "reference": "PB7K2M9Q4X8WZ3TA",
    "status": "succeeded",
    "provider_transaction_id": "14638290",
    "checkout_url": "https://sandbox.vnpayment.vn/paymentv2/vpcpay.html?vnp_Amount=5000000&…",
    "qr_payload": None,
    "failure_code": None,
    "duplicate_paid": False,
    "late": False,
    "created_at": "2026-11-21T02:55:03.120000Z",
}

PAYMENT: dict[str, Any] = {
    "id": "pay_01JD3Z5KPZ4W3X2Y1Z0A9B8C7D",
    "status": "succeeded",
    "agency_code": "000.00.31.H56",
    "dossier_code": "000.00.31.H56-241121-0001",
    "bill_code": None,
    "procedure_code": "1.001234",
    "description": "Lệ phí hộ tịch",
    "amount": 50000,
    "currency": "VND",
    "items": [
        {
            "revenue_type_code": "2771",
            "revenue_type_name": "Lệ phí hộ tịch",
            "amount": 50000,
            "description": "Cấp bản sao trích lục",
        }
    ],
    "payer": {"name": "Nguyễn Văn A", "id_number": "001099000001"},
    "provider": "vnpay",
    "checkout_url": "https://paybridge.example.gov.vn/checkout/Xq3…",
    "qr_payload": None,
    "return_url": "https://portal.example.gov.vn/ho-so/123",
    "channel": "online",
    "offline": None,
    "refunded_amount": 0,
    "metadata": {},
    "attempts": [ATTEMPT],
    "expires_at": "2026-11-21T03:10:00Z",
    "paid_at": "2026-11-21T02:57:41Z",
    "created_at": "2026-11-21T02:55:00Z",
    "updated_at": "2026-11-21T02:57:41Z",
}

REFUND: dict[str, Any] = {
    "id": "rfd_01JD41A2B3C4D5E6F7G8H9J0K1",
    "payment_id": PAYMENT["id"],
    "attempt_id": ATTEMPT["id"],
    "status": "succeeded",
    "amount": 20000,
    "currency": "VND",
    "reason": "Hồ sơ không đủ điều kiện giải quyết",
    "origin": "client",
    "method": "gateway",
    "provider": "vnpay",
    "reference": "RF4N8P2Q6S1T5V9W",
    "provider_refund_id": "14639001",
    "failure_code": None,
    "failure_message": None,
    "operator_note": None,
    "payment": {"status": "partially_refunded", "amount": 50000, "refunded_amount": 20000},
    "created_at": "2026-11-22T01:00:00+00:00",
    "updated_at": "2026-11-22T01:00:02+00:00",
    "completed_at": "2026-11-22T01:00:02+00:00",
}

KEY: dict[str, Any] = {
    "id": 7,
    "prefix": "pbk_Xq3f",
    "created_at": "2026-11-01T00:00:00Z",
    "expires_at": None,
}

CLIENT: dict[str, Any] = {
    "id": "cli_01JD2A3B4C5D6E7F8G9H0J1K2M",
    "name": "Hệ thống một cửa tỉnh Đồng Nai",
    "agency_codes": ["000.00.00.H56"],
    "webhook_url": "https://motcua.dongnai.gov.vn/paybridge/webhook",
    "allowed_hosts": ["motcua.dongnai.gov.vn"],
    "enabled": True,
    "keys": [KEY],
    "created_at": "2026-11-01T00:00:00Z",
    "updated_at": "2026-11-01T00:00:00Z",
}

TARGET: dict[str, Any] = {"agency_code": "000.00.31.H56", "year": 2026, "online_payment_rate": 0.3}

BENEFICIARY: dict[str, Any] = {
    "id": 3,
    "agency_code": "000.00.00.H56",
    "revenue_type_code": None,
    "treasury_code": "0011",
    "account_number": "7111",
    "bank_bin": "970436",
    "account_name": "Kho bạc Nhà nước Đồng Nai",
}

PROVIDER: dict[str, Any] = {
    "provider": "vnpay",
    "display_name": "VNPay",
    "min_amount": 5000,
    "max_amount": 999999999,
    "capabilities": ["redirect", "query", "refund"],
}

PROVIDER_ACCOUNT: dict[str, Any] = {
    "id": "pa_01JD2B3C4D5E6F7G8H9J0K1M2N",
    "provider": "vnpay",
    "agency_code": "000.00.31.H56",
    "callback_url": "https://paybridge.example.gov.vn/v1/callbacks/vnpay/pa_01JD2B3C4D5E6F7G8H9J0K1M2N",
    "return_url": "https://paybridge.example.gov.vn/v1/returns/vnpay/pa_01JD2B3C4D5E6F7G8H9J0K1M2N",
    "settings": {"payment_url": "https://sandbox.vnpayment.vn/paymentv2/vpcpay.html"},
    "enabled": True,
}

EVENT: dict[str, Any] = {
    "id": "evt_01JD3Z6Q7W8X9Y0Z1A2B3C4D5E",
    "type": "payment.succeeded",
    "created_at": "2026-11-21T02:57:41+00:00",
    "data": PAYMENT,
}

DELIVERY: dict[str, Any] = {
    "id": 41,
    "event_id": EVENT["id"],
    "event_type": "payment.succeeded",
    "client_id": CLIENT["id"],
    "status": "pending",
    "attempts": 3,
    "next_attempt_at": "2026-11-21T03:05:00Z",
    "last_status_code": 502,
    "last_error": "HTTP 502",
    "created_at": "2026-11-21T02:57:41Z",
    "delivered_at": None,
}

TRY: dict[str, Any] = {
    "attempted_at": "2026-11-21T02:58:11Z",
    "status_code": 502,
    "latency_ms": 184,
    "error": "HTTP 502",
    "response_body": "Bad Gateway",
}

RECONCILIATION_ITEM: dict[str, Any] = {
    "status": "amount_mismatch",
    "line_number": 14,
    "reference": "PB7K2M9Q4X8WZ3TA",
    "provider_transaction_id": "14638290",
    "their_amount": 55000,
    "our_amount": 50000,
    "their_status": "00",
    "our_status": "succeeded",
    "attempt_id": ATTEMPT["id"],
    "payment_id": PAYMENT["id"],
    "detail": "the file says 55000 VND, we recorded 50000 VND",
    "action": None,
}

RECONCILIATION_RUN: dict[str, Any] = {
    "id": "rec_01JD5A6B7C8D9E0F1G2H3J4K5M",
    "provider": "vnpay",
    "account_id": PROVIDER_ACCOUNT["id"],
    "date": "2026-11-21",
    "file_sha256": "9f2c4e…",
    "filename": "vnpay-2026-11-21.csv",
    "row_count": 128,
    "counts": {
        "matched": 126,
        "missing_here": 0,
        "missing_there": 1,
        "amount_mismatch": 1,
        "status_mismatch": 0,
    },
    "created_at": "2026-11-22T01:30:00Z",
}


REVENUE_TYPE: dict[str, Any] = {
    "id": 15,
    "code": "2771",
    "version": 1,
    "group_code": "2750",
    "name": "Lệ phí hộ tịch",
    "kind": "le_phi",
    "chapter": None,
    "valid_from": "2017-01-01",
    "valid_to": None,
    "is_current": True,
}

BANK: dict[str, Any] = {
    "bin": "970436",
    "sbv_code": "203",
    "short_name": "Vietcombank",
    "name": "Ngân hàng TMCP Ngoại thương Việt Nam",
}

AGENCY: dict[str, Any] = {
    "code": "000.00.31.H56",
    "name": "Sở Tư pháp",
    "level": "department",
    "parent_code": "000.00.00.H56",
    "path": "/000.00.00.H56/000.00.31.H56/",
    "created_at": "2026-01-05T00:00:00Z",
    "updated_at": "2026-01-05T00:00:00Z",
}


def page(item: dict[str, Any], cursor: str | None = "eyJpZCI6IjAwMSJ9") -> dict[str, Any]:
    """A list page's example: one item and the cursor of the next page."""
    return {"data": [item], "next_cursor": cursor}
