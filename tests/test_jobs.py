"""Long operator work as jobs: `Prefer: respond-async` (or a big upload) answers 202 with a job;
`GET /admin/v1/jobs/{id}` shows its progress and then its result, or the problem it met with line
numbers and nothing applied; a job whose runner died is taken over; bulk redelivery of dead
webhooks; the dashboard's jobs page shows progress bars."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update

from app.models import Agency, Job, RevenueType, WebhookDelivery
from app.services.operations import jobs
from tests.conftest import ADMIN_TOKEN
from tests.factories import World, make_world
from tests.test_reconciliation import DAY, URL, row, sandbox_csv
from tests.test_refunds import paid

ASYNC = {"Prefer": "respond-async"}
H = dict[str, str]


async def wait_for(client: httpx.AsyncClient, admin: H, location: str) -> dict[str, Any]:
    for _ in range(200):
        r = await client.get(location, headers=admin)
        assert r.status_code == 200, r.text
        job: dict[str, Any] = r.json()
        if job["status"] in ("succeeded", "failed"):
            return job
        await asyncio.sleep(0.02)
    raise AssertionError(f"job at {location} did not end: {job}")


def revenue_csv(count: int, *, bad_line: int | None = None) -> bytes:
    lines = ["code,group_code,name,kind,chapter,valid_from,valid_to"]
    for i in range(count):
        name = "" if bad_line is not None and i + 2 == bad_line else f"Phí thử nghiệm {i}"
        lines.append(f"{9100 + i},9100,{name},phi,,2026-01-01,")
    return ("\n".join(lines) + "\n").encode()


async def test_import_as_a_job_when_asked(client: httpx.AsyncClient, admin_headers: H, app: FastAPI) -> None:
    headers = {**admin_headers, **ASYNC, "Content-Type": "text/csv"}
    r = await client.post("/admin/v1/revenue-types:import", content=revenue_csv(40), headers=headers)
    assert r.status_code == 202, r.text
    assert r.headers["location"] == f"/admin/v1/jobs/{r.json()['id']}"
    assert r.json()["status"] == "queued" and r.json()["kind"] == "revenue_types_import"
    job = await wait_for(client, admin_headers, r.headers["location"])
    assert job["status"] == "succeeded", job
    assert job["result"] == {"created": 40, "updated": 0, "unchanged": 0}
    assert job["progress"] == {"done": 40, "total": 40, "percent": 100}
    async with app.state.container.db.session() as session:
        assert await session.scalar(select(func.count()).where(RevenueType.code.like("91%"))) == 40
        stored = await session.get(Job, job["id"])
        assert stored is not None and stored.payload is None  # the upload is not kept once done
    # The same file again, synchronously this time: nothing changes, as before.
    sync = await client.post(
        "/admin/v1/revenue-types:import",
        content=revenue_csv(40),
        headers={**admin_headers, "Content-Type": "text/csv"},
    )
    assert sync.status_code == 200 and sync.json() == {"created": 0, "updated": 0, "unchanged": 40}


async def test_a_failed_job_names_the_line_and_imports_nothing(
    client: httpx.AsyncClient, admin_headers: H, app: FastAPI
) -> None:
    headers = {**admin_headers, **ASYNC, "Content-Type": "text/csv"}
    r = await client.post(
        "/admin/v1/revenue-types:import", content=revenue_csv(30, bad_line=17), headers=headers
    )
    assert r.status_code == 202
    job = await wait_for(client, admin_headers, r.headers["location"])
    assert job["status"] == "failed"
    assert job["error"]["code"] == "validation_error" and job["error"]["status"] == 422
    assert [(e["line"], e["field"]) for e in job["error"]["errors"]] == [(17, "name")]
    async with app.state.container.db.session() as session:
        assert await session.scalar(select(func.count()).where(RevenueType.code.like("91%"))) == 0


async def test_a_big_file_becomes_a_job_unasked(
    client: httpx.AsyncClient, admin_headers: H, app: FastAPI
) -> None:
    count = jobs.SYNC_MAX_ROWS + 1
    lines = ["code,name,level,parent_code", "000.00.00.H98,UBND tỉnh Thử,province,"]
    lines += [f"{i // 100:03d}.{i % 100:02d}.01.H98,Xã {i},commune,000.00.00.H98" for i in range(1, count)]
    body = ("\n".join(lines) + "\n").encode()
    r = await client.post(
        "/admin/v1/agencies:import", content=body, headers={**admin_headers, "Content-Type": "text/csv"}
    )
    assert r.status_code == 202, r.text[:300]
    job = await wait_for(client, admin_headers, r.headers["location"])
    assert job["status"] == "succeeded", job["error"]
    assert job["result"]["created"] == count and job["progress"]["total"] == count
    async with app.state.container.db.session() as session:
        assert await session.scalar(select(func.count()).where(Agency.path.like("/000.00.00.H98/%"))) == count


async def test_reconciliation_file_as_a_job(
    client: httpx.AsyncClient, admin_headers: H, app: FastAPI
) -> None:
    world: World = await make_world(client, admin_headers)
    p = await paid(client, world)
    fields = {"provider": "sandbox", "account_id": world.sandbox_account_id, "date": DAY}
    r = await client.post(
        URL,
        data=fields,
        files={"file": ("sandbox.csv", sandbox_csv([row(p)]), "text/csv")},
        headers={**admin_headers, **ASYNC},
    )
    assert r.status_code == 202, r.text
    job = await wait_for(client, admin_headers, r.headers["location"])
    assert job["status"] == "succeeded", job
    run = job["result"]["run"]
    assert job["result"]["created"] is True and run["counts"]["matched"] == 1
    got = await client.get(f"{URL}/{run['id']}", headers=admin_headers)
    assert got.status_code == 200 and got.json()["counts"] == run["counts"]


async def test_bulk_redelivery_of_dead_webhooks(
    client: httpx.AsyncClient, admin_headers: H, app: FastAPI
) -> None:
    world: World = await make_world(client, admin_headers, webhook_url="https://portal.example.gov.vn/hooks")
    for _ in range(3):
        await paid(client, world)
    async with app.state.container.db.transaction() as session:
        await session.execute(update(WebhookDelivery).values(status="dead", attempts=12))
    r = await client.post(
        "/admin/v1/events:redeliver", json={"client_id": world.client_id}, headers=admin_headers
    )
    assert r.status_code == 202, r.text
    job = await wait_for(client, admin_headers, r.headers["location"])
    assert job["status"] == "succeeded" and job["result"] == {"redelivered": 3}
    async with app.state.container.db.session() as session:
        statuses = list(await session.scalars(select(WebhookDelivery.status)))
    assert statuses == ["pending"] * 3
    unknown = await client.post(
        "/admin/v1/events:redeliver", json={"client_id": "cli_nope"}, headers=admin_headers
    )
    job = await wait_for(client, admin_headers, unknown.headers["location"])
    assert job["status"] == "failed" and job["error"]["code"] == "client_not_found"


async def test_a_job_whose_runner_died_is_taken_over(
    client: httpx.AsyncClient, admin_headers: H, app: FastAPI
) -> None:
    container = app.state.container
    queued = await jobs.enqueue(
        container,
        jobs.JobKind.revenue_types_import,
        params={"content_type": "text/csv"},
        payload=revenue_csv(5),
        start=False,
    )
    # A runner that claimed the job and died: status running, its lease long over.
    async with container.db.transaction() as session:
        await session.execute(
            update(Job)
            .where(Job.id == queued["id"])
            .values(status="running", lease_until=container.clock() - timedelta(minutes=5), tries=1)
        )
    assert await jobs.run_due(container) == 0  # too new for the sweep: its own process may still start it
    async with container.db.transaction() as session:
        await session.execute(
            update(Job)
            .where(Job.id == queued["id"])
            .values(created_at=container.clock() - timedelta(minutes=1))
        )
    assert await jobs.run_due(container) == 1
    job = (await client.get(f"/admin/v1/jobs/{queued['id']}", headers=admin_headers)).json()
    assert job["status"] == "succeeded" and job["result"]["created"] == 5
    # A job is run once: a second runner finds nothing to claim.
    assert await jobs.run_job(container, queued["id"]) is False


async def test_jobs_need_the_operator(client: httpx.AsyncClient, admin_headers: H) -> None:
    assert (await client.get("/admin/v1/jobs/job_01ABC")).status_code == 401
    missing = await client.get("/admin/v1/jobs/job_01ABC", headers=admin_headers)
    assert missing.status_code == 404 and missing.json()["code"] == "job_not_found"
    assert (await client.get("/admin/v1/jobs/nope", headers=admin_headers)).status_code == 422


async def test_dashboard_lists_jobs_with_progress(client: httpx.AsyncClient, admin_headers: H) -> None:
    headers = {**admin_headers, **ASYNC, "Content-Type": "text/csv"}
    r = await client.post("/admin/v1/revenue-types:import", content=revenue_csv(3), headers=headers)
    await wait_for(client, admin_headers, r.headers["location"])
    form = await client.get("/admin/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None
    await client.post("/admin/login", data={"token": ADMIN_TOKEN, "csrf": csrf.group(1)})
    page = await client.get("/admin/jobs")
    assert page.status_code == 200
    assert r.json()["id"] in page.text
    assert '<progress value="3" max="3"' in page.text and "Hoàn tất" in page.text


@pytest.mark.parametrize(
    ("prefer", "rows", "size", "expected"),
    [
        (None, 10, None, False),
        ("respond-async", 1, None, True),
        ("wait=10, respond-async", 1, None, True),
        ("return=minimal", 1, None, False),
        (None, jobs.SYNC_MAX_ROWS + 1, None, True),
        (None, None, jobs.SYNC_MAX_BYTES + 1, True),
    ],
)
def test_when_a_call_becomes_a_job(
    prefer: str | None, rows: int | None, size: int | None, expected: bool
) -> None:
    assert jobs.run_as_job(prefer, rows=rows, size=size) is expected
