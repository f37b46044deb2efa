"""Reconciliation of a gateway's daily file: one item per row (plus our successes it lacks),
classified exactly; a re-import changes nothing; a malformed file is refused with line numbers."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from app.models import Attempt, ReconciliationItem, ReconciliationRun
from app.services.after_payment.reconciliation_files import ReconciliationFileInvalid, mapping_for, parse_file
from tests.factories import World, create, make_world
from tests.support import Clock
from tests.test_refunds import paid

URL = "/admin/v1/reconciliations"
DAY = "2026-11-21"  # the test clock's day in GMT+7


@pytest.fixture
async def world(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> World:
    return await make_world(client, admin_headers)


def sandbox_csv(rows: list[tuple[str, str, Any, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["reference", "transaction_id", "amount", "status"])
    writer.writerows(rows)
    return out.getvalue().encode()


def row(
    payment: dict[str, Any], amount: int | None = None, status: str = "success"
) -> tuple[str, str, Any, str]:
    attempt = payment["attempts"][0]
    return (
        attempt["reference"],
        attempt["provider_transaction_id"] or "",
        amount or payment["amount"],
        status,
    )


async def upload(
    client: httpx.AsyncClient, admin: dict[str, str], world: World, content: bytes, *, multipart: bool = True
) -> httpx.Response:
    fields = {"provider": "sandbox", "account_id": world.sandbox_account_id, "date": DAY}
    if multipart:
        return await client.post(
            URL, data=fields, files={"file": ("sandbox.csv", content, "text/csv")}, headers=admin
        )
    return await client.post(
        URL, params=fields, content=content, headers={**admin, "Content-Type": "text/csv"}
    )


async def counts(app: FastAPI) -> tuple[int, int]:
    async with app.state.container.db.session() as session:
        runs = await session.scalar(select(func.count()).select_from(ReconciliationRun))
        items = await session.scalar(select(func.count()).select_from(ReconciliationItem))
    return int(runs or 0), int(items or 0)


async def test_one_of_each_kind(
    client: httpx.AsyncClient, app: FastAPI, admin_headers: dict[str, str], world: World, clock: Clock
) -> None:
    matched = await paid(client, world)
    wrong_amount = await paid(client, world)
    absent = await paid(client, world)
    failed_there = await paid(client, world)
    open_here = (await create(client, world, provider="sandbox")).json()
    content = sandbox_csv(
        [
            row(matched),
            row(wrong_amount, amount=60000),
            row(open_here),
            row(failed_there, status="failed"),
        ]
    )
    r = await upload(client, admin_headers, world, content)
    assert r.status_code == 201, r.text
    run = r.json()
    assert run["row_count"] == 4 and run["date"] == DAY
    assert run["counts"] == {
        "matched": 1,
        "missing_here": 1,
        "missing_there": 1,
        "amount_mismatch": 1,
        "status_mismatch": 1,
    }
    by_status = {item["status"]: item for item in run["items"]}
    assert len(run["items"]) == 5
    assert by_status["matched"]["payment_id"] == matched["id"] and by_status["matched"]["line_number"] == 2
    mismatch = by_status["amount_mismatch"]
    assert (mismatch["payment_id"], mismatch["their_amount"], mismatch["our_amount"]) == (
        wrong_amount["id"],
        60000,
        50000,
    )
    here = by_status["missing_here"]
    assert here["payment_id"] == open_here["id"] and here["action"] == "status_query_scheduled"
    there = by_status["missing_there"]
    assert there["payment_id"] == absent["id"] and there["line_number"] is None
    status = by_status["status_mismatch"]
    assert status["payment_id"] == failed_there["id"] and (status["their_status"], status["our_status"]) == (
        "failed",
        "succeeded",
    )
    # The open attempt the gateway calls paid is queued for a status query right away.
    async with app.state.container.db.session() as session:
        attempt = await session.get(Attempt, open_here["attempts"][0]["id"])
    assert attempt is not None and attempt.next_check_at == clock.now

    # Results as JSON and CSV.
    got = await client.get(f"{URL}/{run['id']}", headers=admin_headers)
    assert got.status_code == 200 and got.json() == run
    only = await client.get(f"{URL}/{run['id']}", params={"status": "missing_there"}, headers=admin_headers)
    assert [i["status"] for i in only.json()["items"]] == ["missing_there"]
    as_csv = await client.get(f"{URL}/{run['id']}", params={"format": "csv"}, headers=admin_headers)
    assert as_csv.headers["content-type"].startswith("text/csv")
    parsed = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert sorted(p["status"] for p in parsed) == sorted(by_status)
    listed = await client.get(URL, headers=admin_headers)
    assert [x["id"] for x in listed.json()["data"]] == [run["id"]]

    # The same file again (even as a raw body) creates nothing new.
    before = await counts(app)
    again = await upload(client, admin_headers, world, content, multipart=False)
    assert again.status_code == 200 and again.json()["id"] == run["id"]
    assert await counts(app) == before == (1, 5)


async def test_malformed_file_is_refused_with_line_numbers(
    client: httpx.AsyncClient, app: FastAPI, admin_headers: dict[str, str], world: World
) -> None:
    p = await paid(client, world)
    content = sandbox_csv([row(p), ("", "", 1000, "success"), ("PBX", "T1", "12.5", "success"), row(p)])
    r = await upload(client, admin_headers, world, content)
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["code"] == "reconciliation_file_invalid"
    assert [e["field"] for e in problem["errors"]] == ["line 3", "line 4", "line 5"]
    assert "amount" in problem["errors"][1]["message"] and "line 2" in problem["errors"][2]["message"]
    missing = await upload(client, admin_headers, world, b"ref,amount\nPB1,1000\n")
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "line 1"
    assert await counts(app) == (0, 0)
    unauthorised = await client.post(URL, content=b"", headers={"Content-Type": "text/csv"})
    assert unauthorised.status_code == 401
    wrong = await client.post(
        URL,
        params={"provider": "vnpay", "account_id": world.sandbox_account_id, "date": DAY},
        content=b"x",
        headers={**admin_headers, "Content-Type": "text/csv"},
    )
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "account_id"


def test_built_in_mappings_read_gateway_formats() -> None:
    vnpay = parse_file(
        b"vnp_TxnRef;vnp_TransactionNo;vnp_Amount;vnp_TransactionStatus\nPBAAAA;14123456;5000000;00\n",
        mapping_for("vnpay"),
    )
    assert [(r.reference, r.transaction_id, r.amount, r.paid) for r in vnpay] == [
        ("PBAAAA", "14123456", 50000, True)
    ]
    zalo = parse_file(
        b'app_trans_id,zp_trans_id,amount,status\n261121_PB0123456789ABCDE,99,"1,250,000",1\n',
        mapping_for("zalopay"),
    )
    assert (zalo[0].reference, zalo[0].amount) == ("PB0123456789ABCDE", 1_250_000)
    bank = parse_file(
        b"description,bank_transaction_id,amount\nCK NGUYEN VAN A PB0123456789ABCD thanh toan,FT1,50.000\n",
        mapping_for("vietqr"),
    )
    assert (bank[0].reference, bank[0].amount, bank[0].paid) == ("PB0123456789ABCD", 50000, True)
    with pytest.raises(ReconciliationFileInvalid) as caught:
        parse_file(
            b"vnp_TxnRef,vnp_TransactionNo,vnp_Amount,vnp_TransactionStatus\nPB1,1,5000050,00\n",
            mapping_for("vnpay"),
        )
    assert caught.value.errors == [
        {"field": "line 2", "message": "amount '5000050' is not a whole number of VND"}
    ]
    custom = mapping_for("sandbox", {"amount": "so_tien", "success": ["OK"]})
    assert parse_file(b"reference,transaction_id,so_tien,status\nPB1,T,100,OK\n", custom)[0].paid


async def test_a_large_gateway_file_is_accepted_but_not_elsewhere(
    client: httpx.AsyncClient, admin_headers: dict[str, str], world: World, settings: Any
) -> None:
    # 9,000 rows the gateway knows and we do not: over the 256 KB API body limit.
    rows = [(f"PBX{i:013d}", f"T{i}", 10000, "success") for i in range(9000)]
    content = sandbox_csv(rows)
    assert len(content) > settings.max_body_bytes
    r = await upload(client, admin_headers, world, content, multipart=False)
    assert r.status_code == 201, r.text[:300]
    # The same body anywhere else is still refused.
    other = await client.post("/admin/v1/agencies:import", content=content, headers=admin_headers)
    assert other.status_code == 413
