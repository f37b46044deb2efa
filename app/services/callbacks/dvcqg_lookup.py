"""The DVCQG platform's bill lookup (pull model): the platform asks for an unpaid bill by dossier
code, authenticated by the shared-secret checksum, and gets the same bill block an INIT carries.

Answers (wrapped shape, see :mod:`app.adapters.dvcqg`): the bill (``error_code "0"``) with a
reference the platform then pays against; ``"-1"`` no such dossier; ``"-2"`` already paid;
``"97"`` (HTTP 401) a checksum that does not verify. Every lookup is stored raw first.
"""

from __future__ import annotations

from typing import Any

import orjson

from app.adapters import dvcqg
from app.adapters.base import InboundRequest, Reply
from app.container import Container
from app.services.callbacks.pipeline import store_raw
from app.services.catalogue.gateway_accounts import present
from app.services.payments.attempts import checkout_request, open_attempt
from app.stores import callbacks as callbacks_store
from app.stores import payments as payments_store

PAID = ("succeeded", "partially_refunded", "refunded")


def _reply(code: str, message: str, status: int = 200) -> Reply:
    return Reply(status_code=status, body=orjson.dumps({"error_code": code, "message": message}))


async def bill_lookup(
    container: Container, account_id: str, inbound: InboundRequest, remote: str | None
) -> Reply:
    callback_id = await store_raw(container, "dvcqg", account_id, "lookup", inbound, remote)
    reply, verdict, reference = await _answer(container, account_id, inbound)
    async with container.db.transaction() as session:
        await callbacks_store.record(
            session,
            callback_id,
            verified=verdict != "invalid_signature",
            verdict=verdict,
            reference=reference,
            response_status=reply.status_code,
            response_body=reply.body.decode()[:2000],
            processed_at=container.clock(),
        )
    return reply


async def _answer(
    container: Container, account_id: str, inbound: InboundRequest
) -> tuple[Reply, str, str | None]:
    async with container.db.session() as session:
        row, agency_path = await callbacks_store.account_and_agency_path(session, account_id)
    if row is None or row.provider != "dvcqg" or agency_path is None:
        return _reply("97", "Tai khoan khong ton tai", 404), "unknown_account", None
    account = present(container, row)
    try:
        lookup: Any = orjson.loads(inbound.body)
    except orjson.JSONDecodeError:
        lookup = None
    if not isinstance(lookup, dict) or not dvcqg.lookup_ok(account, lookup):
        return _reply("97", "Sai ma xac thuc", 401), "invalid_signature", None
    dossier = str(lookup.get("MaHoSo") or "")
    now = container.clock()
    async with container.db.transaction() as session:
        payments = await payments_store.by_dossier_in_subtree(session, dossier, agency_path)
        pending = next((p for p in payments if p.status == "pending" and p.expires_at > now), None)
        if pending is None:
            if any(p.status in PAID for p in payments):
                return _reply("-2", "Ho so da duoc thanh toan"), "already_paid", None
            return dvcqg.lookup_reply(account, lookup, None), "not_found", None
        attempt = await payments_store.pending_attempt_at(session, pending.id, account_id)
        if attempt is None:
            attempt = open_attempt(session, pending, row, now)
            await payments_store.save_attempt(session, attempt)
        request = await checkout_request(session, attempt, "0.0.0.0", "vi")  # noqa: S104 - platform-initiated
    return dvcqg.lookup_reply(account, lookup, request), "bill_found", attempt.reference
