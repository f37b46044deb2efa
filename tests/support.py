"""Test doubles shared by the suite: a settable clock and an outbound HTTP router."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import httpx

Handler = Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]


class Clock:
    """An injectable clock: tests move time instead of sleeping."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


class RoutingTransport(httpx.AsyncBaseTransport):
    """Sends each request to the transport mounted for its origin; unknown origins are refused
    like an unreachable host, so no test ever touches the network."""

    def __init__(self) -> None:
        self._mounts: dict[str, httpx.AsyncBaseTransport] = {}
        self.requests: list[httpx.Request] = []

    def mount(self, origin: str, transport: httpx.AsyncBaseTransport) -> None:
        self._mounts[origin.rstrip("/")] = transport

    def handle(self, origin: str, handler: Handler) -> None:
        async def call(request: httpx.Request) -> httpx.Response:
            result = handler(request)
            if isinstance(result, Awaitable):
                result = await result
            return result

        self.mount(origin, httpx.MockTransport(call))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        origin = f"{request.url.scheme}://{request.url.netloc.decode()}"
        transport = self._mounts.get(origin)
        if transport is None:
            raise httpx.ConnectError(f"no route to {origin} in tests", request=request)
        return await transport.handle_async_request(request)
