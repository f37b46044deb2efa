"""OpenAPI helpers: document every problem+json error a route can answer, with its codes."""

from __future__ import annotations

from typing import Any

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string", "description": "Stable machine-readable error code"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
    "additionalProperties": True,
}


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
