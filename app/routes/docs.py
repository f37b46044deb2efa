"""OpenAPI helpers: document every problem+json error a route can answer, with its codes."""

from __future__ import annotations

from typing import Any

from app.errors import PROBLEM_SCHEMA


def problems(spec: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    """``{409: "`duplicate_bill`: …"}`` → FastAPI ``responses=`` entries (problem+json)."""
    return {
        status: {
            "description": description,
            "content": {"application/problem+json": {"schema": PROBLEM_SCHEMA}},
        }
        for status, description in spec.items()
    }


AUTH_PROBLEMS = {
    401: "`unauthorized`: missing, unknown, expired or disabled API key.",
    429: "`rate_limited`: too many failed authentications from this address (see Retry-After).",
}
