"""Declarative base with a constraint naming convention and the column types (PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import BigInteger, CheckConstraint, DateTime, MetaData, String, TypeDecorator, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp (``timestamptz``), always read back in UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType = JSONB()
BigIntPK = BigInteger()

# Database-side defaults: every column with a default has it in the database too, so that no
# insert — ORM, Core or hand-written — can miss a column.
NOW = text("now()")
EMPTY_OBJECT = text("'{}'::jsonb")
EMPTY_LIST = text("'[]'::jsonb")
EMPTY_BYTES = text("''::bytea")


class StrEnumType(TypeDecorator[StrEnum]):
    """A ``StrEnum`` stored as VARCHAR (its values kept to the enum by :func:`enum_check`)."""

    impl = String
    cache_ok = True

    def __init__(self, enum: type[StrEnum], length: int) -> None:
        super().__init__(length)
        self.enum = enum

    def process_bind_param(self, value: StrEnum | str | None, dialect: Dialect) -> str | None:
        # Any string binds as itself: a filter on an unknown status finds nothing (never a 500),
        # and a write of one is refused by the column's CHECK constraint.
        return None if value is None else str(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> StrEnum | None:
        return None if value is None else self.enum(value)


def enum_column(enum: type[StrEnum], length: int, default: StrEnum | None = None) -> Any:
    """A status column: the enum in Python, VARCHAR in the database, the default on both sides."""
    if default is None:
        return mapped_column(StrEnumType(enum, length))
    return mapped_column(StrEnumType(enum, length), default=default, server_default=default.value)


def enum_check(column: str, enum: type[StrEnum]) -> CheckConstraint:
    """``CHECK (column IN (<the enum's values>))``, named ``ck_<table>_<column>`` (a NULL passes)."""
    values = ", ".join("'" + member.value.replace("'", "''") + "'" for member in enum)
    return CheckConstraint(f"{column} IN ({values})", name=column)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSONType,
        list[str]: JSONType,
        list[dict[str, Any]]: JSONType,
    }
