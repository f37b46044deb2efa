"""The gateway contract. Adapters are pure protocol translation: canonical inputs plus the
gateway account's credentials in, canonical outputs out. They never import services, models
or routes, and they talk to the network only through the ``httpx.AsyncClient`` they are given.

Exceptions (all subclasses of :class:`GatewayError`):

- :class:`GatewayTechnicalError` — timeout, connection failure, 5xx, an unparseable or
  unverifiable answer. The outcome is *unknown*: retry or resolve later by a status query.
- :class:`GatewayLogicalError` — the gateway answered clearly and said no (declined, rejected,
  bad request). Show it; do not retry blindly.
- :class:`CredentialsError` — an account's credentials or settings are malformed (per field).
- :class:`NotSupported` — the gateway has no such operation (e.g. no refund API).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any, ClassVar, Protocol, runtime_checkable
from urllib.parse import urlencode

import httpx

from app.vntime import VN_TZ as VN_TZ  # re-exported: adapters format GMT+7 times


def gmt7(moment: datetime, fmt: str = "%Y%m%d%H%M%S") -> str:
    """Format an aware datetime as Vietnam wall-clock time (most gateways want yyyyMMddHHmmss)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime")
    return moment.astimezone(VN_TZ).strftime(fmt)


class GatewayError(Exception):
    """Base of every adapter error."""


class GatewayTechnicalError(GatewayError):
    """Timeout, connection error, 5xx or garbage: the outcome is unknown."""


class GatewayLogicalError(GatewayError):
    """The gateway said no, clearly."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class CredentialsError(GatewayError):
    """Malformed account credentials or settings; ``errors`` maps field → message."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = dict(errors)


class NotSupported(GatewayError):
    """The gateway has no such operation."""


class Capability(StrEnum):
    redirect = "redirect"  # checkout is a URL the browser is sent to
    api_create = "api_create"  # checkout needs a server-to-server create call
    qr = "qr"  # checkout is a QR payload
    callback = "callback"  # the gateway calls us back (IPN)
    browser_return = "browser_return"
    query = "query"
    refund = "refund"
    refund_query = "refund_query"


# Payment on the gateway's own page: the browser is sent there, the gateway answers by IPN and
# sends the browser back.
HOSTED_PAGE: frozenset[Capability] = frozenset(
    {Capability.redirect, Capability.callback, Capability.browser_return}
)
# Refunds through the gateway's API, and asking after them.
API_REFUNDS: frozenset[Capability] = frozenset({Capability.refund, Capability.refund_query})


class Outcome(StrEnum):
    """Canonical result of a payment at a gateway."""

    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"
    expired = "expired"
    pending = "pending"
    # An unrecognised code or an ambiguous answer: resolve by a status query, never guess.
    unknown = "unknown"


class RefundStatus(StrEnum):
    succeeded = "succeeded"
    pending = "pending"
    failed = "failed"
    unknown = "unknown"


class AckVerdict(StrEnum):
    """What the callback pipeline concluded; the adapter turns it into the gateway's own answer."""

    accepted = "accepted"  # processed (state changed, or a non-success recorded)
    already_processed = "already_processed"  # a duplicate: nothing changed
    invalid_signature = "invalid_signature"
    not_found = "not_found"  # no attempt with that reference at this account
    amount_mismatch = "amount_mismatch"
    error = "error"  # we could not process it now: the gateway should retry


@dataclass(frozen=True)
class Account:
    """One merchant account at a gateway, as the adapter sees it."""

    id: str
    credentials: Mapping[str, str]
    settings: Mapping[str, Any]
    callback_url: str  # our IPN address for this account
    return_url: str  # where the gateway sends the browser back


@dataclass(frozen=True)
class Payer:
    name: str
    id_number: str | None = None
    phone: str | None = None
    email: str | None = None
    address: str | None = None


@dataclass(frozen=True)
class LineItem:
    revenue_type_code: str
    revenue_type_name: str
    kind: str  # phi | le_phi | phat | thue | thue_dat | khac
    amount: int
    description: str | None = None


@dataclass(frozen=True)
class Beneficiary:
    account_number: str
    account_name: str
    bank_bin: str | None = None
    treasury_code: str | None = None


@dataclass(frozen=True)
class CheckoutRequest:
    """Everything a gateway may need to start collecting one attempt."""

    reference: str  # our unique reference for this attempt (16 uppercase alphanumerics)
    payment_id: str
    amount: int  # integer VND
    description: str  # free text, may hold Vietnamese; adapters strip or truncate as needed
    created_at: datetime  # aware; adapters format it in GMT+7
    expires_at: datetime
    client_ip: str
    locale: str  # "vi" | "en"
    payer: Payer
    items: Sequence[LineItem]
    agency_code: str
    agency_name: str
    dossier_code: str
    procedure_code: str | None = None
    bank_code: str | None = None
    beneficiary: Beneficiary | None = None
    beneficiaries: Mapping[str, Beneficiary] = field(default_factory=dict)  # by revenue-type code


@dataclass(frozen=True)
class CheckoutResult:
    checkout_url: str | None = None
    qr_payload: str | None = None
    provider_transaction_id: str | None = None
    # Exact strings a later call must repeat (VNPay vnp_CreateDate, ZaloPay app_trans_id, DVCQG
    # ThoiGianGD), stored on the attempt and handed back in :class:`AttemptRef`.
    wire: Mapping[str, str] = field(default_factory=dict)
    raw_request: str | None = None
    raw_response: str | None = None


@dataclass(frozen=True)
class AttemptRef:
    """What we stored about an attempt, for queries and refunds."""

    reference: str
    amount: int
    created_at: datetime
    wire: Mapping[str, str] = field(default_factory=dict)
    provider_transaction_id: str | None = None


@dataclass(frozen=True)
class InboundRequest:
    """An HTTP request from a gateway or a browser, exactly as received."""

    method: str
    query_string: str  # raw, undecoded
    headers: Mapping[str, str]  # lower-case names
    body: bytes

    def query_items(self) -> list[tuple[str, str]]:
        from urllib.parse import parse_qsl

        return parse_qsl(self.query_string, keep_blank_values=True)

    def form_items(self) -> list[tuple[str, str]]:
        from urllib.parse import parse_qsl

        return parse_qsl(self.body.decode("utf-8", "strict"), keep_blank_values=True)

    def params(self) -> list[tuple[str, str]]:
        """The query parameters, or the form body when a gateway POSTs them instead."""
        items = self.query_items()
        if not items and self.body:
            try:
                items = self.form_items()
            except UnicodeDecodeError as exc:
                raise GatewayTechnicalError("notification body is not UTF-8") from exc
        return items


def hundredths_to_vnd(raw: str) -> int | None:
    """An amount sent as VND × 100 (VNPay, OnePay) → VND; None unless a non-negative multiple of 100."""
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        return None
    value = int(raw)
    return value // 100 if value % 100 == 0 else None


@dataclass(frozen=True)
class Notification:
    """A callback or browser return, verified and parsed.

    ``verified`` False means the signature did not check (nothing else in it is to be trusted).
    ``amount`` is integer VND (already divided where the gateway sends × 100).
    """

    verified: bool
    reference: str | None = None
    amount: int | None = None
    outcome: Outcome = Outcome.unknown
    provider_transaction_id: str | None = None
    code: str | None = None  # the gateway's own result code
    message: str | None = None
    paid_at: datetime | None = None
    # Everything parsed, for the acknowledgement and the audit trail (never secrets).
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Reply:
    """The HTTP answer a gateway expects."""

    status_code: int = 200
    body: bytes = b""
    media_type: str = "application/json"


@dataclass(frozen=True)
class QueryResult:
    outcome: Outcome
    amount: int | None = None
    provider_transaction_id: str | None = None
    code: str | None = None
    message: str | None = None
    paid_at: datetime | None = None
    raw: str | None = None


@dataclass(frozen=True)
class RefundRequest:
    refund_reference: str  # our unique id for this refund (adapters may derive their own format)
    attempt: AttemptRef
    amount: int
    full: bool  # the whole paid amount
    reason: str
    requested_at: datetime
    client_ip: str = "127.0.0.1"
    requested_by: str = "paybridge"


@dataclass(frozen=True)
class RefundResult:
    status: RefundStatus
    provider_refund_id: str | None = None
    code: str | None = None
    message: str | None = None
    wire: Mapping[str, str] = field(default_factory=dict)
    raw: str | None = None


@runtime_checkable
class GatewayAdapter(Protocol):
    """What every gateway module provides. See the module docstring for the error tree."""

    name: ClassVar[str]
    capabilities: ClassVar[frozenset[Capability]]
    # Credential field names (API.md) that must be present and non-empty.
    credential_fields: ClassVar[tuple[str, ...]]
    # Smallest and largest amount in VND the gateway accepts (None: no limit).
    min_amount: ClassVar[int]
    max_amount: ClassVar[int | None]
    # True when create_checkout computes the checkout itself (a signed URL, a QR payload) without
    # calling the gateway: the payment, its attempt and the checkout can then commit together.
    local_checkout: ClassVar[bool]

    def validate_account(
        self, credentials: Mapping[str, Any], settings: Mapping[str, Any]
    ) -> tuple[dict[str, str], dict[str, Any]]:
        """Check and normalise credentials and settings; raise :class:`CredentialsError`."""
        ...

    def default_settings(self, simulator_base_url: str | None) -> dict[str, Any]:
        """Settings for a new account: the gateway's public test hosts, or with
        ``simulator_base_url`` (sandbox mode) this gateway's built-in simulator."""
        ...

    async def create_checkout(
        self, account: Account, request: CheckoutRequest, http: httpx.AsyncClient
    ) -> CheckoutResult:
        """Start collecting: a signed redirect URL, a create-API call, or a QR payload."""
        ...

    def parse_callback(self, account: Account, request: InboundRequest) -> Notification:
        """Verify (constant time) and parse an IPN. Never raises for a bad signature: returns
        ``verified=False``. Raises :class:`GatewayTechnicalError` only for unparseable input."""
        ...

    def acknowledge(self, account: Account, notification: Notification | None, verdict: AckVerdict) -> Reply:
        """The gateway's own answer to its callback, for what the pipeline concluded."""
        ...

    def parse_return(self, account: Account, request: InboundRequest) -> Notification:
        """Verify and parse the browser return (a hint only: it never finalises a payment)."""
        ...

    async def query(self, account: Account, attempt: AttemptRef, http: httpx.AsyncClient) -> QueryResult:
        """Ask the gateway for the status of an attempt (response signature verified)."""
        ...

    async def refund(self, account: Account, request: RefundRequest, http: httpx.AsyncClient) -> RefundResult:
        """Refund through the gateway's API; :class:`NotSupported` where it has none."""
        ...

    async def query_refund(
        self, account: Account, request: RefundRequest, wire: Mapping[str, str], http: httpx.AsyncClient
    ) -> RefundResult:
        """Status of an earlier refund (``wire`` is what :meth:`refund` returned)."""
        ...


@dataclass(frozen=True)
class ReceiptRequest:
    """What a gateway needs to issue its own e-receipt for a paid attempt."""

    attempt: AttemptRef
    payer: Payer
    dossier_code: str
    decided_on: date
    procedure_name: str


@dataclass(frozen=True)
class GatewayReceipt:
    """The gateway's own e-receipt: a PDF body, a URL to one, or both."""

    pdf: bytes | None = None
    url: str | None = None


@runtime_checkable
class ReceiptSource(Protocol):
    """Optional: gateways that issue their own e-receipt (DVCQG ``GET_BILL``, PayGov)."""

    async def fetch_receipt(
        self, account: Account, request: ReceiptRequest, http: httpx.AsyncClient
    ) -> GatewayReceipt:
        """Fetch the receipt; technical and logical errors as for every other call."""
        ...


async def post(
    http: httpx.AsyncClient, url: str, content: bytes, headers: Mapping[str, str]
) -> httpx.Response:
    """POST to a gateway; a timeout, a connection failure or a 5xx is :class:`GatewayTechnicalError`."""
    try:
        response = await http.post(url, content=content, headers=dict(headers))
    except httpx.TimeoutException as exc:
        raise GatewayTechnicalError(f"timeout calling {httpx.URL(url).host}") from exc
    except httpx.HTTPError as exc:
        raise GatewayTechnicalError(f"cannot reach {httpx.URL(url).host}: {type(exc).__name__}") from exc
    if response.status_code >= 500:
        raise GatewayTechnicalError(f"gateway answered HTTP {response.status_code}")
    return response


async def call_json(
    http: httpx.AsyncClient,
    url: str,
    payload: Mapping[str, Any],
    *,
    headers: Mapping[str, str] | None = None,
    form: bool = False,
) -> tuple[dict[str, Any], str]:
    """POST JSON (or, with ``form``, a urlencoded form) and parse a JSON object answer; every
    technical failure becomes :class:`GatewayTechnicalError`. Returns the parsed object and the raw text."""
    import orjson

    if form:
        content, kind = urlencode(payload).encode(), "application/x-www-form-urlencoded"
    else:
        content, kind = orjson.dumps(payload), "application/json"
    response = await post(http, url, content, {"Content-Type": kind, **(headers or {})})
    raw = response.text
    try:
        data = orjson.loads(response.content)
    except orjson.JSONDecodeError as exc:
        raise GatewayTechnicalError(f"gateway answered non-JSON (HTTP {response.status_code})") from exc
    if not isinstance(data, dict):
        raise GatewayTechnicalError("gateway answered JSON that is not an object")
    return data, raw


def require_amount(adapter: GatewayAdapter, amount: int, message: str) -> None:
    """:class:`GatewayLogicalError` ``amount_out_of_range`` outside the adapter's limits."""
    ceiling = adapter.max_amount
    if isinstance(amount, bool) or amount < adapter.min_amount or (ceiling is not None and amount > ceiling):
        raise GatewayLogicalError(message, code="amount_out_of_range")


def require_fields(
    values: Mapping[str, Any],
    names: Sequence[str],
    *,
    section: str = "credentials",
    errors: dict[str, str] | None = None,
) -> dict[str, str]:
    """The named fields as non-empty strings, or :class:`CredentialsError` naming each missing one.

    With ``errors`` given, problems are added to it instead and the valid fields returned, so a
    caller can go on checking settings and report every problem at once.
    """
    collect = errors is not None
    errors = errors if errors is not None else {}
    out: dict[str, str] = {}
    for name in names:
        value = values.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            errors[f"{section}.{name}"] = "required"
        elif not isinstance(value, str | int):
            errors[f"{section}.{name}"] = "must be a string"
        else:
            out[name] = str(value).strip()
    if errors and not collect:
        raise CredentialsError(errors)
    return out
