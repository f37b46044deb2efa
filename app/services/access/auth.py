"""Who is calling: API-key authentication of clients, their agency scope, and a brake on guessing.

Known keys are cached in the process for :data:`CACHE_TTL_SECONDS`, keyed by the key's SHA-256.
Any commit in this process that writes clients, API keys, client agencies or agencies (rotate,
disable, re-scope, move an agency) empties the cache at once; a change made by another process
is seen here within the TTL at most. Expiry of a rotated-out key is checked on every request
against the cached ``expires_at``, so a rotation's grace period ends on time everywhere.
Unknown keys are never cached: they always reach the database (and count against the caller).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.container import Container
from app.db import Database
from app.errors import Unauthorized
from app.models import Agency, ApiKey, Client, ClientAgency
from app.security import constant_time_equals, hash_api_key
from app.stores import clients as store
from app.ttl_cache import TtlCache

MAX_KEY_LENGTH = 256
CACHE_TTL_SECONDS = 5.0
CACHE_MAX_ENTRIES = 10_000


@dataclass(frozen=True)
class Principal:
    """An authenticated client and the agency subtrees it may act for."""

    client_id: str
    name: str
    agency_paths: tuple[str, ...]
    allowed_hosts: tuple[str, ...] = ()

    def covers(self, agency_path: str) -> bool:
        return any(agency_path.startswith(p) for p in self.agency_paths)


@dataclass(frozen=True)
class _KnownKey:
    key_hash: str
    expires_at: datetime | None
    enabled: bool
    principal: Principal


def _key_cache(container: Container) -> TtlCache[_KnownKey | None]:
    def make() -> TtlCache[_KnownKey | None]:
        cache: TtlCache[_KnownKey | None] = TtlCache(CACHE_TTL_SECONDS, CACHE_MAX_ENTRIES)
        container.db.on_commit_touching((Client, ApiKey, ClientAgency, Agency), cache.clear)
        return cache

    return container.cache("auth.api_keys", make)


async def _load_key(db: Database, digest: str) -> _KnownKey | None:
    async with db.session() as session:
        row = await store.key_by_hash(session, digest)
        if row is None:
            return None
        client: Client = row.Client
        paths = await store.agency_paths(session, client.id)
    principal = Principal(
        client_id=client.id,
        name=client.name,
        agency_paths=tuple(paths),
        allowed_hosts=tuple(client.allowed_hosts or ()),
    )
    return _KnownKey(row.key_hash, row.expires_at, client.enabled, principal)


def _is_known(known: _KnownKey | None) -> bool:
    return known is not None  # unknown keys are never cached: they always reach the database


async def authenticate_api_key(container: Container, key: str, address: str) -> Principal:
    """The client behind an API key: one indexed lookup by the key's SHA-256 (or the cache), then
    expiry (rotated keys), then enabled. Failures count against the caller's address (429 past the
    limit); a valid key is accepted even from a braked address."""
    limiter = container.auth_limiter
    if len(key) > MAX_KEY_LENGTH:  # ours are ~47 characters; don't hash megabytes
        limiter.refuse(address)
        raise Unauthorized("Unknown API key.")
    digest = hash_api_key(key)
    now = container.clock()
    known = await _key_cache(container).get(digest, lambda: _load_key(container.db, digest), keep=_is_known)
    if known is None or not constant_time_equals(known.key_hash, digest):
        limiter.refuse(address)
        raise Unauthorized("Unknown API key.")
    if known.expires_at is not None and known.expires_at <= now:
        limiter.refuse(address)
        raise Unauthorized("This API key was rotated out and has expired.")
    if not known.enabled:
        raise Unauthorized("This client is disabled.")
    return known.principal
