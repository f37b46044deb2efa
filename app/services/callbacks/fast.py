"""The callback pipeline (IPN): the route's entry point, and the common case in two statements
(a verified success for a pending attempt of a pending payment). The statements are in
``app.stores.callbacks``.

1. One autocommit statement stores the raw callback (committed before anything acts on it) and,
   in the same round trip, reads the gateway account it names and — by the reference the
   request carries — the attempt, its payment and everything the payment is read as
   (``app.stores.payments``). The reference is known before this statement because the request
   was parsed first with the account's cached credentials: parsing is pure (it verifies and
   reads; nothing is acted upon until the raw row is committed). The cache (on the container)
   holds the decrypted account keyed by its ciphertext and settings, and the statement returns
   the account's current row: an entry that no longer matches is replaced and the request is
   parsed again.
2. After the verdict is known in Python, one statement applies the declared transitions
   ``ATTEMPT_SUCCEED`` and ``PAY_ONLINE`` — locking the payment before its attempt, the one lock
   order — and only when both took: takes the client's event-stream advisory lock, inserts the
   event and its outbox row (only when the client has a webhook URL) and records the verdict and
   reply on the stored callback. One statement is one transaction: all of it commits, or none.
   The event's data is the payment rendered from the rows of step 1 with the same declared
   values applied; the statement first checks, under the payment's lock, that the payment and its
   attempts are still exactly as read (a fingerprint), else it changes nothing.

Everything else — unknown account or reference, bad signature, amount mismatch, failures, a
duplicate or second payment, late successes, a lost race — is decided by
``callbacks.after_store`` (one transaction with the same declared transitions, the same lock
order) after the same raw store.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

import asyncpg
import orjson

from app.adapters.base import AckVerdict, InboundRequest, Notification, Outcome, Reply
from app.container import Container
from app.domain import transitions as T
from app.ids import new_id
from app.models import ProviderAccount
from app.services.callbacks import pipeline as callbacks
from app.services.payments.views import payment_resource
from app.stores import callbacks as store
from app.stores import payments as payment_reads
from app.stores import pool_of
from app.stores.events import stream_lock_key

log = logging.getLogger("paybridge.callbacks")

MAX_CACHED_ACCOUNTS = 1_000
_SUCCESS_FROM = T.ATTEMPT_SUCCEED.from_states
_PAID_FROM = T.PAY_ONLINE.from_states

MAX_BATCH = 64


@dataclass(frozen=True)
class _CachedAccount:
    provider: str
    credentials_enc: str
    settings: dict[str, Any]
    loaded: callbacks.Loaded


def _accounts(container: Container) -> dict[str, _CachedAccount]:
    cache: dict[str, _CachedAccount] = container.cache("ipn.accounts", dict)
    return cache


def forget_accounts(container: Container) -> None:
    _accounts(container).clear()


async def handle_callback(
    container: Container, provider: str, account_id: str, inbound: InboundRequest, remote: str | None
) -> Reply:
    """A gateway's callback (IPN): stored raw, verified, applied once, answered in its format."""
    pool = await pool_of(container.db)
    cache = _accounts(container)
    cached = cache.get(account_id)
    note: Notification | None = None
    if cached is not None and cached.provider == provider:
        try:
            note = callbacks.parse_callback(cached.loaded, inbound)
        except Exception:
            note = None  # parsed again after the raw store, where the general path reports it
    reference = note.reference if note is not None and note.verified else None
    async with pool.acquire() as conn:
        record = await conn.fetchrow(
            store.STORE_AND_READ,
            provider,
            account_id,
            "ipn",
            inbound.method,
            inbound.query_string,
            callbacks.headers_for_audit(dict(inbound.headers)),
            inbound.body,
            remote,
            container.clock(),
            reference,
        )
        assert record is not None  # the INSERT always yields its row
        callback_id: int = record[0]
        acc_provider, credentials_enc, settings = record[1], record[2], record[3]
        loaded: callbacks.Loaded | None = None
        if acc_provider == provider:
            if (
                cached is not None
                and cached.provider == acc_provider
                and cached.credentials_enc == credentials_enc
                and cached.settings == settings
            ):
                loaded = cached.loaded
            else:
                row = ProviderAccount(
                    id=account_id, provider=acc_provider, credentials_enc=credentials_enc, settings=settings
                )
                loaded = callbacks.present_account(container, provider, row)
                assert loaded is not None
                if len(cache) >= MAX_CACHED_ACCOUNTS:
                    cache.clear()
                cache[account_id] = _CachedAccount(acc_provider, credentials_enc, settings, loaded)
                note = None  # parsed with other credentials (or not at all): parse again
    if loaded is not None and note is not None and record[4] is not None:
        reply = await _apply_success(container, pool, provider, callback_id, loaded, note, record)
        if reply is not None:
            return reply
    return await callbacks.after_store(container, provider, account_id, callback_id, loaded, inbound, note)


async def _apply_success(
    container: Container,
    pool: asyncpg.Pool,
    provider: str,
    callback_id: int,
    loaded: callbacks.Loaded,
    note: Notification,
    record: Any,
) -> Reply | None:
    """The common case, committed with the client's other ready successes; None when it does not
    apply or changed nothing (the general path then decides)."""
    attempt_id, attempt_status, attempt_amount, fingerprint = record[4], record[5], record[6], record[7]
    if not (
        note.verified
        and note.outcome is Outcome.succeeded
        and note.amount is not None
        and note.amount == attempt_amount
        and attempt_status in _SUCCESS_FROM
    ):
        return None
    rows = payment_reads.rows_from_record(record, store.RESOURCE_AT)
    if rows.payment.status not in _PAID_FROM:
        return None
    now = container.clock()
    paid_at = note.paid_at or now
    transaction_id = note.provider_transaction_id or None
    # The resource as it reads once the statement commits: the declared transitions applied to
    # the rows as read (the statement changes nothing unless they are still exactly so).
    paid = T.PAY_ONLINE.values({"attempt_id": attempt_id, "paid_at": paid_at, "now": now})
    won = T.ATTEMPT_SUCCEED.values(
        {"paid_at": paid_at, "now": now, "provider_transaction_id": transaction_id}
    )
    rows.payment = _applied(rows.payment, paid)
    rows.attempts = [_applied(a, won) if a.id == attempt_id else a for a in rows.attempts]
    data = payment_resource(rows, container.settings.public_base_url)
    reply = loaded.adapter.acknowledge(loaded.account, note, AckVerdict.accepted)
    stored = callbacks.reply_values(container, reply)
    success = _Success(
        attempt_id=attempt_id,
        payment_id=rows.payment.id,
        fingerprint=fingerprint,
        paid_at=paid_at,
        now=now,
        transaction_id=transaction_id,
        event_id=new_id("evt"),
        data=orjson.dumps(data).decode(),
        callback_id=callback_id,
        reference=note.reference,
        amount=note.amount,
        response_status=stored["response_status"],
        response_body=stored["response_body"],
        processed_at=stored["processed_at"],
        done=asyncio.get_running_loop().create_future(),
    )
    if not await _committer(container, rows.payment.client_id).submit(pool, success):
        return None
    callbacks.log_processed(container, provider, AckVerdict.accepted, "succeeded", note)
    return reply


_R = TypeVar("_R", payment_reads.PaymentRow, payment_reads.AttemptRow)


def _applied(row: _R, values: dict[str, Any]) -> _R:
    """``row`` with the columns it holds set to ``values`` (timestamps in UTC, as read back)."""
    held = {f.name for f in fields(row)}
    changes: dict[str, Any] = {
        k: v.astimezone(UTC) if isinstance(v, datetime) else v for k, v in values.items() if k in held
    }
    return replace(row, **changes)


@dataclass
class _Success:
    attempt_id: str
    payment_id: str
    fingerprint: str
    paid_at: datetime
    now: datetime
    transaction_id: str | None
    event_id: str
    data: str
    callback_id: int
    reference: str | None
    amount: int
    response_status: int
    response_body: str
    processed_at: datetime
    done: asyncio.Future[bool]


class _Committer:
    """Group commit of one client's success transitions.

    Every one takes the client's event-stream lock and holds it through its commit (WAL flush),
    so one client's transitions are serial however many arrive together. Successes that arrive
    while a batch is being written wait and go together in the next statement: one lock, one
    flush for all of them. Each caller learns whether its own transition took.
    """

    def __init__(self, client_id: str) -> None:
        self.key = stream_lock_key(client_id)
        self.queue: list[_Success] = []
        self.pool: asyncpg.Pool | None = None
        self.task: asyncio.Task[None] | None = None

    async def submit(self, pool: asyncpg.Pool, success: _Success) -> bool:
        self.queue.append(success)
        self.pool = pool
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._drain())
        return await asyncio.shield(success.done)

    async def _drain(self) -> None:
        while self.queue:
            batch: list[_Success] = []
            rest: list[_Success] = []
            attempts: set[str] = set()
            payments: set[str] = set()
            for item in self.queue:
                if (
                    len(batch) < MAX_BATCH
                    and item.attempt_id not in attempts
                    and item.payment_id not in payments
                ):
                    batch.append(item)
                    attempts.add(item.attempt_id)
                    payments.add(item.payment_id)
                else:
                    rest.append(item)  # the next batch (the same attempt twice: a duplicate)
            self.queue = rest
            assert self.pool is not None
            try:
                took = await self._write(self.pool, batch)
            except asyncio.CancelledError:
                for item in (*batch, *self.queue):
                    _settle(item, False)
                self.queue = []
                raise
            except Exception as exc:
                # One statement: nothing of it committed. Every callback of the batch goes down
                # the general path, which sees whatever won (a payment's CAS lost to a cancel is the
                # expected case: the guard fails the statement).
                for item in batch:
                    _settle(item, False)
                if isinstance(exc, asyncpg.DivisionByZeroError | asyncpg.DeadlockDetectedError):
                    log.info("batched callback transitions lost a race", extra={"batch": len(batch)})
                else:
                    log.exception("batched callback transitions failed", extra={"batch": len(batch)})
                continue
            for item in batch:
                _settle(item, item.attempt_id in took)

    async def _write(self, pool: asyncpg.Pool, batch: list[_Success]) -> set[str]:
        async with pool.acquire() as conn:
            rows = await conn.fetch(
                store.APPLY_SUCCESSES,
                [i.attempt_id for i in batch],
                [i.payment_id for i in batch],
                [i.fingerprint for i in batch],
                [i.paid_at for i in batch],
                [i.now for i in batch],
                [i.transaction_id for i in batch],
                [i.event_id for i in batch],
                [i.data for i in batch],
                [i.callback_id for i in batch],
                [i.reference for i in batch],
                [i.amount for i in batch],
                [i.response_status for i in batch],
                [i.response_body for i in batch],
                [i.processed_at for i in batch],
                self.key,
            )
        return {row[0] for row in rows if row[0] is not None}


def _settle(item: _Success, took: bool) -> None:
    if not item.done.done():
        item.done.set_result(took)


def _committer(container: Container, client_id: str) -> _Committer:
    committers: dict[str, _Committer] = container.cache("ipn.committers", dict)
    committer = committers.get(client_id)
    if committer is None:
        if len(committers) >= MAX_CACHED_ACCOUNTS:
            for idle in [
                k for k, c in committers.items() if not c.queue and (c.task is None or c.task.done())
            ]:
                del committers[idle]
        committer = committers[client_id] = _Committer(client_id)
    return committer
