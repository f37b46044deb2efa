"""Compare-and-set statements built from the transition declarations, and the lock order.

Every path that changes a payment and its attempts locks the **payment row first** (``FOR NO KEY
UPDATE``, the lock an UPDATE takes: it does not block the foreign-key checks of rows that
reference the payment, such as events and refunds), then its attempts (cancel, record-offline,
expiry, callbacks, the resolver, refunds), then the client's event stream: two such paths never
wait for each other in a cycle. :func:`lock_payment_of_attempt` is how a path that starts from an
attempt (a gateway's verdict) takes the payment's lock before it touches the attempt.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, Update, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.transitions import Entity, Param, Transition
from app.models import Attempt, Payment, Refund

MODELS: dict[Entity, type[Payment] | type[Attempt] | type[Refund]] = {
    "payment": Payment,
    "attempt": Attempt,
    "refund": Refund,
}


def statement(t: Transition, row_id: str, params: dict[str, Any]) -> Update:
    """``UPDATE <entity> SET <declared columns> WHERE id = :id AND status IN (<from-states>)``."""
    model = MODELS[t.entity]
    return (
        update(model)
        .where(model.id == row_id, model.status.in_(t.from_states))
        .values(t.values(params))
        .execution_options(synchronize_session=False)
    )


async def apply(session: AsyncSession, t: Transition, row_id: str, **params: Any) -> bool:
    """Apply ``t`` to one row in the caller's transaction; False: its guard did not hold."""
    result = await session.execute(statement(t, row_id, params))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def apply_returning(
    session: AsyncSession,
    t: Transition,
    row_id: str,
    returning: tuple[Any, ...],
    **params: Any,
) -> Row[Any] | None:
    """:func:`apply`, answering ``returning`` of the changed row (None: unchanged)."""
    result = await session.execute(statement(t, row_id, params).returning(*returning))
    return result.first()


async def lock_payment(session: AsyncSession, payment_id: str) -> Payment | None:
    """Lock the payment row (first in the lock order) and read it fresh."""
    stmt = (
        select(Payment)
        .where(Payment.id == payment_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def lock_payment_of_attempt(session: AsyncSession, attempt_id: str) -> Any:
    """Lock the payment of an attempt before the attempt is touched: (id, status, client_id)."""
    owner = select(Attempt.payment_id).where(Attempt.id == attempt_id).scalar_subquery()
    stmt = (
        select(Payment.id, Payment.status, Payment.client_id)
        .where(Payment.id == owner)
        .with_for_update(key_share=True)
    )
    return (await session.execute(stmt)).first()


# --- Rendering a declaration into hand-tuned SQL (the IPN group commit's CTEs) ------------------


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"no SQL literal for {value!r}")


def _column(t: Transition, attribute: str) -> str:
    model = MODELS[t.entity]
    name: str = model.__mapper__.attrs[attribute].columns[0].name
    return name


def render_set(t: Transition, alias: str, params: dict[str, str]) -> str:
    """``t``'s SET list as SQL, each parameter replaced by the SQL expression ``params`` names for
    it (e.g. a column of an ``unnest`` input); ``keep_if_none`` parameters become ``COALESCE``."""
    if set(params) != t.params:
        raise TypeError(f"{t.name}: parameters {sorted(t.params)}, rendered {sorted(params)}")
    parts = []
    for attribute, value in t.sets.items():
        column = _column(t, attribute)
        if isinstance(value, Param):
            expr = params[value.name]
            if value.keep_if_none:
                expr = f"COALESCE({expr}, {alias}.{column})"
        else:
            expr = _literal(value)
        parts.append(f"{column} = {expr}")
    return ", ".join(parts)


def render_guard(t: Transition, alias: str) -> str:
    """``t``'s from-states as a condition on ``alias.status``. (``status || ''``: the same
    condition, but one no status index can serve, so that a stale estimate never prefers
    scanning every row of a status to the primary key.)"""
    states = ", ".join(_literal(str(s)) for s in t.from_states)
    return f"{alias}.status || '' IN ({states})"
