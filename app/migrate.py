"""Alembic, driven from code: upgrade to head and read the head/current revisions.

The scripts are the root ``migrations/`` folder in a source checkout, and ``app/migrations`` in an
installed copy (``pip install .`` ships them there, see setup.py): :func:`migrations_dir` finds
either, so ``paybridge migrate`` works without the source tree or ``alembic.ini``.
"""

from __future__ import annotations

import asyncio
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

PACKAGE = Path(__file__).resolve().parent
ROOT = PACKAGE.parent


def migrations_dir() -> Path:
    """Where the Alembic scripts are: inside the installed package, else the checkout's root."""
    for candidate in (PACKAGE / "migrations", ROOT / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise FileNotFoundError("no Alembic scripts: neither app/migrations nor migrations/ has env.py")


def alembic_config(database_url: str | None = None) -> Config:
    ini = ROOT / "alembic.ini"
    cfg = Config(str(ini)) if ini.is_file() and (ROOT / "migrations").is_dir() else Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.set_main_option("path_separator", "os")
    if database_url:
        cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


@lru_cache(maxsize=1)
def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def upgrade(database_url: str) -> None:
    command.upgrade(alembic_config(database_url), "head")


def current_revision(database_url: str) -> str | None:
    """The revision the database is at (None before the first migration)."""

    def revision(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async def read() -> str | None:
        engine = create_async_engine(database_url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(revision)
        finally:
            await engine.dispose()

    return asyncio.run(read())
