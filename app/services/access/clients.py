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

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.container import Container
from app.errors import NotFound, ValidationFailed
from app.ids import new_id
from app.models import Agency, ApiKey, Client, ClientAgency, ClientView
from app.pagination import Page, decode_cursor, encode_cursor
from app.security import hash_api_key, new_api_key, new_webhook_secret
from app.services.catalogue.agencies import normalise_code
from app.services.notifications.url_guard import literal_problem, private_target, url_problem

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
    found = {a.code: a for a in (await session.scalars(select(Agency).where(Agency.code.in_(wanted)))).all()}
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
        session.add(client)
        await session.flush()
        session.add_all(ClientAgency(client_id=client.id, agency_id=a.id) for a in agencies)
        key, plaintext = _new_key(client.id, now)
        session.add(key)
        await session.flush()
        view = ClientView(client, sorted(a.code for a in agencies), [key])
    return NewClient(view, plaintext, secret)


async def _views(session: AsyncSession, clients: Sequence[Client]) -> list[ClientView]:
    """Views of many clients in two queries (agencies, keys), not two per client."""
    ids = [c.id for c in clients]
    codes: dict[str, list[str]] = {i: [] for i in ids}
    keys: dict[str, list[ApiKey]] = {i: [] for i in ids}
    rows = await session.execute(
        select(ClientAgency.client_id, Agency.code)
        .join(Agency, ClientAgency.agency_id == Agency.id)
        .where(ClientAgency.client_id.in_(ids))
        .order_by(Agency.code)
    )
    for client_id, code in rows:
        codes[client_id].append(code)
    for key in await session.scalars(select(ApiKey).where(ApiKey.client_id.in_(ids)).order_by(ApiKey.id)):
        keys[key.client_id].append(key)
    return [ClientView(c, codes[c.id], keys[c.id]) for c in clients]


async def _view(session: AsyncSession, client: Client) -> ClientView:
    return (await _views(session, [client]))[0]


async def _require(session: AsyncSession, client_id: str, *, lock: bool = False) -> Client:
    stmt = select(Client).where(Client.id == client_id)
    client = await session.scalar(stmt.with_for_update() if lock else stmt)
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
    stmt = select(Client).order_by(Client.id).limit(limit + 1)
    if after is not None:
        stmt = stmt.where(Client.id > after[0])
    async with container.db.session() as session:
        clients = list((await session.scalars(stmt)).all())
        views = await _views(session, clients[:limit])
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
            await session.execute(delete(ClientAgency).where(ClientAgency.client_id == client.id))
            session.add_all(ClientAgency(client_id=client.id, agency_id=a.id) for a in agencies)
        client.updated_at = container.clock()
        await session.flush()
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
        await session.execute(
            update(ApiKey)
            .where(
                ApiKey.client_id == client.id,
                or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > expires),
            )
            .values(expires_at=expires)
            .execution_options(synchronize_session=False)
        )
        key, plaintext = _new_key(client.id, now)
        session.add(key)
        await session.flush()
    return NewKey(key, plaintext, expires)
