"""Outbound URL guard: webhook URLs must not reach private, loopback, link-local or reserved
addresses (the cloud metadata service, the database, an admin port) unless the setting
``PAYBRIDGE_ALLOW_PRIVATE_WEBHOOKS`` allows it. Checked when a URL is configured and again
before each send, because DNS can change in between."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import urlsplit

Resolver = Callable[[str], Awaitable[list[str]]]
RESOLVE_TIMEOUT_SECONDS = 2.0


def is_public_address(address: str) -> bool:
    """Whether ``address`` is a globally routable unicast address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


async def system_resolve(host: str) -> list[str]:
    """The addresses ``host`` resolves to now (empty when it does not resolve in time)."""
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT_SECONDS):
            infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, TimeoutError):
        return []
    return sorted({str(info[4][0]) for info in infos})


def url_problem(url: str, *, allowed_hosts: Sequence[str], development: bool) -> str | None:
    """The rule for every URL a client gives us (return_url, webhook_url): absolute https (http only
    for localhost in development), no credentials in it, and a registered host when the client has
    ``allowed_hosts``. None when the URL is acceptable, else what is wrong with it."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        return "must be an absolute https URL"
    local = host in ("localhost", "127.0.0.1", "::1")
    if parts.scheme != "https" and not (local and development):
        return "must be https (http only for localhost in development)"
    if parts.username or parts.password:
        return "must not carry credentials"
    if allowed_hosts and host not in allowed_hosts:
        return "host is not registered for this client (allowed_hosts)"
    return None


def literal_problem(url: str) -> str | None:
    """Why ``url`` names a non-public host outright (an IP literal or ``localhost``), else None."""
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return "host is loopback"
    try:
        public = is_public_address(host)
    except ValueError:
        return None
    return None if public else "host is a private, loopback, link-local or reserved address"


async def private_target(url: str, resolve: Resolver | None = None) -> str | None:
    """Why ``url`` must not be called (its host is or resolves to a non-public address), else None.
    A name that does not resolve is not refused here: the call itself will fail."""
    problem = literal_problem(url)
    if problem is not None:
        return problem
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    try:
        ipaddress.ip_address(host)
        return None  # a public literal
    except ValueError:
        pass
    for address in await (resolve or system_resolve)(host):
        if not is_public_address(address):
            return f"host resolves to a non-public address ({address})"
    return None
