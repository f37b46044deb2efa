"""How long work reports how far it has got: ``await progress(done, total)``.

Long operations (catalogue imports, reconciliation files, bulk redelivery) take an optional
:data:`Progress` and call it as they go; the job runner stores it on the job row (``GET
/admin/v1/jobs/{id}``, the dashboard's progress bars) and the CLI draws a bar with it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

Progress = Callable[[int, int], Awaitable[None]]


async def no_progress(done: int, total: int) -> None:
    """The default: nobody is watching."""
