"""Money after the payment: refunds, e-receipts (biên lai) and reconciliation against gateway files."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
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

from app.domain.states import RefundMethod, RefundOrigin, RefundState
from app.models.base import EMPTY_OBJECT, NOW, Base, BigIntPK, enum_check, enum_column, utcnow


class Refund(Base):
    """Money sent back for one attempt of a payment, through the gateway or by hand.

    ``origin`` is ``client`` (asked for through the API, counts against the payment's amount) or
    ``duplicate_paid`` (the second payment of a citizen who paid twice: outside the bill's amount).
    ``method`` is ``gateway`` (the adapter's refund API) or ``manual`` (no API: an operator
    confirms that the money went back). Status: pending → succeeded | failed, and ``unknown``
    when the gateway's answer was ambiguous (resolved by a refund query).
    """

    __tablename__ = "refunds"
    __table_args__ = (
        # One refund per client Idempotency-Key (or per duplicate attempt: "duplicate_paid:<id>").
        UniqueConstraint("payment_id", "idempotency_key"),
        Index("ix_refunds_payment", "payment_id", "created_at"),
        Index("ix_refunds_due_check", "status", "next_check_at"),
        CheckConstraint("amount > 0", name="amount_positive"),
        enum_check("status", RefundState),
        enum_check("origin", RefundOrigin),
        enum_check("method", RefundMethod),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    payment_id: Mapped[str] = mapped_column(ForeignKey("payments.id", ondelete="CASCADE"))
    attempt_id: Mapped[str] = mapped_column(ForeignKey("attempts.id"), index=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"))
    provider: Mapped[str] = mapped_column(String(32))
    provider_account_id: Mapped[str | None] = mapped_column(ForeignKey("provider_accounts.id"))
    # Our unique reference sent to the gateway for this refund.
    reference: Mapped[str] = mapped_column(String(64), unique=True)
    idempotency_key: Mapped[str] = mapped_column(String(300))
    origin: Mapped[RefundOrigin] = enum_column(RefundOrigin, 16, RefundOrigin.client)
    method: Mapped[RefundMethod] = enum_column(RefundMethod, 16, RefundMethod.gateway)
    amount: Mapped[int] = mapped_column(BigInteger)
    # The whole paid amount of the attempt (some gateways distinguish full from partial).
    full: Mapped[bool] = mapped_column(default=False, server_default=false())
    reason: Mapped[str] = mapped_column(String(500))
    status: Mapped[RefundState] = enum_column(RefundState, 16, RefundState.pending)
    provider_refund_id: Mapped[str | None] = mapped_column(String(128))
    # Strings the gateway's refund query must repeat (RefundResult.wire).
    wire: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default=EMPTY_OBJECT)
    raw_response: Mapped[str | None] = mapped_column(Text)
    failure_code: Mapped[str | None] = mapped_column(String(64))
    failure_message: Mapped[str | None] = mapped_column(String(500))
    # Manual refunds: the operator's confirmation.
    operator_note: Mapped[str | None] = mapped_column(String(1000))
    confirmed_at: Mapped[datetime | None]
    next_check_at: Mapped[datetime | None]
    check_count: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    completed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=NOW)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=NOW)


class ReceiptSeries(Base):
    """A numbering series of e-receipts of one agency: form number (mẫu số), symbol (ký hiệu), year.

    ``next_number`` is taken with ``UPDATE … SET next_number = next_number + 1 RETURNING`` in the
    transaction that inserts the receipt, so numbers never repeat and never skip.
    """

    __tablename__ = "receipt_series"
    __table_args__ = (
        UniqueConstraint("agency_id", "form_number", "symbol", "year"),
        CheckConstraint("next_number >= 1", name="next_number_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    form_number: Mapped[str] = mapped_column(String(32))
    symbol: Mapped[str] = mapped_column(String(32))
    year: Mapped[int] = mapped_column(Integer)
    next_number: Mapped[int] = mapped_column(BigInteger, default=1, server_default=text("1"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=NOW)


class Receipt(Base):
    """One e-receipt (biên lai điện tử) for the items of one kind (phí, lệ phí, …) of a payment.

    Issued once and then reused; it keeps a snapshot of what it certifies so that it renders the
    same way forever.
    """

    __tablename__ = "receipts"
    __table_args__ = (
        UniqueConstraint("payment_id", "kind"),
        UniqueConstraint("series_id", "number"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    payment_id: Mapped[str] = mapped_column(ForeignKey("payments.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    series_id: Mapped[int] = mapped_column(ForeignKey("receipt_series.id"))
    form_number: Mapped[str] = mapped_column(String(32))
    symbol: Mapped[str] = mapped_column(String(32))
    number: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[int] = mapped_column(BigInteger)
    # Snapshot: agency, payer, items (code, name, amount, description), attempt and gateway.
    content: Mapped[dict[str, Any]] = mapped_column()
    # The gateway's own receipt (DVCQG GET_BILL, PayGov), when it has one; fetched lazily.
    gateway_receipt_url: Mapped[str | None] = mapped_column(Text)
    gateway_receipt: Mapped[dict[str, Any] | None] = mapped_column()
    gateway_receipt_checked_at: Mapped[datetime | None]
    issued_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=NOW)


class ReconciliationRun(Base):
    """One import of one gateway's transaction file for one day, and its outcome."""

    __tablename__ = "reconciliation_runs"
    __table_args__ = (
        UniqueConstraint("provider", "provider_account_id", "day", "file_sha256"),
        Index("ix_reconciliation_runs_created", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    provider_account_id: Mapped[str] = mapped_column(ForeignKey("provider_accounts.id"))
    day: Mapped[date] = mapped_column(Date)
    file_sha256: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str | None] = mapped_column(String(300))
    row_count: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    # Items per status, e.g. {"matched": 10, "amount_mismatch": 1}.
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default=EMPTY_OBJECT)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=NOW)


class ReconciliationItem(Base):
    """One row of a gateway file (or one of our transactions the file lacks) and its verdict."""

    __tablename__ = "reconciliation_items"
    __table_args__ = (UniqueConstraint("run_id", "row_key"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("reconciliation_runs.id", ondelete="CASCADE"))
    # "file:<line>" for a file row, "ours:<reference>" for our transaction missing from the file.
    row_key: Mapped[str] = mapped_column(String(200))
    line_number: Mapped[int | None] = mapped_column(Integer)
    # matched | missing_here | missing_there | amount_mismatch | status_mismatch
    status: Mapped[str] = mapped_column(String(20), index=True)
    reference: Mapped[str | None] = mapped_column(String(64))
    provider_transaction_id: Mapped[str | None] = mapped_column(String(128))
    attempt_id: Mapped[str | None] = mapped_column(String(40))
    payment_id: Mapped[str | None] = mapped_column(String(40))
    their_amount: Mapped[int | None] = mapped_column(BigInteger)
    our_amount: Mapped[int | None] = mapped_column(BigInteger)
    their_status: Mapped[str | None] = mapped_column(String(64))
    our_status: Mapped[str | None] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(String(500))
    # What we did about it (e.g. "status_query_scheduled").
    action: Mapped[str | None] = mapped_column(String(64))
    raw: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default=EMPTY_OBJECT)
