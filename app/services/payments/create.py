"""Payment create, the general path: idempotent, one bill one payment, any gateway.

:mod:`app.services.payments.fast_create` answers the common case in one round trip first; everything
it hands over (replays, reused keys, duplicate bills, catalogue errors, gateways that must be called,
floats in metadata) is answered here. Both write the new payment with the same statement
(``app.stores.payments.insert_new_payment``): here in the transaction of the key's claim, which the
statement makes name the payment; a duplicate bill is told by the violated constraint. A gateway
that must be called is called after that commit, outside any transaction; its answer is recorded
with the declared transition and the key's response stored in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from typing import Any

import asyncpg
import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from app.adapters.base import LineItem
from app.container import Container
from app.errors import ProblemError, ValidationFailed
from app.models import Agency, BeneficiaryAccount, ProviderAccount
from app.schemas.payments import PaymentCreate
from app.services.access.auth import Principal
from app.services.catalogue.catalog import get_active_revenue_types, resolve_beneficiaries
from app.services.catalogue.gateway_accounts import adapter_for, resolve_account
from app.services.notifications.url_guard import url_problem
from app.services.payments import fast_create
from app.services.payments.attempts import (
    build_checkout_request,
    call_gateway,
    checkout_transition,
    line_items,
    new_attempt_values,
    start_checkout,
)
from app.services.payments.idempotency import (
    Claim,
    Completed,
    IdempotencyInProgress,
    StoredResponse,
    complete,
    request_fingerprint,
    run_idempotent,
)
from app.services.payments.views import load_payment_resource, payment_resource
from app.stores import payments as store
from app.stores.payments import AttemptRow, ItemRow, PaymentRow, PaymentRows
from app.stores.transitions import apply
from app.vntime import VN_TZ


class DuplicateBill(ProblemError):
    status, code, title = 409, "duplicate_bill", "Duplicate bill"


class RevenueTypeUnknown(ProblemError):
    status, code, title = 422, "revenue_type_unknown", "Unknown revenue type"


def field_error(field: str, message: str, detail: str | None = None) -> ValidationFailed:
    return ValidationFailed(detail or f"{field}: {message}", errors=[{"field": field, "message": message}])


def _check_url(principal: Principal, container: Container, url: str, field: str) -> None:
    problem = url_problem(
        url, allowed_hosts=principal.allowed_hosts, development=container.settings.is_development
    )
    if problem is not None:
        raise field_error(field, problem)


async def _scoped_agency(session: AsyncSession, principal: Principal, code: str) -> Agency:
    agency = await store.agency_by_code(session, code)
    if agency is None or not principal.covers(agency.path):
        raise field_error("agency_code", "unknown agency, or not one this client acts for")
    return agency


@dataclass(frozen=True)
class Created:
    """What the create transaction wrote and read: enough to call the gateway and answer."""

    payment: PaymentRow
    agency: Agency
    items: list[ItemRow]
    line_items: list[LineItem]
    attempt: dict[str, Any] | None  # the attempt's columns, no checkout yet
    account: ProviderAccount | None
    beneficiaries: dict[str | None, BeneficiaryAccount]


async def _insert_payment(
    container: Container, principal: Principal, body: PaymentCreate, claim: Claim
) -> Created:
    now = container.clock().astimezone(UTC)
    today = now.astimezone(VN_TZ).date()
    bill_key = body.bill_code or ""
    async with container.db.transaction() as session:
        agency = await _scoped_agency(session, principal, body.agency_code)
        codes = {item.revenue_type_code for item in body.items}
        active = await get_active_revenue_types(session, codes, today)
        for i, item in enumerate(body.items):
            if item.revenue_type_code not in active:
                raise RevenueTypeUnknown(
                    f"Revenue type {item.revenue_type_code!r} is unknown or not in force today; "
                    "GET /v1/revenue-types lists the codes in force (?q= searches them).",
                    errors=[{"field": f"items[{i}].revenue_type_code", "message": "unknown or inactive"}],
                )
        account = None
        beneficiaries: dict[str | None, BeneficiaryAccount] = {}
        if body.provider:
            adapter = adapter_for(body.provider)
            if body.total < adapter.min_amount or (
                adapter.max_amount is not None and body.total > adapter.max_amount
            ):
                raise field_error(
                    "items",
                    f"total {body.total} VND is outside {body.provider}'s limits "
                    f"({adapter.min_amount}–{adapter.max_amount or '∞'} VND)",
                )
            account = await resolve_account(session, agency.path, body.provider)
            beneficiaries = await resolve_beneficiaries(
                session, agency, [item.revenue_type_code for item in body.items]
            )
        values = fast_create.new_payment_values(principal, agency.id, body, now)
        values.update(
            payer=fast_create.jsonb_order(values["payer"]),
            metadata_=fast_create.jsonb_order(values["metadata_"]),
        )
        payment = PaymentRow.from_values({**fast_create.PAYMENT_DEFAULTS, **values})
        attempt = None
        if account is not None:
            attempt = {**fast_create.ATTEMPT_DEFAULTS, **new_attempt_values(payment, account, now)}
        items = fast_create.item_values(body, active)
        params = {
            # Checked in this transaction already: the guard holds trivially.
            "revenue_type_ids": [],
            "today": today,
            "account_id": None,
            "record_id": claim.record_id,
            **fast_create.row_params(values, items, attempt),
        }
        try:
            written = await store.insert_new_payment_in(session, params, with_attempt=attempt is not None)
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name == store.OPEN_BILL_CONSTRAINT:
                raise _DuplicateBillSignal(agency.id, body.dossier_code, bill_key) from exc
            raise
        if not written:  # the claim is gone (purged under us): nothing was written
            raise IdempotencyInProgress(
                "A request with this Idempotency-Key is still being processed; retry shortly.",
                headers={"Retry-After": "1"},
            )
    pairs = [(item, active[item.revenue_type_code]) for item in body.items]
    return Created(
        payment,
        agency,
        [ItemRow(item.revenue_type_code, rtype.name, item.amount, item.description) for item, rtype in pairs],
        line_items(pairs),
        attempt,
        account,
        beneficiaries,
    )


class _DuplicateBillSignal(Exception):
    def __init__(self, agency_id: int, dossier: str, bill_key: str) -> None:
        self.agency_id, self.dossier, self.bill_key = agency_id, dossier, bill_key


async def _checkout_and_answer(
    container: Container, created: Created, claim: Claim, client_ip: str, *, reread: bool
) -> Completed:
    """Call the gateway (no transaction open), then record its answer with the declared
    transition and the key's response in one transaction; the response is built from the rows in
    hand (``reread``: from the stored row, whose JSONB prints floats its own way)."""
    base_url = container.settings.public_base_url
    attempt, outcome = created.attempt, None
    if attempt is not None:
        assert created.account is not None
        request = build_checkout_request(
            AttemptRow.from_values(attempt),
            created.payment,
            created.agency,
            created.line_items,
            created.beneficiaries,
            client_ip=client_ip,
            locale="vi",
        )
        outcome = await call_gateway(container, created.account, request)
    async with container.db.transaction() as session:
        fresh = True
        if attempt is not None:
            assert outcome is not None
            now = container.clock()
            transition, params = checkout_transition(outcome, now)
            fresh = await apply(session, transition, attempt["id"], **params, now=now)
            if fresh:
                attempt = {**attempt, **transition.values({**params, "now": now})}
        if fresh and not reread:
            rows = PaymentRows(
                created.payment,
                created.agency.code,
                created.agency.path,
                created.items,
                [AttemptRow.from_values(attempt)] if attempt is not None else [],
            )
            resource = payment_resource(rows, base_url)
        else:  # the attempt moved on meanwhile (a callback, a cancel): answer what is stored
            resource = await load_payment_resource(session, created.payment.id, base_url)
        body = orjson.dumps(resource)
        await complete(session, claim.record_id, 201, body)
    return Completed(201, body)


async def create_payment(
    container: Container,
    principal: Principal,
    body: PaymentCreate,
    *,
    idempotency_key: str | None,
    client_ip: str,
) -> StoredResponse:
    """Create the payment for a bill, exactly once per Idempotency-Key and once per bill."""
    if body.return_url:
        _check_url(principal, container, body.return_url, "return_url")
    fingerprint = request_fingerprint("POST", "/v1/payments", body.model_dump(mode="json"))
    fast = await fast_create.try_create(
        container,
        principal,
        body,
        idempotency_key=idempotency_key,
        fingerprint=fingerprint,
        client_ip=client_ip,
    )
    if fast is not None:
        return fast

    async def handler(claim: Claim) -> tuple[int, bytes] | Completed:
        if claim.resource_id is not None:  # an earlier run created it and then died
            payment_id = claim.resource_id
            attempt_id = await _latest_unstarted_attempt(container, payment_id)
            if attempt_id is not None:
                await start_checkout(container, attempt_id, client_ip=client_ip)
            async with container.db.session() as session:
                resource = await load_payment_resource(
                    session, payment_id, container.settings.public_base_url
                )
            return 201, orjson.dumps(resource)
        try:
            created = await _insert_payment(container, principal, body, claim)
        except _DuplicateBillSignal as dup:
            async with container.db.session() as session:
                existing = await store.open_bill(session, dup.agency_id, dup.dossier, dup.bill_key)
            raise DuplicateBill(
                "An open or paid payment already exists for this dossier and bill.", payment_id=existing
            ) from None
        return await _checkout_and_answer(
            container, created, claim, client_ip, reread=fast_create.has_float(body.metadata)
        )

    return await run_idempotent(
        container,
        client_id=principal.client_id,
        scope="payments.create",
        key=idempotency_key,
        fingerprint=fingerprint,
        handler=handler,
    )


async def _latest_unstarted_attempt(container: Container, payment_id: str) -> str | None:
    async with container.db.session() as session:
        return await store.latest_unstarted_attempt(session, payment_id)
