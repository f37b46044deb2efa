"""VietQR adapter: the QR payload, reference extraction from bank descriptions, the signed
credit notification, and the simulated bank end to end."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from app.adapters.base import (
    Account,
    AckVerdict,
    AttemptRef,
    Capability,
    CredentialsError,
    GatewayAdapter,
    GatewayTechnicalError,
    InboundRequest,
    NotSupported,
    Outcome,
)
from app.adapters.emvco import crc16_ccitt_false, parse_tlv, parse_vietqr
from app.adapters.vietqr.adapter import adapter, candidate_references, extract_reference
from tests.adapters.national_harness import SIM_BASE, NationalHarness, checkout_request
from tests.support import Clock

REF = "PB01KAB3CDEFGH23"
T0 = datetime(2026, 11, 21, 3, 0, 0, tzinfo=UTC)
SECRET = "bank-notify-secret-0123"
CREDS = {"bank_bin": "970415", "account_number": "113000006789", "account_name": "UBND PHUONG LANG"}
CREDS |= {"notify_secret": SECRET}
ACCOUNT = Account("acc_1", CREDS, {}, "https://paybridge.test/cb", "https://paybridge.test/ret")


def notification(secret: str = SECRET, **changes: Any) -> InboundRequest:
    body = {
        "account_number": "113000006789",
        "amount": 50000,
        "description": f"NGUYEN VAN AN chuyen tien {REF} le phi",
        "bank_transaction_id": "FT26325ABCDEF",
        "credited_at": "2026-11-21T10:05:00+07:00",
    } | changes
    raw = json.dumps(body).encode()
    signature = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return InboundRequest("POST", "", {"x-signature": signature, "content-type": "application/json"}, raw)


def test_contract_and_capabilities() -> None:
    assert isinstance(adapter, GatewayAdapter)
    assert adapter.capabilities == frozenset({Capability.qr, Capability.callback})
    assert adapter.max_amount == 499_999_999


async def test_checkout_is_a_valid_napas_payload() -> None:
    request = checkout_request(created_at=T0)
    result = await adapter.create_checkout(ACCOUNT, request, httpx.AsyncClient())
    payload = result.qr_payload or ""
    assert result.checkout_url is None and payload.isascii()
    assert payload[-4:] == f"{crc16_ccitt_false(payload[:-4].encode()):04X}"
    fields = parse_tlv(payload, {"38": {"01": {}}, "62": {}})
    assert (fields["00"], fields["01"], fields["53"], fields["54"], fields["58"]) == (
        "01",
        "12",
        "704",
        "50000",
        "VN",
    )
    assert fields["38"] == {
        "00": "A000000727",
        "01": {"00": "970415", "01": "113000006789"},
        "02": "QRIBFTTA",
    }
    purpose = fields["62"]["08"]
    assert purpose == "PB01KAB3CDEFGH23 Le phi c" and len(purpose) <= 25
    assert result.wire == {"purpose": purpose}
    assert extract_reference(parse_vietqr(payload).purpose or "") == REF


@pytest.mark.parametrize(
    "description",
    [
        f"chuyen tien {REF.lower()} le phi",
        "CHUYEN TIEN PB01 KAB3 CDEF GH23 LE PHI",
        "pb 01kab3cdefgh23",
        f"Nguyễn Văn Ân chuyển tiền {REF} lệ phí hộ tịch",
        f"MBVCB.1234567.{REF}.CT tu 0123456789 NGUYEN VAN AN",
        f"IBFT {REF}LEPHI",
        "PB01-KAB3-CDEF-GH23",
        "pb thanh txyzabcdefgh, ma PB 01KAB3 CDEFGH23",  # letters-only run ranked after the real one
    ],
)
def test_extract_reference_tolerant(description: str) -> None:
    assert extract_reference(description) == REF


@pytest.mark.parametrize(
    "description",
    [
        "",
        "chuyen tien le phi ho tich",
        "PB01KAB3CDEF",
        "PB01KAB3CDEFGHI3",
        "pb thanh toan le phi",
        "P8 01KAB3CDEFGH23",
    ],
)
def test_extract_reference_non_matches(description: str) -> None:
    assert extract_reference(description) is None


def test_candidates_keep_every_plausible_reference() -> None:
    assert candidate_references(f"{REF} va PB01KAB3CDEFGH24") == [REF, "PB01KAB3CDEFGH24"]


def test_notification_verified_and_parsed() -> None:
    note = adapter.parse_callback(ACCOUNT, notification())
    assert note.verified and note.outcome is Outcome.succeeded
    assert (note.reference, note.amount, note.provider_transaction_id) == (REF, 50000, "FT26325ABCDEF")
    assert note.paid_at == datetime(2026, 11, 21, 3, 5, tzinfo=UTC)
    short = adapter.parse_callback(ACCOUNT, notification(amount=40000))
    assert short.verified and short.amount == 40000  # kept and flagged by the pipeline, never dropped
    elsewhere = adapter.parse_callback(ACCOUNT, notification(account_number="999"))
    assert elsewhere.verified and elsewhere.outcome is Outcome.unknown
    unmatched = adapter.parse_callback(ACCOUNT, notification(description="ung ho"))
    assert unmatched.verified and unmatched.reference is None


def test_notification_bad_signature_and_garbage() -> None:
    assert not adapter.parse_callback(ACCOUNT, notification(secret="another-secret-000")).verified
    good = notification()
    tampered = InboundRequest("POST", "", good.headers, good.body.replace(b"50000", b"90000"))
    assert not adapter.parse_callback(ACCOUNT, tampered).verified
    assert not adapter.parse_callback(ACCOUNT, InboundRequest("POST", "", {}, good.body)).verified
    with pytest.raises(GatewayTechnicalError):
        adapter.parse_callback(ACCOUNT, notification(amount=500.5))
    with pytest.raises(GatewayTechnicalError):
        adapter.parse_callback(ACCOUNT, InboundRequest("POST", "", good.headers, b"nope"))


@pytest.mark.parametrize(
    ("verdict", "status"),
    [
        (AckVerdict.accepted, 200),
        (AckVerdict.already_processed, 200),
        (AckVerdict.not_found, 200),
        (AckVerdict.amount_mismatch, 200),
        (AckVerdict.invalid_signature, 401),
        (AckVerdict.error, 503),
    ],
)
def test_acknowledge(verdict: AckVerdict, status: int) -> None:
    reply = adapter.acknowledge(ACCOUNT, None, verdict)
    assert reply.status_code == status
    assert json.loads(reply.body)["status"] == {200: "ok", 401: "error", 503: "retry"}[status]


async def test_no_query_no_return() -> None:
    with pytest.raises(NotSupported):
        await adapter.query(ACCOUNT, AttemptRef(REF, 50000, T0), httpx.AsyncClient())
    with pytest.raises(NotSupported):
        adapter.parse_return(ACCOUNT, InboundRequest("GET", "", {}, b""))


def test_validate_account() -> None:
    creds, _ = adapter.validate_account(CREDS | {"account_number": "1130 0000 6789"}, {})
    assert creds["account_number"] == "113000006789"
    with pytest.raises(CredentialsError) as caught:
        adapter.validate_account(
            {"bank_bin": "97041", "account_number": "12-34", "notify_secret": "short"}, {}
        )
    assert set(caught.value.errors) == {
        "credentials.bank_bin",
        "credentials.account_number",
        "credentials.notify_secret",
        "credentials.account_name",
    }


# --- end to end through the simulated bank ---------------------------------------------------


@pytest.fixture
async def sim(clock: Clock) -> AsyncIterator[NationalHarness]:
    harness = NationalHarness("vietqr", adapter, clock)
    yield harness
    await harness.aclose()


async def test_end_to_end_scan_and_pay(sim: NationalHarness) -> None:
    account = sim.add_account(CREDS)
    result = await adapter.create_checkout(account, checkout_request(created_at=T0), sim.http)
    screen = await sim.http.get(f"{SIM_BASE}/vietqr/pay", params={"qr": result.qr_payload})
    assert screen.status_code == 200 and "113000006789" in screen.text and 'value="50000"' in screen.text
    # The citizen's bank lower-cases the description and prepends its own text.
    form = {"bank_bin": "970415", "account_number": "113000006789", "amount": "50000"}
    form["description"] = "MBVCB.9981 " + result.wire["purpose"].lower()
    paid = await sim.http.post(f"{SIM_BASE}/vietqr/pay", data=form)
    assert paid.status_code == 200
    [captured] = sim.callbacks
    note = captured.notification
    assert note is not None and note.verified and note.outcome is Outcome.succeeded
    assert (note.reference, note.amount) == (REF, 50000)
    assert sim.ctx.store("vietqr")["credits"][0]["notified_status"] == 200

    tampered = InboundRequest(
        "POST", "", captured.request.headers, captured.request.body.replace(b"50000", b"5000")
    )
    bad = adapter.parse_callback(account, tampered)
    assert not bad.verified
    assert adapter.acknowledge(account, bad, AckVerdict.invalid_signature).status_code == 401


async def test_end_to_end_short_transfer_and_unknown_account(sim: NationalHarness) -> None:
    sim.add_account(CREDS)
    transfer = {"bank_bin": "970415", "account_number": "113000006789", "amount": 40000}
    answer = await sim.http.post(f"{SIM_BASE}/vietqr/transfer", json=transfer | {"description": f"CK {REF}"})
    assert answer.status_code == 200 and answer.json()["notified_status"] == 200
    note = sim.callbacks[0].notification
    assert note is not None and note.verified and note.amount == 40000 and note.reference == REF
    assert note.provider_transaction_id == answer.json()["bank_transaction_id"]
    unknown = transfer | {"account_number": "000", "description": REF}
    assert (await sim.http.post(f"{SIM_BASE}/vietqr/transfer", json=unknown)).status_code == 404
    assert (await sim.http.get(f"{SIM_BASE}/vietqr/pay", params={"qr": "0002010102"})).status_code == 400
