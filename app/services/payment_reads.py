"""The payment resource in one statement (PostgreSQL): the payment with its agency's code and
path, its items (with revenue-type names, by position) and its attempts (by creation), read as
one row by plain asyncpg and rendered by :func:`payment_views.payment_resource` — the same code
as the ORM path, so the bytes are the same.

Why: through the ORM the resource costs three queries and most of a GET's CPU. Here it is one
round trip and no ORM. Timestamps come back from asyncpg as aware UTC datetimes and are
formatted by Python (never by PostgreSQL, whose JSON timestamp format differs); JSONB columns
are read as top-level columns (decoded with PostgreSQL's key order, as through the ORM).

Two ways to run it: :func:`fetch_rows` on any asyncpg connection (the raw pool outside a
transaction, or an ORM session's own connection inside one, so uncommitted writes of that
transaction are seen).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from app.services.payment_views import hosted_checkout_url, payment_resource


@dataclass(slots=True)
class PaymentRow:
    id: str
    status: str
    dossier_code: str
    bill_code: str | None
    procedure_code: str | None
    description: str | None
    amount: int
    currency: str
    payer: dict[str, Any]
    provider: str | None
    return_url: str | None
    channel: str | None
    offline: dict[str, Any] | None
    refunded_amount: int
    metadata_: dict[str, Any]
    expires_at: datetime
    paid_at: datetime | None
    created_at: datetime
    updated_at: datetime
    checkout_token: str
    client_id: str
    succeeded_attempt_id: str | None

    @classmethod
    def from_values(cls, values: dict[str, Any]) -> PaymentRow:
        """From a payment's column values by attribute name (extra ones ignored)."""
        return cls(**{f.name: values[f.name] for f in fields(cls)})


@dataclass(slots=True)
class ItemRow:
    revenue_type_code: str
    revenue_type_name: str | None
    amount: int
    description: str | None


@dataclass(slots=True)
class AttemptRow:
    id: str
    provider: str
    reference: str
    status: str
    provider_transaction_id: str | None
    checkout_url: str | None
    qr_payload: str | None
    failure_code: str | None
    duplicate_paid: bool
    late: bool
    created_at: datetime
    amount: int
    provider_account_id: str | None

    @classmethod
    def from_values(cls, values: dict[str, Any]) -> AttemptRow:
        """From an attempt's column values by attribute name (extra ones ignored)."""
        return cls(**{f.name: values[f.name] for f in fields(cls)})


@dataclass(slots=True)
class PaymentRows:
    """Everything the payment resource is rendered from."""

    payment: PaymentRow
    agency_code: str
    agency_path: str
    items: list[ItemRow]
    attempts: list[AttemptRow]

    def render(self, base_url: str) -> dict[str, Any]:
        return payment_resource(
            self.payment,
            self.agency_code,
            [(item, item.revenue_type_name) for item in self.items],
            self.attempts,
            hosted_checkout_url(base_url, self.payment.checkout_token),
        )


# Column lists shared with the callback fast path (callbacks.py reads the same rows).
PAYMENT_COLUMNS = (
    "p.id, p.status, p.dossier_code, p.bill_code, p.procedure_code, p.description, p.amount, "
    "p.currency, p.payer, p.provider, p.return_url, p.channel, p.offline, p.refunded_amount, "
    "p.metadata, p.expires_at, p.paid_at, p.created_at, p.updated_at, p.checkout_token, "
    "p.client_id, p.succeeded_attempt_id"
)
N_PAYMENT_COLUMNS = 22
ITEMS_ARRAY = (
    "ARRAY(SELECT ROW(i.revenue_type_code, r.name, i.amount, i.description) "
    "FROM payment_items i JOIN revenue_types r ON r.id = i.revenue_type_id "
    "WHERE i.payment_id = p.id ORDER BY i.position)"
)
ATTEMPTS_ARRAY = (
    "ARRAY(SELECT ROW(t.id, t.provider, t.reference, t.status, t.provider_transaction_id, "
    "t.checkout_url, t.qr_payload, t.failure_code, t.duplicate_paid, t.late, t.created_at, t.amount, "
    "t.provider_account_id) "
    "FROM attempts t WHERE t.payment_id = p.id ORDER BY t.created_at, t.id)"
)
# payment columns, then agency code and path, then items, then attempts.
SELECT_RESOURCE = f"{PAYMENT_COLUMNS}, g.code, g.path, {ITEMS_ARRAY}, {ATTEMPTS_ARRAY}"

_BY_ID = f"SELECT {SELECT_RESOURCE} FROM payments p JOIN agencies g ON g.id = p.agency_id WHERE p.id = $1"  # noqa: S608 (constants)


def rows_from_record(record: Any, start: int = 0) -> PaymentRows:
    """Build :class:`PaymentRows` from a record holding ``SELECT_RESOURCE`` from column ``start``."""
    values = tuple(record.values())[start : start + N_PAYMENT_COLUMNS + 4]
    payment = PaymentRow(*values[:N_PAYMENT_COLUMNS])
    code, path, items, attempts = values[N_PAYMENT_COLUMNS:]
    return PaymentRows(
        payment,
        code,
        path,
        [ItemRow(*item) for item in items],
        [AttemptRow(*attempt) for attempt in attempts],
    )


async def fetch_rows(conn: Any, payment_id: str) -> PaymentRows | None:
    """One statement on an asyncpg connection (or pool)."""
    record = await conn.fetchrow(_BY_ID, payment_id)
    return None if record is None else rows_from_record(record)


async def session_driver_connection(session: AsyncSession) -> asyncpg.Connection | None:
    """The asyncpg connection under an ORM session on PostgreSQL (None elsewhere): statements
    on it run in the session's transaction, so they see its uncommitted writes."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver: asyncpg.Connection = raw.driver_connection
    return driver


async def visible_resource(
    conn: Any, payment_id: str, base_url: str, visible: Callable[[str], bool]
) -> dict[str, Any] | None:
    """The payment resource, or None when the payment is missing or its agency path is not
    ``visible`` (a scope check on the same row: no extra round trip)."""
    rows = await fetch_rows(conn, payment_id)
    if rows is None or not visible(rows.agency_path):
        return None
    return rows.render(base_url)
