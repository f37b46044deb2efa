"""Money we could not attribute: verified notifications of a payment (a bank credit, a gateway
IPN) with an unknown reference, a wrong amount, or a second credit. Never dropped: listed for an
operator, who resolves each with a note."""

from __future__ import annotations

from typing import Any

import orjson

from app.container import Container
from app.errors import NotFound
from app.models import InboundCallback
from app.services.payments.lifecycle import InvalidState
from app.stores import callbacks as store


def _view(row: InboundCallback) -> dict[str, Any]:
    try:
        payload = orjson.loads(row.body) if row.body else {}
    except orjson.JSONDecodeError:
        payload = {}
    fields = payload if isinstance(payload, dict) else {}
    return {
        "id": row.id,
        "provider": row.provider,
        "provider_account_id": row.provider_account_id,
        "reason": row.verdict,
        "reference": row.reference,
        "amount": row.amount,
        "description": fields.get("description"),
        "bank_transaction_id": fields.get("bank_transaction_id"),
        "account_number": fields.get("account_number"),
        "received_at": row.received_at.isoformat(),
        "resolved_at": row.resolved_at.isoformat() if row.resolved_at else None,
        "resolution_note": row.resolution_note,
    }


async def list_unmatched(
    container: Container, *, include_resolved: bool = False, limit: int = 100
) -> list[dict[str, Any]]:
    async with container.db.session() as session:
        rows = await store.needing_review(session, include_resolved=include_resolved, limit=limit)
    return [_view(r) for r in rows]


async def resolve_unmatched(container: Container, credit_id: int, note: str) -> dict[str, Any]:
    async with container.db.transaction() as session:
        row = await store.get(session, credit_id)
        if row is None or not row.needs_review:
            raise NotFound("No such unmatched credit.")
        if not await store.resolve(session, row, container.clock(), note):
            raise InvalidState("This credit was already resolved.")
        return _view(row)
