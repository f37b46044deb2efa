"""ZaloPay's messages as typed models (API v2; field names as on the wire)."""

from __future__ import annotations

from typing import Any

from app.adapters.common.wire import Integer, Text, WireModel


class Envelope(WireModel):
    """The callback: ``data`` (JSON text, what ``mac`` signs), ``mac``, ``type`` (1 order)."""

    data: Any = None
    mac: Any = None
    type: Any = 1


class PaidOrder(WireModel):
    """The callback's ``data`` once its mac verified."""

    app_id: Text = ""
    app_trans_id: Text = ""
    zp_trans_id: Integer = None
    server_time: Integer = None  # unix ms
    amount: Integer = None


class ReturnParams(WireModel):
    """Browser redirect ``?appid&apptransid&pmcid&bankcode&amount&discountamount&status&checksum``."""

    appid: Text = ""
    apptransid: Text = ""
    amount: Text = ""
    status: Text = ""
    checksum: Text = ""


class Answer(WireModel):
    """Every API answer (create, query, refund, query_refund)."""

    return_code: Integer = None
    sub_return_code: Integer = None
    return_message: Any = None
    sub_return_message: Any = None
    zp_trans_id: Integer = None
    server_time: Integer = None
    amount: Integer = None
    refund_id: Integer = None
    order_url: Any = None
    qr_code: Any = None
    zp_trans_token: Any = None
    order_token: Any = None
