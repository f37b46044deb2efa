"""Catalogues: agencies (a tree), revenue-type codes (versioned), banks, beneficiary accounts."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
    text,
    true,
)
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import NOW, Base, utcnow
from app.text import fold


def _search_text(context: DefaultExecutionContext) -> str:
    """Default of ``search_text`` on insert: folded code and name (services set it on update)."""
    params: dict[str, Any] = context.get_current_parameters()  # type: ignore[no-untyped-call]
    return fold(f"{params.get('code') or ''} {params.get('name') or ''}")


class Agency(Base):
    """A node of the agency tree, keyed by its national identifier code (mã định danh).

    ``path`` is the materialised path of codes from the root (``/A/B/C/``), so a subtree is one
    indexed prefix match.
    """

    __tablename__ = "agencies"
    # text_pattern_ops lets PostgreSQL use the index for ``path LIKE '/A/B/%'`` in any collation.
    __table_args__ = (Index("ix_agencies_path", "path", postgresql_ops={"path": "text_pattern_ops"}),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(500))
    level: Mapped[str] = mapped_column(String(20))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id", ondelete="RESTRICT"))
    path: Mapped[str] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=NOW)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=NOW, onupdate=utcnow)

    @property
    def parent_code(self) -> str | None:
        """The code of the agency above this one (from ``path``), None for a root."""
        codes = [part for part in self.path.split("/") if part]
        return codes[-2] if len(codes) > 1 else None


class AgencyTarget(Base):
    """The online-payment-rate target of an agency for a year (inherited down the tree)."""

    __tablename__ = "agency_targets"
    __table_args__ = (
        UniqueConstraint("agency_id", "year"),
        CheckConstraint("online_payment_rate >= 0 AND online_payment_rate <= 1", name="rate_range"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id", ondelete="CASCADE"))
    year: Mapped[int] = mapped_column(Integer)
    online_payment_rate: Mapped[Decimal] = mapped_column(Numeric(5, 4))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=NOW, onupdate=utcnow)


class RevenueType(Base):
    """One version of one validity period of a revenue-type code (mục–tiểu mục).

    Rows are never deleted or changed in place: an update inserts a new version and marks the
    old one superseded, so an old receipt that points at a row id still renders as it was.
    """

    __tablename__ = "revenue_types"
    __table_args__ = (
        UniqueConstraint("code", "version"),
        Index("ix_revenue_types_current_code", "code", "is_current"),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="valid_range"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    group_code: Mapped[str | None] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(500))
    # Lower-case, diacritics-free copy of code + name for search ("ho tich" finds "hộ tịch").
    search_text: Mapped[str] = mapped_column(String(600), default=_search_text)
    kind: Mapped[str] = mapped_column(String(16))
    chapter: Mapped[str | None] = mapped_column(String(16))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    is_current: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=NOW)


class Bank(Base):
    """A bank by its NAPAS BIN."""

    __tablename__ = "banks"

    bin: Mapped[str] = mapped_column(String(6), primary_key=True)
    sbv_code: Mapped[str | None] = mapped_column(String(8))
    short_name: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(300))


class BeneficiaryAccount(Base):
    """Where money for (agency, revenue type) lands; ``revenue_type_code`` NULL = the agency default."""

    __tablename__ = "beneficiary_accounts"
    __table_args__ = (
        UniqueConstraint("agency_id", "revenue_type_code"),
        # NULLs are distinct in a unique constraint: this keeps one default account per agency.
        Index(
            "uq_beneficiary_accounts_default",
            "agency_id",
            unique=True,
            postgresql_where=text("revenue_type_code IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id", ondelete="CASCADE"))
    revenue_type_code: Mapped[str | None] = mapped_column(String(16))
    treasury_code: Mapped[str | None] = mapped_column(String(16))
    account_number: Mapped[str] = mapped_column(String(34))
    bank_bin: Mapped[str | None] = mapped_column(ForeignKey("banks.bin"))
    account_name: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=NOW)
