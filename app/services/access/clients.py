"""Clients (integrating portals): creation, agency scope, API keys and their rotation.

An API key is shown once; we keep its SHA-256 (unique, so authentication is one indexed lookup)
and a short prefix to tell keys apart. Rotating issues a new key and gives the older ones a grace
period, after which they answer 401.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.container import Container
from app.errors import NotFound, ValidationFailed
from app.ids import new_id
from app.models import Agency, ApiKey, Client, ClientView
from app.pagination import Page, decode_cursor, encode_cursor
from app.security import hash_api_key, new_api_key, new_webhook_secret
from app.services.catalogue.agencies import normalise_code
from app.services.notifications.url_guard import literal_problem, private_target, url_problem
from app.stores import clients as store

DEFAULT_GRACE = timedelta(hours=24)
MAX_GRACE = timedelta(days=30)
KEY_PREFIX_LEN = 12
_HOST_RE = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"
)


@dataclass(frozen=True)
class NewClient:
    view: ClientView
    api_key: str
    webhook_secret: str


@dataclass(frozen=True)
class NewKey:
    key: ApiKey
    api_key: str
    previous_keys_expire_at: datetime | None


def _check_url(
    url: str | None, hosts: Sequence[str], container: Container, errors: list[dict[str, str]]
) -> None:
    """The rule every client URL follows (:func:`url_problem`), and no private network target."""
    if url is None:
        return
    problem = url_problem(url, allowed_hosts=hosts, development=container.settings.is_development)
    if problem is None and not container.settings.private_webhooks_allowed:
        problem = literal_problem(url)
    if problem is not None:
        errors.append({"field": "webhook_url", "message": problem})


async def _check_resolved(url: str | None, container: Container) -> None:
    """A webhook host whose name resolves to a private address now is refused now (and at send)."""
    if url is None or container.settings.private_webhooks_allowed:
        return
    problem = await private_target(url)
    if problem is not None:
        raise ValidationFailed("Invalid client.", errors=[{"field": "webhook_url", "message": problem}])


def _check_hosts(hosts: Sequence[str] | None, errors: list[dict[str, str]]) -> list[str] | None:
    if hosts is None:
        return None
    clean = []
    for i, host in enumerate(hosts):
        value = host.strip().lower().rstrip(".")
        try:
            ipaddress.ip_address(value)
            is_ip = True
        except ValueError:
            is_ip = False
        if not (is_ip or _HOST_RE.match(value)):
            errors.append({"field": f"allowed_hosts[{i}]", "message": "must be a host name"})
        clean.append(value)
    return sorted(set(clean))


async def _agencies_for(
    session: AsyncSession, codes: Sequence[str], errors: list[dict[str, str]]
) -> list[Agency]:
    if not codes:
        errors.append({"field": "agency_codes", "message": "must name at least one agency"})
        return []
    wanted = [normalise_code(c) for c in codes]
    found = {a.code: a for a in await store.agencies_by_code(session, wanted)}
    for i, code in enumerate(wanted):
        if code not in found:
            errors.append({"field": f"agency_codes[{i}]", "message": f"no agency {code!r}"})
    return list(found.values())


def _new_key(client_id: str, now: datetime) -> tuple[ApiKey, str]:
    plaintext = new_api_key()
    return ApiKey(
        client_id=client_id,
        key_hash=hash_api_key(plaintext),
        prefix=plaintext[:KEY_PREFIX_LEN],
        created_at=now,
    ), plaintext


async def create_client(
    container: Container,
    *,
    name: str,
    agency_codes: Sequence[str],
    webhook_url: str | None = None,
    allowed_hosts: Sequence[str] | None = None,
) -> NewClient:
    """Create a client bound to agency subtrees, with its first API key and webhook secret."""
    errors: list[dict[str, str]] = []
    if not name.strip():
        errors.append({"field": "name", "message": "must not be empty"})
    hosts = _check_hosts(allowed_hosts, errors)
    _check_url(webhook_url, hosts or [], container, errors)
    if not errors:
        await _check_resolved(webhook_url, container)
    now = container.clock()
    async with container.db.transaction() as session:
        agencies = await _agencies_for(session, agency_codes, errors)
        if errors:
            raise ValidationFailed("Invalid client.", errors=errors)
        secret = new_webhook_secret()
        client = Client(
            id=new_id("cli"),
            name=name.strip(),
            webhook_url=webhook_url,
            webhook_secret_enc=container.vault.encrypt(secret),
            allowed_hosts=hosts or [],
            enabled=True,
            created_at=now,
            updated_at=now,
        )
        key, plaintext = _new_key(client.id, now)
        await store.insert(session, client, agencies, key)
        view = ClientView(client, sorted(a.code for a in agencies), [key])
    return NewClient(view, plaintext, secret)


async def _view(session: AsyncSession, client: Client) -> ClientView:
    return (await store.views(session, [client]))[0]


async def _require(session: AsyncSession, client_id: str, *, lock: bool = False) -> Client:
    client = await store.get(session, client_id, lock=lock)
    if client is None:
        raise NotFound(f"No client {client_id!r}.")
    return client


async def get_client(container: Container, client_id: str) -> ClientView:
    async with container.db.session() as session:
        return await _view(session, await _require(session, client_id))


async def list_clients(
    container: Container, *, limit: int = 50, cursor: str | None = None
) -> Page[ClientView]:
    """Clients by id (ids sort by creation time)."""
    after = decode_cursor(cursor, 1)
    async with container.db.session() as session:
        clients = await store.page(session, None if after is None else after[0], limit + 1)
        views = await store.views(session, clients[:limit])
    next_cursor = encode_cursor(clients[limit - 1].id) if len(clients) > limit else None
    return Page(views, next_cursor)


async def update_client(container: Container, client_id: str, changes: dict[str, Any]) -> ClientView:
    """Change name, webhook_url, agency_codes, allowed_hosts or enabled (only the fields given)."""
    errors: list[dict[str, str]] = []
    if "name" in changes and not (changes["name"] or "").strip():
        errors.append({"field": "name", "message": "must not be empty"})
    if "enabled" in changes and changes["enabled"] is None:
        errors.append({"field": "enabled", "message": "must be true or false"})
    hosts = _check_hosts(changes.get("allowed_hosts") or [], errors) if "allowed_hosts" in changes else None
    await _check_resolved(changes.get("webhook_url"), container)
    async with container.db.transaction() as session:
        client = await _require(session, client_id, lock=True)
        url = changes.get("webhook_url", client.webhook_url)
        _check_url(url, client.allowed_hosts if hosts is None else hosts, container, errors)
        agencies = None
        if "agency_codes" in changes:
            agencies = await _agencies_for(session, changes["agency_codes"] or [], errors)
        if errors:
            raise ValidationFailed("Invalid client.", errors=errors)
        if "name" in changes:
            client.name = changes["name"].strip()
        if "webhook_url" in changes:
            client.webhook_url = changes["webhook_url"]
        if "allowed_hosts" in changes:
            client.allowed_hosts = hosts or []
        if "enabled" in changes:
            client.enabled = bool(changes["enabled"])
        if agencies is not None:
            await store.replace_agencies(session, client.id, agencies)
        client.updated_at = container.clock()
        await store.save(session, client)
        return await _view(session, client)


async def rotate_key(container: Container, client_id: str, grace_seconds: int | None = None) -> NewKey:
    """Issue a new key; keys still valid now stop working after the grace period (default 24 h).
    A grace of 0 revokes them at once."""
    grace = DEFAULT_GRACE if grace_seconds is None else timedelta(seconds=grace_seconds)
    if not timedelta(0) <= grace <= MAX_GRACE:
        raise ValidationFailed(
            "Invalid grace period.",
            errors=[{"field": "grace_seconds", "message": f"must be 0 to {int(MAX_GRACE.total_seconds())}"}],
        )
    now = container.clock()
    expires = now + grace
    async with container.db.transaction() as session:
        client = await _require(session, client_id, lock=True)
        # Keys already expiring sooner keep their earlier end; none is extended.
        await store.cap_key_expiry(session, client.id, expires)
        key, plaintext = _new_key(client.id, now)
        await store.add_key(session, key)
    return NewKey(key, plaintext, expires)
