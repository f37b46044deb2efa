"""The per-request machinery after its fast paths: the access line (one JSON line, hand-built
record, redaction skipped only for known-safe values), cached metric children, request ids, and
authentication as a single security dependency (same OpenAPI, same answers)."""

from __future__ import annotations

import gc
import io
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI, Request

from app.config import Settings
from app.deps import ContainerDep, container_of
from app.logging import SAFE_RECORD, JsonFormatter, _timestamp
from app.metrics import Metrics
from app.middleware import RequestContextMiddleware
from tests.factories import make_world


@pytest.fixture
def access_log() -> Iterator[io.StringIO]:
    """Everything ``paybridge.access`` writes, formatted by the production formatter."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("paybridge.access")
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


async def test_one_access_line_per_request_with_every_field(
    client: httpx.AsyncClient, access_log: io.StringIO
) -> None:
    r1 = await client.get("/healthz", headers={"X-Request-ID": "portal-req-1"})
    r2 = await client.get("/no/such/thing")
    assert r1.status_code == 200 and r2.status_code == 404
    raw = access_log.getvalue().splitlines()
    lines = [orjson.loads(line) for line in raw]
    assert len(lines) == 2, raw
    first, second = lines
    assert first["msg"] == "GET /healthz 200"
    assert first["level"] == "info" and first["logger"] == "paybridge.access"
    assert first["request_id"] == "portal-req-1"
    assert first["status"] == 200 and first["route"] == "/healthz"
    assert isinstance(first["duration_ms"], float | int) and first["duration_ms"] >= 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", first["ts"])
    assert second["msg"] == "GET <unmatched> 404" and second["status"] == 404
    assert second["request_id"] == r2.headers["x-request-id"]
    assert SAFE_RECORD not in first and not any(k.startswith("_") for k in first)


def test_an_unknown_method_is_redacted_in_the_access_line(access_log: io.StringIO) -> None:
    # A raw ASGI server passes any method token through; only known methods skip redaction.
    middleware = RequestContextMiddleware(_never_called, metrics=Metrics(), max_body_bytes=10)
    middleware._finish({"type": "http", "method": "pbk_secretvalue", "path": "/x"}, 405, 0.0)
    middleware._finish({"type": "http", "method": "GET", "path": "/x"}, 404, 0.0)
    first, second = (orjson.loads(line) for line in access_log.getvalue().splitlines())
    assert "secretvalue" not in first["msg"] and "[REDACTED]" in first["msg"]
    assert second["msg"] == "GET <unmatched> 404"


async def _never_called(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError("not called")


def test_safe_flag_skips_redaction_only_for_its_record() -> None:
    formatter = JsonFormatter()

    def record(safe: bool) -> logging.LogRecord:
        rec = logging.LogRecord("paybridge.x", logging.INFO, __file__, 1, "token=%s", ("abc123",), None)
        rec.note = "password=hunter22"
        if safe:
            setattr(rec, SAFE_RECORD, True)
        return rec

    unsafe = orjson.loads(formatter.format(record(False)))
    assert "abc123" not in unsafe["msg"] and "hunter22" not in unsafe["note"]
    safe = orjson.loads(formatter.format(record(True)))
    assert safe["msg"] == "token=abc123" and safe["note"] == "password=hunter22"
    assert SAFE_RECORD not in safe
    # A record that merely has the attribute set to something truthy but not True is redacted.
    rec = record(False)
    setattr(rec, SAFE_RECORD, "yes")
    assert "abc123" not in formatter.format(rec)


@pytest.mark.parametrize(
    "created",
    [0.0, 1_700_000_000.0, 1_700_000_000.0004, 1_700_000_000.9994, 1_700_000_001.5, 1_799_999_999.123456],
)
def test_timestamp_matches_isoformat(created: float) -> None:
    expected = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
    assert _timestamp(created) == expected
    assert _timestamp(created) == expected  # the cached second gives the same answer


def test_timestamp_seconds_roll_over() -> None:
    a, b = _timestamp(1_700_000_000.25), _timestamp(1_700_000_001.75)
    assert a.endswith(":20.250+00:00") and b.endswith(":21.750+00:00")
    assert _timestamp(1_700_000_000.5).endswith(":20.500+00:00")


def test_metric_children_are_cached_and_counted() -> None:
    metrics = Metrics()
    for _ in range(3):
        metrics.observe_request("GET", "/healthz", 200, 0.001)
    metrics.observe_request("GET", "/healthz", 503, 0.2)
    text = metrics.render().decode()
    assert 'paybridge_http_requests_total{method="GET",route="/healthz",status="200"} 3.0' in text
    assert 'paybridge_http_requests_total{method="GET",route="/healthz",status="503"} 1.0' in text
    assert 'paybridge_http_request_duration_seconds_count{method="GET",route="/healthz"} 4.0' in text
    assert len(metrics._request_children) == 2


async def test_generated_request_id_is_32_hex_and_last_sent_one_wins(client: httpx.AsyncClient) -> None:
    r = await client.get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{32}", r.headers["x-request-id"])
    assert r.headers["x-content-type-options"] == "nosniff"
    r = await client.get("/healthz", headers=[("X-Request-ID", "first"), ("X-Request-ID", "second")])
    assert r.headers["x-request-id"] == "second"
    r = await client.get("/healthz", headers={"X-Request-ID": "x" * 129})
    assert r.headers["x-request-id"] != "x" * 129


async def test_bearer_parsing_of_the_single_auth_dependency(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    world = await make_world(client, admin_headers)
    key = world.headers["Authorization"].split()[1]
    assert (await client.get("/v1/payments", headers={"Authorization": f"bearer {key}"})).status_code == 200
    assert (
        await client.get("/v1/payments", headers={"Authorization": f"BEARER   {key}  "})
    ).status_code == 200
    for bad in ("Bearer", "Bearer ", f"Basic {key}", key, f"Token {key}", ""):
        r = await client.get("/v1/payments", headers={"Authorization": bad})
        assert r.status_code == 401, bad
        assert r.json()["code"] == "unauthorized"
    r = await client.get(
        "/admin/v1/clients", headers={"Authorization": "bearer " + admin_headers["Authorization"].split()[1]}
    )
    assert r.status_code == 200
    r = await client.get("/admin/v1/clients", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 401


async def test_openapi_still_documents_both_bearer_schemes(client: httpx.AsyncClient, app: FastAPI) -> None:
    spec = (await client.get("/openapi.json")).json()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["HTTPBearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "API key of the integrating client",
    }
    assert schemes["AdminToken"]["scheme"] == "bearer"
    assert {"HTTPBearer": []} in spec["paths"]["/v1/payments/{payment_id}"]["get"]["security"]
    assert {"AdminToken": []} in spec["paths"]["/admin/v1/clients"]["get"]["security"]


async def test_gc_is_tuned_only_for_the_served_app(settings: Settings) -> None:
    from app.main import GC_THRESHOLDS, create_app

    before = gc.get_threshold()
    try:
        plain = create_app(settings, start_workers=False)
        async with plain.router.lifespan_context(plain):
            assert gc.get_threshold() == before
        served = create_app(settings, start_workers=False, tune_gc=True)
        async with served.router.lifespan_context(served):
            assert gc.get_threshold() == GC_THRESHOLDS
            assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


async def test_container_of_gives_the_container_the_dependency_gives(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    @app.get("/_test/container")
    async def probe(request: Request, container: ContainerDep) -> dict[str, bool]:
        return {"same": container_of(request) is container is app.state.container}

    r = await client.get("/_test/container")
    assert r.status_code == 200 and r.json() == {"same": True}
