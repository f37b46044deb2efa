"""Tiny HTML pages for simulators' hosted screens: no scripts, no external resources, every
value escaped here (callers pass plain text)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from fastapi.responses import HTMLResponse

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
