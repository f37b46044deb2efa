"""Payments (bills), their line items, attempts at gateways, events and idempotency records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.domain.states import (
    BLOCKING,
    AttemptStatus,
    Channel,
    EventType,
    IdempotencyState,
    PaymentStatus,
)
from app.models.base import EMPTY_OBJECT, NOW, Base, BigIntPK, enum_check, enum_column, utcnow

# Statuses in which a bill blocks another payment for the same (agency, dossier, bill).
_BLOCKING_SQL = "status IN (" + ", ".join(f"'{s.value}'" for s in BLOCKING) + ")"


class Payment(Base):
    __tablename__ = "payments"
    __table_args__ = (
        # One bill, one payment: enforced by the database, not by a read-then-write check.
        Index(
            "uq_payments_open_bill",
            "agency_id",
            "dossier_code",
            "bill_key",
            unique=True,
            postgresql_where=text(_BLOCKING_SQL),
        ),
        Index("ix_payments_client_created", "client_id", "created_at", "id"),
        Index("ix_payments_agency_created", "agency_id", "created_at"),
        Index("ix_payments_status_expires", "status", "expires_at"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("refunded_amount >= 0 AND refunded_amount <= amount", name="refund_bounds"),
        enum_check("status", PaymentStatus),
        enum_check("channel", Channel),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    dossier_code: Mapped[str] = mapped_column(String(100), index=True)
    bill_code: Mapped[str | None] = mapped_column(String(100))
    # bill_code or "" so that the uniqueness above treats "no bill code" as one value.
    bill_key: Mapped[str] = mapped_column(String(100))
    procedure_code: Mapped[str | None] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(String(500))
    payer: Mapped[dict[str, Any]] = mapped_column()
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="VND", server_default="VND")
    status: Mapped[PaymentStatus] = enum_column(PaymentStatus, 24, PaymentStatus.pending)
    provider: Mapped[str | None] = mapped_column(String(32))
    return_url: Mapped[str | None] = mapped_column(String(2000))
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict, server_default=EMPTY_OBJECT)
    # Random token in the hosted checkout link (unguessable).
    checkout_token: Mapped[str] = mapped_column(String(64), unique=True)
    # online | offline — how the money was collected (offline counts as paid, not online).
    channel: Mapped[Channel | None] = enum_column(Channel, 16)
    offline: Mapped[dict[str, Any] | None] = mapped_column()
    exempt: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    succeeded_attempt_id: Mapped[str | None] = mapped_column(String(40))
    refunded_amount: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
    expires_at: Mapped[datetime]
    paid_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=NOW)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=NOW)


class PaymentItem(Base):
    __tablename__ = "payment_items"
    __table_args__ = (
        UniqueConstraint("payment_id", "position"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    payment_id: Mapped[str] = mapped_column(ForeignKey("payments.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    # The exact catalogue version in force when the bill was made (receipts render from it).
    revenue_type_id: Mapped[int] = mapped_column(ForeignKey("revenue_types.id"))
    revenue_type_code: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(BigInteger)
    description: Mapped[str | None] = mapped_column(String(500))


class Attempt(Base):
    """One try at one gateway for a payment."""

    __tablename__ = "attempts"
    __table_args__ = (
        Index("ix_attempts_payment", "payment_id", "created_at"),
        Index("ix_attempts_due_check", "status", "next_check_at"),
        enum_check("status", AttemptStatus),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    payment_id: Mapped[str] = mapped_column(ForeignKey("payments.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(32))
    provider_account_id: Mapped[str | None] = mapped_column(ForeignKey("provider_accounts.id"))
    # Our reference sent to the gateway (unique across all gateways).
    reference: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[AttemptStatus] = enum_column(AttemptStatus, 16, AttemptStatus.pending)
    amount: Mapped[int] = mapped_column(BigInteger)
    provider_transaction_id: Mapped[str | None] = mapped_column(String(128))
    checkout_url: Mapped[str | None] = mapped_column(Text)
    qr_payload: Mapped[str | None] = mapped_column(Text)
    # The exact strings we signed or sent that later calls must repeat (e.g. DVCQG ThoiGianGD).
    wire: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default=EMPTY_OBJECT)
    # Raw request/response of the create call, for audit.
    raw_request: Mapped[str | None] = mapped_column(Text)
    raw_response: Mapped[str | None] = mapped_column(Text)
    failure_code: Mapped[str | None] = mapped_column(String(64))
    failure_message: Mapped[str | None] = mapped_column(String(500))
    # A success that arrived when another attempt had already succeeded (citizen paid twice).
    duplicate_paid: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # A success that arrived after the payment expired or was cancelled.
    late: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    next_check_at: Mapped[datetime | None]
    check_count: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    completed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=NOW)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=NOW)


class Event(Base):
    """Append-only record of a state change; it feeds webhooks and the event feed."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_client_seq", "client_id", "seq"), enum_check("type", EventType))

    seq: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(40), unique=True)
    type: Mapped[EventType] = enum_column(EventType, 64)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"))
    payment_id: Mapped[str | None] = mapped_column(ForeignKey("payments.id"), index=True)
    data: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=NOW)


class IdempotencyRecord(Base):
    """The first response to a client's Idempotency-Key, replayed for retries."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("client_id", "scope", "key"), enum_check("state", IdempotencyState))

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    # in_progress until the first request finished; then completed with the stored response.
    state: Mapped[IdempotencyState] = enum_column(IdempotencyState, 16, IdempotencyState.in_progress)
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[str | None] = mapped_column(Text)
    # The resource this key created, written in the resource's own transaction (crash recovery).
    resource_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=NOW)
    expires_at: Mapped[datetime] = mapped_column(index=True)
