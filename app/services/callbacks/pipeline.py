"""The callback pipeline (IPN) and browser returns.

Callback: store the raw request (its own commit) → verify the signature (constant time) → find
the attempt by our reference at this account → check the amount → compare-and-set transition →
event + outbox row, one commit → the gateway's own acknowledgement. A bad signature changes
nothing (it is stored with its verdict, and at most triggers a status query); an unknown
reference is stored and acknowledged as the gateway's protocol says; a duplicate changes nothing.

Return: stored and verified likewise, but it never finalises a payment: a verified return only
asks the resolver to query the gateway now.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from app.adapters.base import (
    Account,
    AckVerdict,
    GatewayAdapter,
    GatewayError,
    InboundRequest,
    Notification,
    Outcome,
    Reply,
)
from app.container import Container
from app.domain.states import ATTEMPT_OPEN, EventType
from app.models import ProviderAccount
from app.services.callbacks.resolver import resolve_attempt
from app.services.catalogue.gateway_accounts import adapter_for, present
from app.services.notifications.events import emit_event
from app.services.payments.transitions import Applied, GatewayFact, apply_outcome
from app.services.payments.views import renderer
from app.stores import callbacks as store
from app.stores import retry_transient

log = logging.getLogger("paybridge.callbacks")

_KEEP_HEADERS = {"content-type", "user-agent", "x-forwarded-for", "content-length"}
_SIGNATURE_HEADERS = ("signature", "mac", "checksum", "hash")


def headers_for_audit(headers: dict[str, str]) -> dict[str, str]:
    """Headers worth keeping: content negotiation and the gateway's signature headers (never auth)."""
    return {
        k: v
        for k, v in headers.items()
        if (k in _KEEP_HEADERS or any(s in k for s in _SIGNATURE_HEADERS))
        and k not in ("authorization", "cookie")
    }


async def store_raw(
    container: Container,
    provider: str,
    account_id: str,
    kind: str,
    inbound: InboundRequest,
    remote: str | None,
) -> int:
    callback_id, _row = await _store_raw(container, provider, account_id, kind, inbound, remote)
    return callback_id


async def _store_raw(
    container: Container,
    provider: str,
    account_id: str,
    kind: str,
    inbound: InboundRequest,
    remote: str | None,
) -> tuple[int, ProviderAccount | None]:
    """Store the raw callback (committed before anything else looks at it) and, in the same short
    transaction, read the gateway account it names."""
    async with container.db.transaction() as session:
        return await store.store_raw(
            session,
            {
                "provider": provider,
                "provider_account_id": account_id,
                "kind": kind,
                "method": inbound.method,
                "query_string": inbound.query_string,
                "headers": headers_for_audit(dict(inbound.headers)),
                "body": inbound.body,
                "remote_addr": remote,
                "received_at": container.clock(),
            },
        )


async def _record(container: Container, callback_id: int, **values: Any) -> None:
    async with container.db.transaction() as session:
        await store.record(session, callback_id, **values)


@dataclass(frozen=True)
class Loaded:
    adapter: GatewayAdapter
    account: Any


def present_account(container: Container, provider: str, row: ProviderAccount | None) -> Loaded | None:
    if row is None or row.provider != provider:
        return None
    return Loaded(adapter_for(provider), present(container, row))


def parse_callback(loaded: Loaded, inbound: InboundRequest) -> Notification:
    """The adapter's parse (pure: it verifies and reads, changes nothing), made storable."""
    try:
        note = loaded.adapter.parse_callback(loaded.account, inbound)
    except (GatewayError, ValueError, UnicodeDecodeError) as exc:
        log.info("unparseable callback", extra={"provider": loaded.adapter.name, "error": type(exc).__name__})
        note = Notification(verified=False, message="unparseable")
    return _storable(note)


def log_processed(
    container: Container, provider: str, verdict: AckVerdict, applied: str | None, note: Notification
) -> None:
    container.metrics.callbacks.labels(provider, verdict.value).inc()
    log.info(
        "callback processed",
        extra={
            "provider": provider,
            "verdict": verdict.value,
            "applied": applied,
            "reference": note.reference,
        },
    )


async def after_store(
    container: Container,
    provider: str,
    account_id: str,
    callback_id: int,
    loaded: Loaded | None,
    inbound: InboundRequest,
    note: Notification | None = None,
) -> Reply:
    """Everything after the raw store: parse (unless ``note`` already holds the parse with this
    very account), then check and apply in one transaction (the general path)."""
    if loaded is None:
        await _record(
            container, callback_id, verified=False, verdict="unknown_account", processed_at=container.clock()
        )
        container.metrics.callbacks.labels(provider, "unknown_account").inc()
        # Without the account we cannot sign an answer; the gateway's own "not found" is the truth.
        return adapter_for(provider).acknowledge(_NO_ACCOUNT, None, AckVerdict.not_found)
    adapter, account = loaded.adapter, loaded.account
    if note is None:
        note = parse_callback(loaded, inbound)
    parsed = note

    def acknowledge(verdict: AckVerdict) -> Reply:
        return adapter.acknowledge(account, parsed if parsed.verified else None, verdict)

    # A deadlock or serialization failure rolls the whole transaction back: run it again (never a
    # 500 where the gateway expects its own acknowledgement).
    verdict, applied, reply = await retry_transient(
        lambda: _process(container, provider, account_id, callback_id, note, acknowledge)
    )
    log_processed(container, provider, verdict, applied, note)
    return reply


def reply_values(container: Container, reply: Reply) -> dict[str, Any]:
    return {
        "response_status": reply.status_code,
        "response_body": reply.body.decode("utf-8", "replace")[:2000],
        "processed_at": container.clock(),
    }


async def _process(
    container: Container,
    provider: str,
    account_id: str,
    callback_id: int,
    note: Notification,
    acknowledge: Callable[[AckVerdict], Reply],
) -> tuple[AckVerdict, str | None, Reply]:
    """Check and apply the notification; the reply (pure) is computed and stored with the verdict,
    in the same transaction."""
    now = container.clock()
    async with container.db.transaction() as session:
        attempt = None
        if note.reference:
            attempt = await store.attempt_by_reference(session, note.reference, account_id)
        base = {"reference": note.reference, "amount": note.amount, "outcome": note.outcome.value}
        if not note.verified:
            # Unverifiable: at most a hint. If it names one of ours, query the gateway soon.
            if attempt is not None and attempt.status in ATTEMPT_OPEN:
                await store.check_soon(session, attempt.id, now)
            reply = acknowledge(AckVerdict.invalid_signature)
            await store.record(
                session,
                callback_id,
                verified=False,
                verdict="invalid_signature",
                **base,
                **reply_values(container, reply),
            )
            return AckVerdict.invalid_signature, None, reply
        paid = note.outcome is Outcome.succeeded
        if attempt is None:
            verdict, applied = AckVerdict.not_found, None
        elif note.amount is None or note.amount != attempt.amount:
            log.warning(
                "callback amount mismatch",
                extra={
                    "provider": provider,
                    "reference": note.reference,
                    "expected": attempt.amount,
                    "got": note.amount,
                },
            )
            verdict, applied = AckVerdict.amount_mismatch, None
        elif (
            paid
            and attempt.status == "succeeded"
            and note.provider_transaction_id
            and attempt.provider_transaction_id
            and note.provider_transaction_id != attempt.provider_transaction_id
        ):
            # The same attempt paid again under another gateway/bank transaction (a second bank
            # transfer with the same reference): money moved twice. Keep it, flag it, tell the portal.
            verdict, applied = AckVerdict.accepted, "second_payment"
            client_id = await store.payment_client(session, attempt.payment_id)
            data = await renderer(container.settings.public_base_url)(session, attempt.payment_id)
            await emit_event(
                session,
                type=EventType.payment_duplicate_paid,
                client_id=client_id,
                payment_id=attempt.payment_id,
                data={
                    **data,
                    "duplicate_transaction_id": note.provider_transaction_id,
                    "amount": note.amount,
                },
                now=now,
            )
        else:
            fact = GatewayFact(
                outcome=note.outcome,
                provider_transaction_id=note.provider_transaction_id,
                code=note.code,
                message=note.message,
                paid_at=note.paid_at,
            )
            result = await apply_outcome(
                session, attempt.id, fact, now=now, render=renderer(container.settings.public_base_url)
            )
            applied = result.value
            if result is Applied.unchanged and attempt.status not in ATTEMPT_OPEN:
                verdict = AckVerdict.already_processed
            else:
                verdict = AckVerdict.accepted
        review = paid and (
            verdict in (AckVerdict.not_found, AckVerdict.amount_mismatch) or applied == "second_payment"
        )
        reply = acknowledge(verdict)
        await store.record(
            session,
            callback_id,
            verified=True,
            verdict=applied if applied == "second_payment" else verdict.value,
            attempt_id=attempt.id if attempt else None,
            needs_review=review,
            **base,
            **reply_values(container, reply),
        )
    return verdict, applied, reply


def _storable(note: Notification) -> Notification:
    """A reference none of ours can be (too long for the column, a NUL byte) is no reference, and an
    amount beyond 64 bits no amount: neither may reach the database as a parameter or a value."""
    ref, amount = note.reference, note.amount
    if ref is not None and (len(ref) > 64 or "\x00" in ref):
        note = replace(note, reference=None)
    if amount is not None and not 0 <= amount < 2**63:
        note = replace(note, amount=None)
    return note


_NO_ACCOUNT = Account(id="", credentials={}, settings={}, callback_url="", return_url="")


@dataclass(frozen=True)
class ReturnResult:
    payment_id: str | None
    checkout_token: str | None
    verified: bool


async def handle_return(
    container: Container, provider: str, account_id: str, inbound: InboundRequest, remote: str | None
) -> ReturnResult:
    """Verify a browser return and point the citizen at the result page; never finalise."""
    callback_id, account_row = await _store_raw(container, provider, account_id, "return", inbound, remote)
    loaded = present_account(container, provider, account_row)
    note = Notification(verified=False)
    if loaded is not None:
        try:
            note = loaded.adapter.parse_return(loaded.account, inbound)
        except (GatewayError, ValueError, UnicodeDecodeError):
            note = Notification(verified=False)
        note = _storable(note)
    now = container.clock()
    async with container.db.transaction() as session:
        row = None
        if note.verified and note.reference:
            row = await store.attempt_and_token(session, note.reference, account_id)
            if row is not None and row.Attempt.status in ATTEMPT_OPEN:
                # The browser says something happened: ask the gateway now rather than in a minute.
                await store.check_soon(session, row.Attempt.id, now)
        await store.record(
            session,
            callback_id,
            verified=note.verified,
            verdict="return_verified" if note.verified else "invalid_signature",
            reference=note.reference,
            outcome=note.outcome.value,
            attempt_id=row.Attempt.id if row else None,
            processed_at=now,
        )
    if row is None:
        return ReturnResult(None, None, note.verified)
    if row.Attempt.status in ATTEMPT_OPEN:
        # Settle it now if the gateway already knows, so the result page can say so.
        await resolve_attempt(container, row.Attempt.id)
    return ReturnResult(row.Attempt.payment_id, row.checkout_token, True)
