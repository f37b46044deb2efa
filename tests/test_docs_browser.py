"""The API docs on an air-gapped network: headless chromium loads `/docs` (Swagger UI) and `/redoc`
(ReDoc) with every non-loopback request refused, and still sees the operations rendered."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from app.config import Settings
from app.main import create_app
from tests.live_server import CHROMIUM_ARGS, chromium_or_skip, live_server

pytestmark = pytest.mark.browser


async def _offline_page(browser: Any, blocked: list[str], errors: list[str]) -> Any:
    page = await browser.new_page()

    async def only_loopback(route: Any) -> None:
        if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
            await route.continue_()
        else:
            blocked.append(route.request.url)
            await route.abort("internetdisconnected")

    await page.route("**/*", only_loopback)
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    return page


async def test_swagger_ui_and_redoc_render_without_internet(settings: Settings) -> None:
    executable = chromium_or_skip()
    from playwright.async_api import async_playwright

    live_app = create_app(settings, start_workers=False)
    with live_server(live_app) as base:
        spec = httpx.get(base + "/openapi.json", timeout=10).json()
        counts = {
            section: sum(
                1
                for item in spec[section].values()
                for method in item
                if method in {"get", "post", "put", "patch", "delete"}
            )
            for section in ("paths", "webhooks")
        }
        operations = counts["paths"] + counts["webhooks"]  # Swagger UI lists the webhooks too
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
            try:
                blocked: list[str] = []
                errors: list[str] = []
                page = await _offline_page(browser, blocked, errors)
                await page.goto(base + "/docs")
                await page.locator(".opblock").first.wait_for(timeout=20000)
                assert await page.locator(".opblock").count() == operations
                create = page.locator(".opblock-post .opblock-summary-path", has_text="/v1/payments").first
                assert await create.is_visible()
                assert blocked == [], blocked
                assert errors == [], errors

                page = await _offline_page(browser, blocked, errors)
                await page.goto(base + "/redoc")
                menu = page.locator("li[data-item-id^='tag/payments/operation/']")
                await menu.first.wait_for(state="attached", timeout=30000)
                assert await page.locator("li[data-item-id*='/operation/']").count() >= counts["paths"]
                for event in spec["webhooks"].values():  # the webhooks section, each event's payload
                    summary = event["post"]["summary"]
                    assert await page.locator("li[data-item-id]", has_text=summary).count() >= 1, summary
                assert await page.get_by_role("heading", name=spec["info"]["title"]).count() >= 1
                assert blocked == [], blocked  # the Redocly logo is refused by the page's policy
                assert [e for e in errors if "cdn.redoc.ly/redoc/logo-mini.svg" not in e] == [], errors
            finally:
                await browser.close()


async def test_docs_pages_reference_only_local_assets(client: httpx.AsyncClient) -> None:
    for path, asset in (
        ("/docs", "/docs-assets/swagger-ui-bundle.js"),
        ("/redoc", "/docs-assets/redoc.standalone.js"),
    ):
        page = await client.get(path)
        assert page.status_code == 200
        assert asset in page.text
        assert "cdn" not in page.text.lower() and "fonts.googleapis" not in page.text
        script = await client.get(asset)
        assert script.status_code == 200 and len(script.content) > 100_000
