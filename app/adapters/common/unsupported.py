"""Operations a gateway does not offer, declared once: each raises :class:`NotSupported` with the
gateway's own reason (its capabilities never list them, so callers do not try)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import httpx

from app.adapters.base import Account, AttemptRef, NotSupported, QueryResult, RefundRequest, RefundResult


class NoRefundApi:
    """Refunds happen outside the gateway (at the platform, by the agency's bank)."""

    no_refund_reason: ClassVar[str]

    async def refund(self, account: Account, request: RefundRequest, http: httpx.AsyncClient) -> RefundResult:
        raise NotSupported(self.no_refund_reason)

    async def query_refund(
        self, account: Account, request: RefundRequest, wire: Mapping[str, str], http: httpx.AsyncClient
    ) -> RefundResult:
        raise NotSupported(self.no_refund_reason)


class NoStatusQuery:
    """The gateway documents no status query: its callback is the only word on an attempt."""

    no_query_reason: ClassVar[str]

    async def query(self, account: Account, attempt: AttemptRef, http: httpx.AsyncClient) -> QueryResult:
        raise NotSupported(self.no_query_reason)
