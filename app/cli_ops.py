"""Operator commands: the first steps after `paybridge migrate`, without curl.

    paybridge create-client --name "Cổng DVC tỉnh X" --agency 000.00.00.H56 [--webhook-url …]
    paybridge add-gateway-account --agency 000.00.31.H56 --provider vnpay --credential tmn_code=… …
    paybridge import-catalogue {agencies,revenue-types,banks} FILE.csv

Each runs the same service function as the operator API (same validation, same all-or-nothing
imports), prints what it did in plain lines, and exits 0; a refusal prints the problem's detail and
every field error, and exits 1.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TextIO

from app.bootstrap import close_container, make_container
from app.config import Settings
from app.db import Database
from app.errors import ProblemError
from app.progress import Progress
from app.services.access.clients import create_client
from app.services.catalogue import agencies, catalog
from app.services.catalogue.gateway_accounts import create_account
from app.services.catalogue.imports import parse_import_file

CATALOGUES = {
    "agencies": "code,name,level,parent_code",
    "revenue-types": "code,group_code,name,kind,chapter,valid_from,valid_to",
    "banks": "bin,sbv_code,short_name,name",
}


def register(sub: Any) -> None:
    """Add the operator commands to ``python -m app``'s subcommand parser."""
    client = sub.add_parser(
        "create-client",
        help="create an API client for agency subtrees; prints its API key and webhook secret once",
        description="Create a client (a portal) that may act for the given agencies and everything "
        "under them. The API key and the webhook secret are printed once: store them now.",
    )
    client.add_argument("--name", required=True, help="the client's display name, e.g. the portal's name")
    client.add_argument(
        "--agency",
        action="append",
        required=True,
        metavar="CODE",
        dest="agencies",
        help="an agency code the client may use (with its subtree); repeat for several",
    )
    client.add_argument(
        "--webhook-url", default=None, help="https URL that receives the signed event webhooks (optional)"
    )
    client.add_argument(
        "--allowed-host",
        action="append",
        default=None,
        metavar="HOST",
        dest="allowed_hosts",
        help="a host the client's return and webhook URLs may use; repeat for several "
        "(default: the webhook URL's host)",
    )

    account = sub.add_parser(
        "add-gateway-account",
        help="attach a gateway merchant account to an agency (credentials are stored encrypted)",
        description="Attach a merchant account at a gateway to an agency; payments of the agency and "
        "its subtree can then use that gateway. Prints the callback URL to register at the gateway.",
    )
    account.add_argument("--agency", required=True, metavar="CODE", help="the agency code the account serves")
    account.add_argument(
        "--provider",
        required=True,
        help="the gateway: sandbox, vnpay, momo, zalopay, onepay, vietqr, dvcqg or paygov",
    )
    account.add_argument(
        "--credential",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="one credential, e.g. tmn_code=ABC or hash_secret=…; repeat for each the gateway needs",
    )
    account.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="one non-secret gateway setting (optional); repeat for several",
    )

    catalogue = sub.add_parser(
        "import-catalogue",
        help="import agencies, revenue types or banks from a CSV or JSON file, all or nothing",
        description="Import a catalogue file. CSV columns (header line first): "
        + "; ".join(f"{kind}: {columns}" for kind, columns in CATALOGUES.items())
        + ". A JSON file is an array of objects with the same fields. One bad row rejects the "
        "whole file and every bad line is listed.",
    )
    catalogue.add_argument("kind", choices=sorted(CATALOGUES), help="which catalogue the file holds")
    catalogue.add_argument("file", type=Path, help="the CSV (UTF-8) or JSON file to import")


COMMANDS = ("create-client", "add-gateway-account", "import-catalogue")


def run(command: str, args: argparse.Namespace, settings: Settings, out: TextIO | None = None) -> int:
    """Run one operator command; 0 when done, 1 when paybridge refused it (the reason is printed)."""
    out = out or sys.stdout
    actions: dict[str, Callable[[argparse.Namespace, Settings, TextIO], Coroutine[Any, Any, None]]] = {
        "create-client": _create_client,
        "add-gateway-account": _add_gateway_account,
        "import-catalogue": _import_catalogue,
    }
    try:
        asyncio.run(actions[command](args, settings, out))
    except ProblemError as exc:
        print(f"paybridge: {command} refused: {exc.detail}", file=sys.stderr)
        for error in exc.errors or []:
            line = f"line {error['line']}: " if "line" in error else ""
            print(f"  {line}{error.get('field', '')}: {error.get('message', '')}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"paybridge: {command}: {exc.strerror or exc}: {getattr(exc, 'filename', '')}", file=sys.stderr)
        return 1
    return 0


def _pairs(values: list[str], option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name.strip():
            raise ProblemError(f"{option} takes NAME=VALUE, got {value!r}")
        out[name.strip()] = rest
    return out


async def _create_client(args: argparse.Namespace, settings: Settings, out: TextIO) -> None:
    container = make_container(settings)
    try:
        made = await create_client(
            container,
            name=args.name,
            agency_codes=args.agencies,
            webhook_url=args.webhook_url,
            allowed_hosts=args.allowed_hosts,
        )
    finally:
        await close_container(container)
    view = made.view
    print(f"created client {view.client.id} ({view.client.name})", file=out)
    print(f"  agencies:       {', '.join(view.agency_codes)}", file=out)
    print(
        f"  webhook URL:    {view.client.webhook_url or '(none: the portal polls GET /v1/events)'}", file=out
    )
    print(f"  API key:        {made.api_key}", file=out)
    print(f"  webhook secret: {made.webhook_secret}", file=out)
    print("The key and the secret are shown only now: store them in the portal.", file=out)


async def _add_gateway_account(args: argparse.Namespace, settings: Settings, out: TextIO) -> None:
    credentials = _pairs(args.credential, "--credential")
    gateway_settings = _pairs(args.setting, "--setting")
    container = make_container(settings)
    try:
        account = await create_account(
            container,
            agency_code=args.agency,
            provider=args.provider,
            credentials=credentials,
            settings=gateway_settings or None,
        )
    finally:
        await close_container(container)
    print(f"added {account.provider} account {account.id} for agency {account.agency_code}", file=out)
    print(f"  callback URL (register it at the gateway): {account.callback_url}", file=out)
    print(f"  return URL:                                {account.return_url}", file=out)
    print(f"  credentials stored encrypted: {', '.join(sorted(credentials)) or '(none)'}", file=out)


async def _import_catalogue(args: argparse.Namespace, settings: Settings, out: TextIO) -> None:
    path: Path = args.file
    body = await asyncio.to_thread(path.read_bytes)
    content_type = "application/json" if path.suffix.lower() == ".json" else "text/csv"
    rows = parse_import_file(body, content_type)
    importers = {
        "agencies": agencies.import_agencies,
        "revenue-types": catalog.import_revenue_types,
        "banks": catalog.import_banks,
    }
    db = Database(settings.database_url)
    try:
        counts = await importers[args.kind](db, rows, progress=progress_bar(sys.stderr, args.kind))
    finally:
        await db.dispose()
    print(
        f"imported {len(rows)} {args.kind} row(s) from {path.name}: {counts['created']} created, "
        f"{counts['updated']} updated, {counts['unchanged']} already present",
        file=out,
    )


def progress_bar(stream: TextIO, label: str, width: int = 30) -> Progress:
    """A progress bar for long CLI work: redrawn in place on a terminal; on a pipe or a log, a line
    at each quarter (never hundreds of lines)."""
    tty = stream.isatty()
    shown: set[int] = set()

    async def report(done: int, total: int) -> None:
        if total <= 0:
            return
        percent = min(100, done * 100 // total)
        if tty:
            filled = width * percent // 100
            bar = "#" * filled + "-" * (width - filled)
            end = "\n" if done >= total else ""
            stream.write(f"\r{label}: [{bar}] {percent:3d}% {done}/{total}{end}")
            stream.flush()
            return
        quarter = percent // 25
        if quarter not in shown:
            shown.add(quarter)
            stream.write(f"{label}: {percent}% ({done}/{total})\n")
            stream.flush()

    return report
