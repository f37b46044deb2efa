"""Operator API: reconcile a gateway's daily transaction file against our records."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import TypeAdapter, ValidationError
from starlette.datastructures import UploadFile

from app.deps import AdminDep, ContainerDep
from app.errors import ValidationFailed
from app.routes.admin_jobs import JOB_ACCEPTED, accepted
from app.routes.docs import problems
from app.schemas.reconciliation import ItemStatus, RunDetail, RunPage
from app.services.after_payment import reconciliation as service
from app.services.after_payment.reconciliation_files import BUILT_IN
from app.services.operations import jobs

router = APIRouter(prefix="/admin/v1/reconciliations", tags=["admin"], dependencies=[AdminDep])

ADMIN_PROBLEMS = {
    401: "`unauthorized`: missing or wrong operator token.",
    503: "`admin_disabled`: PAYBRIDGE_ADMIN_TOKEN is not set.",
}
_FIELDS = {
    "provider": {"type": "string", "enum": sorted(BUILT_IN)},
    "account_id": {"type": "string", "description": "The gateway account the file belongs to."},
    "date": {"type": "string", "format": "date", "description": "The day (GMT+7) the file covers."},
    "mapping": {
        "type": "string",
        "description": "Optional JSON object overriding the built-in column mapping: amount, reference, "
        "transaction_id, status, success (list), amount_divisor, reference_pattern.",
    },
}
UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["provider", "account_id", "date", "file"],
                    "properties": {**_FIELDS, "file": {"type": "string", "format": "binary"}},
                }
            },
            "text/csv": {
                "schema": {"type": "string"},
                "description": "The raw file; provider, account_id, date (and mapping) as query parameters.",
            },
        },
    }
}


def _required(values: dict[str, Any], name: str) -> str:
    value = values.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed(f"{name} is required.", errors=[{"field": name, "message": "required"}])
    return value.strip()


async def _upload(request: Request) -> service.Upload:
    values: dict[str, Any] = dict(request.query_params)
    content_type = request.headers.get("content-type", "")
    filename = None
    if content_type.startswith("multipart/form-data"):
        async with request.form(max_files=1, max_fields=10) as form:  # closes the spooled file
            values.update({k: v for k, v in form.items() if isinstance(v, str)})
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise ValidationFailed(
                    "Attach the file as 'file'.", errors=[{"field": "file", "message": "required"}]
                )
            content, filename = await upload.read(), upload.filename
    else:
        content = await request.body()
    try:
        day = TypeAdapter(dt.date).validate_python(_required(values, "date"))
    except ValidationError:
        raise ValidationFailed(errors=[{"field": "date", "message": "must be YYYY-MM-DD"}]) from None
    mapping = None
    if values.get("mapping"):
        try:
            mapping = orjson.loads(values["mapping"])
        except orjson.JSONDecodeError:
            mapping = None
        if not isinstance(mapping, dict):
            raise ValidationFailed(errors=[{"field": "mapping", "message": "must be a JSON object"}])
    return service.Upload(
        provider=_required(values, "provider"),
        account_id=_required(values, "account_id"),
        day=day,
        content=content,
        filename=filename,
        mapping=mapping,
    )


@router.post(
    "",
    status_code=201,
    response_model=RunDetail,
    summary="Reconcile a gateway's transaction file",
    openapi_extra=UPLOAD_BODY,
    responses={
        200: {"description": "This very file was imported before: its run, unchanged.", "model": RunDetail},
        **JOB_ACCEPTED,
        **problems(
            {
                **ADMIN_PROBLEMS,
                413: "`payload_too_large`: the file is too large.",
                422: "`reconciliation_file_invalid`: malformed file — `errors` names each bad line "
                "(`field` is `line N`); `validation_error`: missing provider/account_id/date, an account "
                "of another gateway, or a bad mapping.",
            }
        ),
    },
)
async def upload_file(request: Request, container: ContainerDep) -> Response:
    """Match each row of a day's file by our reference or the gateway's id; a re-import changes nothing.
    With `Prefer: respond-async`, or a file over 512 KiB: `202` and a job to follow."""
    upload = await _upload(request)
    if jobs.run_as_job(request.headers.get("prefer"), size=len(upload.content)):
        params = {
            "provider": upload.provider,
            "account_id": upload.account_id,
            "day": upload.day.isoformat(),
            "filename": upload.filename,
            "mapping": upload.mapping,
        }
        kind = jobs.JobKind.reconciliation_file
        return accepted(await jobs.enqueue(container, kind, params=params, payload=upload.content))
    run, created = await service.import_file(container, upload)
    return Response(orjson.dumps(run), status_code=201 if created else 200, media_type="application/json")


@router.get(
    "", response_model=RunPage, summary="List reconciliation runs", responses=problems(ADMIN_PROBLEMS)
)
async def list_runs(
    container: ContainerDep,
    provider: str | None = None,
    date: dt.date | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    """Reconciliation runs, newest first, with their counts per item status."""
    data, next_cursor = await service.list_runs(
        container, provider=provider, day=date, limit=limit, cursor=cursor
    )
    return {"data": data, "next_cursor": next_cursor}


@router.get(
    "/{run_id}",
    response_model=RunDetail,
    summary="A reconciliation run and its items",
    responses={
        200: {"content": {"text/csv": {}}, "description": "JSON, or CSV with `format=csv`."},
        **problems({**ADMIN_PROBLEMS, 404: "`not_found`: no such run."}),
    },
)
async def get_run(
    run_id: str,
    container: ContainerDep,
    status: ItemStatus | None = None,
    format: Literal["json", "csv"] = "json",
) -> Response:
    """One run with its items (optionally of one status), as JSON or CSV."""
    run = await service.get_run(container, run_id, status)
    if format == "csv":
        disposition = f'attachment; filename="reconciliation-{run_id}.csv"'
        return Response(
            service.items_csv(run),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": disposition},
        )
    return Response(orjson.dumps(run), media_type="application/json")
