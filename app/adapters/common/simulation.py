"""What a gateway's simulator gets from its host (mounted under /sandbox/{provider})."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Container
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

import httpx
import orjson
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from app.adapters.base import Account
from app.adapters.common.pages import checkout_page, notice_page

# (provider, credential field, value) → the merchant account holding that credential, if any.
# The real gateway knows its merchants' secrets and IPN addresses; the simulator asks this.
FindAccount = Callable[[str, str, str], Awaitable[Account | None]]


@dataclass
class SimulatorContext:
    http: Callable[[], httpx.AsyncClient]  # for the simulator's own calls (callbacks to us)
    find_account: FindAccount
    clock: Callable[[], datetime]
    base_url: str  # where the simulators are mounted, e.g. http://127.0.0.1:8000/sandbox
    # In-memory state of each simulator (its orders, transactions, refunds), by provider.
    state: dict[str, dict[str, Any]] = field(default_factory=dict)

    def store(self, provider: str) -> dict[str, Any]:
        return self.state.setdefault(provider, {})

    def url(self, provider: str) -> str:
        return f"{self.base_url}/{provider}"

    async def call_back(self, url: str, message: dict[str, Any]) -> dict[str, Any]:
        """POST ``message`` as JSON to a merchant's callback URL, as the gateway does (15 s):
        the record of the try, ``{status, body}`` or ``{status: None, error}``."""
        try:
            reply = await self.http().post(url, json=message, timeout=15.0)
        except httpx.HTTPError as exc:
            return {"status": None, "error": type(exc).__name__}
        return {"status": reply.status_code, "body": reply.text}

    async def ipn_get(
        self, url: str, confirmation: Callable[[httpx.Response], dict[str, Any]]
    ) -> dict[str, Any]:
        """GET a signed query to a merchant's IPN URL, as the redirect gateways (VNPay, OnePay) do:
        the record of the try, ``{status_code, body, **confirmation(answer)}`` or ``{error}``."""
        try:
            response = await self.http().get(url)
        except httpx.HTTPError as exc:
            return {"error": type(exc).__name__}
        return {"status_code": response.status_code, "body": response.text, **confirmation(response)}

    async def settlement(
        self,
        request: Request,
        provider: str,
        order: dict[str, Any] | None,
        *,
        outcomes: Container[str],
        open_when: tuple[str, object],
        merchant: tuple[str, str],
    ) -> tuple[str, Account, dict[str, Any]] | HTMLResponse:
        """The outcome the citizen clicked on a hosted page, the merchant account to call back and the
        order —
        or the page saying why not: no such order or outcome (400), the order is no longer open
        (``order[key] == value`` is false: 409), the merchant is gone (409).
        ``merchant`` is (credential field, the order's key holding its value)."""
        outcome = (await form_fields(request)).get("outcome", "")
        if order is None or outcome not in outcomes:
            return notice_page(
                "Yêu cầu không hợp lệ", "Giao dịch hoặc lựa chọn không hợp lệ.", status_code=400
            )
        key, value = open_when
        if order[key] != value:
            return notice_page("Đã xử lý", "Giao dịch này đã được xử lý.", status_code=409)
        field_name, order_key = merchant
        account = await self.find_account(provider, field_name, str(order[order_key]))
        if account is None:
            return notice_page("Lỗi", "Đối tác không còn tồn tại.", status_code=409)
        return outcome, account, order


def with_query(url: str, query: str) -> str:
    """``url`` with ``query`` appended (after ``?`` or ``&``)."""
    return f"{url}{'&' if '?' in url else '?'}{query}"


async def form_fields(request: Request) -> dict[str, str]:
    """A urlencoded body (the hosted pages' forms), undecodable bytes replaced."""
    return dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))


async def json_body(request: Request) -> dict[str, Any] | None:
    """A JSON object body, or None for anything else."""
    try:
        data = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


# A redirect gateway's check of a signed pay request: (params, merchant account, transaction) or
# the gateway's own error page.
PayCheck = Callable[[Request], Awaitable[tuple[dict[str, str], Account, dict[str, Any]] | Response]]
Settle = Callable[[dict[str, str], Account, dict[str, Any], str], Awaitable[Response]]


def hosted_pay_routes(
    router: APIRouter,
    path: str,
    title: str,
    *,
    check: PayCheck,
    rows: Callable[[dict[str, str]], list[tuple[str, str]]],
    outcomes: Container[str],
    bad_outcome: Callable[[], Response],
    settle: Settle,
) -> None:
    """The hosted pay page of a redirect gateway (VNPay, OnePay): GET shows the checked order,
    POST settles it with the outcome the citizen clicked (``settle`` signs the callback and
    redirects the browser)."""

    @router.get(path, include_in_schema=False)
    async def pay_page(request: Request) -> Response:
        checked = await check(request)
        if isinstance(checked, Response):
            return checked
        return checkout_page(title, rows(checked[0]))

    @router.post(path, include_in_schema=False)
    async def pay(request: Request) -> Response:
        checked = await check(request)
        if isinstance(checked, Response):
            return checked
        outcome = (await form_fields(request)).get("outcome", "")
        if outcome not in outcomes:
            return bad_outcome()
        params, account, txn = checked
        return await settle(params, account, txn, outcome)
