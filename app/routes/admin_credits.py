"""Operator API: money that could not be attributed automatically."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from app.deps import AdminDep, ContainerDep
from app.routes.docs import problems
from app.schemas.credits import ResolveBody
from app.services.callbacks.unmatched import list_unmatched, resolve_unmatched

router = APIRouter(prefix="/admin/v1/unmatched-credits", tags=["admin"], dependencies=[AdminDep])


@router.get("", summary="Unmatched bank credits and notifications")
async def unmatched_credits(
    container: ContainerDep,
    include_resolved: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """Verified credits we could not match: unknown reference, wrong amount, or paid twice."""
    return {
        "data": await list_unmatched(container, include_resolved=include_resolved, limit=limit),
        "next_cursor": None,
    }


@router.post(
    "/{credit_id}/resolve",
    summary="Resolve an unmatched credit",
    responses=problems({404: "`not_found`", 409: "`invalid_state`: already resolved"}),
)
async def resolve(credit_id: int, body: ResolveBody, container: ContainerDep) -> dict[str, Any]:
    """Record what an operator did about an unmatched credit."""
    return await resolve_unmatched(container, credit_id, body.note)
