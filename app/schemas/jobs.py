"""Jobs: long operator work (imports, reconciliation files, bulk redelivery) and its progress."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

JobKindName = Literal["agencies_import", "revenue_types_import", "reconciliation_file", "webhooks_redeliver"]


class JobProgress(BaseModel):
    done: int = Field(description="Rows (or deliveries) handled so far.", examples=[1200])
    total: int = Field(
        description="How many there are in all; 0 until the job has counted them.", examples=[2000]
    )
    percent: int | None = Field(description="done / total in whole percent; null while the total is unknown.")


JOB_EXAMPLE: dict[str, Any] = {
    "id": "job_01JD3Z7Q0S5M4W2B8C6D9E1F3G",
    "kind": "revenue_types_import",
    "status": "running",
    "progress": {"done": 1200, "total": 2000, "percent": 60},
    "params": {"filename": "muc-luc-ngan-sach-2026.csv"},
    "result": None,
    "error": None,
    "created_at": "2026-11-21T03:00:00Z",
    "started_at": "2026-11-21T03:00:00Z",
    "finished_at": None,
}


class JobOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": JOB_EXAMPLE})

    id: str = Field(description="The job's id (`job_…`).")
    kind: Literal["agencies_import", "revenue_types_import", "reconciliation_file", "webhooks_redeliver"] = (
        Field(description="What the job does.")
    )
    status: Literal["queued", "running", "succeeded", "failed"] = Field(
        description="`queued` → `running` → `succeeded` or `failed`."
    )
    progress: JobProgress = Field(description="How far it has got.")
    params: dict[str, Any] = Field(description="What it was asked to do (never the uploaded file).")
    result: dict[str, Any] | None = Field(
        description="When succeeded: what the synchronous call would have answered "
        "(import counts, the reconciliation run, how many deliveries were redelivered)."
    )
    error: dict[str, Any] | None = Field(
        description="When failed: the problem+json body the synchronous call would have answered "
        "(`code`, `detail`, and `errors` with line numbers for a bad file). Nothing was applied."
    )
    created_at: datetime = Field(description="When it was asked for.")
    started_at: datetime | None = Field(description="When a runner took it (again, after a crash).")
    finished_at: datetime | None = Field(description="When it ended.")


class JobList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {"data": [JOB_EXAMPLE]}})

    data: list[JobOut] = Field(description="The newest jobs first.")


class RedeliverAllIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"example": {"client_id": "cli_01JD3Z7Q0S5M4W2B8C"}}
    )

    client_id: str | None = Field(
        default=None,
        max_length=40,
        description="Only this client's dead deliveries (all clients when omitted).",
    )
