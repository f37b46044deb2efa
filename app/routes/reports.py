"""Client API: the online-payment KPI report (JSON or CSV)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from app.deps import ContainerDep, CurrentClient
from app.routes.docs import AUTH_PROBLEMS, problems
from app.schemas.reports import ReportOut, ReportRowOut
from app.services.reporting import reports as service

router = APIRouter(prefix="/v1/reports", tags=["reports"])

REPORT_DESCRIPTION = """
The share of fee-bearing bills paid online, for a period, per agency (each row rolled up over its
subtree), per gateway or per revenue type, with a total row. Only agencies in your subtrees.

* **Period**: a bill counts when its `created_at`, as a Vietnam date (Asia/Ho_Chi_Minh), lies in
  `[from, to]` (both inclusive). `from` and `to` must lie in one calendar year: that year's targets apply.
* **`bills_with_fee`**: bills not exempt and with an amount above zero, whatever their status (an
  unpaid, expired or cancelled bill is a fee-bearing dossier not paid online). Exempt bills are
  counted apart in `bills_exempt`.
* **`bills_paid`**: status `succeeded`, `partially_refunded` or `refunded`. **`bills_paid_online`**: paid
  through a gateway; a payment recorded with `POST /v1/payments/{id}/offline` is paid, not online.
* **Amounts** (integer VND) are gross: `amount_paid` is the bills' amounts; `amount_refunded` what
  was refunded of them. A citizen paying the same bill twice is one bill and one `amount_paid`;
  the second success shows as `duplicate_paid`/`duplicate_amount` in the gateway breakdown.
* **`online_rate`** = `bills_paid_online / bills_with_fee` (4 decimals; null without bills).
  **`target_rate`**: the agency's target for the year, inherited from the nearest ancestor when it
  has none. **`meets_target`** is compared exactly (`bills_paid_online >= target × bills_with_fee`).
* **`group_by`**: absent — one row for `agency_code` (or for each of your root agencies);
  `agency` — one row per child of `agency_code` over its subtree, plus a `scope: "self"` row for
  the bills of `agency_code` itself when it has any (without `agency_code`: your root agencies);
  `gateway` — paid bills by the gateway that took the money (`offline` for counter payments;
  `bills_with_fee` and `online_rate` are null there); `revenue_type` — bills having a line of that
  code and the sums of those lines (a bill with two codes counts in both rows; the total counts it once).
* **`format=csv`**: the same rows and the total as `text/csv` (UTF-8 with BOM, for spreadsheets).
"""


def _row(row: service.ReportRow) -> ReportRowOut:
    return ReportRowOut(**service.row_values(row))


@router.get(
    "/online-payment",
    response_model=ReportOut,
    response_model_by_alias=True,
    summary="Online-payment KPI report",
    description=REPORT_DESCRIPTION,
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}},
        **problems(
            {
                **AUTH_PROBLEMS,
                404: "`agency_not_found`: no such agency in your subtrees.",
                422: "`validation_error`: bad dates, `to` before `from` or in another year, bad `group_by`.",
            }
        ),
    },
)
async def online_payment_report(
    principal: CurrentClient,
    container: ContainerDep,
    from_: Annotated[date, Query(alias="from", description="First day (Vietnam date), YYYY-MM-DD")],
    to: Annotated[date, Query(description="Last day (inclusive), same year as `from`")],
    agency_code: Annotated[str | None, Query(max_length=64)] = None,
    group_by: Literal["agency", "gateway", "revenue_type"] | None = None,
    format: Literal["json", "csv"] = "json",
) -> Any:
    """Bills with a fee, paid and paid online, per agency subtree, gateway or revenue type."""
    report = await service.online_payment_report(
        container.db,
        start=from_,
        end=to,
        agency_code=agency_code or None,
        group_by=group_by,
        scope=principal.agency_paths,
    )
    if format == "csv":
        name = f"online-payment_{report.start.isoformat()}_{report.end.isoformat()}.csv"
        return Response(
            "\ufeff" + service.report_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return ReportOut.model_validate(
        {
            "from": report.start,
            "to": report.end,
            "agency_code": report.agency_code,
            "group_by": report.group_by,
            "target_year": report.target_year,
            "data": [_row(r) for r in report.rows],
            "total": _row(report.total),
        }
    )
