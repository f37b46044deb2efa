"""Who is calling: API-key authentication of clients, their agency scope, and a brake on guessing."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from app.container import Container
from app.errors import Unauthorized
from app.models import Agency, ApiKey, Client, ClientAgency
from app.security import constant_time_equals, hash_api_key

MAX_KEY_LENGTH = 256


@dataclass(frozen=True)
class Principal:
    """An authenticated client and the agency subtrees it may act for."""

    client_id: str
    name: str
    agency_paths: tuple[str, ...]
    allowed_hosts: tuple[str, ...] = ()

    def covers(self, agency_path: str) -> bool:
        return any(agency_path.startswith(p) for p in self.agency_paths)


async def authenticate_api_key(container: Container, key: str, address: str) -> Principal:
    """The client behind an API key: one indexed lookup by the key's SHA-256, then expiry (rotated
    keys), then enabled. Failures count against the caller's address (429 past the limit)."""
    limiter = container.auth_limiter
    limiter.check(address)
    if len(key) > MAX_KEY_LENGTH:  # ours are ~47 characters; don't hash megabytes
        limiter.fail(address)
        raise Unauthorized("Unknown API key.")
    digest = hash_api_key(key)
    now = container.clock()
    async with container.db.session() as session:
        row = (
            await session.execute(
                select(ApiKey.key_hash, ApiKey.expires_at, Client)
                .join(Client, Client.id == ApiKey.client_id)
                .where(ApiKey.key_hash == digest)
            )
        ).first()
        if row is None or not constant_time_equals(row.key_hash, digest):
            limiter.fail(address)
            raise Unauthorized("Unknown API key.")
        client: Client = row.Client
        if row.expires_at is not None and row.expires_at <= now:
            limiter.fail(address)
            raise Unauthorized("This API key was rotated out and has expired.")
        if not client.enabled:
            raise Unauthorized("This client is disabled.")
        paths = (
            await session.scalars(
                select(Agency.path)
                .join(ClientAgency, ClientAgency.agency_id == Agency.id)
                .where(ClientAgency.client_id == client.id)
            )
        ).all()
    return Principal(
        client_id=client.id,
        name=client.name,
        agency_paths=tuple(paths),
        allowed_hosts=tuple(client.allowed_hosts or ()),
    )
