"""Vietnam time. Gateways, receipts and reports speak Asia/Ho_Chi_Minh wall-clock time (GMT+7, no
daylight saving), whatever the server's own timezone; we store UTC."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def vn_date(moment: datetime) -> date:
    """The calendar day in Vietnam at ``moment`` (an aware datetime)."""
    return moment.astimezone(VN_TZ).date()
