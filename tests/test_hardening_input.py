"""Values no column can hold are refused at the input edge with 422 ``validation_error`` naming the
field, on every path: NUL characters in JSON bodies, path parameters and query strings, integers
beyond PostgreSQL bigint, non-finite numbers and lone surrogates. A value that gets past the edge and
is refused by the database driver is still a 422 (the backstop), never a 500. Property tests over the
create body and the public GET prove no 5xx."""

from __future__ import annotations

import json
from typing import Any

import asyncpg.exceptions as pg
import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.exc import DataError

from app.input_guard import json_body_problems
from tests.factories import World, bill, create, make_world
from tests.test_reconciliation import sandbox_csv, upload


@pytest.fixture
async def world(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> World:
    return await make_world(client, admin_headers)


def _fields(r: httpx.Response) -> list[str]:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["code"] == "validation_error" and "Traceback" not in r.text
    return [e["field"] for e in body["errors"]]


def _raw(body: dict[str, Any]) -> bytes:
    """JSON as most clients write it (ensure_ascii: a lone surrogate travels as ``\\ud800``)."""
    return json.dumps(body).encode()


async def _post_create(
    client: httpx.AsyncClient, world: World, body: dict[str, Any], key: str
) -> httpx.Response:
    headers = {**world.headers, "Idempotency-Key": key, "Content-Type": "application/json"}
    return await client.post("/v1/payments", content=_raw(body), headers=headers)


NUL_IN_CREATE = [
    ({"description": "Lệ phí\x00"}, "description"),
    ({"dossier_code": "HS-\x00-1"}, "dossier_code"),
    ({"agency_code": "000.00.31.H56\x00"}, "agency_code"),
    ({"bill_code": "\x00"}, "bill_code"),
    ({"procedure_code": "1.00\x001234"}, "procedure_code"),
    ({"provider": "sandbox\x00"}, "provider"),
    ({"return_url": "https://portal.example.gov.vn/\x00"}, "return_url"),
    ({"payer": {"name": "Nguyễn\x00", "id_number": "001099000001"}}, "payer.name"),
    ({"payer": {"name": "A", "id_number": "0010\x00"}}, "payer.id_number"),
    ({"items": [{"revenue_type_code": "2771\x00", "amount": 50000}]}, "items[0].revenue_type_code"),
    (
        {"items": [{"revenue_type_code": "2771", "amount": 50000, "description": "\x00"}]},
        "items[0].description",
    ),
    ({"metadata": {"ho_so": "a\x00b"}}, "metadata.ho_so"),
    ({"metadata": {"k\x00": 1}}, "metadata"),
    ({"metadata": {"list": [1, {"deep": "\x00"}]}}, "metadata.list[1].deep"),
]


@pytest.mark.parametrize(("override", "field"), NUL_IN_CREATE)
@pytest.mark.parametrize("provider", [None, "sandbox"], ids=["hosted", "sandbox"])
async def test_a_nul_in_any_text_field_of_a_create_is_422(
    client: httpx.AsyncClient, world: World, override: dict[str, Any], field: str, provider: str | None
) -> None:
    body = bill(**({"provider": provider} if provider else {}))
    body.update(override)
    assert _fields(await _post_create(client, world, body, f"nul-{field}")) == [field]


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"metadata": {"n": 10**30}}, "metadata.n"),
        ({"metadata": {"n": -(10**30)}}, "metadata.n"),
        ({"metadata": {"n": [2**63]}}, "metadata.n[0]"),
        ({"metadata": {"n": float("inf")}}, "metadata.n"),
        ({"metadata": {"n": float("nan")}}, "metadata.n"),
        ({"metadata": {"n": 1.5e300}}, "metadata.n"),  # jsonb would hand back a 301-digit integer
        ({"metadata": {"n": -9.3e18}}, "metadata.n"),
        ({"items": [{"revenue_type_code": "2771", "amount": 10**30}]}, "items[0].amount"),
        ({"amount": 10**30}, "amount"),
        ({"expires_in_seconds": 10**30}, "expires_in_seconds"),
        ({"metadata": {"s": "\ud800"}}, "metadata.s"),
        ({"metadata": {"\udfff": "x"}}, "metadata"),
        ({"description": "lone \udc00 surrogate"}, "description"),
    ],
)
async def test_out_of_range_numbers_and_lone_surrogates_are_422(
    client: httpx.AsyncClient, world: World, override: dict[str, Any], field: str
) -> None:
    body = bill(provider="sandbox")
    body.update(override)
    assert _fields(await _post_create(client, world, body, "range")) == [field]


async def test_ordinary_bodies_still_pass(client: httpx.AsyncClient, world: World) -> None:
    body = bill(
        provider="sandbox",
        metadata={
            "big": 2**63 - 1,
            "small": -(2**63),
            "pair": "😀 \\u0000 is text",
            "f": 1.5e10,
            "g": -9.2e18,
            "e": 1e-300,
        },
    )
    r = await _post_create(client, world, body, "ok")
    assert r.status_code == 201, r.text
    assert r.json()["metadata"]["pair"] == "😀 \\u0000 is text"


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/v1/payments/pay_%00x", "path"),
        ("/v1/payments/pay_%00x/receipt", "path"),
        ("/v1/refunds/ref_%00", "path"),
        ("/v1/revenue-types/27%0071", "path"),
        ("/v1/payments?dossier_code=HS%00", "dossier_code"),
        ("/v1/payments?status=pending&cursor=%00", "cursor"),
        ("/v1/revenue-types?q=h%00o", "q"),
        ("/v1/events?after=%00", "after"),
        ("/v1/providers?agency_code=%00", "agency_code"),
    ],
)
async def test_a_nul_in_a_path_or_query_is_422(
    client: httpx.AsyncClient, world: World, path: str, field: str
) -> None:
    assert _fields(await client.get(path, headers=world.headers)) == [field]


async def test_every_json_body_is_guarded(
    client: httpx.AsyncClient, admin_headers: dict[str, str], world: World
) -> None:
    payment = (await create(client, world, provider="sandbox")).json()
    cases: list[tuple[str, str, dict[str, str], dict[str, Any], str]] = [
        (
            "POST",
            "/admin/v1/agencies",
            admin_headers,
            {"code": "X", "name": "\x00", "level": "province"},
            "name",
        ),
        ("PATCH", f"/admin/v1/clients/{world.client_id}", admin_headers, {"name": "a\x00"}, "name"),
        (
            "POST",
            "/admin/v1/clients",
            admin_headers,
            {"name": "P", "agency_codes": ["\x00"]},
            "agency_codes[0]",
        ),
        ("POST", f"/v1/payments/{payment['id']}/attempts", world.headers, {"provider": "\x00"}, "provider"),
        (
            "POST",
            f"/v1/payments/{payment['id']}/offline",
            world.headers,
            {"method": "cash", "paid_at": "2026-11-21T10:00:00+07:00", "receipt_number": "BL\x00"},
            "receipt_number",
        ),
        (
            "POST",
            f"/v1/payments/{payment['id']}/refunds",
            {**world.headers, "Idempotency-Key": "r1"},
            {"amount": 10**30, "reason": "x"},
            "amount",
        ),
    ]
    for method, path, headers, body, field in cases:
        r = await client.request(
            method, path, content=_raw(body), headers={**headers, "Content-Type": "application/json"}
        )
        assert _fields(r) == [field], (path, r.text)
    # Nothing was changed by the refused requests.
    r = await client.get(f"/v1/payments/{payment['id']}", headers=world.headers)
    assert r.json()["status"] == "pending" and len(r.json()["attempts"]) == 1


def test_the_guard_names_the_field_and_reads_json_as_the_routes_do() -> None:
    assert json_body_problems(b'{"a": "\\\\u0000"}') == []  # an escaped backslash, then text
    assert json_body_problems(b'{"a": "\\u0000"}') == [
        {"field": "a", "message": "must not contain a NUL character (U+0000)"}
    ]
    assert json_body_problems(b'{"a": "\\ud83d\\ude00"}') == []  # a surrogate pair is an emoji
    assert json_body_problems(b"[1e400]")[0]["field"] == "[0]"
    assert json_body_problems(b"not json \\u0000") == []  # the route answers that itself
    assert json_body_problems(b'{"n": 9223372036854775807, "m": -9223372036854775808}') == []
    assert json_body_problems(b'{"n": 9223372036854775808}')[0]["field"] == "n"


@pytest.mark.parametrize(
    "error",
    [
        pg.UntranslatableCharacterError("unsupported Unicode escape sequence"),
        pg.CharacterNotInRepertoireError('invalid byte sequence for encoding "UTF8": 0x00'),
        pg.NumericValueOutOfRangeError("bigint out of range"),
        pg.StringDataRightTruncationError("value too long for type character varying(16)"),
        pg.DataError("invalid input"),
        DataError("INSERT …", {}, pg.CharacterNotInRepertoireError("0x00")),
    ],
    ids=lambda e: type(e).__name__,
)
async def test_the_backstop_maps_driver_data_errors_to_422(
    app: FastAPI, client: httpx.AsyncClient, error: Exception
) -> None:
    async def refuse() -> None:
        raise error

    app.router.add_api_route("/v1/_test/refuse", refuse, methods=["GET"])
    r = await client.get("/v1/_test/refuse")
    assert r.status_code == 422 and r.json()["code"] == "validation_error", r.text
    assert "0x00" not in r.text and "varying" not in r.text  # the driver's words stay in the log


async def test_a_nul_in_an_uploaded_file_is_not_a_500(
    client: httpx.AsyncClient, admin_headers: dict[str, str], world: World
) -> None:
    r = await upload(client, admin_headers, world, sandbox_csv([("PB\x00X", "T\x001", 50000, "success")]))
    assert r.status_code < 500, r.text
    assert r.headers["content-type"] == "application/problem+json" or r.status_code in (200, 201)


# --------------------------------------------------------------------------- properties

_ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=30)
_NUMBER = st.one_of(
    st.integers(), st.integers(min_value=-(2**70), max_value=2**70), st.floats(allow_nan=True)
)
_JSON = st.recursive(
    st.none() | st.booleans() | _NUMBER | _ANY_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_ANY_TEXT, inner, max_size=3),
    max_leaves=8,
)
_TEXT_FIELDS = [
    "agency_code",
    "dossier_code",
    "bill_code",
    "procedure_code",
    "description",
    "provider",
    "return_url",
]


@st.composite
def _hostile_create(draw: st.DrawFn) -> dict[str, Any]:
    body = bill(provider=draw(st.sampled_from([None, "sandbox"])))
    for name in draw(st.sets(st.sampled_from(_TEXT_FIELDS), max_size=3)):
        body[name] = draw(_ANY_TEXT)
    if draw(st.booleans()):
        body["payer"] = {"name": draw(_ANY_TEXT), "id_number": draw(_ANY_TEXT)}
    if draw(st.booleans()):
        body["items"] = [
            {
                "revenue_type_code": draw(st.sampled_from(["2771", "2107"]) | _ANY_TEXT),
                "amount": draw(_NUMBER),
            }
        ]
    if draw(st.booleans()):
        body["metadata"] = draw(st.dictionaries(_ANY_TEXT, _JSON, max_size=4))
    if draw(st.booleans()):
        body[draw(st.sampled_from(["amount", "expires_in_seconds"]))] = draw(_NUMBER)
    return body


def _no_server_error(r: httpx.Response) -> None:
    assert r.status_code < 500, r.text
    if r.status_code >= 400:
        assert r.headers["content-type"] == "application/problem+json", r.text
        assert "Traceback" not in r.text


@settings(
    max_examples=150,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=_hostile_create())
async def test_no_create_body_is_a_server_error(
    client: httpx.AsyncClient, app: FastAPI, admin_headers: dict[str, str], body: dict[str, Any]
) -> None:
    if not hasattr(app.state, "fuzz_world"):
        app.state.fuzz_world = await make_world(client, admin_headers)
    world: World = app.state.fuzz_world
    raw = json.dumps(body, allow_nan=True).encode()
    headers = {**world.headers, "Idempotency-Key": "fuzz", "Content-Type": "application/json"}
    _no_server_error(await client.post("/v1/payments", content=raw, headers=headers))
    app.state.fuzz_key = getattr(app.state, "fuzz_key", 0) + 1
    headers["Idempotency-Key"] = f"fuzz-{app.state.fuzz_key}"
    _no_server_error(await client.post("/v1/payments", content=raw, headers=headers))


_URL_CHARS = st.text(st.characters(codec="latin-1"), max_size=20)


@settings(
    max_examples=100,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    payment_id=_URL_CHARS,
    query=st.dictionaries(
        st.sampled_from(["dossier_code", "status", "cursor", "limit", "created_from", "created_to"]),
        _URL_CHARS | st.integers().map(str),
        max_size=3,
    ),
)
async def test_no_public_get_is_a_server_error(
    client: httpx.AsyncClient,
    app: FastAPI,
    admin_headers: dict[str, str],
    payment_id: str,
    query: dict[str, str],
) -> None:
    if not hasattr(app.state, "fuzz_world"):
        app.state.fuzz_world = await make_world(client, admin_headers)
    world: World = app.state.fuzz_world
    from urllib.parse import quote

    _no_server_error(await client.get(f"/v1/payments/{quote(payment_id, safe='')}", headers=world.headers))
    _no_server_error(await client.get("/v1/payments", params=query, headers=world.headers))


async def test_the_body_limit_still_holds_for_json_read_by_the_guard(
    client: httpx.AsyncClient, app: FastAPI, world: World
) -> None:
    limit = app.state.container.settings.max_body_bytes

    async def chunks() -> Any:
        yield b'{"metadata": {"pad": "'
        for _ in range(limit // 1024 + 1):
            yield b"x" * 1024
        yield b'"}}'

    headers = {**world.headers, "Idempotency-Key": "huge", "Content-Type": "application/json"}
    r = await client.post("/v1/payments", content=chunks(), headers=headers)  # chunked, no length
    assert r.status_code == 413 and r.json()["code"] == "payload_too_large"
    # A body split in several chunks still reaches the route whole.
    body = _raw(bill(provider="sandbox"))

    async def split() -> Any:
        yield body[:10]
        yield body[10:]

    headers["Idempotency-Key"] = "split"
    r = await client.post("/v1/payments", content=split(), headers=headers)
    assert r.status_code == 201, r.text
