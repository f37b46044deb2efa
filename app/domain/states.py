"""Every status and closed vocabulary of the payment core, as ``StrEnum``s.

The models type their columns with these, a CHECK constraint per column keeps the database to the
same values (``app.models.base.enum_check``), and the transition declarations name their from- and
to-states with them. A ``StrEnum`` member *is* its string, so JSON bodies and SQL parameters carry
the plain value.
"""

from __future__ import annotations

from enum import StrEnum


class PaymentStatus(StrEnum):
    pending = "pending"
    succeeded = "succeeded"
    partially_refunded = "partially_refunded"
    refunded = "refunded"
    expired = "expired"
    cancelled = "cancelled"


class AttemptStatus(StrEnum):
    pending = "pending"
    # A gateway call timed out or answered ambiguously: settled by a status query, never guessed.
    unknown = "unknown"
    succeeded = "succeeded"
    failed = "failed"
    expired = "expired"
    cancelled = "cancelled"


class RefundState(StrEnum):
    """A refund's status (the adapters' ``RefundStatus`` is what a gateway said; this is ours)."""

    pending = "pending"
    unknown = "unknown"
    succeeded = "succeeded"
    failed = "failed"


class Channel(StrEnum):
    """How the money of a paid payment was collected (offline counts as paid, not online)."""

    online = "online"
    offline = "offline"


class RefundOrigin(StrEnum):
    client = "client"  # asked for through the API; counts against the payment's amount
    duplicate_paid = "duplicate_paid"  # the second payment of a citizen who paid twice


class RefundMethod(StrEnum):
    gateway = "gateway"
    manual = "manual"


class DeliveryStatus(StrEnum):
    pending = "pending"
    delivered = "delivered"
    dead = "dead"


class IdempotencyState(StrEnum):
    in_progress = "in_progress"
    completed = "completed"


class EventType(StrEnum):
    payment_succeeded = "payment.succeeded"
    payment_expired = "payment.expired"
    payment_cancelled = "payment.cancelled"
    payment_refunded = "payment.refunded"
    payment_duplicate_paid = "payment.duplicate_paid"
    refund_succeeded = "refund.succeeded"
    refund_failed = "refund.failed"


# A payment whose money arrived (and possibly partly or wholly went back).
PAID = (PaymentStatus.succeeded, PaymentStatus.partially_refunded, PaymentStatus.refunded)
# Statuses in which a bill blocks another payment for the same (agency, dossier, bill).
BLOCKING = (PaymentStatus.pending, *PAID)
# An attempt still waiting for the gateway's verdict.
ATTEMPT_OPEN = (AttemptStatus.pending, AttemptStatus.unknown)
REFUND_OPEN = (RefundState.pending, RefundState.unknown)
