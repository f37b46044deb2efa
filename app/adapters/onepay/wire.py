"""OnePay's messages as typed models (field names as on the wire, vpc_Version 2)."""

from __future__ import annotations

from app.adapters.common.wire import Text, WireModel


class PaymentNotice(WireModel):
    """IPN, browser return, QueryDR and refund answers (``k=v&…``), after vpc_SecureHash verified."""

    vpc_Merchant: Text = ""
    vpc_MerchTxnRef: Text = ""
    vpc_Amount: Text = ""  # VND × 100
    vpc_TxnResponseCode: Text = ""  # "0" approved, "99" cancelled, others declined
    vpc_TransactionNo: Text = ""
    vpc_Message: Text = ""
    vpc_DRExists: Text = ""  # QueryDR only: "Y" when OnePay has the transaction
