"""Clients (integrating portals), their agency scopes and API keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, true
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import EMPTY_LIST, NOW, Base, utcnow


class Client(Base):
    __tablename__ = "clients"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    webhook_url: Mapped[str | None] = mapped_column(String(2000))
    # Webhook signing secrets, encrypted with PAYBRIDGE_SECRET_KEY (we must sign with them).
    webhook_secret_enc: Mapped[str] = mapped_column(Text)
    previous_webhook_secret_enc: Mapped[str | None] = mapped_column(Text)
    previous_webhook_secret_expires_at: Mapped[datetime | None]
    # Hosts that return_url and webhook_url may point at (empty: any public host).
    allowed_hosts: Mapped[list[str]] = mapped_column(default=list, server_default=EMPTY_LIST)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=NOW)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=NOW, onupdate=utcnow)


class ClientAgency(Base):
    """A subtree a client may act for (the agency and everything below it)."""

    __tablename__ = "client_agencies"

    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id", ondelete="CASCADE"), primary_key=True)


class ApiKey(Base):
    """An API key, stored as its SHA-256 (keys are 256-bit random, so a plain hash is enough)."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=NOW)
    # Set when the key is rotated out: it keeps working until then.
    expires_at: Mapped[datetime | None]


@dataclass(frozen=True)
class ClientView:
    """A client as operators see it (never its key or webhook secret): the client, the codes of the
    agencies it acts for, and its API keys."""

    client: Client
    agency_codes: list[str]
    keys: list[ApiKey]
