"""Revenue-type codes (versioned), banks and beneficiary accounts."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Agency, BeneficiaryAccount, RevenueType
from app.services.agencies import ancestors


async def get_active_revenue_types(
    session: AsyncSession, codes: Collection[str], on: date
) -> dict[str, RevenueType]:
    """The current version of each code whose validity covers ``on``; unknown or inactive codes
    are absent from the result (validity periods of one code never overlap, so there is at most one)."""
    if not codes:
        return {}
    rows = (
        await session.scalars(
            select(RevenueType).where(
                RevenueType.code.in_(set(codes)),
                RevenueType.is_current.is_(True),
                RevenueType.valid_from <= on,
                or_(RevenueType.valid_to.is_(None), RevenueType.valid_to >= on),
            )
        )
    ).all()
    return {row.code: row for row in rows}


async def resolve_beneficiary(
    session: AsyncSession, agency: Agency, revenue_type_code: str | None
) -> BeneficiaryAccount | None:
    """Where money for (agency, revenue type) lands.

    Rule: walk from the agency up to the root; the first level that has an account wins. Within a
    level, the account for exactly this revenue type beats that level's default (revenue type NULL).
    So a commune's own default beats its province's revenue-type-specific account.
    """
    chain = await ancestors(session, agency)
    if not chain:
        return None
    wanted: list[ColumnElement[bool]] = [BeneficiaryAccount.revenue_type_code.is_(None)]
    if revenue_type_code is not None:
        wanted.append(BeneficiaryAccount.revenue_type_code == revenue_type_code)
    rows = (
        await session.scalars(
            select(BeneficiaryAccount).where(
                BeneficiaryAccount.agency_id.in_([a.id for a in chain]), or_(*wanted)
            )
        )
    ).all()
    by_key = {(row.agency_id, row.revenue_type_code): row for row in rows}
    for level in chain:
        if revenue_type_code is not None and (level.id, revenue_type_code) in by_key:
            return by_key[(level.id, revenue_type_code)]
        if (level.id, None) in by_key:
            return by_key[(level.id, None)]
    return None
