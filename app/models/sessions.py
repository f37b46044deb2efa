"""Operator dashboard sessions, kept server-side so that logging out ends a session everywhere."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, utcnow


class OperatorSession(Base):
    """One dashboard login. The cookie carries a signed token whose nonce hashes to ``id``; a token
    whose row is gone (logged out, or purged after expiry) is refused even though its signature holds."""

    __tablename__ = "operator_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 hex of the session nonce
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=text("now()"))
    expires_at: Mapped[datetime] = mapped_column(index=True)
