"""Long operator work as jobs: catalogue imports, reconciliation files and bulk redelivery.

A request that starts one stores its input on a ``jobs`` row and answers ``202 Accepted`` with the
job (``Location: /admin/v1/jobs/{id}``); no request holds a connection while the work runs. The
work starts at once in the process that accepted it, and any worker takes over a job whose runner
died: a runner claims a job by compare-and-set (``queued``, or ``running`` with its lease over)
and extends the lease with every progress report. Each job's work is all or nothing (the imports
and a reconciliation file commit once, at the end), so a job taken over starts again from the top
and never half-applies anything. A failed job keeps the problem it met (the same problem+json
body the synchronous call answers, line numbers included); its uploaded file is cleared when it
ends, its result kept."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

import orjson

from app.container import Container
from app.errors import NotFound, ProblemError, problem_body
from app.ids import new_id
from app.models import Job
from app.progress import Progress
from app.services.after_payment import reconciliation
from app.services.catalogue import agencies, catalog, imports
from app.services.notifications import webhook_admin
from app.stores import jobs as jobs_store

log = logging.getLogger("paybridge.jobs")

LEASE = timedelta(seconds=60)
PROGRESS_EVERY_SECONDS = 0.5
KEEP_FINISHED = 200  # the operator's list shows this many
# Above these, an upload runs as a job even when the caller did not ask for one (`Prefer: respond-async`).
SYNC_MAX_ROWS = 2_000
SYNC_MAX_BYTES = 512 * 1024


def run_as_job(prefer: str | None, *, rows: int | None = None, size: int | None = None) -> bool:
    """Whether a call that may run long answers with a job: asked for (RFC 7240
    `Prefer: respond-async`), or too big to hold a connection for."""
    asked = any(p.strip().lower() == "respond-async" for p in (prefer or "").split(","))
    return (
        asked or (rows is not None and rows > SYNC_MAX_ROWS) or (size is not None and size > SYNC_MAX_BYTES)
    )


class JobKind(StrEnum):
    agencies_import = "agencies_import"
    revenue_types_import = "revenue_types_import"
    reconciliation_file = "reconciliation_file"
    webhooks_redeliver = "webhooks_redeliver"


class JobNotFound(NotFound):
    code = "job_not_found"


@dataclass(frozen=True)
class JobInput:
    params: dict[str, Any]
    payload: bytes


Handler = Callable[[Container, JobInput, Progress], Awaitable[dict[str, Any]]]


async def _agencies_import(container: Container, job: JobInput, progress: Progress) -> dict[str, Any]:
    rows = imports.parse_import_file(job.payload, str(job.params.get("content_type", "")))
    return dict(await agencies.import_agencies(container.db, rows, progress=progress))


async def _revenue_types_import(container: Container, job: JobInput, progress: Progress) -> dict[str, Any]:
    rows = imports.parse_import_file(job.payload, str(job.params.get("content_type", "")))
    return dict(await catalog.import_revenue_types(container.db, rows, progress=progress))


def reconciliation_upload(params: dict[str, Any], payload: bytes) -> reconciliation.Upload:
    return reconciliation.Upload(
        provider=str(params["provider"]),
        account_id=str(params["account_id"]),
        day=date.fromisoformat(str(params["day"])),
        content=payload,
        filename=params.get("filename"),
        mapping=params.get("mapping"),
    )


async def _reconciliation_file(container: Container, job: JobInput, progress: Progress) -> dict[str, Any]:
    run, created = await reconciliation.import_file(
        container, reconciliation_upload(job.params, job.payload), progress=progress
    )
    return {"run": run, "created": created}


async def _webhooks_redeliver(container: Container, job: JobInput, progress: Progress) -> dict[str, Any]:
    client_id = job.params.get("client_id")
    count = await webhook_admin.redeliver_dead(container, client_id=client_id, progress=progress)
    return {"redelivered": count}


HANDLERS: dict[JobKind, Handler] = {
    JobKind.agencies_import: _agencies_import,
    JobKind.revenue_types_import: _revenue_types_import,
    JobKind.reconciliation_file: _reconciliation_file,
    JobKind.webhooks_redeliver: _webhooks_redeliver,
}


def job_resource(job: Job) -> dict[str, Any]:
    """The job as the API shows it (never its uploaded file)."""
    percent = None
    if job.total:
        percent = min(100, job.done * 100 // job.total)
    elif job.status == "succeeded":
        percent = 100
    return {
        "id": job.id,
        "kind": job.kind,
        "status": job.status,
        "progress": {"done": job.done, "total": job.total, "percent": percent},
        "params": {k: v for k, v in job.params.items() if k != "content_type"},
        "result": job.result,
        "error": job.error,
        "created_at": job.created_at.isoformat().replace("+00:00", "Z"),
        "started_at": job.started_at.isoformat().replace("+00:00", "Z") if job.started_at else None,
        "finished_at": job.finished_at.isoformat().replace("+00:00", "Z") if job.finished_at else None,
    }


async def enqueue(
    container: Container,
    kind: JobKind,
    *,
    params: dict[str, Any],
    payload: bytes = b"",
    requested_by: str = "operator",
    start: bool = True,
) -> dict[str, Any]:
    """Store a job (committed before anything runs) and, unless ``start`` is False, start it in this
    process in the background. Returns the job as queued."""
    job = Job(
        id=new_id("job"),
        kind=kind.value,
        status="queued",
        requested_by=requested_by,
        params=params,
        payload=payload,
        done=0,
        total=0,
        tries=0,
        created_at=container.clock(),
    )
    async with container.db.transaction() as session:
        await jobs_store.insert(session, job)
    if start:
        task = asyncio.create_task(run_job(container, job.id), name=f"job:{job.id}")
        container.background.add(task)
        task.add_done_callback(container.background.discard)
    return job_resource(job)


async def get_job(container: Container, job_id: str) -> dict[str, Any]:
    async with container.db.session() as session:
        job = await jobs_store.get(session, job_id)
    if job is None:
        raise JobNotFound(f"No job {job_id}.")
    return job_resource(job)


async def list_jobs(container: Container, *, limit: int = KEEP_FINISHED) -> list[dict[str, Any]]:
    async with container.db.session() as session:
        jobs = await jobs_store.newest(session, limit)
        return [job_resource(job) for job in jobs]


async def _claim(container: Container, job_id: str) -> Job | None:
    now = container.clock()
    async with container.db.transaction() as session:
        return await jobs_store.claim(session, job_id, now, now + LEASE)


def _reporter(container: Container, job_id: str) -> Progress:
    last = 0.0

    async def report(done: int, total: int) -> None:
        nonlocal last
        moment = time.monotonic()
        if done < total and moment - last < PROGRESS_EVERY_SECONDS:
            return
        last = moment
        async with container.db.transaction() as session:
            await jobs_store.report_progress(
                session, job_id, max(0, done), max(0, total), container.clock() + LEASE
            )

    return report


async def _finish(container: Container, job_id: str, **values: Any) -> None:
    async with container.db.transaction() as session:
        await jobs_store.finish(session, job_id, container.clock(), **values)


async def run_job(container: Container, job_id: str, *, progress: Progress | None = None) -> bool:
    """Claim the job and do it. False when another runner has it (or it has ended). ``progress``
    also receives every report (the CLI's bar)."""
    job = await _claim(container, job_id)
    if job is None:
        return False
    store = _reporter(container, job_id)

    async def report(done: int, total: int) -> None:
        await store(done, total)
        if progress is not None:
            await progress(done, total)

    handler = HANDLERS[JobKind(job.kind)]
    try:
        result = await handler(container, JobInput(job.params, job.payload or b""), report)
    except ProblemError as exc:
        error = orjson.loads(problem_body(exc, instance=f"/admin/v1/jobs/{job_id}"))
        await _finish(container, job_id, status="failed", error=error)
        log.info("job failed", extra={"job_id": job_id, "kind": job.kind, "code": exc.code})
        return True
    except asyncio.CancelledError:
        raise  # the process stops: the lease ends and another runner takes the job over
    except Exception:
        log.exception("job crashed", extra={"job_id": job_id, "kind": job.kind})
        error = {"code": "job_failed", "detail": "The job failed unexpectedly; see the server log."}
        await _finish(container, job_id, status="failed", error=error)
        return True
    async with container.db.session() as session:
        total = await jobs_store.total_of(session, job_id) or 0
    await _finish(container, job_id, status="succeeded", result=result, done=total)
    log.info("job done", extra={"job_id": job_id, "kind": job.kind})
    return True


async def run_due(container: Container, *, limit: int = 5) -> int:
    """The worker's sweep: jobs still queued (their process stopped before starting them) or whose
    runner's lease ran out. Returns how many it ran."""
    now = container.clock()
    async with container.db.session() as session:
        ids = await jobs_store.claimable_ids(session, now, now - timedelta(seconds=5), limit)
    ran = 0
    for job_id in ids:
        ran += await run_job(container, job_id)
    return ran
