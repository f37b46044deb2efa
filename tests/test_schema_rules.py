"""The database keeps the core's rules by itself: statuses stay within their enums (CHECK) and every
column with a default has it in the database, so an insert that names only the required columns
(as a hand-written statement or another tool would) gets the same row as the ORM."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import CheckConstraint

from app.domain.states import AttemptStatus, PaymentStatus
from app.models import Base
from tests.factories import World, create, make_world


@pytest.fixture
async def world(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> World:
    return await make_world(client, admin_headers)


async def test_every_model_default_is_a_database_default(app: FastAPI) -> None:
    pool = await app.state.container.db.raw()
    rows = await pool.fetch(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = 'public' AND column_default IS NOT NULL"
    )
    in_db = {(r[0], r[1]) for r in rows}
    python_side = [
        f"{table.name}.{column.name}"
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if column.default is not None and (table.name, column.name) not in in_db
    ]
    # One exception: a revenue type's search text is computed from its other columns.
    assert python_side == ["revenue_types.search_text"], python_side


async def test_every_status_check_is_in_the_database(app: FastAPI) -> None:
    pool = await app.state.container.db.raw()
    names = {r[0] for r in await pool.fetch("SELECT conname FROM pg_constraint WHERE contype = 'c'")}
    declared = {
        str(c.name)
        for table in Base.metadata.sorted_tables
        for c in table.constraints
        if isinstance(c, CheckConstraint)
    }
    assert {"ck_payments_status", "ck_attempts_status", "ck_refunds_status", "ck_events_type"} <= declared
    assert declared <= names


async def test_a_status_outside_its_enum_is_refused_by_the_database(
    client: httpx.AsyncClient, app: FastAPI, world: World
) -> None:
    p = (await create(client, world, provider="sandbox")).json()
    pool = await app.state.container.db.raw()
    with pytest.raises(asyncpg.CheckViolationError):
        await pool.execute("UPDATE payments SET status = 'paid' WHERE id = $1", p["id"])
    with pytest.raises(asyncpg.CheckViolationError):
        await pool.execute("UPDATE attempts SET status = 'done' WHERE payment_id = $1", p["id"])
    r = await client.get(f"/v1/payments/{p['id']}", headers=world.headers)
    assert r.json()["status"] == PaymentStatus.pending
    assert r.json()["attempts"][0]["status"] == AttemptStatus.pending


async def test_an_insert_of_only_the_required_columns_gets_the_defaults(
    client: httpx.AsyncClient, app: FastAPI, world: World
) -> None:
    p = (await create(client, world)).json()
    pool = await app.state.container.db.raw()
    row = await pool.fetchrow(
        "SELECT client_id, agency_id, checkout_token FROM payments WHERE id = $1", p["id"]
    )
    expires = datetime.now(UTC) + timedelta(hours=1)
    await pool.execute(
        "INSERT INTO payments (id, client_id, agency_id, dossier_code, bill_key, payer, amount, "
        "checkout_token, expires_at) VALUES ('pay_bare', $1, $2, 'HS-BARE', '', '{}', 1000, $3, $4)",
        row[0],
        row[1],
        row[2] + "x",
        expires,
    )
    bare = await pool.fetchrow(
        "SELECT status, currency, metadata, exempt, refunded_amount, created_at IS NOT NULL "
        "FROM payments WHERE id = 'pay_bare'"
    )
    assert tuple(bare) == ("pending", "VND", {}, False, 0, True)


def test_a_statement_that_misses_a_required_column_fails_when_built() -> None:
    """The create statement names only the columns it has values for (the database fills the
    rest); one that forgot a column the database cannot fill fails at import, never as a 500."""
    from app.models import Payment
    from app.stores.sql import insert_select, required_columns

    assert required_columns(Payment) == {
        "id",
        "client_id",
        "agency_id",
        "dossier_code",
        "bill_key",
        "payer",
        "amount",
        "checkout_token",
        "expires_at",
    }
    values = {key: f":{key}" for key in required_columns(Payment)}
    assert insert_select(Payment, values).startswith("INSERT INTO payments (")
    del values["checkout_token"]
    with pytest.raises(TypeError, match="checkout_token"):
        insert_select(Payment, values)
