"""The webhook job alone, draining the outbox: ``python bench/dispatch.py TIME_LIMIT_SECONDS``.

It runs ``app.services.notifications.webhooks.dispatch_due`` in a loop exactly as the worker does
(a full batch runs again at once) until nothing is due, and prints one ``BENCH_JSON`` line with the deliveries
per second measured from the database rows.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from sqlalchemy import func, select

from app.bootstrap import close_container, make_container
from app.config import Settings
from app.models import WebhookDelivery


async def main(limit_seconds: float) -> None:
    from app.services.notifications.webhooks import dispatch_due

    container = make_container(Settings())
    try:
        start, cpu_start = time.perf_counter(), time.process_time()
        batches = 0
        while time.perf_counter() - start < limit_seconds:
            batches += 1
            if await dispatch_due(container) == 0:
                break
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu_start
        async with container.db.session() as session:
            counts = dict(
                (
                    await session.execute(
                        select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)
                    )
                )
                .tuples()
                .all()
            )
    finally:
        await close_container(container)
    delivered = counts.get("delivered", 0)
    print(
        "BENCH_JSON "
        + json.dumps(
            {
                "delivered": delivered,
                "statuses": counts,
                "seconds": round(elapsed, 2),
                "batches": batches,
                "per_second": round(delivered / elapsed, 1) if elapsed else 0.0,
                "cpu_ms_per_delivery": round(1000 * cpu / delivered, 3) if delivered else None,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1])))
