"""EMVCo TLV and CRC-16/CCITT-FALSE, and the NAPAS VietQR builder/parser."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.adapters.emvco import (
    EmvcoError,
    ascii_text,
    build_vietqr,
    crc16_ccitt_false,
    crc_hex,
    encode_tlv,
    parse_tlv,
    parse_vietqr,
)

# vectors.json → napas_vietqr / crc_check_library_test_string
VECTOR_WITHOUT_CRC = (
    "00020101021238570010A00000072701270006970403011300110123456780208QRIBFTTA5303704540618000058"
    "02VN62340107NPS68690819thanh toan don hang6304"
)
VECTOR_PAYLOAD = VECTOR_WITHOUT_CRC + "2E2E"


def test_crc_standard_check_value() -> None:
    # The catalogued check value of CRC-16/CCITT-FALSE over "123456789".
    assert crc16_ccitt_false(b"123456789") == 0x29B1


def test_napas_vector_crc_and_payload() -> None:
    crc = f"{crc16_ccitt_false(VECTOR_WITHOUT_CRC.encode()):04X}"
    assert crc == "2E2E"
    assert VECTOR_WITHOUT_CRC + crc == VECTOR_PAYLOAD
    parsed = parse_vietqr(VECTOR_PAYLOAD)
    assert (parsed.bank_bin, parsed.account, parsed.amount) == ("970403", "0011012345678", 180000)
    assert (parsed.purpose, parsed.bill_number, parsed.service) == (
        "thanh toan don hang",
        "NPS6869",
        "QRIBFTTA",
    )


def test_builder_reproduces_the_vector_layout() -> None:
    # Same objects as the vector except 62: ours holds only the purpose (08).
    payload = build_vietqr("970403", "0011012345678", 180000, "thanh toan don hang")
    expected_body = VECTOR_WITHOUT_CRC.replace("62340107NPS68690819", "62230819")
    assert payload[:-4] == expected_body
    assert payload[-4:] == f"{crc16_ccitt_false(expected_body.encode()):04X}"


def test_static_qr_without_amount() -> None:
    payload = build_vietqr("970436", "1234567890", None)
    fields = parse_tlv(payload)
    assert fields["01"] == "11" and "54" not in fields and "62" not in fields
    assert parse_vietqr(payload).amount is None


def test_parse_rejects_bad_crc_and_lengths() -> None:
    with pytest.raises(EmvcoError, match="CRC"):
        parse_vietqr(VECTOR_WITHOUT_CRC + "2E2F")
    broken = VECTOR_WITHOUT_CRC.replace("5802VN", "5803VN")
    with pytest.raises(EmvcoError):
        parse_vietqr(broken + crc_hex(broken))
    with pytest.raises(EmvcoError, match="repeated"):
        parse_tlv("000201000201")  # "00" twice
    with pytest.raises(EmvcoError, match="does not fit"):
        parse_tlv("0005abc")


def test_encode_rejects_non_ascii_and_overlong() -> None:
    with pytest.raises(EmvcoError):
        encode_tlv("08", "Lệ phí")
    with pytest.raises(EmvcoError):
        encode_tlv("08", "x" * 100)
    with pytest.raises(EmvcoError):
        build_vietqr("97040", "123", 1000)
    with pytest.raises(EmvcoError):
        build_vietqr("970403", "123", 0)


def test_purpose_is_folded_to_ascii() -> None:
    assert ascii_text("Lệ phí   hộ tịch — Đăng ký!") == "Le phi ho tich Dang ky"
    assert len(ascii_text("a" * 40)) == 25


VIETNAMESE = st.text(
    alphabet=st.sampled_from(
        "aăâbcdđeêghiklmnoôơpqrstuưvxyàảãáạằẳẵắặầẩẫấậềểễếệìỉĩíịòỏõóọồổỗốộờởỡớợùủũúụừửữứựỳỷỹýỵ"
        " ĐÊ.,-/0123456789"
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(
    bank_bin=st.from_regex(r"\A[0-9]{6}\Z"),
    account=st.from_regex(r"\A[0-9A-Z]{1,19}\Z"),
    amount=st.integers(min_value=1, max_value=499_999_999),
    purpose=VIETNAMESE,
)
def test_round_trip(bank_bin: str, account: str, amount: int, purpose: str) -> None:
    payload = build_vietqr(bank_bin, account, amount, purpose)
    assert payload.isascii()
    parsed = parse_vietqr(payload)
    assert (parsed.bank_bin, parsed.account, parsed.amount) == (bank_bin, account, amount)
    assert parsed.purpose == (ascii_text(purpose) or None)
    # Every length prefix matches its value, at every level (parse_tlv is strict), CRC valid:
    assert payload[-8:-4] == "6304"
    assert payload[-4:] == f"{crc16_ccitt_false(payload[:-4].encode()):04X}"
    top = parse_tlv(payload)
    assert "".join(f"{tag}{len(value):02d}{value}" for tag, value in top.items()) == payload
