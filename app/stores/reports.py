"""Reporting reads: the KPI report's aggregations, the operator dashboard's listings and its
session rows, and the operator's view of one payment. Read only, but for the dashboard sessions.

The report's figures are defined in ``app.services.reporting.reports`` (its docstring) and
computed here, each as one SQL aggregation (GROUP BY, CASE) over ``payments``; the per-agency
roll-up joins the per-agency sums (at most one row per agency) to the group nodes by
materialised-path prefix. The service chooses the group nodes and the subtrees, and turns the
rows into figures.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    and_,
    case,
    delete,
    false,
    func,
    literal,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.domain.states import PaymentStatus
from app.models import (
    Agency,
    Attempt,
    Client,
    Event,
    InboundCallback,
    OperatorSession,
    Payment,
    PaymentItem,
    Receipt,
    Refund,
    RevenueType,
    WebhookAttemptLog,
    WebhookDelivery,
)
from app.stores.agencies import in_subtrees

FigureRow = Row[*tuple[Any, ...]]  # a row of the figures (by label), with its group's key columns

# Payment statuses of a paid bill (a refund does not undo that it was paid).
PAID_STATUSES = ("succeeded", "partially_refunded", "refunded")
# The labels of every figure a report row has, in order.
FIGURES = (
    "bills_with_fee",
    "bills_exempt",
    "bills_paid",
    "bills_paid_online",
    "amount_paid",
    "amount_paid_online",
    "amount_refunded",
)


# ---------------------------------------------------------------------------- report: agencies


async def agency_by_code(session: AsyncSession, code: str) -> Agency | None:
    found: Agency | None = await session.scalar(select(Agency).where(Agency.code == code))
    return found


async def children(session: AsyncSession, agency_id: int) -> Sequence[Agency]:
    """The agency's direct children, by path."""
    return (
        await session.scalars(select(Agency).where(Agency.parent_id == agency_id).order_by(Agency.path))
    ).all()


async def roots(session: AsyncSession) -> list[Agency]:
    """The agencies without a parent."""
    return list((await session.scalars(select(Agency).where(Agency.parent_id.is_(None)))).all())


async def agencies_at(session: AsyncSession, paths: Sequence[str]) -> list[Agency]:
    """The agencies with these paths (none for no paths, without a query)."""
    if not paths:
        return []
    return list((await session.scalars(select(Agency).where(Agency.path.in_(paths)))).all())


# ---------------------------------------------------------------------------- report: figures


def _count(cond: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)


def _money(cond: ColumnElement[bool], column: Any) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((cond, column), else_=0)), 0)


def _figure_columns() -> list[ColumnElement[Any]]:
    """Aggregates over ``payments`` rows: the definitions of the report's figures."""
    fee = and_(Payment.exempt.is_(false()), Payment.amount > 0)
    paid = and_(fee, Payment.status.in_(PAID_STATUSES))
    online = and_(paid, Payment.channel == "online")
    return [
        _count(fee).label("bills_with_fee"),
        _count(Payment.exempt.is_not(false())).label("bills_exempt"),
        _count(paid).label("bills_paid"),
        _count(online).label("bills_paid_online"),
        _money(paid, Payment.amount).label("amount_paid"),
        _money(online, Payment.amount).label("amount_paid_online"),
        _money(paid, Payment.refunded_amount).label("amount_refunded"),
    ]


def _in_scope(paths: Sequence[str], lo: datetime, hi: datetime) -> list[ColumnElement[bool]]:
    return [
        Payment.created_at >= lo,
        Payment.created_at < hi,
        Payment.agency_id.in_(select(Agency.id).where(in_subtrees(paths)).scalar_subquery()),
    ]


def _agency_rollup(
    paths: Sequence[str], subtree_ids: Sequence[int], self_ids: Sequence[int], lo: datetime, hi: datetime
) -> Select[Any]:
    """One statement: sums per agency (CTE), then per group node by path prefix (and 'self' rows)."""
    per_agency = (
        select(Payment.agency_id.label("agency_id"), *_figure_columns())
        .where(*_in_scope(paths, lo, hi))
        .group_by(Payment.agency_id)
        .cte("per_agency")
    )
    sums = [func.sum(per_agency.c[name]).label(name) for name in FIGURES]
    group, member = aliased(Agency, name="grp"), aliased(Agency, name="member")
    subtree = (
        select(group.id.label("group_id"), literal("subtree").label("kind"), *sums)
        .select_from(per_agency)
        .join(member, member.id == per_agency.c.agency_id)
        .join(group, func.substr(member.path, 1, func.length(group.path)) == group.path)
        .where(group.id.in_(subtree_ids or [-1]))
        .group_by(group.id)
    )
    own = (
        select(per_agency.c.agency_id.label("group_id"), literal("self").label("kind"), *sums)
        .where(per_agency.c.agency_id.in_(self_ids or [-1]))
        .group_by(per_agency.c.agency_id)
    )
    return union_all(subtree, own)  # type: ignore[return-value]


async def agency_sums(
    session: AsyncSession,
    paths: Sequence[str],
    subtree_ids: Sequence[int],
    self_ids: Sequence[int],
    lo: datetime,
    hi: datetime,
) -> Sequence[FigureRow]:
    """The figures of bills created in ``[lo, hi)`` under ``paths``, one row (``group_id``,
    ``kind``, figures) per group node: the whole subtree of each of ``subtree_ids``, the node's
    own bills for each of ``self_ids`` (no row for a node without bills)."""
    rows: Sequence[FigureRow] = (
        await session.execute(_agency_rollup(paths, subtree_ids, self_ids, lo, hi))
    ).all()
    return rows


async def totals(session: AsyncSession, paths: Sequence[str], lo: datetime, hi: datetime) -> FigureRow:
    """The figures of all bills created in ``[lo, hi)`` under ``paths``, one row."""
    return (await session.execute(select(*_figure_columns()).where(*_in_scope(paths, lo, hi)))).one()


async def gateway_sums(
    session: AsyncSession, paths: Sequence[str], lo: datetime, hi: datetime
) -> tuple[Sequence[FigureRow], Sequence[Row[str, int, int]]]:
    """Paid bills by the gateway that took the money (``offline`` for counter payments): rows of
    (``gateway``, figures); and the later successes of already paid bills by gateway: rows of
    (``provider``, ``n``, ``amount``)."""
    gateway = case(
        (Payment.channel == "offline", literal("offline")),
        else_=func.coalesce(Attempt.provider, Payment.provider, literal("unknown")),
    ).label("gateway")
    paid = (
        select(gateway, *_figure_columns())
        .select_from(Payment)
        .outerjoin(Attempt, Attempt.id == Payment.succeeded_attempt_id)
        .where(*_in_scope(paths, lo, hi), Payment.status.in_(PAID_STATUSES))
        .group_by(gateway)
    )
    dup = (
        select(
            Attempt.provider,
            func.count().label("n"),
            func.coalesce(func.sum(Attempt.amount), 0).label("amount"),
        )
        .join(Payment, Payment.id == Attempt.payment_id)
        .where(Attempt.duplicate_paid.is_(True), *_in_scope(paths, lo, hi))
        .group_by(Attempt.provider)
    )
    return (await session.execute(paid)).all(), (await session.execute(dup)).all()


async def revenue_type_sums(
    session: AsyncSession, paths: Sequence[str], lo: datetime, hi: datetime
) -> Sequence[FigureRow]:
    """Per revenue-type code, by code: bills with a line of that code, and the sums of those lines
    (rows of ``code`` and figures; ``amount_refunded`` is 0, refunds being per bill)."""
    per_line = (
        select(
            PaymentItem.payment_id,
            PaymentItem.revenue_type_code.label("code"),
            func.sum(PaymentItem.amount).label("line_amount"),
        )
        .group_by(PaymentItem.payment_id, PaymentItem.revenue_type_code)
        .subquery("per_line")
    )
    fee = and_(Payment.exempt.is_(false()), Payment.amount > 0)
    paid = and_(fee, Payment.status.in_(PAID_STATUSES))
    online = and_(paid, Payment.channel == "online")
    amount = per_line.c.line_amount
    stmt = (
        select(
            per_line.c.code,
            _count(fee).label("bills_with_fee"),
            _count(Payment.exempt.is_not(false())).label("bills_exempt"),
            _count(paid).label("bills_paid"),
            _count(online).label("bills_paid_online"),
            _money(paid, amount).label("amount_paid"),
            _money(online, amount).label("amount_paid_online"),
            literal(0).label("amount_refunded"),
        )
        .select_from(Payment)
        .join(per_line, per_line.c.payment_id == Payment.id)
        .where(*_in_scope(paths, lo, hi))
        .group_by(per_line.c.code)
        .order_by(per_line.c.code)
    )
    return (await session.execute(stmt)).all()


async def revenue_type_names(session: AsyncSession, codes: Sequence[str]) -> dict[str, str]:
    """The current name of each of these revenue-type codes."""
    rows = await session.execute(
        select(RevenueType.code, RevenueType.name).where(
            RevenueType.is_current.is_(True), RevenueType.code.in_(codes or [""])
        )
    )
    return {key: name for key, name in rows}


# ---------------------------------------------------------------------------- dashboard: sessions


async def purge_operator_sessions(session: AsyncSession, now: datetime) -> None:
    """Delete the operator sessions expired at ``now``."""
    await session.execute(delete(OperatorSession).where(OperatorSession.expires_at <= now))


def add_operator_session(
    session: AsyncSession, session_id: str, created_at: datetime, expires_at: datetime
) -> None:
    """Store a new operator session (at the transaction's next flush)."""
    session.add(OperatorSession(id=session_id, created_at=created_at, expires_at=expires_at))


async def operator_session_expiry(session: AsyncSession, session_id: str) -> datetime | None:
    """When the stored operator session ends; None when there is no such session."""
    expires_at: datetime | None = await session.scalar(
        select(OperatorSession.expires_at).where(OperatorSession.id == session_id)
    )
    return expires_at


async def end_operator_session(session: AsyncSession, session_id: str) -> None:
    await session.execute(delete(OperatorSession).where(OperatorSession.id == session_id))


# ---------------------------------------------------------------------------- dashboard: listings


async def agency_path(session: AsyncSession, code: str) -> str | None:
    path: str | None = await session.scalar(select(Agency.path).where(Agency.code == code))
    return path


async def recent_payments(
    session: AsyncSession,
    *,
    status: str | None,
    channel: str | None,
    dossier_code: str | None,
    provider: str | None,
    under_path: str | None,
    limit: int,
) -> Sequence[Row[Payment, str, str, str]]:
    """The newest payments, filtered by whichever criteria are given (``under_path``: the agency
    subtree), as rows of (Payment, agency code, agency name, provider of the succeeded attempt)."""
    stmt = (
        select(Payment, Agency.code, Agency.name, Attempt.provider)
        .join(Agency, Agency.id == Payment.agency_id)
        .outerjoin(Attempt, Attempt.id == Payment.succeeded_attempt_id)
        .order_by(Payment.created_at.desc(), Payment.id.desc())
        .limit(limit)
    )
    if status:
        stmt = stmt.where(Payment.status == status)
    if channel:
        stmt = stmt.where(Payment.channel == channel)
    if dossier_code:
        stmt = stmt.where(Payment.dossier_code == dossier_code)
    if provider:
        stmt = stmt.where(Payment.provider == provider)
    if under_path is not None:
        stmt = stmt.where(Agency.path.startswith(under_path, autoescape=True))
    return (await session.execute(stmt)).all()


async def stuck_attempts(
    session: AsyncSession, pending_before: datetime, limit: int
) -> Sequence[Row[Attempt, PaymentStatus, str]]:
    """Attempts in ``unknown``, or ``pending`` since before ``pending_before``, oldest first, as
    rows of (Attempt, payment status, agency code)."""
    stmt = (
        select(Attempt, Payment.status, Agency.code)
        .join(Payment, Payment.id == Attempt.payment_id)
        .join(Agency, Agency.id == Payment.agency_id)
        .where(
            (Attempt.status == "unknown")
            | ((Attempt.status == "pending") & (Attempt.created_at < pending_before))
        )
        .order_by(Attempt.created_at)
        .limit(limit)
    )
    return (await session.execute(stmt)).all()


async def client_names(session: AsyncSession, client_ids: Collection[str]) -> dict[str, str]:
    rows = await session.execute(select(Client.id, Client.name).where(Client.id.in_(client_ids or {""})))
    return {key: name for key, name in rows}


# ---------------------------------------------------------------------------- one payment, in full


async def payment_head(session: AsyncSession, payment_id: str) -> Row[Payment, str, str, str] | None:
    """(Payment, agency code, agency name, client name), or None."""
    return (
        await session.execute(
            select(Payment, Agency.code, Agency.name, Client.name)
            .join(Agency, Agency.id == Payment.agency_id)
            .join(Client, Client.id == Payment.client_id)
            .where(Payment.id == payment_id)
        )
    ).first()


async def items_with_names(session: AsyncSession, payment_id: str) -> Sequence[Row[PaymentItem, str]]:
    """The payment's items with their revenue types' names, by position: (PaymentItem, name)."""
    return (
        await session.execute(
            select(PaymentItem, RevenueType.name)
            .join(RevenueType, RevenueType.id == PaymentItem.revenue_type_id)
            .where(PaymentItem.payment_id == payment_id)
            .order_by(PaymentItem.position)
        )
    ).all()


async def attempts(session: AsyncSession, payment_id: str) -> list[Attempt]:
    """The payment's attempts, in order of creation."""
    return list(
        await session.scalars(
            select(Attempt).where(Attempt.payment_id == payment_id).order_by(Attempt.created_at, Attempt.id)
        )
    )


async def callbacks(
    session: AsyncSession, attempt_ids: Sequence[str], references: Sequence[str], limit: int
) -> list[InboundCallback]:
    """The newest callbacks received for these attempts or naming their references (at most ``limit``)."""
    return list(
        await session.scalars(
            select(InboundCallback)
            .where(InboundCallback.attempt_id.in_(attempt_ids) | InboundCallback.reference.in_(references))
            .order_by(InboundCallback.received_at.desc(), InboundCallback.id.desc())
            .limit(limit)
        )
    )


async def events_with_deliveries(
    session: AsyncSession, payment_id: str
) -> Sequence[Row[Event, WebhookDelivery | None]]:
    """The payment's events by seq, each with its webhook delivery or None: (Event, WebhookDelivery)."""
    return (
        await session.execute(
            select(Event, WebhookDelivery)
            .outerjoin(WebhookDelivery, WebhookDelivery.event_id == Event.id)
            .where(Event.payment_id == payment_id)
            .order_by(Event.seq)
        )
    ).all()


async def delivery_tries(session: AsyncSession, delivery_ids: Sequence[int]) -> list[WebhookAttemptLog]:
    """The logged tries of these deliveries, in order."""
    return list(
        await session.scalars(
            select(WebhookAttemptLog)
            .where(WebhookAttemptLog.delivery_id.in_(delivery_ids))
            .order_by(WebhookAttemptLog.attempted_at, WebhookAttemptLog.id)
        )
    )


async def receipts_by_issue(session: AsyncSession, payment_id: str) -> list[Receipt]:
    return list(
        await session.scalars(
            select(Receipt).where(Receipt.payment_id == payment_id).order_by(Receipt.issued_at)
        )
    )


async def refunds_by_creation(session: AsyncSession, payment_id: str) -> list[Refund]:
    return list(
        await session.scalars(
            select(Refund).where(Refund.payment_id == payment_id).order_by(Refund.created_at)
        )
    )
