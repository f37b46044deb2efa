"""MoMo's messages as typed models (payment API v2; field names as on the wire)."""

from __future__ import annotations

from typing import Any

from app.adapters.common.wire import Integer, Text, WireModel


class Result(WireModel):
    """IPN (JSON), browser redirect (query) and the create/query/refund answers."""

    partnerCode: Text = ""
    orderId: Text = ""
    requestId: Text = ""
    amount: Integer = None
    orderInfo: Text = ""
    orderType: Text = ""
    transId: Integer = None
    resultCode: Integer = None
    message: Text = ""
    payType: Text = ""
    responseTime: Integer = None  # unix ms
    lastUpdated: Integer = None  # unix ms (query)
    payUrl: Any = None  # create
    refundTrans: Any = None  # refund query: a list of RefundEntry


class RefundEntry(WireModel):
    """One refund listed by the refund query."""

    orderId: Text = ""
    resultCode: Integer = None
    transId: Integer = None
    message: Text = ""
