"""Pure-ASGI middleware: request id, access metrics and logs, body-size limit, security headers,
and the input guard (values no column can hold are 422 before any route runs: app/input_guard.py)."""

from __future__ import annotations

import logging
import os
import re
import time
from typing import Any

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import (
    error_response,
    problem_context,
    problem_response,
)
from app.input_guard import is_json, json_body_problems, target_problems
from app.logging import SAFE_RECORD, redact, request_id_var
from app.metrics import Metrics

log = logging.getLogger("paybridge.access")

_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_NOSNIFF = (b"x-content-type-options", b"nosniff")
# Methods written into the access line as they are; any other (a client can send any token) is
# redacted like free text.
_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_ACCESS_FORMAT = "%s %s %s"
# Gateways and browsers coming back from a gateway: answered in the gateway's own format by their
# routes (which store the raw request first), so the input guard leaves them alone.
_GATEWAY_FACING = ("/v1/callbacks/", "/v1/returns/", "/v1/dvcqg/")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class _BodyTooLarge(Exception):
    pass


class RequestContextMiddleware:
    """Sets ``X-Request-ID`` on every response (echoing a sane one the caller sent), refuses bodies
    over the limit with 413, records Prometheus metrics by route template and logs one JSON line."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: Metrics,
        max_body_bytes: int,
        upload_limits: dict[str, int] | None = None,
        public_base_url: str = "",
    ) -> None:
        self.app = app
        # Problem ``type`` URIs resolve under this (see app.errors.problem_context).
        self.public_base_url = public_base_url.rstrip("/")
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        # Path prefixes that take larger bodies (operator file uploads), with their own limit.
        self.upload_limits = upload_limits or {}

    def _limit_for(self, path: str) -> int:
        for prefix, limit in self.upload_limits.items():
            if path.startswith(prefix):
                return limit
        return self.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent_id: bytes | None = None
        declared: bytes | None = None
        content_type: bytes | None = None
        for name, value in scope.get("headers") or ():  # the last one wins, as in a dict
            if name == b"x-request-id":
                sent_id = value
            elif name == b"content-length":
                declared = value
            elif name == b"content-type":
                content_type = value
        request_id = ""
        if sent_id:
            request_id = sent_id.decode("latin-1")
            if _VALID_REQUEST_ID.fullmatch(request_id) is None:
                request_id = ""
        if not request_id:
            request_id = os.urandom(16).hex()
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        problem_token = problem_context.set((self.public_base_url, scope.get("path", "")))
        start = time.perf_counter()
        status_holder = {"status": 500}
        raw_id = request_id.encode()

        limit = self._limit_for(scope.get("path", ""))
        if declared is not None and declared.isdigit() and int(declared) > limit:
            response = problem_response(
                413,
                "payload_too_large",
                "Request body too large",
                f"The body must be at most {limit} bytes.",
                headers={"X-Request-ID": request_id},
            )
            await response(scope, receive, send)
            self._finish(scope, 413, start)
            request_id_var.reset(token)
            problem_context.reset(problem_token)
            return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge
            return message

        response_started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
                status_holder["status"] = message["status"]
                hdrs: list[tuple[bytes, bytes]] = [*message.get("headers", ()), (b"x-request-id", raw_id)]
                for name, _ in hdrs:
                    if name.lower() == b"x-content-type-options":
                        break
                else:
                    hdrs.append(_NOSNIFF)
                message = {**message, "headers": hdrs}
            await send(message)

        try:
            path = scope.get("path", "")
            app_receive: Receive = limited_receive
            if not path.startswith(_GATEWAY_FACING):
                errors = target_problems(path, scope.get("query_string", b""))
                # FastAPI reads a body without a content type as JSON too.
                if (
                    not errors
                    and scope.get("method") in _BODY_METHODS
                    and (content_type is None or is_json(content_type))
                ):
                    body = await _read_body(limited_receive)
                    errors = json_body_problems(body)
                    app_receive = _replay(body, receive)
                if errors:
                    await _invalid_input(path, errors)(scope, receive, send_wrapper)
                    return
            await self.app(scope, app_receive, send_wrapper)
        except _BodyTooLarge:
            if not response_started:
                response = problem_response(
                    413,
                    "payload_too_large",
                    "Request body too large",
                    f"The body must be at most {limit} bytes.",
                )
                await response(scope, receive, send_wrapper)
        except Exception as exc:
            # Unhandled: answer 500 problem+json (503 when the database is gone) with our
            # X-Request-ID here, instead of Starlette's outer handler that re-raises into the server.
            if response_started:
                raise
            response = error_response(scope.get("path", ""), request_id, exc)
            await response(scope, receive, send_wrapper)
        finally:
            self._finish(scope, status_holder["status"], start)
            request_id_var.reset(token)
            problem_context.reset(problem_token)

    def _finish(self, scope: Scope, status: int, start: float) -> None:
        elapsed = time.perf_counter() - start
        route: Any = scope.get("route")
        template = getattr(route, "path_format", None) or "<unmatched>"
        method = scope.get("method", "")
        self.metrics.observe_request(method, template, status, elapsed)
        if log.isEnabledFor(logging.INFO):
            # One JSON line per request. Built by hand (makeRecord + handle) rather than log.info():
            # no caller lookup, and the formatter skips redaction because every value is known safe
            # (a route template from the code, a known method, numbers).
            if method not in _KNOWN_METHODS:
                method = redact(method)
            record = log.makeRecord(
                log.name,
                logging.INFO,
                __file__,
                0,
                _ACCESS_FORMAT,
                (method, template, status),
                None,
                extra={
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                    "route": template,
                    SAFE_RECORD: True,
                },
            )
            log.handle(record)


async def _read_body(receive: Receive) -> bytes:
    """The whole request body (the size limit still applies through ``receive``)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app the body already read, then the server's own messages."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _invalid_input(path: str, errors: list[dict[str, str]]) -> Response:
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    return problem_response(
        422, "validation_error", "Validation failed", detail, instance=path, errors=errors
    )
