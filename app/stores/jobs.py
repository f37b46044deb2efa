"""Operator jobs: the statements. A runner claims a job by compare-and-set (``queued``, or
``running`` with its lease over) and keeps the lease alive with every progress report; the
rules (which handler, what a failure records) are in ``app.services.operations.jobs``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Job


def _claimable(now: datetime) -> ColumnElement[bool]:
    return or_(Job.status == "queued", (Job.status == "running") & (Job.lease_until < now))


async def insert(session: AsyncSession, job: Job) -> None:
    session.add(job)


async def get(session: AsyncSession, job_id: str) -> Job | None:
    return await session.get(Job, job_id)


async def newest(session: AsyncSession, limit: int) -> list[Job]:
    """The newest jobs first, at most ``limit``."""
    stmt = select(Job).order_by(Job.created_at.desc(), Job.id.desc()).limit(limit)
    return list((await session.scalars(stmt)).all())


async def claim(session: AsyncSession, job_id: str, now: datetime, lease_until: datetime) -> Job | None:
    """Take the job if it is queued or its runner's lease is over: it runs, leased until
    ``lease_until``, one more try. None when it is not claimable."""
    claimed: Job | None = await session.scalar(
        update(Job)
        .where(Job.id == job_id, _claimable(now))
        .values(status="running", started_at=now, lease_until=lease_until, tries=Job.tries + 1)
        .returning(Job)
        .execution_options(synchronize_session=False)
    )
    return claimed


async def report_progress(
    session: AsyncSession, job_id: str, done: int, total: int, lease_until: datetime
) -> None:
    """Store a running job's progress and extend its lease."""
    await session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == "running")
        .values(done=done, total=total, lease_until=lease_until)
        .execution_options(synchronize_session=False)
    )


async def finish(session: AsyncSession, job_id: str, now: datetime, **values: Any) -> None:
    """End a running job with ``values`` (status, result or error…); its uploaded file is cleared."""
    await session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == "running")
        .values(finished_at=now, payload=None, lease_until=None, **values)
        .execution_options(synchronize_session=False)
    )


async def total_of(session: AsyncSession, job_id: str) -> int | None:
    total: int | None = await session.scalar(select(Job.total).where(Job.id == job_id))
    return total


async def claimable_ids(
    session: AsyncSession, now: datetime, created_before: datetime, limit: int
) -> list[str]:
    """Jobs still queued or whose runner's lease is over, created before ``created_before``,
    oldest first."""
    stmt = (
        select(Job.id)
        .where(_claimable(now))
        .where(Job.created_at < created_before)
        .order_by(Job.created_at)
        .limit(limit)
    )
    return list(await session.scalars(stmt))
