"""Alembic, driven from code: upgrade to head and read the head/current revisions.

The scripts are the root ``migrations/`` folder in a source checkout, and ``app/migrations`` in an
installed copy (``pip install .`` ships them there, see setup.py): :func:`migrations_dir` finds
either, so ``paybridge migrate`` works without the source tree or ``alembic.ini``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

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
