"""The state machines, enforced by compare-and-set updates.

Payment: ``pending → succeeded → (partially_refunded | refunded)``, ``pending → expired``,
``pending → cancelled``; a verified late success moves ``expired|cancelled → succeeded`` (money
moved: the fact wins, flagged ``late``). Attempt: ``pending|unknown → succeeded | failed |
expired | cancelled``; a verified success is accepted from any non-succeeded state.

Every transition is ``UPDATE … WHERE id = :id AND status IN (:allowed)``: whoever loses the race
changes nothing, so duplicate and out-of-order callbacks are harmless. At most one attempt of a
payment succeeds for it; a second success is recorded as ``payment.duplicate_paid``.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.adapters.base import Outcome
from app.models import Attempt, Payment
from app.services.notifications.events import emit_event

PAYMENT_FINAL_PAID = ("succeeded", "partially_refunded", "refunded")
ATTEMPT_OPEN = ("pending", "unknown")


class Applied(StrEnum):
    """What applying a gateway outcome did."""

    succeeded = "succeeded"  # the payment is now paid by this attempt
    late_success = "late_success"  # paid after expiry/cancellation: accepted and flagged
    duplicate_paid = "duplicate_paid"  # another attempt had already paid: flagged for refund
    failed = "failed"  # the attempt ended without payment
    unchanged = "unchanged"  # a duplicate or an outcome that changes nothing


async def cas_payment(
    session: AsyncSession, payment_id: str, allowed: Collection[str], values: dict[str, Any]
) -> bool:
    result = await session.execute(
        update(Payment)
        .where(Payment.id == payment_id, Payment.status.in_(tuple(allowed)))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def cas_attempt(
    session: AsyncSession, attempt_id: str, allowed: Collection[str], values: dict[str, Any]
) -> bool:
    result = await session.execute(
        update(Attempt)
        .where(Attempt.id == attempt_id, Attempt.status.in_(tuple(allowed)))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


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
    if fact.outcome is Outcome.succeeded:
        return await _apply_success(session, attempt_id, fact, now=now, render=render)
    if fact.outcome in (Outcome.failed, Outcome.cancelled, Outcome.expired):
        changed = await cas_attempt(
            session,
            attempt_id,
            ATTEMPT_OPEN,
            {
                "status": fact.outcome.value,
                "failure_code": fact.code,
                "failure_message": (fact.message or "")[:500] or None,
                "provider_transaction_id": fact.provider_transaction_id,
                "completed_at": now,
                "updated_at": now,
                "next_check_at": None,
            },
        )
        return Applied.failed if changed else Applied.unchanged
    if fact.outcome is Outcome.pending:
        # A clear "still pending" settles an earlier ambiguity.
        await cas_attempt(session, attempt_id, ("unknown",), {"status": "pending", "updated_at": now})
        return Applied.unchanged
    return Applied.unchanged


async def _apply_success(
    session: AsyncSession, attempt_id: str, fact: GatewayFact, *, now: datetime, render: Any
) -> Applied:
    attempt_values: dict[str, Any] = {
        "status": "succeeded",
        "completed_at": fact.paid_at or now,
        "updated_at": now,
        "next_check_at": None,
        "failure_code": None,
        "failure_message": None,
    }
    if fact.provider_transaction_id:
        attempt_values["provider_transaction_id"] = fact.provider_transaction_id
    # Compare-and-set and read back what the next steps need in the same round trip.
    won = (
        await session.execute(
            update(Attempt)
            .where(
                Attempt.id == attempt_id,
                Attempt.status.in_(("pending", "unknown", "failed", "expired", "cancelled")),
            )
            .values(**attempt_values)
            .returning(Attempt.payment_id, Attempt.amount)
            .execution_options(synchronize_session=False)
        )
    ).first()
    if won is None:
        return Applied.unchanged  # this attempt already succeeded: a duplicate callback
    payment_id, amount = won.payment_id, won.amount
    paid_values = {
        "status": "succeeded",
        "succeeded_attempt_id": attempt_id,
        "channel": "online",
        "paid_at": fact.paid_at or now,
        "updated_at": now,
    }
    client_id = await _cas_payment_client(session, payment_id, ("pending",), paid_values)
    if client_id is not None:
        await _emit(session, "payment.succeeded", payment_id, client_id, now, render)
        return Applied.succeeded
    client_id = await _cas_payment_client(session, payment_id, ("expired", "cancelled"), paid_values)
    if client_id is not None:
        await cas_attempt(session, attempt_id, ("succeeded",), {"late": True})
        await _emit(session, "payment.succeeded", payment_id, client_id, now, render)
        return Applied.late_success
    # Someone else paid it already (another attempt, or at the counter): the citizen paid twice.
    await cas_attempt(session, attempt_id, ("succeeded",), {"duplicate_paid": True})
    client_id = (
        await session.execute(select(Payment.client_id).where(Payment.id == payment_id))
    ).scalar_one()
    await _emit(
        session,
        "payment.duplicate_paid",
        payment_id,
        client_id,
        now,
        render,
        extra={"duplicate_attempt_id": attempt_id, "amount": amount},
    )
    return Applied.duplicate_paid


async def _cas_payment_client(
    session: AsyncSession, payment_id: str, allowed: Collection[str], values: dict[str, Any]
) -> str | None:
    """:func:`cas_payment` that answers the payment's client id when it changed the row (else None)."""
    result = await session.execute(
        update(Payment)
        .where(Payment.id == payment_id, Payment.status.in_(tuple(allowed)))
        .values(**values)
        .returning(Payment.client_id)
        .execution_options(synchronize_session=False)
    )
    client_id: str | None = result.scalar_one_or_none()
    return client_id


async def _emit(
    session: AsyncSession,
    type: str,
    payment_id: str,
    client_id: str,
    now: datetime,
    render: Any,
    extra: dict[str, Any] | None = None,
) -> None:
    data = await render(session, payment_id)
    if extra:
        data = {**data, **extra}
    await emit_event(session, type=type, client_id=client_id, payment_id=payment_id, data=data, now=now)
