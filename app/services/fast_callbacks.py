"""The callback pipeline on PostgreSQL in two statements (the common case: a verified success for
a pending attempt of a pending payment).

1. One autocommit statement stores the raw callback (committed before anything acts on it) and,
   in the same round trip, reads the gateway account it names and — by the reference the
   request carries — the attempt, its payment and everything the payment resource is rendered
   from (``app.stores.payments``). The reference is known before this statement because the request
   was parsed first with the account's cached credentials: parsing is pure (it verifies and
   reads; nothing is acted upon until the raw row is committed). The cache holds the decrypted
   account keyed by its ciphertext and settings, and the statement returns the account's current
   row: an entry that no longer matches is replaced and the request is parsed again.
2. After the verdict is known in Python, one statement of data-modifying CTEs makes the same
   compare-and-sets as ``transitions.apply_outcome`` (attempt, then payment, same WHERE
   conditions), and only when both took: takes the client's event-stream advisory lock, inserts
   the event and its outbox row (only when the client has a webhook URL) and records the verdict
   and reply on the stored callback. One statement is one transaction: all of it commits, or
   none. The event's data is the payment resource rendered in Python from the rows of step 1
   with the transition applied; the statement first checks that the payment and its attempts
   are still exactly as read (a fingerprint), else it changes nothing.

Everything else — unknown account or reference, bad signature, amount mismatch, failures, a
duplicate or second payment, late successes, a lost race — goes down the ORM path
(``callbacks.after_store``) after the same raw store, exactly as on SQLite.
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
from app.services import callbacks
from app.services.payment_views import payment_resource
from app.stores import payments as payment_reads
from app.stores import pool_of
from app.stores.events import stream_lock_key
from app.stores.transitions import render_guard, render_set

log = logging.getLogger("paybridge.callbacks")

MAX_CACHED_ACCOUNTS = 1_000
_SUCCESS_FROM = T.ATTEMPT_SUCCEED.from_states
_PAID_FROM = T.PAY_ONLINE.from_states

_FINGERPRINT = f"md5(ROW(p.*)::text || ({payment_reads.ATTEMPTS_ARRAY})::text)"

# $1..$9: the raw callback; $10: the reference it names (NULL when none), stored with it so that the
# verdict's update changes no indexed column; $2 is also the account.
_STORE_AND_READ = f"""
WITH cb AS (
    INSERT INTO inbound_callbacks (provider, provider_account_id, kind, method, query_string, headers,
                                   body, remote_addr, received_at, needs_review, reference)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, false, $10)
    RETURNING id
), t AS (
    SELECT id, payment_id, status, amount FROM attempts
    WHERE reference = $10 AND provider_account_id = $2
)
SELECT cb.id, acc.provider, acc.credentials_enc, acc.settings,
       t.id, t.status, t.amount, {_FINGERPRINT},
       {payment_reads.PAYMENT_COLUMNS}, g.code, g.path, {payment_reads.ITEMS_ARRAY}, x.attempts
FROM cb
LEFT JOIN provider_accounts acc ON acc.id = $2
LEFT JOIN t ON true
LEFT JOIN payments p ON p.id = t.payment_id
LEFT JOIN agencies g ON g.id = p.agency_id
LEFT JOIN LATERAL (SELECT {payment_reads.ATTEMPTS_ARRAY} AS attempts) x ON p.id IS NOT NULL
"""  # noqa: S608 (constants only)
_RESOURCE_AT = 8  # where payment_reads' columns start in a row of _STORE_AND_READ

# The success transitions of one client's batch (group commit): one row of arrays per callback.
# $1 attempt ids, $2 payment ids, $3 fingerprints, $4 paid_at (= completed_at), $5 now,
# $6 provider transaction ids (NULL: keep), $7 event ids, $8 event data (JSON text),
# $9 callback ids, $10 references, $11 amounts, $12 reply statuses, $13 reply bodies,
# $14 processed_at; $15 the client's event-stream lock key. A batch never holds two callbacks
# for one attempt or one payment. (``= ANY($n)`` beside each join on the input: the planner cannot
# estimate ``unnest`` and would otherwise hash-join whole tables; with it, index scans.)
# The SET lists, from-states and event type are rendered from the declarations
# ``T.ATTEMPT_SUCCEED`` and ``T.PAY_ONLINE``.
# Lock order: ``chk`` locks each payment row (FOR NO KEY UPDATE, as an UPDATE would) before its
# attempt can be updated — an attempt row passes ``att``'s WHERE only once ``chk`` has produced
# (and locked) its payment — the order cancel, record-offline and expiry take too.
_ATTEMPT_PARAMS = {"paid_at": "i.paid_at", "now": "i.now", "provider_transaction_id": "i.transaction_id"}
_PAYMENT_PARAMS = {"attempt_id": "i.attempt_id", "paid_at": "i.paid_at", "now": "i.now"}
_APPLY_SUCCESSES = f"""
WITH input AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[],
                         $6::text[], $7::text[], $8::text[], $9::bigint[], $10::text[], $11::bigint[],
                         $12::int[], $13::text[], $14::timestamptz[])
        AS u(attempt_id, payment_id, fingerprint, paid_at, now, transaction_id, event_id, data,
             callback_id, reference, amount, response_status, response_body, processed_at)
), chk AS (
    SELECT i.attempt_id FROM input i JOIN payments p ON p.id = i.payment_id
    WHERE p.id = ANY($2::text[]) AND {_FINGERPRINT} = i.fingerprint
    FOR NO KEY UPDATE OF p
), att AS (
    UPDATE attempts t SET {render_set(T.ATTEMPT_SUCCEED, "t", _ATTEMPT_PARAMS)}
    FROM input i
    WHERE t.id = ANY($1::text[]) AND t.id = i.attempt_id AND {render_guard(T.ATTEMPT_SUCCEED, "t")}
      AND i.attempt_id IN (SELECT attempt_id FROM chk)
    RETURNING t.id
), pay AS (
    UPDATE payments p SET {render_set(T.PAY_ONLINE, "p", _PAYMENT_PARAMS)}
    FROM input i
    WHERE p.id = ANY($2::text[]) AND p.id = i.payment_id AND {render_guard(T.PAY_ONLINE, "p")}
      AND i.attempt_id IN (SELECT id FROM att)
    RETURNING p.id, p.client_id, i.attempt_id
), lk AS (
    SELECT pg_advisory_xact_lock($15) AS locked WHERE EXISTS (SELECT 1 FROM pay)
), ev AS (
    INSERT INTO events (id, type, client_id, payment_id, data, created_at)
    SELECT i.event_id, '{T.PAY_ONLINE.event}', pay.client_id, pay.id, i.data::jsonb, i.now
    FROM pay JOIN input i ON i.attempt_id = pay.attempt_id CROSS JOIN lk
    RETURNING id, client_id, created_at
), outbox AS (
    INSERT INTO webhook_deliveries (event_id, client_id, status, attempts, next_attempt_at, created_at)
    SELECT ev.id, c.id, 'pending', 0, ev.created_at, ev.created_at
    FROM ev JOIN clients c ON c.id = ev.client_id
    WHERE c.webhook_url IS NOT NULL AND c.webhook_url <> ''
    RETURNING id
), stored AS (
    UPDATE inbound_callbacks c SET verified = true, verdict = 'accepted', attempt_id = i.attempt_id,
                                   needs_review = false, reference = i.reference, amount = i.amount,
                                   outcome = 'succeeded', response_status = i.response_status,
                                   response_body = i.response_body, processed_at = i.processed_at
    FROM input i JOIN pay ON pay.attempt_id = i.attempt_id
    WHERE c.id = ANY($9::bigint[]) AND c.id = i.callback_id
    RETURNING c.id
)
SELECT pay.attempt_id,
       -- An attempt changed but its payment did not (a cancel or another payment won the race
       -- since the check): fail the statement so that none of it commits; the ORM path decides.
       CASE WHEN a.n > b.n THEN 1 / (b.n - b.n) END
FROM (SELECT count(*) AS n FROM att) a CROSS JOIN (SELECT count(*) AS n FROM pay) b
LEFT JOIN pay ON true
"""  # noqa: S608 (constants only)
MAX_BATCH = 64


@dataclass(frozen=True)
class _CachedAccount:
    provider: str
    credentials_enc: str
    settings: dict[str, Any]
    loaded: callbacks.Loaded


def _accounts(container: Container) -> dict[str, _CachedAccount]:
    cache: dict[str, _CachedAccount] = container.caches.setdefault("ipn.accounts", {})
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
            note = None  # parsed again after the raw store, where the ORM path reports it
    reference = note.reference if note is not None and note.verified else None
    async with pool.acquire() as conn:
        record = await conn.fetchrow(
            _STORE_AND_READ,
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
    apply or changed nothing (the ORM path then decides)."""
    attempt_id, attempt_status, attempt_amount, fingerprint = record[4], record[5], record[6], record[7]
    if not (
        note.verified
        and note.outcome is Outcome.succeeded
        and note.amount is not None
        and note.amount == attempt_amount
        and attempt_status in _SUCCESS_FROM
    ):
        return None
    rows = payment_reads.rows_from_record(record, _RESOURCE_AT)
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
                # the ORM path, which sees whatever won (a payment's CAS lost to a cancel is the
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
                _APPLY_SUCCESSES,
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
    committers: dict[str, _Committer] = container.caches.setdefault("ipn.committers", {})
    committer = committers.get(client_id)
    if committer is None:
        if len(committers) >= MAX_CACHED_ACCOUNTS:
            for idle in [
                k for k, c in committers.items() if not c.queue and (c.task is None or c.task.done())
            ]:
                del committers[idle]
        committer = committers[client_id] = _Committer(client_id)
    return committer
