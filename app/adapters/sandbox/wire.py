"""The sandbox gateway's messages as typed models (our own wire format, see the adapter)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Strict

from app.adapters.common.wire import Text, WireModel


class Callback(WireModel):
    """The signed IPN body: ``{merchant_id, reference, amount, status, transaction_id, paid_at}``."""

    reference: Text
    amount: Annotated[int, Strict()]
    status: Text
    transaction_id: Any = None
    paid_at: Any = None


class Return(WireModel):
    """The signed browser return ``?reference&status&transaction_id&amount&sig``."""

    reference: str | None = None
    status: str | None = None
    transaction_id: str = ""
    amount: str = ""


class QueryAnswer(WireModel):
    """``{reference, status, amount, transaction_id, sig}``, signed over the first four."""

    reference: Text
    status: Text
    sig: Text
    amount: Any = None
    transaction_id: Any = None


class RefundAnswer(WireModel):
    """``{refund_id, status, sig}``, signed over ``refund_id|status``."""

    refund_id: Any = None
    status: Text = ""
    sig: Text = ""
