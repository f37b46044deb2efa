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

Every figure is one SQL aggregation (GROUP BY, CASE) in ``app.stores.reports``; the per-agency
roll-up joins the per-agency sums (at most one row per agency) to the group nodes by
materialised-path prefix. Here: the period, which agencies a report covers and groups by, targets,
and the rows' shapes (JSON, CSV).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from app.db import Database
from app.errors import NotFound, ValidationFailed
from app.models import Agency
from app.services.catalogue.agencies import normalise_code, target_for
from app.stores import reports as store
from app.stores.reports import FIGURES
from app.text import spreadsheet_cell
from app.vntime import VN_TZ

GroupBy = Literal["agency", "gateway", "revenue_type"]


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


async def _coverage(
    session: AsyncSession, agency_code: str | None, scope: Sequence[str] | None, group_by: GroupBy | None
) -> _Selection:
    if agency_code is not None:
        agency = await store.agency_by_code(session, normalise_code(agency_code))
        if agency is None or (scope is not None and not any(agency.path.startswith(p) for p in scope)):
            raise ReportAgencyNotFound(f"No agency {agency_code!r} in your scope.")
        groups: list[tuple[Agency, Literal["subtree", "self"]]] = [(agency, "subtree")]
        if group_by == "agency":
            children = await store.children(session, agency.id)
            groups = [(agency, "self"), *((child, "subtree") for child in children)]
        return _Selection(agency, groups, [agency.path])
    if scope is None:
        tops = await store.roots(session)
    else:
        tops = await store.agencies_at(session, _top_paths(scope))
    tops.sort(key=lambda a: a.path)
    anchor = tops[0] if len(tops) == 1 else None
    return _Selection(anchor, [(a, "subtree") for a in tops], [a.path for a in tops])


async def _targets(session: AsyncSession, agencies: Sequence[Agency], year: int) -> dict[int, Decimal | None]:
    return {a.id: await target_for(session, a, year) for a in {a.id: a for a in agencies}.values()}


async def _agency_rows(
    session: AsyncSession, sel: _Selection, lo: datetime, hi: datetime, year: int
) -> tuple[list[ReportRow], ReportRow]:
    if not sel.groups:  # a client without agencies, or no agency at all
        return [], ReportRow("total", "TOTAL", "Tổng cộng", Figures())
    subtree_ids = [a.id for a, kind in sel.groups if kind == "subtree"]
    self_ids = [a.id for a, kind in sel.groups if kind == "self"]
    sums = await store.agency_sums(session, sel.paths, subtree_ids, self_ids, lo, hi)
    found = {(r.group_id, r.kind): Figures.of(r) for r in sums}
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
    return Figures.of(await store.totals(session, sel.paths, lo, hi))


async def _gateway_rows(
    session: AsyncSession, sel: _Selection, lo: datetime, hi: datetime
) -> list[ReportRow]:
    """Paid bills by the gateway that took the money (``offline`` for counter payments)."""
    if not sel.paths:
        return []
    paid, dup = await store.gateway_sums(session, sel.paths, lo, hi)
    rows: dict[str, ReportRow] = {}
    for r in paid:
        rows[r.gateway] = ReportRow("gateway", r.gateway, r.gateway, Figures.of(r))
    for r in dup:
        base = rows.get(r.provider) or ReportRow("gateway", r.provider, r.provider, Figures())
        rows[r.provider] = replace(base, duplicate_paid=int(r.n), duplicate_amount=int(r.amount))
    return [rows[k] for k in sorted(rows)]


async def _revenue_type_rows(
    session: AsyncSession, sel: _Selection, lo: datetime, hi: datetime
) -> list[ReportRow]:
    """Per revenue-type code: bills with a line of that code, and the sums of those lines."""
    if not sel.paths:
        return []
    found = await store.revenue_type_sums(session, sel.paths, lo, hi)
    names = await store.revenue_type_names(session, [r.code for r in found])
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
        sel = await _coverage(session, agency_code, scope, group_by)
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
