"""Background jobs. They run in the API process by default (``PAYBRIDGE_RUN_WORKERS``) or alone
with ``python -m app worker``; on PostgreSQL any number of them share rows via SKIP LOCKED."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from app.bootstrap import close_container, make_container
from app.container import Container
from app.services.after_payment.refund_jobs import refund_duplicates_due, resolve_refunds_due
from app.services.callbacks.expiry import expire_due
from app.services.callbacks.resolver import resolve_due
from app.services.notifications.webhooks import dispatch_due
from app.services.operations import jobs as operator_jobs
from app.services.payments.idempotency import purge_expired

log = logging.getLogger("paybridge.workers")

# A job does one bounded batch and returns how many rows it handled.
Job = Callable[[Container], Awaitable[int]]


@dataclass(frozen=True)
class JobSpec:
    name: str
    run: Job
    # Seconds to sleep after a batch that handled nothing (a full batch runs again at once).
    idle_seconds: float


def job_specs() -> list[JobSpec]:
    specs: list[JobSpec] = []
    specs.append(JobSpec("webhooks", dispatch_due, idle_seconds=1.0))
    specs.append(JobSpec("resolver", resolve_due, idle_seconds=2.0))
    specs.append(JobSpec("expiry", expire_due, idle_seconds=5.0))
    specs.append(JobSpec("idempotency_purge", purge_expired, idle_seconds=600.0))
    specs.append(JobSpec("refund_resolver", resolve_refunds_due, idle_seconds=5.0))
    specs.append(JobSpec("duplicate_refunds", refund_duplicates_due, idle_seconds=30.0))
    specs.append(JobSpec("operator_jobs", operator_jobs.run_due, idle_seconds=5.0))
    return specs


async def run_job_forever(container: Container, spec: JobSpec) -> None:
    while True:
        try:
            handled = await spec.run(container)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("job failed", extra={"job": spec.name})
            handled = 0
        if handled == 0:
            await asyncio.sleep(spec.idle_seconds)
        else:
            await asyncio.sleep(0)


async def run_all_once(container: Container) -> dict[str, int]:
    """Run every job once (tests and `python -m app worker --once`)."""
    return {spec.name: await spec.run(container) for spec in job_specs()}


def start_in_process_workers(container: Container) -> list[asyncio.Task[Any]]:
    return [
        asyncio.create_task(run_job_forever(container, spec), name=f"job:{spec.name}") for spec in job_specs()
    ]


async def run_standalone(settings: Any, *, once: bool = False) -> None:
    """`python -m app worker`: the jobs without the HTTP server."""
    container = make_container(settings)
    try:
        if once:
            counts = await run_all_once(container)
            log.info("worker ran once", extra={"handled": counts})
            return
        tasks = start_in_process_workers(container)
        log.info("worker started", extra={"jobs": [t.get_name() for t in tasks]})
        await asyncio.gather(*tasks)
    finally:
        await close_container(container)
