"""The PDF of e-receipts: one A5-landscape page per receipt, Vietnamese set in the bundled DejaVu Sans."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from app.adapters.registry import PROVIDERS, get_spec
from app.text import display_tree, format_vnd
from app.vntime import VN_TZ

FONT_DIR = Path(__file__).resolve().parents[2] / "fonts"
FONT = "DejaVu"
PROVIDER_NAMES = {name: get_spec(name).receipt_name for name in PROVIDERS}


def _date_line(issued_at: str) -> str:
    moment = datetime.fromisoformat(issued_at).astimezone(VN_TZ)
    return f"Ngày {moment.day:02d} tháng {moment.month:02d} năm {moment.year}"


def payment_method(payment: dict[str, Any]) -> str:
    if payment.get("channel") == "offline":
        return "Nộp trực tiếp tại quầy"
    provider = payment.get("provider")
    name = PROVIDER_NAMES.get(provider or "", provider or "")
    return f"Thanh toán trực tuyến qua {name}" if name else "Thanh toán trực tuyến"


class _ReceiptPDF(FPDF):
    def __init__(self) -> None:
        # A5 (148 × 210 mm) given as a size: the named format warns about a change in fpdf2 2.8.5.
        super().__init__(orientation="L", unit="mm", format=(148, 210))
        self.add_font(FONT, "", str(FONT_DIR / "DejaVuSans.ttf"))
        self.add_font(FONT, "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
        self.set_auto_page_break(auto=True, margin=12)
        self.set_margins(12, 10, 12)

    def line_text(self, label: str, value: str, size: float = 9) -> None:
        self.set_font(FONT, "", size)
        self.cell(self.get_string_width(label) + 1, 5.5, label)
        self.set_font(FONT, "B", size)
        self.multi_cell(0, 5.5, value, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _page(pdf: _ReceiptPDF, receipt: dict[str, Any]) -> None:
    pdf.add_page()
    agency = receipt.get("agency") or {}
    payer = receipt.get("payer") or {}
    payment = receipt.get("payment") or {}
    width = pdf.epw
    top = pdf.get_y()
    pdf.set_font(FONT, "B", 9)
    pdf.multi_cell(
        width * 0.6, 4.5, f"ĐƠN VỊ THU: {agency.get('name', '')}".upper(), new_x=XPos.LMARGIN, new_y=YPos.NEXT
    )
    pdf.set_font(FONT, "", 8)
    pdf.multi_cell(
        width * 0.6, 4.5, f"Mã đơn vị: {agency.get('code', '')}", new_x=XPos.LMARGIN, new_y=YPos.NEXT
    )
    left_bottom = pdf.get_y()
    pdf.set_xy(pdf.l_margin + width * 0.62, top)
    for label, value in (
        ("Mẫu số: ", receipt["form_number"]),
        ("Ký hiệu: ", receipt["symbol"]),
        ("Số: ", receipt["number"]),
    ):
        pdf.set_x(pdf.l_margin + width * 0.62)
        pdf.set_font(FONT, "", 9)
        pdf.cell(18, 5, label)
        pdf.set_font(FONT, "B", 9 if label != "Số: " else 11)
        pdf.cell(0, 5, value, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_y(max(left_bottom, pdf.get_y()) + 3)

    pdf.set_font(FONT, "B", 14)
    pdf.cell(0, 7, "BIÊN LAI THU PHÍ, LỆ PHÍ", align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, "", 9)
    pdf.cell(
        0, 5, f"(Biên lai điện tử — {receipt['kind_label']})", align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT
    )
    pdf.cell(0, 5, _date_line(receipt["issued_at"]), align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)

    pdf.line_text("Tên người nộp: ", str(payer.get("name") or ""))
    if payer.get("id_number"):
        pdf.line_text("Số định danh / CCCD: ", str(payer["id_number"]))
    if payer.get("address"):
        pdf.line_text("Địa chỉ: ", str(payer["address"]))
    pdf.line_text("Mã hồ sơ: ", str(payment.get("dossier_code") or ""))
    pdf.line_text("Hình thức thanh toán: ", payment_method(payment))
    if payment.get("provider_transaction_id") or payment.get("reference"):
        pdf.line_text(
            "Mã giao dịch: ",
            " / ".join(
                str(v) for v in (payment.get("reference"), payment.get("provider_transaction_id")) if v
            ),
        )
    pdf.ln(2)

    columns = (10, width - 10 - 22 - 34, 22, 34)
    pdf.set_font(FONT, "B", 8.5)
    for heading, w, align in zip(
        ("STT", "Nội dung khoản thu", "Mã NDKT", "Số tiền"), columns, ("C", "L", "C", "R"), strict=True
    ):
        pdf.cell(w, 6, heading, border=1, align=align)
    pdf.ln()
    pdf.set_font(FONT, "", 8.5)
    for index, item in enumerate(receipt.get("items") or [], start=1):
        text = str(item.get("revenue_type_name") or "")
        if item.get("description"):
            text += f" — {item['description']}"
        y = pdf.get_y()
        x = pdf.l_margin + columns[0]
        pdf.set_xy(x, y)
        pdf.multi_cell(columns[1], 5, text, border=1)
        height = pdf.get_y() - y
        pdf.set_xy(pdf.l_margin, y)
        pdf.cell(columns[0], height, str(index), border=1, align="C")
        pdf.set_x(x + columns[1])
        pdf.cell(columns[2], height, str(item.get("revenue_type_code") or ""), border=1, align="C")
        pdf.cell(columns[3], height, format_vnd(int(item["amount"])), border=1, align="R")
        pdf.set_xy(pdf.l_margin, y + height)
    pdf.set_font(FONT, "B", 9)
    pdf.cell(sum(columns[:3]), 6, "Tổng cộng", border=1, align="R")
    pdf.cell(columns[3], 6, format_vnd(int(receipt["amount"])), border=1, align="R", new_x=XPos.LMARGIN)
    pdf.ln(8)
    pdf.line_text("Số tiền bằng chữ: ", receipt["amount_in_words"])
    gateway = receipt.get("gateway_receipt") or {}
    if gateway.get("url"):
        pdf.set_font(FONT, "", 7.5)
        pdf.multi_cell(
            0, 4, f"Biên lai của cổng thanh toán: {gateway['url']}", new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )
    pdf.ln(2)
    pdf.set_font(FONT, "", 7.5)
    pdf.multi_cell(
        0,
        4,
        f"Biên lai điện tử do {agency.get('name', '')} phát hành qua paybridge. "
        f"Mã biên lai: {receipt['id']}.",
        align="C",
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )


def render_pdf(bundle: dict[str, Any]) -> bytes:
    """All receipts of a payment (``receipts.get_receipts``) as one PDF, a page each (names shown
    without bidi controls, as on every page paybridge renders)."""
    bundle = display_tree(bundle)
    pdf = _ReceiptPDF()
    first = bundle["receipts"][0] if bundle["receipts"] else None
    pdf.set_title(f"Biên lai {bundle['payment_id']}")
    pdf.set_author((first or {}).get("agency", {}).get("name", "paybridge"))
    pdf.set_creator("paybridge")
    if first is not None:
        pdf.set_creation_date(datetime.fromisoformat(first["issued_at"]))
    for receipt in bundle["receipts"]:
        _page(pdf, receipt)
    return bytes(pdf.output())
