"""Payment create in one statement (PostgreSQL): the common case, without the general path's
round trips.

The common case is a new Idempotency-Key, a new bill, a catalogue that checks out, and either no
gateway yet (the citizen picks one on the hosted page) or a gateway whose checkout is computed
here (``adapter.local_checkout``: a signed URL or a QR payload, no call out). Then everything the
general path would write in three transactions is known before writing: the payment, its items,
its attempt with the checkout, and the 201 response. One statement of data-modifying CTEs writes
it all, the idempotency record already ``completed`` with that response, in one implicit
transaction (one round trip, no BEGIN/COMMIT).

Anything else goes down the general path (``payments.create_payment``) untouched, which answers
it exactly as before, stores business errors for the key, and so on:

- the key exists (a replay, a reuse, a request still running): the statement fails on the
  key's unique constraint, after waiting for a concurrent holder to commit;
- the bill exists: it fails on the open-bill index, and the general path stores ``duplicate_bill``;
- the catalogue cache says no (unknown agency or revenue type, no account, amount outside the
  gateway's limits), or the database says the cached revenue-type versions or account are no
  longer in force (the guard CTE, then nothing is written and the cache is emptied);
- a gateway that must be called, a checkout the adapter refuses, metadata with floats (jsonb
  would print them differently from the response), SQLite.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, timedelta
from types import SimpleNamespace
from typing import Any, TypeVar, cast

import asyncpg
import orjson

from app.adapters.base import GatewayError
from app.container import Container
from app.errors import ProblemError
from app.ids import new_id, new_token
from app.models import Agency, Attempt, Payment, PaymentItem
from app.schemas.payments import PaymentCreate
from app.services.access.auth import Principal
from app.services.catalogue import cache as catalog_cache
from app.services.catalogue.gateway_accounts import adapter_for
from app.services.payments.attempts import build_checkout_request, line_items, new_attempt_values
from app.services.payments.idempotency import StoredResponse, check_key
from app.services.payments.views import hosted_checkout_url, payment_resource
from app.vntime import VN_TZ

SCOPE = "payments.create"
T = TypeVar("T")

_PAYMENT_CTES = """
WITH guard AS (
    SELECT 1 AS ok
    WHERE (SELECT count(*) FROM revenue_types
           WHERE id = ANY($1::int[]) AND is_current AND valid_from <= $2::date
             AND (valid_to IS NULL OR valid_to >= $2::date)) = cardinality($1::int[])
      AND ($3::text IS NULL OR EXISTS (SELECT 1 FROM provider_accounts WHERE id = $3 AND enabled))
), claim AS (
    INSERT INTO idempotency_records (client_id, scope, key, request_hash, state, response_status,
                                     response_body, resource_id, created_at, expires_at)
    SELECT $4, $5, $6, $7, 'completed', 201, $8, $9, $10, $11 FROM guard
    RETURNING id
), payment AS (
    INSERT INTO payments (id, client_id, agency_id, dossier_code, bill_code, bill_key, procedure_code,
                          description, payer, amount, currency, status, provider, return_url, metadata,
                          checkout_token, channel, offline, exempt, succeeded_attempt_id,
                          refunded_amount, expires_at, paid_at, created_at, updated_at)
    SELECT $9, $4, $12, $13, $14, $15, $16, $17, $18::jsonb, $19, 'VND', 'pending', $20, $21,
           $22::jsonb, $23, NULL, NULL, false, NULL, 0, $24, NULL, $10, $10
    FROM claim
    RETURNING id
), items AS (
    INSERT INTO payment_items (payment_id, position, revenue_type_id, revenue_type_code, amount,
                               description)
    SELECT payment.id, u.position, u.revenue_type_id, u.code, u.amount, u.description
    FROM payment,
         unnest($25::int[], $26::int[], $27::text[], $28::bigint[], $29::text[])
             AS u(position, revenue_type_id, code, amount, description)
)"""

_WITH_ATTEMPT = (  # constants only, no input in the text
    _PAYMENT_CTES  # noqa: S608
    + """, attempt AS (
    INSERT INTO attempts (id, payment_id, provider, provider_account_id, reference, status, amount,
                          provider_transaction_id, checkout_url, qr_payload, wire, raw_request,
                          raw_response, failure_code, failure_message, duplicate_paid, late,
                          next_check_at, check_count, completed_at, created_at, updated_at)
    SELECT $30, payment.id, $20, $3, $31, 'pending', $19, $32, $33, $34, $35::jsonb, $36, $37,
           NULL, NULL, false, false, $38, 0, NULL, $10, $10
    FROM payment
)
SELECT count(*) FROM payment"""
)

_WITHOUT_ATTEMPT = _PAYMENT_CTES + "\nSELECT count(*) FROM payment"


def _row(model: type[T], **values: Any) -> T:
    """A plain object with ``model``'s attribute names, for rendering and the adapter's request
    (an ORM instance is never flushed here, and building one costs more than the rest)."""
    return cast(T, SimpleNamespace(**values))


def jsonb_order(value: Any) -> Any:
    """``value`` with object keys in the order PostgreSQL's jsonb keeps them (shorter keys first,
    then bytewise), so that a response built in memory reads like one built from the row."""
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: (len(k.encode()), k.encode()))
        return {k: jsonb_order(value[k]) for k in keys}
    if isinstance(value, list):
        return [jsonb_order(v) for v in value]
    return value


def _has_float(value: Any) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(_has_float(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_float(v) for v in value)
    return False


async def try_create(
    container: Container,
    principal: Principal,
    body: PaymentCreate,
    *,
    idempotency_key: str | None,
    fingerprint: str,
    client_ip: str,
) -> StoredResponse | None:
    """The created payment's 201, or None: the general path must answer this request."""
    key = check_key(idempotency_key)
    pool = await container.db.raw()
    if pool is None or _has_float(body.metadata):
        return None
    agency = await catalog_cache.agency(container, body.agency_code)
    if agency is None or not principal.covers(agency.path):
        return None
    now = container.clock().astimezone(UTC)
    today = now.astimezone(VN_TZ).date()
    codes = [item.revenue_type_code for item in body.items]
    active = await catalog_cache.active_revenue_types(container, codes, today)
    if any(code not in active for code in codes):
        return None
    total = body.total
    cached = None
    if body.provider:
        try:
            adapter = adapter_for(body.provider)
        except ProblemError:
            return None  # unknown: the general path refuses it and stores the refusal for the key
        if not adapter.local_checkout or total < adapter.min_amount:
            return None
        if adapter.max_amount is not None and total > adapter.max_amount:
            return None
        cached = await catalog_cache.account(container, agency.path, body.provider)
        if cached is None:
            return None

    payment = _row(
        Payment,
        id=new_id("pay"),
        client_id=principal.client_id,
        agency_id=agency.id,
        dossier_code=body.dossier_code,
        bill_code=body.bill_code,
        bill_key=body.bill_code or "",
        procedure_code=body.procedure_code,
        description=body.description,
        payer=jsonb_order(body.payer.model_dump()),
        amount=total,
        currency="VND",
        status="pending",
        provider=body.provider,
        return_url=body.return_url,
        metadata_=jsonb_order(body.metadata),
        checkout_token=new_token(24),
        channel=None,
        offline=None,
        refunded_amount=0,
        expires_at=now + timedelta(seconds=body.expires_in_seconds),
        paid_at=None,
        created_at=now,
        updated_at=now,
    )
    items = [
        _row(
            PaymentItem,
            position=position,
            revenue_type_id=active[item.revenue_type_code].id,
            revenue_type_code=item.revenue_type_code,
            amount=item.amount,
            description=item.description,
        )
        for position, item in enumerate(body.items)
    ]
    attempts: list[Attempt] = []
    if cached is not None:
        attempt = await _local_checkout(container, cached, payment, agency, body, active, client_ip)
        if attempt is None:
            return None
        attempts.append(attempt)

    resource = payment_resource(
        payment,
        agency.code,
        [(item, active[item.revenue_type_code].name) for item in items],
        attempts,
        hosted_checkout_url(container.settings.public_base_url, payment.checkout_token),
    )
    response = orjson.dumps(resource)
    rt_ids = sorted({item.revenue_type_id for item in items})
    args: list[Any] = [
        rt_ids,
        today,
        cached.row.id if cached is not None else None,
        principal.client_id,
        SCOPE,
        key,
        fingerprint,
        response.decode(),
        payment.id,
        now,
        now + timedelta(hours=container.settings.idempotency_ttl_hours),
        agency.id,
        payment.dossier_code,
        payment.bill_code,
        payment.bill_key,
        payment.procedure_code,
        payment.description,
        payment.payer,
        total,
        payment.provider,
        payment.return_url,
        payment.metadata_,
        payment.checkout_token,
        payment.expires_at,
        [item.position for item in items],
        [item.revenue_type_id for item in items],
        [item.revenue_type_code for item in items],
        [item.amount for item in items],
        [item.description for item in items],
    ]
    if attempts:
        a = attempts[0]
        args += [
            a.id,
            a.reference,
            a.provider_transaction_id,
            a.checkout_url,
            a.qr_payload,
            a.wire,
            a.raw_request,
            a.raw_response,
            a.next_check_at,
        ]
    try:
        written = await pool.fetchval(_WITH_ATTEMPT if attempts else _WITHOUT_ATTEMPT, *args)
    except asyncpg.UniqueViolationError:
        # The key or the bill exists (or, in theory, a random reference or token collided):
        # nothing was written; the general path answers.
        return None
    if not written:  # the guard: a cached catalogue row is no longer in force
        catalog_cache.forget(container)
        return None
    return StoredResponse(201, response, False)


async def _local_checkout(
    container: Container,
    cached: catalog_cache.CachedAccount,
    payment: Payment,
    agency: Agency,
    body: PaymentCreate,
    active: dict[str, Any],
    client_ip: str,
) -> Attempt | None:
    """The attempt with its checkout already computed (the adapter calls nobody)."""
    provider = cached.row.provider
    adapter = adapter_for(provider)
    attempt = _row(
        Attempt,
        **new_attempt_values(payment, cached.row, payment.created_at),
        provider_transaction_id=None,
        checkout_url=None,
        qr_payload=None,
        raw_request=None,
        raw_response=None,
        failure_code=None,
    )
    codes = tuple(item.revenue_type_code for item in body.items)
    resolved = await catalog_cache.beneficiaries(container, agency, codes)
    items = line_items((item, active[item.revenue_type_code]) for item in body.items)
    request = build_checkout_request(
        attempt, payment, agency, items, resolved, client_ip=client_ip, locale="vi"
    )
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        result = await adapter.create_checkout(cached.account, request, container.http)
    except GatewayError:
        return None  # the general path calls again and records the refusal on the attempt
    container.metrics.gateway_calls.labels(provider, "create", "ok").observe(loop.time() - started)
    attempt.checkout_url = result.checkout_url
    attempt.qr_payload = result.qr_payload
    attempt.provider_transaction_id = result.provider_transaction_id
    attempt.wire = jsonb_order(dict(result.wire))
    attempt.raw_request = result.raw_request
    attempt.raw_response = result.raw_response
    return attempt
