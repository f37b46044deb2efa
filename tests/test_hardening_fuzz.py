"""Contract fuzzing: schemathesis drives every operation of ``/openapi.json`` against the ASGI app,
with valid credentials and without. No answer is a 500, every documented response matches its
schema, and every error outside the gateway-facing routes is ``application/problem+json``.

Bounded: a fixed number of examples per operation, derandomized (the same cases every run).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, cast

import httpx
import orjson
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import response_schema_conformance

from app.config import Settings
from app.main import create_app
from tests.conftest import ADMIN_TOKEN, BASE_URL
from tests.factories import DEPARTMENT, PROVINCE, bill
from tests.support import Clock, RoutingTransport

EXAMPLES_PER_OPERATION = 20
# Failures found by this test and reported to the owner of the route; each stays visible as an
# xfail (with the finding) until fixed — any other failure fails the test.
KNOWN_FAILURES: dict[str, str] = {}
# Where a gateway or a browser is the caller, the answer follows the gateway's protocol or is HTML.
_FOREIGN_FORMAT_PREFIXES = ("/v1/callbacks/", "/v1/returns/", "/v1/dvcqg/", "/checkout/", "/dashboard")


@pytest.fixture
def fuzz_app(
    settings_factory: Callable[..., Settings], clock: Clock
) -> Iterator[tuple[FastAPI, dict[str, str]]]:
    """An app whose lifespan runs in schemathesis' own event-loop thread, seeded with one client,
    one sandbox account and one payment (so some generated ids can meet real rows)."""
    outbound = RoutingTransport()
    application = create_app(
        settings_factory(),
        http_factory=lambda s: httpx.AsyncClient(transport=outbound, timeout=s.gateway_timeout_seconds),
        clock=clock,
        start_workers=False,
    )
    outbound.mount(BASE_URL, httpx.ASGITransport(app=application))
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with asgi.get_client(cast(Any, application)) as http:
        for code, name, level, parent in (
            (PROVINCE, "UBND tỉnh Thử", "province", None),
            (DEPARTMENT, "Sở Tư pháp tỉnh Thử", "department", PROVINCE),
        ):
            body: dict[str, Any] = {"code": code, "name": name, "level": level}
            if parent:
                body["parent_code"] = parent
            assert http.post("/admin/v1/agencies", json=body, headers=admin).status_code == 201
        r = http.post(
            "/admin/v1/provider-accounts",
            json={"agency_code": PROVINCE, "provider": "sandbox", "credentials": {}},
            headers=admin,
        )
        assert r.status_code == 201, r.text
        r = http.post("/admin/v1/clients", json={"name": "Fuzz", "agency_codes": [PROVINCE]}, headers=admin)
        assert r.status_code == 201, r.text
        key = r.json()["api_key"]
        r = http.post(
            "/v1/payments",
            json=bill(provider="sandbox"),
            headers={"Authorization": f"Bearer {key}", "Idempotency-Key": "fuzz-seed-1"},
        )
        assert r.status_code == 201, r.text
    try:
        yield application, {"client": key, "admin": ADMIN_TOKEN}
    finally:
        asgi.shutdown_lifespans()


def problem_json_for_errors(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every 4xx/5xx of our own API is RFC 9457 problem+json with a stable snake_case code."""
    path = case.operation.path
    if response.status_code < 400 or path.startswith(_FOREIGN_FORMAT_PREFIXES):
        return None
    content_type = response.headers.get("content-type", [""])[0]
    assert content_type.startswith("application/problem+json"), (
        f"{case.operation.label} answered {response.status_code} as {content_type!r}"
    )
    body = orjson.loads(response.content)
    assert body["status"] == response.status_code
    assert isinstance(body["code"], str) and body["code"].replace("_", "").isalnum()
    assert {"type", "title", "detail"} <= body.keys()
    assert "Traceback" not in response.text
    return True


def _auth_header(path: str, tokens: dict[str, str] | None) -> dict[str, str]:
    if tokens is None:
        return {}
    token = tokens["admin"] if path.startswith(("/admin/", "/dashboard")) else tokens["client"]
    return {"Authorization": f"Bearer {token}"}


def _runner(operation: Any, headers: dict[str, str]) -> Callable[[], None]:
    """A bounded, derandomized hypothesis run of one operation, sent with ``headers`` only."""

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        if case.headers:
            case.headers.pop("Authorization", None)
        if headers:
            case.headers = {**(case.headers or {}), **headers}
        case.call_and_validate(
            checks=[not_a_server_error, response_schema_conformance],
            additional_checks=[problem_json_for_errors],
        )

    return run


@pytest.mark.parametrize("authenticated", [True, False], ids=["with-auth", "without-auth"])
def test_every_operation_keeps_its_contract(
    fuzz_app: tuple[FastAPI, dict[str, str]], authenticated: bool
) -> None:
    application, tokens = fuzz_app
    schema = schemathesis.openapi.from_asgi("/openapi.json", application)
    failures: list[str] = []
    known: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = cast(Any, result).ok()
        operations += 1
        run = _runner(operation, _auth_header(operation.path, tokens if authenticated else None))
        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # collect every operation's failure
            failures.append(f"{operation.label}: {str(exc)[:1500]}")
            if operation.label in KNOWN_FAILURES:
                known.append(f"{operation.label}: {KNOWN_FAILURES[operation.label]}")
    assert operations >= 40
    unexpected = [f for f in failures if f.split(":", 1)[0] not in KNOWN_FAILURES]
    assert not unexpected, "\n\n".join(unexpected)
    if known:
        pytest.xfail("; ".join(known))
