"""Payments: read, list, switch gateway, cancel, paid offline (create: app.services.payments.create)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from app.container import Container
from app.domain import transitions as T
from app.errors import Conflict, NotFound
from app.models import Payment
from app.schemas.payments import OfflineCreate
from app.services.access.auth import Principal
from app.services.catalogue.gateway_accounts import adapter_for, resolve_account
from app.services.notifications.events import emit_event
from app.services.payments.attempts import (
    open_attempt,
    start_checkout,
)
from app.services.payments.create import create_payment as create_payment  # the route's entry point
from app.services.payments.create import field_error
from app.services.payments.views import (
    load_payment_resource,
    load_visible_payment_resource,
)
from app.stores import payments as store
from app.stores import retry_transient
from app.stores.transitions import apply, lock_payment


class InvalidState(Conflict):
    code, title = "invalid_state", "Invalid state"


async def _scoped_payment(session: AsyncSession, principal: Principal, payment_id: str) -> Payment:
    row = await store.with_agency_path(session, payment_id)
    if row is None or not principal.covers(row.path):
        raise NotFound("No such payment.")
    payment: Payment = row.Payment
    return payment


async def get_payment(container: Container, principal: Principal, payment_id: str) -> dict[str, Any]:
    async with container.db.session() as session:
        resource = await load_visible_payment_resource(
            session, payment_id, container.settings.public_base_url, principal.covers
        )
    if resource is None:
        raise NotFound("No such payment.")
    return resource


def _encode_cursor(created_at: datetime, payment_id: str) -> str:
    raw = orjson.dumps([created_at.isoformat(), payment_id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        stamp, payment_id = orjson.loads(base64.urlsafe_b64decode(padded))
        return datetime.fromisoformat(stamp).astimezone(UTC), str(payment_id)
    except (ValueError, TypeError, orjson.JSONDecodeError) as exc:
        raise field_error("cursor", "malformed cursor") from exc


async def list_payments(
    container: Container,
    principal: Principal,
    *,
    dossier_code: str | None,
    status: str | None,
    created_from: datetime | None,
    created_to: datetime | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first, cursor-paginated, only the client's agencies."""
    filters = store.ListFilter(
        agency_paths=tuple(principal.agency_paths),
        dossier_code=dossier_code,
        status=status,
        created_from=created_from,
        created_to=created_to,
        after=_decode_cursor(cursor) if cursor else None,
    )
    async with container.db.session() as session:
        if not principal.agency_paths:
            return [], None
        rows = await store.page_ids(session, filters, limit + 1)
        page = rows[:limit]
        data = [
            await load_payment_resource(session, row.id, container.settings.public_base_url) for row in page
        ]
    next_cursor = _encode_cursor(page[-1].created_at, page[-1].id) if len(rows) > limit else None
    return data, next_cursor


async def add_attempt(
    container: Container,
    principal: Principal | None,
    payment_id: str,
    provider: str,
    *,
    client_ip: str,
    locale: str = "vi",
) -> dict[str, Any]:
    """Open an attempt at another gateway (switch gateway); ``principal`` None = hosted page."""
    now = container.clock()
    async with container.db.transaction() as session:
        if principal is not None:
            await _scoped_payment(session, principal, payment_id)
        # Lock order: the payment first; its status is then read under the lock.
        locked = await lock_payment(session, payment_id)
        if locked is None:
            raise NotFound("No such payment.")
        payment = locked
        if payment.status not in T.SWITCH_GATEWAY.from_states:
            raise InvalidState(
                f"The payment is {payment.status}; only a pending payment takes a new attempt."
            )
        if payment.expires_at <= now:
            raise InvalidState("The payment has expired.")
        adapter = adapter_for(provider)
        if payment.amount < adapter.min_amount or (
            adapter.max_amount is not None and payment.amount > adapter.max_amount
        ):
            raise field_error("provider", f"the amount is outside {provider}'s limits")
        agency = await store.agency_of(session, payment)
        account = await resolve_account(session, agency.path, provider)
        attempt = open_attempt(session, payment, account, now)
        await apply(session, T.SWITCH_GATEWAY, payment.id, provider=provider, now=now)
    await start_checkout(container, attempt.id, client_ip=client_ip, locale=locale)
    async with container.db.session() as session:
        return await load_payment_resource(session, payment_id, container.settings.public_base_url)


async def _finish_pending(
    container: Container,
    principal: Principal,
    payment_id: str,
    transition: T.Transition,
    params: dict[str, Any],
    *,
    refusal: str,
) -> dict[str, Any]:
    """Apply ``transition`` to a pending payment (compare-and-set: it locks the payment row first),
    stop its pending attempts and emit the transition's event with the new resource, in one
    transaction. Attempts in ``unknown`` stay for the resolver: a late success is still accepted."""
    return await retry_transient(
        lambda: _finish_pending_once(container, principal, payment_id, transition, params, refusal=refusal)
    )


async def _finish_pending_once(
    container: Container,
    principal: Principal,
    payment_id: str,
    transition: T.Transition,
    params: dict[str, Any],
    *,
    refusal: str,
) -> dict[str, Any]:
    now = container.clock()
    async with container.db.transaction() as session:
        payment = await _scoped_payment(session, principal, payment_id)
        if not await apply(session, transition, payment.id, **params, now=now):
            current = await store.status_of(session, payment.id)
            raise InvalidState(f"The payment is {current}; only a pending payment {refusal}.")
        for attempt_id in await store.attempt_ids(session, payment.id, T.ATTEMPT_STOP.from_states):
            await apply(session, T.ATTEMPT_STOP, attempt_id, now=now)
        data = await load_payment_resource(session, payment.id, container.settings.public_base_url)
        assert transition.event is not None
        await emit_event(
            session,
            type=transition.event,
            client_id=payment.client_id,
            payment_id=payment.id,
            data=data,
            now=now,
        )
    return data


async def cancel_payment(container: Container, principal: Principal, payment_id: str) -> dict[str, Any]:
    return await _finish_pending(container, principal, payment_id, T.CANCEL, {}, refusal="can be cancelled")


async def record_offline(
    container: Container, principal: Principal, payment_id: str, body: OfflineCreate
) -> dict[str, Any]:
    """A payment collected at the counter: paid, not online (it counts so in reports)."""
    paid_at = body.paid_at.astimezone(UTC)
    offline = {"method": body.method, "paid_at": paid_at.isoformat(), "receipt_number": body.receipt_number}
    return await _finish_pending(
        container,
        principal,
        payment_id,
        T.PAY_OFFLINE,
        {"offline": offline, "paid_at": paid_at},
        refusal="can be recorded as paid offline",
    )
