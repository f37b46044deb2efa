"""Every state change is declared once (app/domain/transitions.py), and the declarations hold up:
each names real columns of its model, states of its enum and a known event; each applies as a
compare-and-set that changes nothing once its guard no longer holds."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI

from app.domain import transitions as T
from app.domain.states import AttemptStatus, EventType, PaymentStatus, RefundState
from app.models import Payment
from app.stores.transitions import MODELS, apply, render_guard, render_set
from tests.factories import World, create, make_world

STATUS_ENUMS = {"payment": PaymentStatus, "attempt": AttemptStatus, "refund": RefundState}


def test_every_declaration_names_real_columns_states_and_events() -> None:
    assert len({t.name for t in T.ALL}) == len(T.ALL) >= 20
    for t in T.ALL:
        model, states = MODELS[t.entity], STATUS_ENUMS[t.entity]
        columns = {a.key for a in model.__mapper__.column_attrs}
        assert set(t.sets) <= columns, t.name
        assert t.from_states and all(s in list(states) for s in t.from_states), t.name
        to = t.to_state
        assert to is None or isinstance(to, T.Param) or to in list(states), t.name
        assert t.event is None or t.event in list(EventType), t.name


def test_values_take_exactly_the_declared_parameters() -> None:
    now = datetime(2026, 11, 21, tzinfo=UTC)
    assert T.CANCEL.values({"now": now}) == {"status": "cancelled", "updated_at": now}
    with pytest.raises(TypeError, match="missing"):
        T.PAY_ONLINE.values({"now": now})
    with pytest.raises(TypeError, match="unexpected"):
        T.CANCEL.values({"now": now, "status": "succeeded"})
    # A ``keep_if_none`` parameter left None keeps the column.
    kept = T.ATTEMPT_SUCCEED.values({"now": now, "paid_at": now, "provider_transaction_id": None})
    assert "provider_transaction_id" not in kept and kept["status"] == "succeeded"


def test_the_ipn_statement_is_rendered_from_the_declarations() -> None:
    sets = render_set(T.PAY_ONLINE, "p", {"attempt_id": "i.a", "paid_at": "i.p", "now": "i.n"})
    assert sets == (
        "status = 'succeeded', succeeded_attempt_id = i.a, channel = 'online', "
        "paid_at = i.p, updated_at = i.n"
    )
    assert render_guard(T.ATTEMPT_SUCCEED, "t") == (
        "t.status || '' IN ('pending', 'unknown', 'failed', 'expired', 'cancelled')"
    )
    with pytest.raises(TypeError):
        render_set(T.PAY_ONLINE, "p", {"now": "i.n"})


@pytest.fixture
async def world(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> World:
    return await make_world(client, admin_headers)


async def test_a_transition_whose_guard_no_longer_holds_changes_nothing(
    client: httpx.AsyncClient, app: FastAPI, world: World
) -> None:
    p = (await create(client, world)).json()
    db, now = app.state.container.db, datetime.now(UTC)
    async with db.transaction() as session:
        assert await apply(session, T.CANCEL, p["id"], now=now)
    async with db.transaction() as session:
        assert not await apply(session, T.EXPIRE, p["id"], now=now)
        assert not await apply(session, T.PAY_OFFLINE, p["id"], offline={}, paid_at=now, now=now)
        payment = await session.get(Payment, p["id"])
        assert payment is not None and payment.status == PaymentStatus.cancelled
