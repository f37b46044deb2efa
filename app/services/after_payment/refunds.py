"""Refunds: full or partial, never more than what remains, through the gateway or by hand.

- T1 (one transaction, payment row locked): remaining = amount − refunded − reserved (refunds
  pending or unknown); a larger request is refused; the refund row is inserted ``pending``, which
  reserves its amount. Concurrent requests queue on the payment's row lock, so their sum never
  exceeds what was paid.
- The gateway's refund API is called with no transaction open. Gateways without one
  (:class:`NotSupported`) get a ``manual`` refund that waits for an operator's confirmation.
- T2 (one transaction): compare-and-set on the refund row; on success the payment's
  ``refunded_amount`` grows and its status moves to ``partially_refunded`` / ``refunded``; events
  ``refund.succeeded`` / ``refund.failed`` (and ``payment.refunded`` once fully refunded) commit
  with it. An ambiguous answer leaves the refund ``unknown`` for the refund resolver job.
- The jobs (``app.services.after_payment.refund_jobs``) resolve unknown refunds and refund in full the second
  payment of a bill paid twice (``duplicate_paid``); that money was never part of the bill, so
  it leaves the payment's own figures alone.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from app.adapters.base import (
    Capability,
    GatewayLogicalError,
    GatewayTechnicalError,
    NotSupported,
    RefundRequest,
    RefundResult,
    RefundStatus,
)
from app.container import Container
from app.domain import transitions as T
from app.domain.states import PAID, REFUND_OPEN, RefundMethod, RefundOrigin, RefundState
from app.errors import Conflict, NotFound, ProblemError
from app.ids import new_id, new_reference
from app.models import Payment, Refund
from app.services.access.auth import Principal
from app.services.callbacks.resolver import LEASE, next_check
from app.services.catalogue.gateway_accounts import adapter_for, present
from app.services.notifications.events import emit_event
from app.services.payments.attempts import attempt_ref
from app.services.payments.idempotency import (
    Claim,
    StoredResponse,
    mark_resource,
    request_fingerprint,
    run_idempotent,
)
from app.services.payments.views import load_payment_resource
from app.stores import refunds as store
from app.stores.transitions import apply, lock_payment

log = logging.getLogger("paybridge.refunds")

OPEN = REFUND_OPEN


class RefundExceedsRemaining(ProblemError):
    status, code, title = 422, "refund_exceeds_remaining", "Refund exceeds the remaining amount"


class RefundNotAllowed(Conflict):
    code, title = "refund_not_allowed", "Refund not allowed"


class RefundNotConfirmable(Conflict):
    code, title = "refund_not_confirmable", "Refund cannot be confirmed"


def refund_resource(refund: Refund, payment: Payment) -> dict[str, Any]:
    def ts(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": refund.id,
        "payment_id": refund.payment_id,
        "attempt_id": refund.attempt_id,
        "status": refund.status,
        "amount": refund.amount,
        "currency": "VND",
        "reason": refund.reason,
        "origin": refund.origin,
        "method": refund.method,
        "provider": refund.provider,
        "reference": refund.reference,
        "provider_refund_id": refund.provider_refund_id,
        "failure_code": refund.failure_code,
        "failure_message": refund.failure_message,
        "operator_note": refund.operator_note,
        "payment": {
            "status": payment.status,
            "amount": payment.amount,
            "refunded_amount": payment.refunded_amount,
        },
        "created_at": ts(refund.created_at),
        "updated_at": ts(refund.updated_at),
        "completed_at": ts(refund.completed_at),
    }


_load = store.load


async def _resource(container: Container, refund_id: str) -> dict[str, Any]:
    async with container.db.session() as session:
        return refund_resource(*await _load(session, refund_id))


async def _lock_payment(session: AsyncSession, container: Container, payment_id: str) -> Payment:
    payment = await lock_payment(session, payment_id)
    assert payment is not None  # a refund's payment is never deleted
    return payment


reserved_amount = store.reserved_amount


def refund_method(provider: str) -> str:
    return "gateway" if Capability.refund in adapter_for(provider).capabilities else "manual"


@dataclass(frozen=True)
class RefundAsk:
    amount: int
    reason: str


async def _reserve(
    container: Container, principal: Principal, payment_id: str, ask: RefundAsk, key: str, claim: Claim
) -> str:
    now = container.clock()
    async with container.db.transaction() as session:
        path = await store.payment_path(session, payment_id)
        if path is None or not principal.covers(path):
            raise NotFound("No such payment.")
        payment = await _lock_payment(session, container, payment_id)
        if payment.status not in PAID:
            raise RefundNotAllowed(f"Only a paid payment can be refunded; this one is {payment.status}.")
        if payment.succeeded_attempt_id is None:
            raise RefundNotAllowed("This payment was collected at the counter; refund it there.")
        attempt = await store.attempt(session, payment.succeeded_attempt_id)
        reserved = await reserved_amount(session, payment.id)
        remaining = payment.amount - payment.refunded_amount - reserved
        if ask.amount > remaining:
            raise RefundExceedsRemaining(
                f"At most {remaining} VND of this payment can still be refunded.",
                errors=[{"field": "amount", "message": f"must not exceed the remaining {remaining} VND"}],
                remaining=remaining,
            )
        method = refund_method(attempt.provider)
        refund_id = await store.insert(
            session,
            {
                "id": new_id("rfd"),
                "payment_id": payment.id,
                "attempt_id": attempt.id,
                "client_id": payment.client_id,
                "provider": attempt.provider,
                "provider_account_id": attempt.provider_account_id,
                "reference": new_reference(),
                "idempotency_key": key,
                "origin": RefundOrigin.client,
                "method": method,
                "amount": ask.amount,
                "full": ask.amount == attempt.amount and payment.refunded_amount == 0 and reserved == 0,
                "reason": ask.reason,
                "status": RefundState.pending,
                "wire": {},
                # Should this process die before the gateway answers, the resolver asks later.
                "next_check_at": now + LEASE if method == RefundMethod.gateway else None,
                "created_at": now,
                "updated_at": now,
            },
        )
        await mark_resource(session, claim.record_id, refund_id)
        return refund_id


async def create_refund(
    container: Container,
    principal: Principal,
    payment_id: str,
    ask: RefundAsk,
    *,
    idempotency_key: str | None,
    client_ip: str,
) -> StoredResponse:
    """Refund part or all of a paid payment, exactly once per Idempotency-Key."""
    fingerprint = request_fingerprint(
        "POST", f"/v1/payments/{payment_id}/refunds", {"amount": ask.amount, "reason": ask.reason}
    )

    async def handler(claim: Claim) -> tuple[int, bytes]:
        if claim.resource_id is not None:  # an earlier run reserved it and died; the resolver follows up
            refund_id = claim.resource_id
        else:
            refund_id = await _reserve(container, principal, payment_id, ask, str(idempotency_key), claim)
            try:
                await execute_refund(container, refund_id, client_ip=client_ip)
            except Exception:
                # The refund exists and holds its amount: answer with it (pending) rather than free
                # the key for a second refund; the resolver job asks the gateway later.
                log.exception("refund execution failed", extra={"refund_id": refund_id})
        return 201, orjson.dumps(await _resource(container, refund_id))

    return await run_idempotent(
        container,
        client_id=principal.client_id,
        scope="refunds.create",
        key=idempotency_key,
        fingerprint=fingerprint,
        handler=handler,
    )


async def get_refund(container: Container, principal: Principal, refund_id: str) -> dict[str, Any]:
    async with container.db.session() as session:
        row = await store.visible(session, refund_id)
        if row is None or not principal.covers(row.path):
            raise NotFound("No such refund.")
        return refund_resource(row.Refund, row.Payment)


async def _gateway_context(
    container: Container, refund_id: str, client_ip: str
) -> tuple[Refund, Any, RefundRequest] | None:
    async with container.db.session() as session:
        refund = await store.get(session, refund_id)
        if refund is None or refund.status not in OPEN or refund.method != RefundMethod.gateway:
            return None
        attempt = await store.attempt(session, refund.attempt_id)
        account = await store.account(session, refund.provider_account_id)
    if account is None:
        return None
    request = RefundRequest(
        refund_reference=refund.reference,
        attempt=attempt_ref(attempt),
        amount=refund.amount,
        full=refund.full,
        reason=refund.reason,
        requested_at=refund.created_at,
        client_ip=client_ip,
    )
    return refund, present(container, account), request


async def execute_refund(container: Container, refund_id: str, *, client_ip: str = "127.0.0.1") -> None:
    """Send a pending gateway refund (or ask about an open one) and record the answer."""
    context = await _gateway_context(container, refund_id, client_ip)
    if context is None:
        return
    refund, account, request = context
    adapter = adapter_for(refund.provider)
    asking = refund.check_count > 0 or refund.status == "unknown" or bool(refund.wire)
    started = asyncio.get_running_loop().time()
    label = "ok"
    try:
        call = (
            adapter.query_refund(
                account, request, {k: str(v) for k, v in refund.wire.items()}, container.http
            )
            if asking and Capability.refund_query in adapter.capabilities
            else adapter.refund(account, request, container.http)
        )
        result = await asyncio.wait_for(call, timeout=container.settings.gateway_timeout_seconds + 1)
    except NotSupported:
        await _to_manual(container, refund_id)
        return
    except GatewayLogicalError as exc:
        label = "declined"
        result = RefundResult(status=RefundStatus.failed, code=exc.code, message=exc.message)
    except (GatewayTechnicalError, TimeoutError) as exc:
        label = "error"
        log.info("refund call failed", extra={"provider": refund.provider, "error": type(exc).__name__})
        result = RefundResult(status=RefundStatus.unknown, message=str(exc)[:500])
    finally:
        container.metrics.gateway_calls.labels(refund.provider, "refund", label).observe(
            asyncio.get_running_loop().time() - started
        )
    await record_result(container, refund_id, result)


async def _to_manual(container: Container, refund_id: str) -> None:
    async with container.db.transaction() as session:
        await apply(session, T.REFUND_TO_MANUAL, refund_id, now=container.clock())


async def record_result(container: Container, refund_id: str, result: RefundResult) -> str:
    """T2: apply a gateway's (or operator's) answer to an open refund; returns the refund's status."""
    now = container.clock()
    async with container.db.transaction() as session:
        refund = await store.get(session, refund_id)
        assert refund is not None
        await _lock_payment(session, container, refund.payment_id)  # lock order: payment, then refund
        if result.status in (RefundStatus.succeeded, RefundStatus.failed):
            await finish(session, container, refund, result, now)
        else:
            checks = refund.check_count + 1
            await apply(
                session,
                T.REFUND_STILL_OPEN,
                refund_id,
                status=result.status.value,
                provider_refund_id=result.provider_refund_id or refund.provider_refund_id,
                wire={**refund.wire, **result.wire},
                raw_response=result.raw or refund.raw_response,
                failure_message=result.message,
                check_count=checks,
                next_check_at=next_check(refund.created_at, checks, now),
                now=now,
            )
        return (await _load(session, refund_id))[0].status


async def finish(
    session: AsyncSession,
    container: Container,
    refund: Refund,
    result: RefundResult,
    now: datetime,
    *,
    note: str | None = None,
) -> bool:
    """Move an open refund to succeeded/failed with its money and events (payment row already locked)."""
    succeeded = result.status is RefundStatus.succeeded
    transition = T.REFUND_SUCCEED if succeeded else T.REFUND_FAIL
    changed = await apply(
        session,
        transition,
        refund.id,
        provider_refund_id=result.provider_refund_id or refund.provider_refund_id,
        wire={**refund.wire, **result.wire},
        raw_response=result.raw or refund.raw_response,
        failure_code=None if succeeded else result.code,
        failure_message=None if succeeded else (result.message or "")[:500] or None,
        operator_note=note if note is not None else refund.operator_note,
        confirmed_at=now if note is not None else refund.confirmed_at,
        now=now,
    )
    if not changed:
        return False  # someone else settled it first
    payment = (await store.load(session, refund.id))[1]
    fully = False
    if succeeded and refund.origin == "client":
        total = payment.refunded_amount + refund.amount
        fully = total == payment.amount
        moved = await apply(
            session,
            T.REFUND_ALL if fully else T.REFUND_PART,
            payment.id,
            refunded_amount=Payment.refunded_amount + refund.amount,
            now=now,
        )
        if not moved:
            raise RuntimeError(f"payment {payment.id} is not in a refundable state")
    fresh_refund, fresh_payment = await _load(session, refund.id)
    await emit_event(
        session,
        type=transition.event or "",
        client_id=fresh_refund.client_id,
        payment_id=fresh_payment.id,
        data=refund_resource(fresh_refund, fresh_payment),
        now=now,
    )
    if fully:
        data = await load_payment_resource(session, payment.id, container.settings.public_base_url)
        await emit_event(
            session,
            type=T.REFUND_ALL.event or "",
            client_id=payment.client_id,
            payment_id=payment.id,
            data=data,
            now=now,
        )
    return True


async def confirm_manual(
    container: Container, refund_id: str, *, succeeded: bool, note: str
) -> dict[str, Any]:
    """An operator confirms that a manual refund was paid out (or that it could not be)."""
    now = container.clock()
    async with container.db.transaction() as session:
        refund = await store.get(session, refund_id)
        if refund is None:
            raise NotFound("No such refund.")
        await _lock_payment(session, container, refund.payment_id)
        refund = (await _load(session, refund_id))[0]
        gave_up = refund.method == "gateway" and refund.status == "unknown" and refund.next_check_at is None
        if refund.status not in OPEN or not (refund.method == "manual" or gave_up):
            raise RefundNotConfirmable(
                f"This refund is {refund.status} ({refund.method}); only an open manual refund, or a gateway "
                "refund whose outcome stayed unknown, can be confirmed."
            )
        status = RefundStatus.succeeded if succeeded else RefundStatus.failed
        result = RefundResult(status=status, code=None if succeeded else "operator_rejected", message=note)
        await finish(session, container, refund, result, now, note=note)
        return refund_resource(*await _load(session, refund_id))
