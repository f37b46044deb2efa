"""Payments and their attempts: the one read type of a payment and the statement that reads it.

A payment is read as :class:`PaymentRows` — the payment, its agency's code and path, its items
(with revenue-type names, by position) and its attempts (by creation) — in one statement on any
asyncpg connection (the raw pool outside a transaction, or an ORM session's own connection inside
one, so that uncommitted writes of that transaction are seen). GET, events, webhooks, receipts and
create responses are all rendered from it (``app.services.payment_views.payment_resource``).

The column lists are built from the dataclasses' fields and the models' column names, so a field
added to :class:`PaymentRow` or :class:`AttemptRow` is read without further edits. Timestamps come
back from asyncpg as aware UTC datetimes (formatted by Python, never by PostgreSQL, whose JSON
timestamp format differs); JSONB columns are read as top-level columns (decoded with PostgreSQL's
key order).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Self

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Attempt, Payment


class _FromValues:
    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> Self:
        """From column values by attribute name (extra ones ignored)."""
        return cls(**{f.name: values[f.name] for f in fields(cls)})  # type: ignore[arg-type]

    @classmethod
    def from_object(cls, obj: object) -> Self:
        """From an object with the same attribute names (an ORM row just written)."""
        return cls(**{f.name: getattr(obj, f.name) for f in fields(cls)})  # type: ignore[arg-type]


@dataclass(slots=True)
class PaymentRow(_FromValues):
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


@dataclass(slots=True)
class ItemRow:
    revenue_type_code: str
    revenue_type_name: str | None
    amount: int
    description: str | None


@dataclass(slots=True)
class AttemptRow(_FromValues):
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


@dataclass(slots=True)
class PaymentRows:
    """A payment as read: everything its resource is rendered from."""

    payment: PaymentRow
    agency_code: str
    agency_path: str
    items: list[ItemRow]
    attempts: list[AttemptRow]


def _columns(model: type[Any], row: type[Any], alias: str) -> str:
    attrs = model.__mapper__.column_attrs
    return ", ".join(f"{alias}.{attrs[f.name].columns[0].name}" for f in fields(row))


PAYMENT_COLUMNS = _columns(Payment, PaymentRow, "p")
N_PAYMENT_COLUMNS = len(fields(PaymentRow))
assert [f.name for f in fields(ItemRow)] == [
    "revenue_type_code",
    "revenue_type_name",
    "amount",
    "description",
]
ITEMS_ARRAY = (
    "ARRAY(SELECT ROW(i.revenue_type_code, r.name, i.amount, i.description) "
    "FROM payment_items i JOIN revenue_types r ON r.id = i.revenue_type_id "
    "WHERE i.payment_id = p.id ORDER BY i.position)"
)
ATTEMPTS_ARRAY = (
    f"ARRAY(SELECT ROW({_columns(Attempt, AttemptRow, 't')}) "  # noqa: S608 (from the models)
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


async def session_driver_connection(session: AsyncSession) -> asyncpg.Connection:
    """The asyncpg connection under an ORM session: statements on it run in the session's
    transaction, so they see its uncommitted writes."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver: asyncpg.Connection = raw.driver_connection
    return driver
