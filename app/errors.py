"""Errors as RFC 9457 problem details.

Every error leaves paybridge as ``application/problem+json`` with ``type``, ``title``, ``status``,
``detail``, ``instance`` (the request path) and a stable snake_case ``code`` (plus ``errors`` for
validation). ``type`` is ``{PAYBRIDGE_PUBLIC_BASE_URL}/problems/{code}``, a page paybridge serves
about that error and its fix (:mod:`app.problems`). The tree:

- :class:`ProblemError` — base; carries the HTTP status and the code. Services raise subclasses
  defined next to them (``DuplicateBill``, ``InvalidState``); one handler renders them all.
- FastAPI/Starlette's own errors (404, 405, 422 validation) are rendered the same way.
- A database that cannot be reached (refused, dropped or terminated connections, whether the
  driver's error is wrapped by SQLAlchemy or not) is 503 ``database_unavailable`` with Retry-After.
- A value the database cannot hold (an id or amount beyond 64 bits, a date out of range) is 422
  ``validation_error``: bad input, never a 500.
- Anything unexpected is a 500 ``internal_error`` with the request id and never a stack trace.
"""

from __future__ import annotations

import contextvars
import logging
import socket
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DataError, DBAPIError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

log = logging.getLogger("paybridge.errors")

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEMS_PATH = "/problems/"

# (public base URL, request path) of the request being served: set once per request by
# RequestContextMiddleware, so that every problem, wherever it is built (a handler, the middleware,
# a stored idempotent answer), carries a ``type`` that resolves and its ``instance``.
problem_context: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar(
    "problem_context", default=None
)


def problem_type(code: str) -> str:
    """The ``type`` URI of ``code``: absolute under the public base URL during a request."""
    context = problem_context.get()
    return f"{context[0] if context else ''}{PROBLEMS_PATH}{code}"


def _instance(instance: str | None) -> str | None:
    if instance:
        return instance
    context = problem_context.get()
    return context[1] if context else None


class ProblemError(Exception):
    """Base of every error that paybridge answers on purpose."""

    status: int = 400
    code: str = "bad_request"
    title: str = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra


class BadRequest(ProblemError):
    status, code, title = 400, "bad_request", "Bad request"


class Unauthorized(ProblemError):
    status, code, title = 401, "unauthorized", "Authentication required"

    def __init__(self, detail: str | None = None, **kw: Any) -> None:
        kw.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(detail, **kw)


class NotFound(ProblemError):
    status, code, title = 404, "not_found", "Not found"


class Conflict(ProblemError):
    status, code, title = 409, "conflict", "Conflict"


class ValidationFailed(ProblemError):
    status, code, title = 422, "validation_error", "Validation failed"


class PayloadTooLarge(ProblemError):
    status, code, title = 413, "payload_too_large", "Request body too large"


class TooManyRequests(ProblemError):
    status, code, title = 429, "rate_limited", "Too many requests"


class ServiceUnavailable(ProblemError):
    status, code, title = 503, "service_unavailable", "Service unavailable"


class AdminDisabled(ServiceUnavailable):
    code, title = "admin_disabled", "Operator API disabled"


class MetricsDisabled(ServiceUnavailable):
    code, title = "metrics_disabled", "Metrics disabled"


def problem_body(exc: ProblemError, *, instance: str | None) -> bytes:
    """The JSON body :func:`problem_response` would send for ``exc``."""
    body: dict[str, Any] = {
        "type": problem_type(exc.code),
        "title": exc.title,
        "status": exc.status,
        "detail": exc.detail,
        "code": exc.code,
    }
    instance = _instance(instance)
    if instance:
        body["instance"] = instance
    if exc.errors is not None:
        body["errors"] = exc.errors
    body.update(exc.extra)
    return orjson.dumps(body)


def problem_response(
    status: int,
    code: str,
    title: str,
    detail: str,
    *,
    instance: str | None = None,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": problem_type(code),
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    instance = _instance(instance)
    if instance:
        body["instance"] = instance
    if errors is not None:
        body["errors"] = errors
    if extra:
        body.update(extra)
    return Response(orjson.dumps(body), status_code=status, media_type=PROBLEM_CONTENT_TYPE, headers=headers)


_STATUS_CODES = {
    400: ("bad_request", "Bad request"),
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "Forbidden"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    406: ("not_acceptable", "Not acceptable"),
    409: ("conflict", "Conflict"),
    413: ("payload_too_large", "Request body too large"),
    415: ("unsupported_media_type", "Unsupported media type"),
    422: ("validation_error", "Validation failed"),
    429: ("rate_limited", "Too many requests"),
    503: ("service_unavailable", "Service unavailable"),
}


def _field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    """``("body", "items", 0, "amount")`` → ``items[0].amount``."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        where = parts.pop(0)
        if not parts:
            return str(where)
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


# Messages about the whole body, which read as sentences on their own (no "body: " prefix).
_WHOLE_BODY = ("body is not valid JSON", "send Content-Type")
_JSON_TYPES = ("application/json", "application/problem+json", "application/merge-patch+json")


def _json_position(document: Any, position: Any) -> str:
    """``line 1 column 34`` for a character offset into the body (as Python's json module counts)."""
    if not isinstance(document, str) or not isinstance(position, int):
        return f"character {position}"
    line = document.count("\n", 0, position) + 1
    column = position - (document.rfind("\n", 0, position) + 1) + 1
    return f"line {line} column {column}"


def _is_json_content_type(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media in _JSON_TYPES or (media.startswith("application/") and media.endswith("+json"))


def validation_errors(exc: RequestValidationError, content_type: str = "") -> list[dict[str, str]]:
    """One ``{field, message}`` per problem, in words a portal developer can act on: a body that is
    not JSON says where it broke, a body sent without ``Content-Type: application/json`` says so."""
    errors = []
    for err in exc.errors():
        loc = tuple(err.get("loc", ()))
        kind = err.get("type")
        if kind == "json_invalid":
            reason = str((err.get("ctx") or {}).get("error", "invalid JSON"))
            where = _json_position(getattr(exc, "body", None), loc[1] if len(loc) > 1 else None)
            errors.append({"field": "body", "message": f"body is not valid JSON at {where}: {reason}"})
            continue
        if (
            loc == ("body",)
            and isinstance(err.get("input"), bytes)
            and not _is_json_content_type(content_type)
        ):
            sent = f"Content-Type: {content_type}" if content_type else "no Content-Type"
            errors.append(
                {
                    "field": "body",
                    "message": f"send Content-Type: application/json (the body came with {sent})",
                }
            )
            continue
        message = str(err.get("msg", "invalid"))
        # pydantic prefixes custom errors with "Value error, ".
        message = message.removeprefix("Value error, ")
        errors.append({"field": _field_path(loc), "message": message})
    return errors


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> Response:
        return problem_response(
            exc.status,
            exc.code,
            exc.title,
            exc.detail,
            instance=request.url.path,
            errors=exc.errors,
            headers=exc.headers,
            extra=exc.extra,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = validation_errors(exc, request.headers.get("content-type", ""))
        detail = "; ".join(
            e["message"] if e["message"].startswith(_WHOLE_BODY) else f"{e['field']}: {e['message']}"
            for e in errors[:5]
        )
        detail = detail or "invalid request"
        return problem_response(
            422, "validation_error", "Validation failed", detail, instance=request.url.path, errors=errors
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code, title = _STATUS_CODES.get(exc.status_code, ("http_error", "HTTP error"))
        detail = exc.detail if isinstance(exc.detail, str) else title
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"No resource at {request.url.path}"
        return problem_response(
            exc.status_code,
            code,
            title,
            detail,
            instance=request.url.path,
            headers=dict(exc.headers or {}),
        )

    for exc_class in _DB_DOWN_CLASSES:
        app.add_exception_handler(exc_class, _db_down)
    app.add_exception_handler(DataError, _out_of_range)
    app.add_exception_handler(OverflowError, _out_of_range)
    app.add_exception_handler(DBAPIError, _dbapi_error)
    app.add_exception_handler(Exception, _unexpected)
    _document_problems(app)


def _driver_errors() -> tuple[tuple[type[Exception], ...], tuple[type[Exception], ...]]:
    """asyncpg's own errors when they escape SQLAlchemy's wrapping: (connection gone, bad value)."""
    try:
        from asyncpg import exceptions as pg
        from asyncpg.exceptions import _base as pg_base
    except ImportError:  # pragma: no cover - asyncpg is a dependency
        return (), ()
    down = (
        pg.PostgresConnectionError,
        pg.CannotConnectNowError,
        pg.AdminShutdownError,
        pg.CrashShutdownError,
        pg.TooManyConnectionsError,
        pg_base.InterfaceError,  # "connection is closed" (its DataError subclass is a bad value)
    )
    # Server side: NUL in text or jsonb (CharacterNotInRepertoireError, UntranslatableCharacterError),
    # too long for the column (StringDataRightTruncationError), numeric overflow
    # (NumericValueOutOfRangeError), all DataError (SQLSTATE class 22); client side: out of int64.
    bad_value = (
        pg.DataError,
        pg.UntranslatableCharacterError,
        pg.CharacterNotInRepertoireError,
        pg.NumericValueOutOfRangeError,
        pg.StringDataRightTruncationError,
        pg_base.DataError,
    )
    return down, bad_value


_PG_DOWN, _PG_BAD_VALUE = _driver_errors()
# ConnectionError covers a refused or reset socket, socket.gaierror a host that does not resolve.
_DB_DOWN_CLASSES: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    ConnectionError,
    socket.gaierror,
    *_PG_DOWN,
)
_BAD_VALUE_CLASSES: tuple[type[Exception], ...] = (OverflowError, DataError, *_PG_BAD_VALUE)


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and what it wraps (SQLAlchemy's ``orig``, then ``__cause__``)."""
    out: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not seen for seen in out):
        out.append(current)
        current = getattr(current, "orig", None) or current.__cause__
    return out


def is_bad_value(exc: BaseException) -> bool:
    """Whether the database refused a value from the request (too large, too long, a NUL byte)."""
    return any(isinstance(e, _BAD_VALUE_CLASSES) for e in _chain(exc))


def is_database_down(exc: BaseException) -> bool:
    """Whether ``exc`` (or the driver error it wraps) means the database cannot be reached now."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return not is_bad_value(exc) and any(isinstance(e, _DB_DOWN_CLASSES) for e in _chain(exc))


def _db_unavailable(request: Request, exc: BaseException) -> Response:
    log.error("database unavailable: %s", type(exc).__name__)
    return problem_response(
        503,
        "database_unavailable",
        "Service unavailable",
        "The database cannot be reached; try again shortly.",
        instance=request.url.path,
        headers={"Retry-After": "5"},
    )


async def _db_down(request: Request, exc: Exception) -> Response:
    return _db_unavailable(request, exc)


async def _out_of_range(request: Request, exc: Exception) -> Response:
    if is_database_down(exc):
        return _db_unavailable(request, exc)
    return bad_value_response(request.url.path, exc)


def bad_value_response(path: str, exc: BaseException) -> Response:
    """The backstop for a value the input guard (app/input_guard.py) did not catch and the database
    or driver refused: 422 ``validation_error``, the driver's message never sent (it can quote data)."""
    log.warning("value out of range", extra={"error": type(exc).__name__, "route": path})
    return problem_response(
        422,
        "validation_error",
        "Validation failed",
        "A value cannot be stored: a number or date out of range, text too long, or a NUL byte.",
        instance=path,
        errors=[],
    )


def error_response(path: str, request_id: str | None, exc: BaseException) -> Response:
    """The answer to an exception no handler took: 503 when the database is gone, 422 for a value
    it cannot hold, else 500 (logged with its trace, never sent with it)."""
    if is_database_down(exc):
        log.error("database unavailable: %s", type(exc).__name__)
        return problem_response(
            503,
            "database_unavailable",
            "Service unavailable",
            "The database cannot be reached; try again shortly.",
            instance=path,
            headers={"Retry-After": "5"},
        )
    if is_bad_value(exc):
        return bad_value_response(path, exc)
    return internal_error_response(path, request_id, exc)


async def _dbapi_error(request: Request, exc: Exception) -> Response:
    if is_database_down(exc):
        return _db_unavailable(request, exc)
    if is_bad_value(exc):
        return await _out_of_range(request, exc)
    return await _unexpected(request, exc)


async def _unexpected(request: Request, exc: Exception) -> Response:
    return error_response(request.url.path, getattr(request.state, "request_id", None), exc)


def internal_error_response(path: str, request_id: str | None, exc: BaseException) -> Response:
    """The 500 answer: logged with its trace (redacted by the formatter), never sent with it."""
    log.error("unhandled error", exc_info=exc, extra={"request_id": request_id})
    return problem_response(
        500,
        "internal_error",
        "Internal error",
        f"Something went wrong on our side. Quote request id {request_id} when reporting it.",
        instance=path,
    )


# The problem+json body as OpenAPI documents it (routes/docs.py uses it for every route's errors).
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {
            "type": "string",
            "format": "uri",
            "description": "A page paybridge serves about this error and its fix: {base URL}/problems/{code}",
        },
        "title": {"type": "string", "description": "A short summary of the kind of error"},
        "status": {"type": "integer", "description": "The HTTP status code"},
        "detail": {"type": "string", "description": "What went wrong with this request, in words"},
        "code": {"type": "string", "description": "Stable machine-readable error code: branch on this"},
        "instance": {"type": "string", "description": "The request path"},
        "errors": {
            "type": "array",
            "description": "Validation errors: one per bad field (imports add the file's `line`)",
            "items": {
                "type": "object",
                "properties": {
                    "field": {"type": "string", "description": "Path of the field, e.g. items[0].amount"},
                    "message": {"type": "string", "description": "What is wrong with it"},
                },
            },
        },
    },
    "additionalProperties": True,
}


def _document_problems(app: FastAPI) -> None:
    """Make ``/openapi.json`` say what we send: FastAPI documents its 422 as ``application/json``
    ``HTTPValidationError``; ours is a problem+json ``validation_error``."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        for item in schema.get("paths", {}).values():
            for operation in item.values():
                response = operation.get("responses", {}).get("422") if isinstance(operation, dict) else None
                if not isinstance(response, dict):
                    continue
                content = response.get("content", {})
                documented = content.get("application/json", {}).get("schema", {}).get("$ref", "")
                if documented.endswith("/HTTPValidationError"):
                    del content["application/json"]
                    content["application/problem+json"] = {"schema": PROBLEM_SCHEMA}
                    response["description"] = "`validation_error`: the request does not match the schema"
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
