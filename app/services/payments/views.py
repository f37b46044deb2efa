"""The payment resource as the API shows it (responses, webhooks and the event feed alike)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.exc import NoResultFound
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Agency, Attempt, Payment, PaymentItem, RevenueType


class AttemptView(Protocol):
    """What :func:`attempt_resource` reads: an ORM :class:`Attempt` or a row of a raw read
    (``payment_reads``) alike."""

    @property
    def id(self) -> str: ...
    @property
    def provider(self) -> str: ...
    @property
    def reference(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def provider_transaction_id(self) -> str | None: ...
    @property
    def checkout_url(self) -> str | None: ...
    @property
    def qr_payload(self) -> str | None: ...
    @property
    def failure_code(self) -> str | None: ...
    @property
    def duplicate_paid(self) -> bool: ...
    @property
    def late(self) -> bool: ...
    @property
    def created_at(self) -> datetime: ...


class ItemView(Protocol):
    @property
    def revenue_type_code(self) -> str: ...
    @property
    def amount(self) -> int: ...
    @property
    def description(self) -> str | None: ...


class PaymentView(Protocol):
    """What :func:`payment_resource` reads from a payment (ORM :class:`Payment` or raw row)."""

    @property
    def id(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def dossier_code(self) -> str: ...
    @property
    def bill_code(self) -> str | None: ...
    @property
    def procedure_code(self) -> str | None: ...
    @property
    def description(self) -> str | None: ...
    @property
    def amount(self) -> int: ...
    @property
    def currency(self) -> str: ...
    @property
    def payer(self) -> dict[str, Any]: ...
    @property
    def provider(self) -> str | None: ...
    @property
    def return_url(self) -> str | None: ...
    @property
    def channel(self) -> str | None: ...
    @property
    def offline(self) -> dict[str, Any] | None: ...
    @property
    def refunded_amount(self) -> int: ...
    @property
    def metadata_(self) -> dict[str, Any]: ...
    @property
    def expires_at(self) -> datetime: ...
    @property
    def paid_at(self) -> datetime | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...


def _ts(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def attempt_resource(attempt: AttemptView) -> dict[str, Any]:
    return {
        "id": attempt.id,
        "provider": attempt.provider,
        "reference": attempt.reference,
        "status": attempt.status,
        "provider_transaction_id": attempt.provider_transaction_id,
        "checkout_url": attempt.checkout_url,
        "qr_payload": attempt.qr_payload,
        "failure_code": attempt.failure_code,
        "duplicate_paid": attempt.duplicate_paid,
        "late": attempt.late,
        "created_at": _ts(attempt.created_at),
    }


def payment_resource(
    payment: PaymentView,
    agency_code: str,
    items: Sequence[tuple[ItemView, str | None]],
    attempts: Sequence[AttemptView],
    hosted_checkout_url: str,
) -> dict[str, Any]:
    latest = attempts[-1] if attempts else None
    if payment.status != "pending":
        checkout_url = None
    elif (
        payment.provider
        and latest is not None
        and latest.provider == payment.provider
        and latest.checkout_url
    ):
        checkout_url = latest.checkout_url
    else:
        checkout_url = hosted_checkout_url
    qr = latest.qr_payload if latest is not None and payment.status == "pending" else None
    return {
        "id": payment.id,
        "status": payment.status,
        "agency_code": agency_code,
        "dossier_code": payment.dossier_code,
        "bill_code": payment.bill_code,
        "procedure_code": payment.procedure_code,
        "description": payment.description,
        "amount": payment.amount,
        "currency": payment.currency,
        "items": [
            {
                "revenue_type_code": item.revenue_type_code,
                "revenue_type_name": name,
                "amount": item.amount,
                "description": item.description,
            }
            for item, name in items
        ],
        "payer": payment.payer,
        "provider": payment.provider,
        "checkout_url": checkout_url,
        "qr_payload": qr,
        "return_url": payment.return_url,
        "channel": payment.channel,
        "offline": payment.offline,
        "refunded_amount": payment.refunded_amount,
        "metadata": payment.metadata_,
        "attempts": [attempt_resource(a) for a in attempts],
        "expires_at": _ts(payment.expires_at),
        "paid_at": _ts(payment.paid_at),
        "created_at": _ts(payment.created_at),
        "updated_at": _ts(payment.updated_at),
    }


async def load_payment_resource(session: AsyncSession, payment_id: str, base_url: str) -> dict[str, Any]:
    """Fresh from the database (after compare-and-set updates the identity map may be stale)."""
    resource = await load_visible_payment_resource(session, payment_id, base_url, lambda _path: True)
    if resource is None:
        raise NoResultFound(f"no payment {payment_id}")
    return resource


async def load_visible_payment_resource(
    session: AsyncSession, payment_id: str, base_url: str, visible: Callable[[str], bool]
) -> dict[str, Any] | None:
    """Like :func:`load_payment_resource`, or None when the payment is missing or its agency path
    is not ``visible`` (the scope check rides on the first query: no extra round trip).

    On PostgreSQL: one statement (``payment_reads``) on the session's own connection, so inside a
    transaction it sees that transaction's uncommitted writes, exactly as the ORM queries do."""
    from app.services.payments import reads as payment_reads  # it imports this module

    driver = await payment_reads.session_driver_connection(session)
    if driver is not None:
        return await payment_reads.visible_resource(driver, payment_id, base_url, visible)
    return await orm_visible_payment_resource(session, payment_id, base_url, visible)


async def orm_visible_payment_resource(
    session: AsyncSession, payment_id: str, base_url: str, visible: Callable[[str], bool]
) -> dict[str, Any] | None:
    """The ORM implementation (SQLite; and the reference the PostgreSQL statement is tested against)."""
    row = (
        await session.execute(
            select(Payment, Agency.code, Agency.path)
            .join(Agency, Agency.id == Payment.agency_id)
            .where(Payment.id == payment_id)
            .execution_options(populate_existing=True)
        )
    ).first()
    if row is None or not visible(row.path):
        return None
    payment, agency_code = row.Payment, row.code
    items = (
        await session.execute(
            select(PaymentItem, RevenueType.name)
            .join(RevenueType, RevenueType.id == PaymentItem.revenue_type_id)
            .where(PaymentItem.payment_id == payment_id)
            .order_by(PaymentItem.position)
        )
    ).all()
    attempts = (
        await session.scalars(
            select(Attempt)
            .where(Attempt.payment_id == payment_id)
            .order_by(Attempt.created_at, Attempt.id)
            .execution_options(populate_existing=True)
        )
    ).all()
    return payment_resource(
        payment,
        agency_code,
        [(item, name) for item, name in items],
        attempts,
        hosted_checkout_url(base_url, payment.checkout_token),
    )


def hosted_checkout_url(base_url: str, token: str) -> str:
    return f"{base_url}/checkout/{token}"


def renderer(base_url: str) -> Any:
    async def render(session: AsyncSession, payment_id: str) -> dict[str, Any]:
        return await load_payment_resource(session, payment_id, base_url)

    return render
