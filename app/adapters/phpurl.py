"""PHP's ``urlencode``, byte for byte (VNPay and OnePay sign or send what it produces).

UTF-8 bytes; space → ``+``; every byte outside ``A-Za-z0-9-_.`` → uppercase ``%XX``. Unlike
Python's ``quote_plus``, ``~`` becomes ``%7E`` (and ``*`` becomes ``%2A``).
"""

from __future__ import annotations

from collections.abc import Iterable

_UNRESERVED = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
_TABLE: tuple[str, ...] = tuple(
    chr(b) if b in _UNRESERVED else "+" if b == 0x20 else f"%{b:02X}" for b in range(256)
)


def php_urlencode(value: str) -> str:
    """``urlencode($value)`` as PHP computes it."""
    return "".join(_TABLE[b] for b in value.encode("utf-8"))


def php_query(pairs: Iterable[tuple[str, str]]) -> str:
    """``k=v`` pairs, both sides PHP-urlencoded, joined by ``&`` in the order given."""
    return "&".join(f"{php_urlencode(k)}={php_urlencode(v)}" for k, v in pairs)
