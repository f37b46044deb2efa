"""How a gateway's transaction file (reconciliation export) is laid out: which column holds what.

Each gateway package declares its built-in :class:`ColumnMapping` in its spec; operators may
override single fields per upload (``app.services.after_payment.reconciliation_files.mapping_for``).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ColumnMapping:
    """Which columns of a gateway's file hold what (headers compared case-insensitively)."""

    amount: str
    reference: str | None = None
    transaction_id: str | None = None
    # None: every row is a completed payment (a bank statement of credits).
    status: str | None = None
    success: frozenset[str] = field(default_factory=frozenset)
    amount_divisor: int = 1  # VNPay and OnePay files carry amount × 100
    # A regex whose first group is our reference inside the reference column (ZaloPay
    # ``yymmdd_<ref>``, a bank transfer's description).
    reference_pattern: str | None = None
