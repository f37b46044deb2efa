"""PayGov's messages as typed models (field names as on the wire)."""

from __future__ import annotations

from typing import Any

from app.adapters.common.wire import Count, Text, WireModel


class Result(WireModel):
    """The callback (JSON) and the browser return (query), ``errorCode`` "00" paid."""

    amount: Count = None
    orderId: Text = ""
    orderInfo: Text = ""
    requestCode: Text = ""
    transactionNo: Text = ""
    payDate: Text = ""  # yyyyMMddHHmmss, GMT+7
    paygate: Text = ""
    errorCode: Text = ""
    type: Text = ""
    transactionCode: Text = ""


class Answer(WireModel):
    """Every PayGov answer: ``data`` on success, an error code and text otherwise."""

    data: Any = None  # an object on success
    error_code: Text = ""
    errorCode: Text = ""
    error_message: Text = ""
    message: Text = ""
    transactionReceipt: Any = None  # the receipt answer may carry it at the top level
