"""Payments and their attempts: the one read type of a payment and the statement that reads it.

A payment is read as :class:`PaymentRows` — the payment, its agency's code and path, its items
(with revenue-type names, by position) and its attempts (by creation) — in one statement on any
asyncpg connection (the raw pool outside a transaction, or an ORM session's own connection inside
one, so that uncommitted writes of that transaction are seen). GET, events, webhooks, receipts and
create responses are all rendered from it (``app.services.payments.views.payment_resource``).

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
import orjson
from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.states import ATTEMPT_OPEN, BLOCKING, AttemptStatus, IdempotencyState, PaymentStatus
from app.models import (
    Agency,
    Attempt,
    IdempotencyRecord,
    Payment,
    PaymentItem,
    ProviderAccount,
    RevenueType,
)
from app.stores.sql import compile_once, insert_select, params_for


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


# --- Worker reads and leases (ORM session) ----------------------------------------------------


async def overdue_pending(session: AsyncSession, now: datetime, limit: int) -> list[str]:
    """Pending payments past their deadline, the oldest deadline first."""
    stmt = (
        select(Payment.id)
        .where(Payment.status == PaymentStatus.pending, Payment.expires_at <= now)
        .order_by(Payment.expires_at)
        .limit(limit)
    )
    return list((await session.scalars(stmt)).all())


async def attempt_ids(session: AsyncSession, payment_id: str, statuses: tuple[str, ...]) -> list[str]:
    """The payment's attempts in ``statuses``."""
    stmt = select(Attempt.id).where(Attempt.payment_id == payment_id, Attempt.status.in_(statuses))
    return list((await session.scalars(stmt)).all())


async def expires_at(session: AsyncSession, payment_id: str) -> datetime | None:
    value: datetime | None = await session.scalar(select(Payment.expires_at).where(Payment.id == payment_id))
    return value


async def client_of(session: AsyncSession, payment_id: str) -> str:
    value: str = (
        await session.execute(select(Payment.client_id).where(Payment.id == payment_id))
    ).scalar_one()
    return value


async def lease_due_attempts(session: AsyncSession, now: datetime, until: datetime, limit: int) -> list[str]:
    """Lease (``FOR UPDATE SKIP LOCKED``) open attempts due for a status query, until ``until``."""
    stmt = (
        select(Attempt.id)
        .where(Attempt.status.in_(ATTEMPT_OPEN), Attempt.next_check_at <= now)
        .order_by(Attempt.next_check_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list((await session.scalars(stmt)).all())
    if ids:
        await session.execute(update(Attempt).where(Attempt.id.in_(ids)).values(next_check_at=until))
    return ids


async def reschedule_check(
    session: AsyncSession, attempt_id: str, check_count: int, next_check_at: datetime | None
) -> None:
    """Count a status query and set the next one (while the attempt is still open)."""
    await session.execute(
        update(Attempt)
        .where(Attempt.id == attempt_id, Attempt.status.in_(ATTEMPT_OPEN))
        .values(check_count=check_count, next_check_at=next_check_at)
    )


async def with_agency_path(session: AsyncSession, payment_id: str) -> Any:
    """(Payment, its agency's path), or None."""
    return (
        await session.execute(
            select(Payment, Agency.path)
            .join(Agency, Agency.id == Payment.agency_id)
            .where(Payment.id == payment_id)
        )
    ).first()


async def status_of(session: AsyncSession, payment_id: str) -> str | None:
    status: str | None = await session.scalar(select(Payment.status).where(Payment.id == payment_id))
    return status


async def agency_of(session: AsyncSession, payment: Payment) -> Agency:
    agency: Agency = (
        await session.execute(select(Agency).where(Agency.id == payment.agency_id))
    ).scalar_one()
    return agency


async def by_checkout_token(session: AsyncSession, token: str) -> Any:
    """(payment id, agency name, agency path) of a hosted checkout link, or None."""
    return (
        await session.execute(
            select(Payment.id, Agency.name, Agency.path)
            .join(Agency, Agency.id == Payment.agency_id)
            .where(Payment.checkout_token == token)
        )
    ).first()


@dataclass(frozen=True)
class ListFilter:
    agency_paths: tuple[str, ...]
    dossier_code: str | None
    status: str | None
    created_from: datetime | None
    created_to: datetime | None
    after: tuple[datetime, str] | None  # the cursor: (created_at, id) of the last row seen


async def page_ids(session: AsyncSession, f: ListFilter, limit: int) -> list[Any]:
    """(id, created_at) of the payments under ``f``, newest first, at most ``limit``."""
    stmt = select(Payment.id, Payment.created_at).join(Agency, Agency.id == Payment.agency_id)
    stmt = stmt.where(or_(*[Agency.path.startswith(p, autoescape=True) for p in f.agency_paths]))
    if f.dossier_code:
        stmt = stmt.where(Payment.dossier_code == f.dossier_code)
    if f.status:
        stmt = stmt.where(Payment.status == f.status)
    if f.created_from:
        stmt = stmt.where(Payment.created_at >= f.created_from)
    if f.created_to:
        stmt = stmt.where(Payment.created_at < f.created_to)
    if f.after:
        stamp, last_id = f.after
        stmt = stmt.where(
            or_(Payment.created_at < stamp, (Payment.created_at == stamp) & (Payment.id < last_id))
        )
    stmt = stmt.order_by(Payment.created_at.desc(), Payment.id.desc()).limit(limit)
    return list((await session.execute(stmt)).all())


async def by_dossier_in_subtree(session: AsyncSession, dossier_code: str, agency_path: str) -> list[Payment]:
    """The payments of a dossier at agencies under ``agency_path``, oldest first."""
    stmt = (
        select(Payment)
        .join(Agency, Agency.id == Payment.agency_id)
        .where(Payment.dossier_code == dossier_code, Agency.path.startswith(agency_path, autoescape=True))
        .order_by(Payment.created_at)
    )
    return list((await session.scalars(stmt)).all())


async def pending_attempt_at(session: AsyncSession, payment_id: str, account_id: str) -> Attempt | None:
    """The payment's pending attempt at this gateway account, or None."""
    attempt: Attempt | None = await session.scalar(
        select(Attempt).where(
            Attempt.payment_id == payment_id,
            Attempt.provider_account_id == account_id,
            Attempt.status == "pending",
        )
    )
    return attempt


async def save_attempt(session: AsyncSession, attempt: Attempt) -> None:
    """Write a new or changed attempt now (within the caller's transaction)."""
    session.add(attempt)
    await session.flush()


# --- Attempts and what a checkout request is built from (ORM session) -------------------------


def add_attempt(session: AsyncSession, values: Mapping[str, Any]) -> Attempt:
    """Add a new attempt with ``values`` (flushed with the caller's commit)."""
    attempt = Attempt(**values)
    session.add(attempt)
    return attempt


async def attempt_by_id(session: AsyncSession, attempt_id: str) -> Attempt:
    attempt: Attempt = (await session.execute(select(Attempt).where(Attempt.id == attempt_id))).scalar_one()
    return attempt


async def provider_account(session: AsyncSession, account_id: str | None) -> ProviderAccount | None:
    if account_id is None:
        return None
    return await session.get(ProviderAccount, account_id)


async def payment_and_agency(session: AsyncSession, payment_id: str) -> tuple[Payment, Agency]:
    """The payment and its agency."""
    row = (
        await session.execute(
            select(Payment, Agency)
            .join(Agency, Agency.id == Payment.agency_id)
            .where(Payment.id == payment_id)
        )
    ).one()
    return row.Payment, row.Agency


async def items_with_revenue_types(
    session: AsyncSession, payment_id: str
) -> list[tuple[PaymentItem, RevenueType]]:
    """The payment's items with their revenue-type versions, by position."""
    rows = (
        await session.execute(
            select(PaymentItem, RevenueType)
            .join(RevenueType, RevenueType.id == PaymentItem.revenue_type_id)
            .where(PaymentItem.payment_id == payment_id)
            .order_by(PaymentItem.position)
        )
    ).all()
    return [(row.PaymentItem, row.RevenueType) for row in rows]


# --- A new payment in one statement (raw asyncpg pool) ------------------------------------------

# The statement is written against the models (column names, required columns and JSONB casts come
# from them; every other column takes its database default) and compiled once for asyncpg.
NEW_PAYMENT_KEYS = (
    "id",
    "client_id",
    "agency_id",
    "dossier_code",
    "bill_code",
    "bill_key",
    "procedure_code",
    "description",
    "payer",
    "amount",
    "provider",
    "return_url",
    "metadata_",
    "checkout_token",
    "expires_at",
    "created_at",
    "updated_at",
)
NEW_ATTEMPT_KEYS = (
    "id",
    "payment_id",
    "provider",
    "provider_account_id",
    "reference",
    "status",
    "amount",
    "wire",
    "duplicate_paid",
    "late",
    "check_count",
    "next_check_at",
    "created_at",
    "updated_at",
    "provider_transaction_id",
    "checkout_url",
    "qr_payload",
    "raw_request",
    "raw_response",
)
NEW_ITEM_KEYS = ("position", "revenue_type_id", "revenue_type_code", "amount", "description")
_ITEMS = (
    "unnest(CAST(:item_position AS int[]), CAST(:item_revenue_type_id AS int[]), "
    "CAST(:item_revenue_type_code AS text[]), CAST(:item_amount AS bigint[]), "
    "CAST(:item_description AS text[])) "
    "AS u(position, revenue_type_id, revenue_type_code, amount, description)"
)
_PAYMENT_CTES = f"""
WITH guard AS (
    SELECT 1 AS ok
    WHERE (SELECT count(*) FROM revenue_types
           WHERE id = ANY(CAST(:revenue_type_ids AS int[])) AND is_current
             AND valid_from <= CAST(:today AS date)
             AND (valid_to IS NULL OR valid_to >= CAST(:today AS date)))
          = cardinality(CAST(:revenue_type_ids AS int[]))
      AND (CAST(:account_id AS text) IS NULL
           OR EXISTS (SELECT 1 FROM provider_accounts WHERE id = :account_id AND enabled))
{{claim}}    ), payment AS (
    {
    insert_select(
        Payment, params_for(Payment, NEW_PAYMENT_KEYS, "payment_"), source="FROM claim", returning="id"
    )
}
), items AS (
    {
    insert_select(
        PaymentItem,
        {"payment_id": "payment.id", **{k: f"u.{k}" for k in NEW_ITEM_KEYS}},
        source=f"FROM payment, {_ITEMS}",
    )
}
)"""  # noqa: S608 (built from constants and the models only)
_IDEMPOTENCY = IdempotencyRecord.__tablename__
_CLAIM_INSERT = f"""), claim AS (
    {
    insert_select(
        IdempotencyRecord,
        {
            "client_id": ":client_id",
            "scope": ":scope",
            "key": ":key",
            "request_hash": ":request_hash",
            "state": f"'{IdempotencyState.completed.value}'",
            "response_status": "201",
            "response_body": ":response_body",
            "resource_id": ":payment_id",
            "created_at": ":payment_created_at",
            "expires_at": ":key_expires_at",
        },
        source="FROM guard",
        returning="id",
    )
}
"""
# A claim already held (in progress): it names the payment, in the same statement.
_CLAIM_HELD = f"""), claim AS (
    UPDATE {_IDEMPOTENCY} SET {IdempotencyRecord.__table__.c.resource_id.name} = :payment_id FROM guard
    WHERE {_IDEMPOTENCY}.id = :record_id RETURNING {_IDEMPOTENCY}.id
"""  # noqa: S608 (built from constants and the models only)
_ATTEMPT = f""", attempt AS (
    {insert_select(Attempt, params_for(Attempt, NEW_ATTEMPT_KEYS, "attempt_"), source="FROM payment")}
)"""
_COUNT = "\nSELECT count(*) FROM payment"
# (claim held, with an attempt) -> the statement.
_STATEMENTS = {
    (held, with_attempt): compile_once(
        _PAYMENT_CTES.replace("{claim}", _CLAIM_HELD if held else _CLAIM_INSERT)
        + (_ATTEMPT if with_attempt else "")
        + _COUNT
    )
    for held in (False, True)
    for with_attempt in (False, True)
}


async def insert_new_payment(
    conn: Any, params: Mapping[str, Any], *, with_attempt: bool, claim_held: bool = False
) -> bool:
    """Write a new payment, its items, [its attempt] and its idempotency record in one statement
    on ``conn`` (the pool: one implicit transaction; or a session's driver connection: inside its
    transaction). The record is inserted ``completed`` with the response, or — ``claim_held``, with
    ``record_id`` — the claim in progress is made to name the payment. False: the guard did not
    hold (a revenue-type version or the account is no longer in force) and nothing was written.
    A unique violation (the key, the bill) raises ``asyncpg.UniqueViolationError``."""
    statement = _STATEMENTS[claim_held, with_attempt]
    return bool(await conn.fetchval(statement.sql, *statement.args(params)))


def _jsonb_params(model: type[Any], keys: tuple[str, ...], prefix: str) -> tuple[str, ...]:
    attrs = model.__mapper__.column_attrs
    return tuple(f"{prefix}{k}" for k in keys if isinstance(attrs[k].columns[0].type, JSONB))


_JSONB_PARAMS = _jsonb_params(Payment, NEW_PAYMENT_KEYS, "payment_") + _jsonb_params(
    Attempt, NEW_ATTEMPT_KEYS, "attempt_"
)


async def insert_new_payment_in(
    session: AsyncSession, params: Mapping[str, Any], *, with_attempt: bool
) -> bool:
    """:func:`insert_new_payment` inside ``session``'s transaction, for a claim already held
    (``record_id``). The session's driver connection takes JSONB values as JSON text."""
    conn = await session_driver_connection(session)
    as_text = {k: orjson.dumps(params[k]).decode() for k in _JSONB_PARAMS if k in params}
    return await insert_new_payment(conn, {**params, **as_text}, with_attempt=with_attempt, claim_held=True)


OPEN_BILL_CONSTRAINT = "uq_payments_open_bill"


# --- The general create's reads and writes (ORM session) ----------------------------------------


async def agency_by_code(session: AsyncSession, code: str) -> Agency | None:
    agency: Agency | None = await session.scalar(select(Agency).where(Agency.code == code))
    return agency


async def open_bill(session: AsyncSession, agency_id: int, dossier: str, bill_key: str) -> str | None:
    """The id of the payment holding the bill (open or paid: ``BLOCKING``), or None."""
    payment_id: str | None = await session.scalar(
        select(Payment.id).where(
            Payment.agency_id == agency_id,
            Payment.dossier_code == dossier,
            Payment.bill_key == bill_key,
            Payment.status.in_(BLOCKING),
        )
    )
    return payment_id


async def latest_unstarted_attempt(session: AsyncSession, payment_id: str) -> str | None:
    """The newest pending attempt of the payment with no checkout yet, or None."""
    attempt = await session.scalar(
        select(Attempt)
        .where(
            Attempt.payment_id == payment_id,
            Attempt.status == AttemptStatus.pending,
            Attempt.checkout_url.is_(None),
            Attempt.qr_payload.is_(None),
        )
        .order_by(Attempt.created_at.desc())
    )
    return attempt.id if attempt else None
