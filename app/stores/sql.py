"""Statements for the raw asyncpg pool: written against the models, compiled once.

- :func:`insert_select` renders ``INSERT INTO <table> (<columns>) SELECT <values> [FROM …]
  RETURNING …`` from a model and a mapping of its *attributes* to SQL expressions: column names
  come from the model, and a column the database cannot fill by itself (NOT NULL, no database
  default) that the mapping lacks fails when the statement is built (at import), never as a 500.
- :func:`compile_once` turns a statement with named parameters (``:name``) into asyncpg's
  positional SQL (``$n``) once, with the order in which to pass the parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import TextClause, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect

_DIALECT = asyncpg_dialect()  # type: ignore[no-untyped-call]


@dataclass(frozen=True)
class Compiled:
    """A statement compiled for asyncpg: its SQL and the names of its ``$1, $2, …`` in order."""

    sql: str
    order: tuple[str, ...]

    def args(self, params: Mapping[str, Any]) -> list[Any]:
        missing = set(self.order) - params.keys()
        if missing:
            raise TypeError(f"missing parameters {sorted(missing)}")
        return [params[name] for name in self.order]


def compile_once(statement: str | TextClause) -> Compiled:
    clause = text(statement) if isinstance(statement, str) else statement
    compiled = clause.compile(dialect=_DIALECT)
    return Compiled(str(compiled), tuple(compiled.positiontup or ()))


def required_columns(model: type[Any]) -> set[str]:
    """The attributes of ``model`` an INSERT must give: NOT NULL, no database default, not an
    identity/serial key."""
    table = model.__table__
    out = set()
    for attribute in model.__mapper__.column_attrs:
        column = attribute.columns[0]
        serial = column.primary_key and column.autoincrement is True and column is table.autoincrement_column
        if not column.nullable and column.server_default is None and not serial:
            out.add(attribute.key)
    return out


def insert_select(
    model: type[Any], values: Mapping[str, str], *, source: str = "", returning: str = ""
) -> str:
    """``INSERT INTO <table> (<columns>) SELECT <expressions> <source> [RETURNING …]``; ``values``
    maps attributes of ``model`` to SQL expressions (named parameters, columns of ``source``)."""
    missing = required_columns(model) - values.keys()
    if missing:
        raise TypeError(f"INSERT INTO {model.__tablename__} lacks required columns {sorted(missing)}")
    attrs = model.__mapper__.column_attrs
    columns = ", ".join(attrs[key].columns[0].name for key in values)
    exprs = ", ".join(values.values())
    tail = f" RETURNING {returning}" if returning else ""
    return f"INSERT INTO {model.__tablename__} ({columns}) SELECT {exprs} {source}{tail}"


def params_for(model: type[Any], keys: tuple[str, ...], prefix: str) -> dict[str, str]:
    """``{attribute: ":<prefix><attribute>"}`` for ``keys`` of ``model`` (JSONB columns cast, so
    that asyncpg encodes the value as JSON)."""
    attrs = model.__mapper__.column_attrs
    out = {}
    for key in keys:
        column = attrs[key].columns[0]
        param = f":{prefix}{key}"
        out[key] = f"CAST({param} AS jsonb)" if isinstance(column.type, JSONB) else param
    return out


def column_defaults(model: type[Any]) -> dict[str, Any]:
    """What the database fills in for a column an INSERT leaves out, as Python values: the
    column's constant default, or None for a nullable column without one (callable defaults,
    such as timestamps, are always given by the caller)."""
    out: dict[str, Any] = {}
    for attribute in model.__mapper__.column_attrs:
        column = attribute.columns[0]
        default = column.default
        if default is not None and default.is_scalar:
            out[attribute.key] = default.arg
        elif default is None and column.nullable:
            out[attribute.key] = None
    return out
