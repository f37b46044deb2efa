"""KPI reports: the share of fee-bearing bills paid online, per agency subtree, gateway or revenue type.

Semantics (also in the OpenAPI description of ``GET /v1/reports/online-payment``):

- A bill is in the period when its ``created_at``, read as a Vietnam date (Asia/Ho_Chi_Minh), lies
  in ``[from, to]`` (both inclusive). ``from`` and ``to`` lie in one calendar year, whose targets apply.
- ``bills_with_fee``: bills that are not exempt and have an amount above zero, whatever their status
  (an unpaid, expired or cancelled bill is a fee-bearing dossier not paid online). Exempt bills are
  counted apart in ``bills_exempt``.
- ``bills_paid``: of those, status succeeded, partially_refunded or refunded (a refund does not undo
  the fact that the bill was paid); ``bills_paid_online``: paid with channel ``online`` (a payment
  recorded with ``/offline`` is paid, not online).
- ``amount_paid`` / ``amount_paid_online`` are gross (the bill amounts); ``amount_refunded`` is what
  was refunded of them. A second success at another gateway (duplicate-paid) is neither a second
  bill nor more ``amount_paid``: it shows in the gateway breakdown as ``duplicate_paid``.
- ``online_rate`` = bills_paid_online / bills_with_fee (null when there is no bill); ``meets_target``
  compares exactly (no float rounding) against the agency's target for the year, inherited from the
  nearest ancestor when the agency has none.

Every figure is one SQL aggregation (GROUP BY, CASE); the per-agency roll-up joins the per-agency
sums (at most one row per agency) to the group nodes by materialised-path prefix.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, and_, case, false, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.db import Database
from app.errors import NotFound, ValidationFailed
from app.models import Agency, Attempt, Payment, PaymentItem, RevenueType
from app.services.catalogue.agencies import in_subtrees, normalise_code, target_for
from app.text import spreadsheet_cell
from app.vntime import VN_TZ

PAID_STATUSES = ("succeeded", "partially_refunded", "refunded")
GroupBy = Literal["agency", "gateway", "revenue_type"]
FIGURES = (
    "bills_with_fee",
    "bills_exempt",
    "bills_paid",
    "bills_paid_online",
    "amount_paid",
    "amount_paid_online",
    "amount_refunded",
)


class ReportAgencyNotFound(NotFound):
    code, title = "agency_not_found", "Agency not found"


@dataclass(frozen=True)
class Figures:
    """The counts and sums of one report row (integers; amounts in VND)."""

    bills_with_fee: int = 0
    bills_exempt: int = 0
    bills_paid: int = 0
    bills_paid_online: int = 0
    amount_paid: int = 0
    amount_paid_online: int = 0
    amount_refunded: int = 0

    @classmethod
    def of(cls, row: Any) -> Figures:
        return cls(**{name: int(getattr(row, name) or 0) for name in FIGURES})

    def __add__(self, other: Figures) -> Figures:
        return Figures(**{name: getattr(self, name) + getattr(other, name) for name in FIGURES})

    @property
    def online_rate(self) -> float | None:
        if not self.bills_with_fee:
            return None
        return round(self.bills_paid_online / self.bills_with_fee, 4)

    def meets(self, target: Decimal | None) -> bool | None:
        """Exact comparison: paid_online / with_fee >= target, without float rounding."""
        if target is None or not self.bills_with_fee:
            return None
        return Decimal(self.bills_paid_online) >= target * self.bills_with_fee


@dataclass(frozen=True)
class ReportRow:
    """One row: an agency (its subtree, or its own bills), a gateway or a revenue type."""

    kind: Literal["agency", "gateway", "revenue_type", "total"]
    key: str
    name: str
    figures: Figures
    level: str | None = None
    scope: Literal["subtree", "self"] | None = None
    target_rate: Decimal | None = None
    # Gateway rows: later successes of an already paid bill (money to give back).
    duplicate_paid: int = 0
    duplicate_amount: int = 0

    @property
    def meets_target(self) -> bool | None:
        return self.figures.meets(self.target_rate)


@dataclass(frozen=True)
class Report:
    start: date
    end: date
    group_by: GroupBy | None
    agency_code: str | None
    target_year: int
    rows: list[ReportRow]
    total: ReportRow


def period_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """UTC instants of Vietnam midnight at ``start`` and after ``end`` (half-open)."""
    if end < start:
        raise ValidationFailed(
            "Invalid period.", errors=[{"field": "to", "message": "must not be before 'from'"}]
        )
    if end.year != start.year:
        raise ValidationFailed(
            "Invalid period.",
            errors=[{"field": "to", "message": "must be in the same year as 'from' (targets are yearly)"}],
        )
    lo = datetime.combine(start, time(0), VN_TZ).astimezone(UTC)
    hi = datetime.combine(end + timedelta(days=1), time(0), VN_TZ).astimezone(UTC)
    return lo, hi


def _count(cond: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)


def _money(cond: ColumnElement[bool], column: Any) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((cond, column), else_=0)), 0)


def _figure_columns() -> list[ColumnElement[Any]]:
    """Aggregates over ``payments`` rows: the definitions of the module docstring."""
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


def _top_paths(paths: Sequence[str]) -> list[str]:
    """Drop paths that lie inside another of the list (a subtree counted once)."""
    unique = sorted(set(paths))
    return [p for p in unique if not any(p != q and p.startswith(q) for q in unique)]


@dataclass(frozen=True)
class _Selection:
    """What the report covers: its group nodes, the subtree paths and the total's target node."""

    anchor: Agency | None
    groups: list[tuple[Agency, Literal["subtree", "self"]]]
    paths: list[str]


async def _select(
    session: AsyncSession, agency_code: str | None, scope: Sequence[str] | None, group_by: GroupBy | None
) -> _Selection:
    if agency_code is not None:
        agency = await session.scalar(select(Agency).where(Agency.code == normalise_code(agency_code)))
        if agency is None or (scope is not None and not any(agency.path.startswith(p) for p in scope)):
            raise ReportAgencyNotFound(f"No agency {agency_code!r} in your scope.")
        groups: list[tuple[Agency, Literal["subtree", "self"]]] = [(agency, "subtree")]
        if group_by == "agency":
            children = (
                await session.scalars(
                    select(Agency).where(Agency.parent_id == agency.id).order_by(Agency.path)
                )
            ).all()
            groups = [(agency, "self"), *((child, "subtree") for child in children)]
        return _Selection(agency, groups, [agency.path])
    if scope is None:
        tops = list((await session.scalars(select(Agency).where(Agency.parent_id.is_(None)))).all())
    else:
        wanted = _top_paths(scope)
        tops = (
            list((await session.scalars(select(Agency).where(Agency.path.in_(wanted)))).all())
            if wanted
            else []
        )
    tops.sort(key=lambda a: a.path)
    anchor = tops[0] if len(tops) == 1 else None
    return _Selection(anchor, [(a, "subtree") for a in tops], [a.path for a in tops])


def _agency_rollup(sel: _Selection, lo: datetime, hi: datetime) -> Select[Any]:
    """One statement: sums per agency (CTE), then per group node by path prefix (and 'self' rows)."""
    per_agency = (
        select(Payment.agency_id.label("agency_id"), *_figure_columns())
        .where(*_in_scope(sel.paths, lo, hi))
        .group_by(Payment.agency_id)
        .cte("per_agency")
    )
    sums = [func.sum(per_agency.c[name]).label(name) for name in FIGURES]
    group, member = aliased(Agency, name="grp"), aliased(Agency, name="member")
    subtree_ids = [a.id for a, kind in sel.groups if kind == "subtree"]
    self_ids = [a.id for a, kind in sel.groups if kind == "self"]
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


async def _targets(session: AsyncSession, agencies: Sequence[Agency], year: int) -> dict[int, Decimal | None]:
    return {a.id: await target_for(session, a, year) for a in {a.id: a for a in agencies}.values()}


async def _agency_rows(
    session: AsyncSession, sel: _Selection, lo: datetime, hi: datetime, year: int
) -> tuple[list[ReportRow], ReportRow]:
    if not sel.groups:  # a client without agencies, or no agency at all
        return [], ReportRow("total", "TOTAL", "Tổng cộng", Figures())
    found = {
        (r.group_id, r.kind): Figures.of(r) for r in (await session.execute(_agency_rollup(sel, lo, hi)))
    }
    targets = await _targets(session, [a for a, _ in sel.groups], year)
    rows = []
    for agency, kind in sel.groups:
        figures = found.get((agency.id, kind), Figures())
        if kind == "self" and figures == Figures():
            continue  # no bills at the node itself: no row
        rows.append(
            ReportRow("agency", agency.code, agency.name, figures, agency.level, kind, targets[agency.id])
        )
    # The groups partition the selected subtrees (a node's own bills + its children's subtrees).
    total_figures = sum((r.figures for r in rows), Figures())
    return rows, ReportRow(
        "total", "TOTAL", "Tổng cộng", total_figures, target_rate=_anchor_target(sel, targets)
    )


def _anchor_target(sel: _Selection, targets: dict[int, Decimal | None]) -> Decimal | None:
    return targets.get(sel.anchor.id) if sel.anchor is not None else None


async def _totals(session: AsyncSession, sel: _Selection, lo: datetime, hi: datetime) -> Figures:
    if not sel.paths:
        return Figures()
    row = (await session.execute(select(*_figure_columns()).where(*_in_scope(sel.paths, lo, hi)))).one()
    return Figures.of(row)


async def _gateway_rows(
    session: AsyncSession, sel: _Selection, lo: datetime, hi: datetime
) -> list[ReportRow]:
    """Paid bills by the gateway that took the money (``offline`` for counter payments)."""
    if not sel.paths:
        return []
    gateway = case(
        (Payment.channel == "offline", literal("offline")),
        else_=func.coalesce(Attempt.provider, Payment.provider, literal("unknown")),
    ).label("gateway")
    paid = (
        select(gateway, *_figure_columns())
        .select_from(Payment)
        .outerjoin(Attempt, Attempt.id == Payment.succeeded_attempt_id)
        .where(*_in_scope(sel.paths, lo, hi), Payment.status.in_(PAID_STATUSES))
        .group_by(gateway)
    )
    dup = (
        select(
            Attempt.provider,
            func.count().label("n"),
            func.coalesce(func.sum(Attempt.amount), 0).label("amount"),
        )
        .join(Payment, Payment.id == Attempt.payment_id)
        .where(Attempt.duplicate_paid.is_(True), *_in_scope(sel.paths, lo, hi))
        .group_by(Attempt.provider)
    )
    rows: dict[str, ReportRow] = {}
    for r in await session.execute(paid):
        rows[r.gateway] = ReportRow("gateway", r.gateway, r.gateway, Figures.of(r))
    for r in await session.execute(dup):
        base = rows.get(r.provider) or ReportRow("gateway", r.provider, r.provider, Figures())
        rows[r.provider] = replace(base, duplicate_paid=int(r.n), duplicate_amount=int(r.amount))
    return [rows[k] for k in sorted(rows)]


async def _revenue_type_rows(
    session: AsyncSession, sel: _Selection, lo: datetime, hi: datetime
) -> list[ReportRow]:
    """Per revenue-type code: bills with a line of that code, and the sums of those lines."""
    if not sel.paths:
        return []
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
        .where(*_in_scope(sel.paths, lo, hi))
        .group_by(per_line.c.code)
        .order_by(per_line.c.code)
    )
    found = (await session.execute(stmt)).all()
    names = dict(
        (
            await session.execute(
                select(RevenueType.code, RevenueType.name).where(
                    RevenueType.is_current.is_(True), RevenueType.code.in_([r.code for r in found] or [""])
                )
            )
        ).all()
    )
    return [ReportRow("revenue_type", r.code, names.get(r.code, r.code), Figures.of(r)) for r in found]


async def online_payment_report(
    db: Database,
    *,
    start: date,
    end: date,
    agency_code: str | None = None,
    group_by: GroupBy | None = None,
    scope: Sequence[str] | None = None,
) -> Report:
    """The report. ``scope``: the caller's agency subtrees (None: the operator, everything)."""
    lo, hi = period_bounds(start, end)
    async with db.session() as session:
        sel = await _select(session, agency_code, scope, group_by)
        year = start.year
        if group_by in (None, "agency"):
            rows, total = await _agency_rows(session, sel, lo, hi, year)
        else:
            rows = await (_gateway_rows if group_by == "gateway" else _revenue_type_rows)(
                session, sel, lo, hi
            )
            targets = await _targets(session, [sel.anchor] if sel.anchor else [], year)
            figures = await _totals(session, sel, lo, hi)
            total = ReportRow(
                "total", "TOTAL", "Tổng cộng", figures, target_rate=_anchor_target(sel, targets)
            )
    code = sel.anchor.code if sel.anchor is not None and agency_code is not None else None
    return Report(start, end, group_by, code, year, rows, total)


CSV_COLUMNS = (
    "key",
    "name",
    "level",
    "scope",
    *FIGURES,
    "online_rate",
    "target_rate",
    "meets_target",
    "duplicate_paid",
    "duplicate_amount",
)


def row_values(row: ReportRow) -> dict[str, Any]:
    """A row as plain values (the JSON and CSV shapes); figures a row kind cannot have are None."""
    values: dict[str, Any] = {
        "key": row.key,
        "name": row.name,
        "level": row.level,
        "scope": row.scope,
        **{name: getattr(row.figures, name) for name in FIGURES},
        "online_rate": row.figures.online_rate,
        "target_rate": float(row.target_rate) if row.target_rate is not None else None,
        "meets_target": row.meets_target,
        "duplicate_paid": row.duplicate_paid if row.kind == "gateway" else None,
        "duplicate_amount": row.duplicate_amount if row.kind == "gateway" else None,
    }
    if row.kind == "gateway":  # an unpaid bill has no gateway: no denominator here
        values.update(bills_with_fee=None, bills_exempt=None, online_rate=None)
    if row.kind == "revenue_type":  # refunds are per bill, not per line
        values["amount_refunded"] = None
    return values


def report_csv(report: Report) -> str:
    """CSV with a header line, one line per row and the total last (UTF-8 BOM added by the caller)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for row in [*report.rows, report.total]:
        values = row_values(row)
        writer.writerow({k: spreadsheet_cell(v) for k, v in values.items()})
    return out.getvalue()
