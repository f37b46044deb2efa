"""Vietnamese text helpers: folding for search and ASCII for wire formats."""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")


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
