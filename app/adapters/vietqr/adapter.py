"""VietQR bank transfer (NAPAS 247): a dynamic QR to the agency's account, matched by a signed
bank credit notification.

- Checkout: the NAPAS EMVCo payload (:mod:`app.adapters.emvco`), purpose (62.08) = our
  reference, a space, then the ASCII-folded description, cut to 25 characters (so the
  reference always survives). No checkout URL.
- Credit notification (our design, agreed with the bank connector): ``POST`` JSON
  ``{account_number, amount, description, bank_transaction_id, credited_at}`` (``amount`` an
  integer VND, ``credited_at`` ISO 8601, GMT+7 when it has no offset) with header
  ``X-Signature: <lowercase hex HMAC-SHA256(notify_secret, raw body)>``. A credit to another
  account number is verified but ``unknown`` (never matched here).
- Our answer: ``200 {"status": "ok"}`` whenever the credit is recorded — matched, duplicate,
  unmatched or short (kept for an operator, so the bank must not resend); ``401
  {"status": "error", "error": "invalid_signature"}``; ``503 {"status": "retry"}`` when we could
  not process it now (the bank resends).
- Limits: 1 VND to 499 999 999 VND (the NAPAS 247 per-transfer ceiling).
- No browser return, no status query, no refund: bank transfers have none.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

import httpx
import orjson

from app.adapters.base import (
    VN_TZ,
    Account,
    AckVerdict,
    Capability,
    CheckoutRequest,
    CheckoutResult,
    CredentialsError,
    GatewayTechnicalError,
    InboundRequest,
    Notification,
    NotSupported,
    Outcome,
    Reply,
    require_fields,
)
from app.adapters.common.unsupported import NoRefundApi, NoStatusQuery
from app.adapters.common.wire import json_object
from app.adapters.emvco import PURPOSE_MAX, ascii_text, build_vietqr
from app.adapters.vietqr.wire import BankCredit
from app.text import strip_diacritics

SIGNATURE_HEADER = "x-signature"
_CROCKFORD = "0-9A-HJKMNP-TV-Z"
_SEP = r"[\s._\-]*"
# Our reference written contiguously (case folded): "PB" + 14 Crockford characters.
_STRICT = re.compile(rf"PB[{_CROCKFORD}]{{14}}")
# The same with separators a bank or a citizen may have inserted between any two characters.
_LOOSE = re.compile(rf"(?=(P{_SEP}B(?:{_SEP}[{_CROCKFORD}]){{14}}))")
_NOT_ALNUM = re.compile(r"[^0-9A-Z]")
_ACCOUNT = re.compile(r"^[0-9A-Za-z]{1,19}$")


def candidate_references(description: str) -> list[str]:
    """Every plausible reference in a transfer description, the most likely first.

    Contiguous matches come first; then matches with separators inside, those holding a digit
    before those made of letters only (our references start with a timestamp, so hold digits;
    a letters-only run is more likely ordinary words after a "pb")."""
    text = strip_diacritics(description).upper()
    found: list[str] = []
    for match in _STRICT.finditer(text):
        if match.group() not in found:
            found.append(match.group())
    loose = [_NOT_ALNUM.sub("", m.group(1)) for m in _LOOSE.finditer(text)]
    loose.sort(key=lambda ref: not any(ch.isdigit() for ch in ref))  # stable: keeps text order
    found.extend(ref for ref in loose if ref not in found)
    return found


def extract_reference(description: str) -> str | None:
    """Our ``PB…`` reference in a bank transfer description, tolerant of case, diacritics,
    spaces inside it and surrounding words; None when there is none."""
    candidates = candidate_references(description)
    return candidates[0] if candidates else None


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def _credited_at(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=VN_TZ)


class VietqrAdapter(NoStatusQuery, NoRefundApi):
    name: ClassVar[str] = "vietqr"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.qr, Capability.callback})
    credential_fields: ClassVar[tuple[str, ...]] = (
        "bank_bin",
        "account_number",
        "account_name",
        "notify_secret",
    )
    min_amount: ClassVar[int] = 1
    no_query_reason: ClassVar[str] = "bank transfers have no status query"
    no_refund_reason: ClassVar[str] = "bank transfers are refunded by the agency's bank, not through an API"
    local_checkout: ClassVar[bool] = True  # built here: no call to the gateway
    max_amount: ClassVar[int | None] = 499_999_999

    def validate_account(
        self, credentials: Mapping[str, Any], settings: Mapping[str, Any]
    ) -> tuple[dict[str, str], dict[str, Any]]:
        errors: dict[str, str] = {}
        creds = require_fields(credentials, self.credential_fields, errors=errors)
        if "bank_bin" in creds and not (len(creds["bank_bin"]) == 6 and creds["bank_bin"].isdigit()):
            errors["credentials.bank_bin"] = "must be 6 digits"
        if "account_number" in creds:
            creds["account_number"] = creds["account_number"].replace(" ", "")
            if not _ACCOUNT.match(creds["account_number"]):
                errors["credentials.account_number"] = "must be 1-19 letters or digits"
        if "notify_secret" in creds and len(creds["notify_secret"]) < 16:
            errors["credentials.notify_secret"] = "must be at least 16 characters"
        if errors:
            raise CredentialsError(errors)
        return creds, dict(settings)

    def default_settings(self, simulator_base_url: str | None) -> dict[str, Any]:
        return {}

    def purpose(self, request: CheckoutRequest) -> str:
        """62.08: the reference first, then as much of the description as fits."""
        return ascii_text(f"{request.reference} {request.description}", PURPOSE_MAX)

    async def create_checkout(
        self, account: Account, request: CheckoutRequest, http: httpx.AsyncClient
    ) -> CheckoutResult:
        purpose = self.purpose(request)
        payload = build_vietqr(
            account.credentials["bank_bin"], account.credentials["account_number"], request.amount, purpose
        )
        return CheckoutResult(qr_payload=payload, wire={"purpose": purpose})

    def parse_callback(self, account: Account, request: InboundRequest) -> Notification:
        given = request.headers.get(SIGNATURE_HEADER, "")
        expected = sign(account.credentials["notify_secret"], request.body)
        message = json_object(request.body, "notification body")
        if not (given.isascii() and hmac.compare_digest(given.strip().lower(), expected)):
            return Notification(verified=False, fields=message)
        credit = BankCredit.parse(message)
        if not str(credit.bank_transaction_id):
            raise GatewayTechnicalError("notification lacks bank_transaction_id")
        ours = str(credit.account_number).replace(" ", "") == account.credentials["account_number"]
        return Notification(
            verified=True,
            reference=extract_reference(credit.description),
            amount=credit.amount,
            outcome=Outcome.succeeded if ours else Outcome.unknown,
            provider_transaction_id=str(credit.bank_transaction_id),
            message=None if ours else "credit to another account",
            paid_at=_credited_at(credit.credited_at),
            fields=message,
        )

    def acknowledge(self, account: Account, notification: Notification | None, verdict: AckVerdict) -> Reply:
        if verdict is AckVerdict.invalid_signature:
            return Reply(
                status_code=401, body=orjson.dumps({"status": "error", "error": "invalid_signature"})
            )
        if verdict is AckVerdict.error:
            return Reply(status_code=503, body=orjson.dumps({"status": "retry"}))
        return Reply(status_code=200, body=orjson.dumps({"status": "ok", "result": str(verdict)}))

    def parse_return(self, account: Account, request: InboundRequest) -> Notification:
        raise NotSupported("a bank transfer has no browser return")


adapter = VietqrAdapter()
