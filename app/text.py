"""Text helpers: Vietnamese folding for search, ASCII for wire formats, and cells that are safe
to open in a spreadsheet."""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal

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
