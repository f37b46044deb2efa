"""Command line: ``paybridge`` (or ``python -m app``) ``{migrate,serve,worker,seed-demo,rotate-secrets}``
and the operator commands of :mod:`app.cli_ops` (create-client, add-gateway-account, import-catalogue).

Every command works on ``PAYBRIDGE_DATABASE_URL``; when it is unset (development only) the command
starts the embedded PostgreSQL under ``PAYBRIDGE_DATA_DIR`` (``.paybridge/pgdata``) and stops it
when it ends, unless another paybridge process still uses it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn
import uvloop

from app import cli_ops, migrate, workers
from app.config import Settings
from app.db import DatabaseNotConfigured
from app.embedded_pg import EmbeddedPostgres, EmbeddedPostgresError
from app.logging import configure_logging
from app.services.operations import secret_rotation, seed


@contextmanager
def _database(settings: Settings) -> Iterator[Settings]:
    """``settings`` with a database: the operator's, or the embedded one started for this command."""
    if settings.database_url:
        yield settings
        return
    server = EmbeddedPostgres(settings.data_dir / "pgdata")
    running = server.is_running()
    url = server.start()
    where = f"{server.data_dir} (socket in {server.socket_dir})"
    _say(f"embedded PostgreSQL {'in use' if running else 'started'}: {where}")
    # Processes this one starts (uvicorn's workers, `app.main:app`) read their settings anew.
    os.environ["PAYBRIDGE_DATABASE_URL"] = url
    try:
        yield settings.model_copy(update={"database_url": url})
    finally:
        if server.stop():
            _say("embedded PostgreSQL stopped")


def _say(message: str) -> None:
    print(f"paybridge: {message}", file=sys.stderr, flush=True)


def _migrate(settings: Settings) -> None:
    migrate.upgrade(settings.database_url)
    status = asyncio.run(seed.seed_catalogues(settings))
    print(f"database at head ({migrate.current_revision(settings.database_url)}); {status.describe()}")


def _serve(settings: Settings, host: str, port: int, workers: int) -> None:
    uvicorn.run(
        "app.main:app",
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        proxy_headers=True,
        server_header=False,
        # We write our own JSON access line (app/middleware.py); uvicorn's would only format its
        # arguments on every response for a logger that drops them.
        access_log=False,
        # httptools, with each response's status line, headers and body sent in one write.
        http="app.server:CoalescingHttpToolsProtocol",
    )


def _worker(settings: Settings, once: bool) -> None:
    # uvloop (uvicorn[standard] installs it), as the served app's workers run on it.
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(workers.run_standalone(settings, once=once))


def _read_env_file(path: Path) -> dict[str, str]:
    """NAME=value pairs of a file :func:`_write_env_file` wrote (``export`` lines)."""
    values: dict[str, str] = {}
    if not path.exists():
        return values
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line.startswith("#") or not line:
            continue
        for word in line.removeprefix("export ").split():
            name, sep, value = word.partition("=")
            if sep:
                values[name] = value
    return values


def _write_env_file(path: Path, values: dict[str, str]) -> None:
    """Secrets of the local demo, readable by this user only (mode 600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("# paybridge demo (make run): the base URL, the operator token and the demo API key.\n")
        handle.write("# Load them into a shell with:  . " + str(path) + "\n")
        handle.write("export " + " ".join(f"{name}={value}" for name, value in values.items()) + "\n")
    path.chmod(0o600)


def _seed_demo(settings: Settings, env_file: Path | None) -> None:
    kept = _read_env_file(env_file) if env_file else {}
    admin = settings.admin_token.get_secret_value() or kept.get("ADMIN") or secrets.token_urlsafe(32)
    demo = asyncio.run(seed.seed_demo(settings, api_key=kept.get("KEY")))
    base = settings.public_base_url
    exports = {"BASE": base, "ADMIN": admin, "KEY": demo.api_key}
    if env_file:
        token_state = "already present" if kept.get("ADMIN") == admin else "created"
        _write_env_file(env_file, exports)
    print("")
    print("paybridge demo (sandbox gateway):")
    for what, state in demo.steps:
        print(f"  {what + ':':<28} {state}")
    if env_file:
        print(f"  {'operator token:':<28} {token_state} (kept in {env_file}, mode 600)")
    print("")
    print(f"  agency:        {demo.agency_code}")
    print(f"  client:        {demo.client_id}")
    print(f"  checkout link: {demo.checkout_url}")
    print(f"  API docs:      {base}/docs")
    print("")
    print("In another shell, for the README's curl lines:")
    print("  export " + " ".join(f"{name}={value}" for name, value in exports.items()))
    print("")


def _rotate_secrets(settings: Settings) -> None:
    result = asyncio.run(secret_rotation.rotate_from_settings(settings))
    print(
        f"re-encrypted {result.provider_accounts} gateway accounts and "
        f"{result.client_secrets} clients' webhook secrets under the current PAYBRIDGE_SECRET_KEY"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="paybridge",
        description="paybridge: payment integration for Vietnam's public-service portals. Settings come "
        "from PAYBRIDGE_* environment variables (see README, Operate). `python -m app` is the same command.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply database migrations and load the seed catalogues")
    serve = sub.add_parser("serve", help="run the HTTP server (uvicorn)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    serve.add_argument("--port", type=int, default=8000, help="TCP port to listen on (default: %(default)s)")
    serve.add_argument(
        "--workers", type=int, default=1, help="server processes to run (default: %(default)s)"
    )
    worker = sub.add_parser("worker", help="run the background jobs without the HTTP server")
    worker.add_argument("--once", action="store_true", help="run every job once and exit")
    demo = sub.add_parser(
        "seed-demo",
        help="create (or find) a demo agency, client, sandbox account and payment; safe to run again",
    )
    demo.add_argument(
        "--env-file",
        type=Path,
        default=None,
        help="keep BASE, ADMIN (operator token) and KEY (demo API key) in this file (mode 600) "
        "and reuse them on the next run",
    )
    sub.add_parser(
        "rotate-secrets",
        help="re-encrypt stored credentials under PAYBRIDGE_SECRET_KEY (old keys: PAYBRIDGE_OLD_SECRET_KEYS)",
    )
    cli_ops.register(sub)
    args = parser.parse_args(argv)

    try:
        settings = Settings()
    except ValueError as exc:
        print(f"paybridge: cannot start: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    try:
        with _database(settings) as settings:
            if args.command == "migrate":
                _migrate(settings)
            elif args.command == "serve":
                _serve(settings, args.host, args.port, args.workers)
            elif args.command == "worker":
                _worker(settings, args.once)
            elif args.command == "seed-demo":
                _seed_demo(settings, args.env_file)
            elif args.command == "rotate-secrets":
                _rotate_secrets(settings)
            elif args.command in cli_ops.COMMANDS:
                return cli_ops.run(args.command, args, settings)
    except (EmbeddedPostgresError, DatabaseNotConfigured) as exc:
        print(f"paybridge: cannot start: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: the server has drained and the database is stopped
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
