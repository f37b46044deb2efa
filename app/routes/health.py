"""Operations: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from app.deps import ContainerDep, MetricsDep
from app.errors import problem_type
from app.services.operations.health import readiness

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    """Liveness: answers 200 while the process runs (it does not touch the database)."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: database reachable and migrated",
    responses={503: {"description": "Database unreachable or migrations not at head"}},
)
async def readyz(container: ContainerDep) -> Response:
    """Readiness: 200 when the database answers and its schema is at the migration head, else 503."""
    ok, body = await readiness(container)
    payload: dict[str, Any] = {"status": "ready" if ok else "not_ready", **body}
    if ok:
        return JSONResponse(payload)
    return JSONResponse(
        {
            "type": problem_type("not_ready"),
            "title": "Not ready",
            "status": 503,
            "detail": body.get("reason", "not ready"),
            "code": "not_ready",
            "instance": "/readyz",
            **payload,
        },
        status_code=503,
        media_type="application/problem+json",
    )


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    dependencies=[MetricsDep],
    responses={
        401: {"description": "`unauthorized`: PAYBRIDGE_METRICS_TOKEN is set and was not sent"},
        503: {"description": "`metrics_disabled`: production without PAYBRIDGE_METRICS_TOKEN"},
    },
)
async def metrics(request: Request) -> Response:
    """Prometheus text exposition: requests by route and status, latency histogram, callbacks, webhooks.
    In production it needs `Authorization: Bearer <PAYBRIDGE_METRICS_TOKEN>`; open in development."""
    return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE_LATEST)
