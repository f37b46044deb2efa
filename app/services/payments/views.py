"""The payment resource as the API shows it (responses, webhooks and the event feed alike),
rendered by one pure function from the one read type (``app.stores.payments.PaymentRows``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.exc import NoResultFound
from sqlalchemy.ext.asyncio import AsyncSession

from app.stores.payments import AttemptRow, PaymentRows, fetch_rows, session_driver_connection


def _ts(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def attempt_resource(attempt: AttemptRow) -> dict[str, Any]:
    return {
        "id": attempt.id,
        "provider": attempt.provider,
        "reference": attempt.reference,
        "status": attempt.status,
        "provider_transaction_id": attempt.provider_transaction_id,
        "checkout_url": attempt.checkout_url,
        "qr_payload": attempt.qr_payload,
        "failure_code": attempt.failure_code,
        "duplicate_paid": attempt.duplicate_paid,
        "late": attempt.late,
        "created_at": _ts(attempt.created_at),
    }


def payment_resource(rows: PaymentRows, base_url: str) -> dict[str, Any]:
    payment, attempts = rows.payment, rows.attempts
    latest = attempts[-1] if attempts else None
    if payment.status != "pending":
        checkout_url = None
    elif (
        payment.provider
        and latest is not None
        and latest.provider == payment.provider
        and latest.checkout_url
    ):
        checkout_url = latest.checkout_url
    else:
        checkout_url = hosted_checkout_url(base_url, payment.checkout_token)
    qr = latest.qr_payload if latest is not None and payment.status == "pending" else None
    return {
        "id": payment.id,
        "status": payment.status,
        "agency_code": rows.agency_code,
        "dossier_code": payment.dossier_code,
        "bill_code": payment.bill_code,
        "procedure_code": payment.procedure_code,
        "description": payment.description,
        "amount": payment.amount,
        "currency": payment.currency,
        "items": [
            {
                "revenue_type_code": item.revenue_type_code,
                "revenue_type_name": item.revenue_type_name,
                "amount": item.amount,
                "description": item.description,
            }
            for item in rows.items
        ],
        "payer": payment.payer,
        "provider": payment.provider,
        "checkout_url": checkout_url,
        "qr_payload": qr,
        "return_url": payment.return_url,
        "channel": payment.channel,
        "offline": payment.offline,
        "refunded_amount": payment.refunded_amount,
        "metadata": payment.metadata_,
        "attempts": [attempt_resource(a) for a in attempts],
        "expires_at": _ts(payment.expires_at),
        "paid_at": _ts(payment.paid_at),
        "created_at": _ts(payment.created_at),
        "updated_at": _ts(payment.updated_at),
    }


async def visible_resource(
    conn: Any, payment_id: str, base_url: str, visible: Callable[[str], bool]
) -> dict[str, Any] | None:
    """The payment resource read on an asyncpg connection or pool, or None when the payment is
    missing or its agency path is not ``visible`` (a scope check on the same row: no extra round
    trip)."""
    rows = await fetch_rows(conn, payment_id)
    if rows is None or not visible(rows.agency_path):
        return None
    return payment_resource(rows, base_url)


async def load_payment_resource(session: AsyncSession, payment_id: str, base_url: str) -> dict[str, Any]:
    """Fresh from the database, inside the session's transaction (its uncommitted writes seen)."""
    resource = await load_visible_payment_resource(session, payment_id, base_url, lambda _path: True)
    if resource is None:
        raise NoResultFound(f"no payment {payment_id}")
    return resource


async def load_visible_payment_resource(
    session: AsyncSession, payment_id: str, base_url: str, visible: Callable[[str], bool]
) -> dict[str, Any] | None:
    """Like :func:`load_payment_resource`, or None when the payment is missing or its agency path
    is not ``visible``: one statement on the session's own connection."""
    driver = await session_driver_connection(session)
    return await visible_resource(driver, payment_id, base_url, visible)


def hosted_checkout_url(base_url: str, token: str) -> str:
    return f"{base_url}/checkout/{token}"


def renderer(base_url: str) -> Any:
    async def render(session: AsyncSession, payment_id: str) -> dict[str, Any]:
        return await load_payment_resource(session, payment_id, base_url)

    return render
