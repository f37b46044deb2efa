"""E-receipts (biên lai điện tử) of paid payments.

- One receipt per kind of revenue among a payment's items (phí, lệ phí, …), issued on first
  request and reused after: the same GET always shows the same numbers.
- Numbers come from the agency's series (form number, symbol, year): ``UPDATE … SET next_number
  = next_number + 1 RETURNING`` in the transaction that inserts the receipt. The series row lock
  serialises issuers, and a rolled-back issue gives its
  number back, so numbers never repeat and never skip.
- The gateway's own receipt (DVCQG GET_BILL, PayGov) is fetched lazily, never inside a
  transaction, and linked from ours.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.adapters.base import GatewayError, Payer, ReceiptRequest, ReceiptSource
from app.container import Container
from app.errors import Conflict, NotFound
from app.ids import new_id
from app.models import Agency, Attempt, Payment, Receipt
from app.services.access.auth import Principal
from app.services.catalogue.gateway_accounts import adapter_for, present
from app.services.payments.attempts import attempt_ref
from app.services.payments.transitions import PAYMENT_FINAL_PAID
from app.stores import refunds as store
from app.vntime import VN_TZ

log = logging.getLogger("paybridge.receipts")

# Mẫu số of an e-receipt of phí/lệ phí without a printed face value, and the symbol's pattern
# ("E": electronic, two digits of the year).
FORM_NUMBER = "01BLP0-001"
SYMBOL_PATTERN = "AA-{yy}E"
NUMBER_DIGITS = 7
GATEWAY_RETRY_AFTER = timedelta(minutes=10)

KIND_LABELS = {
    "phi": "Phí",
    "le_phi": "Lệ phí",
    "phat": "Tiền phạt",
    "thue": "Thuế",
    "thue_dat": "Thu từ đất",
    "khac": "Khoản thu khác",
}


class ReceiptUnavailable(Conflict):
    code, title = "receipt_unavailable", "No receipt for this payment"


_DIGITS = ["không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín"]
_GROUPS = ["", "nghìn", "triệu", "tỷ", "nghìn tỷ", "triệu tỷ"]


def _three(n: int, full: bool) -> list[str]:
    hundreds, tens, units = n // 100, n // 10 % 10, n % 10
    words: list[str] = []
    if hundreds or full:
        words += [_DIGITS[hundreds], "trăm"]
    if tens == 0:
        if units and words:
            words += ["linh", _DIGITS[units]]
        elif units:
            words.append(_DIGITS[units])
    elif tens == 1:
        words.append("mười")
        if units:
            words.append("lăm" if units == 5 else _DIGITS[units])
    else:
        words += [_DIGITS[tens], "mươi"]
        if units:
            words.append({1: "mốt", 5: "lăm"}.get(units, _DIGITS[units]))
    return words


def vnd_in_words(amount: int) -> str:
    """``50000`` → ``"Năm mươi nghìn đồng"`` (the "số tiền bằng chữ" line of a receipt)."""
    if amount < 0 or amount >= 10**18:
        raise ValueError("amount out of range")
    if amount == 0:
        return "Không đồng"
    groups: list[int] = []
    while amount:
        groups.append(amount % 1000)
        amount //= 1000
    words: list[str] = []
    for index in range(len(groups) - 1, -1, -1):
        if groups[index] == 0:
            continue
        words += _three(groups[index], full=bool(words))
        if _GROUPS[index]:
            words.append(_GROUPS[index])
    text = " ".join(words) + " đồng"
    return text[0].upper() + text[1:]


def format_number(number: int) -> str:
    return str(number).zfill(NUMBER_DIGITS)


def receipt_resource(receipt: Receipt) -> dict[str, Any]:
    content = receipt.content
    return {
        "id": receipt.id,
        "payment_id": receipt.payment_id,
        "kind": receipt.kind,
        "kind_label": KIND_LABELS.get(receipt.kind, receipt.kind),
        "form_number": receipt.form_number,
        "symbol": receipt.symbol,
        "number": format_number(receipt.number),
        "sequence": receipt.number,
        "amount": receipt.amount,
        "currency": "VND",
        "amount_in_words": vnd_in_words(receipt.amount),
        "issued_at": receipt.issued_at.isoformat(),
        **{k: content.get(k) for k in ("agency", "payer", "items", "payment")},
        "gateway_receipt": _gateway_link(receipt),
    }


def _gateway_link(receipt: Receipt) -> dict[str, Any] | None:
    info = receipt.gateway_receipt or {}
    if not receipt.gateway_receipt_url and not info.get("pdf_base64"):
        return None
    return {
        "provider": info.get("provider"),
        "url": receipt.gateway_receipt_url,
        "pdf": bool(info.get("pdf_base64")),
    }


async def _scoped(session: AsyncSession, principal: Principal, payment_id: str) -> tuple[Payment, Agency]:
    found = await store.payment_and_agency(session, payment_id)
    if found is None or not principal.covers(found[1].path):
        raise NotFound("No such payment.")
    return found


async def _series_id(container: Container, session: AsyncSession, agency_id: int, year: int) -> int:
    values = {
        "agency_id": agency_id,
        "form_number": FORM_NUMBER,
        "symbol": SYMBOL_PATTERN.format(yy=f"{year % 100:02d}"),
        "year": year,
        "next_number": 1,
        "created_at": container.clock(),
    }
    return await store.series_id(session, values)


def _content(
    payment: Payment, agency: Agency, attempt: Attempt | None, rows: Sequence[Any]
) -> dict[str, Any]:
    return {
        "agency": {"code": agency.code, "name": agency.name},
        "payer": payment.payer,
        "items": [
            {
                "revenue_type_code": item.revenue_type_code,
                "revenue_type_name": rtype.name,
                "chapter": rtype.chapter,
                "amount": item.amount,
                "description": item.description,
            }
            for item, rtype in rows
        ],
        "payment": {
            "id": payment.id,
            "dossier_code": payment.dossier_code,
            "bill_code": payment.bill_code,
            "procedure_code": payment.procedure_code,
            "description": payment.description,
            "channel": payment.channel,
            "paid_at": payment.paid_at.isoformat() if payment.paid_at else None,
            "provider": attempt.provider if attempt else None,
            "reference": attempt.reference if attempt else None,
            "provider_transaction_id": attempt.provider_transaction_id if attempt else None,
        },
    }


async def _issue(container: Container, payment_id: str) -> None:
    """Issue the receipts a paid payment still lacks, in one transaction."""
    now = container.clock()
    async with container.db.transaction() as session:
        # One issuer per payment (the row lock); others then find the receipts.
        payment = await store.lock_payment(session, payment_id)
        agency = await store.agency(session, payment.agency_id)
        attempt = await store.succeeded_attempt(session, payment)
        have = {r.kind for r in await store.receipts(session, payment_id)}
        by_kind: dict[str, list[Any]] = {}
        for item, rtype in await store.items_with_types(session, payment_id):
            by_kind.setdefault(rtype.kind, []).append((item, rtype))
        missing = sorted(kind for kind in by_kind if kind not in have)
        if not missing:
            return
        year = (payment.paid_at or now).astimezone(VN_TZ).year
        series_id = await _series_id(container, session, agency.id, year)
        for kind in missing:
            number, form_number, symbol = await store.take_number(session, series_id)
            rows = by_kind[kind]
            store.add_receipt(
                session,
                {
                    "id": new_id("rct"),
                    "payment_id": payment_id,
                    "kind": kind,
                    "series_id": series_id,
                    "form_number": form_number,
                    "symbol": symbol,
                    "number": number,
                    "amount": sum(item.amount for item, _ in rows),
                    "content": _content(payment, agency, attempt, rows),
                    "issued_at": now,
                },
            )


async def get_receipts(container: Container, principal: Principal, payment_id: str) -> dict[str, Any]:
    """The e-receipts of a paid payment (issued on first request), with the gateway's own linked."""
    async with container.db.session() as session:
        payment, _ = await _scoped(session, principal, payment_id)
        if payment.status not in PAYMENT_FINAL_PAID:
            raise ReceiptUnavailable(
                f"A receipt exists only for a paid payment; this one is {payment.status}."
            )
        kinds = {rtype.kind for _, rtype in await store.items_with_types(session, payment_id)}
        have = {r.kind for r in await store.receipts(session, payment_id)}
    if kinds - have:
        for tries_left in (2, 1, 0):
            try:
                await _issue(container, payment_id)
                break
            except IntegrityError:
                # A concurrent issuer won the race (its transaction gave our numbers back): look again.
                log.info("receipt issued concurrently", extra={"payment_id": payment_id})
                if not tries_left:
                    raise
    await _link_gateway_receipt(container, payment_id)
    async with container.db.session() as session:
        receipts = await store.receipts(session, payment_id)
        payment, _ = await _scoped(session, principal, payment_id)
    return {
        "payment_id": payment_id,
        "payment_status": payment.status,
        "amount": payment.amount,
        "refunded_amount": payment.refunded_amount,
        "receipts": [receipt_resource(r) for r in receipts],
    }


async def gateway_receipt_pdf(container: Container, principal: Principal, payment_id: str) -> bytes:
    """The gateway's own receipt PDF when it sent one as a file (DVCQG GET_BILL)."""
    async with container.db.session() as session:
        await _scoped(session, principal, payment_id)
        for receipt in await store.receipts(session, payment_id):
            data = (receipt.gateway_receipt or {}).get("pdf_base64")
            if data:
                return base64.b64decode(data)
    raise NotFound("The gateway sent no receipt file for this payment.")


async def _link_gateway_receipt(container: Container, payment_id: str) -> None:
    now = container.clock()
    async with container.db.session() as session:
        receipts = await store.receipts(session, payment_id)
        if not receipts or any(
            r.gateway_receipt_url or (r.gateway_receipt or {}).get("pdf_base64") for r in receipts
        ):
            return
        checked = [r.gateway_receipt_checked_at for r in receipts if r.gateway_receipt_checked_at]
        if checked and max(checked) > now - GATEWAY_RETRY_AFTER:
            return
        payment = await store.payment(session, payment_id)
        attempt = await store.succeeded_attempt(session, payment)
        account = await store.account(session, attempt.provider_account_id) if attempt else None
    if attempt is None or account is None:
        return
    adapter = adapter_for(attempt.provider)
    if not isinstance(adapter, ReceiptSource):
        return
    payer = receipts[0].content.get("payer") or {}
    request = ReceiptRequest(
        attempt=attempt_ref(attempt),
        payer=Payer(
            name=str(payer.get("name") or ""),
            id_number=payer.get("id_number"),
            phone=payer.get("phone"),
            email=payer.get("email"),
            address=payer.get("address"),
        ),
        dossier_code=payment.dossier_code,
        decided_on=(payment.paid_at or now).astimezone(VN_TZ).date(),
        procedure_name=payment.description or payment.procedure_code or payment.dossier_code,
    )
    url: str | None = None
    pdf: bytes | None = None
    try:
        call = adapter.fetch_receipt(present(container, account), request, container.http)
        fetched = await asyncio.wait_for(call, timeout=container.settings.gateway_timeout_seconds + 1)
        pdf, url = fetched.pdf, fetched.url
    except (GatewayError, TimeoutError) as exc:
        log.info(
            "gateway receipt unavailable", extra={"provider": attempt.provider, "error": type(exc).__name__}
        )
    info: dict[str, Any] | None = None
    if url or pdf:
        info = {"provider": attempt.provider, "fetched_at": now.isoformat()}
        if pdf:
            info["pdf_base64"] = base64.b64encode(pdf).decode()
    async with container.db.transaction() as session:
        await store.set_gateway_receipt(session, payment_id, url, info, now)


def local_time(value: str | None) -> str:
    if not value:
        return ""
    return datetime.fromisoformat(value).astimezone(VN_TZ).strftime("%H:%M %d/%m/%Y")
