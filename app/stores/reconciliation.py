"""Reconciliation runs and their items: the statements (how a gateway's row is matched and
classified is in ``app.services.after_payment.reconciliation``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Attempt, ProviderAccount, ReconciliationItem, ReconciliationRun

# Values per ``IN (…)`` when looking attempts up by a file's references.
CHUNK = 500


async def account(session: AsyncSession, account_id: str) -> ProviderAccount | None:
    return await session.get(ProviderAccount, account_id)


async def run_of_file(
    session: AsyncSession, provider: str, account_id: str, day: date, digest: str
) -> str | None:
    """The id of the run that imported the file with this SHA-256 for (provider, account, day)."""
    return await session.scalar(
        select(ReconciliationRun.id).where(
            ReconciliationRun.provider == provider,
            ReconciliationRun.provider_account_id == account_id,
            ReconciliationRun.day == day,
            ReconciliationRun.file_sha256 == digest,
        )
    )


async def attempts_by(
    session: AsyncSession,
    account_id: str,
    column: Literal["reference", "provider_transaction_id"],
    values: Sequence[str],
) -> list[Attempt]:
    """The account's attempts whose ``column`` is one of ``values`` (:data:`CHUNK` values a query)."""
    found: list[Attempt] = []
    attribute = Attempt.reference if column == "reference" else Attempt.provider_transaction_id
    for start in range(0, len(values), CHUNK):
        chunk = values[start : start + CHUNK]
        result = await session.scalars(
            select(Attempt).where(Attempt.provider_account_id == account_id, attribute.in_(chunk))
        )
        found.extend(result.all())
    return found


async def succeeded_between(
    session: AsyncSession, account_id: str, start: datetime, end: datetime
) -> list[Attempt]:
    """The account's attempts that succeeded in ``[start, end)``, in order of completion."""
    rows = await session.scalars(
        select(Attempt)
        .where(
            Attempt.provider_account_id == account_id,
            Attempt.status == "succeeded",
            Attempt.completed_at >= start,
            Attempt.completed_at < end,
        )
        .order_by(Attempt.completed_at, Attempt.id)
    )
    return list(rows.all())


async def check_now(session: AsyncSession, attempt_ids: Sequence[str], now: datetime) -> None:
    """Make those of the attempts still pending or unknown due for a status query at ``now`` (the
    resolver asks the gateway in its next batch)."""
    await session.execute(
        update(Attempt)
        .where(Attempt.id.in_(attempt_ids), Attempt.status.in_(("pending", "unknown")))
        .values(next_check_at=now)
    )


async def insert_run(session: AsyncSession, values: dict[str, Any]) -> None:
    """Insert the run now (its items reference it); a second import of the same file fails here
    with an ``IntegrityError``."""
    session.add(ReconciliationRun(**values))
    await session.flush()


async def set_counts(session: AsyncSession, run_id: str, counts: dict[str, int]) -> None:
    await session.execute(
        update(ReconciliationRun).where(ReconciliationRun.id == run_id).values(counts=counts)
    )


def add_items(session: AsyncSession, items: Sequence[ReconciliationItem]) -> None:
    """Insert the run's items (at the transaction's next flush)."""
    session.add_all(items)


async def run(session: AsyncSession, run_id: str) -> ReconciliationRun | None:
    return await session.get(ReconciliationRun, run_id)


async def items(session: AsyncSession, run_id: str, status: str | None) -> Sequence[ReconciliationItem]:
    """The run's items (those of one status, when given), in order of insertion."""
    stmt = select(ReconciliationItem).where(ReconciliationItem.run_id == run_id)
    if status:
        stmt = stmt.where(ReconciliationItem.status == status)
    return (await session.scalars(stmt.order_by(ReconciliationItem.id))).all()


async def runs(
    session: AsyncSession, *, provider: str | None, day: date | None, before: str | None, limit: int
) -> list[ReconciliationRun]:
    """Runs newest first (ids sort by time), of a provider and a day when given, before the run
    ``before`` when given; at most ``limit``."""
    stmt = select(ReconciliationRun).order_by(ReconciliationRun.id.desc()).limit(limit)
    if provider:
        stmt = stmt.where(ReconciliationRun.provider == provider)
    if day:
        stmt = stmt.where(ReconciliationRun.day == day)
    if before:
        stmt = stmt.where(ReconciliationRun.id < before)
    return list((await session.scalars(stmt)).all())
