"""Outbound webhooks: claim due outbox rows, sign them (Standard Webhooks), send, record, retry.

Delivery is at-least-once; a portal deduplicates by ``webhook-id`` (the event id).

1. :func:`claim_due` — one short statement picks due rows (``FOR UPDATE SKIP LOCKED`` on
   PostgreSQL), counts a try and leases each row by moving ``next_attempt_at`` forward by
   :data:`LEASE`. No lock or transaction is held while sending: a worker that dies mid-send
   simply lets the lease run out, and the row is tried again.
2. :func:`send` — POSTs the signed event body with a 10 s limit and keeps the first KB of the answer.
3. :func:`record_batch` — one short transaction for every result that is ready: per row a
   compare-and-set on the lease it holds (``attempts`` and ``next_attempt_at``), so a worker
   whose lease expired cannot overwrite the result of the worker that took the row over. Every
   try is logged either way.

:func:`dispatch_due` (the worker job) keeps :data:`CONCURRENCY` sends in flight and claims the
next batch while the previous one is still being sent (only when few unsent claims are left, so
a claim never waits long enough to lose its lease); each result is recorded as soon as it is
known (group commit), so a worker killed mid-batch never sends an answered event again.

A 2xx is delivered; anything else is retried after :data:`RETRY_DELAYS` (about three days in
all), then the delivery is dead until an operator redelivers it. A client without a
``webhook_url`` (or disabled) at send time gets no request: its delivery is dead at once, with
the reason in ``last_error``; the event stays readable on the event feed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
import orjson
from standardwebhooks.webhooks import Webhook

from app.container import Container
from app.services.notifications import url_guard, webhook_admin
from app.services.notifications.webhook_signing import secrets_of, signed_headers
from app.stores import outbox
from app.stores.outbox import DueRow, Settlement

log = logging.getLogger("paybridge.webhooks")

# The operator side lives in webhook_admin; these names stay importable from here.
DELIVERY_FILTERS = webhook_admin.DELIVERY_FILTERS
ClientNotFound = webhook_admin.ClientNotFound
DeliveryView = webhook_admin.DeliveryView
EventNotFound = webhook_admin.EventNotFound
NoWebhookUrl = webhook_admin.NoWebhookUrl
event_deliveries = webhook_admin.event_deliveries
list_deliveries = webhook_admin.list_deliveries
redeliver = webhook_admin.redeliver
rotate_webhook_secret = webhook_admin.rotate_webhook_secret

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
# Sends in flight. While they run, the next batch is claimed once no more than this many claims
# are unsent, and only as many as can start within the lease (see dispatch_due).
CONCURRENCY = 10
# Batches one dispatch_due call claims at most (the worker calls it again at once).
MAX_BATCHES = 20
MAX_STORED_BODY = 1024
# A host's private-address verdict is reused this long (one DNS lookup per host, not per send).
GUARD_TTL_SECONDS = 5.0


def next_delay(failed_tries: int) -> timedelta | None:
    """How long to wait after ``failed_tries`` failed tries; ``None`` when the delivery is dead."""
    if failed_tries < 1:
        raise ValueError("failed_tries starts at 1")
    return RETRY_DELAYS[failed_tries - 1] if failed_tries <= len(RETRY_DELAYS) else None


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
    secrets: tuple[Webhook, ...] = field(default=(), repr=False)


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
    rows = await outbox.lease_due(container.db, now, leased_until, limit)
    # Each client's secrets are decrypted once per batch, not once per delivery.
    signers: dict[tuple[str, str, str | None, datetime | None], tuple[Webhook, ...]] = {}
    claims = []
    for row in rows:
        skip = None if row.client_enabled else "client disabled"
        skip = skip or (None if row.webhook_url else "no webhook_url")
        secrets: tuple[Webhook, ...] = ()
        if skip is None:
            key = (row.client_id, row.secret_enc, row.previous_secret_enc, row.previous_secret_expires_at)
            if key not in signers:
                signers[key] = tuple(Webhook(s) for s in secrets_of(container.vault, now, *key[1:]))
            secrets = signers[key]
        claims.append(
            Claim(
                delivery_id=row.delivery_id,
                event_id=row.event_id,
                tries=row.tries,
                leased_until=leased_until,
                body=orjson.dumps(_envelope(row)),
                url=row.webhook_url,
                skip_reason=skip,
                secrets=secrets,
            )
        )
    return claims


def _envelope(row: DueRow) -> dict[str, object]:
    """The event as the feed shows it (``events.event_envelope``), from the leased row."""
    return {
        "id": row.event_id,
        "type": row.event_type,
        "created_at": row.event_created_at.isoformat(),
        "data": row.event_data,
    }


PrivateCheck = Callable[[str], Awaitable[str | None]]


async def send(container: Container, claim: Claim, *, private_check: PrivateCheck | None = None) -> TryResult:
    """POST one signed event; never raises for network trouble (it is a failed try).
    ``private_check`` (default :func:`url_guard.private_target`) says why a URL must not be called."""
    now = container.clock()
    if claim.skip_reason or claim.url is None:
        return TryResult(attempted_at=now, error=claim.skip_reason or "no webhook_url", retryable=False)
    if not container.settings.private_webhooks_allowed:
        # DNS may have changed since the URL was configured: never POST into a private network.
        problem = await (private_check or url_guard.private_target)(claim.url)
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
        error = f"{type(exc).__name__}: {exc}"[:500].replace("\x00", "\ufffd")
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
    # PostgreSQL text cannot hold NUL: one such answer must not fail the whole group's write.
    return bytes(buffer[:limit]).decode("utf-8", "replace").replace("\x00", "\ufffd")


class _GuardCache:
    """:func:`url_guard.private_target` per host, remembered for :data:`GUARD_TTL_SECONDS`."""

    def __init__(self) -> None:
        self._verdicts: dict[str, tuple[float, str | None]] = {}

    async def __call__(self, url: str) -> str | None:
        host = httpx.URL(url).host
        cached = self._verdicts.get(host)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        problem = await url_guard.private_target(url)
        self._verdicts[host] = (time.monotonic() + GUARD_TTL_SECONDS, problem)
        return problem


def _settlement(claim: Claim, result: TryResult, now: datetime) -> tuple[str, Settlement]:
    """The outcome label of a try and what to write (the row's new values apply only if the
    lease is still ours)."""
    status, next_at, delivered_at, error = "pending", None, None, result.error
    if result.ok:
        outcome, status, delivered_at, error = "delivered", "delivered", now, None
    else:
        delay = next_delay(claim.tries) if result.retryable else None
        if delay is None:
            outcome, status = "dead", "dead"
        else:
            outcome, next_at = "retry", now + delay
    return outcome, Settlement(
        delivery_id=claim.delivery_id,
        tries=claim.tries,
        leased_until=claim.leased_until,
        status=status,
        next_attempt_at=next_at,
        delivered_at=delivered_at,
        status_code=result.status_code,
        error=error,
        attempted_at=result.attempted_at,
        latency_ms=result.latency_ms,
        response_body=result.response_body,
    )


async def record(container: Container, claim: Claim, result: TryResult) -> str:
    """Log the try and settle the row if the lease is still ours; returns the outcome label."""
    [outcome] = await record_batch(container, [(claim, result)])
    return outcome


async def record_batch(container: Container, tries: Sequence[tuple[Claim, TryResult]]) -> list[str]:
    """:func:`record` for many tries in one transaction: one attempt-log row per try, and each
    row settled by a compare-and-set on its own lease (``attempts`` and ``next_attempt_at``), so a
    worker whose lease expired still changes nothing. Returns the outcome of each try."""
    if not tries:
        return []
    now = container.clock()
    planned = [_settlement(claim, result, now) for claim, result in tries]
    settled = await outbox.settle(container.db, [settlement for _, settlement in planned])
    outcomes = []
    counter = container.metrics.webhooks
    for (claim, result), (outcome, _) in zip(tries, planned, strict=True):
        if claim.delivery_id not in settled:
            outcome = "stale"
        outcomes.append(outcome)
        counter.labels(outcome).inc()
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


class _GroupRecorder:
    """Group commit: a try's result is recorded as soon as it is known (a worker killed
    mid-batch must not send an answered event again), and results that arrive while a write is
    running share the next one (:func:`record_batch`: one transaction for all of them)."""

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
    """The worker job: claim a batch, keep :data:`CONCURRENCY` sends in flight, record each
    result as it comes, and claim the next batch (up to :data:`MAX_BATCHES`) while the previous
    one is still being sent. Returns the rows claimed (0 when nothing was due)."""
    first = await claim_due(container, limit=limit)
    if not first:
        return 0
    concurrency = max(1, CONCURRENCY)
    queue: deque[Claim] = deque(first)
    state = {"claimed": len(first), "batches": 1, "more": len(first) == limit}
    refill: asyncio.Task[None] | None = None
    recorder = _GroupRecorder(container)
    guard = _GuardCache()
    margin = timedelta(seconds=SEND_TIMEOUT_SECONDS + 5)

    async def claim_next() -> None:
        # A claim must be answered before its lease runs out, even if every send takes the full
        # timeout: the sends in flight take one round, each CONCURRENCY unsent claims one more.
        rounds = int(LEASE.total_seconds() // SEND_TIMEOUT_SECONDS) - 2
        wanted = min(limit, rounds * concurrency - len(queue))
        try:
            batch = await claim_due(container, limit=wanted) if wanted > 0 else []
        except Exception:
            log.exception("webhook claim failed")
            batch = []
        queue.extend(batch)
        state["claimed"] += len(batch)
        state["batches"] += 1
        state["more"] = 0 < wanted == len(batch) and state["batches"] < MAX_BATCHES

    def maybe_refill() -> None:
        nonlocal refill
        if state["more"] and (refill is None or refill.done()) and len(queue) <= concurrency:
            refill = asyncio.create_task(claim_next())

    async def sender() -> None:
        while True:
            maybe_refill()
            if not queue:
                if refill is None or refill.done():
                    return
                await asyncio.shield(refill)
                continue
            claim = queue.popleft()
            if container.clock() > claim.leased_until - margin:
                # Never happens with sane settings; sending now could outlive the lease. The row
                # stays leased and is tried again when the lease runs out.
                log.warning("webhook claim too old to send", extra={"delivery_id": claim.delivery_id})
                continue
            try:
                result = await send(container, claim, private_check=guard)
                await recorder.record(claim, result)
            except Exception as exc:
                # The lease runs out and the row is tried again; nothing is lost.
                log.error(
                    "webhook try failed to complete",
                    extra={"delivery_id": claim.delivery_id, "error": type(exc).__name__},
                )

    senders = concurrency if state["more"] else min(concurrency, len(first))
    try:
        await asyncio.gather(*(sender() for _ in range(senders)))
    finally:
        if refill is not None and not refill.done():
            refill.cancel()
    return state["claimed"]
