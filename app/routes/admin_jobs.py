"""Operator API for jobs: long work that answers `202 Accepted` and is followed here."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Response

from app.deps import AdminDep, ContainerDep
from app.routes.docs import problems
from app.schemas.jobs import JobList, JobOut, RedeliverAllIn
from app.services.operations import jobs as service

router = APIRouter(prefix="/admin/v1", tags=["admin"], dependencies=[AdminDep])

ADMIN_PROBLEMS = {
    401: "`unauthorized`: missing or wrong operator token.",
    503: "`admin_disabled`: PAYBRIDGE_ADMIN_TOKEN is not set.",
}
# The 202 answer of a call that may run as a job, for its OpenAPI `responses`.
JOB_ACCEPTED: dict[int | str, dict[str, Any]] = {
    202: {
        "description": "Accepted as a job (asked for with `Prefer: respond-async`, or a large file): "
        "follow it at the `Location` header, `GET /admin/v1/jobs/{id}`.",
        "model": JobOut,
        "headers": {"Location": {"description": "/admin/v1/jobs/{id}", "schema": {"type": "string"}}},
    }
}
JobId = Annotated[str, Path(max_length=40, pattern=r"^job_[0-9A-Z]+$")]


def accepted(job: dict[str, Any]) -> Response:
    """The answer of every call that starts a job: 202, the job, and where to follow it."""
    return Response(
        orjson.dumps(job),
        status_code=202,
        media_type="application/json",
        headers={"Location": f"/admin/v1/jobs/{job['id']}", "Preference-Applied": "respond-async"},
    )


@router.get(
    "/jobs/{job_id}",
    response_model=JobOut,
    summary="Follow a job",
    responses=problems({**ADMIN_PROBLEMS, 404: "`job_not_found`: no such job."}),
)
async def get_job(job_id: JobId, container: ContainerDep) -> dict[str, Any]:
    """A job's status and progress; when it has ended, its result or the problem it met."""
    return await service.get_job(container, job_id)


@router.get("/jobs", response_model=JobList, summary="List recent jobs", responses=problems(ADMIN_PROBLEMS))
async def list_jobs(container: ContainerDep) -> dict[str, Any]:
    """The newest jobs first (imports, reconciliation files, bulk redeliveries)."""
    return {"data": await service.list_jobs(container)}


@router.post(
    "/events:redeliver",
    status_code=202,
    response_model=JobOut,
    summary="Redeliver every dead webhook",
    responses=problems({**ADMIN_PROBLEMS, 404: "`client_not_found`: no such client."}),
)
async def redeliver_all(body: RedeliverAllIn, container: ContainerDep) -> Response:
    """After a portal's outage: make every dead delivery (of one client, or all) due again, as a job."""
    job = await service.enqueue(
        container, service.JobKind.webhooks_redeliver, params=body.model_dump(exclude_none=True)
    )
    return accepted(job)
