"""Bench data: configured through the operator API like a real deployment, then multiplied in SQL.

The client, agency and gateway accounts are made with ``/admin/v1``; one real payment per kind is
made with ``/v1/payments``; the thousands of pending VNPay attempts the callback scenario pays are
copies of that real one (same columns, new ids and references), each with its own IPN signed by
``app.adapters.vnpay`` exactly as VNPay would sign it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx

from app.adapters.base import gmt7
from app.adapters.vnpay import signed_query

AGENCY = "000.00.00.B01"
ADMIN_TOKEN = "bench-admin-token-0123456789abcdef"
TMN_CODE = "BENCH001"


@dataclass(frozen=True)
class Setup:
    api_key: str
    client_id: str
    vnpay_account: str
    vnpay_secret: str
    vnpay_template: str


def _ok(response: httpx.Response) -> dict[str, object]:
    if response.status_code >= 300:
        raise SystemExit(
            f"bench setup: {response.request.method} {response.request.url.path} → "
            f"{response.status_code} {response.text[:300]}"
        )
    data: dict[str, object] = response.json()
    return data


def configure(base_url: str, receiver_url: str) -> Setup:
    """Agency, client (webhooks to the local receiver), a sandbox and a VNPay account, one VNPay payment."""
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with httpx.Client(base_url=base_url, timeout=30) as http:
        _ok(
            http.post(
                "/admin/v1/agencies",
                headers=admin,
                json={"code": AGENCY, "name": "Tỉnh Bench", "level": "province"},
            )
        )
        client = _ok(
            http.post(
                "/admin/v1/clients",
                headers=admin,
                json={"name": "Bench portal", "agency_codes": [AGENCY], "webhook_url": receiver_url},
            )
        )
        _ok(
            http.post(
                "/admin/v1/provider-accounts",
                headers=admin,
                json={"agency_code": AGENCY, "provider": "sandbox", "credentials": {}},
            )
        )
        secret = secrets.token_hex(16)
        vnpay = _ok(
            http.post(
                "/admin/v1/provider-accounts",
                headers=admin,
                json={
                    "agency_code": AGENCY,
                    "provider": "vnpay",
                    "credentials": {"tmn_code": TMN_CODE, "hash_secret": secret},
                },
            )
        )
        key = str(client["api_key"])
        template = _ok(
            http.post(
                "/v1/payments",
                headers={"Authorization": f"Bearer {key}", "Idempotency-Key": "bench-template-vnpay"},
                json={
                    "agency_code": AGENCY,
                    "dossier_code": "BENCH-TEMPLATE-VNPAY",
                    "payer": {"name": "Nguyen Van B"},
                    "items": [
                        {"revenue_type_code": "2771", "amount": 50000},
                        {"revenue_type_code": "2716", "amount": 20000},
                    ],
                    "provider": "vnpay",
                },
            )
        )
    return Setup(key, str(client["id"]), str(vnpay["id"]), secret, str(template["id"]))


PAYMENT_COLUMNS = (
    "client_id, agency_id, bill_code, bill_key, procedure_code, description, payer, amount, currency, "
    "status, provider, return_url, metadata, channel, offline, exempt, refunded_amount, expires_at"
)
ATTEMPT_COLUMNS = (
    "provider, provider_account_id, status, amount, checkout_url, qr_payload, wire, raw_request, "
    "raw_response, duplicate_paid, late, next_check_at, check_count"
)


async def clone_vnpay_attempts(
    dsn: str, template_payment: str, tag: str, count: int
) -> list[tuple[str, int]]:
    """``count`` pending VNPay payments+attempts copied from the template; returns (reference, amount)."""
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            params = (template_payment, count, tag)
            await conn.execute(
                "INSERT INTO payments (id, dossier_code, checkout_token, created_at, updated_at, "
                f"{PAYMENT_COLUMNS}) "
                "SELECT 'pay_' || $3 || lpad(g::text, 8, '0'), 'IPN-' || $3 || g, "
                "md5($3 || g || random()::text), "
                f"now(), now(), {PAYMENT_COLUMNS} FROM payments, generate_series(1, $2::int) g WHERE id = $1",
                *params,
            )
            await conn.execute(
                "INSERT INTO payment_items (payment_id, position, revenue_type_id, revenue_type_code, "
                "amount, description) SELECT 'pay_' || $3 || lpad(g::text, 8, '0'), position, "
                "revenue_type_id, "
                "revenue_type_code, amount, description FROM payment_items, generate_series(1, $2::int) g "
                "WHERE payment_id = $1",
                *params,
            )
            await conn.execute(
                "INSERT INTO attempts (id, payment_id, reference, created_at, updated_at, "
                f"{ATTEMPT_COLUMNS}) "
                f"SELECT 'att_' || $3 || lpad(g::text, 8, '0'), 'pay_' || $3 || lpad(g::text, 8, '0'), "
                f"'BN' || upper($3) || lpad(g::text, 8, '0'), now(), now(), {ATTEMPT_COLUMNS} "
                f"FROM attempts, generate_series(1, $2::int) g WHERE payment_id = $1",
                *params,
            )
        # As pgbench does before a run: a bulk load's autovacuum/analyze and first-read hint-bit
        # writes belong to the load, not to the measured window that follows it.
        await conn.execute("VACUUM ANALYZE payments, payment_items, attempts")
        rows = await conn.fetch(
            "SELECT reference, amount FROM attempts WHERE id LIKE 'att_' || $1 || '%' ORDER BY id", tag
        )
    finally:
        await conn.close()
    return [(r["reference"], r["amount"]) for r in rows]


def write_ipn_paths(path: Path, setup: Setup, attempts: list[tuple[str, int]], first_txn: int) -> None:
    """One signed VNPay IPN (paid) per attempt, as the request path wrk sends."""
    pay_date = gmt7(datetime.now(UTC))
    lines = []
    for i, (reference, amount) in enumerate(attempts):
        txn = str(first_txn + i)
        params = {
            "vnp_Amount": str(amount * 100),
            "vnp_BankCode": "NCB",
            "vnp_BankTranNo": f"VNP{txn}",
            "vnp_CardType": "ATM",
            "vnp_OrderInfo": f"Thanh toan {reference}",
            "vnp_PayDate": pay_date,
            "vnp_ResponseCode": "00",
            "vnp_TmnCode": TMN_CODE,
            "vnp_TransactionNo": txn,
            "vnp_TransactionStatus": "00",
            "vnp_TxnRef": reference,
        }
        lines.append(f"/v1/callbacks/vnpay/{setup.vnpay_account}?{signed_query(params, setup.vnpay_secret)}")
    path.write_text("\n".join(lines) + "\n")


async def payment_ids(dsn: str, prefix: str, limit: int) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT id FROM payments WHERE dossier_code LIKE $1 ORDER BY random() LIMIT $2",
            prefix + "%",
            limit,
        )
    finally:
        await conn.close()
    return [r["id"] for r in rows]


async def fill_outbox(dsn: str, client_id: str, total: int) -> int:
    """Exactly ``total`` due deliveries: those the callbacks made, topped up with copies of a real
    ``payment.succeeded`` event (extra ones are pushed out of the window). Returns the count due."""
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            due = await conn.fetchval("SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'")
            template = await conn.fetchval(
                "SELECT id FROM events WHERE type = 'payment.succeeded' AND client_id = $1 LIMIT 1", client_id
            )
            if template is None:
                raise SystemExit("bench: no payment.succeeded event to copy (did the callback scenario run?)")
            if due < total:
                await conn.execute(
                    "INSERT INTO events (id, type, client_id, payment_id, data, created_at) "
                    "SELECT 'evt_bench' || lpad(g::text, 8, '0'), type, client_id, payment_id, data, now() "
                    "FROM events, generate_series(1, $2::int) g WHERE id = $1",
                    template,
                    total - due,
                )
                await conn.execute(
                    "INSERT INTO webhook_deliveries (event_id, client_id, status, attempts, next_attempt_at, "
                    "created_at) SELECT id, client_id, 'pending', 0, now() - interval '1 second', now() "
                    "FROM events WHERE id LIKE 'evt_bench%'"
                )
            elif due > total:
                await conn.execute(
                    "UPDATE webhook_deliveries SET next_attempt_at = now() + interval '1 day' WHERE id IN "
                    "(SELECT id FROM webhook_deliveries WHERE status = 'pending' ORDER BY id DESC LIMIT $1)",
                    due - total,
                )
            await conn.execute(
                "UPDATE webhook_deliveries SET next_attempt_at = now() - interval '1 second' "
                "WHERE status = 'pending' AND next_attempt_at < now() + interval '1 hour'"
            )
            return int(
                await conn.fetchval(
                    "SELECT count(*) FROM webhook_deliveries "
                    "WHERE status = 'pending' AND next_attempt_at <= now()"
                )
            )
    finally:
        await conn.close()
