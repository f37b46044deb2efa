"""The hosted pages' words, Vietnamese first."""

from __future__ import annotations

STRINGS: dict[str, dict[str, str]] = {
    "vi": {
        "title": "Thanh toán trực tuyến",
        "agency": "Cơ quan thu",
        "dossier": "Mã hồ sơ",
        "payer": "Người nộp",
        "item": "Khoản nộp",
        "amount": "Số tiền",
        "total": "Tổng cộng",
        "choose": "Chọn phương thức thanh toán",
        "pay_with": "Thanh toán qua",
        "no_providers": "Cơ quan chưa cấu hình cổng thanh toán trực tuyến.",
        "status_pending": "Chờ thanh toán",
        "status_processing": "Đang xác nhận kết quả thanh toán…",
        "status_succeeded": "Thanh toán thành công",
        "status_expired": "Hoá đơn đã hết hạn",
        "status_cancelled": "Hoá đơn đã bị huỷ",
        "status_refunded": "Đã hoàn tiền",
        "status_partially_refunded": "Đã hoàn tiền một phần",
        "attempt_failed": "Giao dịch chưa thành công. Bạn có thể chọn lại phương thức khác.",
        "back": "Quay lại cổng dịch vụ công",
        "redirecting": "Đang chuyển đến cổng thanh toán…",
        "continue": "Tiếp tục",
        "scan": "Quét mã VietQR bằng ứng dụng ngân hàng để chuyển khoản",
        "transfer_note": "Nội dung chuyển khoản",
        "expires": "Hạn thanh toán",
        "switch": "English",
        "refresh": "Tải lại",
        "secured": "Được bảo vệ bởi paybridge",
        "error": "Có lỗi xảy ra",
    },
    "en": {
        "title": "Online payment",
        "agency": "Collecting agency",
        "dossier": "Dossier",
        "payer": "Payer",
        "item": "Item",
        "amount": "Amount",
        "total": "Total",
        "choose": "Choose how to pay",
        "pay_with": "Pay with",
        "no_providers": "This agency has no online payment gateway configured yet.",
        "status_pending": "Awaiting payment",
        "status_processing": "Confirming the payment result…",
        "status_succeeded": "Payment succeeded",
        "status_expired": "This bill has expired",
        "status_cancelled": "This bill was cancelled",
        "status_refunded": "Refunded",
        "status_partially_refunded": "Partially refunded",
        "attempt_failed": "The transaction did not go through. You can choose another method.",
        "back": "Back to the public-service portal",
        "redirecting": "Taking you to the payment gateway…",
        "continue": "Continue",
        "scan": "Scan this VietQR code with your banking app to transfer",
        "transfer_note": "Transfer description",
        "expires": "Pay before",
        "switch": "Tiếng Việt",
        "refresh": "Refresh",
        "secured": "Secured by paybridge",
        "error": "Something went wrong",
    },
}


def strings(lang: str) -> dict[str, str]:
    return STRINGS.get(lang, STRINGS["vi"])


# Status and channel words of the operator dashboard (Vietnamese throughout). One table for every
# kind of status shown there: payments, attempts, refunds, receipts, webhook deliveries, callbacks.
STATUS_VI: dict[str, str] = {
    # payments
    "pending": "Chờ thanh toán",
    "succeeded": "Thành công",
    "partially_refunded": "Hoàn tiền một phần",
    "refunded": "Đã hoàn tiền",
    "expired": "Hết hạn",
    "cancelled": "Đã huỷ",
    # attempts and refunds
    "unknown": "Chưa rõ (đang truy vấn)",
    "failed": "Không thành công",
    "manual": "Chờ hoàn thủ công",
    "processing": "Đang xử lý",
    # webhook deliveries
    "delivered": "Đã gửi",
    "dead": "Gửi lỗi (dừng)",
    "retrying": "Đang gửi lại",
    # channels
    "online": "Trực tuyến",
    "offline": "Tại quầy",
    # callbacks
    "ipn": "Thông báo kết quả (IPN)",
    "return": "Trình duyệt quay về",
    "query": "Truy vấn trạng thái",
    "lookup": "Tra cứu hoá đơn",
    # callback verdicts
    "accepted": "Đã ghi nhận",
    "already_processed": "Trùng, đã xử lý trước đó",
    "invalid_signature": "Sai chữ ký",
    "not_found": "Không tìm thấy hoá đơn",
    "amount_mismatch": "Sai số tiền",
    "error": "Lỗi tạm thời, cổng gửi lại",
    "unknown_account": "Tài khoản cổng không tồn tại",
    "return_verified": "Đã xác thực",
    "second_payment": "Nộp trùng lần hai",
    # receipts
    "receipt": "Biên lai",
    # jobs
    "queued": "Đang chờ",
    "running": "Đang chạy",
    "agencies_import": "Nhập danh mục cơ quan",
    "revenue_types_import": "Nhập danh mục nội dung kinh tế",
    "reconciliation_file": "Đối soát tệp giao dịch",
    "webhooks_redeliver": "Gửi lại webhook lỗi",
    # reconciliation
    "matched": "Khớp",
    "missing_here": "Cổng có, hệ thống chưa ghi nhận",
    "missing_there": "Hệ thống có, tệp của cổng thiếu",
    "status_mismatch": "Lệch trạng thái",
}


def status_vi(value: str | None) -> str:
    """The Vietnamese word for a status or channel; an unknown value is shown as it is."""
    if not value:
        return ""
    return STATUS_VI.get(value, value)
