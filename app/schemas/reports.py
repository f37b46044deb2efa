"""The KPI report's bodies."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ReportRowOut(BaseModel):
    key: str = Field(description="Agency code, gateway name or revenue-type code ('TOTAL' for the total)")
    name: str = Field(description="The agency's, gateway's or revenue type's name")
    level: str | None = Field(description="Agency rows: province, department, district or commune")
    scope: Literal["subtree", "self"] | None = Field(
        description="Agency rows: the whole subtree, or only the bills of the node itself"
    )
    bills_with_fee: int | None = Field(
        description="Fee-bearing bills (not exempt, amount above zero), whatever their status"
    )
    bills_exempt: int | None = Field(description="Bills exempt from the fee")
    bills_paid: int = Field(description="Bills paid (online or at the counter)")
    bills_paid_online: int = Field(description="Bills paid through a gateway")
    online_rate: float | None = Field(
        description="bills_paid_online / bills_with_fee, 4 decimals; null without bills"
    )
    amount_paid: int = Field(description="Integer VND of the paid bills")
    amount_paid_online: int = Field(description="Integer VND of the bills paid online")
    amount_refunded: int | None = Field(description="Integer VND refunded of them")
    target_rate: float | None = Field(description="The year's target (inherited from the nearest ancestor)")
    meets_target: bool | None = Field(description="Whether bills_paid_online >= target × bills_with_fee")
    duplicate_paid: int | None = Field(description="Gateway rows: successes of an already paid bill")
    duplicate_amount: int | None = Field(description="Gateway rows: integer VND paid twice")


# One agency row of the example; the example's total is the same figures under the key TOTAL.
_EXAMPLE_ROW: dict[str, Any] = {
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


class ReportOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "from": "2026-01-01",
                "to": "2026-12-31",
                "agency_code": "000.00.00.H56",
                "group_by": "agency",
                "target_year": 2026,
                "data": [_EXAMPLE_ROW],
                "total": {**_EXAMPLE_ROW, "key": "TOTAL", "name": "Tổng cộng", "level": None, "scope": None},
            }
        }
    )

    from_: date = Field(alias="from", description="First day of the period (Vietnam time)")
    to: date = Field(description="Last day of the period, inclusive")
    agency_code: str | None = Field(description="The agency reported on; null: your root agencies")
    group_by: Literal["agency", "gateway", "revenue_type"] | None = Field(
        description="How rows are grouped: null, agency, gateway or revenue_type"
    )
    target_year: int = Field(description="The year whose targets apply")
    data: list[ReportRowOut] = Field(description="One row per agency, gateway or revenue type")
    total: ReportRowOut = Field(description="The whole period and scope in one row (key `TOTAL`)")
