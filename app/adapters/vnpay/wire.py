"""VNPay's messages as typed models (field names as on the wire, vnp_Version 2.1.0)."""

from __future__ import annotations

from app.adapters.common.wire import Text, WireModel


class PaymentNotice(WireModel):
    """IPN and browser return (GET query), after its vnp_SecureHash verified."""

    vnp_TmnCode: Text = ""
    vnp_Amount: Text = ""  # VND × 100
    vnp_BankCode: Text = ""
    vnp_BankTranNo: Text = ""
    vnp_CardType: Text = ""
    vnp_OrderInfo: Text = ""
    vnp_PayDate: Text = ""  # yyyyMMddHHmmss, GMT+7
    vnp_ResponseCode: Text = ""
    vnp_TransactionNo: Text = ""  # "0" when VNPay has none
    vnp_TransactionStatus: Text = ""
    vnp_TxnRef: Text = ""


class ApiAnswer(WireModel):
    """The answer of querydr and refund (JSON), after its vnp_SecureHash verified."""

    vnp_ResponseId: Text = ""
    vnp_Command: Text = ""
    vnp_ResponseCode: Text = ""
    vnp_Message: Text = ""
    vnp_TmnCode: Text = ""
    vnp_TxnRef: Text = ""
    vnp_Amount: Text = ""  # VND × 100
    vnp_BankCode: Text = ""
    vnp_PayDate: Text = ""
    vnp_TransactionNo: Text = ""
    vnp_TransactionType: Text = ""  # 01 payment, 02 full refund, 03 partial refund
    vnp_TransactionStatus: Text = ""
    vnp_OrderInfo: Text = ""
    vnp_PromotionCode: Text = ""
    vnp_PromotionAmount: Text = ""
