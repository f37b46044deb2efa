"""Payment create in one statement (PostgreSQL): the common case, without the general path's
round trips.

The common case is a new Idempotency-Key, a new bill, a catalogue that checks out, and either no
gateway yet (the citizen picks one on the hosted page) or a gateway whose checkout is computed
here (``adapter.local_checkout``: a signed URL or a QR payload, no call out). Then everything the
general path would write in three transactions is known before writing: the payment, its items,
its attempt with the checkout, and the 201 response. One statement of data-modifying CTEs writes
it all, the idempotency record already ``completed`` with that response, in one implicit
transaction (one round trip, no BEGIN/COMMIT). The statement lives in the payments store
(``app.stores.payments.insert_new_payment``) and is the one the general path writes with too.

Anything else goes down the general path (``payments.create_payment``) untouched, which answers
it exactly as before, stores business errors for the key, and so on:

- the key exists (a replay, a reuse, a request still running): the statement fails on the
  key's unique constraint, after waiting for a concurrent holder to commit;
- the bill exists: it fails on the open-bill index, and the general path stores ``duplicate_bill``;
- the catalogue cache says no (unknown agency or revenue type, no account, amount outside the
  gateway's limits), or the database says the cached revenue-type versions or account are no
  longer in force (the guard CTE, then nothing is written and the cache is emptied);
- a gateway that must be called, a checkout the adapter refuses, metadata with floats (jsonb
  would print them differently from the response).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import orjson

from app.adapters.base import GatewayError
from app.container import Container
from app.errors import ProblemError
from app.ids import new_id, new_token
from app.models import Agency, Attempt, Payment
from app.schemas.payments import PaymentCreate
from app.services.access.auth import Principal
from app.services.catalogue import cache as catalog_cache
from app.services.catalogue.gateway_accounts import adapter_for
from app.services.payments.attempts import build_checkout_request, line_items, new_attempt_values
from app.services.payments.idempotency import StoredResponse, check_key
from app.services.payments.views import payment_resource
from app.stores import payments as payment_store
from app.stores.payments import AttemptRow, ItemRow, PaymentRow, PaymentRows
from app.stores.sql import column_defaults
from app.vntime import VN_TZ

SCOPE = "payments.create"
# What the database fills in for the columns the create leaves out (the response shows them).
PAYMENT_DEFAULTS = column_defaults(Payment)
ATTEMPT_DEFAULTS = column_defaults(Attempt)


def new_payment_values(
    principal: Principal, agency_id: int, body: PaymentCreate, now: datetime
) -> dict[str, Any]:
    """The columns a create gives a new payment (every other column takes its default)."""
    return {
        "id": new_id("pay"),
        "client_id": principal.client_id,
        "agency_id": agency_id,
        "dossier_code": body.dossier_code,
        "bill_code": body.bill_code,
        "bill_key": body.bill_code or "",
        "procedure_code": body.procedure_code,
        "description": body.description,
        "payer": body.payer.model_dump(),
        "amount": body.total,
        "provider": body.provider,
        "return_url": body.return_url,
        "metadata_": body.metadata,
        "checkout_token": new_token(24),
        "expires_at": now + timedelta(seconds=body.expires_in_seconds),
        "created_at": now,
        "updated_at": now,
    }


def item_values(body: PaymentCreate, active: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The columns of the new payment's items (``active``: the revenue-type versions by code)."""
    return [
        {
            "position": position,
            "revenue_type_id": active[item.revenue_type_code].id,
            "revenue_type_code": item.revenue_type_code,
            "amount": item.amount,
            "description": item.description,
        }
        for position, item in enumerate(body.items)
    ]


def row_params(
    values: Mapping[str, Any], items: list[dict[str, Any]], attempt: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The statement's parameters for the payment's, its items' and its attempt's columns."""
    params = {
        **{f"payment_{k}": values[k] for k in payment_store.NEW_PAYMENT_KEYS},
        **{f"item_{k}": [i[k] for i in items] for k in payment_store.NEW_ITEM_KEYS},
    }
    if attempt is not None:
        params.update({f"attempt_{k}": attempt[k] for k in payment_store.NEW_ATTEMPT_KEYS})
    return params


def jsonb_order(value: Any) -> Any:
    """``value`` with object keys in the order PostgreSQL's jsonb keeps them (shorter keys first,
    then bytewise), so that a response built in memory reads like one built from the row."""
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: (len(k.encode()), k.encode()))
        return {k: jsonb_order(value[k]) for k in keys}
    if isinstance(value, list):
        return [jsonb_order(v) for v in value]
    return value


def has_float(value: Any) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(has_float(v) for v in value.values())
    if isinstance(value, list):
        return any(has_float(v) for v in value)
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
    if has_float(body.metadata):
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

    values = new_payment_values(principal, agency.id, body, now)
    values.update(payer=jsonb_order(values["payer"]), metadata_=jsonb_order(values["metadata_"]))
    payment = PaymentRow.from_values({**PAYMENT_DEFAULTS, **values})
    items = item_values(body, active)
    attempt: dict[str, Any] | None = None
    if cached is not None:
        attempt = await _local_checkout(container, cached, payment, agency, body, active, client_ip)
        if attempt is None:
            return None

    rows = PaymentRows(
        payment,
        agency.code,
        agency.path,
        [
            ItemRow(
                item.revenue_type_code, active[item.revenue_type_code].name, item.amount, item.description
            )
            for item in body.items
        ],
        [AttemptRow.from_values(attempt)] if attempt is not None else [],
    )
    resource = payment_resource(rows, container.settings.public_base_url)
    response = orjson.dumps(resource)
    params: dict[str, Any] = {
        "revenue_type_ids": sorted({i["revenue_type_id"] for i in items}),
        "today": today,
        "account_id": cached.row.id if cached is not None else None,
        "client_id": principal.client_id,
        "scope": SCOPE,
        "key": key,
        "request_hash": fingerprint,
        "response_body": response.decode(),
        "key_expires_at": now + timedelta(hours=container.settings.idempotency_ttl_hours),
        **row_params(values, items, attempt),
    }
    try:
        written = await payment_store.insert_new_payment(pool, params, with_attempt=attempt is not None)
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
    payment: PaymentRow,
    agency: Agency,
    body: PaymentCreate,
    active: dict[str, Any],
    client_ip: str,
) -> dict[str, Any] | None:
    """The attempt's columns with its checkout already computed (the adapter calls nobody)."""
    provider = cached.row.provider
    adapter = adapter_for(provider)
    attempt = new_attempt_values(payment, cached.row, payment.created_at)
    codes = tuple(item.revenue_type_code for item in body.items)
    resolved = await catalog_cache.beneficiaries(container, agency, codes)
    items = line_items((item, active[item.revenue_type_code]) for item in body.items)
    request = build_checkout_request(
        AttemptRow.from_values({**ATTEMPT_DEFAULTS, **attempt}),
        payment,
        agency,
        items,
        resolved,
        client_ip=client_ip,
        locale="vi",
    )
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        result = await adapter.create_checkout(cached.account, request, container.http)
    except GatewayError:
        return None  # the general path calls again and records the refusal on the attempt
    container.metrics.gateway_calls.labels(provider, "create", "ok").observe(loop.time() - started)
    attempt.update(
        checkout_url=result.checkout_url,
        qr_payload=result.qr_payload,
        provider_transaction_id=result.provider_transaction_id,
        wire=jsonb_order(dict(result.wire)),
        raw_request=result.raw_request,
        raw_response=result.raw_response,
    )
    return {**ATTEMPT_DEFAULTS, **attempt}
