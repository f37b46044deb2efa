"""Operator-API bodies for reconciliation runs."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel

ItemStatus = Literal["matched", "missing_here", "missing_there", "amount_mismatch", "status_mismatch"]


class ReconciliationItemOut(BaseModel):
    status: ItemStatus
    line_number: int | None
    reference: str | None
    provider_transaction_id: str | None
    their_amount: int | None
    our_amount: int | None
    their_status: str | None
    our_status: str | None
    attempt_id: str | None
    payment_id: str | None
    detail: str | None
    action: str | None


class RunOut(BaseModel):
    id: str
    provider: str
    account_id: str
    date: dt.date
    file_sha256: str
    filename: str | None
    row_count: int
    counts: dict[str, int]
    created_at: dt.datetime


class RunDetail(RunOut):
    items: list[ReconciliationItemOut]


class RunPage(BaseModel):
    data: list[RunOut]
    next_cursor: str | None
