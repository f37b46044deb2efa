"""The operator dashboard's reads and its session: signed, expiring session tokens, CSRF tokens,
recent payments, stuck attempts, dead webhook deliveries, unmatched bank credits and
reconciliation runs (the last two read through their own services).

Session token: ``<issued unix seconds>.<nonce>.<signature>``, the signature an HMAC-SHA256 under a
key derived from ``PAYBRIDGE_SECRET_KEY`` *and* the operator token, so rotating either ends every
session. Nothing secret travels in it; it only proves that someone presented the token. Each session
is also stored server-side (``operator_sessions``, keyed by the SHA-256 of its nonce): logging out
deletes it, and a token without its row is refused, so a saved copy of the cookie stops working.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from app.container import Container
from app.security import constant_time_equals
from app.services.after_payment import reconciliation
from app.services.callbacks import unmatched
from app.services.notifications import webhooks
from app.services.notifications.webhooks import DeliveryView
from app.stores import reports as store

SESSION_TTL = timedelta(hours=8)
STUCK_AFTER = timedelta(minutes=30)
LIST_LIMIT = 100
PAYMENT_STATUSES = ("pending", "succeeded", "partially_refunded", "refunded", "expired", "cancelled")


# ---------------------------------------------------------------------------- session


def _session_key(container: Container) -> bytes:
    settings = container.settings
    token_digest = hashlib.sha256(settings.admin_token.get_secret_value().encode()).digest()
    return hmac.new(
        settings.secret_key.get_secret_value().encode(),
        b"paybridge/operator-session/v1" + token_digest,
        "sha256",
    ).digest()


def _mac(key: bytes, message: str) -> str:
    digest = hmac.new(key, message.encode(), "sha256").digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def check_operator_token(container: Container, presented: str) -> bool:
    """Whether ``presented`` is the operator token (constant time; False when the token is unset)."""
    token = container.settings.admin_token.get_secret_value()
    return bool(token) and constant_time_equals(presented, token)


def _session_id(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


async def issue_session(container: Container) -> str:
    """A new session token, valid for :data:`SESSION_TTL`, stored server-side (expired sessions are
    purged on the way)."""
    now = container.clock()
    issued = int(now.timestamp())
    nonce = secrets.token_urlsafe(16)
    async with container.db.transaction() as session:
        await store.purge_operator_sessions(session, now)
        store.add_operator_session(
            session, _session_id(nonce), now, datetime.fromtimestamp(issued, now.tzinfo) + SESSION_TTL
        )
    payload = f"{issued}.{nonce}"
    return f"{payload}.{_mac(_session_key(container), payload)}"


async def verify_session(container: Container, token: str | None) -> str | None:
    """The session's nonce when ``token`` is ours, unexpired, not logged out and the operator API is
    on; else None."""
    nonce = _verify_token(container, token)
    if nonce is None:
        return None
    async with container.db.session() as session:
        expires_at = await store.operator_session_expiry(session, _session_id(nonce))
    if expires_at is None or expires_at <= container.clock():
        return None
    return nonce


async def end_session(container: Container, nonce: str) -> None:
    """Log out: the session's row goes, so its token (any copy of the cookie) is refused from now on."""
    async with container.db.transaction() as session:
        await store.end_operator_session(session, _session_id(nonce))


def _verify_token(container: Container, token: str | None) -> str | None:
    """The nonce when the token's signature and age hold (the server-side row is checked by the caller)."""
    if not token or not container.settings.admin_token.get_secret_value() or len(token) > 200:
        return None
    parts = token.split(".")
    if len(parts) != 3 or not parts[0].isdigit():
        return None
    payload = f"{parts[0]}.{parts[1]}"
    if not constant_time_equals(_mac(_session_key(container), payload), parts[2]):
        return None
    issued = int(parts[0])
    now = container.clock().timestamp()
    if not issued - 60 <= now < issued + SESSION_TTL.total_seconds():
        return None
    return parts[1]


def csrf_token(container: Container, nonce: str) -> str:
    """The CSRF token of a session (forms carry it; it is checked against the session cookie)."""
    return _mac(_session_key(container), "csrf:" + nonce)


def check_csrf(container: Container, nonce: str, presented: str) -> bool:
    return constant_time_equals(csrf_token(container, nonce), presented)


# ---------------------------------------------------------------------------- listings


@dataclass(frozen=True)
class PaymentFilters:
    status: str | None = None
    channel: str | None = None
    agency_code: str | None = None
    dossier_code: str | None = None
    provider: str | None = None


async def recent_payments(container: Container, filters: PaymentFilters) -> list[dict[str, Any]]:
    """The newest payments (at most :data:`LIST_LIMIT`), filtered; ``agency_code`` covers its subtree."""
    async with container.db.session() as session:
        path = None
        if filters.agency_code:
            path = await store.agency_path(session, filters.agency_code.upper())
            if path is None:
                return []
        rows = await store.recent_payments(
            session,
            status=filters.status,
            channel=filters.channel,
            dossier_code=filters.dossier_code,
            provider=filters.provider,
            under_path=path,
            limit=LIST_LIMIT,
        )
    return [
        {
            "id": p.id,
            "created_at": p.created_at,
            "agency_code": code,
            "agency_name": name,
            "dossier_code": p.dossier_code,
            "amount": p.amount,
            "status": p.status,
            "channel": p.channel,
            "provider": paid_with or p.provider,
            "exempt": p.exempt,
            "paid_at": p.paid_at,
        }
        for p, code, name, paid_with in rows
    ]


async def stuck_attempts(container: Container) -> list[dict[str, Any]]:
    """Attempts in ``unknown``, or ``pending`` for longer than :data:`STUCK_AFTER`, oldest first."""
    cutoff = container.clock() - STUCK_AFTER
    async with container.db.session() as session:
        rows = await store.stuck_attempts(session, cutoff, LIST_LIMIT)
    return [
        {
            "id": a.id,
            "payment_id": a.payment_id,
            "payment_status": payment_status,
            "agency_code": code,
            "provider": a.provider,
            "reference": a.reference,
            "amount": a.amount,
            "status": a.status,
            "created_at": a.created_at,
            "next_check_at": a.next_check_at,
            "check_count": a.check_count,
        }
        for a, payment_status, code in rows
    ]


async def dead_deliveries(container: Container) -> list[dict[str, Any]]:
    """Dead webhook deliveries, newest first, with the client's name."""
    views, _ = await webhooks.list_deliveries(
        container, client_id=None, status="dead", limit=LIST_LIMIT, cursor=None
    )
    async with container.db.session() as session:
        names = await store.client_names(session, {v.client_id for v in views})
    return [{**_delivery(v), "client_name": names.get(v.client_id, v.client_id)} for v in views]


def _delivery(view: DeliveryView) -> dict[str, Any]:
    return {
        "id": view.id,
        "event_id": view.event_id,
        "event_type": view.event_type,
        "client_id": view.client_id,
        "attempts": view.attempts,
        "last_status_code": view.last_status_code,
        "last_error": view.last_error,
        "created_at": view.created_at,
    }


async def redeliver(container: Container, event_id: str) -> DeliveryView:
    """Make a (dead) event's delivery due now: the operator API's redelivery, from the dashboard."""
    return await webhooks.redeliver(container, event_id)


async def unmatched_credits(container: Container) -> list[dict[str, Any]]:
    """Money we could not attribute (unknown reference, wrong amount, second credit), unresolved."""
    rows = await unmatched.list_unmatched(container, limit=LIST_LIMIT)
    return [{**row, "received_at": datetime.fromisoformat(row["received_at"])} for row in rows]


async def reconciliation_runs(container: Container) -> list[dict[str, Any]]:
    """The newest reconciliation runs (gateway files compared with our records)."""
    runs, _ = await reconciliation.list_runs(
        container, provider=None, day=None, limit=LIST_LIMIT, cursor=None
    )
    return [{**run, "created_at": datetime.fromisoformat(run["created_at"])} for run in runs]
