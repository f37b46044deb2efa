"""Accounts attached to agencies: gateway (provider) accounts and beneficiary accounts, the
statements (which account applies — the nearest up the tree — and what a valid account is are
in ``app.services.catalogue``)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Row, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Agency, BeneficiaryAccount, ProviderAccount

# ---------------------------------------------------------------------------- gateway accounts


async def gateway_account(session: AsyncSession, account_id: str) -> ProviderAccount | None:
    return await session.get(ProviderAccount, account_id)


async def enabled_gateway_accounts_at(
    session: AsyncSession, agency_codes: Collection[str]
) -> Sequence[Row[ProviderAccount, str]]:
    """The enabled gateway accounts attached to these agencies, with the agency's code, oldest first."""
    return (
        await session.execute(
            select(ProviderAccount, Agency.code)
            .join(Agency, Agency.id == ProviderAccount.agency_id)
            .where(Agency.code.in_(agency_codes), ProviderAccount.enabled.is_(True))
            .order_by(ProviderAccount.created_at)
        )
    ).all()


async def gateway_accounts(
    session: AsyncSession, agency_code: str | None
) -> Sequence[Row[ProviderAccount, str]]:
    """Every gateway account (of the agency ``agency_code`` only, when given), with its agency's
    code, oldest first."""
    stmt = select(ProviderAccount, Agency.code).join(Agency, Agency.id == ProviderAccount.agency_id)
    if agency_code:
        stmt = stmt.where(Agency.code == agency_code)
    return (await session.execute(stmt.order_by(ProviderAccount.created_at))).all()


async def gateway_accounts_of(session: AsyncSession, provider: str) -> Sequence[ProviderAccount]:
    """Every account of ``provider``."""
    return (await session.scalars(select(ProviderAccount).where(ProviderAccount.provider == provider))).all()


def add_gateway_account(session: AsyncSession, values: dict[str, Any]) -> ProviderAccount:
    """A new gateway account, written when the transaction commits."""
    row = ProviderAccount(**values)
    session.add(row)
    return row


# ---------------------------------------------------------------------------- beneficiary accounts


def _for_codes(revenue_type_codes: Collection[str]) -> ColumnElement[bool]:
    """An agency's default account (revenue type NULL), or one for any of these codes."""
    wanted: list[ColumnElement[bool]] = [BeneficiaryAccount.revenue_type_code.is_(None)]
    if revenue_type_codes:
        wanted.append(BeneficiaryAccount.revenue_type_code.in_(set(revenue_type_codes)))
    return or_(*wanted)


async def beneficiaries_of_agencies(
    session: AsyncSession, agency_ids: Collection[int], revenue_type_code: str | None
) -> Sequence[BeneficiaryAccount]:
    """The default accounts of these agencies, and their accounts for ``revenue_type_code``."""
    wanted: list[ColumnElement[bool]] = [BeneficiaryAccount.revenue_type_code.is_(None)]
    if revenue_type_code is not None:
        wanted.append(BeneficiaryAccount.revenue_type_code == revenue_type_code)
    stmt = select(BeneficiaryAccount).where(BeneficiaryAccount.agency_id.in_(agency_ids), or_(*wanted))
    return (await session.scalars(stmt)).all()


async def beneficiaries_at(
    session: AsyncSession, agency_codes: Collection[str], revenue_type_codes: Collection[str]
) -> Sequence[Row[BeneficiaryAccount, str]]:
    """The default accounts of these agencies and their accounts for any of ``revenue_type_codes``,
    with the agency's code."""
    return (
        await session.execute(
            select(BeneficiaryAccount, Agency.code)
            .join(Agency, Agency.id == BeneficiaryAccount.agency_id)
            .where(Agency.code.in_(agency_codes), _for_codes(revenue_type_codes))
        )
    ).all()


async def beneficiaries_of(session: AsyncSession, agency_id: int) -> list[BeneficiaryAccount]:
    """An agency's own accounts, its default first, then by revenue type."""
    rows = await session.scalars(
        select(BeneficiaryAccount)
        .where(BeneficiaryAccount.agency_id == agency_id)
        .order_by(BeneficiaryAccount.revenue_type_code.is_not(None), BeneficiaryAccount.revenue_type_code)
    )
    return list(rows.all())


async def put_beneficiary(
    session: AsyncSession, agency_id: int, revenue_type_code: str | None, values: dict[str, Any]
) -> tuple[BeneficiaryAccount, bool]:
    """Set the account of (agency, revenue type; None: the default) to ``values``, locking the
    existing one first, flushed. Returns (account, created)."""
    match = (
        BeneficiaryAccount.revenue_type_code.is_(None)
        if revenue_type_code is None
        else BeneficiaryAccount.revenue_type_code == revenue_type_code
    )
    account = await session.scalar(
        select(BeneficiaryAccount).where(BeneficiaryAccount.agency_id == agency_id, match).with_for_update()
    )
    created = account is None
    if account is None:
        account = BeneficiaryAccount(agency_id=agency_id, revenue_type_code=revenue_type_code)
        session.add(account)
    for key, value in values.items():
        setattr(account, key, value)
    await session.flush()
    return account, created
