"""Tiny HTML pages for simulators' hosted screens: no scripts, no external resources, every
value escaped here (callers pass plain text)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from fastapi.responses import HTMLResponse

from app.text import to_ascii

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem}"
    "table{border-collapse:collapse;width:100%}td{padding:.3rem;border-bottom:1px solid #ddd}"
    "button{margin:.3rem;padding:.5rem 1rem}.err{color:#b00}"
)

# (form value, label, data-testid)
OUTCOME_BUTTONS: tuple[tuple[str, str, str], ...] = (
    ("success", "Thanh toán / Pay", "pay"),
    ("failed", "Thất bại / Fail", "fail"),
    ("cancelled", "Hủy / Cancel", "cancel"),
)
_CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action *; frame-ancestors 'none'"


def page(title: str, body_html: str, *, status_code: int = 200) -> HTMLResponse:
    """A complete page around ``body_html`` (already escaped HTML)."""
    html = (
        '<!doctype html><html lang="vi"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{escape(title)}</h1>{body_html}</body></html>"
    )
    return HTMLResponse(
        html, status_code=status_code, headers={"Cache-Control": "no-store", "Content-Security-Policy": _CSP}
    )


def checkout_page(
    title: str,
    rows: Sequence[tuple[str, str]],
    action: str | None = None,
    buttons: Sequence[tuple[str, str, str]] = OUTCOME_BUTTONS,
) -> HTMLResponse:
    """The order as a table and one POST form (to ``action``, default: this same URL with its
    query string) whose buttons send the field ``outcome``."""
    table = "".join(
        f'<tr><td>{escape(k)}</td><td data-testid="row-{i}">{escape(v)}</td></tr>'
        for i, (k, v) in enumerate(rows)
    )
    form = "".join(
        f'<button type="submit" name="outcome" value="{escape(value)}" data-testid="{escape(testid)}">'
        f"{escape(label)}</button>"
        for value, label, testid in buttons
    )
    target = f' action="{escape(action)}"' if action else ""
    body = f'<table>{table}</table><form method="post"{target}>{form}</form>'
    return page(title, body)


def error_page(title: str, code: str, message: str, *, status_code: int = 400) -> HTMLResponse:
    """The gateway's error screen: its own code and message."""
    body = f'<p class="err">Mã lỗi / Error code: <b>{escape(code)}</b></p><p>{escape(message)}</p>'
    return page(title, body, status_code=status_code)


def notice_page(title: str, message: str, *, status_code: int = 200) -> HTMLResponse:
    """A plain screen: a title and one escaped sentence (not found, already processed, …)."""
    return page(title, f"<p>{escape(message)}</p>", status_code=status_code)


def minimal_pdf(lines: list[str]) -> bytes:
    """A small valid one-page PDF (Helvetica, ASCII text) with a correct xref table."""
    text = [to_ascii(line).replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") for line in lines]
    ops = "BT /F1 12 Tf 50 780 Td " + " ".join(f"({t}) Tj 0 -18 Td" for t in text) + " ET"
    stream = ops.encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 5 0 R"
        b" /Resources << /Font << /F1 4 0 R >> >> >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)
