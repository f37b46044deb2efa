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


# IPv6 ranges that carry an IPv4 address in their low 32 bits: a NAT64 or an SIIT translator
# delivers them to that IPv4 address, so the verdict must be about the IPv4 address.
_NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052
_NAT64_LOCAL_USE = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215: the operator's own translators
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # ::a.b.c.d (deprecated, still routed by some stacks)
_IPV4_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")  # ::ffff:0:a.b.c.d (RFC 2765 SIIT)


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """Every IPv4 address ``ip`` carries (and would reach through a translator or a tunnel):
    IPv4-mapped ``::ffff:a.b.c.d``, IPv4-translated ``::ffff:0:a.b.c.d``, IPv4-compatible
    ``::a.b.c.d``, NAT64 ``64:ff9b::a.b.c.d``, 6to4 ``2002:AABB:CCDD::`` and Teredo
    ``2001:0:<server>::<client>`` (both the server and the de-obfuscated client)."""
    low32 = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    found: list[ipaddress.IPv4Address] = []
    if ip.ipv4_mapped is not None:
        found.append(ip.ipv4_mapped)
    if ip in _IPV4_TRANSLATED or ip in _IPV4_COMPATIBLE or ip in _NAT64_WELL_KNOWN:
        found.append(low32)
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip.teredo is not None:
        found.extend(ip.teredo)
    return found


def is_public_address(address: str) -> bool:
    """Whether ``address`` is a globally routable unicast address. An IPv6 address that embeds an
    IPv4 address is public only when every IPv4 address it carries is public too, and the NAT64
    local-use prefix ``64:ff9b:1::/48`` (the operator's own translators) never is."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _NAT64_LOCAL_USE:
            return False
        embedded = embedded_ipv4(ip)
        if embedded:
            carried_public = all(v4.is_global and not v4.is_multicast for v4 in embedded)
            # An IPv4-mapped address is an IPv4 socket: only its IPv4 address matters.
            return carried_public and (ip.ipv4_mapped is not None or ip.is_global)
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
