"""``/metrics`` in production needs ``Authorization: Bearer <PAYBRIDGE_METRICS_TOKEN>`` (and is off
without one); in development it stays open for a local Prometheus."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from app.config import Settings
from app.main import create_app
from tests.conftest import BASE_URL

METRICS_TOKEN = "metrics-token-0123456789abcdef"
PRODUCTION: dict[str, Any] = {
    "env": "production",
    "secret_key": "production-secret-key-0123456789abcdef-xyz",
    "admin_token": "production-admin-token-0123456789",
    "public_base_url": "https://paybridge.example.gov.vn",
    "sandbox": False,
}


@asynccontextmanager
async def _serve(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    application = create_app(settings, start_workers=False)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as c:
            yield c


async def test_production_metrics_need_the_token(settings_factory: Callable[..., Settings]) -> None:
    async with _serve(settings_factory(**PRODUCTION, metrics_token=METRICS_TOKEN)) as c:
        r = await c.get("/metrics")
        assert r.status_code == 401 and r.json()["code"] == "unauthorized"
        assert "paybridge_" not in r.text and "http_request" not in r.text
        wrong = await c.get("/metrics", headers={"Authorization": "Bearer not-the-metrics-token"})
        assert wrong.status_code == 401
        # The operator token is not the metrics token either.
        admin = await c.get("/metrics", headers={"Authorization": f"Bearer {PRODUCTION['admin_token']}"})
        assert admin.status_code == 401
        ok = await c.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert ok.status_code == 200 and ok.headers["content-type"].startswith("text/plain")
        assert "# TYPE" in ok.text


async def test_production_without_a_metrics_token_keeps_metrics_off(
    settings_factory: Callable[..., Settings],
) -> None:
    async with _serve(settings_factory(**PRODUCTION)) as c:
        r = await c.get("/metrics")
        assert r.status_code == 503 and r.json()["code"] == "metrics_disabled"
        assert (await c.get("/healthz")).status_code == 200


async def test_development_metrics_are_open_unless_a_token_is_set(
    settings_factory: Callable[..., Settings],
) -> None:
    async with _serve(settings_factory()) as c:
        assert (await c.get("/metrics")).status_code == 200
    async with _serve(settings_factory(metrics_token=METRICS_TOKEN)) as c:
        assert (await c.get("/metrics")).status_code == 401
        ok = await c.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert ok.status_code == 200


def test_production_refuses_a_short_metrics_token() -> None:
    with pytest.raises(ValueError, match="PAYBRIDGE_METRICS_TOKEN"):
        Settings(**PRODUCTION, metrics_token="short")
