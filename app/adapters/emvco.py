"""EMVCo merchant-presented QR (the NAPAS VietQR profile): TLV encoding, parsing and CRC.

Each data object is ``ID (2 digits) + length (2 digits) + value``. Lengths count characters;
we only ever emit ASCII, so characters and bytes agree (libraries disagree on non-ASCII).
The CRC (tag ``63``) is CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final
xor) over everything up to and including ``"6304"``, written as 4 uppercase hex digits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from app.text import to_ascii

NAPAS_AID = "A000000727"
SERVICE_TO_ACCOUNT = "QRIBFTTA"
SERVICE_TO_CARD = "QRIBFTTC"
PURPOSE_MAX = 25  # EMVCo additional-data sub-fields are "ans ..25"
_SPACES = re.compile(r"\s+")
_TAG = re.compile(r"^\d{2}$")
# The VietQR tree: which tags hold nested TLV lists.
VIETQR_TEMPLATE: dict[str, Any] = {"38": {"01": {}}, "62": {}}


class EmvcoError(ValueError):
    """A malformed QR payload or an unencodable value."""


def crc16_ccitt_false(data: bytes) -> int:
    """CRC-16/CCITT-FALSE: the check value of ``b"123456789"`` is 0x29B1."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def crc_hex(data: str) -> str:
    return f"{crc16_ccitt_false(data.encode('ascii')):04X}"


def encode_tlv(tag: str, value: str) -> str:
    """One data object; the value must be ASCII and at most 99 characters."""
    if not _TAG.match(tag):
        raise EmvcoError(f"tag {tag!r} is not two digits")
    if not value.isascii():
        raise EmvcoError(f"tag {tag}: value is not ASCII")
    if not 0 < len(value) <= 99:
        raise EmvcoError(f"tag {tag}: length {len(value)} outside 1..99")
    return f"{tag}{len(value):02d}{value}"


def parse_tlv(data: str, template: dict[str, Any] | None = None) -> dict[str, Any]:
    """Parse a TLV list into ``{tag: value}``; tags named in ``template`` are parsed again
    (recursively, with the sub-template) and become dicts. Duplicates and overruns raise."""
    template = template or {}
    out: dict[str, Any] = {}
    pos = 0
    while pos < len(data):
        head = data[pos : pos + 4]
        if len(head) < 4 or not head.isdigit():
            raise EmvcoError(f"bad TLV header at offset {pos}")
        tag, length = head[:2], int(head[2:])
        value = data[pos + 4 : pos + 4 + length]
        if length == 0 or len(value) != length:
            raise EmvcoError(f"tag {tag}: declared length {length} does not fit")
        if tag in out:
            raise EmvcoError(f"tag {tag} repeated")
        out[tag] = parse_tlv(value, template[tag]) if tag in template else value
        pos += 4 + length
    return out


def ascii_text(text: str, limit: int = PURPOSE_MAX) -> str:
    """Diacritics stripped, ASCII letters/digits/spaces only, single-spaced, cut to ``limit``."""
    plain = "".join(ch if ch.isalnum() else " " for ch in to_ascii(text))
    return _SPACES.sub(" ", plain).strip()[:limit].strip()


def build_vietqr(
    bank_bin: str,
    account: str,
    amount: int | None,
    purpose: str | None = None,
    *,
    to_card: bool = False,
) -> str:
    """The NAPAS VietQR string: dynamic (``01``="12") when ``amount`` is set, static otherwise.
    ``purpose`` is folded to ASCII by :func:`ascii_text` (≤ 25 characters)."""
    if not (len(bank_bin) == 6 and bank_bin.isdigit()):
        raise EmvcoError("bank BIN must be 6 digits")
    if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0):
        raise EmvcoError("amount must be a positive integer")
    beneficiary = encode_tlv("00", bank_bin) + encode_tlv("01", account)
    service = SERVICE_TO_CARD if to_card else SERVICE_TO_ACCOUNT
    merchant = encode_tlv("00", NAPAS_AID) + encode_tlv("01", beneficiary) + encode_tlv("02", service)
    parts = [
        encode_tlv("00", "01"),
        encode_tlv("01", "12" if amount is not None else "11"),
        encode_tlv("38", merchant),
        encode_tlv("53", "704"),
    ]
    if amount is not None:
        if len(str(amount)) > 13:
            raise EmvcoError("amount longer than 13 digits")
        parts.append(encode_tlv("54", str(amount)))
    parts.append(encode_tlv("58", "VN"))
    text = ascii_text(purpose) if purpose else ""
    if text:
        parts.append(encode_tlv("62", encode_tlv("08", text)))
    body = "".join(parts) + "6304"
    return body + crc_hex(body)


@dataclass(frozen=True)
class VietQR:
    bank_bin: str
    account: str
    service: str
    amount: int | None
    purpose: str | None
    bill_number: str | None
    reference_label: str | None
    fields: dict[str, Any]


def parse_vietqr(payload: str) -> VietQR:
    """Parse and validate a VietQR string: TLV lengths, the trailing CRC, the NAPAS tags."""
    if not payload.isascii():
        raise EmvcoError("payload is not ASCII")
    if len(payload) < 8 or payload[-8:-4] != "6304":
        raise EmvcoError("payload does not end with the CRC object 6304xxxx")
    if crc_hex(payload[:-4]) != payload[-4:].upper():
        raise EmvcoError("CRC mismatch")
    fields = parse_tlv(payload, VIETQR_TEMPLATE)
    if list(fields)[-1] != "63":
        raise EmvcoError("CRC is not the last object")
    if fields.get("00") != "01":
        raise EmvcoError("payload format indicator must be 01")
    if fields.get("53") != "704" or fields.get("58") != "VN":
        raise EmvcoError("not a VND / VN payload")
    merchant = fields.get("38")
    if not isinstance(merchant, dict) or merchant.get("00") != NAPAS_AID:
        raise EmvcoError("no NAPAS merchant account information (38)")
    beneficiary = merchant.get("01")
    if not isinstance(beneficiary, dict) or "00" not in beneficiary or "01" not in beneficiary:
        raise EmvcoError("no beneficiary BIN/account (38.01)")
    service = merchant.get("02", "")
    if service not in (SERVICE_TO_ACCOUNT, SERVICE_TO_CARD):
        raise EmvcoError("unknown service code (38.02)")
    raw_amount = fields.get("54")
    if raw_amount is not None and not (isinstance(raw_amount, str) and raw_amount.isdigit()):
        raise EmvcoError("amount (54) must be an integer")
    extra = fields.get("62", {})
    return VietQR(
        bank_bin=beneficiary["00"],
        account=beneficiary["01"],
        service=service,
        amount=int(raw_amount) if raw_amount is not None else None,
        purpose=extra.get("08"),
        bill_number=extra.get("01"),
        reference_label=extra.get("05"),
        fields=fields,
    )
