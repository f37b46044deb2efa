"""Gateway accounts and every inbound callback exactly as received."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, LargeBinary, String, Text, false, text, true
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import EMPTY_BYTES, EMPTY_OBJECT, NOW, Base, BigIntPK, utcnow


class ProviderAccount(Base):
    """A merchant account at one gateway, attached to an agency node (covers its subtree)."""

    __tablename__ = "provider_accounts"
    __table_args__ = (Index("ix_provider_accounts_agency_provider", "agency_id", "provider"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    provider: Mapped[str] = mapped_column(String(32))
    # Credentials as JSON, encrypted with PAYBRIDGE_SECRET_KEY (Fernet); never returned.
    credentials_enc: Mapped[str] = mapped_column(Text)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default=EMPTY_OBJECT)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=NOW)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=NOW, onupdate=utcnow)


class InboundCallback(Base):
    """A gateway callback or browser return, stored raw before anything is processed."""

    __tablename__ = "inbound_callbacks"
    __table_args__ = (
        Index("ix_inbound_callbacks_account_received", "provider_account_id", "received_at"),
        # Only the few rows an operator must look at: a callback's insert and its verdict do not
        # touch this index (the operator's list reads newest first).
        Index(
            "ix_inbound_callbacks_review",
            "id",
            postgresql_where=text("needs_review"),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    provider: Mapped[str] = mapped_column(String(32))
    provider_account_id: Mapped[str | None] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(16))  # ipn | return
    method: Mapped[str] = mapped_column(String(8))
    query_string: Mapped[str] = mapped_column(Text, default="", server_default="")
    headers: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default=EMPTY_OBJECT)
    body: Mapped[bytes] = mapped_column(LargeBinary, default=b"", server_default=EMPTY_BYTES)
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=NOW)
    # Filled while processing: verified True/False, the verdict, what it matched and did.
    verified: Mapped[bool | None] = mapped_column(Boolean)
    verdict: Mapped[str | None] = mapped_column(String(64))
    reference: Mapped[str | None] = mapped_column(String(64), index=True)
    attempt_id: Mapped[str | None] = mapped_column(String(40))
    amount: Mapped[int | None] = mapped_column(BigInteger)
    outcome: Mapped[str | None] = mapped_column(String(32))
    response_status: Mapped[int | None]
    response_body: Mapped[str | None] = mapped_column(Text)
    processed_at: Mapped[datetime | None]
    # Money a gateway or bank says moved that we could not attribute (unknown reference, wrong
    # amount, a second credit): kept for an operator, who resolves it with a note.
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    resolved_at: Mapped[datetime | None]
    resolution_note: Mapped[str | None] = mapped_column(String(1000))
