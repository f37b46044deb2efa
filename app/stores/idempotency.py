"""Idempotency records: the statements behind ``app.services.payments.idempotency`` (claim, look
up, take over, complete, release, mark the resource, purge). The rules — when a key replays, is
reused, is still in progress or may be taken over — stay in the service."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import IdempotencyRecord


async def insert_claim(session: AsyncSession, values: dict[str, Any]) -> int | None:
    """Insert a claim for (client, scope, key); its id, or None when the key is already there."""
    stmt = (
        pg_insert(IdempotencyRecord)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["client_id", "scope", "key"])
        .returning(IdempotencyRecord.id)
    )
    new_id: int | None = (await session.execute(stmt)).scalar_one_or_none()
    return new_id


async def find(session: AsyncSession, client_id: str, scope: str, key: str) -> IdempotencyRecord | None:
    """The record of (client, scope, key), or None."""
    record: IdempotencyRecord | None = (
        await session.execute(
            select(IdempotencyRecord).where(
                IdempotencyRecord.client_id == client_id,
                IdempotencyRecord.scope == scope,
                IdempotencyRecord.key == key,
            )
        )
    ).scalar_one_or_none()
    return record


async def take_over(session: AsyncSession, record_id: int, created_at: datetime, now: datetime) -> bool:
    """Compare-and-set a fresh stamp on a claim still in progress with stamp ``created_at``."""
    taken = await session.execute(
        update(IdempotencyRecord)
        .where(
            IdempotencyRecord.id == record_id,
            IdempotencyRecord.state == "in_progress",
            IdempotencyRecord.created_at == created_at,
        )
        .values(created_at=now)
    )
    return bool(taken.rowcount)  # type: ignore[attr-defined]


async def complete(session: Any, record_id: int, status: int, body: bytes) -> None:
    """Store the response for the key (in the caller's transaction)."""
    await session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.id == record_id)
        .values(state="completed", response_status=status, response_body=body.decode())
    )


async def release(session: AsyncSession, record_id: int, claimable_at: datetime) -> None:
    """A claim still in progress: kept but stamped ``claimable_at`` when it already names its
    resource, deleted when it does not."""
    await session.execute(
        update(IdempotencyRecord)
        .where(
            IdempotencyRecord.id == record_id,
            IdempotencyRecord.state == "in_progress",
            IdempotencyRecord.resource_id.is_not(None),
        )
        .values(created_at=claimable_at)
    )
    await session.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.id == record_id,
            IdempotencyRecord.state == "in_progress",
            IdempotencyRecord.resource_id.is_(None),
        )
    )


async def mark_resource(session: Any, record_id: int, resource_id: str) -> None:
    """Record which resource the key created (in the resource's own transaction)."""
    await session.execute(
        update(IdempotencyRecord).where(IdempotencyRecord.id == record_id).values(resource_id=resource_id)
    )


async def purge_expired(session: AsyncSession, now: datetime) -> int:
    """Delete records past their retention; how many."""
    result = await session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.expires_at < now))
    return int(result.rowcount)  # type: ignore[attr-defined]
