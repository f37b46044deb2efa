"""Inbound callbacks: the IPN path's two statements.

1. :data:`STORE_AND_READ` (autocommit) stores the raw callback — committed before anything acts
   on it — and, in the same round trip, reads the gateway account it names and, by the reference
   the request carries, the attempt, its payment and everything the payment is read as
   (``app.stores.payments``), with a fingerprint of the payment and its attempts.
2. :data:`APPLY_SUCCESSES` applies the declared transitions ``ATTEMPT_SUCCEED`` and ``PAY_ONLINE``
   (their SET lists, from-states and event are rendered from the declarations) to a batch of one
   client's callbacks, and only where both took: the event, its outbox row and the callback's
   verdict — one statement, one transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain import transitions as T
from app.models import Agency, Attempt, InboundCallback, Payment, ProviderAccount
from app.stores import payments as payment_reads
from app.stores.transitions import render_guard, render_set

_FINGERPRINT = f"md5(ROW(p.*)::text || ({payment_reads.ATTEMPTS_ARRAY})::text)"

# $1..$9: the raw callback; $10: the reference it names (NULL when none), stored with it so that the
# verdict's update changes no indexed column; $2 is also the account.
STORE_AND_READ = f"""
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
RESOURCE_AT = 8  # where payment_reads' columns start in a row of STORE_AND_READ

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
APPLY_SUCCESSES = f"""
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
       -- since the check): fail the statement so that none of it commits; the general path decides.
       CASE WHEN a.n > b.n THEN 1 / (b.n - b.n) END
FROM (SELECT count(*) AS n FROM att) a CROSS JOIN (SELECT count(*) AS n FROM pay) b
LEFT JOIN pay ON true
"""  # noqa: S608 (constants only)


# --- The general path (ORM session, in the service's transaction) ---------------------------


async def store_raw(session: AsyncSession, values: dict[str, Any]) -> tuple[int, ProviderAccount | None]:
    """Insert the raw callback and read the gateway account it names."""
    row = InboundCallback(**values)
    session.add(row)
    await session.flush()
    account = await session.get(ProviderAccount, values["provider_account_id"])
    return row.id, account


async def record(session: AsyncSession, callback_id: int, **values: Any) -> None:
    """Record what processing concluded on the stored callback."""
    await session.execute(update(InboundCallback).where(InboundCallback.id == callback_id).values(**values))


async def attempt_by_reference(session: AsyncSession, reference: str, account_id: str) -> Attempt | None:
    """The attempt our ``reference`` names at this gateway account."""
    attempt: Attempt | None = await session.scalar(
        select(Attempt).where(Attempt.reference == reference, Attempt.provider_account_id == account_id)
    )
    return attempt


async def attempt_and_token(session: AsyncSession, reference: str, account_id: str) -> Any:
    """(Attempt, checkout_token of its payment) for a browser return, or None."""
    return (
        await session.execute(
            select(Attempt, Payment.checkout_token)
            .join(Payment, Payment.id == Attempt.payment_id)
            .where(Attempt.reference == reference, Attempt.provider_account_id == account_id)
        )
    ).first()


async def check_soon(session: AsyncSession, attempt_id: str, now: datetime) -> None:
    """Ask the resolver to query this attempt's gateway now (a hint, not a transition)."""
    await session.execute(update(Attempt).where(Attempt.id == attempt_id).values(next_check_at=now))


async def payment_client(session: AsyncSession, payment_id: str) -> str:
    client_id: str = (
        await session.execute(select(Payment.client_id).where(Payment.id == payment_id))
    ).scalar_one()
    return client_id


async def account_and_agency_path(
    session: AsyncSession, account_id: str
) -> tuple[ProviderAccount | None, str | None]:
    """The gateway account a callback names and its agency's path (None, None when unknown)."""
    account = await session.get(ProviderAccount, account_id)
    if account is None:
        return None, None
    path: str | None = await session.scalar(select(Agency.path).where(Agency.id == account.agency_id))
    return account, path


# --- Notifications kept for review (unmatched credits) ------------------------------------------


async def needing_review(
    session: AsyncSession, *, include_resolved: bool, limit: int
) -> list[InboundCallback]:
    """Callbacks kept for an operator, newest first (only the unresolved unless ``include_resolved``)."""
    stmt = select(InboundCallback).where(InboundCallback.needs_review.is_(True))
    if not include_resolved:
        stmt = stmt.where(InboundCallback.resolved_at.is_(None))
    return list((await session.scalars(stmt.order_by(InboundCallback.id.desc()).limit(limit))).all())


async def get(session: AsyncSession, callback_id: int) -> InboundCallback | None:
    return await session.get(InboundCallback, callback_id)


async def resolve(session: AsyncSession, row: InboundCallback, now: datetime, note: str) -> bool:
    """Mark a kept callback resolved with ``note`` unless it already was (compare-and-set); on
    success ``row`` is refreshed."""
    resolved = await session.execute(
        update(InboundCallback)
        .where(InboundCallback.id == row.id, InboundCallback.resolved_at.is_(None))
        .values(resolved_at=now, resolution_note=note)
    )
    if not resolved.rowcount:  # type: ignore[attr-defined]
        return False
    await session.refresh(row)
    return True
