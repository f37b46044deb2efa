"""The house: errors, request ids, health, readiness, metrics, docs, settings."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from app.config import Settings
from app.models import Base
from tests.conftest import create_database


async def test_unknown_path_is_problem_json_404(client: httpx.AsyncClient) -> None:
    r = await client.get("/nope")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["code"] == "not_found"
    assert body["status"] == 404
    assert set(body) >= {"type", "title", "status", "detail", "code"}


async def test_wrong_method_is_problem_json_405(client: httpx.AsyncClient) -> None:
    r = await client.delete("/healthz")
    assert r.status_code == 405
    assert r.json()["code"] == "method_not_allowed"


async def test_request_id_generated_and_echoed(client: httpx.AsyncClient) -> None:
    r = await client.get("/healthz")
    assert len(r.headers["x-request-id"]) >= 16
    r = await client.get("/healthz", headers={"X-Request-ID": "portal-abc-123"})
    assert r.headers["x-request-id"] == "portal-abc-123"
    # A hostile request id is replaced, not echoed.
    r = await client.get("/healthz", headers={"X-Request-ID": "a b\tc<script>"})
    assert r.headers["x-request-id"] != "a b\tc<script>"


async def test_readyz_ok_when_migrated(client: httpx.AsyncClient) -> None:
    r = await client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "ready"


@pytest.fixture
def empty_db_url(pg_server: str) -> str:
    return create_database(pg_server, migrate=False)


async def test_readyz_503_on_unmigrated_database(empty_db_url: str) -> None:
    from app.main import create_app

    settings = Settings(database_url=empty_db_url, run_workers=False)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            r = await c.get("/readyz")
    assert r.status_code == 503
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "not_ready"


async def test_metrics_count_requests_by_route(client: httpx.AsyncClient) -> None:
    await client.get("/healthz")
    await client.get("/no/such/path")
    r = await client.get("/metrics")
    assert r.status_code == 200
    text = r.text
    assert 'paybridge_http_requests_total{method="GET",route="/healthz",status="200"}' in text
    assert 'route="<unmatched>",status="404"' in text
    assert "paybridge_http_request_duration_seconds_bucket" in text


async def test_openapi_has_title_tags_and_docs(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert spec["info"]["title"] == "paybridge"
    assert spec["info"]["description"]
    assert {t["name"] for t in spec["tags"]} >= {"payments", "operations", "admin"}
    docs = await client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


async def test_oversized_body_is_413(client: httpx.AsyncClient, settings: Settings) -> None:
    r = await client.post("/healthz", content=b"x" * (settings.max_body_bytes + 1))
    assert r.status_code == 413
    assert r.json()["code"] == "payload_too_large"


async def test_models_and_migrations_agree(db_url: str) -> None:
    engine = create_async_engine(db_url)

    def diff(conn: object) -> list[object]:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})  # type: ignore[arg-type]
        return list(compare_metadata(ctx, Base.metadata))

    async with engine.connect() as conn:
        changes = await conn.run_sync(diff)
    await engine.dispose()
    assert changes == [], f"models and migrations disagree: {changes}"


def test_production_refuses_weak_secrets() -> None:
    with pytest.raises(ValueError, match="PAYBRIDGE_SECRET_KEY"):
        Settings(env="production", public_base_url="https://pay.example.gov.vn")
    ok = Settings(
        env="production",
        database_url="postgresql://paybridge:pw@db.internal:5432/paybridge",
        secret_key="x" * 40,
        admin_token="y" * 30,
        public_base_url="https://pay.example.gov.vn",
    )
    assert ok.env == "production"
    assert ok.database_url == "postgresql+asyncpg://paybridge:pw@db.internal:5432/paybridge"


def test_production_requires_a_postgresql_url() -> None:
    with pytest.raises(ValueError, match="PAYBRIDGE_DATABASE_URL must point at your PostgreSQL server"):
        Settings(env="production", secret_key="x" * 40, public_base_url="https://pay.example.gov.vn")


@pytest.mark.parametrize("url", ["sqlite:///./paybridge.db", "mysql://u:secret@db/x", "paybridge.db"])
def test_only_postgresql_urls_are_accepted_and_the_url_is_not_echoed(url: str) -> None:
    with pytest.raises(ValueError, match="PAYBRIDGE_DATABASE_URL") as failure:
        Settings(database_url=url)
    assert "secret" not in str(failure.value)
    assert Settings(database_url="postgres://u@h/db").database_url == "postgresql+asyncpg://u@h/db"


def test_cli_refuses_to_start_in_production_with_default_secret(tmp_path: object) -> None:
    env = {"PAYBRIDGE_ENV": "production", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-m", "app", "migrate"], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert "PAYBRIDGE_SECRET_KEY" in proc.stderr
    assert "PAYBRIDGE_DATABASE_URL must point at your PostgreSQL server" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_importing_main_has_no_side_effects() -> None:
    code = "import app.main, sys; print('app' in vars(app.main))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "False"
