"""Text helpers: Vietnamese folding for search, ASCII for wire formats, text that is safe to show
(no bidi controls) and cells that are safe to open in a spreadsheet."""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal
from typing import Any

_SPACES = re.compile(r"\s+")
# OWASP "CSV Injection": a text cell starting with one of these is run as a formula by spreadsheets.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")


def strip_diacritics(text: str) -> str:
    """``"Lệ phí hộ tịch"`` → ``"Le phi ho tich"`` (đ/Đ → d/D, which NFD does not split)."""
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")


def fold(text: str) -> str:
    """Lower-case, diacritics-free, single-spaced: the form we search on."""
    return _SPACES.sub(" ", strip_diacritics(text).lower()).strip()


def to_ascii(text: str, *, keep: str = "") -> str:
    """ASCII only (for gateways that reject or mis-measure non-ASCII text)."""
    plain = strip_diacritics(text)
    return "".join(ch for ch in plain if ch.isascii() and (ch.isprintable() or ch in keep))


def format_vnd(amount: int) -> str:
    """``50000`` → ``"50.000 ₫"`` (Vietnamese grouping)."""
    return f"{amount:,}".replace(",", ".") + " ₫"


def spreadsheet_cell(value: object) -> object:
    """One CSV cell, safe to open in Excel or LibreOffice (OWASP CSV injection): ``None`` → empty,
    booleans → ``true``/``false``, numbers stay numbers (a negative amount stays ``-5000``), and
    text that starts with ``=``, ``+``, ``-``, ``@``, tab or CR gets a leading ``'`` so it is shown
    as text instead of run as a formula. Text that is a plain number (``"-5000"``) is left as is:
    it cannot be a formula. Every ``csv`` writer in paybridge writes its cells through this."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return value
    text = str(value)
    if text.startswith(FORMULA_TRIGGERS) and _PLAIN_NUMBER.fullmatch(text) is None:
        return "'" + text
    return text


# Unicode bidirectional controls: embeddings and overrides (U+202A-U+202E, e.g. the RIGHT-TO-LEFT
# OVERRIDE that shows "exe.PDF" as "FDP.exe"), isolates (U+2066-U+2069) and the invisible marks
# (U+200E, U+200F, U+061C). Vietnamese never needs them; in a name they only reorder what is shown.
BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
_NO_BIDI = dict.fromkeys(map(ord, BIDI_CONTROLS))


def without_bidi_controls(text: str) -> str:
    """``text`` without bidi control characters, so it displays in the order it is stored."""
    return text.translate(_NO_BIDI)


def display_value(value: Any) -> Any:
    """Jinja's ``finalize`` for every page paybridge renders (checkout, dashboard, receipts): each
    ``{{ value }}`` that is text is shown without bidi controls; other values pass unchanged."""
    if isinstance(value, str):  # Markup too: its translate() keeps it Markup
        return value.translate(_NO_BIDI)
    return value


def display_tree(value: Any) -> Any:
    """``value`` (JSON-like: dicts, lists, text) with every text neutralised for display (PDFs)."""
    if isinstance(value, str):
        return without_bidi_controls(value)
    if isinstance(value, dict):
        return {key: display_tree(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [display_tree(item) for item in value]
    return value
