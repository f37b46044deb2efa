"""Reconciliation: a gateway's transaction file for one day against our records.

Every row is matched by our reference or the gateway's transaction id (within the one gateway
account), then classified:

- ``matched`` — both sides agree (paid with the same amount, or unpaid on both);
- ``missing_here`` — the gateway says paid and we do not know it as paid: an attempt still
  pending/unknown gets a status query scheduled at once; an unknown reference is flagged;
- ``missing_there`` — we recorded a success at this account that day and the file lacks it;
- ``amount_mismatch`` — both paid, different amounts;
- ``status_mismatch`` — we know the transaction and disagree on whether it was paid.

The same file (by SHA-256) for the same (provider, account, day) is imported once; a malformed
file is rejected whole, with the line number of every problem.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.container import Container
from app.errors import NotFound, ValidationFailed
from app.ids import new_id
from app.models import Attempt, ReconciliationItem, ReconciliationRun
from app.progress import Progress, no_progress
from app.services.after_payment.reconciliation_files import FileRow, mapping_for, parse_file
from app.stores import reconciliation as store
from app.text import spreadsheet_cell
from app.vntime import VN_TZ

ITEM_STATUSES = ("matched", "missing_here", "missing_there", "amount_mismatch", "status_mismatch")


@dataclass
class Verdict:
    status: str
    attempt: Attempt | None = None
    detail: str | None = None
    action: str | None = None


def classify(row: FileRow, attempt: Attempt | None) -> Verdict:
    if attempt is None:
        if row.paid:
            return Verdict("missing_here", None, "paid at the gateway, unknown here", "flagged")
        return Verdict("matched", None, "not paid at the gateway, unknown here")
    ours_paid = attempt.status == "succeeded"
    if row.paid and ours_paid:
        if row.amount != attempt.amount:
            return Verdict("amount_mismatch", attempt, f"gateway {row.amount} VND, ours {attempt.amount} VND")
        return Verdict("matched", attempt)
    if row.paid and attempt.status in ("pending", "unknown"):
        return Verdict(
            "missing_here", attempt, "paid at the gateway, still open here", "status_query_scheduled"
        )
    if row.paid:
        return Verdict("status_mismatch", attempt, f"paid at the gateway, {attempt.status} here")
    if ours_paid:
        return Verdict("status_mismatch", attempt, f"gateway status {row.status!r}, succeeded here")
    return Verdict("matched", attempt, "not paid on either side")


async def _attempts(session: AsyncSession, account_id: str, rows: list[FileRow]) -> dict[str, Attempt]:
    """Attempts of the account named by the rows, keyed ``ref:<reference>`` and ``txn:<id>``."""
    found: dict[str, Attempt] = {}
    refs = sorted({r.reference for r in rows if r.reference})
    txns = sorted({r.transaction_id for r in rows if r.transaction_id})
    for attempt in await store.attempts_by(session, account_id, "reference", refs):
        found[f"ref:{attempt.reference}"] = attempt
    for attempt in await store.attempts_by(session, account_id, "provider_transaction_id", txns):
        found[f"txn:{attempt.provider_transaction_id}"] = attempt
    return found


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=VN_TZ)
    return start, start + timedelta(days=1)


def _item(run_id: str, row_key: str, verdict: Verdict, row: FileRow | None) -> ReconciliationItem:
    attempt = verdict.attempt
    return ReconciliationItem(
        run_id=run_id,
        row_key=row_key,
        line_number=row.line if row else None,
        status=verdict.status,
        reference=(row.reference if row else None) or (attempt.reference if attempt else None),
        provider_transaction_id=(row.transaction_id if row else None)
        or (attempt.provider_transaction_id if attempt else None),
        attempt_id=attempt.id if attempt else None,
        payment_id=attempt.payment_id if attempt else None,
        their_amount=row.amount if row else None,
        our_amount=attempt.amount if attempt else None,
        their_status=row.status if row else None,
        our_status=attempt.status if attempt else None,
        detail=verdict.detail,
        action=verdict.action,
        raw=row.raw if row else {},
    )


@dataclass(frozen=True)
class Upload:
    provider: str
    account_id: str
    day: date
    content: bytes
    filename: str | None = None
    mapping: dict[str, Any] | None = None


async def import_file(
    container: Container, upload: Upload, *, progress: Progress = no_progress
) -> tuple[dict[str, Any], bool]:
    """Reconcile one file; returns the run and whether it is new (False: this file was imported before)."""
    digest = hashlib.sha256(upload.content).hexdigest()
    async with container.db.session() as session:
        account = await store.account(session, upload.account_id)
        if account is None or account.provider != upload.provider:
            raise ValidationFailed(
                f"No {upload.provider} account {upload.account_id!r}.",
                errors=[{"field": "account_id", "message": "unknown account for this provider"}],
            )
        existing = await _existing(session, upload, digest)
    if existing is not None:
        return await get_run(container, existing), False
    rows = parse_file(upload.content, mapping_for(upload.provider, upload.mapping))
    now = container.clock()
    run_id = new_id("rec")
    try:
        async with container.db.transaction() as session:
            await store.insert_run(
                session,
                {
                    "id": run_id,
                    "provider": upload.provider,
                    "provider_account_id": upload.account_id,
                    "day": upload.day,
                    "file_sha256": digest,
                    "filename": (upload.filename or "")[:300] or None,
                    "row_count": len(rows),
                    "counts": {},
                    "created_at": now,
                },
            )
            counts = await _reconcile(session, run_id, upload, rows, now, progress)
            await store.set_counts(session, run_id, counts)
    except IntegrityError:
        async with container.db.session() as session:
            existing = await _existing(session, upload, digest)
        if existing is None:
            raise
        return await get_run(container, existing), False  # the same file, imported concurrently
    return await get_run(container, run_id), True


async def _existing(session: AsyncSession, upload: Upload, digest: str) -> str | None:
    return await store.run_of_file(session, upload.provider, upload.account_id, upload.day, digest)


async def _reconcile(
    session: AsyncSession,
    run_id: str,
    upload: Upload,
    rows: list[FileRow],
    now: datetime,
    progress: Progress = no_progress,
) -> dict[str, int]:
    await progress(0, len(rows))
    attempts = await _attempts(session, upload.account_id, rows)
    counts = dict.fromkeys(ITEM_STATUSES, 0)
    seen: set[str] = set()
    items: list[ReconciliationItem] = []
    to_query: list[str] = []
    for row in rows:
        attempt = attempts.get(f"ref:{row.reference}") if row.reference else None
        attempt = attempt or (attempts.get(f"txn:{row.transaction_id}") if row.transaction_id else None)
        verdict = classify(row, attempt)
        if attempt is not None:
            seen.add(attempt.id)
            if verdict.action == "status_query_scheduled":
                to_query.append(attempt.id)
        counts[verdict.status] += 1
        items.append(_item(run_id, row.key, verdict, row))
        if len(items) % 500 == 0:
            await progress(len(items), len(rows))
    start, end = day_bounds(upload.day)
    for attempt in await store.succeeded_between(session, upload.account_id, start, end):
        if attempt.id not in seen:
            counts["missing_there"] += 1
            verdict = Verdict("missing_there", attempt, "succeeded here, absent from the gateway's file")
            items.append(_item(run_id, f"ours:{attempt.reference}", verdict, None))
    if to_query:  # the resolver asks the gateway about these in its next batch
        await store.check_now(session, to_query, now)
    store.add_items(session, items)
    await progress(len(rows), len(rows))
    return counts


def run_resource(run: ReconciliationRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "provider": run.provider,
        "account_id": run.provider_account_id,
        "date": run.day.isoformat(),
        "file_sha256": run.file_sha256,
        "filename": run.filename,
        "row_count": run.row_count,
        "counts": run.counts,
        "created_at": run.created_at.isoformat(),
    }


ITEM_FIELDS = (
    "status",
    "line_number",
    "reference",
    "provider_transaction_id",
    "their_amount",
    "our_amount",
    "their_status",
    "our_status",
    "attempt_id",
    "payment_id",
    "detail",
    "action",
)


def item_resource(item: ReconciliationItem) -> dict[str, Any]:
    return {name: getattr(item, name) for name in ITEM_FIELDS}


async def get_run(container: Container, run_id: str, status: str | None = None) -> dict[str, Any]:
    async with container.db.session() as session:
        run = await store.run(session, run_id)
        if run is None:
            raise NotFound("No such reconciliation run.")
        items = await store.items(session, run_id, status)
    return {**run_resource(run), "items": [item_resource(i) for i in items]}


def items_csv(run: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(ITEM_FIELDS)
    for item in run["items"]:
        writer.writerow([spreadsheet_cell(item[name]) for name in ITEM_FIELDS])
    return out.getvalue()


async def list_runs(
    container: Container, *, provider: str | None, day: date | None, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """Runs newest first; the cursor is the last run id of the previous page (ids sort by time)."""
    async with container.db.session() as session:
        runs = await store.runs(session, provider=provider, day=day, before=cursor, limit=limit + 1)
    more = len(runs) > limit
    runs = runs[:limit]
    return [run_resource(r) for r in runs], runs[-1].id if more and runs else None
