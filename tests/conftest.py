"""Test harness.

Every test that takes ``db_url`` (directly or through ``app``/``client``) runs on SQLite, and also
on PostgreSQL when ``PAYBRIDGE_TEST_DATABASE_URL`` is set. In CI (``CI=true``) PostgreSQL is
mandatory: an unset or unreachable URL fails the run, it is never skipped.

Isolation: SQLite gets a fresh copy of a migrated template file per test; PostgreSQL gets a
database of its own for this pytest process (so parallel runs never meet), truncated and
re-seeded before each test.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.config import Settings
from app.db import Database
from app.main import create_app
from app.migrate import upgrade
from app.models import Base
from app.services.catalogue.seed import load_reference_catalogues
from tests.support import Clock, RoutingTransport

PG_URL_ENV = "PAYBRIDGE_TEST_DATABASE_URL"
ADMIN_TOKEN = "test-admin-token-0123456789abcdef"
BASE_URL = "http://paybridge.test"


def _pg_base_url() -> str | None:
    url = os.environ.get(PG_URL_ENV)
    if not url:
        if os.environ.get("CI") == "true":
            raise pytest.UsageError(f"CI=true requires {PG_URL_ENV}: the PostgreSQL run is mandatory in CI")
        return None
    return Settings(database_url=url).database_url


def _backends() -> list[str]:
    return ["sqlite", "postgres"] if os.environ.get(PG_URL_ENV) else ["sqlite"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        backends: list[object] = list(_backends())
        if metafunc.definition.get_closest_marker("postgres_only"):
            if "postgres" in backends:
                backends = ["postgres"]
            else:  # outside CI without PostgreSQL (CI refuses to run without it, see _pg_base_url)
                reason = f"needs PostgreSQL: set {PG_URL_ENV}"
                backends = [pytest.param("postgres", marks=pytest.mark.skip(reason=reason))]
        metafunc.parametrize("backend", backends, scope="session")


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url)

    async def seed() -> None:
        db = Database(url)
        await load_reference_catalogues(db)
        await db.dispose()

    _run(seed())
    return path


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str | None]:
    base = _pg_base_url()
    if base is None:
        yield None
        return
    name = f"paybridge_t_{os.getpid()}_{uuid.uuid4().hex[:6]}"

    async def admin(sql: str) -> None:
        engine = create_async_engine(base, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                await conn.execute(text(sql))
        finally:
            await engine.dispose()

    try:
        _run(admin(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        pytest.exit(f"PostgreSQL at {PG_URL_ENV} is unreachable: {exc!r}", returncode=3)
    url = base.rsplit("/", 1)[0] + "/" + name
    upgrade(url)
    yield url
    _run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


_TABLES = ", ".join(f'"{t.name}"' for t in reversed(Base.metadata.sorted_tables))


@pytest.fixture
def db_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "paybridge.db"
        shutil.copyfile(template, target)
        return f"sqlite+aiosqlite:///{target}"
    url: str | None = request.getfixturevalue("pg_database")
    if url is None:
        pytest.fail(f"{PG_URL_ENV} is not set; this test needs PostgreSQL")

    async def reset() -> None:
        engine = create_async_engine(url)
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {_TABLES} RESTART IDENTITY CASCADE"))
        await engine.dispose()
        db = Database(url)
        await load_reference_catalogues(db)
        await db.dispose()

    _run(reset())
    return url


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 21, 3, 0, 0, tzinfo=UTC))


@pytest.fixture
def settings_factory(db_url: str) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": db_url,
            "admin_token": ADMIN_TOKEN,
            "public_base_url": BASE_URL,
            "sandbox": True,
            "run_workers": False,
            "log_level": "WARNING",
        }
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
def settings(settings_factory: Callable[..., Settings]) -> Settings:
    return settings_factory()


@pytest.fixture
def outbound() -> RoutingTransport:
    """Outbound HTTP of the app under test: its own host goes back into the app (simulators);
    other hosts are answered by handlers a test registers, or refused."""
    return RoutingTransport()


@pytest.fixture
async def app(settings: Settings, outbound: RoutingTransport, clock: Clock) -> AsyncIterator[FastAPI]:
    application = create_app(
        settings,
        http_factory=lambda s: httpx.AsyncClient(transport=outbound, timeout=s.gateway_timeout_seconds),
        clock=clock,
        start_workers=False,
    )
    outbound.mount(BASE_URL, httpx.ASGITransport(app=application))
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as c:
        yield c


@pytest.fixture
def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}
