"""After payment: refunds, receipts and reconciliation."""
