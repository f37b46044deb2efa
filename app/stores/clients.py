"""Clients, their agency scope and their API keys: the statements (the rules — what a client URL
may be, how long a rotated key lives — are in ``app.services.access``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Agency, ApiKey, Client, ClientAgency, ClientView


async def agencies_by_code(session: AsyncSession, codes: Sequence[str]) -> list[Agency]:
    """The agencies among ``codes`` (those that exist)."""
    return list((await session.scalars(select(Agency).where(Agency.code.in_(codes)))).all())


async def insert(session: AsyncSession, client: Client, agencies: Iterable[Agency], key: ApiKey) -> None:
    """Write a new client, its agency scope and its first key."""
    session.add(client)
    await session.flush()
    session.add_all(ClientAgency(client_id=client.id, agency_id=a.id) for a in agencies)
    session.add(key)
    await session.flush()


async def get(session: AsyncSession, client_id: str, *, lock: bool = False) -> Client | None:
    """The client (``lock``: FOR UPDATE), or None."""
    stmt = select(Client).where(Client.id == client_id)
    client: Client | None = await session.scalar(stmt.with_for_update() if lock else stmt)
    return client


async def exists(session: AsyncSession, client_id: str) -> bool:
    return await session.get(Client, client_id) is not None


async def id_by_name(session: AsyncSession, name: str) -> str | None:
    client_id: str | None = await session.scalar(select(Client.id).where(Client.name == name))
    return client_id


async def webhook_url(session: AsyncSession, client_id: str) -> str | None:
    url: str | None = await session.scalar(select(Client.webhook_url).where(Client.id == client_id))
    return url


async def all_ids(session: AsyncSession) -> list[str]:
    return list((await session.scalars(select(Client.id).order_by(Client.id))).all())


async def page(session: AsyncSession, after_id: str | None, limit: int) -> list[Client]:
    """Clients by id after ``after_id`` (exclusive), at most ``limit``."""
    stmt = select(Client).order_by(Client.id).limit(limit)
    if after_id is not None:
        stmt = stmt.where(Client.id > after_id)
    return list((await session.scalars(stmt)).all())


async def views(session: AsyncSession, clients: Sequence[Client]) -> list[ClientView]:
    """Views of many clients in two queries (agencies, keys), not two per client."""
    ids = [c.id for c in clients]
    codes: dict[str, list[str]] = {i: [] for i in ids}
    keys: dict[str, list[ApiKey]] = {i: [] for i in ids}
    rows = await session.execute(
        select(ClientAgency.client_id, Agency.code)
        .join(Agency, ClientAgency.agency_id == Agency.id)
        .where(ClientAgency.client_id.in_(ids))
        .order_by(Agency.code)
    )
    for client_id, code in rows:
        codes[client_id].append(code)
    for key in await session.scalars(select(ApiKey).where(ApiKey.client_id.in_(ids)).order_by(ApiKey.id)):
        keys[key.client_id].append(key)
    return [ClientView(c, codes[c.id], keys[c.id]) for c in clients]


async def save(session: AsyncSession, client: Client) -> None:
    """Write the changes made to a loaded client now (within the caller's transaction)."""
    await session.flush()


async def replace_agencies(session: AsyncSession, client_id: str, agencies: Iterable[Agency]) -> None:
    """The client's agency scope becomes exactly ``agencies``."""
    await session.execute(delete(ClientAgency).where(ClientAgency.client_id == client_id))
    session.add_all(ClientAgency(client_id=client_id, agency_id=a.id) for a in agencies)


async def add_key(session: AsyncSession, key: ApiKey) -> None:
    session.add(key)
    await session.flush()


async def cap_key_expiry(session: AsyncSession, client_id: str, expires: datetime) -> None:
    """Every key of the client that would live past ``expires`` (or forever) ends then; keys
    already ending sooner keep their end."""
    await session.execute(
        update(ApiKey)
        .where(ApiKey.client_id == client_id, or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > expires))
        .values(expires_at=expires)
        .execution_options(synchronize_session=False)
    )


async def key_by_hash(session: AsyncSession, digest: str) -> Any:
    """(key_hash, expires_at, Client) of the API key with this SHA-256, or None."""
    return (
        await session.execute(
            select(ApiKey.key_hash, ApiKey.expires_at, Client)
            .join(Client, Client.id == ApiKey.client_id)
            .where(ApiKey.key_hash == digest)
        )
    ).first()


async def agency_paths(session: AsyncSession, client_id: str) -> list[str]:
    """The paths of the agencies the client acts for."""
    return list(
        (
            await session.scalars(
                select(Agency.path)
                .join(ClientAgency, ClientAgency.agency_id == Agency.id)
                .where(ClientAgency.client_id == client_id)
            )
        ).all()
    )


async def live_key_id(session: AsyncSession, client_id: str, digest: str, now: datetime) -> int | None:
    """The id of the client's key with this SHA-256 while it is still valid at ``now``, or None."""
    key_id: int | None = await session.scalar(
        select(ApiKey.id).where(
            ApiKey.client_id == client_id,
            ApiKey.key_hash == digest,
            (ApiKey.expires_at.is_(None)) | (ApiKey.expires_at > now),
        )
    )
    return key_id
