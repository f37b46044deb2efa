"""E-receipts: only for paid payments; one per kind (phí, lệ phí); numbered without gaps or
repeats under concurrency; JSON, HTML and PDF; the gateway's own receipt linked."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from app.models import Receipt, ReceiptSeries
from app.services.after_payment.receipts import vnd_in_words
from tests.factories import World, create, make_client, make_world, pay_in_sandbox
from tests.test_refunds import paid, paid_at_dvcqg

TWO_KINDS = [
    {"revenue_type_code": "2771", "amount": 50000, "description": "Cấp bản sao trích lục khai sinh"},
    {"revenue_type_code": "2205", "amount": 30000, "description": "Thẩm định hồ sơ đất đai"},
]


@pytest.fixture
async def world(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> World:
    return await make_world(client, admin_headers)


async def receipt(
    client: httpx.AsyncClient, world: World, payment_id: str, accept: str | None = None
) -> httpx.Response:
    headers = {**world.headers, **({"Accept": accept} if accept else {})}
    return await client.get(f"/v1/payments/{payment_id}/receipt", headers=headers)


async def test_separate_receipts_for_phi_and_le_phi(client: httpx.AsyncClient, world: World) -> None:
    p = await paid(client, world, items=TWO_KINDS)
    r = await receipt(client, world, p["id"])
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    by_kind = {x["kind"]: x for x in body["receipts"]}
    assert set(by_kind) == {"phi", "le_phi"}
    le_phi, phi = by_kind["le_phi"], by_kind["phi"]
    assert le_phi["amount"] == 50000 and phi["amount"] == 30000
    assert [i["revenue_type_code"] for i in le_phi["items"]] == ["2771"]
    assert [i["revenue_type_code"] for i in phi["items"]] == ["2205"]
    assert le_phi["amount_in_words"] == "Năm mươi nghìn đồng"
    assert le_phi["kind_label"] == "Lệ phí" and phi["kind_label"] == "Phí"
    assert {le_phi["number"], phi["number"]} == {"0000001", "0000002"}
    assert le_phi["form_number"] == "01BLP0-001" and le_phi["symbol"] == "AA-26E"
    assert le_phi["payer"]["name"] == "Nguyễn Văn A"
    assert le_phi["payment"]["reference"] == p["attempts"][0]["reference"]
    assert le_phi["gateway_receipt"] is None  # the sandbox gateway issues none
    # Issued once: asking again shows the very same receipts.
    again = await receipt(client, world, p["id"])
    assert again.json()["receipts"] == body["receipts"]


async def test_only_paid_payments_have_receipts(
    client: httpx.AsyncClient, admin_headers: dict[str, str], world: World
) -> None:
    pending = (await create(client, world, provider="sandbox")).json()
    r = await receipt(client, world, pending["id"])
    assert r.status_code == 409 and r.json()["code"] == "receipt_unavailable"
    p = await paid(client, world)
    key, _, _ = await make_client(client, admin_headers, agency_codes=["000.00.00.H34"])
    foreign = await client.get(f"/v1/payments/{p['id']}/receipt", headers={"Authorization": f"Bearer {key}"})
    assert foreign.status_code == 404
    assert (await receipt(client, world, p["id"], "image/png")).status_code == 406


async def test_numbering_under_50_concurrent_requests(
    client: httpx.AsyncClient, app: FastAPI, world: World
) -> None:
    created = [(await create(client, world, provider="sandbox")).json() for _ in range(50)]
    for p in created:
        await pay_in_sandbox(client, p["checkout_url"])
    # 50 payments asked at once, plus the first ten a second time in the same burst.
    targets = [p["id"] for p in created] + [p["id"] for p in created[:10]]
    responses = await asyncio.gather(*[receipt(client, world, pid) for pid in targets])
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses if r.status_code != 200]
    numbers: dict[str, int] = {}
    for pid, r in zip(targets, responses, strict=True):
        [one] = r.json()["receipts"]
        assert numbers.setdefault(pid, one["sequence"]) == one["sequence"]  # same payment, same number
    assert sorted(numbers.values()) == list(range(1, 51))
    async with app.state.container.db.session() as session:
        rows = (await session.scalars(select(Receipt.number))).all()
        [series] = (await session.scalars(select(ReceiptSeries))).all()
    assert sorted(rows) == list(range(1, 51)) and series.next_number == 51


async def test_html_and_pdf(client: httpx.AsyncClient, world: World, tmp_path: Path) -> None:
    p = await paid(client, world, items=TWO_KINDS)
    html = await receipt(client, world, p["id"], "text/html,application/xhtml+xml,*/*;q=0.8")
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert "BIÊN LAI THU PHÍ, LỆ PHÍ" in html.text and "Lệ phí hộ tịch" in html.text
    assert "Năm mươi nghìn đồng" in html.text and html.text.count('data-testid="receipt"') == 2
    pdf = await receipt(client, world, p["id"], "application/pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-") and b"DejaVu" in pdf.content
    if shutil.which("pdftotext") is None:
        pytest.skip("poppler-utils not installed: cannot read the PDF's text back")
    path = tmp_path / "r.pdf"
    path.write_bytes(pdf.content)
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True
    ).stdout.decode()
    assert text.count("BIÊN LAI THU PHÍ, LỆ PHÍ") == 2  # one page per receipt
    for expected in (
        "Nguyễn Văn A",
        "Lệ phí hộ tịch",
        "Phí thẩm định cấp quyền sử dụng đất",
        "Năm mươi nghìn đồng",
    ):
        assert expected in text, expected


async def test_gateway_receipt_is_linked(
    client: httpx.AsyncClient, app: FastAPI, admin_headers: dict[str, str]
) -> None:
    world, p = await paid_at_dvcqg(client, admin_headers)
    r = await receipt(client, world, p["id"])
    [one] = r.json()["receipts"]
    assert one["gateway_receipt"] == {"provider": "dvcqg", "url": None, "pdf": True}
    pdf = await client.get(f"/v1/payments/{p['id']}/receipt/gateway", headers=world.headers)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    assert p["attempts"][0]["reference"].encode() in pdf.content


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        (0, "Không đồng"),
        (15, "Mười lăm đồng"),
        (21, "Hai mươi mốt đồng"),
        (105, "Một trăm linh năm đồng"),
        (1_005_000, "Một triệu không trăm linh năm nghìn đồng"),
        (1_234_567, "Một triệu hai trăm ba mươi bốn nghìn năm trăm sáu mươi bảy đồng"),
        (2_000_000_000, "Hai tỷ đồng"),
    ],
)
def test_amount_in_words(amount: int, words: str) -> None:
    assert vnd_in_words(amount) == words


async def test_counter_payment_gets_a_receipt_but_no_online_refund(
    client: httpx.AsyncClient, world: World
) -> None:
    p = (await create(client, world)).json()
    r = await client.post(
        f"/v1/payments/{p['id']}/offline",
        json={"method": "cash", "paid_at": "2026-11-21T09:30:00+07:00"},
        headers=world.headers,
    )
    assert r.status_code == 200, r.text
    [one] = (await receipt(client, world, p["id"])).json()["receipts"]
    assert one["payment"]["channel"] == "offline" and one["payment"]["reference"] is None
    assert "Nộp trực tiếp tại quầy" in (await receipt(client, world, p["id"], "text/html")).text
    refused = await client.post(
        f"/v1/payments/{p['id']}/refunds",
        json={"amount": 1000, "reason": "x"},
        headers={**world.headers, "Idempotency-Key": "offline-refund"},
    )
    assert refused.status_code == 409 and refused.json()["code"] == "refund_not_allowed"
