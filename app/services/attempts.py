"""Attempts: one try at one gateway. Opening one is a row in the caller's transaction; starting
the checkout at the gateway happens after that commit, never inside a transaction."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from sqlalchemy import select
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
from app.ids import new_id, new_reference
from app.models import Agency, Attempt, Payment, PaymentItem, ProviderAccount, RevenueType
from app.services.catalog import resolve_beneficiary
from app.services.gateway_accounts import adapter_for, present
from app.services.transitions import cas_attempt

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


def open_attempt(session: AsyncSession, payment: Payment, account: ProviderAccount, now: datetime) -> Attempt:
    """Add a pending attempt for ``payment`` at ``account`` (flushed with the caller's commit)."""
    adapter = adapter_for(account.provider)
    attempt = Attempt(
        id=new_id("att"),
        payment_id=payment.id,
        provider=account.provider,
        provider_account_id=account.id,
        reference=new_reference(),
        status="pending",
        amount=payment.amount,
        wire={},
        next_check_at=now + FIRST_CHECK_AFTER if Capability.query in adapter.capabilities else None,
        created_at=now,
        updated_at=now,
    )
    session.add(attempt)
    return attempt


async def _checkout_request(
    session: AsyncSession, attempt: Attempt, client_ip: str, locale: str
) -> CheckoutRequest:
    payment = (await session.execute(select(Payment).where(Payment.id == attempt.payment_id))).scalar_one()
    agency = (await session.execute(select(Agency).where(Agency.id == payment.agency_id))).scalar_one()
    rows = (
        await session.execute(
            select(PaymentItem, RevenueType)
            .join(RevenueType, RevenueType.id == PaymentItem.revenue_type_id)
            .where(PaymentItem.payment_id == payment.id)
            .order_by(PaymentItem.position)
        )
    ).all()
    items = [
        LineItem(
            revenue_type_code=item.revenue_type_code,
            revenue_type_name=rtype.name,
            kind=rtype.kind,
            amount=item.amount,
            description=item.description,
        )
        for item, rtype in rows
    ]
    beneficiaries: dict[str, Beneficiary] = {}
    for item in items:
        found = await resolve_beneficiary(session, agency, item.revenue_type_code)
        if found is not None:
            beneficiaries[item.revenue_type_code] = Beneficiary(
                account_number=found.account_number,
                account_name=found.account_name,
                bank_bin=found.bank_bin,
                treasury_code=found.treasury_code,
            )
    default = await resolve_beneficiary(session, agency, None)
    beneficiary = (
        Beneficiary(
            account_number=default.account_number,
            account_name=default.account_name,
            bank_bin=default.bank_bin,
            treasury_code=default.treasury_code,
        )
        if default is not None
        else next(iter(beneficiaries.values()), None)
    )
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
        items=items,
        agency_code=agency.code,
        agency_name=agency.name,
        dossier_code=payment.dossier_code,
        procedure_code=payment.procedure_code,
        beneficiary=beneficiary,
        beneficiaries=beneficiaries,
    )


async def start_checkout(
    container: Container, attempt_id: str, *, client_ip: str, locale: str = "vi"
) -> None:
    """Ask the gateway for the checkout of a freshly opened attempt and record what it said.

    A timeout or an ambiguous answer leaves the attempt ``unknown`` (the resolver queries it);
    a clear refusal makes it ``failed``. Nothing is held open while the gateway is called.
    """
    async with container.db.session() as session:
        attempt = (await session.execute(select(Attempt).where(Attempt.id == attempt_id))).scalar_one()
        account_row = await session.get(ProviderAccount, attempt.provider_account_id)
        assert account_row is not None
        request = await _checkout_request(session, attempt, client_ip, locale)
    account = present(container, account_row)
    adapter = adapter_for(attempt.provider)
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
        container.metrics.gateway_calls.labels(attempt.provider, "create", outcome).observe(
            asyncio.get_running_loop().time() - started
        )
    now = container.clock()
    async with container.db.transaction() as session:
        if result is not None:
            await cas_attempt(
                session,
                attempt_id,
                ("pending",),
                {
                    "checkout_url": result.checkout_url,
                    "qr_payload": result.qr_payload,
                    "provider_transaction_id": result.provider_transaction_id,
                    "wire": dict(result.wire),
                    "raw_request": result.raw_request,
                    "raw_response": result.raw_response,
                    "updated_at": now,
                },
            )
        elif isinstance(error, GatewayLogicalError):
            log.info("gateway refused checkout", extra={"provider": attempt.provider, "code": error.code})
            await cas_attempt(
                session,
                attempt_id,
                ("pending",),
                {
                    "status": "failed",
                    "failure_code": error.code or "declined",
                    "failure_message": error.message[:500],
                    "completed_at": now,
                    "updated_at": now,
                    "next_check_at": None,
                },
            )
        else:
            log.warning(
                "gateway checkout outcome unknown",
                extra={"provider": attempt.provider, "error": type(error).__name__},
            )
            await cas_attempt(
                session,
                attempt_id,
                ("pending",),
                {
                    "status": "unknown",
                    "failure_code": "gateway_unreachable",
                    "failure_message": str(error)[:500] if error else None,
                    "next_check_at": now + FIRST_CHECK_AFTER,
                    "updated_at": now,
                },
            )


# Public name for services that build a checkout request without calling the gateway (pull models).
checkout_request = _checkout_request
