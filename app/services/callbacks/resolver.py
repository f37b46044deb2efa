"""The resolver: attempts pending or unknown beyond a threshold are settled by asking the gateway.

Schedule: first check about a minute after the attempt opened, then spreading out (2, 5, 10, 30
minutes, 1, 2, 4, 8, 12 hours, then daily) for up to three days. Rows are claimed with a short
lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so several workers share the work and none
does a row twice; the gateway is called with no transaction open.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from app.adapters.base import Capability, GatewayError, NotSupported, Outcome
from app.container import Container
from app.domain.states import ATTEMPT_OPEN
from app.models import Attempt, ProviderAccount
from app.services.catalogue.gateway_accounts import adapter_for, present
from app.services.payments.attempts import attempt_ref
from app.services.payments.transitions import Applied, GatewayFact, apply_outcome
from app.services.payments.views import renderer
from app.stores import payments, retry_transient

log = logging.getLogger("paybridge.resolver")

BACKOFF = [
    timedelta(minutes=2),
    timedelta(minutes=5),
    timedelta(minutes=10),
    timedelta(minutes=30),
    timedelta(hours=1),
    timedelta(hours=2),
    timedelta(hours=4),
    timedelta(hours=8),
    timedelta(hours=12),
]
DAILY = timedelta(hours=24)
GIVE_UP_AFTER = timedelta(days=3)
LEASE = timedelta(minutes=2)
BATCH = 50


def next_check(created_at: datetime, checks_done: int, now: datetime) -> datetime | None:
    """When to ask again after ``checks_done`` checks; None once three days have passed."""
    delay = BACKOFF[checks_done - 1] if 0 < checks_done <= len(BACKOFF) else DAILY
    at = now + delay
    return None if at > created_at + GIVE_UP_AFTER else at


async def _claim(container: Container, now: datetime) -> list[str]:
    async with container.db.transaction() as session:
        return await payments.lease_due_attempts(session, now, now + LEASE, BATCH)


async def resolve_attempt(container: Container, attempt_id: str) -> Applied | None:
    """Query the gateway once about one attempt and apply what it says. None: nothing learned."""
    async with container.db.session() as session:
        attempt = await session.get(Attempt, attempt_id)
        if attempt is None or attempt.status not in ATTEMPT_OPEN:
            return None
        row = await session.get(ProviderAccount, attempt.provider_account_id)
    if row is None:
        return None
    adapter = adapter_for(attempt.provider)
    now = container.clock()
    if Capability.query not in adapter.capabilities:
        return None
    started = asyncio.get_running_loop().time()
    label = "ok"
    try:
        result = await asyncio.wait_for(
            adapter.query(present(container, row), attempt_ref(attempt), container.http),
            timeout=container.settings.gateway_timeout_seconds + 1,
        )
    except NotSupported:
        return None
    except (GatewayError, TimeoutError) as exc:
        label = "error"
        log.info("status query failed", extra={"provider": attempt.provider, "error": type(exc).__name__})
        await _reschedule(container, attempt, now)
        return None
    finally:
        container.metrics.gateway_calls.labels(attempt.provider, "query", label).observe(
            asyncio.get_running_loop().time() - started
        )
    if result.outcome is Outcome.succeeded and result.amount is not None and result.amount != attempt.amount:
        log.warning(
            "query amount mismatch", extra={"provider": attempt.provider, "reference": attempt.reference}
        )
        await _reschedule(container, attempt, now)
        return None
    fact = GatewayFact(
        outcome=result.outcome,
        provider_transaction_id=result.provider_transaction_id,
        code=result.code,
        message=result.message,
        paid_at=result.paid_at,
    )

    async def apply_it() -> Applied:
        async with container.db.transaction() as session:
            return await apply_outcome(
                session, attempt.id, fact, now=now, render=renderer(container.settings.public_base_url)
            )

    applied = await retry_transient(apply_it)
    if result.outcome in (Outcome.pending, Outcome.unknown):
        await _reschedule(container, attempt, now)
    return applied


async def _reschedule(container: Container, attempt: Attempt, now: datetime) -> None:
    checks = attempt.check_count + 1
    async with container.db.transaction() as session:
        await payments.reschedule_check(
            session, attempt.id, checks, next_check(attempt.created_at, checks, now)
        )


async def resolve_due(container: Container) -> int:
    """Worker job: one batch of due attempts."""
    ids = await _claim(container, container.clock())
    for attempt_id in ids:
        await resolve_attempt(container, attempt_id)
    return len(ids)
