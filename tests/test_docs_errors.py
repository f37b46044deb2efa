"""Errors a portal developer can act on: every problem `type` URI resolves to a page paybridge serves
(HTML, JSON and Markdown) about that code and its fix; `instance` on every problem; plain words for
a body that is not JSON, a body without `Content-Type: application/json`, and an unknown revenue type."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

import app
from app.errors import _STATUS_CODES, ProblemError
from app.problems import PROBLEM_DOCS
from tests.factories import DEPARTMENT, World, bill, create, make_world

BASE = "http://paybridge.test"  # conftest's PAYBRIDGE_PUBLIC_BASE_URL


@pytest.fixture
async def world(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> World:
    return await make_world(client, admin_headers)


def _subclasses(cls: type[ProblemError]) -> list[type[ProblemError]]:
    out: list[type[ProblemError]] = []
    for sub in cls.__subclasses__():
        out += [sub, *_subclasses(sub)]
    return out


def _codes_in_app() -> set[str]:
    """Every code paybridge can answer with: ProblemError subclasses, the status fallbacks, and the
    literal codes handed to problem_response or written into a problem body by hand."""
    for module in pkgutil.walk_packages(app.__path__, "app."):
        if not module.name.startswith("app.simulators"):
            importlib.import_module(module.name)
    classes: list[type[ProblemError]] = [ProblemError, *_subclasses(ProblemError)]
    codes = {cls.code for cls in classes}
    codes |= {code for code, _ in _STATUS_CODES.values()} | {"http_error"}
    source = "\n".join(p.read_text() for p in Path(app.__path__[0]).rglob("*.py"))
    codes |= set(re.findall(r'problem_response\(\s*\d{3},\s*"([a-z_]+)"', source))
    codes |= set(re.findall(r'"code": "([a-z_]+)"', source))
    codes |= set(re.findall(r'problem_type\("([a-z_]+)"\)', source))
    return codes


def test_every_code_paybridge_answers_has_a_page() -> None:
    codes = _codes_in_app()
    assert {"duplicate_bill", "validation_error", "database_unavailable", "not_ready"} <= codes
    assert sorted(codes - set(PROBLEM_DOCS)) == []
    for doc in PROBLEM_DOCS.values():
        assert len(doc.meaning) > 30 and len(doc.fix) > 30, doc.code


async def test_type_uri_resolves_to_a_page_about_the_error(client: httpx.AsyncClient) -> None:
    problem = (await client.get("/v1/nothing-here")).json()
    assert problem["type"] == f"{BASE}/problems/not_found"
    assert problem["instance"] == "/v1/nothing-here"

    page = await client.get(problem["type"], headers={"Accept": "text/html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<code>not_found</code>" in page.text and "How to fix it" in page.text

    as_json = (await client.get(problem["type"], headers={"Accept": "application/json"})).json()
    assert as_json["code"] == "not_found" and as_json["status"] == 404
    assert as_json["type"] == problem["type"] and as_json["fix"]

    markdown = await client.get(problem["type"] + "?format=md")
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert markdown.text.startswith("# `not_found` — Not found (HTTP 404)")

    listing = (await client.get("/problems?format=json")).json()["data"]
    assert {d["code"] for d in listing} == set(PROBLEM_DOCS)
    unknown = await client.get("/problems/no_such_code")
    assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"


async def test_duplicate_bill_page_explains_the_fix(client: httpx.AsyncClient, world: World) -> None:
    body = bill()
    await create(client, world, **body)
    dup = (await create(client, world, **body)).json()
    assert dup["code"] == "duplicate_bill" and dup["instance"] == "/v1/payments"
    page = (await client.get(dup["type"], headers={"Accept": "application/json"})).json()
    assert "payment_id" in page["fix"]


async def test_instance_on_every_kind_of_problem(
    client: httpx.AsyncClient, world: World, admin_headers: dict[str, str]
) -> None:
    answers: dict[str, httpx.Response] = {
        "unauthorized": await client.get("/v1/payments"),
        "validation_error": await client.get("/v1/payments?limit=0", headers=world.headers),
        "method_not_allowed": await client.delete("/v1/revenue-types", headers=world.headers),
        "payload_too_large": await client.post(
            "/v1/payments", content=b"x" * 300_000, headers={**world.headers, "Idempotency-Key": "big"}
        ),
        "idempotency_key_missing": await client.post("/v1/payments", json=bill(), headers=world.headers),
        "conflict": await client.post(
            "/admin/v1/agencies",
            json={"code": DEPARTMENT, "name": "x", "level": "department"},
            headers=admin_headers,
        ),
    }
    replay_headers = {**world.headers, "Idempotency-Key": "replayed-error"}
    unknown = bill(items=[{"revenue_type_code": "9999", "amount": 1000}])
    await client.post("/v1/payments", json=unknown, headers=replay_headers)
    answers["revenue_type_unknown"] = await client.post("/v1/payments", json=unknown, headers=replay_headers)
    assert answers["revenue_type_unknown"].headers["Idempotent-Replayed"] == "true"
    for code, response in answers.items():
        problem: dict[str, Any] = response.json()
        assert response.headers["content-type"] == "application/problem+json", code
        assert problem["code"] == code, (code, problem)
        assert problem["type"] == f"{BASE}/problems/{code}"
        assert problem["instance"] == response.request.url.path, code


async def test_bad_json_says_where_it_broke(client: httpx.AsyncClient, world: World) -> None:
    headers = {**world.headers, "Idempotency-Key": "bad-json", "Content-Type": "application/json"}
    r = await client.post("/v1/payments", content=b'{"agency_code": "x",, "items": []}', headers=headers)
    assert r.status_code == 422
    problem = r.json()
    assert problem["errors"] == [
        {
            "field": "body",
            "message": "body is not valid JSON at line 1 column 21: "
            "Expecting property name enclosed in double quotes",
        }
    ]
    assert problem["detail"].startswith("body is not valid JSON at line 1 column 21")

    two_lines = await client.post("/v1/payments", content=b'{\n  "a": tru\n}', headers=headers)
    assert "at line 2 column 8" in two_lines.json()["detail"]


@pytest.mark.parametrize(
    ("content_type", "said"), [(None, "no Content-Type"), ("text/plain", "Content-Type: text/plain")]
)
async def test_missing_or_wrong_content_type_is_named(
    client: httpx.AsyncClient, world: World, content_type: str | None, said: str
) -> None:
    headers = {**world.headers, "Idempotency-Key": f"ct-{content_type}"}
    if content_type:
        headers["Content-Type"] = content_type
    r = await client.post(
        "/v1/payments", content=httpx.Request("POST", "/", json=bill()).content, headers=headers
    )
    assert r.status_code == 422
    assert r.json()["detail"] == f"send Content-Type: application/json (the body came with {said})"


async def test_unknown_revenue_type_points_at_the_catalogue(client: httpx.AsyncClient, world: World) -> None:
    r = await create(client, world, items=[{"revenue_type_code": "0000", "amount": 1000}])
    problem = r.json()
    assert problem["code"] == "revenue_type_unknown"
    assert "GET /v1/revenue-types" in problem["detail"]
    page = (await client.get(problem["type"], headers={"Accept": "application/json"})).json()
    assert "GET /v1/revenue-types" in page["fix"]
