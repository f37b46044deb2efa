"""Gateway accounts' credentials at rest, for re-encryption under a new key (the clients' webhook
secrets are read through ``app.stores.clients``)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import ProviderAccount


async def provider_account_ids(session: AsyncSession) -> list[str]:
    return list((await session.scalars(select(ProviderAccount.id).order_by(ProviderAccount.id))).all())


async def lock_provider_account(session: AsyncSession, account_id: str) -> ProviderAccount | None:
    """The account, locked FOR UPDATE until the transaction ends, or None."""
    return await session.get(ProviderAccount, account_id, with_for_update=True)
