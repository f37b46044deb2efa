"""Command line: ``paybridge`` (or ``python -m app``) ``{migrate,serve,worker,seed-demo,rotate-secrets}``
and the operator commands of :mod:`app.cli_ops` (create-client, add-gateway-account, import-catalogue)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from app import cli_ops
from app.config import Settings
from app.logging import configure_logging


def _migrate(settings: Settings) -> None:
    from app.migrate import upgrade
    from app.services.seed import seed_catalogues

    upgrade(settings.database_url)
    counts = asyncio.run(seed_catalogues(settings))
    print(f"database at head; catalogues: {counts}")


def _serve(settings: Settings, host: str, port: int, workers: int) -> None:
    import uvicorn

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
    from app.workers import run_standalone

    # uvloop when present (uvicorn[standard] installs it), as the served app's workers run on it.
    try:
        import uvloop
    except ImportError:  # pragma: no cover - always installed with uvicorn[standard]
        asyncio.run(run_standalone(settings, once=once))
    else:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(run_standalone(settings, once=once))


def _seed_demo(settings: Settings, base_url: str | None) -> None:
    from app.services.seed import seed_demo

    demo = asyncio.run(seed_demo(settings))
    base = (base_url or settings.public_base_url).rstrip("/")
    print("")
    print("paybridge demo is ready (sandbox gateway, SQLite).")
    print(f"  agency:        {demo['agency_code']}")
    print(f"  client:        {demo['client_id']}")
    print(f"  demo API key:  {demo['api_key']}")
    print(f"  checkout link: {base}{demo['checkout_path']}")
    print(f"  API docs:      {base}/docs")
    print("")
    print("Create a payment:")
    print(
        f"  curl -s -X POST {base}/v1/payments -H 'Authorization: Bearer {demo['api_key']}' "
        "-H 'Idempotency-Key: demo-1' -H 'Content-Type: application/json' "
        '-d \'{"agency_code": "' + demo["agency_code"] + '", "dossier_code": "DEMO-0002", '
        '"payer": {"name": "Nguyen Van A"}, '
        '"items": [{"revenue_type_code": "2771", "amount": 50000}]}\''
    )
    print("")


def _rotate_secrets(settings: Settings) -> None:
    from app.services.secret_rotation import rotate_from_settings

    result = asyncio.run(rotate_from_settings(settings))
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
    demo = sub.add_parser("seed-demo", help="create a demo agency, client and sandbox account")
    demo.add_argument(
        "--base-url",
        default=None,
        help="the public base URL the printed links use (default: PAYBRIDGE_PUBLIC_BASE_URL)",
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
    if args.command == "migrate":
        _migrate(settings)
    elif args.command == "serve":
        _serve(settings, args.host, args.port, args.workers)
    elif args.command == "worker":
        _worker(settings, args.once)
    elif args.command == "seed-demo":
        _seed_demo(settings, args.base_url)
    elif args.command == "rotate-secrets":
        _rotate_secrets(settings)
    elif args.command in cli_ops.COMMANDS:
        return cli_ops.run(args.command, args, settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
