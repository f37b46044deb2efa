"""A complete OpenAPI description: walks /openapi.json and fails on any missing piece — a generated
summary, a request body or success response without an example (or one that does not match its
schema), a schema property without a description, an optional Idempotency-Key where it is required,
or an event without its webhook."""

from __future__ import annotations

from typing import Any

import httpx
import jsonschema_rs
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from app.services.notifications.events import EVENT_TYPES

METHODS = {"get", "post", "put", "patch", "delete"}
BINARY = {"application/pdf"}  # a PDF's bytes have no meaningful example; its schema says binary


@pytest.fixture
async def spec(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def _operations(spec: dict[str, Any], section: str = "paths") -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in spec.get(section, {}).items()
        for method, operation in item.items()
        if method in METHODS
    ]


def _check(spec: dict[str, Any], schema: dict[str, Any], example: Any, where: str) -> list[str]:
    validator = jsonschema_rs.Draft202012Validator({**schema, "components": spec["components"]})
    return [f"{where}: {error.message}" for error in validator.iter_errors(example)][:1]


def _examples(media: dict[str, Any]) -> list[Any]:
    if "example" in media:
        return [media["example"]]
    return [e["value"] for e in media.get("examples", {}).values()]


def test_every_operation_has_a_written_summary(app: FastAPI) -> None:
    generated = []
    for route in app.routes:
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        if not route.summary or route.summary == route.name.replace("_", " ").title():
            generated.append(f"{sorted(route.methods or ())} {route.path}")
    assert generated == []


async def test_every_body_and_success_response_has_a_valid_example(spec: dict[str, Any]) -> None:
    missing, wrong = [], []
    for method, path, operation in _operations(spec):
        name = f"{method.upper()} {path}"
        for media_type, media in operation.get("requestBody", {}).get("content", {}).items():
            examples = _examples(media)
            if not examples:
                missing.append(f"{name} request [{media_type}]")
            if media_type == "application/json":
                for example in examples:
                    wrong += _check(spec, media["schema"], example, f"{name} request")
        for status, response in operation["responses"].items():
            if not status.startswith("2"):
                continue
            for media_type, media in (response.get("content") or {}).items():
                if media_type in BINARY:
                    assert media["schema"].get("format") == "binary", name
                    continue
                examples = _examples(media)
                if not examples:
                    missing.append(f"{name} {status} [{media_type}]")
                if media_type == "application/json" and media.get("schema"):
                    for example in examples:
                        wrong += _check(spec, media["schema"], example, f"{name} {status}")
    assert missing == []
    assert wrong == []


async def test_every_schema_property_is_described(spec: dict[str, Any]) -> None:
    undescribed = [
        f"{name}.{prop}"
        for name, schema in spec["components"]["schemas"].items()
        for prop, definition in (schema.get("properties") or {}).items()
        if not definition.get("description")
    ]
    assert undescribed == []
    assert "HTTPValidationError" not in spec["components"]["schemas"]  # we answer problem+json


async def test_idempotency_key_is_required_where_it_is(spec: dict[str, Any]) -> None:
    headers = {
        f"{method.upper()} {path}": parameter["required"]
        for method, path, operation in _operations(spec)
        for parameter in operation.get("parameters", [])
        if parameter["in"] == "header" and parameter["name"] == "Idempotency-Key"
    }
    assert headers == {"POST /v1/payments": True, "POST /v1/payments/{payment_id}/refunds": True}


async def test_webhooks_describe_every_event_with_a_valid_payload(spec: dict[str, Any]) -> None:
    assert spec["openapi"].startswith("3.1")
    assert set(spec["webhooks"]) == set(EVENT_TYPES)
    wrong = []
    for event_type, item in spec["webhooks"].items():
        operation = item["post"]
        assert operation["summary"] and operation["description"], event_type
        assert {p["name"] for p in operation["parameters"]} == {
            "webhook-id",
            "webhook-timestamp",
            "webhook-signature",
        }
        assert set(operation["responses"]) == {"200"}, event_type
        media = operation["requestBody"]["content"]["application/json"]
        [example] = _examples(media)
        assert example["type"] == event_type
        assert example["data"]["id"].startswith("rfd_" if event_type.startswith("refund.") else "pay_")
        wrong += _check(spec, media["schema"], example, event_type)
    assert wrong == []


async def test_a_real_payment_matches_the_documented_example_shape(
    spec: dict[str, Any], client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    """The examples are not wishful: a payment the API really returns has the documented fields."""
    from tests.factories import create, make_world

    world = await make_world(client, admin_headers)
    payment = (await create(client, world)).json()
    example = spec["components"]["schemas"]["PaymentOut"]["example"]
    assert set(payment) == set(example)
    assert set(payment["items"][0]) == set(example["items"][0])
