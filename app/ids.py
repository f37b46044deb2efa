"""Identifiers: time-ordered, URL-safe ids for rows, and short gateway-safe references."""

from __future__ import annotations

import os
import secrets
import time

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _b32(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_id(prefix: str) -> str:
    """A ULID-style id with a type prefix, e.g. ``pay_01JD3…``: sortable by creation time."""
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    return f"{prefix}_{_b32(millis, 10)}{_b32(rand, 16)}"


def new_reference() -> str:
    """Our reference for one attempt at a gateway: 16 uppercase alphanumerics, unique.

    Every gateway we speak to accepts it verbatim (VNPay vnp_TxnRef, MoMo orderId, OnePay
    vpc_MerchTxnRef, DVCQG MaThamChieu, PayGov orderId) and it survives bank-transfer
    descriptions, which strip punctuation and case.
    """
    millis = time.time_ns() // 1_000_000
    return "PB" + _b32(millis, 9) + _b32(secrets.randbits(25), 5)


def new_token(nbytes: int = 24) -> str:
    return secrets.token_urlsafe(nbytes)
