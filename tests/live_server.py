"""A real HTTP server for browser tests: uvicorn in a background thread on 127.0.0.1, a free port.

    settings = Settings(database_url=db_url, ...)   # the `db_url` fixture, or conftest.create_database
    with live_server(create_app(settings, start_workers=False)) as base_url:
        page.goto(base_url + "/checkout/...")

The app runs its own lifespan in the server's event loop (engine, HTTP client), so it shares
nothing with the test's loop but the database: set data up through another app or ``Database``
on the same URL. Also :func:`chromium_or_skip`: where the browser lives, and what to do without it.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def live_server(
    app: Any, *, host: str = "127.0.0.1", port: int | None = None, startup_timeout: float = 15.0
) -> Iterator[str]:
    """Serve ``app`` (lifespan included) until the block ends; yields ``http://host:port``
    (``port``: a free one unless given, e.g. one the app's public base URL already names)."""
    port = port or free_port(host)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"live-server-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the live server stopped during startup (see the log above)")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the live server did not start within {startup_timeout:g} s")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def chromium_or_skip() -> str:
    """The chromium binary; without it a browser test fails in CI (CI=true) and is skipped elsewhere."""
    if Path(CHROMIUM).exists():
        return CHROMIUM
    message = f"browser tests need chromium at {CHROMIUM} (apt-get install chromium)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)
