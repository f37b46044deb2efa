"""Outbound webhooks: claim due outbox rows, sign them (Standard Webhooks), send, record, retry.

Delivery is at-least-once; a portal deduplicates by ``webhook-id`` (the event id).

1. :func:`claim_due` — one short transaction picks due rows (``FOR UPDATE SKIP LOCKED`` on
   PostgreSQL), counts a try and leases each row by moving ``next_attempt_at`` forward by
   :data:`LEASE`. No lock or transaction is held while sending: a worker that dies mid-send
   simply lets the lease run out, and the row is tried again.
2. :func:`send` — POSTs the signed event body with a 10 s limit and keeps the first KB of the answer.
3. :func:`record_batch` — one short transaction for the batch: per row a compare-and-set on the
   lease it holds (``attempts`` and ``next_attempt_at``), so a worker whose lease expired cannot
   overwrite the result of the worker that took the row over. Every try is logged either way.

A 2xx is delivered; anything else is retried after :data:`RETRY_DELAYS` (about three days in
all), then the delivery is dead until an operator redelivers it. A client without a
``webhook_url`` (or disabled) at send time gets no request: its delivery is dead at once, with
the reason in ``last_error``; the event stays readable on the event feed.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import orjson
from sqlalchemy import select, tuple_, update
from standardwebhooks.webhooks import Webhook

from app import __version__
from app.container import Container
from app.db import Database
from app.errors import Conflict, NotFound
from app.models import Client, Event, WebhookAttemptLog, WebhookDelivery
from app.security import Vault, new_webhook_secret
from app.services import url_guard
from app.services.events import event_envelope

log = logging.getLogger("paybridge.webhooks")

# Delay before the next try after the n-th failed try (the first try is immediate).
RETRY_DELAYS: tuple[timedelta, ...] = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
    timedelta(hours=12),
    timedelta(hours=14),
    timedelta(hours=18),
)
MAX_TRIES = len(RETRY_DELAYS) + 1
# How long a claimed row stays invisible to other workers while one sends it.
LEASE = timedelta(seconds=60)
SEND_TIMEOUT_SECONDS = 10.0
BATCH_SIZE = 50
CONCURRENCY = 10
MAX_STORED_BODY = 1024
USER_AGENT = f"paybridge-webhooks/{__version__}"


def next_delay(failed_tries: int) -> timedelta | None:
    """How long to wait after ``failed_tries`` failed tries; ``None`` when the delivery is dead."""
    if failed_tries < 1:
        raise ValueError("failed_tries starts at 1")
    return RETRY_DELAYS[failed_tries - 1] if failed_tries <= len(RETRY_DELAYS) else None


def signature_header(msg_id: str, timestamp: datetime, body: bytes, secrets: tuple[str, ...]) -> str:
    """``v1,<base64>`` per secret, space-separated (both secrets sign during a rotation's grace)."""
    if not secrets:
        raise ValueError("at least one secret is required")
    text = body.decode()
    return " ".join(Webhook(secret).sign(msg_id=msg_id, timestamp=timestamp, data=text) for secret in secrets)


def signed_headers(msg_id: str, now: datetime, body: bytes, secrets: tuple[str, ...]) -> dict[str, str]:
    """The Standard Webhooks headers of one try (timestamp in whole unix seconds)."""
    timestamp = now.astimezone(UTC).replace(microsecond=0)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signature_header(msg_id, timestamp, body, secrets),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


def signing_secrets(client: Client, vault: Vault, now: datetime) -> tuple[str, ...]:
    """The client's current secret, then the previous one while its grace period lasts."""
    secrets = [vault.decrypt(client.webhook_secret_enc)]
    expires = client.previous_webhook_secret_expires_at
    if client.previous_webhook_secret_enc and expires is not None and expires > now:
        secrets.append(vault.decrypt(client.previous_webhook_secret_enc))
    return tuple(secrets)


@dataclass(frozen=True)
class Claim:
    """A leased delivery: ``(tries, leased_until)`` is the lease a result must still match."""

    delivery_id: int
    event_id: str
    tries: int
    leased_until: datetime
    body: bytes
    url: str | None
    skip_reason: str | None = None
    secrets: tuple[str, ...] = field(default=(), repr=False)


@dataclass(frozen=True)
class TryResult:
    attempted_at: datetime
    status_code: int | None = None
    error: str | None = None
    response_body: str | None = None
    latency_ms: int = 0
    retryable: bool = True

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


async def claim_due(container: Container, *, limit: int = BATCH_SIZE) -> list[Claim]:
    """Lease up to ``limit`` due deliveries, oldest due first, in one short transaction."""
    now = container.clock()
    leased_until = now + LEASE
    db = container.db
    async with db.transaction() as session:
        query = (
            select(WebhookDelivery.id)
            .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(limit)
        )
        if db.is_postgres:
            query = query.with_for_update(skip_locked=True)
        ids = list((await session.scalars(query)).all())
        if not ids:
            return []
        await session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_(ids))
            .values(attempts=WebhookDelivery.attempts + 1, next_attempt_at=leased_until)
            .execution_options(synchronize_session=False)
        )
        rows = (
            await session.execute(
                select(WebhookDelivery.id, WebhookDelivery.attempts, Event, Client)
                .join(Event, Event.id == WebhookDelivery.event_id)
                .join(Client, Client.id == WebhookDelivery.client_id)
                .where(WebhookDelivery.id.in_(ids))
                .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            )
        ).all()
    claims = []
    for delivery_id, tries, event, client in rows:
        skip = None if client.enabled else "client disabled"
        skip = skip or (None if client.webhook_url else "no webhook_url")
        claims.append(
            Claim(
                delivery_id=delivery_id,
                event_id=event.id,
                tries=tries,
                leased_until=leased_until,
                body=orjson.dumps(event_envelope(event)),
                url=client.webhook_url,
                skip_reason=skip,
                secrets=() if skip else signing_secrets(client, container.vault, now),
            )
        )
    return claims


async def send(container: Container, claim: Claim) -> TryResult:
    """POST one signed event; never raises for network trouble (it is a failed try)."""
    now = container.clock()
    if claim.skip_reason or claim.url is None:
        return TryResult(attempted_at=now, error=claim.skip_reason or "no webhook_url", retryable=False)
    if not container.settings.private_webhooks_allowed:
        # DNS may have changed since the URL was configured: never POST into a private network.
        problem = await url_guard.private_target(claim.url)
        if problem is not None:
            log.warning("webhook refused", extra={"delivery_id": claim.delivery_id, "reason": problem})
            return TryResult(attempted_at=now, error=f"refused: {problem}")
    headers = signed_headers(claim.event_id, now, claim.body, claim.secrets)
    started = time.perf_counter()
    status_code: int | None = None
    body: str | None = None
    error: str | None = None
    try:
        async with asyncio.timeout(SEND_TIMEOUT_SECONDS):
            async with container.http.stream(
                "POST",
                claim.url,
                content=claim.body,
                headers=headers,
                timeout=SEND_TIMEOUT_SECONDS,
                follow_redirects=False,  # a redirect is a failed try, never a hop to another host
            ) as response:
                status_code = response.status_code
                body = await _read_prefix(response, MAX_STORED_BODY)
    except (TimeoutError, httpx.TimeoutException):
        error = f"no answer within {SEND_TIMEOUT_SECONDS:g} s"
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
    latency_ms = round((time.perf_counter() - started) * 1000)
    if error is None and status_code is not None and not 200 <= status_code < 300:
        error = f"HTTP {status_code}"
    return TryResult(now, status_code, error, body, latency_ms)


async def _read_prefix(response: httpx.Response, limit: int) -> str:
    buffer = bytearray()
    async for chunk in response.aiter_bytes():
        buffer += chunk
        if len(buffer) >= limit:
            break
    return bytes(buffer[:limit]).decode("utf-8", "replace")


def _settlement(claim: Claim, result: TryResult, now: datetime) -> tuple[str, dict[str, object]]:
    """The outcome label of a try and the row's new values (if the lease is still ours)."""
    values: dict[str, object] = {"last_status_code": result.status_code}
    if result.ok:
        values.update(status="delivered", delivered_at=now, last_error=None)
        return "delivered", values
    delay = next_delay(claim.tries) if result.retryable else None
    values["last_error"] = result.error
    if delay is None:
        values["status"] = "dead"
        return "dead", values
    values["next_attempt_at"] = now + delay
    return "retry", values


async def record(container: Container, claim: Claim, result: TryResult) -> str:
    """Log the try and settle the row if the lease is still ours; returns the outcome label."""
    [outcome] = await record_batch(container, [(claim, result)])
    return outcome


async def record_batch(container: Container, tries: Sequence[tuple[Claim, TryResult]]) -> list[str]:
    """:func:`record` for a whole batch in one transaction: one attempt-log row per try, and each
    row settled by a compare-and-set on its own lease (``attempts`` and ``next_attempt_at``), so a
    worker whose lease expired still changes nothing. Rows that get the same new values share one
    ``UPDATE … WHERE (id, attempts) IN (…) … RETURNING id``. Returns the outcome of each try."""
    if not tries:
        return []
    now = container.clock()
    planned = [_settlement(claim, result, now) for claim, result in tries]
    groups: dict[tuple[datetime, tuple[tuple[str, object], ...]], list[Claim]] = {}
    for (claim, _result), (_outcome, values) in zip(tries, planned, strict=True):
        key = (claim.leased_until, tuple(sorted(values.items())))
        groups.setdefault(key, []).append(claim)
    settled: set[int] = set()
    async with _write_turn(container.db), container.db.transaction() as session:
        session.add_all(
            [
                WebhookAttemptLog(
                    delivery_id=claim.delivery_id,
                    attempted_at=result.attempted_at,
                    status_code=result.status_code,
                    latency_ms=result.latency_ms,
                    error=result.error,
                    response_body=result.response_body,
                )
                for claim, result in tries
            ]
        )
        await session.flush()
        for (leased_until, changes), claims in groups.items():
            settled.update(
                (
                    await session.scalars(
                        update(WebhookDelivery)
                        .where(
                            tuple_(WebhookDelivery.id, WebhookDelivery.attempts).in_(
                                [(c.delivery_id, c.tries) for c in claims]
                            ),
                            WebhookDelivery.status == "pending",
                            WebhookDelivery.next_attempt_at == leased_until,
                        )
                        .values(**dict(changes))
                        .returning(WebhookDelivery.id)
                        .execution_options(synchronize_session=False)
                    )
                ).all()
            )
    outcomes = []
    for (claim, result), (outcome, _values) in zip(tries, planned, strict=True):
        if claim.delivery_id not in settled:
            outcome = "stale"
        outcomes.append(outcome)
        container.metrics.webhooks.labels(outcome).inc()
        log.info(
            "webhook try",
            extra={
                "delivery_id": claim.delivery_id,
                "event_id": claim.event_id,
                "try": claim.tries,
                "status_code": result.status_code,
                "latency_ms": result.latency_ms,
                "outcome": outcome,
            },
        )
    return outcomes


_SQLITE_WRITERS: weakref.WeakKeyDictionary[Database, asyncio.Lock] = weakref.WeakKeyDictionary()


def _write_turn(db: Database) -> AbstractAsyncContextManager[object]:
    """On SQLite (one writer at a time) queue this process's writes in memory: concurrent
    ``BEGIN IMMEDIATE`` would otherwise wait in SQLite's sleeping busy handler."""
    if not db.is_sqlite:
        return nullcontext()
    return _SQLITE_WRITERS.setdefault(db, asyncio.Lock())


class _GroupRecorder:
    """Group commit for one batch: a try's result is recorded as soon as it is known (a worker
    killed mid-batch must not send an answered event again), and results that arrive while a
    write is running share the next one (:func:`record_batch`: one transaction for all of them)."""

    def __init__(self, container: Container) -> None:
        self._container = container
        self._queue: list[tuple[Claim, TryResult]] = []
        self._done: dict[int, str | Exception] = {}
        self._turn = asyncio.Lock()

    async def record(self, claim: Claim, result: TryResult) -> str:
        self._queue.append((claim, result))
        async with self._turn:
            if claim.delivery_id not in self._done:
                group, self._queue = self._queue, []
                try:
                    outcomes: list[str | Exception] = [*await record_batch(self._container, group)]
                except Exception as exc:
                    outcomes = [exc for _ in group]
                except BaseException:
                    interrupted = RuntimeError("recording was interrupted")
                    self._done.update((c.delivery_id, interrupted) for c, _ in group)
                    raise
                self._done.update((c.delivery_id, o) for (c, _), o in zip(group, outcomes, strict=True))
        outcome = self._done.pop(claim.delivery_id)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


async def dispatch_due(container: Container, *, limit: int = BATCH_SIZE) -> int:
    """One bounded batch (the worker job): claim, send concurrently, record. Returns rows claimed."""
    claims = await claim_due(container, limit=limit)
    if not claims:
        return 0
    gate = asyncio.Semaphore(CONCURRENCY)
    recorder = _GroupRecorder(container)

    async def process(claim: Claim) -> str:
        async with gate:
            result = await send(container, claim)
        return await recorder.record(claim, result)

    outcomes = await asyncio.gather(*(process(c) for c in claims), return_exceptions=True)
    for claim, outcome in zip(claims, outcomes, strict=True):
        if isinstance(outcome, BaseException):
            # The lease runs out and the row is tried again; nothing is lost.
            log.error(
                "webhook try failed to complete",
                extra={"delivery_id": claim.delivery_id, "error": type(outcome).__name__},
            )
    return len(claims)


# ---------------------------------------------------------------------------- operator side


class EventNotFound(NotFound):
    code, title = "event_not_found", "Event not found"


class ClientNotFound(NotFound):
    code, title = "client_not_found", "Client not found"


class NoWebhookUrl(Conflict):
    code, title = "no_webhook_url", "Client has no webhook URL"


DELIVERY_FILTERS = ("pending", "delivered", "dead", "failing")


@dataclass(frozen=True)
class DeliveryView:
    id: int
    event_id: str
    event_type: str
    client_id: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


def _view(delivery: WebhookDelivery, event_type: str) -> DeliveryView:
    return DeliveryView(
        id=delivery.id,
        event_id=delivery.event_id,
        event_type=event_type,
        client_id=delivery.client_id,
        status=delivery.status,
        attempts=delivery.attempts,
        next_attempt_at=delivery.next_attempt_at if delivery.status == "pending" else None,
        last_status_code=delivery.last_status_code,
        last_error=delivery.last_error,
        created_at=delivery.created_at,
        delivered_at=delivery.delivered_at,
    )


async def list_deliveries(
    container: Container, *, client_id: str | None, status: str | None, limit: int, cursor: int | None
) -> tuple[list[DeliveryView], int | None]:
    """Deliveries, newest first; ``failing`` = dead, or pending after at least one failed try."""
    query = select(WebhookDelivery, Event.type).join(Event, Event.id == WebhookDelivery.event_id)
    if client_id is not None:
        query = query.where(WebhookDelivery.client_id == client_id)
    if status == "failing":
        query = query.where(
            (WebhookDelivery.status == "dead")
            | ((WebhookDelivery.status == "pending") & WebhookDelivery.last_error.is_not(None))
        )
    elif status is not None:
        query = query.where(WebhookDelivery.status == status)
    if cursor is not None:
        query = query.where(WebhookDelivery.id < cursor)
    async with container.db.session() as session:
        if client_id is not None and await session.get(Client, client_id) is None:
            raise ClientNotFound(f"No client {client_id}.")
        rows = (await session.execute(query.order_by(WebhookDelivery.id.desc()).limit(limit + 1))).all()
    views = [_view(delivery, event_type) for delivery, event_type in rows[:limit]]
    return views, (views[-1].id if len(rows) > limit else None)


async def event_deliveries(
    container: Container, event_id: str
) -> tuple[DeliveryView | None, list[WebhookAttemptLog]]:
    """An event's delivery and its tries, oldest first."""
    async with container.db.session() as session:
        event_type = await session.scalar(select(Event.type).where(Event.id == event_id))
        if event_type is None:
            raise EventNotFound(f"No event {event_id}.")
        delivery = await session.scalar(select(WebhookDelivery).where(WebhookDelivery.event_id == event_id))
        if delivery is None:
            return None, []
        tries = (
            await session.scalars(
                select(WebhookAttemptLog)
                .where(WebhookAttemptLog.delivery_id == delivery.id)
                .order_by(WebhookAttemptLog.id)
            )
        ).all()
    return _view(delivery, event_type), list(tries)


async def redeliver(container: Container, event_id: str) -> DeliveryView:
    """Make an event's delivery due now. A dead or delivered one starts a fresh schedule; a
    pending one keeps its count (a try in flight loses its lease and its result is ignored);
    an event emitted while the client had no webhook URL gets its first delivery row."""
    now = container.clock()
    async with container.db.transaction() as session:
        event = await session.scalar(select(Event).where(Event.id == event_id))
        if event is None:
            raise EventNotFound(f"No event {event_id}.")
        webhook_url = await session.scalar(select(Client.webhook_url).where(Client.id == event.client_id))
        if not webhook_url:
            raise NoWebhookUrl("Set the client's webhook_url first; the event stays on the event feed.")
        query = select(WebhookDelivery).where(WebhookDelivery.event_id == event_id)
        if container.db.is_postgres:
            query = query.with_for_update()
        delivery = await session.scalar(query)
        if delivery is None:
            delivery = WebhookDelivery(
                event_id=event.id, client_id=event.client_id, attempts=0, created_at=now
            )
            session.add(delivery)
        elif delivery.status != "pending":
            delivery.attempts = 0
        delivery.status = "pending"
        delivery.next_attempt_at = now
        delivery.delivered_at = None
        await session.flush()
        view = _view(delivery, event.type)
    log.info("webhook redelivery requested", extra={"event_id": event_id, "delivery_id": view.id})
    return view


async def rotate_webhook_secret(
    container: Container, client_id: str, *, grace: timedelta
) -> tuple[str, datetime | None]:
    """A new signing secret (returned once); the old one keeps signing until ``now + grace``.
    Rotating again within a grace period drops the oldest secret."""
    now = container.clock()
    secret = new_webhook_secret()
    async with container.db.transaction() as session:
        client = await session.get(Client, client_id, with_for_update=container.db.is_postgres)
        if client is None:
            raise ClientNotFound(f"No client {client_id}.")
        expires = now + grace if grace > timedelta(0) else None
        client.previous_webhook_secret_enc = client.webhook_secret_enc if expires else None
        client.previous_webhook_secret_expires_at = expires
        client.webhook_secret_enc = container.vault.encrypt(secret)
        client.updated_at = now
    log.info("webhook secret rotated", extra={"client_id": client_id})
    return secret, expires
