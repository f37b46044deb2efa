"""Background jobs: idempotency keys kept ≥ 24 h then purged; the standalone worker command."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
from fastapi import FastAPI

from app.services.payments.idempotency import purge_expired
from tests.factories import bill, make_world
from tests.support import Clock


async def test_idempotency_keys_are_kept_a_day_then_purged(
    client: httpx.AsyncClient, app: FastAPI, admin_headers: dict[str, str], clock: Clock
) -> None:
    world = await make_world(client, admin_headers)
    body = bill()
    headers = {**world.headers, "Idempotency-Key": "keep-me"}
    first = await client.post("/v1/payments", json=body, headers=headers)
    assert first.status_code == 201
    container = app.state.container
    clock.advance(hours=24)
    assert await purge_expired(container) == 0
    replay = await client.post("/v1/payments", json=body, headers=headers)
    assert replay.headers["Idempotent-Replayed"] == "true"
    clock.advance(hours=25)  # past the 48 h retention
    assert await purge_expired(container) == 1
    # The key is free again; the bill itself still exists, so a new create is a duplicate bill.
    again = await client.post("/v1/payments", json=body, headers=headers)
    assert again.status_code == 409 and again.json()["code"] == "duplicate_bill"


def test_worker_once_runs_every_job(db_url: str) -> None:
    env = {**os.environ, "PAYBRIDGE_DATABASE_URL": db_url, "PAYBRIDGE_LOG_LEVEL": "INFO"}
    proc = subprocess.run(
        [sys.executable, "-m", "app", "worker", "--once"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "worker ran once" in proc.stderr
    for job in ("webhooks", "resolver", "expiry", "idempotency_purge"):
        assert job in proc.stderr
