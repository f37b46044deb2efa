"""The floor: the cheapest service doing the same durable write as a payment create.

A minimal FastAPI app that validates a JSON body comparable to ``POST /v1/payments`` with
pydantic and does one INSERT through a raw asyncpg pool into the same database. No auth, no
idempotency, no catalogue checks: what is left is the web framework, validation and one commit.
``bench/run.py`` starts it with ``uvicorn bench.floor:app`` and ``FLOOR_DSN`` set.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import orjson
from fastapi import FastAPI, Response
from pydantic import BaseModel, ConfigDict, Field, StrictInt

TABLE = """
CREATE TABLE IF NOT EXISTS floor_payments (
    id text PRIMARY KEY,
    dossier_code text NOT NULL,
    amount bigint NOT NULL,
    body jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
)
"""


class FloorPayer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    id_number: str | None = Field(default=None, max_length=20)


class FloorItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    revenue_type_code: str = Field(min_length=1, max_length=16)
    amount: StrictInt = Field(gt=0)
    description: str | None = Field(default=None, max_length=500)


class FloorPayment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    agency_code: str = Field(min_length=1, max_length=64)
    dossier_code: str = Field(min_length=1, max_length=100)
    procedure_code: str | None = Field(default=None, max_length=100)
    description: str | None = Field(default=None, max_length=500)
    payer: FloorPayer
    items: list[FloorItem] = Field(min_length=1, max_length=50)
    provider: str | None = Field(default=None, max_length=32)
    return_url: str | None = Field(default=None, max_length=2000)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    pool = await asyncpg.create_pool(os.environ["FLOOR_DSN"], min_size=4, max_size=10)
    async with pool.acquire() as conn:
        await conn.execute(TABLE)
    app.state.pool = pool
    try:
        yield
    finally:
        await pool.close()


app = FastAPI(lifespan=lifespan)


@app.post("/v1/payments", status_code=201)
async def create(body: FloorPayment) -> Response:
    payment_id = uuid.uuid4().hex
    amount = sum(item.amount for item in body.items)
    data: dict[str, Any] = body.model_dump()
    await app.state.pool.execute(
        "INSERT INTO floor_payments (id, dossier_code, amount, body) VALUES ($1, $2, $3, $4::jsonb)",
        payment_id,
        body.dossier_code,
        amount,
        orjson.dumps(data).decode(),
    )
    return Response(
        orjson.dumps({"id": payment_id, "amount": amount, "status": "pending"}),
        status_code=201,
        media_type="application/json",
    )
