"""Operator-API bodies for reconciliation runs."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.schemas import examples as ex
from app.schemas.rows import NextCursor

ItemStatus = Literal["matched", "missing_here", "missing_there", "amount_mismatch", "status_mismatch"]


class ReconciliationItemOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": ex.RECONCILIATION_ITEM})

    status: ItemStatus = Field(description="How this row compares with our records")
    line_number: int | None = Field(
        description="The row's line in the file; null for `missing_there` rows (not in the file)"
    )
    reference: str | None = Field(description="Our reference as the file (or our record) gives it")
    provider_transaction_id: str | None = Field(description="The gateway's transaction id")
    their_amount: int | None = Field(description="The amount in the file, integer VND")
    our_amount: int | None = Field(description="The amount we recorded, integer VND")
    their_status: str | None = Field(description="The status the file gives")
    our_status: str | None = Field(description="The attempt's status here")
    attempt_id: str | None = Field(description="Our attempt, when matched")
    payment_id: str | None = Field(description="Our payment, when matched")
    detail: str | None = Field(description="What differs, in words")
    action: str | None = Field(
        description="What paybridge did about it (a status query scheduled, a credit flagged)"
    )


class RunOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": ex.RECONCILIATION_RUN})

    id: str = Field(description="The run's id")
    provider: str = Field(description="The gateway whose file it is")
    account_id: str = Field(description="The gateway account the file belongs to")
    date: dt.date = Field(description="The day (GMT+7) the file covers")
    file_sha256: str = Field(description="SHA-256 of the file; the same file is imported once")
    filename: str | None = Field(description="The uploaded file's name")
    row_count: int = Field(description="Rows read from the file")
    counts: dict[str, int] = Field(description="Rows per status (matched, missing_here, …)")
    created_at: dt.datetime = Field(description="When the file was imported")


class RunDetail(RunOut):
    model_config = ConfigDict(
        json_schema_extra={"example": {**ex.RECONCILIATION_RUN, "items": [ex.RECONCILIATION_ITEM]}}
    )

    items: list[ReconciliationItemOut] = Field(description="Every row's verdict, mismatches first")


class RunPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": ex.page(ex.RECONCILIATION_RUN)})

    data: list[RunOut] = Field(description="Runs, newest first")
    next_cursor: NextCursor
