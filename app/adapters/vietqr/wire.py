"""The bank credit notification (VietQR transfers) as a typed model."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Strict

from app.adapters.common.wire import WireModel


class BankCredit(WireModel):
    """``{account_number, amount, description, bank_transaction_id, credited_at}`` (signed body)."""

    amount: Annotated[int, Strict()]
    description: Annotated[str, Strict()]
    bank_transaction_id: Annotated[str, Strict()] | Annotated[int, Strict()]
    account_number: Any = ""
    credited_at: Any = None
