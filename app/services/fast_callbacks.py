"""The callback pipeline on PostgreSQL in two statements (the common case: a verified success for
a pending attempt of a pending payment).

1. One autocommit statement stores the raw callback (committed before anything acts on it) and,
   in the same round trip, reads the gateway account it names and — by the reference the
   request carries — the attempt, its payment and everything the payment resource is rendered
   from (``payment_reads``). The reference is known before this statement because the request
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

import weakref
from dataclasses import dataclass, replace
from datetime import UTC
from typing import Any

import asyncpg

from app.adapters.base import AckVerdict, InboundRequest, Notification, Outcome, Reply
from app.container import Container
from app.db import Database
from app.ids import new_id
from app.models import ProviderAccount
from app.services import callbacks, payment_reads
from app.services.event_feed import stream_lock_key

MAX_CACHED_ACCOUNTS = 1_000
# The attempt statuses a verified success may move from (transitions._apply_success).
_SUCCESS_FROM = ("pending", "unknown", "failed", "expired", "cancelled")

_FINGERPRINT = f"md5(ROW(p.*)::text || ({payment_reads.ATTEMPTS_ARRAY})::text)"

# $1..$9: the raw callback; $10: the reference (NULL when unknown); $2 is also the account.
_STORE_AND_READ = f"""
WITH cb AS (
    INSERT INTO inbound_callbacks (provider, provider_account_id, kind, method, query_string, headers,
                                   body, remote_addr, received_at, needs_review)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, false)
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

# The success transition. $1 payment, $2 fingerprint, $3 attempt, $4 paid_at (= completed_at),
# $5 now, $6 provider transaction id (NULL: keep), $7 lock key, $8 event id, $9 event data,
# $10 callback id, $11 reference, $12 amount, $13 reply status, $14 reply body, $15 processed_at.
_APPLY_SUCCESS = f"""
WITH chk AS (
    SELECT {_FINGERPRINT} = $2 AS same FROM payments p WHERE p.id = $1
), att AS (
    UPDATE attempts SET status = 'succeeded', completed_at = $4, updated_at = $5, next_check_at = NULL,
                        failure_code = NULL, failure_message = NULL,
                        provider_transaction_id = COALESCE($6, provider_transaction_id)
    WHERE id = $3 AND status IN ('pending', 'unknown', 'failed', 'expired', 'cancelled')
      AND (SELECT same FROM chk)
    RETURNING payment_id
), pay AS (
    UPDATE payments SET status = 'succeeded', succeeded_attempt_id = $3, channel = 'online',
                        paid_at = $4, updated_at = $5
    WHERE id = (SELECT payment_id FROM att) AND status = 'pending'
    RETURNING id, client_id
), lk AS (
    SELECT pg_advisory_xact_lock($7) AS locked FROM pay
), ev AS (
    INSERT INTO events (id, type, client_id, payment_id, data, created_at)
    SELECT $8, 'payment.succeeded', pay.client_id, pay.id, $9, $5 FROM pay, lk
    RETURNING id, client_id
), outbox AS (
    INSERT INTO webhook_deliveries (event_id, client_id, status, attempts, next_attempt_at, created_at)
    SELECT ev.id, c.id, 'pending', 0, $5, $5 FROM ev JOIN clients c ON c.id = ev.client_id
    WHERE c.webhook_url IS NOT NULL AND c.webhook_url <> ''
    RETURNING id
), stored AS (
    UPDATE inbound_callbacks SET verified = true, verdict = 'accepted', attempt_id = $3, needs_review = false,
                                 reference = $11, amount = $12, outcome = 'succeeded',
                                 response_status = $13, response_body = $14, processed_at = $15
    WHERE id = $10 AND EXISTS (SELECT 1 FROM pay)
    RETURNING id
)
SELECT a.n, b.n,
       -- The attempt changed but the payment did not (a cancel or another payment won the race
       -- since the check): fail the statement so that none of it commits; the ORM path decides.
       CASE WHEN a.n > b.n THEN 1 / (b.n - b.n) END
FROM (SELECT count(*) AS n FROM att) a, (SELECT count(*) AS n FROM pay) b
"""  # noqa: S608 (constants only)


@dataclass(frozen=True)
class _CachedAccount:
    provider: str
    credentials_enc: str
    settings: dict[str, Any]
    loaded: callbacks.Loaded


_ACCOUNTS: weakref.WeakKeyDictionary[Database, dict[str, _CachedAccount]] = weakref.WeakKeyDictionary()


def _accounts(db: Database) -> dict[str, _CachedAccount]:
    cache = _ACCOUNTS.get(db)
    if cache is None:
        cache = _ACCOUNTS[db] = {}
    return cache


def forget_accounts(db: Database) -> None:
    _accounts(db).clear()


async def handle_callback(
    container: Container,
    pool: asyncpg.Pool,
    provider: str,
    account_id: str,
    inbound: InboundRequest,
    remote: str | None,
) -> Reply:
    cache = _accounts(container.db)
    cached = cache.get(account_id)
    note: Notification | None = None
    if cached is not None and cached.provider == provider:
        note = callbacks.parse_callback(cached.loaded, inbound)
    reference = note.reference if note is not None and note.verified else None
    # One pooled connection for both statements (one checkout and one reset instead of two);
    # given back before the ORM path, which never needs it.
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
            reply = await _apply_success(container, conn, provider, callback_id, loaded, note, record)
            if reply is not None:
                return reply
    return await callbacks.after_store(container, provider, account_id, callback_id, loaded, inbound, note)


async def _apply_success(
    container: Container,
    conn: asyncpg.Connection,
    provider: str,
    callback_id: int,
    loaded: callbacks.Loaded,
    note: Notification,
    record: Any,
) -> Reply | None:
    """The common case in one statement; None when it does not apply or changed nothing."""
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
    if rows.payment.status != "pending":
        return None
    now = container.clock()
    paid_at = note.paid_at or now
    transaction_id = note.provider_transaction_id or None
    # The resource as it will read once the transition commits (what the ORM path renders).
    rows.payment = replace(
        rows.payment,
        status="succeeded",
        succeeded_attempt_id=attempt_id,
        channel="online",
        paid_at=paid_at.astimezone(UTC),
        updated_at=now.astimezone(UTC),
    )
    rows.attempts = [
        replace(
            a,
            status="succeeded",
            failure_code=None,
            provider_transaction_id=transaction_id or a.provider_transaction_id,
        )
        if a.id == attempt_id
        else a
        for a in rows.attempts
    ]
    data = rows.render(container.settings.public_base_url)
    reply = loaded.adapter.acknowledge(loaded.account, note, AckVerdict.accepted)
    stored = callbacks.reply_values(container, reply)
    try:
        result = await conn.fetchrow(
            _APPLY_SUCCESS,
            rows.payment.id,
            fingerprint,
            attempt_id,
            paid_at,
            now,
            transaction_id,
            stream_lock_key(rows.payment.client_id),
            new_id("evt"),
            data,
            callback_id,
            note.reference,
            note.amount,
            stored["response_status"],
            stored["response_body"],
            stored["processed_at"],
        )
    except (asyncpg.DivisionByZeroError, asyncpg.DeadlockDetectedError):
        return None  # nothing of it committed; the ORM path sees the race's outcome
    assert result is not None
    if result[1] != 1:
        return None  # changed nothing: already processed, or changed since it was read
    callbacks.log_processed(container, provider, AckVerdict.accepted, "succeeded", note)
    return reply
