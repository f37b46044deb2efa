"""Attempts: one try at one gateway. Opening one is a row in the caller's transaction; starting
the checkout at the gateway happens after that commit, never inside a transaction."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from app.adapters.base import (
    AttemptRef,
    Beneficiary,
    Capability,
    CheckoutRequest,
    CheckoutResult,
    GatewayLogicalError,
    GatewayTechnicalError,
    LineItem,
    Payer,
)
from app.container import Container
from app.domain import transitions as T
from app.domain.states import AttemptStatus
from app.ids import new_id, new_reference
from app.models import Agency, Attempt, BeneficiaryAccount, Payment, ProviderAccount
from app.services.catalogue.catalog import resolve_beneficiaries
from app.services.catalogue.gateway_accounts import adapter_for, present
from app.stores import payments as store
from app.stores.payments import AttemptRow, PaymentRow
from app.stores.transitions import apply

log = logging.getLogger("paybridge.attempts")

FIRST_CHECK_AFTER = timedelta(seconds=60)


def attempt_ref(attempt: Attempt) -> AttemptRef:
    return AttemptRef(
        reference=attempt.reference,
        amount=attempt.amount,
        created_at=attempt.created_at,
        wire={k: str(v) for k, v in (attempt.wire or {}).items()},
        provider_transaction_id=attempt.provider_transaction_id,
    )


def new_attempt_values(
    payment: Payment | PaymentRow, account: ProviderAccount, now: datetime
) -> dict[str, Any]:
    """The columns of a new pending attempt for ``payment`` at ``account`` (no checkout yet)."""
    adapter = adapter_for(account.provider)
    return {
        "id": new_id("att"),
        "payment_id": payment.id,
        "provider": account.provider,
        "provider_account_id": account.id,
        "reference": new_reference(),
        "status": AttemptStatus.pending,
        "amount": payment.amount,
        "wire": {},
        "duplicate_paid": False,
        "late": False,
        "check_count": 0,
        "next_check_at": now + FIRST_CHECK_AFTER if Capability.query in adapter.capabilities else None,
        "created_at": now.astimezone(UTC),
        "updated_at": now,
    }


def open_attempt(session: AsyncSession, payment: Payment, account: ProviderAccount, now: datetime) -> Attempt:
    """Add a pending attempt for ``payment`` at ``account`` (flushed with the caller's commit)."""
    return store.add_attempt(session, new_attempt_values(payment, account, now))


class _Item(Protocol):
    revenue_type_code: str
    amount: int
    description: str | None


class _Revenue(Protocol):
    name: str
    kind: str


def line_items(rows: Iterable[tuple[_Item, _Revenue]]) -> list[LineItem]:
    """What the adapter sees of each item: (a bill item, its revenue-type version) pairs."""
    return [
        LineItem(
            revenue_type_code=item.revenue_type_code,
            revenue_type_name=rtype.name,
            kind=rtype.kind,
            amount=item.amount,
            description=item.description,
        )
        for item, rtype in rows
    ]


def _beneficiary(row: BeneficiaryAccount) -> Beneficiary:
    return Beneficiary(
        account_number=row.account_number,
        account_name=row.account_name,
        bank_bin=row.bank_bin,
        treasury_code=row.treasury_code,
    )


def build_checkout_request(
    attempt: Attempt | AttemptRow,
    payment: Payment | PaymentRow,
    agency: Agency,
    items: Sequence[LineItem],
    resolved: Mapping[str | None, BeneficiaryAccount],
    *,
    client_ip: str,
    locale: str,
) -> CheckoutRequest:
    """The adapter's request from rows already in hand (``resolved`` as from ``resolve_beneficiaries``)."""
    beneficiaries = {
        item.revenue_type_code: _beneficiary(resolved[item.revenue_type_code])
        for item in items
        if item.revenue_type_code in resolved
    }
    default = resolved.get(None)
    beneficiary = _beneficiary(default) if default is not None else next(iter(beneficiaries.values()), None)
    payer = payment.payer or {}
    return CheckoutRequest(
        reference=attempt.reference,
        payment_id=payment.id,
        amount=attempt.amount,
        description=payment.description or f"Thanh toan ho so {payment.dossier_code}",
        created_at=attempt.created_at,
        expires_at=payment.expires_at,
        client_ip=client_ip,
        locale=locale,
        payer=Payer(
            name=str(payer.get("name", "")),
            id_number=payer.get("id_number"),
            phone=payer.get("phone"),
            email=payer.get("email"),
            address=payer.get("address"),
        ),
        items=list(items),
        agency_code=agency.code,
        agency_name=agency.name,
        dossier_code=payment.dossier_code,
        procedure_code=payment.procedure_code,
        beneficiary=beneficiary,
        beneficiaries=beneficiaries,
    )


async def _checkout_request(
    session: AsyncSession, attempt: Attempt, client_ip: str, locale: str
) -> CheckoutRequest:
    payment, agency = await store.payment_and_agency(session, attempt.payment_id)
    rows = await store.items_with_revenue_types(session, payment.id)
    items = line_items(rows)
    resolved = await resolve_beneficiaries(session, agency, [item.revenue_type_code for item in items])
    return build_checkout_request(
        attempt, payment, agency, items, resolved, client_ip=client_ip, locale=locale
    )


@dataclass(frozen=True)
class CheckoutOutcome:
    """What the gateway said to a checkout: a result, a clear refusal, or nothing usable."""

    provider: str
    result: CheckoutResult | None
    error: Exception | None


async def call_gateway(
    container: Container, account_row: ProviderAccount, request: CheckoutRequest
) -> CheckoutOutcome:
    """Ask the gateway for the checkout (never inside a transaction); errors become the outcome."""
    account = present(container, account_row)
    adapter = adapter_for(account_row.provider)
    started = asyncio.get_running_loop().time()
    outcome = "ok"
    result: CheckoutResult | None = None
    error: Exception | None = None
    try:
        result = await asyncio.wait_for(
            adapter.create_checkout(account, request, container.http),
            timeout=container.settings.gateway_timeout_seconds + 1,
        )
    except (GatewayTechnicalError, TimeoutError) as exc:
        outcome, error = "technical_error", exc
    except GatewayLogicalError as exc:
        outcome, error = "declined", exc
    finally:
        container.metrics.gateway_calls.labels(account_row.provider, "create", outcome).observe(
            asyncio.get_running_loop().time() - started
        )
    return CheckoutOutcome(account_row.provider, result, error)


def checkout_transition(outcome: CheckoutOutcome, now: datetime) -> tuple[T.Transition, dict[str, Any]]:
    """The attempt's transition for ``outcome`` and its parameters (the caller applies them)."""
    result, error = outcome.result, outcome.error
    if result is not None:
        return T.ATTEMPT_CHECKOUT_READY, {
            "checkout_url": result.checkout_url,
            "qr_payload": result.qr_payload,
            "provider_transaction_id": result.provider_transaction_id,
            "wire": dict(result.wire),
            "raw_request": result.raw_request,
            "raw_response": result.raw_response,
        }
    if isinstance(error, GatewayLogicalError):
        log.info("gateway refused checkout", extra={"provider": outcome.provider, "code": error.code})
        return T.ATTEMPT_CHECKOUT_REFUSED, {
            "failure_code": error.code or "declined",
            "failure_message": error.message[:500],
        }
    log.warning(
        "gateway checkout outcome unknown",
        extra={"provider": outcome.provider, "error": type(error).__name__},
    )
    return T.ATTEMPT_CHECKOUT_UNKNOWN, {
        "failure_message": str(error)[:500] if error else None,
        "next_check_at": now + FIRST_CHECK_AFTER,
    }


async def record_checkout(
    session: AsyncSession, attempt: Attempt, outcome: CheckoutOutcome, now: datetime
) -> bool:
    """Compare-and-set the outcome on the (still pending) attempt, in the caller's transaction;
    on success the in-memory ``attempt`` carries the new values too. False: it moved on meanwhile."""
    transition, params = checkout_transition(outcome, now)
    if not await apply(session, transition, attempt.id, **params, now=now):
        return False
    for name, value in transition.values({**params, "now": now}).items():
        setattr(attempt, name, value)
    return True


async def start_checkout(
    container: Container, attempt_id: str, *, client_ip: str, locale: str = "vi"
) -> None:
    """Ask the gateway for the checkout of a freshly opened attempt and record what it said.

    A timeout or an ambiguous answer leaves the attempt ``unknown`` (the resolver queries it);
    a clear refusal makes it ``failed``. Nothing is held open while the gateway is called.
    """
    async with container.db.session() as session:
        attempt = await store.attempt_by_id(session, attempt_id)
        account_row = await store.provider_account(session, attempt.provider_account_id)
        assert account_row is not None
        request = await _checkout_request(session, attempt, client_ip, locale)
    outcome = await call_gateway(container, account_row, request)
    async with container.db.transaction() as session:
        await record_checkout(session, attempt, outcome, container.clock())


# Public name for services that build a checkout request without calling the gateway (pull models).
checkout_request = _checkout_request
