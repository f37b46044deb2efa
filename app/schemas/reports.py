"""The KPI report's bodies."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ReportRowOut(BaseModel):
    key: str = Field(description="Agency code, gateway name or revenue-type code ('TOTAL' for the total)")
    name: str
    level: str | None = Field(description="Agency rows: province, department, district or commune")
    scope: Literal["subtree", "self"] | None = Field(
        description="Agency rows: the whole subtree, or only the bills of the node itself"
    )
    bills_with_fee: int | None
    bills_exempt: int | None
    bills_paid: int
    bills_paid_online: int
    online_rate: float | None
    amount_paid: int
    amount_paid_online: int
    amount_refunded: int | None
    target_rate: float | None
    meets_target: bool | None
    duplicate_paid: int | None = Field(description="Gateway rows: successes of an already paid bill")
    duplicate_amount: int | None


class ReportOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "from": "2026-01-01",
                "to": "2026-12-31",
                "agency_code": "000.00.00.H56",
                "group_by": "agency",
                "target_year": 2026,
                "data": [
                    {
                        "key": "000.00.31.H56",
                        "name": "Sở Tư pháp",
                        "level": "department",
                        "scope": "subtree",
                        "bills_with_fee": 1200,
                        "bills_exempt": 14,
                        "bills_paid": 1100,
                        "bills_paid_online": 420,
                        "online_rate": 0.35,
                        "amount_paid": 55000000,
                        "amount_paid_online": 21000000,
                        "amount_refunded": 50000,
                        "target_rate": 0.3,
                        "meets_target": True,
                        "duplicate_paid": None,
                        "duplicate_amount": None,
                    }
                ],
                "total": {"key": "TOTAL", "name": "Tổng cộng", "bills_with_fee": 1200, "...": "..."},
            }
        }
    )

    from_: date = Field(alias="from")
    to: date
    agency_code: str | None
    group_by: Literal["agency", "gateway", "revenue_type"] | None
    target_year: int
    data: list[ReportRowOut]
    total: ReportRowOut
