"""Applying a gateway's verdict to an attempt and its payment (the rules; the transitions are
declared in ``app.domain.transitions`` and applied by ``app.stores.transitions``).

Lock order: the payment row first, then its attempt (as cancel, record-offline and expiry do).
At most one attempt of a payment succeeds for it; a second success is recorded as
``payment.duplicate_paid``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.adapters.base import Outcome
from app.domain import transitions as T
from app.domain.states import PAID, AttemptStatus, EventType
from app.models import Attempt
from app.services.notifications.events import emit_event
from app.stores.transitions import apply, apply_returning, lock_payment_of_attempt

PAYMENT_FINAL_PAID = PAID  # the name app.services.after_payment.receipts imports


class Applied(StrEnum):
    """What applying a gateway outcome did."""

    succeeded = "succeeded"  # the payment is now paid by this attempt
    late_success = "late_success"  # paid after expiry/cancellation: accepted and flagged
    duplicate_paid = "duplicate_paid"  # another attempt had already paid: flagged for refund
    failed = "failed"  # the attempt ended without payment
    unchanged = "unchanged"  # a duplicate or an outcome that changes nothing


@dataclass(frozen=True)
class GatewayFact:
    """A verified statement from a gateway about one attempt."""

    outcome: Outcome
    provider_transaction_id: str | None = None
    code: str | None = None
    message: str | None = None
    paid_at: datetime | None = None


async def apply_outcome(
    session: AsyncSession,
    attempt_id: str,
    fact: GatewayFact,
    *,
    now: datetime,
    render: Any,
) -> Applied:
    """Apply a verified gateway outcome to an attempt and its payment, with events, in the
    caller's transaction. ``render(session, payment_id)`` gives the payment resource for events."""
    payment = await lock_payment_of_attempt(session, attempt_id)  # lock order: payment first
    if payment is None:
        return Applied.unchanged
    if fact.outcome is Outcome.succeeded:
        return await _apply_success(session, attempt_id, payment.client_id, fact, now=now, render=render)
    if fact.outcome in (Outcome.failed, Outcome.cancelled, Outcome.expired):
        changed = await apply(
            session,
            T.ATTEMPT_ENDED[AttemptStatus(fact.outcome.value)],
            attempt_id,
            failure_code=fact.code,
            failure_message=(fact.message or "")[:500] or None,
            provider_transaction_id=fact.provider_transaction_id,
            now=now,
        )
        return Applied.failed if changed else Applied.unchanged
    if fact.outcome is Outcome.pending:
        await apply(session, T.ATTEMPT_SETTLE_UNKNOWN, attempt_id, now=now)
    return Applied.unchanged


async def _apply_success(
    session: AsyncSession, attempt_id: str, client_id: str, fact: GatewayFact, *, now: datetime, render: Any
) -> Applied:
    paid_at = fact.paid_at or now
    won = await apply_returning(
        session,
        T.ATTEMPT_SUCCEED,
        attempt_id,
        (Attempt.payment_id, Attempt.amount),
        paid_at=paid_at,
        provider_transaction_id=fact.provider_transaction_id or None,
        now=now,
    )
    if won is None:
        return Applied.unchanged  # this attempt already succeeded: a duplicate callback
    payment_id, amount = won.payment_id, won.amount
    paid = {"attempt_id": attempt_id, "paid_at": paid_at, "now": now}
    if await apply(session, T.PAY_ONLINE, payment_id, **paid):
        await _emit(session, T.PAY_ONLINE, payment_id, client_id, now, render)
        return Applied.succeeded
    if await apply(session, T.PAY_LATE, payment_id, **paid):
        await apply(session, T.ATTEMPT_FLAG_LATE, attempt_id)
        await _emit(session, T.PAY_LATE, payment_id, client_id, now, render)
        return Applied.late_success
    # Someone else paid it already (another attempt, or at the counter): the citizen paid twice.
    await apply(session, T.ATTEMPT_FLAG_DUPLICATE, attempt_id)
    data = await render(session, payment_id)
    await emit_event(
        session,
        type=EventType.payment_duplicate_paid,
        client_id=client_id,
        payment_id=payment_id,
        data={**data, "duplicate_attempt_id": attempt_id, "amount": amount},
        now=now,
    )
    return Applied.duplicate_paid


async def _emit(
    session: AsyncSession, t: T.Transition, payment_id: str, client_id: str, now: datetime, render: Any
) -> None:
    assert t.event is not None
    data = await render(session, payment_id)
    await emit_event(session, type=t.event, client_id=client_id, payment_id=payment_id, data=data, now=now)
