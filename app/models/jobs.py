"""Long operator work as jobs: imports, reconciliation files, bulk redelivery. The request that
starts one stores its input and answers at once; a runner claims it by compare-and-set with a
lease (a crashed runner's job is taken over when the lease ends), reports progress on the row, and
records the result or the problem it met."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Index, Integer, LargeBinary, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, utcnow

JOB_STATUSES = ("queued", "running", "succeeded", "failed")


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint(f"status IN {JOB_STATUSES!r}", name="status"),
        CheckConstraint("done >= 0 AND total >= 0", name="progress"),
        Index("ix_jobs_due", "created_at", postgresql_where=text("status IN ('queued', 'running')")),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16), default="queued", server_default="queued")
    # Who asked: "operator", or a client id.
    requested_by: Mapped[str] = mapped_column(String(40))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default=text("'{}'::jsonb"))
    # The uploaded file, kept until the job ends (then cleared: results stay, inputs do not).
    payload: Mapped[bytes | None] = mapped_column(LargeBinary)
    done: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    total: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    result: Mapped[dict[str, Any] | None] = mapped_column()
    # The problem+json body of a failed job (code, detail, errors with line numbers).
    error: Mapped[dict[str, Any] | None] = mapped_column()
    tries: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    lease_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=text("now()"))
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
