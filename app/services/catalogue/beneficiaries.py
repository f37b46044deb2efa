"""Beneficiary accounts (where an agency's money lands), as operators set and read them.

Which account a payment uses is decided by :func:`app.services.catalogue.catalog.resolve_beneficiaries`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from app.db import Database
from app.errors import ValidationFailed
from app.models import Agency, Bank, BeneficiaryAccount, RevenueType
from app.services.catalogue.agencies import require_agency
from app.services.catalogue.catalog import resolve_beneficiary
from app.services.catalogue.imports import text_field

# ---------------------------------------------------------------------------- beneficiary accounts


@dataclass(frozen=True)
class BeneficiaryView:
    """An agency's own accounts, and the default that applies to it (own or inherited)."""

    agency: Agency
    accounts: list[BeneficiaryAccount]
    effective_default: BeneficiaryAccount | None
    effective_default_agency_code: str | None


_ACCOUNT_RE = re.compile(r"^[0-9A-Za-z.\-]{1,34}$")
_TREASURY_RE = re.compile(r"^[0-9A-Za-z]{1,16}$")


async def put_beneficiary(
    db: Database, agency_code: str, data: dict[str, Any]
) -> tuple[BeneficiaryAccount, bool]:
    """Set the account for (agency, revenue type), or the agency default when the code is null.
    Returns (account, created)."""
    errors = []
    account_name, message = text_field(data, "account_name", required=True, max_len=300)
    if message:
        errors.append({"field": "account_name", "message": message})
    account_number = str(data.get("account_number") or "").strip()
    if not _ACCOUNT_RE.match(account_number):
        errors.append({"field": "account_number", "message": "must be 1-34 letters, digits, '.' or '-'"})
    treasury_code = data.get("treasury_code")
    if treasury_code is not None and not _TREASURY_RE.match(str(treasury_code)):
        errors.append({"field": "treasury_code", "message": "must be 1-16 letters or digits"})
    bank_bin = str(data.get("bank_bin") or "").strip()
    revenue_type_code = data.get("revenue_type_code")
    async with db.transaction() as session:
        agency = await require_agency(session, agency_code)
        if await session.get(Bank, bank_bin) is None:
            errors.append({"field": "bank_bin", "message": f"no bank with NAPAS BIN {bank_bin!r}"})
        if revenue_type_code is not None:
            exists = await session.scalar(
                select(RevenueType.id).where(RevenueType.code == revenue_type_code).limit(1)
            )
            if exists is None:
                errors.append(
                    {"field": "revenue_type_code", "message": f"no revenue type {revenue_type_code!r}"}
                )
        if errors:
            raise ValidationFailed("Invalid beneficiary account.", errors=errors)
        match = (
            BeneficiaryAccount.revenue_type_code.is_(None)
            if revenue_type_code is None
            else BeneficiaryAccount.revenue_type_code == revenue_type_code
        )
        account = await session.scalar(
            select(BeneficiaryAccount)
            .where(BeneficiaryAccount.agency_id == agency.id, match)
            .with_for_update()
        )
        created = account is None
        if account is None:
            account = BeneficiaryAccount(agency_id=agency.id, revenue_type_code=revenue_type_code)
            session.add(account)
        account.treasury_code = str(treasury_code) if treasury_code is not None else None
        account.account_number = account_number
        account.bank_bin = bank_bin
        account.account_name = account_name or ""
        await session.flush()
    return account, created


async def list_beneficiaries(db: Database, agency_code: str) -> BeneficiaryView:
    """The agency's own accounts (default first) and the default it resolves to up the tree."""
    async with db.session() as session:
        agency = await require_agency(session, agency_code)
        accounts = list(
            (
                await session.scalars(
                    select(BeneficiaryAccount)
                    .where(BeneficiaryAccount.agency_id == agency.id)
                    .order_by(
                        BeneficiaryAccount.revenue_type_code.is_not(None),
                        BeneficiaryAccount.revenue_type_code,
                    )
                )
            ).all()
        )
        default = await resolve_beneficiary(session, agency, None)
        owner = await session.get(Agency, default.agency_id) if default else None
    return BeneficiaryView(agency, accounts, default, owner.code if owner else None)
