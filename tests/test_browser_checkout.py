"""A citizen in a real browser: the README's newcomer flow, end to end.

`python -m app migrate` → `seed-demo` (prints the key and a checkout link) → `serve`; then headless
chromium opens the link, picks the sandbox gateway, pays, and lands on the result page; the API
then says `succeeded`.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import create_database

CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def demo_db_url(pg_server: str) -> str:
    return create_database(pg_server, migrate=False)


@pytest.fixture
def live_demo(tmp_path: Path, demo_db_url: str) -> Iterator[dict[str, str]]:
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is required in CI (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} not installed")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "PAYBRIDGE_DATABASE_URL": demo_db_url,
        "PAYBRIDGE_SANDBOX": "true",
        "PAYBRIDGE_PUBLIC_BASE_URL": base,
        "PAYBRIDGE_LOG_LEVEL": "WARNING",
    }
    run = [sys.executable, "-m", "app"]
    subprocess.run([*run, "migrate"], env=env, check=True, capture_output=True, timeout=120)
    seeded = subprocess.run(
        [*run, "seed-demo"], env=env, check=True, capture_output=True, text=True, timeout=120
    )
    key = re.search(r"^  export BASE=\S+ ADMIN=\S+ KEY=(\S+)$", seeded.stdout, re.MULTILINE)
    link = re.search(r"checkout link:\s+(\S+)", seeded.stdout)
    assert key and link, seeded.stdout
    log = (tmp_path / "server.log").open("wb")
    server = subprocess.Popen([*run, "serve", "--port", str(port)], env=env, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            pytest.fail("server did not become ready in 60 s")
        yield {"base": base, "key": key.group(1), "link": link.group(1)}
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


def test_citizen_pays_in_the_browser(live_demo: dict[str, str], tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(live_demo["link"])
        assert page.get_attribute("html", "lang") == "vi"
        assert page.inner_text('[data-testid="total"]') == "50.000 ₫"
        assert "Sở Tư pháp tỉnh Demo" in page.inner_text('[data-testid="agency"]')
        # Nothing overflows a phone screen.
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        page.screenshot(path=str(tmp_path / "checkout.png"), full_page=True)

        page.click('[data-testid="provider-sandbox"]')
        page.wait_for_selector('[data-testid="pay"]')  # the sandbox gateway's own page
        assert "50.000" in page.inner_text('[data-testid="amount"]')
        page.click('[data-testid="pay"]')
        page.wait_for_selector('[data-testid="status"][data-status="succeeded"]', timeout=15000)
        assert "Thanh toán thành công" in page.inner_text('[data-testid="status"]')
        page.screenshot(path=str(tmp_path / "result.png"), full_page=True)
        assert not [e for e in errors if "Content Security Policy" in e], errors
        browser.close()

    headers = {"Authorization": f"Bearer {live_demo['key']}"}
    payments = httpx.get(f"{live_demo['base']}/v1/payments", headers=headers, timeout=10).json()["data"]
    [paid] = payments  # the demo's one payment, the one behind the link
    got = httpx.get(f"{live_demo['base']}/v1/payments/{paid['id']}", headers=headers, timeout=10).json()
    assert got["status"] == "succeeded"
    assert got["attempts"][0]["provider"] == "sandbox" and got["attempts"][0]["status"] == "succeeded"
