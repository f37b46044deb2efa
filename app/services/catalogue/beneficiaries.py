"""Beneficiary accounts (where an agency's money lands), as operators set and read them.

Which account a payment uses is decided by :func:`app.services.catalogue.catalog.resolve_beneficiaries`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from app.db import Database
from app.errors import ValidationFailed
from app.models import Agency, BeneficiaryAccount
from app.services.catalogue.agencies import require_agency
from app.services.catalogue.catalog import resolve_beneficiary
from app.services.catalogue.imports import text_field
from app.stores import accounts, agencies, banks, revenue_types

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
        if await banks.get(session, bank_bin) is None:
            errors.append({"field": "bank_bin", "message": f"no bank with NAPAS BIN {bank_bin!r}"})
        if revenue_type_code is not None and not await revenue_types.exists(session, revenue_type_code):
            errors.append({"field": "revenue_type_code", "message": f"no revenue type {revenue_type_code!r}"})
        if errors:
            raise ValidationFailed("Invalid beneficiary account.", errors=errors)
        values = {
            "treasury_code": str(treasury_code) if treasury_code is not None else None,
            "account_number": account_number,
            "bank_bin": bank_bin,
            "account_name": account_name or "",
        }
        return await accounts.put_beneficiary(session, agency.id, revenue_type_code, values)


async def list_beneficiaries(db: Database, agency_code: str) -> BeneficiaryView:
    """The agency's own accounts (default first) and the default it resolves to up the tree."""
    async with db.session() as session:
        agency = await require_agency(session, agency_code)
        own = await accounts.beneficiaries_of(session, agency.id)
        default = await resolve_beneficiary(session, agency, None)
        owner = await agencies.by_id(session, default.agency_id) if default else None
    return BeneficiaryView(agency, own, default, owner.code if owner else None)
