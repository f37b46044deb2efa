"""Idempotency-Key semantics for creates (API.md).

- First request with a key: claimed (``in_progress``), run, its response stored (``completed``).
- Same key, same body: the stored response again, with ``Idempotent-Replayed: true``. A retry
  that arrives while the first is still running waits a little for it, then replays.
- Same key, different body: 422 ``idempotency_key_reused``.
- Same key still running after the wait: 409 ``idempotency_request_in_progress``.
- Keys are scoped per client and kept ``PAYBRIDGE_IDEMPOTENCY_TTL_HOURS`` (≥ 24 h), then purged.
- A claim left ``in_progress`` by a crashed process is taken over after a lease; the record's
  ``resource_id`` (written in the same transaction as the resource) lets the retry resume
  instead of creating a second resource.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson

from app.container import Container
from app.errors import BadRequest, Conflict, ProblemError, problem_body
from app.stores import idempotency as store

_KEY_RE = re.compile(r"^[\x21-\x7e]{1,255}$")
LEASE = timedelta(seconds=120)
WAIT_SECONDS = 15.0


class IdempotencyKeyMissing(BadRequest):
    code, title = "idempotency_key_missing", "Idempotency-Key required"


class IdempotencyKeyReused(ProblemError):
    status, code, title = 422, "idempotency_key_reused", "Idempotency-Key reused"


class IdempotencyInProgress(Conflict):
    code, title = "idempotency_request_in_progress", "Request in progress"


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: bytes
    replayed: bool


@dataclass(frozen=True)
class Completed:
    """A handler's response already stored with :func:`complete` in the handler's own transaction."""

    status: int
    body: bytes


@dataclass(frozen=True)
class Claim:
    record_id: int
    resource_id: str | None  # set when a crashed earlier run had already created the resource


def check_key(key: str | None) -> str:
    if key is None or key == "":
        raise IdempotencyKeyMissing("Send an Idempotency-Key header (1–255 printable ASCII characters).")
    if not _KEY_RE.match(key):
        raise BadRequest(
            "Idempotency-Key must be 1–255 printable ASCII characters without spaces.",
            errors=[{"field": "Idempotency-Key", "message": "1-255 printable ASCII characters"}],
        )
    return key


def request_fingerprint(method: str, path: str, body: dict[str, Any]) -> str:
    canonical = orjson.dumps({"m": method, "p": path, "b": body}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


async def _claim(
    container: Container, client_id: str, scope: str, key: str, fingerprint: str
) -> Claim | StoredResponse:
    db = container.db
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    delay = 0.02
    while True:
        now = container.clock()
        values = {
            "client_id": client_id,
            "scope": scope,
            "key": key,
            "request_hash": fingerprint,
            "state": "in_progress",
            "created_at": now,
            "expires_at": now + timedelta(hours=container.settings.idempotency_ttl_hours),
        }
        async with db.transaction() as session:
            new_id = await store.insert_claim(session, values)
            if new_id is not None:
                return Claim(record_id=new_id, resource_id=None)
            record = await store.find(session, client_id, scope, key)
            if record is None:
                continue  # purged between our insert and select: try again
            if record.request_hash != fingerprint:
                raise IdempotencyKeyReused(
                    "This Idempotency-Key was already used with a different request body."
                )
            if record.state == "completed":
                assert record.response_status is not None and record.response_body is not None
                return StoredResponse(record.response_status, record.response_body.encode(), True)
            # The first run died mid-way: take its claim over (compare-and-set on its stamp).
            if record.created_at <= now - LEASE and await store.take_over(
                session, record.id, record.created_at, now
            ):
                return Claim(record_id=record.id, resource_id=record.resource_id)
        if asyncio.get_running_loop().time() >= deadline:
            raise IdempotencyInProgress(
                "A request with this Idempotency-Key is still being processed; retry shortly.",
                headers={"Retry-After": "1"},
            )
        await asyncio.sleep(delay)
        delay = min(delay * 1.5, 0.25)


async def complete(session: Any, record_id: int, status: int, body: bytes) -> None:
    """Store the response for the key in the caller's transaction (the handler then returns
    :class:`Completed`, saving a transaction of its own)."""
    await store.complete(session, record_id, status, body)


async def _complete(container: Container, record_id: int, status: int, body: bytes) -> None:
    async with container.db.transaction() as session:
        await complete(session, record_id, status, body)


async def _release(container: Container, record_id: int) -> None:
    """Give the key back after an unexpected failure. A run that had already created its resource
    keeps its claim, made claimable at once, so the retry resumes it instead of meeting its own bill."""
    async with container.db.transaction() as session:
        await store.release(session, record_id, container.clock() - LEASE)


async def run_idempotent(
    container: Container,
    *,
    client_id: str,
    scope: str,
    key: str | None,
    fingerprint: str,
    handler: Callable[[Claim], Awaitable[tuple[int, bytes] | Completed]],
) -> StoredResponse:
    """Run ``handler`` at most once per (client, scope, key); replay its stored response after.

    Business errors (4xx) are stored and replayed like successes; anything unexpected releases
    the claim so that a retry can run again. A handler that stored its response itself (with
    :func:`complete`, in the transaction that finished its work) returns :class:`Completed`.
    """
    key = check_key(key)
    claimed = await _claim(container, client_id, scope, key, fingerprint)
    if isinstance(claimed, StoredResponse):
        return claimed
    try:
        answer = await handler(claimed)
    except ProblemError as exc:
        if exc.status >= 500:
            await _release(container, claimed.record_id)
            raise
        answer = (exc.status, problem_body(exc, instance=None))
    except BaseException:
        await _release(container, claimed.record_id)
        raise
    if isinstance(answer, Completed):
        return StoredResponse(answer.status, answer.body, False)
    status, body = answer
    await _complete(container, claimed.record_id, status, body)
    return StoredResponse(status, body, False)


async def mark_resource(session: Any, record_id: int, resource_id: str) -> None:
    """Record, in the resource's own transaction, which resource this key created."""
    await store.mark_resource(session, record_id, resource_id)


async def purge_expired(container: Container) -> int:
    """Worker job: drop records past their retention."""
    async with container.db.transaction() as session:
        return await store.purge_expired(session, container.clock())
