"""The served protocol: uvicorn's httptools protocol whose writes within one event-loop step leave
in one ``send()`` (status line + headers + body), and the HTTP it speaks stays correct: keep-alive,
HEAD, empty bodies, streamed and large bodies, Connection: close."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

import app.__main__ as cli
from app.server import CoalescingHttpToolsProtocol, CoalescingTransport

BIG = b"x" * (3 * 1024 * 1024)


class FakeTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False
        self.extra = {"peername": ("127.0.0.1", 1)}

    def write(self, data: bytes) -> None:
        assert not self.closed
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.extra.get(name, default)


async def test_writes_in_one_step_leave_together_in_order() -> None:
    raw = FakeTransport()
    transport = CoalescingTransport(raw, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
    transport.write(b"body")
    assert raw.writes == [] and transport.get_write_buffer_size() == 23
    await asyncio.sleep(0)
    assert raw.writes == [b"HTTP/1.1 200 OK\r\n\r\nbody"]
    transport.write(b"next")
    await asyncio.sleep(0)
    transport.write(b"again")
    await asyncio.sleep(0)
    assert raw.writes[1:] == [b"next", b"again"]
    assert transport.get_extra_info("peername") == ("127.0.0.1", 1)  # everything else is delegated


async def test_close_flushes_first_and_a_closed_socket_gets_nothing() -> None:
    raw = FakeTransport()
    transport = CoalescingTransport(raw, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(b"last words")
    transport.close()
    assert raw.writes == [b"last words"] and raw.closed
    await asyncio.sleep(0)  # the scheduled flush finds nothing to do
    assert raw.writes == [b"last words"]

    raw = FakeTransport()
    transport = CoalescingTransport(raw, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(b"lost")
    raw.closed = True  # the peer went away before the end of the step
    await asyncio.sleep(0)
    assert raw.writes == []
    transport.write(b"dropped")
    transport.abort()
    await asyncio.sleep(0)
    assert raw.writes == []


async def _json(request: Request) -> Response:
    body = await request.body()
    return Response(b'{"n":%d}' % len(body), media_type="application/json")


async def _empty(request: Request) -> Response:
    return Response(status_code=204)


async def _big(request: Request) -> Response:
    return Response(BIG, media_type="application/octet-stream")


async def _stream(request: Request) -> StreamingResponse:
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(5):
            await asyncio.sleep(0.01)
            yield b"chunk%d;" % i

    return StreamingResponse(chunks(), media_type="text/plain")


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    app = Starlette(
        routes=[
            Route("/json", _json, methods=["GET", "HEAD", "POST"]),
            Route("/empty", _empty),
            Route("/big", _big),
            Route("/stream", _stream),
        ]
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        access_log=False,
        http="app.server:CoalescingHttpToolsProtocol",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline
        time.sleep(0.02)
    assert config.http_protocol_class is CoalescingHttpToolsProtocol
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def test_http_stays_correct_over_keep_alive(served: str) -> None:
    with httpx.Client(base_url=served) as http:
        for i in range(20):  # one connection, many responses
            r = http.post("/json", content=b"a" * i)
            assert r.status_code == 200 and r.json() == {"n": i}
        r = http.head("/json")
        assert r.status_code == 200 and r.content == b"" and r.headers["content-length"] == "7"
        r = http.get("/empty")
        assert r.status_code == 204 and r.content == b""
        r = http.get("/big")
        assert r.status_code == 200 and r.content == BIG
        r = http.get("/stream")
        assert r.text == "chunk0;chunk1;chunk2;chunk3;chunk4;"
        assert r.headers["transfer-encoding"] == "chunked"
        r = http.get("/json", headers={"Connection": "close"})
        assert r.status_code == 200 and r.headers["connection"] == "close"


def test_pipelined_requests_are_answered_in_order(served: str) -> None:
    host, port = served.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        request = b"GET /json HTTP/1.1\r\nHost: t\r\n\r\n"
        sock.sendall(request * 3 + b"GET /json HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.count(b"HTTP/1.1 200 OK") == 4
    assert data.count(b'{"n":0}') == 4


def test_serve_uses_the_coalescing_protocol_without_uvicorns_access_log(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: seen.update(kwargs, app=app))
    cli._serve(None, "127.0.0.1", 8000, 1)  # type: ignore[arg-type]
    assert seen["app"] == "app.main:app"
    assert seen["http"] == "app.server:CoalescingHttpToolsProtocol"
    assert seen["access_log"] is False and seen["server_header"] is False
