"""Cursor pagination for the catalogue lists: a page and an opaque cursor to the next one."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Generic, TypeVar

from app.errors import ValidationFailed

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list and the opaque cursor of the next one (None at the end)."""

    items: list[T]
    next_cursor: str | None


def encode_cursor(*parts: str) -> str:
    return base64.urlsafe_b64encode("\x1f".join(parts).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, arity: int) -> list[str] | None:
    """The key a cursor stands for; a cursor we did not make is a 422 naming ``cursor``."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw = None
    parts = raw.split("\x1f") if raw is not None else []
    if len(parts) != arity:
        raise ValidationFailed(
            "Invalid cursor.", errors=[{"field": "cursor", "message": "not a cursor from this list"}]
        )
    return parts
