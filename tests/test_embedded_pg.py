"""The embedded PostgreSQL and the first hour of `make run` on it.

The server: a Unix socket only, data kept between starts, shared by processes and stopped by the
last one. The commands: `migrate` and `seed-demo` start it when PAYBRIDGE_DATABASE_URL is unset,
say what they did, keep the demo's key and operator token, follow the public base URL on a rerun,
and leave no server running.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import make_url

from app.embedded_pg import EmbeddedPostgres

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def folder() -> Iterator[Path]:
    # Not under pytest's tmp_path (mode 700): as root the server runs as another user.
    path = Path(tempfile.mkdtemp(prefix="paybridge-epg-"))
    path.chmod(0o755)
    yield path
    server = EmbeddedPostgres(path / "pgdata")
    server.remove()
    shutil.rmtree(path, ignore_errors=True)


async def _fetch(url: str, sql: str) -> object:
    conn = await asyncpg.connect(make_url(url).set(drivername="postgresql").render_as_string(False))
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


def test_socket_only_kept_data_and_the_last_user_stops_it(folder: Path) -> None:
    server = EmbeddedPostgres(folder / "pgdata")
    url = server.start()
    assert server.is_running()
    # Nothing on TCP: no address to listen on; the socket is the owner's alone.
    assert asyncio.run(_fetch(url, "SELECT current_setting('listen_addresses')")) == ""
    sock = server.socket_dir / ".s.PGSQL.5432"
    assert stat.S_IMODE(sock.stat().st_mode) == 0o700
    asyncio.run(_fetch(url, "CREATE TABLE kept AS SELECT 42 AS answer"))

    # Another process starts using it: our stop leaves it running for them.
    other = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, pathlib; from app.embedded_pg import EmbeddedPostgres as E; "
            "s = E(pathlib.Path(sys.argv[1])); s.start(); print('up', flush=True); "
            "sys.stdin.readline(); print('stopped' if s.stop() else 'left', flush=True)",
            str(folder / "pgdata"),
        ],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert other.stdout is not None and other.stdin is not None
    assert other.stdout.readline().strip() == "up"
    assert server.stop() is False and server.is_running()
    out, _ = other.communicate("\n", timeout=60)
    assert out.strip() == "stopped" and not server.is_running()

    # Started again: the data is still there.
    url = server.start()
    assert asyncio.run(_fetch(url, "SELECT answer FROM kept")) == 42
    assert server.stop() is True and not server.is_running()


def _cli(folder: Path, *args: str, base: str) -> subprocess.CompletedProcess[str]:
    env = {
        key: value for key, value in os.environ.items() if not key.startswith("PAYBRIDGE_") and key != "CI"
    }
    env |= {
        "PAYBRIDGE_DATA_DIR": str(folder),
        "PAYBRIDGE_SANDBOX": "true",
        "PAYBRIDGE_PUBLIC_BASE_URL": base,
        "PAYBRIDGE_LOG_LEVEL": "WARNING",
    }
    run = subprocess.run(
        [sys.executable, "-m", "app", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )
    assert run.returncode == 0, run.stderr
    return run


def test_make_run_steps_on_the_embedded_server_are_idempotent(folder: Path) -> None:
    migrated = _cli(folder, "migrate", base="http://127.0.0.1:8200")
    assert re.search(r"catalogue up to date: \d+ banks, \d+ revenue types", migrated.stdout)
    assert "{" not in migrated.stdout
    assert "embedded PostgreSQL started" in migrated.stderr
    assert "embedded PostgreSQL stopped" in migrated.stderr
    again = _cli(folder, "migrate", base="http://127.0.0.1:8200")
    assert "added now" not in again.stdout

    env_file = folder / "demo.env"
    first = _cli(folder, "seed-demo", "--env-file", str(env_file), base="http://127.0.0.1:8200")
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    exports = re.search(r"^  export BASE=(\S+) ADMIN=(\S+) KEY=(\S+)$", first.stdout, re.MULTILINE)
    assert exports and exports.group(1) == "http://127.0.0.1:8200"
    assert "checkout link: http://127.0.0.1:8200/checkout/" in first.stdout
    assert "demo payment:" in first.stdout and "created" in first.stdout

    # Another port: nothing new is minted, the stored sandbox URLs move to the new port.
    second = _cli(folder, "seed-demo", "--env-file", str(env_file), base="http://127.0.0.1:8300")
    again_exports = re.search(r"^  export BASE=(\S+) ADMIN=(\S+) KEY=(\S+)$", second.stdout, re.MULTILINE)
    assert again_exports is not None
    assert again_exports.groups()[1:] == exports.groups()[1:]
    assert again_exports.group(1) == "http://127.0.0.1:8300"
    assert "sandbox gateway account:     updated to http://127.0.0.1:8300" in second.stdout
    for piece in ("client and API key", "demo payment", "operator token"):
        assert re.search(rf"{piece}:\s+already present", second.stdout), second.stdout
    assert "checkout link: http://127.0.0.1:8300/checkout/" in second.stdout
    assert f"ADMIN={exports.group(2)} KEY={exports.group(3)}" in env_file.read_text()
    assert not EmbeddedPostgres(folder / "pgdata").is_running()
