"""Readiness: can we reach the database, and is its schema the one this code expects?"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from app.container import Container
from app.stores import schema


async def readiness(container: Container) -> tuple[bool, dict[str, Any]]:
    try:
        async with asyncio.timeout(3):
            async with container.db.session() as session:
                revisions = await schema.revisions(session)
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        reason = "migrations not applied" if "alembic_version" in str(exc) else "database unreachable"
        return False, {"reason": reason}
    current = revisions[0] if revisions else None
    if current != container.expected_revision:
        return False, {
            "reason": "migrations not at head",
            "database_revision": current,
            "expected_revision": container.expected_revision,
        }
    return True, {"database_revision": current}
