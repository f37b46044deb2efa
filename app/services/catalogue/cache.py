"""The catalogue rows a payment create reads, cached in the process.

A create needs its agency, the revenue types in force, the gateway account (with decrypted
credentials) and the beneficiary accounts: four reads that change rarely and are the same for
most bills. They are cached per app (on its :class:`~app.container.Container`) for
:data:`TTL_SECONDS`, loaded with the very queries the uncached path runs, one load per entry at
a time (when an entry expires under load, one request reads it and the others wait for that
read). The whole cache is emptied by any commit in this process that writes agencies, revenue
types, gateway accounts or beneficiary accounts (``Database.on_commit_touching``). A change made
by another process is seen within the TTL; the create statement re-checks in the database that
the revenue-type versions are still in force and the account still enabled, so a stale entry can
send a create down the uncached path, never write a bill against a withdrawn code or a disabled
account.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import date
from typing import TypeVar, cast

from app.adapters.base import Account
from app.container import Container
from app.errors import ProblemError
from app.models import Agency, BeneficiaryAccount, ProviderAccount, RevenueType
from app.services.catalogue.catalog import get_active_revenue_types, resolve_beneficiaries
from app.services.catalogue.gateway_accounts import present, resolve_account
from app.stores import agencies
from app.ttl_cache import TtlCache

TTL_SECONDS = 5.0
MAX_ENTRIES = 5_000

T = TypeVar("T")


@dataclass(frozen=True)
class CachedAccount:
    row: ProviderAccount  # detached: read its columns, never lazy-load
    account: Account  # as the adapter sees it (credentials decrypted once)


def _cache_for(container: Container) -> TtlCache[object]:
    def make() -> TtlCache[object]:
        cache: TtlCache[object] = TtlCache(TTL_SECONDS, MAX_ENTRIES)
        container.db.on_commit_touching(
            (Agency, RevenueType, ProviderAccount, BeneficiaryAccount), cache.clear
        )
        return cache

    return container.cache("catalogue.rows", make)


async def _get(container: Container, key: tuple[object, ...], load: Callable[[], Awaitable[T]]) -> T:
    return cast(T, await _cache_for(container).get(key, load))


def forget(container: Container) -> None:
    """Empty the cache now (a create found an entry stale)."""
    _cache_for(container).clear()


async def agency(container: Container, code: str) -> Agency | None:
    async def load() -> Agency | None:
        async with container.db.session() as session:
            return await agencies.by_code(session, code)

    return await _get(container, ("agency", code), load)


async def active_revenue_types(
    container: Container, codes: Collection[str], on: date
) -> dict[str, RevenueType]:
    wanted = frozenset(codes)

    async def load() -> dict[str, RevenueType]:
        async with container.db.session() as session:
            return await get_active_revenue_types(session, wanted, on)

    return await _get(container, ("revenue_types", wanted, on), load)


async def account(container: Container, agency_path: str, provider: str) -> CachedAccount | None:
    """The account a create at this agency uses for ``provider``; None when there is none."""

    async def load() -> CachedAccount | None:
        async with container.db.session() as session:
            try:
                row = await resolve_account(session, agency_path, provider)
            except ProblemError:
                return None
        return CachedAccount(row, present(container, row))

    return await _get(container, ("account", agency_path, provider), load)


async def beneficiaries(
    container: Container, agency_row: Agency, codes: tuple[str, ...]
) -> dict[str | None, BeneficiaryAccount]:
    async def load() -> dict[str | None, BeneficiaryAccount]:
        async with container.db.session() as session:
            return await resolve_beneficiaries(session, agency_row, codes)

    return await _get(container, ("beneficiaries", agency_row.id, agency_row.path, codes), load)
